package remediation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// narrowSpec is what a fix removes from the roles behind an RBAC finding.
type narrowSpec struct {
	drop      []rbac.Request
	expandAll bool // remove wildcards (KW-RBAC-003)
	what      string
}

func reqs(verbs []string, group string, resources ...string) []rbac.Request {
	var out []rbac.Request
	for _, res := range resources {
		resource, sub, _ := strings.Cut(res, "/")
		for _, v := range verbs {
			out = append(out, rbac.Request{Verb: v, APIGroup: group, Resource: resource, Subresource: sub})
		}
	}
	return out
}

const rbacGroup = "rbac.authorization.k8s.io"

// narrowSpecs are the rights each RBAC check flags, as the checks define them
// (internal/checks rbacchecks*.go); TestNarrowingFixesFindings holds them to it.
var narrowSpecs = map[string]narrowSpec{
	"KW-RBAC-002": {drop: reqs([]string{"get", "list", "watch"}, "", "secrets"), what: "get, list and watch on Secrets"},
	"KW-RBAC-003": {expandAll: true, what: "wildcards (replaced by the built-in verbs, groups and resources they cover)"},
	"KW-RBAC-004": {drop: slices.Concat(
		reqs([]string{"create"}, "", "pods"),
		reqs([]string{"create", "update", "patch"}, "", "replicationcontrollers"),
		reqs([]string{"create", "update", "patch"}, "apps", "deployments", "daemonsets", "statefulsets", "replicasets"),
		reqs([]string{"create", "update", "patch"}, "batch", "jobs", "cronjobs")), what: "creating pods and writing workload controllers"},
	"KW-RBAC-008": {drop: slices.Concat(
		reqs([]string{"bind", "escalate"}, rbacGroup, "roles", "clusterroles"),
		reqs([]string{"impersonate"}, "", "users", "groups", "serviceaccounts"),
		reqs([]string{"impersonate"}, "authentication.k8s.io", "uids", "userextras/*")), what: "bind, escalate and impersonate"},
	"KW-RBAC-009": {drop: reqs([]string{"create"}, "", "persistentvolumes"), what: "creating PersistentVolumes"},
	"KW-RBAC-010": {drop: reqs([]string{"get", "create"}, "", "nodes/proxy"), what: "nodes/proxy"},
	"KW-RBAC-011": {drop: slices.Concat(
		reqs([]string{"update", "patch"}, "certificates.k8s.io", "certificatesigningrequests/approval"),
		reqs([]string{"approve"}, "certificates.k8s.io", "signers")), what: "approving CertificateSigningRequests"},
	"KW-RBAC-012": {drop: reqs([]string{"create", "update", "patch", "delete", "deletecollection"}, "admissionregistration.k8s.io",
		"mutatingwebhookconfigurations", "validatingwebhookconfigurations"), what: "writing webhook configurations"},
	"KW-RBAC-013": {drop: reqs([]string{"create"}, "", "serviceaccounts/token"), what: "creating ServiceAccount tokens"},
}

// builtinRoles are shared by the cluster: kwid never edits them, it binds a narrowed copy.
func sharedRole(meta *metav1.ObjectMeta, aggregated bool) bool {
	return aggregated || strings.HasPrefix(meta.Name, "system:") || meta.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults" ||
		slices.Contains([]string{"cluster-admin", "admin", "edit", "view"}, meta.Name)
}

// narrow removes the flagged rights from the roles behind an RBAC finding: a role of the
// user's own is edited in place; a built-in or aggregated role is copied per binding, the
// copy narrowed, and the binding replaced by one to the copy (a roleRef cannot change).
func (p *planner) narrow(f checks.Finding, spec narrowSpec, label string) error {
	if f.Object.Kind == inventory.Roles || f.Object.Kind == inventory.ClusterRoles { // KW-RBAC-003 judges roles
		return p.narrowRole(f.Object, spec, label, nil)
	}
	for i := 0; i+1 < len(f.Related); i += 2 {
		bref, rref := f.Related[i], f.Related[i+1]
		if !isBinding(bref.Kind) {
			continue
		}
		if err := p.narrowRole(rref, spec, label, &bref); err != nil {
			return err
		}
	}
	return nil
}

func (p *planner) narrowRole(rref inventory.ObjectRef, spec narrowSpec, label string, bref *inventory.ObjectRef) error {
	meta, rules, aggregated, ok := p.role(rref)
	if !ok {
		return nil // a dangling roleRef grants nothing to narrow
	}
	if _, n := rbac.Without(rules, spec.drop, spec.expandAll); n.Rewritten == 0 {
		return nil
	}
	if !sharedRole(meta, aggregated) {
		file := fmt.Sprintf("%s-%s.yaml", strings.ToLower(string(rref.Kind)), strings.Trim(rref.Namespace+"-"+rref.Name, "-"))
		o := p.object(file, func() runtime.Object { return p.cleanRole(rref) })
		current := roleRules(o.Object)
		narrowed, n := rbac.Without(current, spec.drop, spec.expandAll)
		setRoleRules(o.Object, narrowed)
		o.Fixes = appendOnce(o.Fixes, label)
		o.Why = fmt.Sprintf("%s no longer grants %s", rref, p.whatOf(o, spec))
		o.Risk = p.roleRisk(rref, n)
		return nil
	}
	if bref == nil {
		p.manual = append(p.manual, Step{Command: fmt.Sprintf("review the bindings of %s", rref), Fixes: label, Why: "a built-in or aggregated role is not edited by kwid"})
		return nil
	}
	return p.rebind(*bref, rref, rules, spec, label)
}

// rebind binds a binding's subjects to a narrowed copy of a shared role, and deletes the
// old binding.
func (p *planner) rebind(bref, rref inventory.ObjectRef, rules []rbacv1.PolicyRule, spec narrowSpec, label string) error {
	b := p.binding(bref)
	if b == nil {
		return fmt.Errorf("%s not in the snapshot", bref)
	}
	if !p.rebound[bref] && slices.ContainsFunc(p.deletions, func(s Step) bool { return s.Deletes != nil && *s.Deletes == bref }) {
		return nil // already deleted by another fix (a binding of only the default ServiceAccount)
	}
	subjects, inherited := b.Subjects, []string(nil)
	oldFile := fmt.Sprintf("%s-%s.yaml", strings.ToLower(string(bref.Kind)), strings.Trim(bref.Namespace+"-"+bref.Name, "-"))
	if o, ok := p.objects[oldFile]; ok {
		// Another fix rewrote the binding's subjects: the copy takes them, and the old
		// binding is deleted rather than rewritten.
		subjects, inherited = bindingSubjects(o.Object), o.Fixes
		delete(p.objects, oldFile)
	}
	p.rebound[bref] = true
	name := "kwid-narrowed-" + b.Name
	roleKind, roleFile := "ClusterRole", "clusterrole-"+name+".yaml"
	if !b.ClusterWide() {
		roleKind, roleFile = "Role", "role-"+b.Namespace+"-"+name+".yaml"
	}
	ro := p.object(roleFile, func() runtime.Object {
		meta := metav1.ObjectMeta{Name: name, Namespace: b.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "kwid-fix"},
			Annotations: map[string]string{"kwid.dev/narrowed-from": string(rref.Kind) + "/" + rref.Name}}
		// Non-resource wildcards (cluster-admin's "*") become the discovery and health
		// endpoints, so the copy carries no wildcard of its own.
		var rs []rbacv1.PolicyRule
		for _, r := range rules {
			if slices.Contains(r.NonResourceURLs, "*") {
				r.NonResourceURLs = []string{"/api", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2", "/openapi/v3"}
				r.Verbs = []string{"get"}
			}
			rs = append(rs, r)
		}
		rs, _ = rbac.Without(rs, nil, true)
		if roleKind == "Role" {
			return &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta, Rules: rs}
		}
		return &rbacv1.ClusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, ObjectMeta: meta, Rules: rs}
	})
	narrowed, _ := rbac.Without(roleRules(ro.Object), spec.drop, spec.expandAll)
	setRoleRules(ro.Object, narrowed)
	ro.Fixes = appendOnce(ro.Fixes, label)
	ro.Why = fmt.Sprintf("a copy of %s for %s's subjects, without %s", rref, bref, p.whatOf(ro, spec))
	ro.Risk = "wildcards of the original are replaced by the built-in resources and verbs they cover: custom resources it granted must be added back by hand"

	bo := p.object(strings.ToLower(b.Kind)+"-"+strings.Trim(b.Namespace+"-"+name, "-")+".yaml", func() runtime.Object {
		meta := metav1.ObjectMeta{Name: name, Namespace: b.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "kwid-fix"}}
		ref := rbacv1.RoleRef{APIGroup: rbacGroup, Kind: roleKind, Name: name}
		if b.ClusterWide() {
			return &rbacv1.ClusterRoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"}, ObjectMeta: meta, RoleRef: ref, Subjects: subjects}
		}
		return &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta, RoleRef: ref, Subjects: subjects}
	})
	for _, f := range inherited {
		bo.Fixes = appendOnce(bo.Fixes, f)
	}
	bo.Fixes = appendOnce(bo.Fixes, label)
	bo.Why = fmt.Sprintf("binds the subjects of %s to the narrowed copy %s %s", bref, roleKind, name)
	bo.Risk = "every subject of the old binding gets the narrowed rights"

	cmd := "kubectl delete clusterrolebinding " + b.Name
	if !b.ClusterWide() {
		cmd = fmt.Sprintf("kubectl delete rolebinding %s -n %s", b.Name, b.Namespace)
	}
	if !slices.ContainsFunc(p.deletions, func(s Step) bool { return s.Command == cmd }) {
		p.deletions = append(p.deletions, Step{Command: cmd, Fixes: label, Deletes: &bref,
			Why: fmt.Sprintf("replaced by %s %s, bound to a narrowed copy of %s (a binding's roleRef cannot change)", b.Kind, name, rref)})
	}
	return nil
}

func (p *planner) whatOf(o *Object, spec narrowSpec) string {
	var whats []string
	for _, fix := range o.Fixes {
		if s, ok := narrowSpecs[strings.Fields(fix)[0]]; ok && !slices.Contains(whats, s.what) {
			whats = append(whats, s.what)
		}
	}
	if len(whats) == 0 {
		return spec.what
	}
	return strings.Join(whats, "; ")
}

// roleRisk names who else loses the rights when a role is narrowed in place.
func (p *planner) roleRisk(rref inventory.ObjectRef, n rbac.Narrowing) string {
	var others []string
	for _, b := range p.ix.Bindings() {
		if b.RoleRef.Name == rref.Name && string(rref.Kind) == b.RoleRef.Kind && (rref.Kind == inventory.ClusterRoles || b.Namespace == rref.Namespace) {
			others = append(others, b.Ref().String())
		}
	}
	risk := "every subject of " + strings.Join(others, ", ") + " loses these rights"
	if len(others) == 0 {
		risk = "the role is not bound today"
	}
	if len(n.Expanded) > 0 {
		risk += "; " + strings.Join(n.Expanded, ", ") + " replaced by the built-in resources and verbs they cover: custom resources it granted must be added back by hand"
	}
	return risk
}

func (p *planner) role(ref inventory.ObjectRef) (*metav1.ObjectMeta, []rbacv1.PolicyRule, bool, bool) {
	switch ref.Kind {
	case inventory.Roles:
		for i := range p.s.Roles {
			if r := &p.s.Roles[i]; r.Namespace == ref.Namespace && r.Name == ref.Name {
				return &r.ObjectMeta, r.Rules, false, true
			}
		}
	case inventory.ClusterRoles:
		for i := range p.s.ClusterRoles {
			if r := &p.s.ClusterRoles[i]; r.Name == ref.Name {
				rules := r.Rules
				if r.AggregationRule != nil {
					rules = p.aggregatedRules(r.Name)
				}
				return &r.ObjectMeta, rules, r.AggregationRule != nil, true
			}
		}
	}
	return nil, nil, false, false
}

// aggregatedRules are an aggregated ClusterRole's rules as the index computed them.
func (p *planner) aggregatedRules(name string) []rbacv1.PolicyRule {
	for _, b := range p.ix.Bindings() {
		if b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == name {
			return b.Rules
		}
	}
	return nil
}

func (p *planner) binding(ref inventory.ObjectRef) *rbac.Binding {
	for _, b := range p.ix.Bindings() {
		if b.Ref() == ref {
			return b
		}
	}
	return nil
}

func (p *planner) cleanRole(ref inventory.ObjectRef) runtime.Object {
	switch ref.Kind {
	case inventory.Roles:
		for i := range p.s.Roles {
			if r := &p.s.Roles[i]; r.Namespace == ref.Namespace && r.Name == ref.Name {
				c := r.DeepCopy()
				clean(&c.ObjectMeta)
				return c
			}
		}
	case inventory.ClusterRoles:
		for i := range p.s.ClusterRoles {
			if r := &p.s.ClusterRoles[i]; r.Name == ref.Name {
				c := r.DeepCopy()
				clean(&c.ObjectMeta)
				return c
			}
		}
	}
	return nil
}

func bindingSubjects(obj runtime.Object) []rbacv1.Subject {
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		return b.Subjects
	case *rbacv1.ClusterRoleBinding:
		return b.Subjects
	}
	return nil
}

func roleRules(obj runtime.Object) []rbacv1.PolicyRule {
	switch r := obj.(type) {
	case *rbacv1.Role:
		return r.Rules
	case *rbacv1.ClusterRole:
		return r.Rules
	}
	return nil
}

func setRoleRules(obj runtime.Object, rules []rbacv1.PolicyRule) {
	switch r := obj.(type) {
	case *rbacv1.Role:
		r.Rules = rules
	case *rbacv1.ClusterRole:
		r.Rules = rules
	}
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
