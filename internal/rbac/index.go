package rbac

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kwid-dev/kwid/internal/inventory"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Binding is a RoleBinding or ClusterRoleBinding with its role resolved.
type Binding struct {
	Kind      string // "RoleBinding" or "ClusterRoleBinding"
	Namespace string // "" for ClusterRoleBindings
	Name      string
	RoleRef   rbacv1.RoleRef
	Subjects  []rbacv1.Subject
	// Rules are the referenced role's rules; nil when the role does not exist.
	Rules []rbacv1.PolicyRule
	// RoleMissing is true when the roleRef names no existing role: the binding grants
	// nothing today, and whoever creates that role later inherits the subjects.
	RoleMissing bool
	// RoleAggregated is true when the role's rules were computed offline from its
	// aggregationRule (the input showed them empty).
	RoleAggregated bool

	seq int // visiting order: ClusterRoleBindings, then RoleBindings, each by name
}

// ClusterWide reports whether the binding's rules apply in every namespace.
func (b *Binding) ClusterWide() bool { return b.Kind == "ClusterRoleBinding" }

// Ref names the binding.
func (b *Binding) Ref() inventory.ObjectRef {
	return inventory.ObjectRef{Kind: inventory.Kind(b.Kind), Namespace: b.Namespace, Name: b.Name}
}

// describe names the binding, role and subject like the API server's RBAC reason.
func (b *Binding) describe(s *rbacv1.Subject) string {
	// Concatenation, not fmt: every finding about RBAC explains its grants with this.
	if b.ClusterWide() {
		return "ClusterRoleBinding " + strconv.Quote(b.Name) + " of " + b.RoleRef.Kind + " " + strconv.Quote(b.RoleRef.Name) + " to " + describeSubject(s, "")
	}
	return "RoleBinding " + strconv.Quote(b.Name+"/"+b.Namespace) + " of " + b.RoleRef.Kind + " " + strconv.Quote(b.RoleRef.Name) + " to " + describeSubject(s, b.Namespace)
}

// Grant is one rule held by a subject through one binding.
type Grant struct {
	Binding *Binding
	// Subject is the binding subject that names the user (the first one, as the API
	// server reports it).
	Subject   *rbacv1.Subject
	RuleIndex int
}

// Rule is the granted rule.
func (g Grant) Rule() *rbacv1.PolicyRule { return &g.Binding.Rules[g.RuleIndex] }

// Namespace is where the rule applies: "" for everywhere (a ClusterRoleBinding).
func (g Grant) Namespace() string { return g.Binding.Namespace }

// Reason is the API server's RBAC reason for a request this grant allows.
func (g Grant) Reason() string { return "RBAC: allowed by " + g.Binding.describe(g.Subject) }

// Decision is an authorization answer and why.
type Decision struct {
	Allowed bool
	Reason  string
	// Grant is what allowed the request (nil when denied or allowed by system:masters).
	Grant *Grant
}

// Index answers RBAC questions about one Snapshot. Build it once with NewIndex; it is
// read-only afterwards and safe for concurrent use.
type Index struct {
	clusterBindings []*Binding // sorted by name
	nsBindings      map[string][]*Binding
	byUser          map[string][]*Binding // User subjects, and ServiceAccount subjects by username
	byGroup         map[string][]*Binding
	count           int
	all             []*Binding // every binding, in Bindings' order
	aggregated      map[string]bool
	clusterRoles    map[string][]rbacv1.PolicyRule
	roles           map[[2]string][]rbacv1.PolicyRule
}

// NewIndex compiles every binding of the Snapshot.
func NewIndex(s *inventory.Snapshot) *Index {
	ix := &Index{
		nsBindings:   map[string][]*Binding{},
		byUser:       map[string][]*Binding{},
		byGroup:      map[string][]*Binding{},
		clusterRoles: map[string][]rbacv1.PolicyRule{},
		roles:        map[[2]string][]rbacv1.PolicyRule{},
	}
	ix.clusterRoles, ix.aggregated = AggregateClusterRoles(s.ClusterRoles)
	for i := range s.Roles {
		r := &s.Roles[i]
		ix.roles[[2]string{r.Namespace, r.Name}] = r.Rules
	}
	// Snapshot slices are sorted by namespace and name: cluster bindings first, then
	// namespaced ones, each by name, which is the order the index visits them in.
	for i := range s.ClusterRoleBindings {
		crb := &s.ClusterRoleBindings[i]
		b := &Binding{Kind: "ClusterRoleBinding", Name: crb.Name, RoleRef: crb.RoleRef, Subjects: crb.Subjects}
		ix.resolve(b)
		ix.clusterBindings = append(ix.clusterBindings, b)
		ix.add(b)
	}
	for i := range s.RoleBindings {
		rb := &s.RoleBindings[i]
		b := &Binding{Kind: "RoleBinding", Namespace: rb.Namespace, Name: rb.Name, RoleRef: rb.RoleRef, Subjects: rb.Subjects}
		ix.resolve(b)
		ix.nsBindings[b.Namespace] = append(ix.nsBindings[b.Namespace], b)
		ix.add(b)
	}
	ix.all = make([]*Binding, 0, ix.count)
	ix.all = append(ix.all, ix.clusterBindings...)
	for _, ns := range slices.Sorted(maps.Keys(ix.nsBindings)) {
		ix.all = append(ix.all, ix.nsBindings[ns]...)
	}
	return ix
}

func (ix *Index) resolve(b *Binding) {
	var rules []rbacv1.PolicyRule
	var ok bool
	switch {
	case b.RoleRef.Kind == "ClusterRole":
		rules, ok = ix.clusterRoles[b.RoleRef.Name]
		b.RoleAggregated = ix.aggregated[b.RoleRef.Name]
	case b.RoleRef.Kind == "Role" && !b.ClusterWide():
		rules, ok = ix.roles[[2]string{b.Namespace, b.RoleRef.Name}]
	}
	b.Rules, b.RoleMissing = rules, !ok
}

func (ix *Index) add(b *Binding) {
	b.seq = ix.count
	ix.count++
	seenUser, seenGroup := map[string]bool{}, map[string]bool{}
	for i := range b.Subjects {
		s := &b.Subjects[i]
		switch s.Kind {
		case rbacv1.UserKind:
			if !seenUser[s.Name] {
				seenUser[s.Name] = true
				ix.byUser[s.Name] = append(ix.byUser[s.Name], b)
			}
		case rbacv1.GroupKind:
			if !seenGroup[s.Name] {
				seenGroup[s.Name] = true
				ix.byGroup[s.Name] = append(ix.byGroup[s.Name], b)
			}
		case rbacv1.ServiceAccountKind:
			ns := cmp.Or(s.Namespace, b.Namespace)
			if ns == "" {
				continue // a ServiceAccount subject without namespace in a ClusterRoleBinding names nobody
			}
			u := ServiceAccountUsername(ns, s.Name)
			if !seenUser[u] {
				seenUser[u] = true
				ix.byUser[u] = append(ix.byUser[u], b)
			}
		}
	}
}

// Aggregated reports whether a ClusterRole's rules were computed from its aggregationRule.
func (ix *Index) Aggregated(clusterRole string) bool { return ix.aggregated[clusterRole] }

// ClusterRoleRules returns a ClusterRole's effective rules (aggregation applied).
func (ix *Index) ClusterRoleRules(name string) ([]rbacv1.PolicyRule, bool) {
	r, ok := ix.clusterRoles[name]
	return r, ok
}

// Bindings returns every binding: ClusterRoleBindings first, then RoleBindings by namespace
// (the index's own list: read-only).
func (ix *Index) Bindings() []*Binding { return ix.all }

// bindingsFor returns the bindings that name the user or one of its groups, in the order
// the index visits them (ClusterRoleBindings, then RoleBindings, each by name).
func (ix *Index) bindingsFor(u User) []*Binding {
	var out []*Binding
	if u.Name != "" {
		out = append(out, ix.byUser[u.Name]...)
	}
	for _, g := range u.Groups {
		out = append(out, ix.byGroup[g]...)
	}
	slices.SortFunc(out, func(a, b *Binding) int { return cmp.Compare(a.seq, b.seq) })
	return slices.Compact(out)
}

// GrantsForUserName returns the grants of bindings that name a user (or ServiceAccount)
// by name, ignoring its groups.
func (ix *Index) GrantsForUserName(name string) []Grant {
	return ix.grantsOf(User{Name: name}, ix.byUser[name])
}

// GrantsForGroup returns the grants of bindings that name a group.
func (ix *Index) GrantsForGroup(group string) []Grant {
	return ix.grantsOf(User{Groups: []string{group}}, ix.byGroup[group])
}

func (ix *Index) grantsOf(u User, bindings []*Binding) []Grant {
	n := 0
	for _, b := range bindings {
		n += len(b.Rules)
	}
	out := make([]Grant, 0, n) // an upper bound: grants are many, and this runs per subject
	for _, b := range bindings {
		s := firstSubject(b, u)
		if s == nil {
			continue
		}
		for i := range b.Rules {
			out = append(out, Grant{Binding: b, Subject: s, RuleIndex: i})
		}
	}
	return out
}

// firstSubject returns the first subject of b that names the user.
func firstSubject(b *Binding, u User) *rbacv1.Subject {
	for i := range b.Subjects {
		if appliesTo(u, &b.Subjects[i], b.Namespace) {
			return &b.Subjects[i]
		}
	}
	return nil
}

// Authorize decides a request for a user as the API server's RBAC authorizer (behind the
// system:masters short-circuit) does.
func (ix *Index) Authorize(u User, r Request) Decision {
	if u.InGroup(GroupMasters) {
		return Decision{Allowed: true, Reason: "allowed: group system:masters bypasses RBAC"}
	}
	if !r.IsResource() {
		r.Namespace = "" // non-resource requests are never namespaced
	}
	for _, b := range ix.bindingsFor(u) {
		if !b.ClusterWide() && (r.Namespace == "" || b.Namespace != r.Namespace) {
			continue
		}
		s := firstSubject(b, u)
		if s == nil {
			continue
		}
		for i := range b.Rules {
			if RuleAllows(&b.Rules[i], r) {
				g := Grant{Binding: b, Subject: s, RuleIndex: i}
				return Decision{Allowed: true, Reason: g.Reason(), Grant: &g}
			}
		}
	}
	return Decision{Reason: fmt.Sprintf("denied: no RBAC binding of %s allows %q", u, r)}
}

// GrantsFor returns every rule the user holds, through which binding and in which scope.
func (ix *Index) GrantsFor(u User) []Grant {
	var out []Grant
	if u.InGroup(GroupMasters) {
		return nil
	}
	for _, b := range ix.bindingsFor(u) {
		s := firstSubject(b, u)
		if s == nil {
			continue
		}
		for i := range b.Rules {
			out = append(out, Grant{Binding: b, Subject: s, RuleIndex: i})
		}
	}
	return out
}

// AggregateClusterRoles returns every ClusterRole's effective rules. A ClusterRole with an
// aggregationRule and no rules gets what the clusterrole-aggregation controller would give
// it: the rules of every other ClusterRole whose labels match one of its selectors, in
// selector order and then by role name, without duplicates, chains followed to a fixed
// point. The second result names the roles so computed. Roles with rules are taken as given.
func AggregateClusterRoles(crs []rbacv1.ClusterRole) (map[string][]rbacv1.PolicyRule, map[string]bool) {
	rules := make(map[string][]rbacv1.PolicyRule, len(crs))
	computed := map[string]bool{}
	byName := crs // read only; a Snapshot's are sorted by name already
	order := func(a, b rbacv1.ClusterRole) int { return cmp.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(byName, order) {
		byName = slices.Clone(crs)
		slices.SortFunc(byName, order)
	}
	var todo []*rbacv1.ClusterRole
	for i := range byName {
		cr := &byName[i]
		rules[cr.Name] = cr.Rules
		if cr.AggregationRule != nil && len(cr.Rules) == 0 {
			todo = append(todo, cr)
			computed[cr.Name] = true
		}
	}
	for range len(todo) + 1 {
		changed := false
		for _, cr := range todo {
			var union []rbacv1.PolicyRule
			for _, sel := range cr.AggregationRule.ClusterRoleSelectors {
				selector, err := metav1.LabelSelectorAsSelector(&sel)
				if err != nil {
					continue // the API server rejects such a selector; nothing matches
				}
				for j := range byName {
					other := &byName[j]
					if other.Name == cr.Name || !selector.Matches(labels.Set(other.Labels)) {
						continue
					}
					for _, rule := range rules[other.Name] {
						if !slices.ContainsFunc(union, func(r rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(r, rule) }) {
							union = append(union, rule)
						}
					}
				}
			}
			if !equality.Semantic.DeepEqual(union, rules[cr.Name]) {
				rules[cr.Name] = union
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	return rules, computed
}
