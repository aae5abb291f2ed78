package cloud

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Cluster is the Kubernetes cluster under analysis as the cloud input describes it.
type Cluster struct {
	// Issuer is its ServiceAccount token issuer (from the cloud input, else the
	// Snapshot's).
	Issuer string
	EKS    *EKSCluster
	GKE    *GKECluster
	AKS    *AKSCluster
}

// ClusterFor finds the cloud description of the cluster a Snapshot was read from, by
// issuer or API server endpoint; when the Snapshot names neither (manifest files), the
// only cluster of a cloud is taken as the one.
func (inv *Inventory) ClusterFor(server, issuer string) Cluster {
	c := Cluster{Issuer: issuer}
	if inv == nil {
		return c
	}
	norm := func(s string) string { return strings.TrimSuffix(strings.ToLower(s), "/") }
	unknown := server == "" && issuer == ""
	for _, e := range inv.AWS.Clusters {
		if issuer != "" && norm(e.Issuer) == norm(issuer) || server != "" && norm(e.Endpoint) == norm(server) {
			c.EKS = e
		}
	}
	if c.EKS == nil && unknown && len(inv.AWS.Clusters) == 1 {
		c.EKS = inv.AWS.Clusters[0]
	}
	for _, g := range inv.GCP.Clusters {
		if issuer != "" && norm(g.Issuer()) == norm(issuer) || server != "" && g.Endpoint != "" && strings.Contains(server, g.Endpoint) {
			c.GKE = g
		}
	}
	if c.GKE == nil && unknown && len(inv.GCP.Clusters) == 1 && c.EKS == nil {
		c.GKE = inv.GCP.Clusters[0]
	}
	for _, a := range inv.Azure.Clusters {
		if issuer != "" && norm(a.Issuer) == norm(issuer) {
			c.AKS = a
		}
	}
	if c.AKS == nil && unknown && len(inv.Azure.Clusters) == 1 && c.EKS == nil && c.GKE == nil {
		c.AKS = inv.Azure.Clusters[0]
	}
	switch {
	case c.Issuer != "":
	case c.EKS != nil:
		c.Issuer = c.EKS.Issuer
	case c.GKE != nil:
		c.Issuer = c.GKE.Issuer()
	case c.AKS != nil:
		c.Issuer = c.AKS.Issuer
	}
	return c
}

// KnownIssuer reports whether an issuer host belongs to a cluster of the input.
func (inv *Inventory) KnownIssuer(host string) bool {
	for _, e := range inv.AWS.Clusters {
		if IssuerHost(e.Issuer) == host {
			return true
		}
	}
	for _, g := range inv.GCP.Clusters {
		if IssuerHost(g.Issuer()) == host {
			return true
		}
	}
	for _, a := range inv.Azure.Clusters {
		if IssuerHost(a.Issuer) == host {
			return true
		}
	}
	return false
}

// ServiceAccount is a Kubernetes ServiceAccount as the cloud side needs it.
type ServiceAccount struct {
	Namespace, Name string
	Annotations     map[string]string
}

// Binding is one ServiceAccount-to-cloud-identity mapping that the cloud side grants.
type Binding struct {
	Namespace, ServiceAccount string
	// Identity names the cloud identity as the graph does: an IAM role ARN,
	// gcp:GSA-EMAIL, azure:CLIENT-ID.
	Identity string
	// Mechanism is IRSA, EKS Pod Identity, GKE Workload Identity or Azure Workload
	// Identity.
	Mechanism string
	// Result is Yes, or Maybe when a condition kwid cannot decide offline stands in
	// the way.
	Result   Tri
	Evidence string
	Source   Source
}

// Mechanisms.
const (
	MechIRSA        = "IRSA"
	MechPodIdentity = "EKS Pod Identity"
	MechGKE         = "GKE Workload Identity"
	MechAzure       = "Azure Workload Identity"
)

// Bindings returns every mapping the cloud input grants to the given (existing) ServiceAccounts of
// a cluster: IAM roles whose trust admits the ServiceAccount's token from the cluster's
// issuer (whether or not the ServiceAccount is annotated: whoever gets such a token can
// assume the role), Pod Identity associations whose role trusts Pod Identity for it, GSAs
// granting it roles/iam.workloadIdentityUser in the cluster's pool, and Azure federated
// credentials for its subject and the cluster's issuer.
func (inv *Inventory) Bindings(c Cluster, sas []ServiceAccount) []Binding {
	if inv == nil {
		return nil
	}
	var out []Binding
	if c.Issuer != "" {
		for _, r := range inv.AWS.Roles {
			out = append(out, r.irsaBindings(c.Issuer, sas)...)
		}
	}
	if c.EKS != nil {
		out = append(out, inv.podIdentityBindings(c.EKS)...)
	}
	if c.GKE != nil && c.GKE.WorkloadPool != "" {
		out = append(out, inv.gkeBindings(c.GKE.WorkloadPool, sas)...)
	}
	if c.Issuer != "" {
		for _, fc := range inv.Azure.Credentials {
			if IssuerHost(fc.Issuer) != IssuerHost(c.Issuer) {
				continue
			}
			ns, name, ok := SplitSubject(fc.Subject)
			if !ok {
				continue
			}
			id := "azure:identity/" + fc.Identity
			if mi := inv.Azure.Identity(fc); mi != nil {
				id = "azure:" + mi.ClientID
			}
			out = append(out, Binding{Namespace: ns, ServiceAccount: name, Identity: id, Mechanism: MechAzure, Result: Yes, Source: fc.Source,
				Evidence: fmt.Sprintf("federated credential %s of managed identity %s trusts subject %s of issuer %s", fc.Name, fc.Identity, fc.Subject, fc.Issuer)})
		}
	}
	exists := make(map[[2]string]bool, len(sas))
	for _, sa := range sas {
		exists[[2]string{sa.Namespace, sa.Name}] = true
	}
	out = slices.DeleteFunc(out, func(b Binding) bool { return !exists[[2]string{b.Namespace, b.ServiceAccount}] })
	slices.SortStableFunc(out, func(a, b Binding) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.ServiceAccount, b.ServiceAccount), cmp.Compare(a.Identity, b.Identity))
	})
	return out
}

// irsaBindings evaluates the trust for each ServiceAccount whose subject a statement
// could admit (a statement with only exact sub values is not evaluated for others).
func (r *Role) irsaBindings(issuer string, sas []ServiceAccount) []Binding {
	stmts := r.Trust.WebIdentityStatements(issuer)
	if len(stmts) == 0 {
		return nil
	}
	exact, open := map[string]bool{}, false
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		conds := s.SubConditions(issuer)
		if len(conds) == 0 {
			open = true
		}
		for _, c := range conds {
			if c.Op != "StringEquals" || negated(c.Op) {
				open = true
			}
			for _, v := range c.Values {
				exact[v] = true
			}
		}
	}
	var out []Binding
	for _, sa := range sas {
		sub := Subject(sa.Namespace, sa.Name)
		if !open && !exact[sub] {
			continue
		}
		aud := STSAudience
		d := r.AssumeWithWebIdentity(issuer, sub, aud)
		if d.Result == No {
			if a := sa.Annotations[IRSAAudienceAnnot]; a != "" && a != aud {
				if d = r.AssumeWithWebIdentity(issuer, sub, a); d.Result != No {
					aud = a
				}
			}
		}
		if d.Result == No {
			continue
		}
		out = append(out, Binding{Namespace: sa.Namespace, ServiceAccount: sa.Name, Identity: r.ARN, Mechanism: MechIRSA, Result: d.Result, Source: r.Source,
			Evidence: fmt.Sprintf("trust policy of role %s admits sub %s, aud %s from issuer %s: %s", r.Name, sub, aud, IssuerHost(issuer), r.Explain(d))})
	}
	return out
}

func (inv *Inventory) podIdentityBindings(c *EKSCluster) []Binding {
	var out []Binding
	for _, a := range inv.AWS.Associations {
		if a.ClusterName != c.Name || a.RoleARN == "" {
			continue
		}
		r := inv.AWS.Role(a.RoleARN)
		b := Binding{Namespace: a.Namespace, ServiceAccount: a.ServiceAccount, Identity: a.RoleARN, Mechanism: MechPodIdentity, Source: a.Source}
		if r == nil {
			b.Result = Maybe
			b.Evidence = fmt.Sprintf("Pod Identity association %s maps %s/%s to role %s (its get-role output is not in the input: trust not verified)", a.AssociationID, a.Namespace, a.ServiceAccount, a.RoleARN)
		} else {
			d := r.AssumeWithPodIdentity(PodIdentityContext{ClusterARN: c.ARN, ClusterName: c.Name, Namespace: a.Namespace, ServiceAccount: a.ServiceAccount, SessionTags: !a.DisableSessionTags})
			if d.Result == No {
				continue
			}
			b.Result = d.Result
			b.Evidence = fmt.Sprintf("Pod Identity association %s maps %s/%s to role %s, whose trust admits pods.eks.amazonaws.com: %s", a.AssociationID, a.Namespace, a.ServiceAccount, r.Name, r.Explain(d))
		}
		out = append(out, b)
		if a.TargetRoleARN != "" {
			t := b
			t.Identity = a.TargetRoleARN
			t.Result = min(b.Result, Maybe)
			t.Evidence = fmt.Sprintf("Pod Identity association %s chains role %s to target role %s (its trust is in the target account)", a.AssociationID, a.RoleARN, a.TargetRoleARN)
			out = append(out, t)
		}
	}
	return out
}

func (inv *Inventory) gkeBindings(pool string, sas []ServiceAccount) []Binding {
	var out []Binding
	for _, g := range inv.WorkloadIdentityGrants() {
		km, p := g.Member, g.Policy
		if km.Pool != pool || km.Other != "" {
			continue
		}
		id := "gcp:" + p.Resource
		if !p.ServiceAccount {
			id = "gcp:" + p.Resource + " (every service account)"
		}
		res := Yes
		if g.Binding.Condition != nil {
			res = Maybe
		}
		for _, sa := range sas {
			if km.Namespace != "" && km.Namespace != sa.Namespace || km.Name != "" && km.Name != sa.Name {
				continue
			}
			out = append(out, Binding{Namespace: sa.Namespace, ServiceAccount: sa.Name, Identity: id, Mechanism: MechGKE, Result: res, Source: p.Source,
				Evidence: fmt.Sprintf("IAM policy of %s grants %s to %s (%s)", p.Resource, WorkloadIdentityUser, km.Member, km.Scope())})
		}
	}
	return out
}

// --- permissions -----------------------------------------------------------------------

// adminManaged are AWS managed policies that are admin-like by name.
var adminManaged = map[string]string{
	"AdministratorAccess": "full administrator",
	"IAMFullAccess":       "iam:* (can grant itself anything)",
}

// iamEscalation are actions that let a role rewrite its own (or any) permissions.
var iamEscalation = []string{"iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:CreatePolicyVersion", "iam:UpdateAssumeRolePolicy"}

// AdminLike lists why a role's permissions are administrator-like (* on *, iam:* or IAM
// actions that rewrite permissions, AdministratorAccess), and which attached policies'
// documents were not in the input.
func (inv *Inventory) AdminLike(r *Role) (why, unknown []string) {
	check := func(name string, p *Policy) {
		for i := range p.Statements {
			s := &p.Statements[i]
			if s.Effect != "Allow" || len(s.Conditions) > 0 || !anyGlob(s.Resource, "*", false) && !slices.Contains(s.Resource, "*") {
				continue
			}
			switch {
			case s.coversAction("kwid-any-service:AnyAction"): // * or *:*, or a NotAction
				why = append(why, fmt.Sprintf("%s statement %s allows %s on *", name, s.label(), actionText(s)))
			default:
				for _, a := range iamEscalation {
					if s.coversAction(a) {
						why = append(why, fmt.Sprintf("%s statement %s allows %s on * (the role can grant itself any permission)", name, s.label(), a))
						break
					}
				}
			}
		}
	}
	for _, a := range r.Attached {
		if what, ok := adminManaged[a.Name]; ok && strings.HasPrefix(a.ARN, "arn:aws:iam::aws:policy/") {
			why = append(why, fmt.Sprintf("AWS managed policy %s attached (%s)", a.Name, what))
			continue
		}
		if mp := inv.AWS.Policy(a.ARN); mp != nil {
			check("managed policy "+a.Name, mp.Document)
		} else if !strings.HasPrefix(a.ARN, "arn:aws:iam::aws:policy/") {
			unknown = append(unknown, a.ARN)
		}
	}
	for _, ip := range r.Inline {
		check("inline policy "+ip.Name, ip.Document)
	}
	return why, unknown
}

func actionText(s *Statement) string {
	if s.NotAction != nil {
		return "every action except " + strings.Join(s.NotAction, ", ")
	}
	return strings.Join(s.Action, ", ")
}

// UsesPrincipalTags reports whether a role's permissions read Pod Identity session tags
// (ABAC on aws:PrincipalTag/kubernetes-* or eks-cluster-*), which disableSessionTags
// removes.
func (inv *Inventory) UsesPrincipalTags(r *Role) []string {
	var out []string
	scan := func(name string, p *Policy) {
		for i := range p.Statements {
			s := &p.Statements[i]
			refs := func(v string) bool {
				v = strings.ToLower(v)
				return strings.Contains(v, "aws:principaltag/kubernetes-") || strings.Contains(v, "aws:principaltag/eks-cluster-")
			}
			hit := slices.ContainsFunc(s.Resource, refs)
			for _, c := range s.Conditions {
				hit = hit || refs(c.Key) || slices.ContainsFunc(c.Values, refs)
			}
			if hit {
				out = append(out, fmt.Sprintf("%s statement %s", name, s.label()))
			}
		}
	}
	for _, a := range r.Attached {
		if mp := inv.AWS.Policy(a.ARN); mp != nil {
			scan("managed policy "+a.Name, mp.Document)
		}
	}
	for _, ip := range r.Inline {
		scan("inline policy "+ip.Name, ip.Document)
	}
	return out
}
