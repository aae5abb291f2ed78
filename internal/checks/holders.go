package checks

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Holder is a subject (ServiceAccount, User or Group, as named in bindings) and the grants
// through which it holds some right.
type Holder struct {
	Subject inventory.ObjectRef
	Grants  []rbac.Grant
}

// ClusterWide reports whether one of the grants applies in every namespace.
func (h Holder) ClusterWide() bool {
	return slices.ContainsFunc(h.Grants, func(g rbac.Grant) bool { return g.Binding.ClusterWide() })
}

// Namespaces lists the namespaces the grants apply in ("" first when one is cluster-wide).
func (h Holder) Namespaces() []string {
	var out []string
	for _, g := range h.Grants {
		if !slices.Contains(out, g.Namespace()) {
			out = append(out, g.Namespace())
		}
	}
	slices.Sort(out)
	return out
}

// Scope says where the rights apply: "cluster-wide" or "in namespace(s) a, b".
func (h Holder) Scope() string {
	if h.ClusterWide() {
		return "cluster-wide"
	}
	ns := h.Namespaces()
	if len(ns) == 1 {
		return "in namespace " + ns[0]
	}
	return "in namespaces " + strings.Join(ns, ", ")
}

// IsServiceAccount reports whether the holder is a ServiceAccount.
func (h Holder) IsServiceAccount() bool { return h.Subject.Kind == inventory.ServiceAccounts }

// evidence is one line per grant of a holder: the API server's reason and the rule. Each
// grant's line is formatted once per scan and shared by the findings that cite it.
func (in *Input) evidence(h Holder) []string {
	out := make([]string, len(h.Grants))
	var missing []int
	l := &in.lines
	l.mu.RLock()
	for i, g := range h.Grants {
		if line, ok := l.grants[g]; ok {
			out[i] = line
		} else {
			missing = append(missing, i)
		}
	}
	l.mu.RUnlock()
	if len(missing) == 0 {
		return out
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.grants == nil {
		l.grants, l.rules = map[rbac.Grant]string{}, map[*rbacv1.PolicyRule]string{}
	}
	for _, i := range missing {
		g := h.Grants[i]
		line, ok := l.grants[g]
		if !ok {
			rule, ok := l.rules[g.Rule()]
			if !ok {
				rule = rbac.DescribeRule(g.Rule())
				l.rules[g.Rule()] = rule
			}
			line = strings.TrimPrefix(g.Reason(), "RBAC: allowed by ") + ": " + rule
			l.grants[g] = line
		}
		out[i] = line
	}
	return out
}

// evidenceLines holds the evidence line of each grant and the description of each rule
// (roles' rules are shared by their bindings): the same grants explain findings of many
// checks, and on a large cluster their lines are a good part of the findings' memory.
type evidenceLines struct {
	mu     sync.RWMutex
	grants map[rbac.Grant]string
	rules  map[*rbacv1.PolicyRule]string
}

// Related are the bindings and roles of the grants, each once.
func (h Holder) Related() []inventory.ObjectRef {
	var out []inventory.ObjectRef
	add := func(r inventory.ObjectRef) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, g := range h.Grants {
		b := g.Binding
		add(b.Ref())
		role := inventory.ObjectRef{Kind: inventory.Kind(b.RoleRef.Kind), Name: b.RoleRef.Name}
		if b.RoleRef.Kind == "Role" {
			role.Namespace = b.Namespace
		}
		add(role)
	}
	return out
}

// Holders returns every binding subject holding a rule that match accepts, with those
// grants, ordered by subject. Rules come from the RBAC index, so role references, namespace
// scope and aggregation are resolved as the API server resolves them. A ServiceAccount
// subject without namespace in a RoleBinding is the binding's namespace's.
func (in *Input) Holders(match func(*rbacv1.PolicyRule) bool) []Holder {
	// Bindings of one role share its rules (the index's slice): each role's rules are
	// matched once, and the bindings of roles with no matching rule are never visited.
	ix := in.bindingIndex()
	all := in.RBAC.Bindings()
	type hit struct{ binding, rule int32 }
	var hits []hit
	for _, g := range ix.groups {
		var idx []int32
		for i := range g.rules {
			if match(&g.rules[i]) {
				idx = append(idx, int32(i))
			}
		}
		for _, b := range g.bindings {
			for _, i := range idx {
				hits = append(hits, hit{b, i})
			}
		}
	}
	// In the order of the index's bindings, then of their rules, as the API server
	// visits them.
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Or(cmp.Compare(a.binding, b.binding), cmp.Compare(a.rule, b.rule)) })
	// Subjects are numbered in Holders' order: grants gather by number, and the holders
	// come out in order without comparing names.
	grants := map[int32][]rbac.Grant{}
	var held []int32
	for _, h := range hits {
		b := all[h.binding]
		for j, id := range ix.subjects[h.binding] {
			if id < 0 {
				continue
			}
			if _, ok := grants[id]; !ok {
				held = append(held, id)
			}
			grants[id] = append(grants[id], rbac.Grant{Binding: b, Subject: &b.Subjects[j], RuleIndex: int(h.rule)})
		}
	}
	slices.Sort(held)
	out := make([]Holder, len(held))
	for i, id := range held {
		out[i] = Holder{Subject: ix.refs[id], Grants: grants[id]}
	}
	return out
}

// bindingIndex is the bindings as Holders walks them, computed once per scan.
type bindingIndex struct {
	// groups are the bindings (positions in RBAC.Bindings) of each role: they share its
	// rules.
	groups []roleGroup
	// subjects numbers each binding subject (by position in RBAC.Bindings, then in the
	// binding), -1 for those that name nobody; refs are the subjects by number, sorted.
	subjects [][]int32
	refs     []inventory.ObjectRef
}

type roleGroup struct {
	rules    []rbacv1.PolicyRule
	bindings []int32
}

func (in *Input) bindingIndex() *bindingIndex {
	in.bindingsOnce.Do(func() {
		ix := &bindingIndex{}
		type rules struct {
			first *rbacv1.PolicyRule
			n     int
		}
		at := map[rules]int{}
		ids := map[inventory.ObjectRef]int32{}
		all := in.RBAC.Bindings()
		ix.subjects = make([][]int32, len(all))
		for i, b := range all {
			ix.subjects[i] = make([]int32, len(b.Subjects))
			for j := range b.Subjects {
				ref, ok := subjectRef(&b.Subjects[j], b)
				if !ok {
					ix.subjects[i][j] = -1
					continue
				}
				id, seen := ids[ref]
				if !seen {
					id = int32(len(ix.refs))
					ids[ref] = id
					ix.refs = append(ix.refs, ref)
				}
				ix.subjects[i][j] = id
			}
			if len(b.Rules) == 0 {
				continue
			}
			key := rules{&b.Rules[0], len(b.Rules)}
			g, ok := at[key]
			if !ok {
				g = len(ix.groups)
				at[key] = g
				ix.groups = append(ix.groups, roleGroup{rules: b.Rules})
			}
			ix.groups[g].bindings = append(ix.groups[g].bindings, int32(i))
		}
		// Renumber the subjects in Holders' order (kind, namespace, name).
		order := make([]int32, len(ix.refs))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			ra, rb := ix.refs[a], ix.refs[b]
			return cmp.Or(cmp.Compare(ra.Kind, rb.Kind), cmp.Compare(ra.Namespace, rb.Namespace), cmp.Compare(ra.Name, rb.Name))
		})
		rank := make([]int32, len(order))
		refs := make([]inventory.ObjectRef, len(order))
		for r, old := range order {
			rank[old] = int32(r)
			refs[r] = ix.refs[old]
		}
		ix.refs = refs
		for _, subs := range ix.subjects {
			for j, id := range subs {
				if id >= 0 {
					subs[j] = rank[id]
				}
			}
		}
		in.bindings = ix
	})
	return in.bindings
}

// Allows is a match for Holders: rules that allow the request (a rule limited by
// resourceNames allows a request without a name only if "" is one of them).
func Allows(reqs ...rbac.Request) func(*rbacv1.PolicyRule) bool {
	return func(rule *rbacv1.PolicyRule) bool {
		for _, r := range reqs {
			if rbac.RuleAllows(rule, r) {
				return true
			}
		}
		return false
	}
}

// subjectRef names a binding subject as an object ref; a User named like a ServiceAccount
// is that ServiceAccount.
func subjectRef(s *rbacv1.Subject, b *rbac.Binding) (inventory.ObjectRef, bool) {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := cmp.Or(s.Namespace, b.Namespace)
		return inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: ns, Name: s.Name}, ns != ""
	case rbacv1.UserKind:
		if ns, name, ok := rbac.SplitServiceAccountUsername(s.Name); ok {
			return inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: ns, Name: name}, true
		}
		return inventory.ObjectRef{Kind: "User", Name: s.Name}, true
	case rbacv1.GroupKind:
		return inventory.ObjectRef{Kind: "Group", Name: s.Name}, true
	}
	return inventory.ObjectRef{}, false
}

// WorkloadsUsing counts the running workloads (uncontrolled Pods and pod templates) that run
// as a ServiceAccount, and whether one of them mounts its token.
func (in *Input) WorkloadsUsing(namespace, name string) (n int, tokenMounted bool) {
	workloads := in.Workloads()
	in.mu.Lock()
	if in.usage == nil {
		in.usage = map[[2]string]saUsage{}
		for _, w := range workloads {
			if w.Controlled {
				continue
			}
			key := [2]string{w.Ref.Namespace, w.ServiceAccountName()}
			u := in.usage[key]
			u.workloads++
			mounted := true
			if w.Spec.AutomountServiceAccountToken != nil {
				mounted = *w.Spec.AutomountServiceAccountToken
			} else if sa := in.Snapshot.ServiceAccount(key[0], key[1]); sa != nil && sa.AutomountServiceAccountToken != nil {
				mounted = *sa.AutomountServiceAccountToken
			}
			u.mounted = u.mounted || mounted
			in.usage[key] = u
		}
	}
	u := in.usage[[2]string{namespace, name}]
	in.mu.Unlock()
	return u.workloads, u.mounted
}

type saUsage struct {
	workloads int
	mounted   bool
}
