package drift

import (
	"cmp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

// objectKey names a role or binding: kind, namespace ("" when cluster-scoped), name.
type objectKey struct{ kind, namespace, name string }

func (k objectKey) ref() inventory.ObjectRef {
	return inventory.ObjectRef{Kind: inventory.Kind(k.kind), Namespace: k.namespace, Name: k.name}
}

func compareKeys(a, b objectKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
}

// comparison finds the RBAC objects that changed and the identities they touch.
type comparison struct {
	old, new     *inventory.Snapshot
	ixOld, ixNew *rbac.Index
	affected     map[Identity]bool
}

func newComparison(old, new *inventory.Snapshot, ixOld, ixNew *rbac.Index) *comparison {
	return &comparison{old: old, new: new, ixOld: ixOld, ixNew: ixNew, affected: map[Identity]bool{}}
}

// roleRules returns every role's effective rules (ClusterRoles with aggregation applied).
func roleRules(s *inventory.Snapshot, ix *rbac.Index) map[objectKey][]rbacv1.PolicyRule {
	out := make(map[objectKey][]rbacv1.PolicyRule, len(s.Roles)+len(s.ClusterRoles))
	for i := range s.Roles {
		r := &s.Roles[i]
		out[objectKey{"Role", r.Namespace, r.Name}] = r.Rules
	}
	for i := range s.ClusterRoles {
		name := s.ClusterRoles[i].Name
		rules, _ := ix.ClusterRoleRules(name)
		out[objectKey{"ClusterRole", "", name}] = rules
	}
	return out
}

// roleOf is the key of the role a binding references (ok false for a RoleBinding-only
// reference from a ClusterRoleBinding, which grants nothing).
func roleOf(b *rbac.Binding) (objectKey, bool) {
	switch {
	case b.RoleRef.Kind == "ClusterRole":
		return objectKey{"ClusterRole", "", b.RoleRef.Name}, true
	case b.RoleRef.Kind == "Role" && !b.ClusterWide():
		return objectKey{"Role", b.Namespace, b.RoleRef.Name}, true
	}
	return objectKey{}, false
}

func bindingKeyOf(b *rbac.Binding) objectKey { return objectKey{b.Kind, b.Namespace, b.Name} }

// objects compares roles and bindings, and records the identities whose grants may have
// changed: subjects added to or removed from a binding, every subject of a binding added,
// removed or pointed at another role, and every subject of a binding whose role changed.
func (c *comparison) objects() []ObjectChange {
	out := []ObjectChange{}

	oldRoles, newRoles := roleRules(c.old, c.ixOld), roleRules(c.new, c.ixNew)
	changedRoles := map[objectKey]bool{}
	for _, k := range unionKeys(oldRoles, newRoles) {
		o, inOld := oldRoles[k]
		n, inNew := newRoles[k]
		ch := ObjectChange{Object: k.ref()}
		switch {
		case !inOld:
			ch.Change, ch.RulesAdded = Added, rulesOf(atomsOf(n, false))
		case !inNew:
			ch.Change, ch.RulesRemoved = Removed, rulesOf(atomsOf(o, false))
		case sameRules(o, n, false):
			continue
		default:
			gained, lost := atomDiff(o, n, false)
			ch.Change, ch.RulesAdded, ch.RulesRemoved = Changed, rulesOf(gained), rulesOf(lost)
		}
		changedRoles[k] = true
		out = append(out, ch)
	}

	oldBindings := map[objectKey]*rbac.Binding{}
	for _, b := range c.ixOld.Bindings() {
		oldBindings[bindingKeyOf(b)] = b
	}
	seen := map[objectKey]bool{}
	for _, nb := range c.ixNew.Bindings() {
		k := bindingKeyOf(nb)
		seen[k] = true
		if rk, ok := roleOf(nb); ok && changedRoles[rk] {
			c.touchAll(nb)
		}
		ob := oldBindings[k]
		if ob == nil {
			c.touchAll(nb)
			out = append(out, ObjectChange{Object: k.ref(), Change: Added, RoleRef: roleRef(nb.RoleRef), SubjectsAdded: slices.Clone(nb.Subjects)})
			continue
		}
		added, removed := subjectDiff(ob, nb)
		refChanged := ob.RoleRef != nb.RoleRef
		if !refChanged && len(added) == 0 && len(removed) == 0 {
			continue
		}
		ch := ObjectChange{Object: k.ref(), Change: Changed, RoleRef: roleRef(nb.RoleRef), SubjectsAdded: added, SubjectsRemoved: removed}
		if refChanged {
			ch.OldRoleRef = roleRef(ob.RoleRef)
			c.touchAll(ob)
			c.touchAll(nb)
		} else {
			c.touch(added, nb.Namespace)
			c.touch(removed, ob.Namespace)
		}
		out = append(out, ch)
	}
	for k, ob := range oldBindings {
		if rk, ok := roleOf(ob); ok && changedRoles[rk] {
			c.touchAll(ob)
		}
		if seen[k] {
			continue
		}
		c.touchAll(ob)
		out = append(out, ObjectChange{Object: k.ref(), Change: Removed, RoleRef: roleRef(ob.RoleRef), SubjectsRemoved: slices.Clone(ob.Subjects)})
	}
	slices.SortFunc(out, func(a, b ObjectChange) int {
		return compareKeys(objectKey{string(a.Object.Kind), a.Object.Namespace, a.Object.Name}, objectKey{string(b.Object.Kind), b.Object.Namespace, b.Object.Name})
	})
	return out
}

func roleRef(r rbacv1.RoleRef) *rbacv1.RoleRef { return &r }

func unionKeys[V any](a, b map[objectKey]V) []objectKey {
	keys := make([]objectKey, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

// subjectKey identifies a subject regardless of order and of an omitted ServiceAccount
// namespace in a RoleBinding.
func subjectKey(s *rbacv1.Subject, bindingNamespace string) string {
	ns := s.Namespace
	if s.Kind == rbacv1.ServiceAccountKind && ns == "" {
		ns = bindingNamespace
	}
	return s.Kind + "\x00" + ns + "\x00" + s.Name
}

func subjectDiff(old, new *rbac.Binding) (added, removed []rbacv1.Subject) {
	inOld := map[string]bool{}
	for i := range old.Subjects {
		inOld[subjectKey(&old.Subjects[i], old.Namespace)] = true
	}
	inNew := map[string]bool{}
	for i := range new.Subjects {
		k := subjectKey(&new.Subjects[i], new.Namespace)
		inNew[k] = true
		if !inOld[k] {
			added = append(added, new.Subjects[i])
		}
	}
	for i := range old.Subjects {
		if !inNew[subjectKey(&old.Subjects[i], old.Namespace)] {
			removed = append(removed, old.Subjects[i])
		}
	}
	return added, removed
}

func (c *comparison) touchAll(b *rbac.Binding) { c.touch(b.Subjects, b.Namespace) }

func (c *comparison) touch(subjects []rbacv1.Subject, bindingNamespace string) {
	for i := range subjects {
		if id, ok := identityOf(&subjects[i], bindingNamespace); ok {
			c.affected[id] = true
		}
	}
}

// side answers "what does this identity hold" on one side, with the groups' rules
// computed once.
type side struct {
	ix     *rbac.Index
	groups map[string]scopeRules
}

func (s *side) group(g string) scopeRules {
	if r, ok := s.groups[g]; ok {
		return r
	}
	r := scopesOf(s.ix.Access(rbac.User{Groups: []string{g}}, ""))
	s.groups[g] = r
	return r
}

// own is what the bindings naming the identity itself grant.
func (s *side) own(id Identity) scopeRules {
	switch id.Kind {
	case kindServiceAccount:
		return scopesOf(s.ix.Access(rbac.User{Name: rbac.ServiceAccountUsername(id.Namespace, id.Name)}, ""))
	case rbacv1.UserKind:
		return scopesOf(s.ix.Access(rbac.User{Name: id.Name}, ""))
	}
	return s.group(id.Name)
}

// groupsOf are the groups the API server puts the identity in, as far as the cluster
// knows: a ServiceAccount's three, system:authenticated for users (system:unauthenticated
// for anonymous).
func groupsOf(id Identity) []string {
	switch id.Kind {
	case kindServiceAccount:
		return rbac.ServiceAccountUser(id.Namespace, id.Name).Groups
	case rbacv1.UserKind:
		if id.Name == rbac.UserAnonymous {
			return []string{rbac.GroupUnauthenticated}
		}
		return []string{rbac.GroupAuthenticated}
	}
	return nil
}

func (s *side) shared(id Identity) []scopeRules {
	var out []scopeRules
	for _, g := range groupsOf(id) {
		out = append(out, s.groups[g])
	}
	return out
}

// identities computes the effective permission changes of the affected identities (call
// objects first).
func (c *comparison) identities() []IdentityChange {
	ids := make([]Identity, 0, len(c.affected))
	for id := range c.affected {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b Identity) int {
		return cmp.Or(kindOrder(a.Kind)-kindOrder(b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	sides := [2]*side{{ix: c.ixOld, groups: map[string]scopeRules{}}, {ix: c.ixNew, groups: map[string]scopeRules{}}}
	// Groups' rules first, so that the workers below only read them.
	for _, id := range ids {
		if id.Kind == rbacv1.GroupKind {
			sides[0].group(id.Name)
			sides[1].group(id.Name)
		}
		for _, g := range groupsOf(id) {
			sides[0].group(g)
			sides[1].group(g)
		}
	}
	results := make([]*IdentityChange, len(ids))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				id := ids[i]
				ownOld, ownNew := sides[0].own(id), sides[1].own(id)
				gained := scopeDiff(ownNew, append([]scopeRules{ownOld}, sides[0].shared(id)...)...)
				lost := scopeDiff(ownOld, append([]scopeRules{ownNew}, sides[1].shared(id)...)...)
				if len(gained) == 0 && len(lost) == 0 {
					continue
				}
				results[i] = &IdentityChange{Identity: id, Gained: nonNil(gained), Lost: nonNil(lost)}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	out := []IdentityChange{}
	var perNamespace map[string]int
	for _, r := range results {
		if r == nil {
			continue
		}
		if r.Kind == rbacv1.GroupKind {
			switch {
			case r.Name == rbac.GroupServiceAccounts || r.Name == rbac.GroupAuthenticated:
				r.ServiceAccounts = len(c.new.ServiceAccounts)
			case strings.HasPrefix(r.Name, rbac.GroupServiceAccounts+":"):
				if perNamespace == nil {
					perNamespace = map[string]int{}
					for i := range c.new.ServiceAccounts {
						perNamespace[c.new.ServiceAccounts[i].Namespace]++
					}
				}
				r.ServiceAccounts = perNamespace[strings.TrimPrefix(r.Name, rbac.GroupServiceAccounts+":")]
			}
		}
		out = append(out, *r)
	}
	return out
}

func kindOrder(kind string) int {
	switch kind {
	case kindServiceAccount:
		return 0
	case rbacv1.UserKind:
		return 1
	}
	return 2
}

func nonNil(s []Scope) []Scope {
	if s == nil {
		return []Scope{}
	}
	return s
}
