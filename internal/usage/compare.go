package usage

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Comparison is used vs granted for every identity of the logs, and the ServiceAccounts of
// the cluster the logs never show. Its JSON is the output of `kwid usage -o json`.
type Comparison struct {
	Files    []string  `json:"files"`
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
	Stats    Stats     `json:"stats"`
	Problems []Problem `json:"problems,omitempty"`
	// Identities are the users seen in the logs, by name.
	Identities []IdentityUsage `json:"identities"`
	// UnusedServiceAccounts exist in the cluster but made no request in the window.
	UnusedServiceAccounts []UnusedServiceAccount `json:"unusedServiceAccounts"`
}

// IdentityUsage is one identity's used and granted-but-unused permissions.
type IdentityUsage struct {
	User           rbac.User            `json:"user"`
	ServiceAccount *inventory.ObjectRef `json:"serviceAccount,omitempty"`
	Events         int                  `json:"events"`
	Allowed        int                  `json:"allowed"`
	Forbidden      int                  `json:"forbidden"`
	Failed         int                  `json:"failed"`
	LastSeen       string               `json:"lastSeen,omitempty"`
	// UsedRules are the permissions used, compacted, per namespace ("" = cluster-wide).
	UsedRules []ScopedRules `json:"usedRules"`
	Used      []*Use        `json:"used"`
	Attempted []*Use        `json:"attempted"`
	// Unused are granted rules no used request matched.
	Unused []UnusedRule `json:"unused"`
	// UnusedBindings grant to the identity and were never named as the allowing binding.
	UnusedBindings    []string       `json:"unusedBindings"`
	Bindings          map[string]int `json:"bindings,omitempty"`
	Pods              map[string]int `json:"pods,omitempty"`
	OffPod            int            `json:"offPod,omitempty"`
	LegacyToken       int            `json:"legacyToken,omitempty"`
	LegacyTokenDetail string         `json:"legacyTokenDetail,omitempty"`
	StaleToken        int            `json:"staleToken,omitempty"`
	// Assessed is false when the identity's grants are unknown (no RBAC input).
	Assessed bool `json:"assessed"`

	identity *Identity
}

// Identity returns the aggregated activity behind the usage.
func (u *IdentityUsage) Identity() *Identity { return u.identity }

// ScopedRules are rules in one namespace ("" = cluster-wide).
type ScopedRules struct {
	Namespace string              `json:"namespace,omitempty"`
	Rules     []rbacv1.PolicyRule `json:"rules"`
}

// UnusedRule is a granted rule no used request matched, or the parts of a used rule that
// were never used (UnusedVerbs).
type UnusedRule struct {
	Binding   string            `json:"binding"`
	Role      string            `json:"role"`
	Namespace string            `json:"namespace,omitempty"`
	Rule      rbacv1.PolicyRule `json:"rule"`
	// Partly: the rule was used, but not these verb/resource pairs.
	Partly      bool     `json:"partly,omitempty"`
	UnusedParts []string `json:"unusedParts,omitempty"`
}

// UnusedServiceAccount is a ServiceAccount with no request in the window.
type UnusedServiceAccount struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Bindings  []string `json:"bindings,omitempty"`
}

// implicitGroups hold rights every user or every ServiceAccount holds; their grants are not
// any one identity's to drop.
var implicitGroups = map[string]bool{
	rbac.GroupAuthenticated: true, rbac.GroupUnauthenticated: true, rbac.GroupServiceAccounts: true,
}

// Compare sets what each identity used against what RBAC grants it. ix and s may be nil
// (then only usage is reported).
func Compare(rep *Report, ix *rbac.Index, s *inventory.Snapshot) *Comparison {
	c := &Comparison{Files: rep.Files, From: rep.From, To: rep.To, Stats: rep.Stats, Problems: rep.Problems,
		Identities: []IdentityUsage{}, UnusedServiceAccounts: []UnusedServiceAccount{}}
	for _, id := range rep.SortedIdentities() {
		iu := IdentityUsage{
			User: id.User, Events: id.Events, Allowed: id.Allowed, Forbidden: id.Forbidden, Failed: id.Failed,
			LastSeen: id.LastSeen, Used: id.Used(), Attempted: id.Attempted(), Bindings: id.Bindings,
			Pods: id.Pods, OffPod: id.OffPod, LegacyToken: id.LegacyToken, LegacyTokenDetail: id.LegacyTokenDetail,
			StaleToken: id.StaleToken, Unused: []UnusedRule{}, UnusedBindings: []string{}, identity: id,
		}
		if id.ServiceAccount != nil {
			iu.ServiceAccount = &inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: id.ServiceAccount[0], Name: id.ServiceAccount[1]}
		}
		iu.UsedRules = UsedRules(iu.Used)
		if ix != nil {
			iu.Assessed = true
			iu.Unused, iu.UnusedBindings = unused(ix, id, iu.Used)
		}
		c.Identities = append(c.Identities, iu)
	}
	if s != nil && ix != nil {
		for i := range s.ServiceAccounts {
			sa := &s.ServiceAccounts[i]
			u := rbac.ServiceAccountUser(sa.Namespace, sa.Name)
			if _, seen := rep.Identities[u.Name]; seen {
				continue
			}
			c.UnusedServiceAccounts = append(c.UnusedServiceAccounts, UnusedServiceAccount{
				Namespace: sa.Namespace, Name: sa.Name, Bindings: bindingNames(directGrants(ix, u)),
			})
		}
		slices.SortFunc(c.UnusedServiceAccounts, func(a, b UnusedServiceAccount) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
	}
	return c
}

// directGrants are the grants of u that are its own: through bindings naming it or a group
// other than the implicit ones.
func directGrants(ix *rbac.Index, u rbac.User) []rbac.Grant {
	var out []rbac.Grant
	for _, g := range ix.GrantsFor(u) {
		if g.Subject.Kind == rbacv1.GroupKind && implicitGroups[g.Subject.Name] {
			continue
		}
		out = append(out, g)
	}
	return out
}

func bindingName(b *rbac.Binding) string {
	return Binding{Kind: b.Kind, Namespace: b.Namespace, Name: b.Name}.String()
}

func bindingNames(gs []rbac.Grant) []string {
	var out []string
	for _, g := range gs {
		n := bindingName(g.Binding)
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return slices.Compact(out)
}

// inScope reports whether a grant of binding b applies to request r.
func inScope(b *rbac.Binding, r rbac.Request) bool {
	if b.ClusterWide() {
		return true
	}
	return r.IsResource() && r.Namespace == b.Namespace
}

// matches reports whether any used request matches rule in b's scope. A use with more
// names than kept may have matched any resourceNames.
func matches(rule *rbacv1.PolicyRule, b *rbac.Binding, used []*Use) bool {
	for _, u := range used {
		if !inScope(b, u.Request) {
			continue
		}
		if u.ManyNames && len(rule.ResourceNames) > 0 {
			loose := *rule
			loose.ResourceNames = nil
			if rbac.RuleAllows(&loose, u.Request) {
				return true
			}
		}
		for _, r := range u.Requests() {
			if rbac.RuleAllows(rule, r) {
				return true
			}
		}
	}
	return false
}

func unused(ix *rbac.Index, id *Identity, used []*Use) ([]UnusedRule, []string) {
	rules := []UnusedRule{}
	bindings := []string{}
	for _, g := range directGrants(ix, id.User) {
		rule := g.Rule()
		ur := UnusedRule{Binding: bindingName(g.Binding), Role: g.Binding.RoleRef.Kind + " " + g.Binding.RoleRef.Name, Namespace: g.Binding.Namespace, Rule: *rule}
		if !matches(rule, g.Binding, used) {
			rules = append(rules, ur)
			continue
		}
		// Used: which verb x resource parts were not (only for rules without wildcards).
		if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") || slices.Contains(rule.APIGroups, "*") || len(rule.NonResourceURLs) > 0 {
			continue
		}
		for _, grp := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, verb := range rule.Verbs {
					part := rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{grp}, Resources: []string{res}, ResourceNames: rule.ResourceNames}
					if !matches(&part, g.Binding, used) {
						ur.UnusedParts = append(ur.UnusedParts, describePart(verb, grp, res))
					}
				}
			}
		}
		if len(ur.UnusedParts) > 0 {
			ur.Partly = true
			rules = append(rules, ur)
		}
	}
	for _, g := range directGrants(ix, id.User) {
		n := bindingName(g.Binding)
		if id.Bindings[n] == 0 && !slices.Contains(bindings, n) {
			bindings = append(bindings, n)
		}
	}
	return rules, bindings
}

func describePart(verb, group, resource string) string {
	if group != "" {
		res, sub, ok := strings.Cut(resource, "/")
		if ok {
			return fmt.Sprintf("%s %s.%s/%s", verb, res, group, sub)
		}
		return fmt.Sprintf("%s %s.%s", verb, resource, group)
	}
	return verb + " " + resource
}

// UsedRules compacts the used permissions (not those every user has by default) into rules
// per namespace; "" holds cluster-scoped resources, non-resource URLs and requests across
// all namespaces.
func UsedRules(used []*Use) []ScopedRules {
	byNS := map[string][]rbacv1.PolicyRule{}
	for _, u := range used {
		if u.ByDefault {
			continue
		}
		r := u.Request
		var rule rbacv1.PolicyRule
		if !r.IsResource() {
			rule = rbacv1.PolicyRule{Verbs: []string{r.Verb}, NonResourceURLs: []string{r.Path}}
		} else {
			res := r.Resource
			if r.Subresource != "" {
				res += "/" + r.Subresource
			}
			rule = rbacv1.PolicyRule{Verbs: []string{r.Verb}, APIGroups: []string{r.APIGroup}, Resources: []string{res}}
		}
		ns := r.Namespace
		byNS[ns] = append(byNS[ns], rule)
	}
	out := []ScopedRules{}
	for ns, rules := range byNS {
		out = append(out, ScopedRules{Namespace: ns, Rules: rbac.Compact(rules)})
	}
	slices.SortFunc(out, func(a, b ScopedRules) int { return cmp.Compare(a.Namespace, b.Namespace) })
	return out
}
