package checks

import (
	"fmt"
	"slices"

	"github.com/kwid-dev/kwid/internal/rbac"
)

// Tier is how much a subject's RBAC rights are worth to an attacker who steals its token.
type Tier int

const (
	// TierNone: nothing beyond the discovery roles every authenticated user holds.
	TierNone Tier = iota
	// TierLow: some API rights, none of the dangerous ones below.
	TierLow
	// TierHigh: a dangerous right within one namespace.
	TierHigh
	// TierCritical: a dangerous right cluster-wide, or cluster-admin.
	TierCritical
)

func (t Tier) String() string {
	return [...]string{"none", "low", "high", "critical"}[t]
}

// discoveryRoles are held by every authenticated user and do not count as API rights.
var discoveryRoles = []string{
	"system:discovery", "system:basic-user", "system:public-info-viewer",
	"system:service-account-issuer-discovery",
}

// dangerous are requests that let a token holder read secrets, run code as others, or
// change who can do what (escalation primitives of the catalog).
var dangerous = []struct {
	what string
	req  rbac.Request
}{
	{"do anything (cluster-admin)", rbac.Request{Verb: "*", Resource: "*"}},
	{"read Secrets", rbac.Request{Verb: "get", Resource: "secrets"}},
	{"list Secrets", rbac.Request{Verb: "list", Resource: "secrets"}},
	{"create Pods", rbac.Request{Verb: "create", Resource: "pods"}},
	{"create Deployments", rbac.Request{Verb: "create", APIGroup: "apps", Resource: "deployments"}},
	{"create DaemonSets", rbac.Request{Verb: "create", APIGroup: "apps", Resource: "daemonsets"}},
	{"create Jobs", rbac.Request{Verb: "create", APIGroup: "batch", Resource: "jobs"}},
	{"create ServiceAccount tokens", rbac.Request{Verb: "create", Resource: "serviceaccounts", Subresource: "token"}},
	{"exec into Pods", rbac.Request{Verb: "create", Resource: "pods", Subresource: "exec"}},
	{"exec into Pods (websocket get)", rbac.Request{Verb: "get", Resource: "pods", Subresource: "exec"}},
	{"impersonate users", rbac.Request{Verb: "impersonate", Resource: "users"}},
	{"impersonate groups", rbac.Request{Verb: "impersonate", Resource: "groups"}},
	{"impersonate ServiceAccounts", rbac.Request{Verb: "impersonate", Resource: "serviceaccounts"}},
	{"bind ClusterRoles", rbac.Request{Verb: "bind", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"}},
	{"escalate ClusterRoles", rbac.Request{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"}},
	{"bind Roles", rbac.Request{Verb: "bind", APIGroup: "rbac.authorization.k8s.io", Resource: "roles"}},
	{"escalate Roles", rbac.Request{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "roles"}},
	{"proxy to kubelets", rbac.Request{Verb: "get", Resource: "nodes", Subresource: "proxy"}},
	{"write admission webhooks", rbac.Request{Verb: "update", APIGroup: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}},
	{"approve CSRs", rbac.Request{Verb: "update", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval"}},
}

// TierOf rates a set of grants and says why, naming the first dangerous right found.
func TierOf(grants []rbac.Grant) (Tier, string) {
	tier, why := TierNone, ""
	for _, g := range grants {
		if slices.Contains(discoveryRoles, g.Binding.RoleRef.Name) && g.Binding.RoleRef.Kind == "ClusterRole" {
			continue
		}
		if tier == TierNone {
			tier, why = TierLow, fmt.Sprintf("holds %s %s through %s", g.Binding.RoleRef.Kind, g.Binding.RoleRef.Name, g.Binding.Ref())
		}
		for _, d := range dangerous {
			if !rbac.RuleAllows(g.Rule(), d.req) {
				continue
			}
			if g.Binding.ClusterWide() {
				return TierCritical, fmt.Sprintf("can %s cluster-wide (%s)", d.what, g.Reason())
			}
			if tier < TierHigh {
				tier, why = TierHigh, fmt.Sprintf("can %s in namespace %s (%s)", d.what, g.Namespace(), g.Reason())
			}
		}
	}
	return tier, why
}
