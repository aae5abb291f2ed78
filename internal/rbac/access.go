package rbac

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// ScopedRules are a subject's effective rules in one scope, compacted.
type ScopedRules struct {
	// Namespace is "" for rules that apply everywhere (ClusterRoleBindings).
	Namespace string
	Rules     []rbacv1.PolicyRule
	// Bindings are the bindings the rules come from.
	Bindings []*Binding
}

// Access returns a user's effective rules by scope: cluster-wide first, then each
// namespace. With a namespace, only the rules that apply there.
func (ix *Index) Access(u User, namespace string) []ScopedRules {
	byScope := map[string]*ScopedRules{}
	for _, g := range ix.GrantsFor(u) {
		ns := g.Namespace()
		if namespace != "" && ns != "" && ns != namespace {
			continue
		}
		sr := byScope[ns]
		if sr == nil {
			sr = &ScopedRules{Namespace: ns}
			byScope[ns] = sr
		}
		sr.Rules = append(sr.Rules, *g.Rule())
		if len(sr.Bindings) == 0 || sr.Bindings[len(sr.Bindings)-1] != g.Binding {
			sr.Bindings = append(sr.Bindings, g.Binding)
		}
	}
	out := make([]ScopedRules, 0, len(byScope))
	for _, ns := range slices.Sorted(maps.Keys(byScope)) {
		sr := byScope[ns]
		sr.Rules = Compact(sr.Rules)
		out = append(out, *sr)
	}
	return out
}

// Compact merges rules without changing what they allow: lists are sorted and deduplicated
// (a `*` verb, group or resource absorbs the rest of its list), rules that differ only in
// verbs are merged, then rules that differ only in resources.
func Compact(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	norm := make([]rbacv1.PolicyRule, 0, len(rules))
	for _, r := range rules {
		norm = append(norm, rbacv1.PolicyRule{
			Verbs:           set(r.Verbs, rbacv1.VerbAll),
			APIGroups:       set(r.APIGroups, rbacv1.APIGroupAll),
			Resources:       set(r.Resources, ""),
			ResourceNames:   set(r.ResourceNames, ""),
			NonResourceURLs: set(r.NonResourceURLs, rbacv1.NonResourceAll),
		})
	}
	key := func(parts ...[]string) string {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(strings.Join(p, "\x00"))
			b.WriteByte(1)
		}
		return b.String()
	}
	norm = mergeBy(norm,
		func(r rbacv1.PolicyRule) string {
			return key(r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs)
		},
		func(into *rbacv1.PolicyRule, r rbacv1.PolicyRule) {
			into.Verbs = set(append(into.Verbs, r.Verbs...), rbacv1.VerbAll)
		})
	norm = mergeBy(norm,
		func(r rbacv1.PolicyRule) string {
			if len(r.NonResourceURLs) > 0 {
				return key(r.Verbs, r.NonResourceURLs) + "url"
			}
			return key(r.APIGroups, r.Verbs, r.ResourceNames)
		},
		func(into *rbacv1.PolicyRule, r rbacv1.PolicyRule) {
			if len(r.NonResourceURLs) > 0 {
				return
			}
			into.Resources = set(append(into.Resources, r.Resources...), rbacv1.ResourceAll)
		})
	slices.SortFunc(norm, func(a, b rbacv1.PolicyRule) int {
		return cmp.Or(
			cmp.Compare(min(len(a.NonResourceURLs), 1), min(len(b.NonResourceURLs), 1)),
			slices.Compare(a.APIGroups, b.APIGroups),
			slices.Compare(a.Resources, b.Resources),
			slices.Compare(a.NonResourceURLs, b.NonResourceURLs),
			slices.Compare(a.ResourceNames, b.ResourceNames),
		)
	})
	return norm
}

// set sorts and deduplicates; a list holding all (when all != "") is just [all].
func set(in []string, all string) []string {
	if len(in) == 0 {
		return nil
	}
	if all != "" && slices.Contains(in, all) {
		return []string{all}
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func mergeBy(rules []rbacv1.PolicyRule, key func(rbacv1.PolicyRule) string, merge func(*rbacv1.PolicyRule, rbacv1.PolicyRule)) []rbacv1.PolicyRule {
	index := map[string]int{}
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		k := key(r)
		if i, ok := index[k]; ok {
			merge(&out[i], r)
			continue
		}
		index[k] = len(out)
		out = append(out, r)
	}
	return out
}

// MatrixVerbs are the columns of an access matrix.
var MatrixVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// Cell is one access matrix answer.
type Cell string

const (
	CellYes   Cell = "yes"
	CellNames Cell = "names" // only for some resourceNames
	CellNo    Cell = "no"
)

// MatrixRow is one resource's answers, per MatrixVerbs.
type MatrixRow struct {
	APIGroup, Resource string
	Cells              []Cell
}

// Matrix answers, for every resource the rules mention (every built-in resource when a
// rule has a wildcard), which MatrixVerbs they allow.
func Matrix(rules []rbacv1.PolicyRule) []MatrixRow {
	type gr struct{ group, resource string }
	seen := map[gr]bool{}
	var rows []gr
	addRow := func(g, r string) {
		if !seen[gr{g, r}] {
			seen[gr{g, r}] = true
			rows = append(rows, gr{g, r})
		}
	}
	for _, r := range rules {
		for _, res := range r.Resources {
			for _, g := range r.APIGroups {
				switch {
				case res == rbacv1.ResourceAll || g == rbacv1.APIGroupAll:
					for name, info := range builtinResources {
						if (res == rbacv1.ResourceAll || res == name) && (g == rbacv1.APIGroupAll || g == info.group) {
							addRow(info.group, name)
						}
					}
				default:
					addRow(g, res)
				}
			}
		}
	}
	slices.SortFunc(rows, func(a, b gr) int { return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.resource, b.resource)) })
	out := make([]MatrixRow, 0, len(rows))
	for _, row := range rows {
		res, sub, _ := strings.Cut(row.resource, "/")
		mr := MatrixRow{APIGroup: row.group, Resource: row.resource}
		for _, verb := range MatrixVerbs {
			req := Request{Verb: verb, APIGroup: row.group, Resource: res, Subresource: sub}
			cell := CellNo
			for i := range rules {
				if RuleAllows(&rules[i], req) {
					cell = CellYes
					break
				}
				if len(rules[i].ResourceNames) > 0 {
					unnamed := rules[i]
					unnamed.ResourceNames = nil
					if RuleAllows(&unnamed, req) {
						cell = CellNames
					}
				}
			}
			mr.Cells = append(mr.Cells, cell)
		}
		out = append(out, mr)
	}
	return out
}
