package drift

import (
	"maps"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

// atom is the smallest unit of permission a rule names: one verb on one group/resource
// (optionally one resourceName), or one verb on one non-resource URL. Wildcards are atoms
// of their own: `*` is the atom "every verb", not an expansion into known verbs, so a
// role is only reported as changed when what it names changes.
type atom struct {
	verb, group, resource string
	name                  string
	named                 bool // name is a resourceName restriction ("" may be one)
	url                   string
	nonResource           bool
}

// atomsOf expands rules into atoms. namespaced drops non-resource atoms: a RoleBinding
// never grants non-resource URLs.
func atomsOf(rules []rbacv1.PolicyRule, namespaced bool) []atom {
	var out []atom
	for i := range rules {
		r := &rules[i]
		for _, v := range r.Verbs {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if len(r.ResourceNames) == 0 {
						out = append(out, atom{verb: v, group: g, resource: res})
						continue
					}
					for _, n := range r.ResourceNames {
						out = append(out, atom{verb: v, group: g, resource: res, name: n, named: true})
					}
				}
			}
			if namespaced {
				continue
			}
			for _, u := range r.NonResourceURLs {
				out = append(out, atom{verb: v, url: u, nonResource: true})
			}
		}
	}
	return out
}

// covers reports whether a rule allows everything the atom names, with the API server's
// matching (rbac.RuleAllows) and wildcards taken literally on the atom's side: an atom
// `*` is only covered by a rule that has `*` too.
func covers(r *rbacv1.PolicyRule, a *atom) bool {
	if !rbac.VerbMatches(r, a.verb) {
		return false
	}
	if a.nonResource {
		return rbac.NonResourceURLMatches(r, a.url)
	}
	if !rbac.APIGroupMatches(r, a.group) {
		return false
	}
	res, sub, _ := strings.Cut(a.resource, "/")
	if !rbac.ResourceMatches(r, res, sub) {
		return false
	}
	if len(r.ResourceNames) == 0 {
		return true
	}
	return a.named && slices.Contains(r.ResourceNames, a.name)
}

func coveredBy(a *atom, sets ...[]rbacv1.PolicyRule) bool {
	for _, rules := range sets {
		for i := range rules {
			if covers(&rules[i], a) {
				return true
			}
		}
	}
	return false
}

// rulesOf turns atoms back into compacted rules.
func rulesOf(atoms []atom) []rbacv1.PolicyRule {
	if len(atoms) == 0 {
		return nil
	}
	type key struct {
		verb, group, resource string
		named                 bool
		url                   string
		nonResource           bool
	}
	index := map[key]int{}
	var rules []rbacv1.PolicyRule
	for _, a := range atoms {
		k := key{a.verb, a.group, a.resource, a.named, a.url, a.nonResource}
		if i, ok := index[k]; ok {
			if a.named {
				rules[i].ResourceNames = append(rules[i].ResourceNames, a.name)
			}
			continue
		}
		index[k] = len(rules)
		r := rbacv1.PolicyRule{Verbs: []string{a.verb}}
		if a.nonResource {
			r.NonResourceURLs = []string{a.url}
		} else {
			r.APIGroups, r.Resources = []string{a.group}, []string{a.resource}
			if a.named {
				r.ResourceNames = []string{a.name}
			}
		}
		rules = append(rules, r)
	}
	// Compact merges verbs, then resources; a second pass merges what the first made
	// equal (e.g. the same verbs on two resources with the same names).
	return rbac.Compact(rbac.Compact(rules))
}

// sameRules reports whether two rule lists name the same atoms (a re-compacted or
// reordered role is the same role).
func sameRules(a, b []rbacv1.PolicyRule, namespaced bool) bool {
	if slices.EqualFunc(a, b, ruleEqual) {
		return true
	}
	gained, lost := atomDiff(a, b, namespaced)
	return len(gained) == 0 && len(lost) == 0
}

// atomDiff returns the atoms of b not covered by a (gained) and of a not covered by b (lost).
func atomDiff(a, b []rbacv1.PolicyRule, namespaced bool) (gained, lost []atom) {
	for _, x := range atomsOf(b, namespaced) {
		if !coveredBy(&x, a) {
			gained = append(gained, x)
		}
	}
	for _, x := range atomsOf(a, namespaced) {
		if !coveredBy(&x, b) {
			lost = append(lost, x)
		}
	}
	return gained, lost
}

func ruleEqual(a, b rbacv1.PolicyRule) bool {
	return slices.Equal(a.Verbs, b.Verbs) && slices.Equal(a.APIGroups, b.APIGroups) &&
		slices.Equal(a.Resources, b.Resources) && slices.Equal(a.ResourceNames, b.ResourceNames) &&
		slices.Equal(a.NonResourceURLs, b.NonResourceURLs)
}

// scopeRules maps a scope ("" = cluster-wide) to the rules held there.
type scopeRules map[string][]rbacv1.PolicyRule

func scopesOf(srs []rbac.ScopedRules) scopeRules {
	out := make(scopeRules, len(srs))
	for _, sr := range srs {
		out[sr.Namespace] = append(out[sr.Namespace], sr.Rules...)
	}
	return out
}

// scopeDiff returns, per scope, the atoms from holds that the rules of against (in the same
// scope or cluster-wide) do not cover. A namespaced atom that from's own cluster-wide rules
// cover is left to the cluster-wide scope, so a cluster-wide grant is reported once.
func scopeDiff(from scopeRules, against ...scopeRules) []Scope {
	var out []Scope
	for _, ns := range slices.Sorted(maps.Keys(from)) {
		var atoms []atom
		for _, a := range atomsOf(from[ns], ns != "") {
			if inScope(&a, ns, against) || (ns != "" && coveredBy(&a, from[""])) {
				continue
			}
			atoms = append(atoms, a)
		}
		if len(atoms) > 0 {
			out = append(out, Scope{Namespace: ns, Rules: rulesOf(atoms)})
		}
	}
	return out
}

// inScope reports whether rules in scope ns, or cluster-wide, cover the atom.
func inScope(a *atom, ns string, sets []scopeRules) bool {
	for _, m := range sets {
		if coveredBy(a, m[ns]) || (ns != "" && coveredBy(a, m[""])) {
			return true
		}
	}
	return false
}
