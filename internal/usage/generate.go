package usage

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

// GeneratedRole is a least-privilege Role (Namespace set) or ClusterRole for one identity,
// with the binding that grants it, and for each rule what it was derived from.
type GeneratedRole struct {
	User      rbac.User
	Namespace string // "" for a ClusterRole and ClusterRoleBinding
	Name      string
	Rules     []rbacv1.PolicyRule
	// Why[i] explains Rules[i]: request counts and a sample.
	Why []string
}

// noNameVerbs never carry a name for the authorizer (or are listed here because a rule
// naming objects would not allow their unnamed form).
var noNameVerbs = map[string]bool{"create": true, "list": true, "watch": true, "deletecollection": true}

// perm is one (scope, apiGroup, resource, verb) and the uses it comes from.
type perm struct {
	ns    string
	rule  rbacv1.PolicyRule
	count int
	why   string
}

// Generate derives the least-privilege roles of one identity from its used requests:
// a Role per namespace for namespaced resources, a ClusterRole for cluster-scoped
// resources, non-resource URLs and requests across all namespaces. resourceNames are set
// only for verbs the authorizer names objects for, and only when every use named one of at
// most MaxNames objects. watch implies list (clients list before they watch). Permissions
// every user holds through the default discovery roles are left out.
func Generate(id *Identity) []GeneratedRole {
	var perms []perm
	for _, u := range id.Used() {
		if u.ByDefault {
			continue
		}
		r := u.Request
		res := r.Resource
		if r.Subresource != "" {
			res += "/" + r.Subresource
		}
		p := perm{ns: r.Namespace, count: u.Count, why: fmt.Sprintf("%s: %d request(s), e.g. %s", r.Verb, u.Count, u.Sample)}
		if !r.IsResource() {
			p.ns = ""
			p.rule = rbacv1.PolicyRule{Verbs: []string{r.Verb}, NonResourceURLs: []string{r.Path}}
		} else {
			p.rule = rbacv1.PolicyRule{Verbs: []string{r.Verb}, APIGroups: []string{r.APIGroup}, Resources: []string{res}}
			if !noNameVerbs[r.Verb] && u.Unnamed == 0 && !u.ManyNames && len(u.Names) > 0 {
				p.rule.ResourceNames = slices.Clone(u.Names)
				p.why = fmt.Sprintf("%s on %d named object(s): %d request(s), e.g. %s", r.Verb, len(u.Names), u.Count, u.Sample)
			}
		}
		perms = append(perms, p)
		if r.Verb == "watch" && r.IsResource() && !listed(id, r) {
			l := p
			l.rule = rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: p.rule.APIGroups, Resources: p.rule.Resources}
			l.why = "list: implied by watch (clients list before they watch)"
			l.count = 0
			perms = append(perms, l)
		}
	}
	byNS := map[string][]perm{}
	for _, p := range perms {
		byNS[p.ns] = append(byNS[p.ns], p)
	}
	nss := make([]string, 0, len(byNS))
	for ns := range byNS {
		nss = append(nss, ns)
	}
	slices.Sort(nss)
	var out []GeneratedRole
	for _, ns := range nss {
		ps := byNS[ns]
		var rules []rbacv1.PolicyRule
		for _, p := range ps {
			rules = append(rules, p.rule)
		}
		rules = rbac.Compact(rules)
		g := GeneratedRole{User: id.User, Namespace: ns, Name: roleName(id.User.Name), Rules: rules}
		for i := range rules {
			var whys []string
			for _, p := range ps {
				if covers(&rules[i], &p.rule) {
					whys = append(whys, describeRule(&p.rule)+" <- "+p.why)
				}
			}
			g.Why = append(g.Why, strings.Join(whys, "\n"))
		}
		out = append(out, g)
	}
	return out
}

// listed reports whether the identity listed what it watched (in the same scope).
func listed(id *Identity, watch rbac.Request) bool {
	l := watch
	l.Verb = "list"
	u := id.used[l]
	return u != nil && !u.ByDefault
}

// covers reports whether compacted rule c came from rule p (p's parts all in c).
func covers(c, p *rbacv1.PolicyRule) bool {
	sub := func(a, b []string) bool {
		for _, x := range a {
			if !slices.Contains(b, x) {
				return false
			}
		}
		return true
	}
	return sub(p.Verbs, c.Verbs) && sub(p.APIGroups, c.APIGroups) && sub(p.Resources, c.Resources) &&
		sub(p.NonResourceURLs, c.NonResourceURLs) && slices.Equal(p.ResourceNames, c.ResourceNames)
}

func describeRule(r *rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 {
		return strings.Join(r.Verbs, ",") + " " + strings.Join(r.NonResourceURLs, ",")
	}
	var res []string
	for _, x := range r.Resources {
		name, sub, ok := strings.Cut(x, "/")
		if r.APIGroups[0] != "" {
			name += "." + r.APIGroups[0]
		}
		if ok {
			name += "/" + sub
		}
		res = append(res, name)
	}
	s := strings.Join(r.Verbs, ",") + " " + strings.Join(res, ",")
	if len(r.ResourceNames) > 0 {
		s += " [" + strings.Join(r.ResourceNames, ",") + "]"
	}
	return s
}

// roleName names the generated role after the identity: kwid:NS:SA for a ServiceAccount,
// kwid:user:NAME otherwise (characters a role name cannot hold become "-").
func roleName(username string) string {
	name := "kwid:user:" + username
	if ns, sa, ok := rbac.SplitServiceAccountUsername(username); ok {
		name = "kwid:" + ns + ":" + sa
	}
	name = strings.NewReplacer("/", "-", "%", "-").Replace(name)
	if len(name) > 253 {
		name = name[:253]
	}
	return name
}

// Validate checks what the API server checks on a Role or ClusterRole: every rule has verbs;
// a resource rule has apiGroups and resources and no nonResourceURLs; non-resource URLs only
// in ClusterRoles, without resourceNames.
func (g *GeneratedRole) Validate() error {
	for i, r := range g.Rules {
		switch {
		case len(r.Verbs) == 0:
			return fmt.Errorf("rule %d: no verbs", i)
		case len(r.NonResourceURLs) > 0 && g.Namespace != "":
			return fmt.Errorf("rule %d: nonResourceURLs in a namespaced Role", i)
		case len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.APIGroups) > 0 || len(r.ResourceNames) > 0):
			return fmt.Errorf("rule %d: nonResourceURLs mixed with resources", i)
		case len(r.NonResourceURLs) == 0 && (len(r.Resources) == 0 || len(r.APIGroups) == 0):
			return fmt.Errorf("rule %d: resource rule without apiGroups or resources", i)
		}
		if len(r.ResourceNames) > 0 {
			for _, v := range r.Verbs {
				if noNameVerbs[v] || v == "*" {
					return fmt.Errorf("rule %d: resourceNames with verb %s", i, v)
				}
			}
		}
	}
	if g.Name == "" || g.Name == "." || g.Name == ".." || strings.ContainsAny(g.Name, "/%") {
		return fmt.Errorf("invalid role name %q", g.Name)
	}
	return nil
}

// subject is the binding subject for the identity.
func subject(u rbac.User) rbacv1.Subject {
	if ns, name, ok := rbac.SplitServiceAccountUsername(u.Name); ok {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
	}
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u.Name}
}

// WriteYAML writes roles and their bindings as a multi-document YAML stream for
// `kubectl apply -f -`, each rule preceded by comments saying what it was derived from.
func WriteYAML(w io.Writer, roles []GeneratedRole, header string) error {
	var b strings.Builder
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	list := func(ss []string) string { j, _ := json.Marshal(ss); return string(j) }
	if header != "" {
		for _, l := range strings.Split(header, "\n") {
			b.WriteString("# " + l + "\n")
		}
	}
	for _, g := range roles {
		roleKind, bindingKind := "ClusterRole", "ClusterRoleBinding"
		if g.Namespace != "" {
			roleKind, bindingKind = "Role", "RoleBinding"
		}
		b.WriteString("---\n")
		fmt.Fprintf(&b, "# least privilege for %s", g.User.Name)
		if g.Namespace != "" {
			fmt.Fprintf(&b, " in namespace %s\n", g.Namespace)
		} else {
			b.WriteString(": cluster-scoped resources, non-resource URLs, requests across namespaces\n")
		}
		fmt.Fprintf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: %s\nmetadata:\n  name: %s\n", roleKind, q(g.Name))
		if g.Namespace != "" {
			fmt.Fprintf(&b, "  namespace: %s\n", q(g.Namespace))
		}
		b.WriteString("  labels:\n    app.kubernetes.io/managed-by: kwid\nrules:\n")
		for i, r := range g.Rules {
			for _, l := range strings.Split(g.Why[i], "\n") {
				b.WriteString("# " + strings.ReplaceAll(l, "\r", "") + "\n")
			}
			if len(r.NonResourceURLs) > 0 {
				fmt.Fprintf(&b, "- nonResourceURLs: %s\n  verbs: %s\n", list(r.NonResourceURLs), list(r.Verbs))
				continue
			}
			fmt.Fprintf(&b, "- apiGroups: %s\n  resources: %s\n", list(r.APIGroups), list(r.Resources))
			if len(r.ResourceNames) > 0 {
				fmt.Fprintf(&b, "  resourceNames: %s\n", list(r.ResourceNames))
			}
			fmt.Fprintf(&b, "  verbs: %s\n", list(r.Verbs))
		}
		s := subject(g.User)
		b.WriteString("---\n")
		fmt.Fprintf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: %s\nmetadata:\n  name: %s\n", bindingKind, q(g.Name))
		if g.Namespace != "" {
			fmt.Fprintf(&b, "  namespace: %s\n", q(g.Namespace))
		}
		b.WriteString("  labels:\n    app.kubernetes.io/managed-by: kwid\n")
		fmt.Fprintf(&b, "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: %s\n  name: %s\nsubjects:\n- kind: %s\n  name: %s\n", roleKind, q(g.Name), s.Kind, q(s.Name))
		if s.Namespace != "" {
			fmt.Fprintf(&b, "  namespace: %s\n", q(s.Namespace))
		}
		if s.APIGroup != "" {
			fmt.Fprintf(&b, "  apiGroup: %s\n", q(s.APIGroup))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// SortRoles orders generated roles by user, then cluster scope first, then namespace.
func SortRoles(rs []GeneratedRole) {
	slices.SortStableFunc(rs, func(a, b GeneratedRole) int {
		return cmp.Or(cmp.Compare(a.User.Name, b.User.Name), cmp.Compare(a.Namespace, b.Namespace))
	})
}
