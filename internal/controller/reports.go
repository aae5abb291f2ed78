package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kwid-dev/kwid/internal/report"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

var (
	policyReportsGVR        = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	clusterPolicyReportsGVR = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "clusterpolicyreports"}
)

// managedBy selects the reports kwid wrote (report.PolicyReports sets the label).
const managedBy = "app.kubernetes.io/managed-by=kwid"

// fieldManager owns the fields kwid applies (server-side apply).
const fieldManager = "kwid-controller"

// APIReportWriter applies PolicyReports to the API server with server-side apply, writing
// only the reports whose content changed since the last write and deleting the reports of
// namespaces that no longer have findings.
type APIReportWriter struct {
	client dynamic.Interface
	// written holds the last applied content per namespace ("" = the cluster report); nil
	// until the first Write, which learns what exists from the API server.
	written map[string][]byte
}

// NewAPIReportWriter returns a writer using client.
func NewAPIReportWriter(client dynamic.Interface) *APIReportWriter {
	return &APIReportWriter{client: client}
}

// Write implements ReportWriter.
func (w *APIReportWriter) Write(ctx context.Context, reports []any) (WriteStats, error) {
	var st WriteStats
	if w.written == nil {
		existing, err := w.existing(ctx)
		if err != nil {
			return st, err
		}
		w.written = existing
	}
	want := map[string]bool{}
	// A namespace that cannot take its report (being deleted, say) does not stop the
	// others: errors are collected and returned together.
	var errs []error
	for _, r := range reports {
		obj, err := toUnstructured(r)
		if err != nil {
			return st, err
		}
		ns := obj.GetNamespace()
		want[ns] = true
		data, err := json.Marshal(obj.Object)
		if err != nil {
			return st, fmt.Errorf("encoding the report of namespace %q: %w", ns, err)
		}
		if prev, ok := w.written[ns]; ok && bytes.Equal(prev, data) {
			st.Unchanged++
			continue
		}
		if _, err := w.resource(ns).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			errs = append(errs, fmt.Errorf("applying %s %s: %w", obj.GetKind(), describeNS(ns), err))
			w.written[ns] = nil // content unknown: applied again next time, deleted if stale
			continue
		}
		w.written[ns] = data
		st.Applied++
	}
	for ns := range w.written {
		if want[ns] {
			continue
		}
		err := w.resource(ns).Delete(ctx, report.PolicyReportName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting the PolicyReport of %s: %w", describeNS(ns), err))
			continue
		}
		delete(w.written, ns)
		st.Deleted++
	}
	return st, errors.Join(errs...)
}

// existing lists the reports kwid wrote before (by an earlier run or another replica), so
// that stale ones are deleted; their content is unknown, so the first Write applies all.
func (w *APIReportWriter) existing(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	list, err := w.client.Resource(policyReportsGVR).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: managedBy})
	if err != nil {
		return nil, fmt.Errorf("listing PolicyReports (are the wgpolicyk8s.io CRDs installed? deploy/crds/policyreports.yaml): %w", err)
	}
	for _, r := range list.Items {
		if r.GetName() == report.PolicyReportName {
			out[r.GetNamespace()] = nil
		}
	}
	return out, nil
}

func (w *APIReportWriter) resource(ns string) dynamic.ResourceInterface {
	if ns == "" {
		return w.client.Resource(clusterPolicyReportsGVR)
	}
	return w.client.Resource(policyReportsGVR).Namespace(ns)
}

func toUnstructured(r any) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding a PolicyReport: %w", err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("decoding a PolicyReport: %w", err)
	}
	return obj, nil
}

func describeNS(ns string) string {
	if ns == "" {
		return "(cluster)"
	}
	return "in namespace " + ns
}
