package report

import (
	"fmt"
	"io"
	"slices"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// PolicyReport API (wgpolicyk8s.io/v1alpha2), the fields kwid writes.
type policyReport struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   policyReportMeta   `json:"metadata"`
	Summary    policyReportSum    `json:"summary"`
	Results    []policyReportItem `json:"results"`
}

type policyReportMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels"`
}

type policyReportSum struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Error int `json:"error"`
	Skip  int `json:"skip"`
}

type policyReportItem struct {
	Source     string            `json:"source"`
	Policy     string            `json:"policy"`
	Rule       string            `json:"rule,omitempty"`
	Category   string            `json:"category,omitempty"`
	Severity   string            `json:"severity,omitempty"`
	Result     string            `json:"result"`
	Message    string            `json:"message,omitempty"`
	Resources  []policyReportRef `json:"resources,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

type policyReportRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// PolicyReportName is the name of the reports kwid writes.
const PolicyReportName = "kwid"

// PolicyReports builds one PolicyReport per namespace with findings and one
// ClusterPolicyReport for cluster-scoped objects and subjects (Users, Groups) and for the
// checks not assessed (as skip results).
func PolicyReports(s *Scan) []any {
	byNS := map[string]*policyReport{}
	get := func(ns string) *policyReport {
		r := byNS[ns]
		if r == nil {
			r = &policyReport{APIVersion: "wgpolicyk8s.io/v1alpha2", Kind: "PolicyReport",
				Metadata: policyReportMeta{Name: PolicyReportName, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "kwid"}},
				Results:  []policyReportItem{}}
			if ns == "" {
				r.Kind = "ClusterPolicyReport"
			}
			byNS[ns] = r
		}
		return r
	}
	get("") // the cluster report is always written: it carries the skips and says kwid ran
	for _, f := range s.Findings {
		r := get(f.Object.Namespace)
		item := policyReportItem{
			Source: "kwid", Policy: f.Check, Rule: f.Check, Severity: f.Severity.String(), Result: "fail",
			Message:   f.Message,
			Resources: []policyReportRef{objectRef(f.Object)},
		}
		if len(f.References) > 0 {
			item.Category = f.References[0]
		}
		if f.Remediation != "" {
			item.Properties = map[string]string{"remediation": f.Remediation}
		}
		if f.Severity <= checks.Low {
			item.Result = "warn"
			r.Summary.Warn++
		} else {
			r.Summary.Fail++
		}
		r.Results = append(r.Results, item)
	}
	cluster := get("")
	for _, n := range s.NotAssessed {
		cluster.Results = append(cluster.Results, policyReportItem{Source: "kwid", Policy: n.Check, Rule: n.Check, Result: "skip", Message: "not assessed: " + n.Reason})
		cluster.Summary.Skip++
	}
	keys := make([]string, 0, len(byNS))
	for k := range byNS {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, byNS[k])
	}
	return out
}

// objectRef names an object for a PolicyReport, with its apiVersion when kwid knows it.
func objectRef(r inventory.ObjectRef) policyReportRef {
	apiVersion := map[inventory.Kind]string{
		inventory.Deployments: "apps/v1", inventory.StatefulSets: "apps/v1", inventory.DaemonSets: "apps/v1", inventory.ReplicaSets: "apps/v1",
		inventory.Jobs: "batch/v1", inventory.CronJobs: "batch/v1",
		inventory.Roles: "rbac.authorization.k8s.io/v1", inventory.ClusterRoles: "rbac.authorization.k8s.io/v1",
		inventory.RoleBindings: "rbac.authorization.k8s.io/v1", inventory.ClusterRoleBindings: "rbac.authorization.k8s.io/v1",
		inventory.ValidatingWebhookConfigurations: "admissionregistration.k8s.io/v1", inventory.MutatingWebhookConfigurations: "admissionregistration.k8s.io/v1",
		"User": "rbac.authorization.k8s.io/v1", "Group": "rbac.authorization.k8s.io/v1",
	}[r.Kind]
	if apiVersion == "" {
		apiVersion = "v1"
	}
	return policyReportRef{APIVersion: apiVersion, Kind: string(r.Kind), Namespace: r.Namespace, Name: r.Name}
}

// WritePolicyReports renders the reports as multi-document YAML for kubectl apply.
func WritePolicyReports(w io.Writer, s *Scan) error {
	if err := WriteYAML(w, PolicyReports(s)...); err != nil {
		return fmt.Errorf("writing PolicyReports: %w", err)
	}
	return nil
}
