package rbac

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Allowed is one subject allowed a request, through one binding and rule.
type Allowed struct {
	// Subject is as written in the binding (a ServiceAccount's namespace filled in).
	Subject rbacv1.Subject
	Grant   Grant
	// Namespace is where the grant applies ("" = every namespace).
	Namespace string
}

// Expanded is a ServiceAccount covered by a group subject of a WhoCan answer.
type Expanded struct {
	Namespace, Name string
	// Via is the group that covers it.
	Via string
}

// WhoCanResult answers who may make a request.
type WhoCanResult struct {
	Request Request
	// Subjects holds every binding subject allowed, in binding order. system:masters is
	// always allowed and not listed.
	Subjects []Allowed
	// ServiceAccounts are the existing ServiceAccounts allowed only through a group
	// (system:serviceaccounts, system:serviceaccounts:NS, system:authenticated).
	ServiceAccounts []Expanded
}

// WhoCan lists every subject allowed a request. With anyNamespace, a namespaced request
// without a namespace asks "in at least one namespace" and every namespace's RoleBindings
// count; otherwise it asks about the request's namespace (or cluster scope when empty).
func (ix *Index) WhoCan(r Request, anyNamespace bool, sas []inventory.ObjectRef) *WhoCanResult {
	res := &WhoCanResult{Request: r}
	if !r.IsResource() {
		r.Namespace = ""
		anyNamespace = false
	}
	// Many bindings share one role (admin, edit, view...): which rule of a role allows the
	// request is decided once per role (keyed by its rules' backing array).
	firstAllowing := map[*rbacv1.PolicyRule]int{}
	allowing := func(rules []rbacv1.PolicyRule) int {
		if len(rules) == 0 {
			return -1
		}
		if i, ok := firstAllowing[&rules[0]]; ok {
			return i
		}
		i := slices.IndexFunc(rules, func(rule rbacv1.PolicyRule) bool { return RuleAllows(&rule, r) })
		firstAllowing[&rules[0]] = i
		return i
	}
	visit := func(b *Binding) {
		if i := allowing(b.Rules); i >= 0 {
			for j := range b.Subjects {
				s := b.Subjects[j]
				if s.Kind == rbacv1.ServiceAccountKind {
					if s.Namespace == "" {
						if b.ClusterWide() {
							continue // names nobody
						}
						s.Namespace = b.Namespace
					}
				}
				res.Subjects = append(res.Subjects, Allowed{Subject: s, Grant: Grant{Binding: b, Subject: &b.Subjects[j], RuleIndex: i}, Namespace: b.Namespace})
			}
		}
	}
	for _, b := range ix.clusterBindings {
		visit(b)
	}
	switch {
	case r.IsResource() && r.Namespace != "":
		for _, b := range ix.nsBindings[r.Namespace] {
			visit(b)
		}
	case anyNamespace && r.IsResource() && Namespaced(r.APIGroup, r.Resource):
		for _, ns := range slices.Sorted(maps.Keys(ix.nsBindings)) {
			for _, b := range ix.nsBindings[ns] {
				visit(b)
			}
		}
	}
	res.ServiceAccounts = expandGroups(res.Subjects, sas)
	return res
}

// expandGroups lists the ServiceAccounts that the allowed groups cover and that are not
// allowed by name, each once, by namespace and name.
func expandGroups(allowed []Allowed, sas []inventory.ObjectRef) []Expanded {
	all, authenticated := false, false
	namespaces := map[string]bool{} // system:serviceaccounts:<ns> allowed
	byName := map[[2]string]bool{}
	for _, a := range allowed {
		switch a.Subject.Kind {
		case rbacv1.ServiceAccountKind:
			byName[[2]string{a.Subject.Namespace, a.Subject.Name}] = true
		case rbacv1.UserKind:
			if ns, name, ok := SplitServiceAccountUsername(a.Subject.Name); ok {
				byName[[2]string{ns, name}] = true
			}
		case rbacv1.GroupKind:
			switch g := a.Subject.Name; {
			case g == GroupServiceAccounts:
				all = true
			case g == GroupAuthenticated:
				authenticated = true
			case strings.HasPrefix(g, serviceAccountsPrefix):
				namespaces[strings.TrimPrefix(g, serviceAccountsPrefix)] = true
			}
		}
	}
	if !all && !authenticated && len(namespaces) == 0 {
		return nil
	}
	var out []Expanded
	for _, sa := range sas {
		if byName[[2]string{sa.Namespace, sa.Name}] {
			continue
		}
		via := ""
		switch {
		case namespaces[sa.Namespace]:
			via = serviceAccountsPrefix + sa.Namespace
		case all:
			via = GroupServiceAccounts
		case authenticated:
			via = GroupAuthenticated
		default:
			continue
		}
		out = append(out, Expanded{Namespace: sa.Namespace, Name: sa.Name, Via: via})
	}
	slices.SortFunc(out, func(a, b Expanded) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}
