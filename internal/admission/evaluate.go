// Package admission is kwid's validating admission webhook: it decodes AdmissionReview v1
// requests, judges the object under review with kwid's checks against the rest of the
// cluster (kept by informers in a clusterstate.State), and answers allow, deny or allow
// with warnings, per check mode (enforce, warn, audit).
//
// A decision does not rebuild the whole cluster's Snapshot: it builds a small one holding
// the object as it would be after the request and the objects the checks consult about it
// (its ServiceAccount, namespace and RBAC for a pod; the role, the subjects and the
// workloads running as them for a binding; ...), runs the checks that read the object's
// kind, and keeps the findings about the object, or, for RBAC objects, the findings the
// object takes part in. See docs/webhook.md.
//
// admission knows nothing about how the cluster state is collected or how kwid's CLI is
// wired; it never logs Secret data (a Secret under review carries its data: only the
// findings' messages, which fingerprint secrets, are logged).
package admission

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// Mode is what a finding does to a request.
type Mode string

// Modes of a check.
const (
	// Enforce denies the request, with the check ID, the reason and the fix.
	Enforce Mode = "enforce"
	// Warn admits it with an admission warning (kubectl prints it).
	Warn Mode = "warn"
	// Audit admits it, logs the finding and counts it.
	Audit Mode = "audit"
)

// ParseMode reads enforce, warn or audit.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case Enforce, Warn, Audit:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want enforce, warn or audit)", s)
}

// Modes chooses the mode of each finding: the check's own mode if set, else Default if
// set, else by severity: enforce for critical and high findings, warn for the others.
type Modes struct {
	Default Mode
	Checks  map[string]Mode
}

// ParseCheckModes reads ID=MODE pairs, rejecting unknown checks and modes.
func ParseCheckModes(pairs []string) (map[string]Mode, error) {
	out := map[string]Mode{}
	for _, p := range pairs {
		id, mode, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("check mode %q: want ID=MODE, e.g. KW-SA-001=warn", p)
		}
		if _, err := checks.Lookup(id); err != nil {
			return nil, fmt.Errorf("check mode %q: %w", p, err)
		}
		m, err := ParseMode(mode)
		if err != nil {
			return nil, fmt.Errorf("check mode %q: %w", p, err)
		}
		out[id] = m
	}
	return out, nil
}

// For returns the mode of a finding.
func (m Modes) For(f *checks.Finding) Mode {
	if mode, ok := m.Checks[f.Check]; ok {
		return mode
	}
	if m.Default != "" {
		return m.Default
	}
	if f.Severity >= checks.High {
		return Enforce
	}
	return Warn
}

// excluded are checks the webhook does not run per request: audit-log checks (no audit
// log at admission) and the checks that search the identity graph (multi-hop paths, who
// can become a ServiceAccount mapped to a cloud role: they need the whole graph; the
// controller and kwid scan report them).
func excluded(c *checks.Check) bool {
	return strings.HasPrefix(c.ID, "KW-AUD-") || c.WholeGraph
}

// workloadChecks are the checks that report findings about Pods and pod templates. A
// workload under review is judged by these only: the other checks that read workloads
// report on subjects, roles or nodes (TestWorkloadChecks keeps this list complete).
var workloadChecks = []string{
	"KW-CRED-001", "KW-CRED-002", "KW-CRED-003", "KW-EKS-004", "KW-ESC-007", "KW-ESC-008",
	"KW-SA-001", "KW-SA-002", "KW-TOK-003", "KW-TOK-004", "KW-WI-AWS-009", "KW-WI-AZ-001",
}

// Evaluator judges single objects against a cluster state. It is safe for concurrent use.
type Evaluator struct {
	state  *clusterstate.State
	config *checks.Config
	byKind map[inventory.Kind][]*checks.Check
}

// NewEvaluator prepares the checks for each reviewed kind (those whose Reads name it).
// A nil config is the default configuration.
func NewEvaluator(st *clusterstate.State, cfg *checks.Config) *Evaluator {
	if cfg == nil {
		cfg = checks.DefaultConfig()
	}
	e := &Evaluator{state: st, config: cfg, byKind: map[inventory.Kind][]*checks.Check{}}
	for _, c := range checks.All() {
		if excluded(c) || slices.Contains(cfg.Disabled, c.ID) {
			continue
		}
		for _, k := range reviewedKinds {
			if slices.Contains(workloadKinds, k) && !slices.Contains(workloadChecks, c.ID) {
				continue
			}
			if slices.Contains(c.Reads, k) {
				e.byKind[k] = append(e.byKind[k], c)
			}
		}
	}
	return e
}

// reviewedKinds are the kinds the webhook judges; any other kind is allowed.
var reviewedKinds = append(slices.Clone(workloadKinds),
	inventory.ServiceAccounts, inventory.Secrets,
	inventory.Roles, inventory.ClusterRoles, inventory.RoleBindings, inventory.ClusterRoleBindings)

// Checks returns the IDs of the checks run for a kind.
func (e *Evaluator) Checks(k inventory.Kind) []string {
	var ids []string
	for _, c := range e.byKind[k] {
		ids = append(ids, c.ID)
	}
	return ids
}

// Evaluate runs the checks of the object's kind on the object as given (the state after
// the request) and the cluster around it, and returns the findings about it.
func (e *Evaluator) Evaluate(k inventory.Kind, obj clusterstate.Object) []checks.Finding {
	cs := e.byKind[k]
	if len(cs) == 0 {
		return nil
	}
	ns := obj.GetNamespace()
	ref := inventory.ObjectRef{Kind: k, Namespace: ns, Name: obj.GetName()}
	n := newNeighbourhood(e.state, k == inventory.Secrets)
	defer n.release() // the findings returned hold no pointer into its Snapshot
	n.add(k, obj)
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		n.serviceAccount(ns, o.Name, true)
	case *corev1.Secret:
		if sa := o.Annotations[corev1.ServiceAccountNameKey]; sa != "" {
			n.serviceAccount(ns, sa, false)
		}
	case *rbacv1.Role:
		n.bindingsOfRole("Role", ns, o.Name)
	case *rbacv1.ClusterRole:
		n.bindingsOfRole("ClusterRole", "", o.Name)
	case *rbacv1.RoleBinding:
		n.role(o)
		n.subjects(ns, o.Subjects, true)
	case *rbacv1.ClusterRoleBinding:
		n.role(o)
		n.subjects("", o.Subjects, true)
	default:
		if spec := clusterstate.PodSpecOf(obj); spec != nil {
			n.workload(ns, (inventory.Workload{Spec: spec}).ServiceAccountName(), spec.NodeName)
		}
	}
	n.common(ns)
	in := checks.NewInput(n.build())
	in.Config = e.config
	res := checks.Run(in, cs...)
	rbacObject := k == inventory.Roles || k == inventory.ClusterRoles || k == inventory.RoleBindings || k == inventory.ClusterRoleBindings
	var out []checks.Finding
	for _, f := range res.Findings {
		if f.Object == ref || rbacObject && slices.Contains(f.Related, ref) {
			out = append(out, f)
		}
	}
	return out
}

// newObject returns an empty typed object for a reviewed group/version/kind.
func newObject(gvk metav1.GroupVersionKind) (inventory.Kind, clusterstate.Object) {
	switch gvk.Group + "/" + gvk.Version + "/" + gvk.Kind {
	case "/v1/Pod":
		return inventory.Pods, &corev1.Pod{}
	case "/v1/ServiceAccount":
		return inventory.ServiceAccounts, &corev1.ServiceAccount{}
	case "/v1/Secret":
		return inventory.Secrets, &corev1.Secret{}
	case "/v1/ReplicationController":
		return inventory.ReplicationControllers, &corev1.ReplicationController{}
	case "apps/v1/Deployment":
		return inventory.Deployments, &appsv1.Deployment{}
	case "apps/v1/StatefulSet":
		return inventory.StatefulSets, &appsv1.StatefulSet{}
	case "apps/v1/DaemonSet":
		return inventory.DaemonSets, &appsv1.DaemonSet{}
	case "apps/v1/ReplicaSet":
		return inventory.ReplicaSets, &appsv1.ReplicaSet{}
	case "batch/v1/Job":
		return inventory.Jobs, &batchv1.Job{}
	case "batch/v1/CronJob":
		return inventory.CronJobs, &batchv1.CronJob{}
	case "rbac.authorization.k8s.io/v1/Role":
		return inventory.Roles, &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return inventory.ClusterRoles, &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return inventory.RoleBindings, &rbacv1.RoleBinding{}
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return inventory.ClusterRoleBindings, &rbacv1.ClusterRoleBinding{}
	}
	return "", nil
}

// Judged is a finding with the mode it was judged in.
type Judged struct {
	checks.Finding
	Mode Mode
}

// judge applies the modes (findings come most severe first from checks.Run).
func judge(findings []checks.Finding, modes Modes) []Judged {
	out := make([]Judged, 0, len(findings))
	for _, f := range findings {
		out = append(out, Judged{Finding: f, Mode: modes.For(&f)})
	}
	return out
}

// ReviewedKinds returns the kinds the webhook judges.
func ReviewedKinds() []inventory.Kind { return slices.Clone(reviewedKinds) }
