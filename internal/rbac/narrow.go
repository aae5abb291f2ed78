package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// knownSubresources are the built-in subresources a wildcard resource covers that
// narrowing keeps explicitly (a rule on "*" also allows "pods/exec").
var knownSubresources = map[string][]string{
	"pods":                       {"attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy", "resize", "status"},
	"nodes":                      {"proxy", "status"},
	"services":                   {"proxy", "status"},
	"serviceaccounts":            {"token"},
	"namespaces":                 {"finalize", "status"},
	"persistentvolumes":          {"status"},
	"persistentvolumeclaims":     {"status"},
	"replicationcontrollers":     {"scale", "status"},
	"deployments":                {"scale", "status"},
	"statefulsets":               {"scale", "status"},
	"replicasets":                {"scale", "status"},
	"daemonsets":                 {"status"},
	"jobs":                       {"status"},
	"cronjobs":                   {"status"},
	"certificatesigningrequests": {"approval", "status"},
}

// Narrowing says what Without changed.
type Narrowing struct {
	// Rewritten counts the rules that allowed a dropped request and were rewritten.
	Rewritten int
	// Expanded lists the wildcards that were replaced by the built-in verbs, API groups or
	// resources kwid knows: custom resources or verbs the wildcard covered are no longer
	// granted.
	Expanded []string
}

// Without returns rules that grant what rules grant minus the dropped requests (each a
// verb, API group, resource and subresource; a "*" subresource stands for all of them).
// Rules that allow none of the dropped requests are kept as they are; a rule that does is
// rewritten per resource: the dropped verbs are removed from the resources they apply to,
// with wildcards expanded to what kwid knows of the built-in API (KnownVerbs, the built-in
// groups and resources and their subresources). With expandAll, every wildcard of every
// resource rule is expanded, which removes them (KW-RBAC-003). resourceNames and
// nonResourceURLs are kept.
func Without(rules []rbacv1.PolicyRule, drop []Request, expandAll bool) ([]rbacv1.PolicyRule, Narrowing) {
	var out []rbacv1.PolicyRule
	var n Narrowing
	for _, rule := range rules {
		if len(rule.NonResourceURLs) > 0 || !(expandAll && hasWildcard(rule) || dropsFrom(rule, drop)) {
			out = append(out, rule)
			continue
		}
		n.Rewritten++
		for _, w := range wildcards(rule) {
			if !slices.Contains(n.Expanded, w) {
				n.Expanded = append(n.Expanded, w)
			}
		}
		out = append(out, rewrite(rule, drop)...)
	}
	return Compact(out), n
}

func hasWildcard(r rbacv1.PolicyRule) bool { return len(wildcards(r)) > 0 }

func wildcards(r rbacv1.PolicyRule) []string {
	var out []string
	if slices.Contains(r.Verbs, rbacv1.VerbAll) {
		out = append(out, "verbs: *")
	}
	if slices.Contains(r.APIGroups, rbacv1.APIGroupAll) {
		out = append(out, "apiGroups: *")
	}
	for _, res := range r.Resources {
		if res == rbacv1.ResourceAll || strings.HasPrefix(res, "*/") {
			out = append(out, "resources: "+res)
		}
	}
	return out
}

// dropsFrom reports whether the rule allows one of the dropped requests for some name.
func dropsFrom(rule rbacv1.PolicyRule, drop []Request) bool {
	unnamed := rule
	unnamed.ResourceNames = nil
	for _, d := range drop {
		for _, sub := range subresourcesOf(d) {
			r := d
			r.Subresource = sub
			if RuleAllows(&unnamed, r) {
				return true
			}
		}
	}
	return false
}

func subresourcesOf(d Request) []string {
	if d.Subresource != "*" {
		return []string{d.Subresource}
	}
	return append([]string{""}, knownSubresources[d.Resource]...)
}

// rewrite expands a rule into one rule per (group, resource) it covers, minus the
// dropped verbs; Without compacts them back.
func rewrite(rule rbacv1.PolicyRule, drop []Request) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, group := range expandAPIGroups(rule.APIGroups) {
		for _, res := range expandResources(group, rule.Resources) {
			resource, sub, _ := strings.Cut(res, "/")
			var verbs []string
			for _, v := range expandVerbs(rule.Verbs) {
				if !dropped(drop, v, group, resource, sub) {
					verbs = append(verbs, v)
				}
			}
			if len(verbs) > 0 {
				out = append(out, rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{group}, Resources: []string{res}, ResourceNames: rule.ResourceNames})
			}
		}
	}
	return out
}

func dropped(drop []Request, verb, group, resource, sub string) bool {
	for _, d := range drop {
		if d.Verb == verb && d.APIGroup == group && d.Resource == resource && (d.Subresource == sub || d.Subresource == "*") {
			return true
		}
	}
	return false
}

func expandVerbs(verbs []string) []string {
	if !slices.Contains(verbs, rbacv1.VerbAll) {
		return verbs
	}
	return slices.DeleteFunc(slices.Clone(KnownVerbs), func(v string) bool { return v == rbacv1.VerbAll })
}

func expandAPIGroups(groups []string) []string {
	if !slices.Contains(groups, rbacv1.APIGroupAll) {
		return groups
	}
	var out []string
	for _, info := range builtinResources {
		if !slices.Contains(out, info.group) {
			out = append(out, info.group)
		}
	}
	slices.Sort(out)
	return out
}

// expandResources lists what the rule's resources cover in a group, as "resource" and
// "resource/sub" entries.
func expandResources(group string, resources []string) []string {
	var builtins []string
	for name, info := range builtinResources {
		if info.group == group {
			builtins = append(builtins, name)
		}
	}
	slices.Sort(builtins)
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, res := range resources {
		resource, sub, _ := strings.Cut(res, "/")
		switch {
		case res == rbacv1.ResourceAll:
			for _, b := range builtins {
				add(b)
				for _, s := range knownSubresources[b] {
					add(b + "/" + s)
				}
			}
		case resource == "*": // "*/scale": that subresource of every resource
			for _, b := range builtins {
				if slices.Contains(knownSubresources[b], sub) {
					add(b + "/" + sub)
				}
			}
		default:
			add(res)
		}
	}
	return out
}
