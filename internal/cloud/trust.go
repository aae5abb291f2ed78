package cloud

import (
	"fmt"
	"slices"
	"strings"
)

// Well-known values of the identity federation protocols.
const (
	ActionWebIdentity    = "sts:AssumeRoleWithWebIdentity"
	ActionAssumeRole     = "sts:AssumeRole"
	ActionTagSession     = "sts:TagSession"
	PodIdentityService   = "pods.eks.amazonaws.com"
	STSAudience          = "sts.amazonaws.com"
	IRSARoleAnnotation   = "eks.amazonaws.com/role-arn"
	IRSAAudienceAnnot    = "eks.amazonaws.com/audience"
	GKEAnnotation        = "iam.gke.io/gcp-service-account"
	AzureClientIDAnnot   = "azure.workload.identity/client-id"
	serviceAccountPrefix = "system:serviceaccount:"
)

// Subject is the token subject of a Kubernetes ServiceAccount.
func Subject(namespace, name string) string { return serviceAccountPrefix + namespace + ":" + name }

// SplitSubject reads system:serviceaccount:NS:NAME.
func SplitSubject(sub string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(sub, serviceAccountPrefix)
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok && namespace != "" && name != "" && !strings.Contains(name, ":")
}

// --- IRSA (AssumeRoleWithWebIdentity) -------------------------------------------------

// WebIdentityStatements are a trust policy's statements that let tokens of an issuer
// call AssumeRoleWithWebIdentity: the Principal federates the issuer's OIDC provider (or
// is "*") and the actions cover the call. Deny statements are included.
func (p *Policy) WebIdentityStatements(issuer string) []*Statement {
	host := IssuerHost(issuer)
	var out []*Statement
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.coversAction(ActionWebIdentity) {
			continue
		}
		if s.Principal != nil && (s.Principal.All || slices.ContainsFunc(s.Principal.Federated, func(f string) bool { return ProviderIssuer(f) == host })) {
			out = append(out, s)
		}
	}
	return out
}

// WebIdentityIssuers lists the OIDC issuer hosts a trust policy federates for
// AssumeRoleWithWebIdentity (Allow statements).
func (p *Policy) WebIdentityIssuers() []string {
	var out []string
	for i := range p.Statements {
		s := &p.Statements[i]
		if s.Effect != "Allow" || s.Principal == nil || !s.coversAction(ActionWebIdentity) {
			continue
		}
		for _, f := range s.Principal.Federated {
			if h := ProviderIssuer(f); h != "" && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// SubConditions are the conditions of a statement on the issuer's sub claim.
func (s *Statement) SubConditions(issuer string) []Condition { return s.claimConditions(issuer, "sub") }

// AudConditions are the conditions of a statement on the issuer's aud claim.
func (s *Statement) AudConditions(issuer string) []Condition { return s.claimConditions(issuer, "aud") }

func (s *Statement) claimConditions(issuer, claim string) []Condition {
	key := IssuerHost(issuer) + ":" + claim
	var out []Condition
	for _, c := range s.Conditions {
		if strings.EqualFold(c.Key, key) {
			out = append(out, c)
		}
	}
	return out
}

// providerFor returns the Federated principal a trust names for an issuer, else the
// provider the role's account would have.
func (r *Role) providerFor(issuer string) string {
	host := IssuerHost(issuer)
	for i := range r.Trust.Statements {
		if p := r.Trust.Statements[i].Principal; p != nil {
			for _, f := range p.Federated {
				if ProviderIssuer(f) == host {
					return f
				}
			}
		}
	}
	return OIDCProviderARN(r.Account(), issuer)
}

// WebIdentityRequest is the request a token with this subject and audience from the
// issuer makes when it calls AssumeRoleWithWebIdentity on a role. The issuer's claims
// are the only keys it carries that kwid models; keys of other issuers and session tags
// (Kubernetes tokens carry none) are absent; other keys are unknown.
func (r *Role) WebIdentityRequest(issuer, sub, aud string) Request {
	host := IssuerHost(issuer)
	return Request{
		Action:  ActionWebIdentity,
		Caller:  Caller{Type: "Federated", ID: r.providerFor(issuer)},
		Context: map[string][]string{host + ":sub": {sub}, host + ":aud": {aud}},
		Modelled: func(key string) bool {
			k := strings.ToLower(key)
			if strings.HasPrefix(k, "aws:requesttag/") || strings.HasPrefix(k, "aws:principaltag/") || k == "aws:tagkeys" {
				return true
			}
			i := strings.LastIndexByte(k, ':')
			return i > 0 && strings.ContainsAny(k[:i], "./") // another issuer's claim
		},
	}
}

// AssumeWithWebIdentity decides whether a token of the issuer with this subject and
// audience can assume the role.
func (r *Role) AssumeWithWebIdentity(issuer, sub, aud string) Decision {
	return r.Trust.Evaluate(r.WebIdentityRequest(issuer, sub, aud))
}

// --- EKS Pod Identity -------------------------------------------------------------------

// PodIdentityContext is what EKS Pod Identity tells STS when it assumes a role for a pod.
type PodIdentityContext struct {
	ClusterARN, ClusterName, Namespace, ServiceAccount string
	// SessionTags is false when the association disables session tags.
	SessionTags bool
}

// podIdentityTags are the session tags EKS Pod Identity sets.
var podIdentityTags = []string{"eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid"}

// PodIdentityRequests are the calls EKS Pod Identity makes for a pod: AssumeRole, and
// TagSession with the session tags (unless disabled).
func PodIdentityRequests(pc PodIdentityContext) []Request {
	ctx := map[string][]string{
		"aws:SourceAccount": {AccountOf(pc.ClusterARN)},
		"aws:SourceArn":     {pc.ClusterARN},
	}
	if pc.SessionTags {
		ctx["aws:RequestTag/eks-cluster-arn"] = []string{pc.ClusterARN}
		ctx["aws:RequestTag/eks-cluster-name"] = []string{pc.ClusterName}
		ctx["aws:RequestTag/kubernetes-namespace"] = []string{pc.Namespace}
		ctx["aws:RequestTag/kubernetes-service-account"] = []string{pc.ServiceAccount}
		ctx["aws:TagKeys"] = podIdentityTags
	}
	modelled := func(key string) bool {
		k := strings.ToLower(key)
		switch {
		case k == "aws:requesttag/kubernetes-pod-name" || k == "aws:requesttag/kubernetes-pod-uid":
			return !pc.SessionTags // one value per pod: unknown ahead of time
		case strings.HasPrefix(k, "aws:requesttag/"), k == "aws:tagkeys", k == "aws:sourceaccount", k == "aws:sourcearn":
			return true
		}
		return false
	}
	caller := Caller{Type: "Service", ID: PodIdentityService}
	out := []Request{{Action: ActionAssumeRole, Caller: caller, Context: ctx, Modelled: modelled}}
	if pc.SessionTags {
		out = append(out, Request{Action: ActionTagSession, Caller: caller, Context: ctx, Modelled: modelled})
	}
	return out
}

// AssumeWithPodIdentity decides whether EKS Pod Identity can assume the role for a pod:
// every call it makes must be allowed.
func (r *Role) AssumeWithPodIdentity(pc PodIdentityContext) Decision {
	var out Decision
	out.Result = Yes
	for _, req := range PodIdentityRequests(pc) {
		d := r.Trust.Evaluate(req)
		out.Result = and(out.Result, d.Result)
		for _, i := range d.Allow {
			if !slices.Contains(out.Allow, i) {
				out.Allow = append(out.Allow, i)
			}
		}
		for _, i := range d.Deny {
			if !slices.Contains(out.Deny, i) {
				out.Deny = append(out.Deny, i)
			}
		}
		for _, k := range d.Unknown {
			if !slices.Contains(out.Unknown, k) {
				out.Unknown = append(out.Unknown, k)
			}
		}
	}
	return out
}

// TrustsPodIdentity reports whether an Allow statement names the Pod Identity service.
func (r *Role) TrustsPodIdentity() bool {
	for i := range r.Trust.Statements {
		s := &r.Trust.Statements[i]
		if s.Effect == "Allow" && s.Principal != nil && slices.Contains(s.Principal.Service, PodIdentityService) && s.coversAction(ActionAssumeRole) {
			return true
		}
	}
	return false
}

// Explain describes a decision in one line: the statements and their conditions.
func (r *Role) Explain(d Decision) string {
	var parts []string
	for _, i := range d.Allow {
		s := &r.Trust.Statements[i-1]
		parts = append(parts, "statement "+s.label()+" allows"+conditionText(s.Conditions))
	}
	for _, i := range d.Deny {
		parts = append(parts, "statement "+r.Trust.Statements[i-1].label()+" denies")
	}
	if len(d.Unknown) > 0 {
		parts = append(parts, "undecided offline: "+strings.Join(d.Unknown, ", "))
	}
	if len(parts) == 0 {
		return "no statement of the trust policy allows it"
	}
	return strings.Join(parts, "; ")
}

func (s *Statement) label() string {
	if s.Sid != "" {
		return fmt.Sprintf("%d (%s)", s.Index, s.Sid)
	}
	return fmt.Sprint(s.Index)
}

// Label names a statement: its index and Sid.
func (s *Statement) Label() string { return s.label() }

func conditionText(cs []Condition) string {
	if len(cs) == 0 {
		return " with no condition"
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return " if " + strings.Join(out, " and ")
}
