package rbac

import (
	"fmt"
	"slices"
	"strings"
)

// resourceInfo is what kwid knows of a built-in resource without asking a cluster.
type resourceInfo struct {
	group      string
	namespaced bool
}

// builtinResources maps the plural of every built-in resource (and the virtual resources
// RBAC rules name, like users for impersonation) to its group and scope.
var builtinResources = map[string]resourceInfo{}

func init() {
	add := func(group string, namespaced bool, names ...string) {
		for _, n := range names {
			builtinResources[n] = resourceInfo{group: group, namespaced: namespaced}
		}
	}
	add("", true, "pods", "services", "secrets", "configmaps", "serviceaccounts", "persistentvolumeclaims",
		"endpoints", "events", "limitranges", "resourcequotas", "replicationcontrollers", "podtemplates", "bindings")
	add("", false, "namespaces", "nodes", "persistentvolumes", "componentstatuses", "users", "groups", "uids")
	add("apps", true, "deployments", "statefulsets", "daemonsets", "replicasets", "controllerrevisions")
	add("batch", true, "jobs", "cronjobs")
	add("autoscaling", true, "horizontalpodautoscalers")
	add("policy", true, "poddisruptionbudgets")
	add("networking.k8s.io", true, "networkpolicies", "ingresses")
	add("networking.k8s.io", false, "ingressclasses", "ipaddresses", "servicecidrs")
	add("discovery.k8s.io", true, "endpointslices")
	add("coordination.k8s.io", true, "leases")
	add("rbac.authorization.k8s.io", true, "roles", "rolebindings")
	add("rbac.authorization.k8s.io", false, "clusterroles", "clusterrolebindings")
	add("storage.k8s.io", false, "storageclasses", "csidrivers", "csinodes", "volumeattachments", "volumeattributesclasses")
	add("storage.k8s.io", true, "csistoragecapacities")
	add("admissionregistration.k8s.io", false, "validatingwebhookconfigurations", "mutatingwebhookconfigurations",
		"validatingadmissionpolicies", "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings")
	add("certificates.k8s.io", false, "certificatesigningrequests", "signers", "clustertrustbundles")
	add("authentication.k8s.io", false, "tokenreviews", "selfsubjectreviews", "userextras")
	add("authorization.k8s.io", false, "subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews")
	add("authorization.k8s.io", true, "localsubjectaccessreviews")
	add("apiextensions.k8s.io", false, "customresourcedefinitions")
	add("apiregistration.k8s.io", false, "apiservices")
	add("scheduling.k8s.io", false, "priorityclasses")
	add("node.k8s.io", false, "runtimeclasses")
	add("flowcontrol.apiserver.k8s.io", false, "flowschemas", "prioritylevelconfigurations")
	add("resource.k8s.io", true, "resourceclaims", "resourceclaimtemplates")
	add("resource.k8s.io", false, "deviceclasses", "resourceslices")
}

// KnownVerbs are the verbs RBAC rules use for resources.
var KnownVerbs = []string{
	"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
	"impersonate", "bind", "escalate", "approve", "sign", "attest", "use", "proxy", "*",
}

// nonResourceVerbs are the verbs of non-resource requests (lowercased HTTP methods).
var nonResourceVerbs = []string{"get", "post", "put", "patch", "delete", "head", "options", "*"}

// ParseRequest reads a request as users type it: VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME]
// in a namespace, or VERB /PATH for a non-resource URL. A resource without a group must be a
// built-in one; other resources need their group ("widgets.example.com"). The namespace is
// dropped for cluster-scoped built-in resources, as the API server does.
func ParseRequest(verb, resource, name, namespace string) (Request, error) {
	verb = strings.ToLower(verb)
	if strings.HasPrefix(resource, "/") {
		if !slices.Contains(nonResourceVerbs, verb) {
			return Request{}, fmt.Errorf("unknown verb %q for a non-resource URL (want one of %s)", verb, strings.Join(nonResourceVerbs, ", "))
		}
		if name != "" {
			return Request{}, fmt.Errorf("a non-resource URL takes no name (got %q)", name)
		}
		return Request{Verb: verb, Path: resource}, nil
	}
	if !slices.Contains(KnownVerbs, verb) {
		return Request{}, fmt.Errorf("unknown verb %q (want one of %s)", verb, strings.Join(KnownVerbs, ", "))
	}
	if resource == "" {
		return Request{}, fmt.Errorf("no resource given")
	}
	res, sub, _ := strings.Cut(resource, "/")
	if strings.Contains(sub, "/") {
		return Request{}, fmt.Errorf("resource %q: want RESOURCE[.GROUP][/SUBRESOURCE]", resource)
	}
	plural, group, hasGroup := strings.Cut(res, ".")
	plural = strings.ToLower(plural)
	r := Request{Verb: verb, Resource: plural, APIGroup: group, Subresource: sub, Name: name, Namespace: namespace}
	info, known := builtinResources[plural]
	switch {
	case !hasGroup && !known && plural != "*":
		return Request{}, fmt.Errorf("unknown resource %q%s; name a custom resource with its group, e.g. widgets.example.com", plural, suggest(plural))
	case !hasGroup && known:
		r.APIGroup = info.group
	}
	if known && r.APIGroup == info.group && !info.namespaced {
		r.Namespace = ""
	}
	return r, nil
}

// Namespaced reports whether a built-in resource is namespaced (true for unknown ones).
func Namespaced(group, resource string) bool {
	if info, ok := builtinResources[resource]; ok && info.group == group {
		return info.namespaced
	}
	return true
}

// suggest names the closest built-in resource, for typos.
func suggest(s string) string {
	best, bestDist := "", 3
	for name := range builtinResources {
		if d := editDistance(s, name); d < bestDist || d == bestDist && name < best {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
