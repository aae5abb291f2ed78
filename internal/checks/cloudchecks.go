package checks

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// Workload identity checks that read the clouds' own JSON (kwid --cloud, docs/cloud.md):
// IAM trust policies evaluated for this cluster's issuer, Pod Identity associations, EKS
// access configuration, GKE and Azure federation. A check whose cloud input is missing is
// "not assessed" when the cluster uses that cloud (EKS markers, IRSA, GKE or Azure
// annotations), and silent otherwise.

// Kinds of the cloud objects findings are about.
const (
	kindIAMRole        inventory.Kind = "IAMRole"
	kindEKSCluster     inventory.Kind = "EKSCluster"
	kindPodIdentity    inventory.Kind = "PodIdentityAssociation"
	kindAccessEntry    inventory.Kind = "EKSAccessEntry"
	kindLaunchTemplate inventory.Kind = "LaunchTemplate"
	kindGKECluster     inventory.Kind = "GKECluster"
	kindGCPIAMPolicy   inventory.Kind = "GCPIAMPolicy"
	kindFederatedCred  inventory.Kind = "FederatedCredential"
	wiRefIRSA                         = "EKS user guide: configure a role trust policy for IRSA (sub and aud conditions)"
	wiRefPodIdentity                  = "EKS user guide: EKS Pod Identity role trust and session tags"
	probeNamespace                    = "kwid-probe-namespace"
	probeName                         = "kwid-probe-serviceaccount"
)

// cloudRef names a cloud object, and cloudLoc says where it was read.
func cloudRef(k inventory.Kind, name string) inventory.ObjectRef {
	return inventory.ObjectRef{Kind: k, Name: name}
}

func cloudLoc(src cloud.Source) *inventory.Location {
	if src.File == "" {
		return nil
	}
	return &inventory.Location{File: src.File, Document: 1}
}

func saRef(ns, name string) inventory.ObjectRef {
	return inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: ns, Name: name}
}

// cloudCluster is this cluster as the cloud input describes it.
func (in *Input) cloudCluster() cloud.Cluster {
	return in.Cloud.ClusterFor(in.Snapshot.Cluster.Server, in.Snapshot.Cluster.OIDCIssuer)
}

// cloudServiceAccounts are the Snapshot's ServiceAccounts as the cloud package takes them.
func (in *Input) cloudServiceAccounts() []cloud.ServiceAccount {
	s := in.Snapshot
	out := make([]cloud.ServiceAccount, 0, len(s.ServiceAccounts))
	for i := range s.ServiceAccounts {
		sa := &s.ServiceAccounts[i]
		out = append(out, cloud.ServiceAccount{Namespace: sa.Namespace, Name: sa.Name, Annotations: sa.Annotations})
	}
	return out
}

// annotated lists the ServiceAccounts carrying an annotation.
func (in *Input) annotated(key string) []inventory.ObjectRef {
	var out []inventory.ObjectRef
	for i := range in.Snapshot.ServiceAccounts {
		sa := &in.Snapshot.ServiceAccounts[i]
		if sa.Annotations[key] != "" {
			out = append(out, saRef(sa.Namespace, sa.Name))
		}
	}
	return out
}

// usesAWS reports whether the cluster is EKS or maps ServiceAccounts to IAM roles.
func (in *Input) usesAWS() bool {
	return rbacLooksLikeEKS(in.Snapshot) || len(in.annotated(cloud.IRSARoleAnnotation)) > 0 || in.Cloud != nil && !in.Cloud.AWS.Empty()
}

// needAWSRoles records the check as not assessed when the cluster uses AWS and no IAM
// role is in the cloud input; it reports whether roles are there.
func (r *run) needAWSRoles(part string) bool {
	in := r.in
	if in.Cloud != nil && len(in.Cloud.AWS.Roles) > 0 {
		return true
	}
	if in.usesAWS() {
		r.notAssessed(part, []string{"no --cloud input for AWS IAM roles (aws iam get-role, see docs/cloud.md)"})
	}
	return false
}

// needIssuer records the check as not assessed when this cluster's issuer is unknown.
func (r *run) needIssuer(part string, c cloud.Cluster) bool {
	if c.Issuer != "" {
		return true
	}
	r.notAssessed(part, []string{"the cluster's OIDC issuer is unknown: give aws eks describe-cluster output in --cloud (or read a live cluster)"})
	return false
}

// needEKS records the check as not assessed when the cluster looks like EKS and its
// describe-cluster output is not in the cloud input.
func (r *run) needEKS(part string, c cloud.Cluster) bool {
	if c.EKS != nil {
		return true
	}
	if r.in.usesAWS() {
		reason := "no --cloud input for the EKS cluster (aws eks describe-cluster)"
		if r.in.Cloud != nil && len(r.in.Cloud.AWS.Clusters) > 0 {
			reason = "no EKS cluster of the --cloud input matches the Snapshot's API server or issuer"
		}
		r.notAssessed(part, []string{reason})
	}
	return false
}

// irsaInput is what the IRSA trust checks read: this cluster, the mappings the cloud
// grants, and whether roles and the issuer are known (else the check is not assessed).
func (r *run) irsaInput() (cloud.Cluster, []cloud.Binding, bool) {
	c := r.in.cloudCluster()
	if !r.needAWSRoles("") || !r.needIssuer("", c) {
		return c, nil, false
	}
	return c, r.in.Cloud.Bindings(c, r.in.cloudServiceAccounts()), true
}

// irsaRoles are the roles of the cloud input whose trust lets tokens of this cluster's
// issuer call AssumeRoleWithWebIdentity.
func (in *Input) irsaRoles(issuer string) []*cloud.Role {
	var out []*cloud.Role
	for _, r := range in.Cloud.AWS.Roles {
		for _, s := range r.Trust.WebIdentityStatements(issuer) {
			if s.Effect == "Allow" {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// mappedTo lists the ServiceAccounts a role is mapped to: by the cloud (bindings) and by
// IRSA annotation.
func mappedTo(in *Input, bindings []cloud.Binding, arn string) []inventory.ObjectRef {
	var out []inventory.ObjectRef
	add := func(ref inventory.ObjectRef) {
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	for _, b := range bindings {
		if b.Identity == arn {
			add(saRef(b.Namespace, b.ServiceAccount))
		}
	}
	for i := range in.Snapshot.ServiceAccounts {
		sa := &in.Snapshot.ServiceAccounts[i]
		if sa.Annotations[cloud.IRSARoleAnnotation] == arn {
			add(saRef(sa.Namespace, sa.Name))
		}
	}
	return out
}

func refNames(refs []inventory.ObjectRef, limit int) string {
	var names []string
	for i, r := range refs {
		if i == limit {
			names = append(names, fmt.Sprintf("and %d more", len(refs)-limit))
			break
		}
		names = append(names, r.Namespace+"/"+r.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// trustStatementText renders the Allow statements of a role for an issuer.
func trustEvidence(r *cloud.Role, issuer string) []string {
	var out []string
	for _, s := range r.Trust.WebIdentityStatements(issuer) {
		line := fmt.Sprintf("trust statement %s: %s %s for %s", s.Label(), s.Effect, cloud.ActionWebIdentity, cloud.IssuerHost(issuer))
		if len(s.Conditions) == 0 {
			line += " with no condition"
		}
		for i, c := range s.Conditions {
			if i == 0 {
				line += " if "
			} else {
				line += " and "
			}
			line += c.String()
		}
		out = append(out, line)
	}
	return out
}

func irsaTrustFix(r *cloud.Role, issuer string, subjects []string) string {
	if len(subjects) == 0 {
		subjects = []string{"system:serviceaccount:NAMESPACE:NAME"}
	}
	host := cloud.IssuerHost(issuer)
	sub := `"` + subjects[0] + `"`
	if len(subjects) > 1 {
		sub = `["` + strings.Join(subjects, `", "`) + `"]`
	}
	return fmt.Sprintf(`aws iam update-assume-role-policy --role-name %s --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"%s"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"%s:sub":%s,"%s:aud":"sts.amazonaws.com"}}}]}'`,
		r.Name, cloud.OIDCProviderARN(r.Account(), issuer), host, sub, host)
}

// --- KW-WI-AWS-001 and 002 --------------------------------------------------------------

var wiIRSANoSubCheck = register(&Check{
	ID:       "KW-WI-AWS-001",
	Title:    "IRSA trust has no :sub condition",
	Severity: Critical,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefIRSA, wiRefEKSBestPractice},
	Summary: "An IAM role whose trust policy lets this cluster's OIDC provider call sts:AssumeRoleWithWebIdentity " +
		"without a condition on <issuer>:sub can be assumed with the token of any ServiceAccount of the cluster: " +
		"anyone who can run a pod, or request a token, anywhere holds the role. Decided by evaluating the trust " +
		"policy (every statement, Deny included) for a ServiceAccount that does not exist.",
	run: func(in *Input, r *run) {
		c, bindings, ok := r.irsaInput()
		if !ok {
			return
		}
		for _, role := range in.irsaRoles(c.Issuer) {
			d := role.AssumeWithWebIdentity(c.Issuer, cloud.Subject(probeNamespace, probeName), cloud.STSAudience)
			if d.Result != cloud.Yes || hasSubCondition(role, c.Issuer, d.Allow) {
				continue
			}
			mapped := mappedTo(in, bindings, role.ARN)
			r.add(Finding{
				Severity: Critical,
				Message: fmt.Sprintf("IAM role %s trusts every ServiceAccount of the cluster: its trust policy has no %s:sub condition, so any token of the issuer can assume it",
					role.Name, cloud.IssuerHost(c.Issuer)),
				Object:      cloudRef(kindIAMRole, role.ARN),
				Related:     annotatedRelated(in, role.ARN),
				Evidence:    append(trustEvidence(role, c.Issuer), "meant for: "+refNames(annotatedRelated(in, role.ARN), 5), fmt.Sprintf("%d ServiceAccount(s) of the cluster can assume it today", len(mapped))),
				Remediation: irsaTrustFix(role, c.Issuer, subjectsOf(annotatedRelated(in, role.ARN))),
				Location:    cloudLoc(role.Source),
			})
		}
	},
})

// hasSubCondition reports whether one of the statements conditions the issuer's sub.
func hasSubCondition(role *cloud.Role, issuer string, stmts []int) bool {
	for _, i := range stmts {
		if len(role.Trust.Statements[i-1].SubConditions(issuer)) > 0 {
			return true
		}
	}
	return false
}

// annotatedRelated are the ServiceAccounts annotated with a role.
func annotatedRelated(in *Input, arn string) []inventory.ObjectRef {
	var out []inventory.ObjectRef
	for i := range in.Snapshot.ServiceAccounts {
		sa := &in.Snapshot.ServiceAccounts[i]
		if sa.Annotations[cloud.IRSARoleAnnotation] == arn {
			out = append(out, saRef(sa.Namespace, sa.Name))
		}
	}
	return out
}

func subjectsOf(refs []inventory.ObjectRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, cloud.Subject(r.Namespace, r.Name))
	}
	return out
}

var wiIRSAWildcardCheck = register(&Check{
	ID:       "KW-WI-AWS-002",
	Title:    "IRSA :sub condition uses wildcards",
	Severity: High,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefIRSA},
	Summary: "A trust policy whose <issuer>:sub condition uses StringLike wildcards admits more than one " +
		"ServiceAccount: system:serviceaccount:NS:* (or a name pattern within NS) admits every present and " +
		"future ServiceAccount of namespace NS (high); a wildcard in the namespace, or one that admits a " +
		"ServiceAccount of a namespace that does not exist, admits ServiceAccounts of any namespace (critical).",
	run: func(in *Input, r *run) {
		c, bindings, ok := r.irsaInput()
		if !ok {
			return
		}
		for _, role := range in.irsaRoles(c.Issuer) {
			var patterns []string
			for _, s := range role.Trust.WebIdentityStatements(c.Issuer) {
				if s.Effect != "Allow" {
					continue
				}
				for _, cond := range s.SubConditions(c.Issuer) {
					if !strings.Contains(cond.Op, "Like") || strings.Contains(cond.Op, "Not") {
						continue
					}
					for _, v := range cond.Values {
						if cloud.HasWildcard(v) {
							patterns = append(patterns, v)
						}
					}
				}
			}
			if len(patterns) == 0 {
				continue
			}
			sev, scope := High, ""
			any := role.AssumeWithWebIdentity(c.Issuer, cloud.Subject(probeNamespace, probeName), cloud.STSAudience)
			for _, p := range patterns {
				rest, _ := strings.CutPrefix(p, "system:serviceaccount:")
				ns, _, ok := strings.Cut(rest, ":")
				if any.Result == cloud.Yes || !ok || cloud.HasWildcard(ns) || !strings.HasPrefix(p, "system:serviceaccount:") {
					sev, scope = Critical, "ServiceAccounts of any namespace"
				} else if scope == "" {
					scope = "every ServiceAccount of namespace " + ns + " matching the pattern, present or future"
				}
			}
			if any.Result == cloud.Yes && !hasSubCondition(role, c.Issuer, any.Allow) {
				continue // no sub condition at all: KW-WI-AWS-001
			}
			mapped := mappedTo(in, bindings, role.ARN)
			r.add(Finding{
				Severity: sev,
				Message: fmt.Sprintf("IAM role %s trusts %s: its %s:sub condition is the wildcard %s",
					role.Name, scope, cloud.IssuerHost(c.Issuer), strings.Join(patterns, ", ")),
				Object:      cloudRef(kindIAMRole, role.ARN),
				Related:     mapped,
				Evidence:    append(trustEvidence(role, c.Issuer), "ServiceAccounts it admits today: "+refNames(mapped, 10)),
				Remediation: "List the exact subjects with StringEquals: " + irsaTrustFix(role, c.Issuer, subjectsOf(annotatedRelated(in, role.ARN))),
				Location:    cloudLoc(role.Source),
			})
		}
	},
})

// --- KW-WI-AWS-003 ------------------------------------------------------------------------

var wiIRSANoAudCheck = register(&Check{
	ID:       "KW-WI-AWS-003",
	Title:    "IRSA trust has no :aud condition",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefIRSA},
	Summary: "A trust policy that does not require <issuer>:aud = sts.amazonaws.com accepts the ServiceAccount's " +
		"tokens minted for any audience (a Vault, a webhook, another cloud): whoever receives such a token can " +
		"exchange it for the role. Decided by evaluating the trust with an audience other than sts.amazonaws.com.",
	run: func(in *Input, r *run) {
		c, bindings, ok := r.irsaInput()
		if !ok {
			return
		}
		for _, role := range in.irsaRoles(c.Issuer) {
			sub := cloud.Subject(probeNamespace, probeName)
			for _, b := range bindings {
				if b.Identity == role.ARN && b.Mechanism == cloud.MechIRSA {
					sub = cloud.Subject(b.Namespace, b.ServiceAccount)
					break
				}
			}
			if sub == cloud.Subject(probeNamespace, probeName) {
				if subs := exactSubjects(role, c.Issuer); len(subs) > 0 {
					sub = subs[0]
				}
			}
			d := role.AssumeWithWebIdentity(c.Issuer, sub, "kwid-probe-audience")
			if d.Result != cloud.Yes {
				continue
			}
			r.add(Finding{
				Severity: Medium,
				Message: fmt.Sprintf("IAM role %s accepts tokens of any audience: its trust policy has no %s:aud = sts.amazonaws.com condition",
					role.Name, cloud.IssuerHost(c.Issuer)),
				Object:      cloudRef(kindIAMRole, role.ARN),
				Related:     mappedTo(in, bindings, role.ARN),
				Evidence:    append(trustEvidence(role, c.Issuer), fmt.Sprintf("a token with sub %s and aud kwid-probe-audience is accepted", sub)),
				Remediation: fmt.Sprintf("add \"%s:aud\": \"sts.amazonaws.com\" to the StringEquals condition: %s", cloud.IssuerHost(c.Issuer), irsaTrustFix(role, c.Issuer, exactSubjects(role, c.Issuer))),
				Location:    cloudLoc(role.Source),
			})
		}
	},
})

// exactSubjects are the sub values a role's trust lists without wildcards, for an issuer.
func exactSubjects(role *cloud.Role, issuer string) []string {
	var out []string
	for _, s := range role.Trust.WebIdentityStatements(issuer) {
		if s.Effect != "Allow" {
			continue
		}
		for _, c := range s.SubConditions(issuer) {
			if strings.Contains(c.Op, "Not") || c.Op != "StringEquals" && c.Op != "StringEqualsIgnoreCase" && c.Op != "StringLike" {
				continue
			}
			for _, v := range c.Values {
				if !cloud.HasWildcard(v) && !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// --- KW-WI-AWS-004 ------------------------------------------------------------------------

var wiIRSAMismatchCheck = register(&Check{
	ID:       "KW-WI-AWS-004",
	Title:    "IRSA annotation and trust mismatch, or stale OIDC provider",
	Severity: High,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefIRSA},
	Summary: "(a) A ServiceAccount annotated eks.amazonaws.com/role-arn whose role's trust policy does not admit " +
		"system:serviceaccount:NS:NAME for this cluster's issuer (high): its pods get a token AWS rejects, and " +
		"the trust usually names another (old) cluster, whose identities keep the role. (b) A role used by this " +
		"cluster whose trust federates an OIDC issuer that no cluster of the input has (low): a deleted " +
		"cluster's provider left in place.",
	run: func(in *Input, r *run) {
		c := in.cloudCluster()
		if !r.need("", inventory.ServiceAccounts) || !r.needAWSRoles("") || !r.needIssuer("", c) {
			return
		}
		var missing []string
		used := map[string]bool{}
		for i := range in.Snapshot.ServiceAccounts {
			sa := &in.Snapshot.ServiceAccounts[i]
			arn := sa.Annotations[cloud.IRSARoleAnnotation]
			if arn == "" {
				continue
			}
			role := in.Cloud.AWS.Role(arn)
			if role == nil {
				missing = append(missing, fmt.Sprintf("role %s of ServiceAccount %s/%s is not in the --cloud input", arn, sa.Namespace, sa.Name))
				continue
			}
			used[role.ARN] = true
			aud := sa.Annotations[cloud.IRSAAudienceAnnot]
			if aud == "" {
				aud = cloud.STSAudience
			}
			sub := cloud.Subject(sa.Namespace, sa.Name)
			d := role.AssumeWithWebIdentity(c.Issuer, sub, aud)
			if d.Result != cloud.No {
				continue
			}
			ev := []string{fmt.Sprintf("%s: %s", cloud.IRSARoleAnnotation, arn),
				fmt.Sprintf("a token with sub %s, aud %s from %s: %s", sub, aud, cloud.IssuerHost(c.Issuer), role.Explain(d))}
			if iss := role.Trust.WebIdentityIssuers(); len(iss) > 0 {
				ev = append(ev, "the trust federates "+strings.Join(iss, ", "))
			}
			r.add(Finding{
				Severity: High,
				Message: fmt.Sprintf("ServiceAccount %s/%s is annotated with role %s, but the role's trust does not admit it for this cluster's issuer %s",
					sa.Namespace, sa.Name, role.Name, cloud.IssuerHost(c.Issuer)),
				Object:      saRef(sa.Namespace, sa.Name),
				Related:     []inventory.ObjectRef{cloudRef(kindIAMRole, role.ARN)},
				Evidence:    ev,
				Remediation: irsaTrustFix(role, c.Issuer, []string{sub}) + " (keep statements for other clusters that still need the role)",
			})
		}
		if len(missing) > 0 {
			r.notAssessed("(a) annotated roles", missing)
		}
		for _, b := range in.Cloud.Bindings(c, in.cloudServiceAccounts()) {
			used[b.Identity] = true
		}
		for _, role := range in.Cloud.AWS.Roles {
			if !used[role.ARN] {
				continue
			}
			for _, host := range role.Trust.WebIdentityIssuers() {
				if host == cloud.IssuerHost(c.Issuer) || in.Cloud.KnownIssuer(host) {
					continue
				}
				r.add(Finding{
					Severity: Low,
					Message:  fmt.Sprintf("IAM role %s, used by this cluster, trusts OIDC issuer %s, which no cluster of the input has", role.Name, host),
					Object:   cloudRef(kindIAMRole, role.ARN),
					Related:  mappedTo(in, nil, role.ARN),
					Evidence: []string{"trust federates arn:aws:iam::" + role.Account() + ":oidc-provider/" + host, "clusters in the input: " + knownIssuers(in, c)},
					Remediation: fmt.Sprintf("if that cluster is gone, remove its statement from the trust of %s and delete its provider: aws iam delete-open-id-connect-provider --open-id-connect-provider-arn arn:aws:iam::%s:oidc-provider/%s",
						role.Name, role.Account(), host),
					Location: cloudLoc(role.Source),
				})
			}
		}
	},
})

func knownIssuers(in *Input, c cloud.Cluster) string {
	out := []string{cloud.IssuerHost(c.Issuer)}
	for _, e := range in.Cloud.AWS.Clusters {
		if h := cloud.IssuerHost(e.Issuer); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return strings.Join(out, ", ")
}

// --- KW-WI-AWS-005 ------------------------------------------------------------------------

var wiOverPrivilegedCheck = register(&Check{
	ID:       "KW-WI-AWS-005",
	Title:    "IRSA / Pod Identity role over-privileged",
	Severity: High,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefEKSBestPractice, "AWS IAM best practices: grant least privilege, use permissions boundaries"},
	Summary: "A role that ServiceAccounts of the cluster hold (IRSA annotation, a trust that admits them, a Pod " +
		"Identity association) with administrator-like permissions: AdministratorAccess or an Allow of * on * " +
		"(critical), IAMFullAccess or IAM actions that rewrite permissions on * (high), and no permissions " +
		"boundary. A role with a boundary is not reported (the boundary caps it). Attached customer-managed " +
		"policies whose document is not in the input are listed as not assessed.",
	run: func(in *Input, r *run) {
		c := in.cloudCluster()
		if !r.needAWSRoles("") {
			return
		}
		bindings := in.Cloud.Bindings(c, in.cloudServiceAccounts())
		var unknown []string
		for _, role := range in.Cloud.AWS.Roles {
			mapped := mappedTo(in, bindings, role.ARN)
			if len(mapped) == 0 || role.PermissionsBoundary != "" {
				continue
			}
			if !role.AttachedKnown {
				unknown = append(unknown, fmt.Sprintf("role %s: no aws iam list-attached-role-policies output", role.Name))
			}
			why, docs := in.Cloud.AdminLike(role)
			for _, d := range docs {
				unknown = append(unknown, fmt.Sprintf("role %s: document of attached policy %s (aws iam get-policy-version)", role.Name, d))
			}
			if len(why) == 0 {
				continue
			}
			sev := High
			if slices.ContainsFunc(why, func(w string) bool {
				return strings.Contains(w, "AdministratorAccess") || strings.Contains(w, "allows *")
			}) {
				sev = Critical
			}
			r.add(Finding{
				Severity: sev,
				Message: fmt.Sprintf("IAM role %s, held by %s, has administrator-like permissions and no permissions boundary",
					role.Name, refNames(mapped, 3)),
				Object:   cloudRef(kindIAMRole, role.ARN),
				Related:  mapped,
				Evidence: append(why, "no PermissionsBoundary"),
				Remediation: fmt.Sprintf("replace the broad policies of %s with one scoped to the actions and resources its workloads use, and set a boundary: aws iam put-role-permissions-boundary --role-name %s --permissions-boundary arn:aws:iam::%s:policy/BOUNDARY",
					role.Name, role.Name, role.Account()),
				Location: cloudLoc(role.Source),
			})
		}
		if len(unknown) > 0 {
			r.notAssessed("policies not in the input", unknown)
		}
	},
})

// --- KW-WI-AWS-006 ------------------------------------------------------------------------

var wiWhoCanBecomeCheck = register(&Check{
	ID:         "KW-WI-AWS-006",
	Title:      "Who can become a ServiceAccount mapped to a cloud role",
	Severity:   Medium,
	WholeGraph: true,
	Reads:      append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:       []string{wiRefEKSBestPractice, "kwid paths --to cloud:ROLE"},
	Summary: "Whoever can act as a ServiceAccount (create its pods or tokens, exec into its pods, read its token " +
		"Secrets, impersonate it, or reach its pods through a node) holds the cloud role it maps to. One finding per " +
		"mapped ServiceAccount that subjects other than itself can become by their own rights, naming them and " +
		"their shortest path; groups are named rather than their members, and chains through other identities are " +
		"left to KW-ESC-009 and `kwid paths --to sa:NS/NAME`; " +
		"cluster-admin-equivalent subjects and control-plane identities (system: users and groups, kube-system " +
		"ServiceAccounts) are left out. High when the role is administrator-like. With cloud input the mapping " +
		"is what the cloud grants; without it, the annotation's claim.",
	run: func(in *Input, r *run) {
		if len(intendedMappings(in)) == 0 || !r.need("", rbacKinds...) {
			return
		}
		for _, h := range CloudRoleHolders(in) {
			sev := Medium
			if in.Cloud != nil {
				for _, arn := range h.Roles {
					if role := in.Cloud.AWS.Role(arn); role != nil && role.PermissionsBoundary == "" {
						if why, _ := in.Cloud.AdminLike(role); len(why) > 0 {
							sev = High
						}
					}
				}
			}
			sa := h.ServiceAccount
			r.add(Finding{
				Severity: sev,
				Message: fmt.Sprintf("%d subject(s) can act as ServiceAccount %s/%s and so hold cloud role %s",
					len(h.Subjects), sa.Namespace, sa.Name, strings.Join(h.Roles, ", ")),
				Object:   sa,
				Related:  h.Subjects,
				Evidence: h.Shown,
				Remediation: fmt.Sprintf("remove the rights that let these subjects create pods or tokens for, exec into, or impersonate %s/%s (see kwid paths --to sa:%s/%s), or give the role to a ServiceAccount in a namespace they cannot reach",
					sa.Namespace, sa.Name, sa.Namespace, sa.Name),
			})
		}
	},
})

// CloudRoleHolder is a ServiceAccount mapped to cloud roles and the subjects (other than
// itself, admins and control-plane identities) that can act as it by their own rights.
type CloudRoleHolder struct {
	ServiceAccount inventory.ObjectRef
	Roles          []string
	Subjects       []inventory.ObjectRef
	// Shown are the first subjects with their shortest path's primitives, for evidence.
	Shown []string
}

// CloudRoleHolders computes (once per Input) who can become each ServiceAccount that the
// cloud really maps to a role: KW-WI-AWS-006's findings, and kwid diff's paths to cloud
// roles. It needs the RBAC kinds; nil when there is no mapping.
func CloudRoleHolders(in *Input) []CloudRoleHolder {
	in.cloudHolders.once.Do(func() { in.cloudHolders.v = cloudRoleHolders(in) })
	return in.cloudHolders.v
}

func cloudRoleHolders(in *Input) []CloudRoleHolder {
	mappings := intendedMappings(in)
	if len(mappings) == 0 {
		return nil
	}
	g := in.Graph()
	targets := map[int32][]string{}
	var order []int32
	for _, m := range mappings {
		id, ok := g.Lookup(graph.ServiceAccount, m.Namespace, m.ServiceAccount)
		if !ok || !slices.ContainsFunc(g.Out(id), func(ei int32) bool {
			e := g.Edge(ei)
			return e.Prim == graph.MapsTo && g.Node(e.To).Name == m.Identity
		}) {
			continue // a claim the cloud input refutes (KW-WI-AWS-004, KW-WI-GCP-001)
		}
		if _, seen := targets[id]; !seen {
			order = append(order, id)
		}
		if !slices.Contains(targets[id], m.Identity) {
			targets[id] = append(targets[id], m.Identity)
		}
	}
	slices.Sort(order)
	// One backward search per mapped ServiceAccount, each costing what it visits: group
	// membership is not followed (a group that can become the ServiceAccount is named,
	// not each of its members), nor are other identities (chains of identities are
	// KW-ESC-009's and kwid paths'), so a search stays near its ServiceAccount.
	searcher := g.NewSearcher()
	searcher.SkipMembers, searcher.Direct = true, true
	var out []CloudRoleHolder
	var reached []int32
	for _, sa := range order {
		n := g.Node(sa)
		tree, visited := searcher.ShortestTo(sa)
		reached = reached[:0]
		for _, id := range visited {
			if k := g.Node(id).Kind; (k == graph.ServiceAccount || k == graph.User || k == graph.Group) && id != sa && !controlPlane(g.Node(id)) && !g.Admin(id) {
				reached = append(reached, id)
			}
		}
		if len(reached) == 0 {
			continue
		}
		// ServiceAccounts, then Users, then Groups, each in the graph's order.
		slices.SortFunc(reached, func(a, b int32) int {
			return cmp.Or(cmp.Compare(kindRank(g.Node(a).Kind), kindRank(g.Node(b).Kind)), cmp.Compare(a, b))
		})
		h := CloudRoleHolder{ServiceAccount: saRef(n.Namespace, n.Name), Roles: targets[sa], Subjects: make([]inventory.ObjectRef, 0, len(reached))}
		for _, id := range reached {
			h.Subjects = append(h.Subjects, g.Node(id).ObjectRef())
			if len(h.Shown) == 8 {
				continue
			}
			// Paths are built (with their evidence) only for the subjects shown.
			p, _ := tree.Shortest(id)
			var prims []string
			for _, hop := range p.Hops {
				prims = append(prims, hop.Primitive)
			}
			h.Shown = append(h.Shown, fmt.Sprintf("%s (%s)", g.Node(id).Ref(), strings.Join(prims, " -> ")))
		}
		if len(reached) > len(h.Shown) {
			h.Shown = append(h.Shown, fmt.Sprintf("and %d more (kwid paths --to sa:%s/%s)", len(reached)-len(h.Shown), n.Namespace, n.Name))
		}
		out = append(out, h)
	}
	return out
}

// kindRank orders identities as KW-WI-AWS-006 lists them: ServiceAccounts, Users, Groups.
func kindRank(k graph.Kind) int {
	switch k {
	case graph.ServiceAccount:
		return 0
	case graph.User:
		return 1
	}
	return 2
}

// intendedMappings are the ServiceAccounts meant to hold a cloud identity: annotated
// (IRSA, GKE, Azure), named by a Pod Identity association, a federated credential, a GSA
// binding, or by exact subject in an IAM trust. (A trust open to every ServiceAccount
// is KW-WI-AWS-001's, not a reason to list every ServiceAccount here.)
func intendedMappings(in *Input) []cloud.Binding {
	var out []cloud.Binding
	claimed := map[[3]string]bool{}
	for i := range in.Snapshot.ServiceAccounts {
		sa := &in.Snapshot.ServiceAccounts[i]
		for _, a := range []struct{ key, prefix string }{{cloud.IRSARoleAnnotation, ""}, {cloud.GKEAnnotation, "gcp:"}, {cloud.AzureClientIDAnnot, "azure:"}} {
			if v := sa.Annotations[a.key]; v != "" {
				claimed[[3]string{sa.Namespace, sa.Name, a.prefix + v}] = true
				out = append(out, cloud.Binding{Namespace: sa.Namespace, ServiceAccount: sa.Name, Identity: a.prefix + v})
			}
		}
	}
	if in.Cloud == nil {
		return out
	}
	c := in.cloudCluster()
	for _, b := range in.Cloud.Bindings(c, in.cloudServiceAccounts()) {
		if claimed[[3]string{b.Namespace, b.ServiceAccount, b.Identity}] {
			continue
		}
		if b.Mechanism == cloud.MechIRSA {
			role := in.Cloud.AWS.Role(b.Identity)
			if role == nil || !slices.Contains(exactSubjects(role, c.Issuer), cloud.Subject(b.Namespace, b.ServiceAccount)) {
				continue
			}
		}
		out = append(out, b)
	}
	return out
}

// controlPlane reports whether an identity belongs to the control plane.
func controlPlane(n graph.NodeInfo) bool {
	return strings.HasPrefix(n.Name, "system:") || n.Namespace == inventory.SystemNamespace
}
