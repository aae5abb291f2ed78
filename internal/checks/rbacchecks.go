package checks

// The RBAC family (catalog section 1A, KW-RBAC-*): every check is computed on effective
// permissions per subject (Input.Holders: role references, namespace scope and aggregation
// resolved as the API server does), never by grepping roles. This file holds the shared
// machinery and KW-RBAC-001 to 004; rbacchecks2.go holds KW-RBAC-007 to 015.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	rbacGroup         = "rbac.authorization.k8s.io"
	rbacBootstrapKey  = "kubernetes.io/bootstrapping"
	rbacBootstrapVal  = "rbac-defaults"
	rbacClusterAdmin  = "cluster-admin"
	rbacSAGroupPrefix = "system:serviceaccounts:"
)

// rbacAsk is one request a check looks for in the rules a subject holds.
type rbacAsk struct {
	req rbac.Request
	// named: the request names an object (get, update, bind, a subresource of an existing
	// object), so a rule's resourceNames can limit it to some objects. Requests without a
	// name (list, create, deletecollection) are only allowed by rules without resourceNames.
	named bool
	// cluster: the resource is cluster-scoped, so only ClusterRoleBindings grant it (a
	// RoleBinding never grants cluster-scoped resources, whatever its role says).
	cluster bool
}

// rbacHit is one grant that allows one ask.
type rbacHit struct {
	grant rbac.Grant
	ask   int
	// names limits the ask to these objects (the rule's resourceNames); nil means any.
	names []string
}

// rbacHeld is a subject with the grants (Holder.Grants) and hits through which it holds
// some of the asks.
type rbacHeld struct {
	Holder
	hits []rbacHit
}

// rbacMatch reports whether a rule allows an ask, and for a named ask limited by
// resourceNames, to which names. The request's own Name, when set, is matched exactly.
func rbacMatch(rule *rbacv1.PolicyRule, a rbacAsk) (bool, []string) {
	if rbac.RuleAllows(rule, a.req) {
		return true, nil
	}
	if !a.named || len(rule.ResourceNames) == 0 || a.req.Name != "" {
		return false, nil
	}
	unnamed := *rule
	unnamed.ResourceNames = nil
	if rbac.RuleAllows(&unnamed, a.req) {
		return true, rule.ResourceNames
	}
	return false, nil
}

// rbacHolders returns every subject holding one of the asks, with the hits, in the scope
// the binding gives (cluster-scoped asks only through ClusterRoleBindings).
func rbacHolders(in *Input, asks []rbacAsk) []rbacHeld {
	// Bindings to one role share its rules (same pointers): match each rule once.
	type ruleHit struct {
		ask   int
		names []string
	}
	memo := map[*rbacv1.PolicyRule][]ruleHit{}
	matches := func(rule *rbacv1.PolicyRule) []ruleHit {
		hits, ok := memo[rule]
		if !ok {
			for i, a := range asks {
				if ok, names := rbacMatch(rule, a); ok {
					hits = append(hits, ruleHit{i, names})
				}
			}
			memo[rule] = hits
		}
		return hits
	}
	hs := in.Holders(func(rule *rbacv1.PolicyRule) bool { return len(matches(rule)) > 0 })
	out := make([]rbacHeld, 0, len(hs))
	for _, h := range hs {
		held := rbacHeld{Holder: Holder{Subject: h.Subject, Grants: make([]rbac.Grant, 0, len(h.Grants))}, hits: make([]rbacHit, 0, len(h.Grants))}
		for _, g := range h.Grants {
			kept := false
			for _, m := range matches(g.Rule()) {
				if asks[m.ask].cluster && !g.Binding.ClusterWide() {
					continue
				}
				held.hits = append(held.hits, rbacHit{grant: g, ask: m.ask, names: m.names})
				kept = true
			}
			if kept {
				held.Grants = append(held.Grants, g)
			}
		}
		if len(held.hits) > 0 {
			out = append(out, held)
		}
	}
	return out
}

// only keeps the hits pred accepts (and the grants they come through).
func (h rbacHeld) only(pred func(rbacHit) bool) rbacHeld {
	out := rbacHeld{Holder: Holder{Subject: h.Subject}}
	for _, hit := range h.hits {
		if !pred(hit) {
			continue
		}
		out.hits = append(out.hits, hit)
		if !slices.ContainsFunc(out.Grants, func(g rbac.Grant) bool { return rbacSameGrant(g, hit.grant) }) {
			out.Grants = append(out.Grants, hit.grant)
		}
	}
	return out
}

func rbacSameGrant(a, b rbac.Grant) bool {
	return a.Binding == b.Binding && a.Subject == b.Subject && a.RuleIndex == b.RuleIndex
}

// rbacAnyName: the hit allows the ask on every object.
func rbacAnyName(h rbacHit) bool { return h.names == nil }

// inPrivileged reports whether a hit applies in a privileged namespace.
func (h rbacHeld) inPrivileged(c *Config) bool {
	return slices.ContainsFunc(h.hits, func(hit rbacHit) bool {
		return hit.grant.Namespace() != "" && c.Privileged(hit.grant.Namespace())
	})
}

// has reports whether one of the asks is held (through any hit).
func (h rbacHeld) has(asks ...int) bool {
	return slices.ContainsFunc(h.hits, func(hit rbacHit) bool { return slices.Contains(asks, hit.ask) })
}

// names lists the resourceNames of the hits, each once.
func (h rbacHeld) names() []string {
	var out []string
	for _, hit := range h.hits {
		for _, n := range hit.names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// rbacScan is one run of an RBAC check: the input, plus the workloads by ServiceAccount
// (computed once per run, on first use).
type rbacScan struct {
	in *Input
	r  *run
	wl *rbacWorkloadIndex
}

// rbacWorkloadIndex is the running workloads (uncontrolled Pods and pod templates) by the
// ServiceAccount they run as.
type rbacWorkloadIndex struct {
	refs map[[2]string][]inventory.ObjectRef
	// mounted counts the workloads that mount the ServiceAccount's token.
	mounted map[[2]string]int
	images  map[[2]string][]rbacImage
	// members lists, per namespace, the ServiceAccounts that exist or that workloads name.
	members map[string][]string
}

type rbacImage struct {
	ref   inventory.ObjectRef
	image string
}

type rbacUsage struct {
	live     bool
	evidence []string
}

func newRBACScan(in *Input, r *run) *rbacScan { return &rbacScan{in: in, r: r} }

func (c *rbacScan) workloads() *rbacWorkloadIndex {
	if c.wl == nil {
		c.in.rbacWorkloadsOnce.Do(func() { c.in.rbacWorkloads = newRBACWorkloadIndex(c.in) })
		c.wl = c.in.rbacWorkloads
	}
	return c.wl
}

// newRBACWorkloadIndex indexes, once per scan, the workloads and ServiceAccounts the RBAC
// checks ask about.
func newRBACWorkloadIndex(in *Input) *rbacWorkloadIndex {
	ix := &rbacWorkloadIndex{
		refs:    map[[2]string][]inventory.ObjectRef{},
		mounted: map[[2]string]int{},
		images:  map[[2]string][]rbacImage{},
		members: map[string][]string{},
	}
	seen := map[[2]string]bool{}
	member := func(ns, name string) {
		if k := [2]string{ns, name}; !seen[k] {
			seen[k] = true
			ix.members[ns] = append(ix.members[ns], name)
		}
	}
	for i := range in.Snapshot.ServiceAccounts {
		member(in.Snapshot.ServiceAccounts[i].Namespace, in.Snapshot.ServiceAccounts[i].Name)
	}
	for _, w := range in.Workloads() {
		if w.Controlled {
			continue
		}
		key := [2]string{w.Ref.Namespace, w.ServiceAccountName()}
		member(key[0], key[1])
		ix.refs[key] = append(ix.refs[key], w.Ref)
		// Effective automount: the pod's field, else the ServiceAccount's, else true.
		mounted := true
		if w.Spec.AutomountServiceAccountToken != nil {
			mounted = *w.Spec.AutomountServiceAccountToken
		} else if sa := in.Snapshot.ServiceAccount(key[0], key[1]); sa != nil && sa.AutomountServiceAccountToken != nil {
			mounted = *sa.AutomountServiceAccountToken
		}
		if mounted {
			ix.mounted[key]++
		}
		for _, ct := range w.Spec.Containers {
			ix.images[key] = append(ix.images[key], rbacImage{w.Ref, ct.Image})
		}
	}
	for ns := range ix.members {
		slices.Sort(ix.members[ns])
	}
	return ix
}

// usage says whether running workloads hold a subject's rights with a mounted token (a
// ServiceAccount's own, or the members of a ServiceAccount group) and explains it. It is
// computed once per scan: every RBAC check asks it of the same subjects.
func (c *rbacScan) usage(subj inventory.ObjectRef) (live bool, evidence []string) {
	if u, ok := c.in.rbacUsages.Load(subj); ok {
		return u.(rbacUsage).live, u.(rbacUsage).evidence
	}
	live, evidence = c.computeUsage(subj)
	c.in.rbacUsages.Store(subj, rbacUsage{live, evidence})
	return live, evidence
}

func (c *rbacScan) computeUsage(subj inventory.ObjectRef) (live bool, evidence []string) {
	switch {
	case subj.Kind == inventory.ServiceAccounts:
		key := [2]string{subj.Namespace, subj.Name}
		ix := c.workloads()
		refs := ix.refs[key]
		if len(refs) == 0 {
			return false, nil
		}
		how := "none mounts its token"
		switch m := ix.mounted[key]; {
		case m == len(refs):
			how = "its token is mounted"
		case m > 0:
			how = fmt.Sprintf("%d mount its token", m)
		}
		return ix.mounted[key] > 0, []string{fmt.Sprintf("%d running workload(s) run as %s (%s): %s", len(refs), rbacName(subj), rbacFirst(rbacRefNames(refs), 3), how)}
	case subj.Kind == "Group" && (strings.HasPrefix(subj.Name, rbacSAGroupPrefix) || subj.Name == rbac.GroupServiceAccounts || subj.Name == rbac.GroupAuthenticated):
		ns, all := strings.TrimPrefix(subj.Name, rbacSAGroupPrefix), !strings.HasPrefix(subj.Name, rbacSAGroupPrefix)
		ix := c.workloads()
		namespaces := []string{ns}
		if all {
			namespaces = namespaces[:0]
			for n := range ix.members {
				namespaces = append(namespaces, n)
			}
			slices.Sort(namespaces)
		}
		var members []string
		workloads, mountedBy := 0, 0
		for _, n := range namespaces {
			for _, name := range ix.members[n] {
				members = append(members, n+"/"+name)
				workloads += len(ix.refs[[2]string{n, name}])
				mountedBy += ix.mounted[[2]string{n, name}]
			}
		}
		who := "every ServiceAccount of namespace " + ns
		if all {
			who = "every ServiceAccount of every namespace"
			if subj.Name == rbac.GroupAuthenticated {
				who = "every authenticated user and every ServiceAccount"
			}
		}
		ev := fmt.Sprintf("%s is %s (%d known: %s); %d running workload(s) run as them, %d with a mounted token",
			rbacName(subj), who, len(members), rbacFirst(members, 5), workloads, mountedBy)
		return mountedBy > 0, []string{ev}
	}
	return false, nil
}

// rbacFirst joins the first n items and says how many more there are.
func rbacFirst(items []string, n int) string {
	if len(items) > n {
		return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
	}
	return strings.Join(items, ", ")
}

// rbacRefNames renders object refs for rbacFirst.
func rbacRefNames(refs []inventory.ObjectRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return out
}

// rbacName names a subject or object for messages: "ServiceAccount ns/name", "Group name".
func rbacName(r inventory.ObjectRef) string {
	if r.Namespace == "" {
		return string(r.Kind) + " " + r.Name
	}
	return string(r.Kind) + " " + r.Namespace + "/" + r.Name
}

// rbacBindingName names a binding for messages.
func rbacBindingName(b *rbac.Binding) string { return rbacName(b.Ref()) }

// rbacScope says where a hit applies.
func rbacScope(ns string) string {
	if ns == "" {
		return "cluster-wide"
	}
	return "in namespace " + ns
}

// rbacNamespacesScope says "in namespace a" or "in namespaces a, b".
func rbacNamespacesScope(ns []string) string {
	ns = slices.Clone(ns)
	slices.Sort(ns)
	if len(ns) == 1 {
		return "in namespace " + ns[0]
	}
	return "in namespaces " + strings.Join(ns, ", ")
}

// rbacWorkloadSubject reports whether a subject is, or includes, ServiceAccounts (or
// anyone at all): its rights end up in pods.
func rbacWorkloadSubject(r inventory.ObjectRef) bool {
	switch r.Kind {
	case inventory.ServiceAccounts:
		return true
	case "Group":
		return r.Name == rbac.GroupServiceAccounts || strings.HasPrefix(r.Name, rbacSAGroupPrefix) ||
			r.Name == rbac.GroupAuthenticated || r.Name == rbac.GroupUnauthenticated
	case "User":
		return r.Name == rbac.UserAnonymous
	}
	return false
}

// rbacSubjectUser is the identity the authorizer sees for a binding subject, with the
// groups the API server adds: a ServiceAccount's three groups, system:authenticated for
// users and for members of any group other than system:unauthenticated.
func rbacSubjectUser(r inventory.ObjectRef) rbac.User {
	switch r.Kind {
	case inventory.ServiceAccounts:
		return rbac.ServiceAccountUser(r.Namespace, r.Name)
	case "User":
		if r.Name == rbac.UserAnonymous {
			return rbac.User{Name: r.Name, Groups: []string{rbac.GroupUnauthenticated}}
		}
		return rbac.User{Name: r.Name, Groups: []string{rbac.GroupAuthenticated}}
	}
	groups := []string{r.Name}
	switch {
	case r.Name == rbac.GroupUnauthenticated || r.Name == rbac.GroupAuthenticated:
	case strings.HasPrefix(r.Name, rbacSAGroupPrefix):
		groups = append(groups, rbac.GroupServiceAccounts, rbac.GroupAuthenticated)
	default:
		groups = append(groups, rbac.GroupAuthenticated)
	}
	return rbac.User{Groups: groups}
}

// rbacBySubject maps each subject to what it holds of some asks through the bindings that
// name it. Build it once per check run: effective then answers per subject in O(1).
type rbacBySubject map[inventory.ObjectRef]rbacHeld

func rbacHeldBySubject(in *Input, asks []rbacAsk) rbacBySubject {
	m := rbacBySubject{}
	for _, h := range rbacHolders(in, asks) {
		m[h.Subject] = h
	}
	return m
}

// effective is what a subject holds, counting the groups the API server puts it in (a
// ServiceAccount's three groups; system:authenticated for users and group members).
func (m rbacBySubject) effective(subj inventory.ObjectRef) rbacHeld {
	out := rbacHeld{Holder: Holder{Subject: subj}}
	for _, h := range m.parts(subj) {
		out.hits = append(out.hits, h.hits...)
		out.Grants = append(out.Grants, h.Grants...)
	}
	return out
}

// parts returns what the subject and each of its implied groups hold.
func (m rbacBySubject) parts(subj inventory.ObjectRef) []rbacHeld {
	var out []rbacHeld
	if h, ok := m[subj]; ok {
		out = append(out, h)
	}
	for _, g := range rbacSubjectUser(subj).Groups {
		if subj.Kind == "Group" && g == subj.Name {
			continue
		}
		if h, ok := m[inventory.ObjectRef{Kind: "Group", Name: g}]; ok {
			out = append(out, h)
		}
	}
	return out
}

// where returns the namespaces where the holder holds an ask on any object ("" for every
// namespace and cluster scope).
func (h rbacHeld) where(ask int) map[string]bool {
	out := map[string]bool{}
	for _, hit := range h.hits {
		if hit.ask == ask && hit.names == nil {
			out[hit.grant.Namespace()] = true
		}
	}
	return out
}

// rbacOverlap reports whether two sets of namespaces (with "" for all) share one.
func rbacOverlap(a, b map[string]bool) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	if a[""] || b[""] {
		return true
	}
	for ns := range a {
		if b[ns] {
			return true
		}
	}
	return false
}

// rbacRaise raises a severity one step.
func rbacRaise(s Severity) Severity { return min(s+1, Critical) }

// finding builds a per-subject finding: the subject, its bindings and roles, the grants'
// reasons, who runs with them, and how to narrow or revoke them.
func (c *rbacScan) finding(h rbacHeld, sev Severity, msg, advice string) Finding {
	_, usage := c.usage(h.Subject)
	ev := c.in.evidence(h.Holder)
	for _, g := range h.Grants {
		if g.Binding.RoleAggregated {
			ev = append(ev, fmt.Sprintf("ClusterRole %s: rules computed from its aggregationRule (the input showed none)", g.Binding.RoleRef.Name))
			break
		}
	}
	return Finding{
		Severity:    sev,
		Message:     msg,
		Object:      h.Subject,
		Related:     h.Related(),
		Evidence:    append(ev, usage...),
		Remediation: c.remedy(advice, h.Holder),
	}
}

// remedy is advice, then how to narrow the roles (unless they are built-in) or take the
// grants from the subject.
func (c *rbacScan) remedy(advice string, h Holder, extra ...rbacBindingSubject) string {
	var edits []string
	for _, g := range h.Grants {
		b := g.Binding
		var cmd string
		switch b.RoleRef.Kind {
		case "ClusterRole":
			if c.bootstrapClusterRole(b.RoleRef.Name) {
				continue
			}
			cmd = "kubectl edit clusterrole " + b.RoleRef.Name
		case "Role":
			cmd = fmt.Sprintf("kubectl edit role %s -n %s", b.RoleRef.Name, b.Namespace)
		}
		if cmd != "" && !slices.Contains(edits, cmd) {
			edits = append(edits, cmd)
		}
	}
	var pairs []rbacBindingSubject
	for _, g := range h.Grants {
		pairs = append(pairs, rbacBindingSubject{g.Binding, g.Subject})
	}
	pairs = append(pairs, extra...)
	if len(edits) > 0 {
		return advice + " Narrow the role (" + strings.Join(edits, "; ") + "), or revoke it from " + rbacName(h.Subject) + ": " + rbacRevoke(pairs)
	}
	return advice + " Then revoke it from " + rbacName(h.Subject) + ": " + rbacRevoke(pairs)
}

// bootstrapClusterRole reports whether a ClusterRole is a built-in one (the API server
// reconciles those: edit the binding, not the role).
func (c *rbacScan) bootstrapClusterRole(name string) bool {
	crs := c.in.Snapshot.ClusterRoles
	i, ok := slices.BinarySearchFunc(crs, name, func(cr rbacv1.ClusterRole, n string) int { return strings.Compare(cr.Name, n) })
	return ok && crs[i].Labels[rbacBootstrapKey] == rbacBootstrapVal
}

// rbacBindingSubject is one subject entry of one binding.
type rbacBindingSubject struct {
	b *rbac.Binding
	s *rbacv1.Subject
}

// rbacRevoke returns the commands that take bindings from subjects: delete a binding
// whose subjects are all removed, else a JSON patch that removes exactly those subject
// entries (each guarded by a test of its name, so a changed binding is left alone).
func rbacRevoke(pairs []rbacBindingSubject) string {
	var order []*rbac.Binding
	idx := map[*rbac.Binding][]int{}
	for _, p := range pairs {
		if _, ok := idx[p.b]; !ok {
			order = append(order, p.b)
			idx[p.b] = nil
		}
		for i := range p.b.Subjects {
			if &p.b.Subjects[i] == p.s && !slices.Contains(idx[p.b], i) {
				idx[p.b] = append(idx[p.b], i)
			}
		}
	}
	var cmds []string
	for _, b := range order {
		is := idx[b]
		if len(is) == 0 || len(is) == len(b.Subjects) {
			cmds = append(cmds, deleteCommand(b))
			continue
		}
		slices.Sort(is)
		slices.Reverse(is)
		type op struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value string `json:"value,omitempty"`
		}
		var ops []op
		for _, i := range is {
			p := fmt.Sprintf("/subjects/%d", i)
			ops = append(ops, op{"test", p + "/name", b.Subjects[i].Name}, op{Op: "remove", Path: p})
		}
		js, _ := json.Marshal(ops) // strings only: cannot fail
		cmd := fmt.Sprintf("kubectl patch %s %s", strings.ToLower(b.Kind), b.Name)
		if !b.ClusterWide() {
			cmd += " -n " + b.Namespace
		}
		cmds = append(cmds, cmd+" --type=json -p "+rbacShellQuote(string(js)))
	}
	return strings.Join(cmds, "; ")
}

// rbacShellQuote quotes s for a POSIX shell.
func rbacShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// rbacVia names the roles and bindings of a holder's grants: "ClusterRole x via
// ClusterRoleBinding y".
func rbacVia(h Holder) string {
	var out []string
	for _, g := range h.Grants {
		b := g.Binding
		s := fmt.Sprintf("%s %s via %s", b.RoleRef.Kind, b.RoleRef.Name, rbacBindingName(b))
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, "; ")
}

// --- KW-RBAC-001 ---------------------------------------------------------------------

var rbacClusterAdminCheck = register(&Check{
	ID:       "KW-RBAC-001",
	Title:    "cluster-admin used only where required",
	Severity: Critical,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.1", "CIS EKS 4.1.1", "CIS GKE 4.1.1", "CIS AKS 4.1.1"},
	Summary: "One finding per subject bound to ClusterRole cluster-admin, or holding a cluster-admin " +
		"equivalent (a rule with verbs *, resources * and apiGroups \"\" or * through a " +
		"ClusterRoleBinding). A binding to cluster-admin counts even when the ClusterRole is not in " +
		"the input. Cluster-wide: critical for ServiceAccounts (and groups that contain them, or " +
		"anonymous), high for users and groups. Through a RoleBinding only (admin of the namespace): " +
		"high for ServiceAccounts, medium for others, one step higher in a privileged namespace. " +
		"Control-plane subjects (system:masters, system:nodes, eks:*) are allowlisted by default.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		isAdminRef := func(b *rbac.Binding) bool {
			return b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == rbacClusterAdmin
		}
		asks := []rbacAsk{{req: rbac.Request{Verb: "*", Resource: "*"}}}
		bySubject := map[inventory.ObjectRef]*rbacHeld{}
		var order []inventory.ObjectRef
		for _, h := range rbacHolders(in, asks) {
			h = h.only(func(hit rbacHit) bool { return hit.grant.Binding.ClusterWide() || isAdminRef(hit.grant.Binding) })
			if len(h.hits) > 0 {
				bySubject[h.Subject] = &h
				order = append(order, h.Subject)
			}
		}
		// Bindings to cluster-admin whose role is not in the input (manifests under review):
		// the built-in role grants everything.
		missing := map[inventory.ObjectRef][]rbacBindingSubject{}
		for _, b := range in.RBAC.Bindings() {
			if !isAdminRef(b) || !b.RoleMissing {
				continue
			}
			for i := range b.Subjects {
				ref, ok := subjectRef(&b.Subjects[i], b)
				if !ok {
					continue
				}
				if bySubject[ref] == nil && missing[ref] == nil {
					order = append(order, ref)
				}
				missing[ref] = append(missing[ref], rbacBindingSubject{b, &b.Subjects[i]})
			}
		}
		slices.SortFunc(order, rbacCompareRefs)
		for _, subj := range order {
			h := rbacHeld{Holder: Holder{Subject: subj}}
			if p := bySubject[subj]; p != nil {
				h = *p
			}
			var ev, vias []string
			var related []inventory.ObjectRef
			clusterWide, privileged := h.ClusterWide(), h.inPrivileged(in.Config)
			namespaces := h.Namespaces()
			for _, p := range missing[subj] {
				b := p.b
				ev = append(ev, fmt.Sprintf("%s binds ClusterRole cluster-admin to %s %s; the ClusterRole is not in the input (the built-in one allows everything)", rbacBindingName(b), p.s.Kind, p.s.Name))
				vias = append(vias, "ClusterRole cluster-admin via "+rbacBindingName(b))
				related = append(related, b.Ref(), inventory.ObjectRef{Kind: inventory.ClusterRoles, Name: rbacClusterAdmin})
				if b.ClusterWide() {
					clusterWide = true
				} else {
					privileged = privileged || in.Config.Privileged(b.Namespace)
					if !slices.Contains(namespaces, b.Namespace) {
						namespaces = append(namespaces, b.Namespace)
					}
				}
			}
			if len(h.Grants) > 0 {
				vias = append([]string{rbacVia(h.Holder)}, vias...)
			}
			scope := "cluster-wide"
			var sev Severity
			switch {
			case clusterWide && rbacWorkloadSubject(subj):
				sev = Critical
			case clusterWide:
				sev = High
			default:
				scope = rbacNamespacesScope(namespaces)
				sev = Medium
				if rbacWorkloadSubject(subj) {
					sev = High
				}
				if privileged {
					sev = rbacRaise(sev)
				}
			}
			advice := "Bind a role with only the rights the subject needs."
			if subj.Kind == inventory.ServiceAccounts {
				advice = fmt.Sprintf("Bind a role with only the rights it needs (kwid generate role --from-audit-log FILE --for %s/%s derives one from audit logs).", subj.Namespace, subj.Name)
			}
			f := c.finding(h, sev, fmt.Sprintf("%s can do anything %s (%s)", rbacName(subj), scope, strings.Join(vias, "; ")), advice)
			f.Evidence = append(ev, f.Evidence...)
			for _, ref := range related {
				if !slices.Contains(f.Related, ref) {
					f.Related = append(f.Related, ref)
				}
			}
			if len(missing[subj]) > 0 {
				f.Remediation = c.remedy(advice, h.Holder, missing[subj]...)
			}
			r.add(f)
		}
	},
})

func rbacCompareRefs(a, b inventory.ObjectRef) int {
	return strings.Compare(string(a.Kind)+"\x00"+a.Namespace+"\x00"+a.Name, string(b.Kind)+"\x00"+b.Namespace+"\x00"+b.Name)
}

// --- KW-RBAC-002 ---------------------------------------------------------------------

var rbacSecretsCheck = register(&Check{
	ID:       "KW-RBAC-002",
	Title:    "Minimize access to Secrets",
	Severity: Critical,
	Reads:    append(append(slices.Clone(rbacKinds), inventory.Secrets, inventory.ServiceAccounts), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.2", "CIS EKS 4.1.2", "CIS GKE 4.1.2", "CIS AKS 4.1.2", "Kubernetes RBAC good practices"},
	Summary: "One finding per subject that can get, list or watch Secrets. list and watch return " +
		"the Secrets' data, as does get on any name. Critical cluster-wide or in a privileged " +
		"namespace; otherwise medium, high when the subject is a ServiceAccount (or a " +
		"ServiceAccount group) whose token is mounted in running workloads. Reading only Secrets " +
		"named by resourceNames is low (medium when one of them holds a ServiceAccount token).",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		verbs := []string{"get", "list", "watch"}
		var asks []rbacAsk
		for _, v := range verbs {
			asks = append(asks, rbacAsk{req: rbac.Request{Verb: v, Resource: "secrets"}, named: true})
		}
		for _, h := range rbacHolders(in, asks) {
			broad := h.only(rbacAnyName)
			if len(broad.hits) > 0 {
				var can []string
				for i, v := range verbs {
					if broad.has(i) {
						can = append(can, v)
					}
				}
				live, _ := c.usage(h.Subject)
				sev := Medium
				switch {
				case broad.ClusterWide() || broad.inPrivileged(in.Config):
					sev = Critical
				case live:
					sev = High
				}
				what := "reads every Secret's data"
				if !broad.has(1, 2) {
					what = "reads any Secret whose name it knows"
				}
				if !broad.ClusterWide() {
					what += " there"
				}
				msg := fmt.Sprintf("%s can %s Secrets %s (%s)", rbacName(h.Subject), strings.Join(can, ", "), broad.Scope(), what)
				f := c.finding(h, sev, msg, "Remove get, list and watch on secrets; a workload that needs one Secret should mount it, or get it by name (resourceNames).")
				r.add(f)
				continue
			}
			// Named Secrets only.
			names := h.names()
			sev := Low
			var ev []string
			if in.Snapshot.Readable(inventory.Secrets) {
				for _, hit := range h.hits {
					for i := range in.Snapshot.Secrets {
						s := &in.Snapshot.Secrets[i]
						if slices.Contains(hit.names, s.Name) && (hit.grant.Namespace() == "" || hit.grant.Namespace() == s.Namespace) && s.Type == "kubernetes.io/service-account-token" {
							sev = Medium
							ev = append(ev, fmt.Sprintf("Secret %s/%s holds a token of ServiceAccount %s", s.Namespace, s.Name, s.Annotations["kubernetes.io/service-account.name"]))
						}
					}
				}
			}
			msg := fmt.Sprintf("%s can read only the named Secrets %s %s", rbacName(h.Subject), strings.Join(names, ", "), h.Scope())
			f := c.finding(h, sev, msg, "Check that these Secrets are needed.")
			f.Evidence = append(f.Evidence, ev...)
			r.add(f)
		}
	},
})

// --- KW-RBAC-003 ---------------------------------------------------------------------

var rbacWildcardCheck = register(&Check{
	ID:       "KW-RBAC-003",
	Title:    "Minimize wildcards in Roles and ClusterRoles",
	Severity: High,
	Reads:    rbacKinds,
	Refs:     []string{"CIS Kubernetes 5.1.3", "CIS EKS 4.1.3", "CIS GKE 4.1.3", "CIS AKS 4.1.3"},
	Summary: "One finding per Role or ClusterRole with `*` in verbs, apiGroups, resources or " +
		"nonResourceURLs (including prefixes like /logs/*), or a `*/subresource` resource. High when " +
		"a binding grants it to a ServiceAccount (or to a group that contains ServiceAccounts), also " +
		"through a ClusterRole it is aggregated into; medium otherwise. cluster-admin and the built-in " +
		"system:* roles (label kubernetes.io/bootstrapping: rbac-defaults) are expected. Aggregated " +
		"ClusterRoles are judged through the roles they aggregate. `pods/*` is noted, not counted: " +
		"the API server reads it literally (it matches no subresource).",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		s := in.Snapshot
		type roleKey struct {
			kind, ns, name string
		}
		bindings := map[roleKey][]*rbac.Binding{}
		for _, b := range in.RBAC.Bindings() {
			k := roleKey{b.RoleRef.Kind, "", b.RoleRef.Name}
			if k.kind == "Role" {
				k.ns = b.Namespace
			}
			bindings[k] = append(bindings[k], b)
		}
		saBinding := func(bs []*rbac.Binding) (*rbac.Binding, inventory.ObjectRef) {
			for _, b := range bs {
				for i := range b.Subjects {
					if ref, ok := subjectRef(&b.Subjects[i], b); ok && rbacWorkloadSubject(ref) && ref.Name != rbac.GroupUnauthenticated && ref.Name != rbac.UserAnonymous {
						return b, ref
					}
				}
			}
			return nil, inventory.ObjectRef{}
		}
		// aggregators[x]: ClusterRoles that aggregate ClusterRole x, directly or in a chain.
		aggregators := rbacAggregators(s.ClusterRoles)
		check := func(obj inventory.ObjectRef, meta *metav1.ObjectMeta, rules []rbacv1.PolicyRule, key roleKey) {
			if key.kind == "ClusterRole" && key.name == rbacClusterAdmin ||
				strings.HasPrefix(meta.Name, "system:") && meta.Labels[rbacBootstrapKey] == rbacBootstrapVal {
				return
			}
			var found, ev []string
			for i := range rules {
				w, literal := rbacWildcards(&rules[i])
				for _, x := range w {
					if !slices.Contains(found, x) {
						found = append(found, x)
					}
				}
				if len(w) > 0 {
					ev = append(ev, fmt.Sprintf("rule %d: %s", i+1, rbac.DescribeRule(&rules[i])))
				}
				for _, l := range literal {
					ev = append(ev, fmt.Sprintf("rule %d: resource %q is not a wildcard for the API server (it matches only a subresource literally named *)", i+1, l))
				}
			}
			if len(found) == 0 {
				return
			}
			bs := slices.Clone(bindings[key])
			var related []inventory.ObjectRef
			if key.kind == "ClusterRole" {
				for _, agg := range aggregators[key.name] {
					related = append(related, inventory.ObjectRef{Kind: inventory.ClusterRoles, Name: agg})
					ev = append(ev, fmt.Sprintf("aggregated into ClusterRole %s", agg))
					bs = append(bs, bindings[roleKey{"ClusterRole", "", agg}]...)
				}
			}
			for _, b := range bs {
				related = append(related, b.Ref())
			}
			edit := "kubectl edit " + strings.ToLower(key.kind) + " " + key.name
			if key.ns != "" {
				edit += " -n " + key.ns
			}
			f := Finding{
				Severity:    Medium,
				Object:      obj,
				Related:     related,
				Evidence:    ev,
				Remediation: "Replace the wildcards with the verbs and resources needed (kwid generate role --from-audit-log FILE --for NS/SA derives them from audit logs), then: " + edit,
			}
			bound := ""
			if b, ref := saBinding(bs); b != nil {
				f.Severity = High
				bound = fmt.Sprintf(", and %s grants it to %s", rbacBindingName(b), rbacName(ref))
			} else if len(bs) == 0 {
				bound = ", and no binding uses it"
			} else {
				bound = ", bound to no ServiceAccount"
			}
			f.Message = fmt.Sprintf("%s uses wildcards (%s)%s", rbacName(obj), strings.Join(found, "; "), bound)
			r.add(f)
		}
		for i := range s.ClusterRoles {
			cr := &s.ClusterRoles[i]
			if cr.AggregationRule != nil {
				continue // its rules are those of the roles it aggregates, judged on their own
			}
			check(inventory.ObjectRef{Kind: inventory.ClusterRoles, Name: cr.Name}, &cr.ObjectMeta, cr.Rules, roleKey{"ClusterRole", "", cr.Name})
		}
		for i := range s.Roles {
			ro := &s.Roles[i]
			check(inventory.ObjectRef{Kind: inventory.Roles, Namespace: ro.Namespace, Name: ro.Name}, &ro.ObjectMeta, ro.Rules, roleKey{"Role", ro.Namespace, ro.Name})
		}
	},
})

// rbacWildcards lists the wildcards of a rule ("verbs *", "resources */scale") and the
// resources that look like wildcards but are literal ("pods/*").
func rbacWildcards(rule *rbacv1.PolicyRule) (found, literal []string) {
	if slices.Contains(rule.Verbs, rbacv1.VerbAll) {
		found = append(found, "verbs * on "+rbacOn(rule))
	}
	if slices.Contains(rule.APIGroups, rbacv1.APIGroupAll) {
		found = append(found, "apiGroups *")
	}
	for _, res := range rule.Resources {
		switch {
		case res == rbacv1.ResourceAll:
			found = append(found, "resources *")
		case strings.HasPrefix(res, "*/"):
			found = append(found, "resources "+res)
		case strings.HasSuffix(res, "/*"):
			literal = append(literal, res)
		}
	}
	for _, u := range rule.NonResourceURLs {
		if strings.HasSuffix(u, "*") {
			found = append(found, "nonResourceURLs "+u)
		}
	}
	return found, literal
}

// rbacOn names what a rule applies to, briefly.
func rbacOn(rule *rbacv1.PolicyRule) string {
	if len(rule.NonResourceURLs) > 0 {
		return rbacFirst(rule.NonResourceURLs, 3)
	}
	return rbacFirst(rule.Resources, 3)
}

// rbacAggregators maps each ClusterRole to the ClusterRoles that aggregate it (through
// aggregationRule selectors, following chains), sorted.
func rbacAggregators(crs []rbacv1.ClusterRole) map[string][]string {
	direct := map[string][]string{}
	for i := range crs {
		agg := &crs[i]
		if agg.AggregationRule == nil {
			continue
		}
		for _, sel := range agg.AggregationRule.ClusterRoleSelectors {
			selector, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				continue // the API server rejects such a selector
			}
			for j := range crs {
				if crs[j].Name != agg.Name && selector.Matches(labels.Set(crs[j].Labels)) && !slices.Contains(direct[crs[j].Name], agg.Name) {
					direct[crs[j].Name] = append(direct[crs[j].Name], agg.Name)
				}
			}
		}
	}
	out := map[string][]string{}
	for name := range direct {
		seen := map[string]bool{}
		todo := slices.Clone(direct[name])
		for len(todo) > 0 {
			next := todo[0]
			todo = todo[1:]
			if seen[next] || next == name {
				continue
			}
			seen[next] = true
			out[name] = append(out[name], next)
			todo = append(todo, direct[next]...)
		}
		slices.Sort(out[name])
	}
	return out
}

// --- KW-RBAC-004 ---------------------------------------------------------------------

// rbacWorkloadAsks are the requests that start pods: create pods, or create/update/patch
// a workload controller.
var rbacWorkloadAsks = func() []rbacAsk {
	asks := []rbacAsk{{req: rbac.Request{Verb: "create", Resource: "pods"}}}
	for _, res := range []struct{ group, resource string }{
		{"apps", "deployments"}, {"apps", "daemonsets"}, {"apps", "statefulsets"}, {"apps", "replicasets"},
		{"batch", "jobs"}, {"batch", "cronjobs"}, {"", "replicationcontrollers"},
	} {
		asks = append(asks, rbacAsk{req: rbac.Request{Verb: "create", APIGroup: res.group, Resource: res.resource}})
		for _, v := range []string{"update", "patch"} {
			asks = append(asks, rbacAsk{req: rbac.Request{Verb: v, APIGroup: res.group, Resource: res.resource}, named: true})
		}
	}
	return asks
}()

var rbacPodCreateCheck = register(&Check{
	ID:       "KW-RBAC-004",
	Title:    "Minimize pod creation",
	Severity: Critical,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.4", "CIS EKS 4.1.4", "CIS AKS 4.1.4", "Kubernetes RBAC good practices"},
	Summary: "One finding per subject that can create Pods, or create, update or patch Deployments, " +
		"DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs or ReplicationControllers (also " +
		"through `*` resources): it can run code as any ServiceAccount of the namespace and mount " +
		"any of its Secrets. Critical cluster-wide or in a privileged namespace, else high. " +
		"update/patch limited by resourceNames counts (it can change those controllers' pods).",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		for _, h := range rbacHolders(in, rbacWorkloadAsks) {
			sev := High
			if h.ClusterWide() || h.inPrivileged(in.Config) {
				sev = Critical
			}
			// "create pods; create, update, patch deployments, jobs": resources grouped by
			// the verbs held on them, in ask order.
			verbsOf := map[string][]string{}
			var resources []string
			for i, a := range rbacWorkloadAsks {
				if !h.has(i) {
					continue
				}
				if verbsOf[a.req.Resource] == nil {
					resources = append(resources, a.req.Resource)
				}
				verbsOf[a.req.Resource] = append(verbsOf[a.req.Resource], a.req.Verb)
			}
			var what, verbSets []string
			byVerbs := map[string][]string{}
			for _, res := range resources {
				vs := strings.Join(verbsOf[res], ", ")
				if byVerbs[vs] == nil {
					verbSets = append(verbSets, vs)
				}
				byVerbs[vs] = append(byVerbs[vs], res)
			}
			for _, vs := range verbSets {
				what = append(what, vs+" "+strings.Join(byVerbs[vs], ", "))
			}
			where := "any ServiceAccount of the namespace"
			if h.ClusterWide() {
				where = "any ServiceAccount of any namespace"
			}
			msg := fmt.Sprintf("%s can %s %s (runs code as %s, with its Secrets)", rbacName(h.Subject), strings.Join(what, "; "), h.Scope(), where)
			r.add(c.finding(h, sev, msg, "Remove workload-creation rights; deploy through a pipeline identity scoped to the namespaces it deploys to."))
		}
	},
})
