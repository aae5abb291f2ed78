package checks

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
)

func load(t *testing.T, paths ...string) *inventory.Snapshot {
	t.Helper()
	s, errs, err := inventory.LoadFiles(context.Background(), paths, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading %v: %v %v", paths, err, errs)
	}
	return s
}

// lookupAll returns the checks of the catalog with these IDs.
func lookupAll(t *testing.T, ids ...string) []*Check {
	t.Helper()
	out := make([]*Check, 0, len(ids))
	for _, id := range ids {
		c, err := Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// got renders findings as "CHECK severity Kind ns/name" for compact expectations.
func got(res *Result, check string) []string {
	out := []string{}
	for _, f := range res.Findings {
		if f.Check == check {
			out = append(out, fmt.Sprintf("%s %s", f.Severity, f.Object))
		}
	}
	return out
}

func TestServiceAccountChecks(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/serviceaccounts.yaml")), lookupAll(t, "KW-SA-001", "KW-SA-002", "KW-TOK-001")...)
	tests := []struct {
		check string
		want  []string
	}{
		{"KW-SA-001", []string{
			"high ServiceAccount a/default",   // RoleBinding a/default-reader (empty subject namespace)
			"high ServiceAccount b/default",   // User subject system:serviceaccount:b:default
			"medium Deployment a/web",         // runs as default (unset)
			"medium ServiceAccount a/default", // automount not disabled
			"medium Pod b/explicit-default",   // serviceAccountName: default
		}},
		{"KW-SA-002", []string{
			"high DaemonSet b/agent",      // cluster-admin token mounted
			"medium CronJob b/secrets",    // can list Secrets in b
			"low Pod b/optout-overridden", // pod overrides the SA's opt-out; no rights
			"low Pod b/quiet",             // token mounted, no rights beyond discovery
		}},
		{"KW-TOK-001", []string{
			"high Secret b/secrets-token",
			"medium Secret b/quiet-token",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	if len(res.NotAssessed) != 0 {
		t.Errorf("everything was in the input, yet: %+v", res.NotAssessed)
	}
}

// TestNotAssessed: a kind that was not read makes the checks that need it "not assessed",
// never a pass, while checks with what they need still run.
func TestNotAssessed(t *testing.T) {
	s := load(t, "testdata/serviceaccounts.yaml")
	s.Status[inventory.Secrets] = inventory.Status{State: inventory.Forbidden, Error: `secrets is forbidden: User "x" cannot list resource "secrets"`}
	s.Status[inventory.ClusterRoleBindings] = inventory.Status{State: inventory.Forbidden, Error: "forbidden"}
	res := Run(NewInput(s), lookupAll(t, "KW-SA-001", "KW-SA-002", "KW-TOK-001")...)
	want := []NotAssessed{
		{Check: "KW-SA-001", Reason: "(c) bindings naming default ServiceAccounts: ClusterRoleBinding could not be listed: forbidden (forbidden)"},
		{Check: "KW-SA-002", Reason: "ClusterRoleBinding could not be listed: forbidden (forbidden)"},
		{Check: "KW-TOK-001", Reason: `Secret could not be listed: forbidden (secrets is forbidden: User "x" cannot list resource "secrets")`},
	}
	if diff := cmp.Diff(want, res.NotAssessed); diff != "" {
		t.Errorf("not assessed (-want +got):\n%s", diff)
	}
	if n := len(got(res, "KW-TOK-001")) + len(got(res, "KW-SA-002")); n != 0 {
		t.Errorf("checks without their input reported %d findings", n)
	}
	if len(got(res, "KW-SA-001")) == 0 {
		t.Error("KW-SA-001 (a) and (b) have their input and should still report")
	}
}

// TestNamespaceScope: with -n, cluster-scoped RBAC still counts (a ClusterRoleBinding can
// make a ServiceAccount of the namespace critical), and findings stay in the namespace.
func TestNamespaceScope(t *testing.T) {
	s, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/serviceaccounts.yaml"},
		inventory.FileOptions{Options: inventory.Options{Namespace: "b"}})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	res := Run(NewInput(s))
	for _, f := range res.Findings {
		if f.Object.Namespace != "b" {
			t.Errorf("finding outside namespace b: %s %s", f.Check, f.Object)
		}
	}
	if diff := cmp.Diff([]string{"high DaemonSet b/agent", "medium CronJob b/secrets", "low Pod b/optout-overridden", "low Pod b/quiet"}, got(res, "KW-SA-002")); diff != "" {
		t.Errorf("KW-SA-002 in namespace b (-want +got):\n%s", diff)
	}
}

// TestDemoExercisesEveryCheck: the embedded demo cluster shows every check of the catalog
// at least once (with Secret data, as --include-secret-data reads it).
func TestDemoExercisesEveryCheck(t *testing.T) {
	s, err := inventory.LoadDemo(context.Background(), inventory.Options{SecretData: true})
	if err != nil {
		t.Fatal(err)
	}
	in := NewInput(s)
	if in.Cloud, err = cloud.LoadDemo(); err != nil { // --demo loads the demo's cloud side
		t.Fatal(err)
	}
	res := Run(in)
	seen := map[string]bool{}
	for _, f := range res.Findings {
		seen[f.Check] = true
	}
	// The audit-log checks need an audit log, which a cluster's objects do not hold; they
	// are exercised on fixture logs (audchecks_test.go) and say "not assessed" here. The
	// cross-cluster check needs several clusters (crosscluster_test.go).
	needsLog := func(id string) bool { return strings.HasPrefix(id, "KW-AUD-") || id == crossClusterCheck.ID }
	for _, c := range All() {
		if !seen[c.ID] && !needsLog(c.ID) {
			t.Errorf("the demo has no finding for %s (%s)", c.ID, c.Title)
		}
	}
	for _, n := range res.NotAssessed {
		if !needsLog(n.Check) {
			t.Errorf("the demo has every kind, yet %s is not assessed: %s", n.Check, n.Reason)
		}
	}
}
