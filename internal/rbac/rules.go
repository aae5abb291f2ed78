// Package rbac evaluates Kubernetes RBAC exactly as the API server's RBAC authorizer does:
// which bindings apply to a user, which rules they grant and in which scope, and whether a
// request is allowed, with the API server's own reason. See
// shared/reference/rbac-semantics.md for the rules it implements.
//
// rbac reads a Snapshot and knows nothing about checks or output formats.
package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Request is what a subject asks to do: a resource request when Resource is set, else a
// non-resource request for Path. Namespace is "" for cluster-scoped resources and for
// requests across all namespaces.
type Request struct {
	Verb        string `json:"verb"`
	APIGroup    string `json:"apiGroup,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	Path        string `json:"nonResourceURL,omitempty"`
}

// IsResource reports whether the request is for an API resource (not a non-resource URL).
func (r Request) IsResource() bool { return r.Path == "" }

// String renders the request like kubectl auth can-i arguments.
func (r Request) String() string {
	if !r.IsResource() {
		return r.Verb + " " + r.Path
	}
	var b strings.Builder
	b.WriteString(r.Verb)
	b.WriteByte(' ')
	b.WriteString(r.Resource)
	if r.APIGroup != "" {
		b.WriteString("." + r.APIGroup)
	}
	if r.Subresource != "" {
		b.WriteString("/" + r.Subresource)
	}
	if r.Name != "" {
		b.WriteString(" " + r.Name)
	}
	if r.Namespace != "" {
		b.WriteString(" -n " + r.Namespace)
	}
	return b.String()
}

// RuleAllows reports whether one PolicyRule allows the request, with the API server's
// semantics: `*` wildcards, `*/subresource`, resourceNames that never match a request
// without a name, and nonResourceURL prefixes ending in `*`.
func RuleAllows(rule *rbacv1.PolicyRule, r Request) bool {
	if !VerbMatches(rule, r.Verb) {
		return false
	}
	if !r.IsResource() {
		return NonResourceURLMatches(rule, r.Path)
	}
	return APIGroupMatches(rule, r.APIGroup) &&
		ResourceMatches(rule, r.Resource, r.Subresource) &&
		ResourceNameMatches(rule, r.Name)
}

// VerbMatches: the verb is listed, or `*` is.
func VerbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	return slices.Contains(rule.Verbs, rbacv1.VerbAll) || slices.Contains(rule.Verbs, verb)
}

// APIGroupMatches: the group is listed, or `*` is.
func APIGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	return slices.Contains(rule.APIGroups, rbacv1.APIGroupAll) || slices.Contains(rule.APIGroups, group)
}

// ResourceMatches: `*`, the exact "resource" or "resource/subresource", or "*/subresource"
// when that subresource is requested. "pods/*" is not a pattern. The request's resource and
// subresource are taken apart: RuleAllows runs millions of times in a scan, and building
// "resource/subresource" for each was a third of its cost.
func ResourceMatches(rule *rbacv1.PolicyRule, resource, subresource string) bool {
	for _, res := range rule.Resources {
		switch {
		case res == rbacv1.ResourceAll:
			return true
		case subresource == "":
			if res == resource {
				return true
			}
		case len(res) == len(resource)+1+len(subresource) && res[len(resource)] == '/' &&
			strings.HasPrefix(res, resource) && strings.HasSuffix(res, subresource):
			return true
		case len(res) == len(subresource)+2 && strings.HasPrefix(res, "*/") && strings.HasSuffix(res, subresource):
			return true
		}
	}
	return false
}

// ResourceNameMatches: no resourceNames, or the requested name is listed. A request
// without a name (list, create, deletecollection) has the name "": it matches a rule with
// resourceNames only when "" is one of them (the API server accepts and honours that).
func ResourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name)
}

// NonResourceURLMatches: `*`, the exact path, or a prefix ending in `*`.
func NonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		switch {
		case u == rbacv1.NonResourceAll, u == path:
			return true
		case strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")):
			return true
		}
	}
	return false
}

// DescribeRule renders a rule on one line, empty groups quoted:
// `verbs=get,list apiGroups="" resources=secrets resourceNames=db`.
func DescribeRule(r *rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) == 0 {
			return
		}
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = s
			if s == "" {
				q[i] = `""`
			}
		}
		parts = append(parts, name+"="+strings.Join(q, ","))
	}
	add("verbs", r.Verbs)
	add("apiGroups", r.APIGroups)
	add("resources", r.Resources)
	add("resourceNames", r.ResourceNames)
	add("nonResourceURLs", r.NonResourceURLs)
	return strings.Join(parts, " ")
}
