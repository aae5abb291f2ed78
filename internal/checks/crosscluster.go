package checks

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	corev1 "k8s.io/api/core/v1"
)

// ClusterInput is one cluster of a multi-cluster scan: a unique label (the kubeconfig
// context or the snapshot's name) and the checks' input, with its cloud side.
type ClusterInput struct {
	Name string
	In   *Input
}

// CrossFinding is a finding about several clusters at once; Clusters names the clusters
// of the scan involved (by their labels).
type CrossFinding struct {
	Finding
	Clusters []string `json:"clusters"`
}

// CrossResult is what the cross-cluster checks found.
type CrossResult struct {
	Findings    []CrossFinding `json:"findings"`
	NotAssessed []NotAssessed  `json:"notAssessed"`
}

// crossClusterCheck is the catalog entry of the cross-cluster trust findings; it finds
// nothing in a single-cluster scan (CrossCluster runs it over several clusters).
var crossClusterCheck = register(&Check{
	ID:       "KW-WI-GEN-002",
	Title:    "One cloud identity trusted from several clusters",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefIRSA, "Azure Workload Identity: federated identity credentials"},
	Summary: "Multi-cluster scans only (kwid scan --context a,b or several --snapshot): an IAM role whose trust " +
		"admits ServiceAccounts of several clusters' issuers, an Azure federated credential whose issuer several " +
		"clusters share, or clusters sharing one OIDC issuer (their tokens are interchangeable for every cloud " +
		"trust of it). Each cluster is named with the ServiceAccounts that can assume the identity there: high " +
		"when in some cluster the ServiceAccount does not exist and an RBAC subject can create it (that " +
		"cluster's admins become the other cluster's identity), medium when an existing ServiceAccount holds " +
		"it without being annotated for it (or the trust admits every ServiceAccount), low when every cluster's " +
		"ServiceAccount is annotated for it (shared on purpose: one compromised cluster holds it for all). GKE " +
		"identity sameness (one workload pool for several clusters) is reported as KW-WI-GCP-003.",
	run: func(*Input, *run) {},
})

// holder is how one subject of a cloud trust stands in one cluster.
type holder struct {
	cluster  string
	in       *Input
	ns, name string
	// every: the trust admits every ServiceAccount (every namespace when ns is set and
	// name is "") of the cluster.
	every     bool
	exists    bool
	annotated bool
	creatable bool
}

// satisfies reports whether the cluster can hold the identity through this subject:
// the ServiceAccount exists, the trust admits every one, or someone can create it.
func (h holder) satisfies() bool { return h.every || h.exists || h.creatable }

func (h holder) evidence() string {
	prefix := "cluster " + h.cluster + ": "
	switch {
	case h.every && h.name == "" && h.ns != "":
		return prefix + "every ServiceAccount of namespace " + h.ns
	case h.every:
		return prefix + "every ServiceAccount of the cluster"
	case h.exists && h.annotated:
		return prefix + "ServiceAccount " + h.ns + "/" + h.name + " exists, annotated for this identity"
	case h.exists:
		return prefix + "ServiceAccount " + h.ns + "/" + h.name + " exists, not annotated for this identity (it holds it anyway)"
	case h.name == "":
		return prefix + "no namespace " + h.ns
	}
	return prefix + "no ServiceAccount " + h.ns + "/" + h.name + "; " + creators(h.in, h.ns)
}

// severity rates a set of holders: squattable somewhere is high, an unintended holder
// medium, every holder annotated low.
func holdersSeverity(hs []holder) Severity {
	sev := Low
	for _, h := range hs {
		switch {
		case h.creatable && !h.exists && !h.every:
			return High
		case h.every || h.exists && !h.annotated:
			sev = Medium
		}
	}
	return sev
}

// subjectHolder describes ServiceAccount ns/name of one cluster; annotation is the
// annotation key and value meaning "mapped to this identity" ("" key: none).
func subjectHolder(c ClusterInput, ns, name, annotKey, annotValue string) holder {
	h := holder{cluster: c.Name, in: c.In, ns: ns, name: name}
	if sa := c.In.Snapshot.ServiceAccount(ns, name); sa != nil {
		h.exists = true
		h.annotated = annotKey != "" && strings.EqualFold(sa.Annotations[annotKey], annotValue)
		return h
	}
	h.creatable = canCreateServiceAccounts(c.In, ns)
	return h
}

func canCreateServiceAccounts(in *Input, ns string) bool {
	for _, h := range in.Holders(Allows(rbac.Request{Verb: "create", Resource: "serviceaccounts", Namespace: ns})) {
		if h.ClusterWide() || slices.Contains(h.Namespaces(), ns) {
			return true
		}
	}
	return false
}

// CrossCluster runs the cross-cluster checks over the clusters of a multi-cluster scan:
// KW-WI-GEN-002 (IAM roles and Azure federated credentials trusted from several clusters,
// shared issuers) and KW-WI-GCP-003 (GKE identity sameness: a GSA binding that clusters
// of one workload pool can each satisfy). The configuration of the first cluster applies
// (disabled checks, severity overrides).
func CrossCluster(clusters []ClusterInput) *CrossResult {
	res := &CrossResult{Findings: []CrossFinding{}, NotAssessed: []NotAssessed{}}
	if len(clusters) < 2 {
		return res
	}
	cfg := clusters[0].In.Config
	x := &crossRun{res: res}
	// A cluster whose ServiceAccounts were not read cannot say which exist.
	for _, c := range clusters {
		if reasons := c.In.Snapshot.Unreadable(inventory.ServiceAccounts); len(reasons) > 0 {
			for _, id := range []string{crossClusterCheck.ID, gcpSamenessCheck.ID} {
				x.notAssessed(id, "cluster "+c.Name+" left out: "+strings.Join(reasons, "; "))
			}
			continue
		}
		x.clusters = append(x.clusters, c)
	}
	for _, c := range x.clusters {
		x.issuers = append(x.issuers, c.In.cloudCluster())
	}
	if !slices.Contains(cfg.Disabled, crossClusterCheck.ID) {
		x.sharedIssuers()
		x.iamRoles()
		x.azureCredentials()
	}
	if !slices.Contains(cfg.Disabled, gcpSamenessCheck.ID) {
		x.gkeSameness()
	}
	for i := range res.Findings {
		if sev, ok := cfg.Severity[res.Findings[i].Check]; ok {
			res.Findings[i].Severity = sev
		}
	}
	slices.SortStableFunc(res.Findings, func(a, b CrossFinding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Check, b.Check), cmp.Compare(a.Object.String(), b.Object.String()))
	})
	return res
}

type crossRun struct {
	clusters []ClusterInput
	// issuers are the clusters' cloud descriptions, by index.
	issuers []cloud.Cluster
	res     *CrossResult
}

func (x *crossRun) add(c *Check, f Finding, hs []holder) {
	f.Check = c.ID
	if f.Title == "" {
		f.Title = c.Title
	}
	if f.References == nil {
		f.References = c.Refs
	}
	var names []string
	for _, h := range hs {
		if !slices.Contains(names, h.cluster) {
			names = append(names, h.cluster)
		}
		if h.name != "" {
			if ref := saRef(h.ns, h.name); !slices.Contains(f.Related, ref) {
				f.Related = append(f.Related, ref)
			}
		}
	}
	x.res.Findings = append(x.res.Findings, CrossFinding{Finding: f, Clusters: names})
}

func (x *crossRun) notAssessed(check, reason string) {
	x.res.NotAssessed = append(x.res.NotAssessed, NotAssessed{Check: check, Reason: reason})
}

// satisfying keeps the holders that can hold the identity and reports in how many
// clusters they are.
func satisfying(hs []holder) ([]holder, int) {
	var out []holder
	var names []string
	for _, h := range hs {
		if h.satisfies() {
			out = append(out, h)
			if !slices.Contains(names, h.cluster) {
				names = append(names, h.cluster)
			}
		}
	}
	return out, len(names)
}

func evidenceOf(hs []holder) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.evidence())
	}
	return out
}

func clusterNames(hs []holder) string {
	var names []string
	for _, h := range hs {
		if !slices.Contains(names, h.cluster) {
			names = append(names, h.cluster)
		}
	}
	return strings.Join(names, ", ")
}

// sharedIssuers reports clusters that share one OIDC issuer.
func (x *crossRun) sharedIssuers() {
	byHost := map[string][]string{}
	var hosts []string
	for i, c := range x.issuers {
		if c.Issuer == "" {
			continue
		}
		h := cloud.IssuerHost(c.Issuer)
		if _, ok := byHost[h]; !ok {
			hosts = append(hosts, h)
		}
		byHost[h] = append(byHost[h], x.clusters[i].Name)
	}
	for _, h := range hosts {
		names := byHost[h]
		if len(names) < 2 {
			continue
		}
		x.res.Findings = append(x.res.Findings, CrossFinding{Clusters: names, Finding: Finding{
			Check:    crossClusterCheck.ID,
			Severity: Low,
			Title:    crossClusterCheck.Title,
			Message: fmt.Sprintf("clusters %s share the OIDC issuer %s: a cloud trust of that issuer cannot tell their ServiceAccount tokens apart",
				strings.Join(names, ", "), h),
			Object:      cloudRef("OIDCIssuer", "https://"+h),
			Evidence:    []string{"issuer https://" + h + " is the issuer of clusters " + strings.Join(names, ", ")},
			Remediation: "give each cluster its own issuer (--service-account-issuer) and signing key, and trust each issuer separately",
			References:  crossClusterCheck.Refs,
		}})
	}
}

// iamRoles reports IAM roles whose trust admits ServiceAccounts of several clusters.
func (x *crossRun) iamRoles() {
	seen := map[string]bool{}
	var roles []*cloud.Role
	for _, c := range x.clusters {
		if c.In.Cloud == nil {
			continue
		}
		for _, r := range c.In.Cloud.AWS.Roles {
			if !seen[r.ARN] {
				seen[r.ARN] = true
				roles = append(roles, r)
			}
		}
	}
	if len(roles) == 0 {
		return
	}
	for i, c := range x.clusters {
		if x.issuers[i].Issuer == "" && c.In.usesAWS() {
			x.notAssessed(crossClusterCheck.ID, "cluster "+c.Name+": its OIDC issuer is unknown (give aws eks describe-cluster output in --cloud, or read a live cluster): IAM trusts not evaluated for it")
		}
	}
	slices.SortFunc(roles, func(a, b *cloud.Role) int { return cmp.Compare(a.ARN, b.ARN) })
	for _, role := range roles {
		var hs []holder
		for i, c := range x.clusters {
			if iss := x.issuers[i].Issuer; iss != "" {
				hs = append(hs, roleHolders(c, role, iss)...)
			}
		}
		sat, n := satisfying(hs)
		if n < 2 {
			continue
		}
		x.add(crossClusterCheck, Finding{
			Severity: holdersSeverity(sat),
			Message: fmt.Sprintf("IAM role %s can be assumed from %d clusters (%s): whoever controls one of them holds it for all",
				role.Name, n, clusterNames(sat)),
			Object:      cloudRef(kindIAMRole, role.ARN),
			Evidence:    evidenceOf(hs),
			Remediation: "use one role per cluster: a role whose trust names only that cluster's OIDC provider and, under StringEquals, its exact ServiceAccount (ISSUER:sub) and ISSUER:aud = sts.amazonaws.com; then drop the other clusters' statements from " + role.Name,
			Location:    cloudLoc(role.Source),
		}, sat)
	}
}

// roleHolders are the ServiceAccounts of one cluster that a role's trust admits through
// the cluster's issuer: the exact subjects of the trust (existing or not), and existing
// ServiceAccounts matching a wildcard; one "every ServiceAccount" holder for an open trust.
func roleHolders(c ClusterInput, role *cloud.Role, issuer string) []holder {
	allowed := false
	wildcard := false
	for _, s := range role.Trust.WebIdentityStatements(issuer) {
		if s.Effect != "Allow" {
			continue
		}
		allowed = true
		for _, cond := range s.SubConditions(issuer) {
			wildcard = wildcard || slices.ContainsFunc(cond.Values, cloud.HasWildcard)
		}
	}
	if !allowed {
		return nil
	}
	if role.AssumeWithWebIdentity(issuer, cloud.Subject(probeNamespace, probeName), cloud.STSAudience).Result == cloud.Yes {
		return []holder{{cluster: c.Name, in: c.In, every: true}}
	}
	var out []holder
	for _, sub := range exactSubjects(role, issuer) {
		ns, name, ok := cloud.SplitSubject(sub)
		if !ok || role.AssumeWithWebIdentity(issuer, sub, cloud.STSAudience).Result == cloud.No {
			continue
		}
		out = append(out, subjectHolder(c, ns, name, cloud.IRSARoleAnnotation, role.ARN))
	}
	if wildcard {
		for i := range c.In.Snapshot.ServiceAccounts {
			sa := &c.In.Snapshot.ServiceAccounts[i]
			if slices.ContainsFunc(out, func(h holder) bool { return h.ns == sa.Namespace && h.name == sa.Name }) {
				continue
			}
			if role.AssumeWithWebIdentity(issuer, cloud.Subject(sa.Namespace, sa.Name), cloud.STSAudience).Result == cloud.Yes {
				out = append(out, subjectHolder(c, sa.Namespace, sa.Name, cloud.IRSARoleAnnotation, role.ARN))
			}
		}
	}
	return out
}

// azureCredentials reports federated credentials whose issuer several clusters share.
func (x *crossRun) azureCredentials() {
	seen := map[string]bool{}
	var fcs []*cloud.FederatedCredential
	var idOf = map[*cloud.FederatedCredential]*cloud.ManagedIdentity{}
	for _, c := range x.clusters {
		if c.In.Cloud == nil {
			continue
		}
		for _, fc := range c.In.Cloud.Azure.Credentials {
			key := cmpOr(fc.ID, fc.Identity+"/"+fc.Name+"/"+fc.Issuer+"/"+fc.Subject)
			if seen[key] {
				continue
			}
			seen[key] = true
			fcs = append(fcs, fc)
			idOf[fc] = c.In.Cloud.Azure.Identity(fc)
		}
	}
	for _, fc := range fcs {
		ns, name, ok := cloud.SplitSubject(fc.Subject)
		if !ok {
			continue
		}
		clientID := ""
		if id := idOf[fc]; id != nil {
			clientID = id.ClientID
		}
		var hs []holder
		for i, c := range x.clusters {
			if iss := x.issuers[i].Issuer; iss != "" && cloud.IssuerHost(iss) == cloud.IssuerHost(fc.Issuer) {
				hs = append(hs, subjectHolder(c, ns, name, annotKeyIf(clientID, cloud.AzureClientIDAnnot), clientID))
			}
		}
		sat, n := satisfying(hs)
		if n < 2 {
			continue
		}
		x.add(crossClusterCheck, Finding{
			Severity: holdersSeverity(sat),
			Message: fmt.Sprintf("federated credential %s of managed identity %s trusts %s of issuer %s, shared by %d clusters (%s): each can get the identity",
				fc.Name, fc.Identity, fc.Subject, cloud.IssuerHost(fc.Issuer), n, clusterNames(sat)),
			Object:      cloudRef(kindFederatedCred, fc.Identity+"/"+fc.Name),
			Evidence:    append([]string{"issuer " + fc.Issuer, "subject " + fc.Subject}, evidenceOf(hs)...),
			Remediation: "give each cluster its own OIDC issuer (AKS: one per cluster) and create the federated credential for the one cluster meant to hold the identity",
			Location:    cloudLoc(fc.Source),
		}, sat)
	}
}

func annotKeyIf(value, key string) string {
	if value == "" {
		return ""
	}
	return key
}

// gkeSameness reports roles/iam.workloadIdentityUser members that clusters of one workload
// pool can each satisfy: PROJECT.svc.id.goog[NS/NAME] is the same principal in every
// cluster of the pool.
func (x *crossRun) gkeSameness() {
	pools := make([]string, len(x.clusters))
	for i, c := range x.issuers {
		if c.GKE != nil {
			pools[i] = c.GKE.WorkloadPool
		}
	}
	seen := map[string]bool{}
	for _, c := range x.clusters {
		for _, g := range c.In.Cloud.WorkloadIdentityGrants() {
			key := g.Policy.Resource + "\x00" + g.Member.Member
			if seen[key] {
				continue
			}
			seen[key] = true
			x.gkeGrant(g, pools)
		}
	}
}

func (x *crossRun) gkeGrant(g cloud.WIGrant, pools []string) {
	km, p := g.Member, g.Policy
	gsa := ""
	if p.ServiceAccount {
		gsa = p.Resource
	}
	var hs []holder
	for i, c := range x.clusters {
		if pools[i] != km.Pool {
			continue
		}
		switch {
		case km.Name != "":
			hs = append(hs, subjectHolder(c, km.Namespace, km.Name, annotKeyIf(gsa, cloud.GKEAnnotation), gsa))
		case km.Other != "":
			// A principalSet of another attribute: which clusters it covers is not known.
		default:
			h := holder{cluster: c.Name, in: c.In, ns: km.Namespace, every: true}
			if km.Namespace != "" && !slices.ContainsFunc(c.In.Snapshot.Namespaces, func(n corev1.Namespace) bool { return n.Name == km.Namespace }) {
				h.every = false // no such namespace: nothing holds it until one is created
			}
			hs = append(hs, h)
		}
	}
	sat, n := satisfying(hs)
	if n < 2 {
		return
	}
	what := "grants " + cloud.WorkloadIdentityUser + " to " + km.Scope()
	x.add(gcpSamenessCheck, Finding{
		Severity: max(holdersSeverity(sat), Low),
		Message: fmt.Sprintf("%s %s, the same principal in %d clusters of pool %s (%s): each of them can act as it",
			p.Resource, what, n, km.Pool, clusterNames(sat)),
		Object:      cloudRef(kindGCPIAMPolicy, p.Resource),
		Evidence:    append([]string{"member " + km.Member}, evidenceOf(hs)...),
		Remediation: fmt.Sprintf("keep clusters of different trust in different projects (one workload pool each), or make sure %s exists only in the clusters meant to hold %s and nobody else can create it", nsName(km), cmpOr(gsa, p.Resource)),
		Location:    cloudLoc(p.Source),
	}, sat)
}

func nsName(km cloud.KSAMember) string {
	if km.Name == "" {
		return "namespace " + cmpOr(km.Namespace, "*")
	}
	return "ServiceAccount " + km.Namespace + "/" + km.Name
}
