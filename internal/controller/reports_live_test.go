package controller

import (
	"context"
	"os"
	"testing"

	"github.com/kwid-dev/kwid/internal/report"
	"github.com/kwid-dev/kwid/internal/testcluster"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

func reportFor(ns, policy string) map[string]any {
	kind := "PolicyReport"
	if ns == "" {
		kind = "ClusterPolicyReport"
	}
	return map[string]any{
		"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": kind,
		"metadata": map[string]any{"name": report.PolicyReportName, "namespace": ns, "labels": map[string]any{"app.kubernetes.io/managed-by": "kwid"}},
		"results":  []any{map[string]any{"source": "kwid", "policy": policy, "result": "fail"}},
		"summary":  map[string]any{"fail": 1},
	}
}

// TestAPIReportWriterLive: against the real API server, the writer applies new reports,
// leaves unchanged ones alone, deletes the report of a namespace without findings, and
// after a restart (a new writer) deletes the stale reports an earlier run left.
func TestAPIReportWriterLive(t *testing.T) {
	c := testcluster.Start(t)
	c.ApplyCRDs(t, "../../deploy/crds/policyreports.yaml", false, testcluster.PolicyReportCRDs...)
	a, b := c.Namespace(t, "kwid-rep-a"), c.Namespace(t, "kwid-rep-b")
	t.Cleanup(func() { c.Kubectl(t, "", "delete", "clusterpolicyreport", "kwid", "--ignore-not-found") })
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exists := func(ns string) bool {
		_, err := dyn.Resource(policyReportsGVR).Namespace(ns).Get(ctx, report.PolicyReportName, metav1.GetOptions{})
		return err == nil
	}

	w := NewAPIReportWriter(dyn)
	st, err := w.Write(ctx, []any{reportFor("", "KW-X"), reportFor(a, "KW-A"), reportFor(b, "KW-B")})
	if err != nil || st.Applied != 3 {
		t.Fatalf("first write: %+v, %v; want 3 applied", st, err)
	}
	if !exists(a) || !exists(b) {
		t.Fatal("reports not written")
	}
	st, err = w.Write(ctx, []any{reportFor("", "KW-X"), reportFor(a, "KW-A2"), reportFor(b, "KW-B")})
	if err != nil || st.Applied != 1 || st.Unchanged != 2 {
		t.Errorf("second write: %+v, %v; want 1 applied (a changed), 2 unchanged", st, err)
	}
	st, err = w.Write(ctx, []any{reportFor("", "KW-X"), reportFor(a, "KW-A2")})
	if err != nil || st.Deleted != 1 || exists(b) {
		t.Errorf("third write: %+v, %v, b's report exists %v; want b's deleted", st, err, exists(b))
	}

	// A restarted controller has findings in b only: a's report, left by the earlier run,
	// goes away.
	st, err = NewAPIReportWriter(dyn).Write(ctx, []any{reportFor("", "KW-X"), reportFor(b, "KW-B")})
	if err != nil || exists(a) || !exists(b) {
		t.Errorf("after restart: %+v, %v; a's report exists %v (want deleted), b's %v", st, err, exists(a), exists(b))
	}
}
