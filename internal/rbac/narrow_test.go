package rbac

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func allows(rules []rbacv1.PolicyRule, r Request) bool {
	return slices.ContainsFunc(rules, func(rule rbacv1.PolicyRule) bool { return RuleAllows(&rule, r) })
}

// probes are every built-in request kwid knows: each known verb on each built-in resource
// and subresource, with and without a name.
func probes() []Request {
	var out []Request
	for name, info := range builtinResources {
		for _, sub := range append([]string{""}, knownSubresources[name]...) {
			for _, v := range KnownVerbs {
				if v == rbacv1.VerbAll {
					continue
				}
				out = append(out,
					Request{Verb: v, APIGroup: info.group, Resource: name, Subresource: sub},
					Request{Verb: v, APIGroup: info.group, Resource: name, Subresource: sub, Name: "kube-root-ca.crt"})
			}
		}
	}
	return out
}

func TestWithout(t *testing.T) {
	readSecrets := []Request{{Verb: "get", Resource: "secrets"}, {Verb: "list", Resource: "secrets"}, {Verb: "watch", Resource: "secrets"}}
	nodesProxy := []Request{{Verb: "get", Resource: "nodes", Subresource: "proxy"}, {Verb: "create", Resource: "nodes", Subresource: "proxy"}}
	tests := []struct {
		name      string
		rules     []rbacv1.PolicyRule
		drop      []Request
		expandAll bool
		rewritten int
		expanded  bool
	}{
		{"untouched rule", []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}, readSecrets, false, 0, false},
		{"named secret get only", []rbacv1.PolicyRule{{Verbs: []string{"get", "update"}, APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, ResourceNames: []string{"kube-root-ca.crt"}}}, readSecrets, false, 1, false},
		{"explicit secrets", []rbacv1.PolicyRule{{Verbs: []string{"get", "list", "create"}, APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}}}, readSecrets, false, 1, false},
		{"everything in core", []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"*"}}}, readSecrets, false, 1, true},
		{"cluster-admin", []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, {Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}, readSecrets, false, 1, true},
		{"*/proxy", []rbacv1.PolicyRule{{Verbs: []string{"get", "create", "list"}, APIGroups: []string{""}, Resources: []string{"*/proxy", "nodes"}}}, nodesProxy, false, 1, true},
		{"nodes/* is no wildcard", []rbacv1.PolicyRule{{Verbs: []string{"get", "create"}, APIGroups: []string{""}, Resources: []string{"nodes/*"}}}, nodesProxy, false, 0, false},
		{"expand wildcards only", []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{"apps", ""}, Resources: []string{"*"}}}, nil, true, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := Without(tc.rules, tc.drop, tc.expandAll)
			if n.Rewritten != tc.rewritten || (len(n.Expanded) > 0) != tc.expanded {
				t.Errorf("rewritten %d, expanded %v; want %d, %v", n.Rewritten, n.Expanded, tc.rewritten, tc.expanded)
			}
			for _, p := range probes() {
				want := allows(tc.rules, p) && !slices.ContainsFunc(tc.drop, func(d Request) bool {
					return d.Verb == p.Verb && d.APIGroup == p.APIGroup && d.Resource == p.Resource && d.Subresource == p.Subresource
				})
				if allows(got, p) != want {
					t.Errorf("%s: narrowed allows %v, want %v\nnarrowed: %v", p, allows(got, p), want, got)
				}
			}
			if tc.expandAll {
				for _, r := range got {
					if len(r.NonResourceURLs) == 0 && hasWildcard(r) {
						t.Errorf("wildcard left: %s", DescribeRule(&r))
					}
				}
			}
			// Non-resource rules are kept.
			for _, r := range tc.rules {
				for _, u := range r.NonResourceURLs {
					if !allows(got, Request{Verb: "get", Path: "/" + u}) && u == "*" {
						t.Errorf("non-resource rule %v dropped", r)
					}
				}
			}
		})
	}
}
