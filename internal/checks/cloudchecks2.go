package checks

// Cloud-input checks, continued: Pod Identity, EKS access configuration, IMDS, GKE, Azure
// and trusts naming ServiceAccounts that do not exist.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// --- KW-WI-AWS-007 ------------------------------------------------------------------------

var wiPodIdentityTrustCheck = register(&Check{
	ID:       "KW-WI-AWS-007",
	Title:    "Pod Identity role trust unscoped",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefPodIdentity},
	Summary: "A role whose trust lets pods.eks.amazonaws.com assume it (sts:AssumeRole, sts:TagSession) with no " +
		"condition on aws:SourceAccount, aws:SourceArn, aws:SourceOrgId or the session tags " +
		"aws:RequestTag/eks-cluster-arn, kubernetes-namespace, kubernetes-service-account can be given to any " +
		"ServiceAccount of any cluster by whoever may create a Pod Identity association. Decided by evaluating " +
		"the trust for a cluster of another account and a ServiceAccount that does not exist.",
	run: func(in *Input, r *run) {
		if !r.needAWSRoles("") {
			return
		}
		probe := cloud.PodIdentityContext{ClusterARN: "arn:aws:eks:us-east-1:000000000000:cluster/kwid-probe", ClusterName: "kwid-probe",
			Namespace: probeNamespace, ServiceAccount: probeName, SessionTags: true}
		for _, role := range in.Cloud.AWS.Roles {
			if !role.TrustsPodIdentity() {
				continue
			}
			d := role.AssumeWithPodIdentity(probe)
			if d.Result != cloud.Yes {
				continue
			}
			var assoc []inventory.ObjectRef
			for _, a := range in.Cloud.AWS.Associations {
				if a.RoleARN == role.ARN {
					assoc = append(assoc, saRef(a.Namespace, a.ServiceAccount))
				}
			}
			cluster := "CLUSTER-ARN"
			if c := in.cloudCluster().EKS; c != nil {
				cluster = c.ARN
			}
			r.add(Finding{
				Severity:    Medium,
				Message:     fmt.Sprintf("IAM role %s trusts EKS Pod Identity for any cluster, namespace and ServiceAccount", role.Name),
				Object:      cloudRef(kindIAMRole, role.ARN),
				Related:     assoc,
				Evidence:    []string{role.Explain(d), "associated with: " + refNames(assoc, 5)},
				Remediation: fmt.Sprintf(`scope the trust of %s: add "Condition":{"StringEquals":{"aws:SourceAccount":"%s","aws:RequestTag/kubernetes-namespace":"NAMESPACE","aws:RequestTag/kubernetes-service-account":"NAME"},"ArnEquals":{"aws:SourceArn":"%s"}} (aws iam update-assume-role-policy --role-name %s --policy-document file://trust.json)`, role.Name, role.Account(), cluster, role.Name),
				Location:    cloudLoc(role.Source),
			})
		}
	},
})

// --- KW-WI-AWS-008 ------------------------------------------------------------------------

var wiPodIdentityAssocCheck = register(&Check{
	ID:       "KW-WI-AWS-008",
	Title:    "Pod Identity association hygiene",
	Severity: High,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefPodIdentity},
	Summary: "Pod Identity associations of this cluster: (a) for a ServiceAccount that does not exist (high): " +
		"whoever creates it (or its namespace) gets the role; (b) disableSessionTags while the role's " +
		"policies use aws:PrincipalTag/kubernetes-* or eks-cluster-* (medium): the ABAC conditions never " +
		"match, or match nothing they should; (c) a target role in another account without an external ID " +
		"(medium).",
	run: func(in *Input, r *run) {
		c := in.cloudCluster()
		if !r.need("", inventory.ServiceAccounts) || !r.needEKS("", c) {
			return
		}
		var listOnly []string
		for _, a := range in.Cloud.AWS.Associations {
			if a.ClusterName != c.EKS.Name {
				continue
			}
			ref := cloudRef(kindPodIdentity, a.ClusterName+"/"+a.AssociationID)
			sa := saRef(a.Namespace, a.ServiceAccount)
			if ns := in.Snapshot.Cluster.Namespace; ns != "" && a.Namespace != ns {
				continue
			}
			if in.Snapshot.ServiceAccount(a.Namespace, a.ServiceAccount) == nil {
				ev := []string{fmt.Sprintf("association %s: namespace %s, serviceAccount %s, role %s", a.AssociationID, a.Namespace, a.ServiceAccount, cmpOr(a.RoleARN, "(list output: role unknown)")),
					fmt.Sprintf("no ServiceAccount %s/%s in the cluster", a.Namespace, a.ServiceAccount)}
				ev = append(ev, creators(in, a.Namespace))
				r.add(Finding{
					Severity:    High,
					Message:     fmt.Sprintf("Pod Identity association %s gives role %s to ServiceAccount %s/%s, which does not exist: whoever creates it gets the role", a.AssociationID, cmpOr(lastPart(a.RoleARN), "?"), a.Namespace, a.ServiceAccount),
					Object:      ref,
					Related:     []inventory.ObjectRef{sa, cloudRef(kindIAMRole, a.RoleARN)},
					Evidence:    ev,
					Remediation: fmt.Sprintf("aws eks delete-pod-identity-association --cluster-name %s --association-id %s (or create the ServiceAccount %s/%s it was meant for)", a.ClusterName, a.AssociationID, a.Namespace, a.ServiceAccount),
					Location:    cloudLoc(a.Source),
				})
			}
			if !a.Described {
				listOnly = append(listOnly, fmt.Sprintf("association %s: only list-pod-identity-associations output (aws eks describe-pod-identity-association gives its role)", a.AssociationID))
				continue
			}
			if role := in.Cloud.AWS.Role(a.RoleARN); role != nil && a.DisableSessionTags {
				if uses := in.Cloud.UsesPrincipalTags(role); len(uses) > 0 {
					r.add(Finding{
						Severity:    Medium,
						Message:     fmt.Sprintf("Pod Identity association %s disables session tags, but role %s's policies depend on them", a.AssociationID, role.Name),
						Object:      ref,
						Related:     []inventory.ObjectRef{sa, cloudRef(kindIAMRole, role.ARN)},
						Evidence:    append([]string{"disableSessionTags: true"}, uses...),
						Remediation: fmt.Sprintf("aws eks update-pod-identity-association --cluster-name %s --association-id %s --no-disable-session-tags", a.ClusterName, a.AssociationID),
						Location:    cloudLoc(a.Source),
					})
				}
			}
			if a.TargetRoleARN != "" && cloud.AccountOf(a.TargetRoleARN) != cloud.AccountOf(a.RoleARN) && a.ExternalID == "" {
				r.add(Finding{
					Severity:    Medium,
					Message:     fmt.Sprintf("Pod Identity association %s chains to role %s in account %s without an external ID", a.AssociationID, a.TargetRoleARN, cloud.AccountOf(a.TargetRoleARN)),
					Object:      ref,
					Related:     []inventory.ObjectRef{sa},
					Evidence:    []string{"roleArn " + a.RoleARN, "targetRoleArn " + a.TargetRoleARN, "externalId not set"},
					Remediation: "require sts:ExternalId in the target role's trust and set it on the association (EKS sets it when the association is created with a target role; recreate the association)",
					Location:    cloudLoc(a.Source),
				})
			}
		}
		if len(listOnly) > 0 {
			r.notAssessed("(b), (c)", listOnly)
		}
	},
})

// creators says who can create ServiceAccounts in a namespace.
func creators(in *Input, ns string) string {
	hs := in.Holders(Allows(rbac.Request{Verb: "create", Resource: "serviceaccounts", Namespace: ns}))
	var who []string
	for _, h := range hs {
		if h.ClusterWide() || slices.Contains(h.Namespaces(), ns) {
			who = append(who, h.Subject.String())
		}
	}
	if len(who) == 0 {
		return fmt.Sprintf("no RBAC subject can create ServiceAccounts in %s (system:masters aside)", ns)
	}
	if len(who) > 6 {
		who = append(who[:6], fmt.Sprintf("and %d more", len(who)-6))
	}
	return fmt.Sprintf("can create ServiceAccounts in %s: %s", ns, strings.Join(who, ", "))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func lastPart(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// --- KW-EKS-001, 002, 003 ---------------------------------------------------------------

var eksAccessEntriesCheck = register(&Check{
	ID:       "KW-EKS-001",
	Title:    "Use EKS access entries",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.ConfigMaps},
	Refs:     []string{"CIS EKS 4.1.8 (limit use of the aws-auth ConfigMap)", "EKS user guide: grant IAM users access with access entries"},
	Summary: "An EKS cluster whose authenticationMode is CONFIG_MAP (or that predates access entries) maps IAM " +
		"principals only through ConfigMap kube-system/aws-auth, which anyone able to edit it can rewrite, and " +
		"which a typo breaks (medium). API_AND_CONFIG_MAP while aws-auth still maps principals other than node " +
		"roles is an unfinished migration (low). From aws eks describe-cluster.",
	run: func(in *Input, r *run) {
		c := in.cloudCluster()
		if !r.needEKS("", c) {
			return
		}
		e := c.EKS
		ref := cloudRef(kindEKSCluster, e.ARN)
		switch e.AuthenticationMode {
		case "", "CONFIG_MAP":
			mode := e.AuthenticationMode
			if mode == "" {
				mode = "not set (no accessConfig: the cluster predates access entries)"
			}
			r.add(Finding{
				Severity: Medium,
				Message:  fmt.Sprintf("EKS cluster %s authenticates IAM principals only through ConfigMap aws-auth", e.Name),
				Object:   ref, Evidence: []string{"accessConfig.authenticationMode: " + mode},
				Remediation: fmt.Sprintf("aws eks update-cluster-config --name %s --access-config authenticationMode=API_AND_CONFIG_MAP, create access entries for the aws-auth mappings, then switch to API", e.Name),
				Location:    cloudLoc(e.Source),
			})
		case "API_AND_CONFIG_MAP":
			cm := in.Snapshot.ConfigMap(inventory.SystemNamespace, inventory.AWSAuthConfigMap)
			if cm == nil {
				return
			}
			ms, _ := cloud.ParseAWSAuth(cm.Data)
			var left []string
			for _, m := range ms {
				if !m.IsNode() {
					left = append(left, m.PrincipalARN)
				}
			}
			if len(left) == 0 {
				return
			}
			r.add(Finding{
				Severity: Low,
				Message:  fmt.Sprintf("EKS cluster %s has access entries enabled, but aws-auth still maps %d IAM principal(s)", e.Name, len(left)),
				Object:   ref, Related: []inventory.ObjectRef{{Kind: inventory.ConfigMaps, Namespace: inventory.SystemNamespace, Name: inventory.AWSAuthConfigMap}},
				Evidence:    append([]string{"accessConfig.authenticationMode: API_AND_CONFIG_MAP"}, left...),
				Remediation: fmt.Sprintf("create access entries for these principals (aws eks create-access-entry --cluster-name %s --principal-arn ARN), remove them from aws-auth, then aws eks update-cluster-config --name %s --access-config authenticationMode=API", e.Name, e.Name),
				Location:    cloudLoc(e.Source),
			})
		}
	},
})

var eksCreatorAdminCheck = register(&Check{
	ID:       "KW-EKS-002",
	Title:    "Cluster creator keeps cluster-admin",
	Severity: Medium,
	Refs:     []string{"EKS best practices (IAM): the cluster creator's implicit admin"},
	Summary: "bootstrapClusterCreatorAdminPermissions true gives the IAM principal that created the cluster " +
		"(often a CI or Terraform role) cluster-admin through an access entry with AmazonEKSClusterAdminPolicy, " +
		"invisible to RBAC. From aws eks describe-cluster.",
	run: func(in *Input, r *run) {
		c := in.cloudCluster()
		if !r.needEKS("", c) {
			return
		}
		e := c.EKS
		if e.BootstrapCreatorAdmin == nil || !*e.BootstrapCreatorAdmin {
			return
		}
		r.add(Finding{
			Severity:    Medium,
			Message:     fmt.Sprintf("EKS cluster %s gives its creator cluster-admin outside RBAC", e.Name),
			Object:      cloudRef(kindEKSCluster, e.ARN),
			Evidence:    []string{"accessConfig.bootstrapClusterCreatorAdminPermissions: true"},
			Remediation: fmt.Sprintf("find the creator's access entry (aws eks list-access-entries --cluster-name %s), give admins a named break-glass role instead, then aws eks delete-access-entry --cluster-name %s --principal-arn CREATOR-ARN", e.Name, e.Name),
			Location:    cloudLoc(e.Source),
		})
	},
})

// breakGlass reports whether a principal is named as a break-glass one.
func breakGlass(arn string) bool {
	n := strings.ToLower(lastPart(arn))
	return strings.Contains(n, "break-glass") || strings.Contains(n, "breakglass") || strings.Contains(n, "emergency")
}

var eksBroadAdminCheck = register(&Check{
	ID:       "KW-EKS-003",
	Title:    "Broad admin mapping in access entries or aws-auth",
	Severity: High,
	Reads:    []inventory.Kind{inventory.ConfigMaps},
	Refs:     []string{"EKS best practices (IAM): use access entries, avoid cluster-wide admin", "CIS EKS 4.1.8"},
	Summary: "(a) Access entries with AmazonEKSClusterAdminPolicy on the whole cluster for principals not named as " +
		"break-glass (break-glass, breakglass, emergency) (high): cluster-admin outside RBAC. (b) aws-auth role " +
		"mappings (other than node roles) whose username lacks {{SessionName}} (low): every person assuming " +
		"the role is the same Kubernetes user in audit logs. aws-auth mappings to system:masters are " +
		"KW-RBAC-007's.",
	run: func(in *Input, r *run) {
		c := in.cloudCluster()
		if c.EKS != nil && c.EKS.AuthenticationMode != "" && c.EKS.AuthenticationMode != "CONFIG_MAP" && len(in.Cloud.AWS.AccessEntries) == 0 {
			r.notAssessed("(a) access entries", []string{"no --cloud input for EKS access entries (aws eks list-access-entries, describe-access-entry, list-associated-access-policies)"})
		} else if r.needEKS("(a) access entries", c) {
			for _, m := range in.Cloud.AccessEntryMappings(c.EKS) {
				for _, p := range m.Policies {
					if p.Name() != cloud.ClusterAdminPolicy || p.Scope.Type == "namespace" || breakGlass(m.PrincipalARN) {
						continue
					}
					r.add(Finding{
						Severity: High,
						Message:  fmt.Sprintf("access entry %s has AmazonEKSClusterAdminPolicy on the whole cluster: cluster-admin outside RBAC", m.PrincipalARN),
						Object:   cloudRef(kindAccessEntry, c.EKS.Name+"/"+m.PrincipalARN),
						Related:  []inventory.ObjectRef{{Kind: "User", Name: m.Username}},
						Evidence: []string{"username " + m.Username, "access policy " + p.ARN + " on " + p.ScopeText()},
						Remediation: fmt.Sprintf("aws eks disassociate-access-policy --cluster-name %s --principal-arn %s --policy-arn %s, then grant what it needs with AmazonEKSEditPolicy scoped to namespaces, or RBAC on kubernetesGroups",
							c.EKS.Name, m.PrincipalARN, p.ARN),
						Location: cloudLoc(m.Source),
					})
				}
			}
		}
		cm := in.Snapshot.ConfigMap(inventory.SystemNamespace, inventory.AWSAuthConfigMap)
		if cm == nil {
			return
		}
		ms, _ := cloud.ParseAWSAuth(cm.Data)
		var ev []string
		for _, m := range ms {
			if m.IsNode() || !strings.Contains(m.From, "mapRoles") || strings.Contains(m.Username, "{{SessionName}}") {
				continue
			}
			ev = append(ev, fmt.Sprintf("%s: role %s as user %q", m.From, m.PrincipalARN, m.Username))
		}
		if len(ev) == 0 {
			return
		}
		r.add(Finding{
			Severity:    Low,
			Message:     fmt.Sprintf("ConfigMap kube-system/aws-auth maps %d IAM role(s) to a fixed username: whoever assumes the role is indistinguishable in audit logs", len(ev)),
			Object:      inventory.ObjectRef{Kind: inventory.ConfigMaps, Namespace: inventory.SystemNamespace, Name: inventory.AWSAuthConfigMap},
			Evidence:    ev,
			Remediation: "add {{SessionName}} to each username (e.g. username: platform-admin:{{SessionName}}): kubectl edit configmap aws-auth -n kube-system",
		})
	},
})

// --- KW-EKS-005 -----------------------------------------------------------------------------

const (
	ltIDLabel      = "eks.amazonaws.com/sourceLaunchTemplateId"
	ltVersionLabel = "eks.amazonaws.com/sourceLaunchTemplateVersion"
)

var eksIMDSCheck = register(&Check{
	ID:       "KW-EKS-005",
	Title:    "Restrict the instance metadata service (IMDS)",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.Nodes},
	Refs:     []string{"CIS EKS 4.2.x / EKS best practices: restrict access to the instance profile assigned to the worker node"},
	Summary: "A node launch template with MetadataOptions.HttpTokens other than required (IMDSv1 answers any " +
		"request) or HttpPutResponseHopLimit above 1 (IMDSv2 answers from inside containers) lets every pod " +
		"take the node's instance role. From aws ec2 describe-launch-template-versions; the templates of the " +
		"Snapshot's nodes (labels eks.amazonaws.com/sourceLaunchTemplateId and Version) are not assessed when " +
		"missing from the input.",
	run: func(in *Input, r *run) {
		type key struct{ id, version string }
		used := map[key][]string{}
		for i := range in.Snapshot.Nodes {
			n := &in.Snapshot.Nodes[i]
			if id := n.Labels[ltIDLabel]; id != "" {
				k := key{id, n.Labels[ltVersionLabel]}
				used[k] = append(used[k], n.Name)
			}
		}
		var lts []*cloud.LaunchTemplateVersion
		if in.Cloud != nil {
			lts = in.Cloud.AWS.LaunchTemplates
		}
		if len(lts) == 0 {
			if len(used) > 0 {
				r.notAssessed("", []string{"no --cloud input for EC2 launch templates (aws ec2 describe-launch-template-versions) of the nodes"})
			}
			return
		}
		var missing []string
		for k := range used {
			if !slices.ContainsFunc(lts, func(lt *cloud.LaunchTemplateVersion) bool {
				return lt.ID == k.id && (k.version == "" || strconv.FormatInt(lt.Version, 10) == k.version)
			}) {
				missing = append(missing, fmt.Sprintf("launch template %s version %s (nodes %s)", k.id, k.version, strings.Join(used[k], ", ")))
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			r.notAssessed("launch templates not in the input", missing)
		}
		for _, lt := range lts {
			var ev []string
			if lt.HTTPTokens != "required" {
				ev = append(ev, "MetadataOptions.HttpTokens: "+cmpOr(lt.HTTPTokens, "not set (IMDSv1 allowed unless the AMI requires IMDSv2)"))
			}
			if lt.HopLimit > 1 {
				ev = append(ev, fmt.Sprintf("MetadataOptions.HttpPutResponseHopLimit: %d (reachable from containers)", lt.HopLimit))
			}
			if len(ev) == 0 || lt.HTTPEndpoint == "disabled" {
				continue
			}
			nodes := used[key{lt.ID, strconv.FormatInt(lt.Version, 10)}]
			ev = append(ev, "nodes: "+cmpOr(strings.Join(nodes, ", "), "none in the Snapshot"))
			r.add(Finding{
				Severity: Medium,
				Message:  fmt.Sprintf("launch template %s (%s) version %d lets pods reach the instance metadata service and the node's IAM role", lt.Name, lt.ID, lt.Version),
				Object:   cloudRef(kindLaunchTemplate, fmt.Sprintf("%s:%d", lt.ID, lt.Version)),
				Evidence: ev,
				Remediation: fmt.Sprintf("aws ec2 create-launch-template-version --launch-template-id %s --source-version %d --launch-template-data '{\"MetadataOptions\":{\"HttpTokens\":\"required\",\"HttpPutResponseHopLimit\":1}}', then roll the node group to it",
					lt.ID, lt.Version),
				Location: cloudLoc(lt.Source),
			})
		}
	},
})

// --- KW-WI-GCP-001, 002, 003 --------------------------------------------------------------

var gcpNotEffectiveCheck = register(&Check{
	ID:       "KW-WI-GCP-001",
	Title:    "KSA annotated for GKE Workload Identity, but it is not effective",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{"GKE: use Workload Identity Federation for GKE", "CIS GKE 5.2.x"},
	Summary: "A ServiceAccount annotated iam.gke.io/gcp-service-account on a cluster whose workload pool is " +
		"unset (high), with node pools not in GKE_METADATA mode (medium: pods there get the node's service " +
		"account from the metadata server), or on a cluster that is not GKE (medium: nothing injects it; use " +
		"Workload Identity Federation with the cluster's issuer). From gcloud container clusters describe.",
	run: func(in *Input, r *run) {
		refs := in.annotated(cloud.GKEAnnotation)
		if len(refs) == 0 || !r.need("", inventory.ServiceAccounts) {
			return
		}
		c := in.cloudCluster()
		if c.GKE == nil && c.EKS == nil && c.AKS == nil {
			r.notAssessed("", []string{"no --cloud input for this GKE cluster (gcloud container clusters describe --format=json)"})
			return
		}
		for _, ref := range refs {
			gsa := in.Snapshot.ServiceAccount(ref.Namespace, ref.Name).Annotations[cloud.GKEAnnotation]
			ev := []string{cloud.GKEAnnotation + ": " + gsa}
			f := Finding{Severity: Medium, Object: ref, Related: []inventory.ObjectRef{cloudRef(kindGCPIAMPolicy, gsa)}}
			switch {
			case c.GKE == nil:
				kind, name := "EKS", ""
				if c.EKS != nil {
					name = c.EKS.Name
				} else {
					kind, name = "AKS", c.AKS.Name
				}
				f.Message = fmt.Sprintf("ServiceAccount %s is annotated for GKE Workload Identity on %s cluster %s: nothing injects GSA %s", ref.Namespace+"/"+ref.Name, kind, name, gsa)
				f.Evidence = append(ev, "the cluster is "+kind+" "+name+" (cloud input), not GKE")
				f.Remediation = fmt.Sprintf("use Workload Identity Federation with this cluster's issuer %s (a credential configuration file and a projected token), and remove the annotation: kubectl annotate serviceaccount %s -n %s %s-", c.Issuer, ref.Name, ref.Namespace, cloud.GKEAnnotation)
			case c.GKE.WorkloadPool == "":
				f.Severity = High
				f.Message = fmt.Sprintf("ServiceAccount %s/%s is annotated for GKE Workload Identity, but cluster %s has no workload pool: pods use the node's service account", ref.Namespace, ref.Name, c.GKE.Name)
				f.Evidence = append(ev, "workloadIdentityConfig.workloadPool not set")
				f.Remediation = fmt.Sprintf("gcloud container clusters update %s --location %s --workload-pool=%s.svc.id.goog", c.GKE.Name, c.GKE.Location, c.GKE.Project)
				f.Location = cloudLoc(c.GKE.Source)
			default:
				var pools []string
				for _, p := range c.GKE.NodePools {
					if p.MetadataMode != "GKE_METADATA" {
						pools = append(pools, fmt.Sprintf("%s (%s)", p.Name, cmpOr(p.MetadataMode, "mode not set")))
					}
				}
				if len(pools) == 0 {
					continue
				}
				f.Message = fmt.Sprintf("ServiceAccount %s/%s is annotated for GKE Workload Identity, but node pools of %s do not use the GKE metadata server: %s", ref.Namespace, ref.Name, c.GKE.Name, strings.Join(pools, ", "))
				f.Evidence = append(ev, "node pools without GKE_METADATA: "+strings.Join(pools, ", "))
				f.Remediation = fmt.Sprintf("gcloud container node-pools update POOL --cluster %s --location %s --workload-metadata=GKE_METADATA", c.GKE.Name, c.GKE.Location)
				f.Location = cloudLoc(c.GKE.Source)
			}
			r.add(f)
		}
	},
})

// needGCPPolicies records a GCP check as not assessed when ServiceAccounts are annotated
// for GKE and no IAM policy is in the input.
func (r *run) needGCPPolicies() bool {
	in := r.in
	if in.Cloud != nil && len(in.Cloud.GCP.Policies) > 0 {
		return true
	}
	if len(in.annotated(cloud.GKEAnnotation)) > 0 {
		r.notAssessed("", []string{"no --cloud input for GCP IAM policies (gcloud iam service-accounts get-iam-policy, gcloud projects get-iam-policy)"})
	}
	return false
}

var gcpProjectLevelCheck = register(&Check{
	ID:       "KW-WI-GCP-002",
	Title:    "roles/iam.workloadIdentityUser granted at project level or above",
	Severity: High,
	Refs:     []string{"GKE: Workload Identity: grant roles/iam.workloadIdentityUser on the service account, not the project"},
	Summary: "roles/iam.workloadIdentityUser on a project (folder, organization) lets its Kubernetes members act as " +
		"every Google service account of the project, not one. From gcloud projects get-iam-policy --format=json.",
	run: func(in *Input, r *run) {
		if !r.needGCPPolicies() {
			return
		}
		for _, p := range in.Cloud.GCP.Policies {
			if p.ServiceAccount {
				continue
			}
			for _, b := range p.Bindings {
				if b.Role != cloud.WorkloadIdentityUser {
					continue
				}
				var ev []string
				for _, m := range b.Members {
					ev = append(ev, "member "+m)
				}
				proj := strings.TrimPrefix(p.Resource, "projects/")
				r.add(Finding{
					Severity: High,
					Message:  fmt.Sprintf("%s grants %s on the whole project to %d member(s): they can act as every service account of the project", p.Resource, cloud.WorkloadIdentityUser, len(b.Members)),
					Object:   cloudRef(kindGCPIAMPolicy, p.Resource),
					Evidence: ev,
					Remediation: fmt.Sprintf("gcloud projects remove-iam-policy-binding %s --role=%s --member=MEMBER, then grant it on the one service account: gcloud iam service-accounts add-iam-policy-binding GSA@%s.iam.gserviceaccount.com --role=%s --member=MEMBER",
						proj, cloud.WorkloadIdentityUser, proj, cloud.WorkloadIdentityUser),
					Location: cloudLoc(p.Source),
				})
			}
		}
	},
})

var gcpSamenessCheck = register(&Check{
	ID:       "KW-WI-GCP-003",
	Title:    "GKE identity sameness: namespace- or pool-wide principals",
	Severity: Medium,
	Refs:     []string{"GKE: Workload Identity Federation: identity sameness across clusters of a project"},
	Summary: "A workload pool is shared by every cluster of the project: a principalSet for a whole namespace " +
		"(medium) or the whole pool (high) grants a GSA to every ServiceAccount of that namespace in every " +
		"cluster of the project; a member naming one ns/KSA while the input holds several clusters in that " +
		"pool is granted in each of them (low).",
	run: func(in *Input, r *run) {
		if !r.needGCPPolicies() {
			return
		}
		for _, g := range in.Cloud.WorkloadIdentityGrants() {
			km, p := g.Member, g.Policy
			var clusters []string
			for _, gc := range in.Cloud.GCP.Clusters {
				if gc.WorkloadPool == km.Pool {
					clusters = append(clusters, gc.Name)
				}
			}
			sev := Medium
			switch {
			case km.Name != "" && len(clusters) < 2:
				continue
			case km.Name != "":
				sev = Low
			case km.Namespace == "":
				sev = High
			}
			ev := []string{"member " + km.Member, fmt.Sprintf("covers %s", km.Scope())}
			if len(clusters) > 0 {
				ev = append(ev, "clusters of the input in pool "+km.Pool+": "+strings.Join(clusters, ", "))
			}
			r.add(Finding{
				Severity:    sev,
				Message:     fmt.Sprintf("%s grants %s to %s", p.Resource, cloud.WorkloadIdentityUser, km.Scope()),
				Object:      cloudRef(kindGCPIAMPolicy, p.Resource),
				Evidence:    ev,
				Remediation: fmt.Sprintf("grant it to one ServiceAccount of one namespace instead: --member=serviceAccount:%s[NAMESPACE/KSA], and keep clusters of different trust in different projects", km.Pool),
				Location:    cloudLoc(p.Source),
			})
		}
	},
})

// --- KW-WI-AZ-002 ---------------------------------------------------------------------------

var azureFICCheck = register(&Check{
	ID:       "KW-WI-AZ-002",
	Title:    "Azure federated credential scope",
	Severity: High,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{"Azure Workload Identity: federated identity credentials"},
	Summary: "Federated credentials for this cluster's issuer whose subject names a ServiceAccount that does not " +
		"exist (high: whoever creates it gets the managed identity), or whose audiences are not exactly " +
		"api://AzureADTokenExchange (medium: tokens minted for other audiences are accepted). From az identity " +
		"federated-credential list.",
	run: func(in *Input, r *run) {
		c := in.cloudCluster()
		if in.Cloud == nil || len(in.Cloud.Azure.Credentials) == 0 {
			if len(in.annotated(cloud.AzureClientIDAnnot)) > 0 {
				r.notAssessed("", []string{"no --cloud input for Azure federated credentials (az identity federated-credential list)"})
			}
			return
		}
		if !r.need("", inventory.ServiceAccounts) || !r.needIssuer("", c) {
			return
		}
		for _, fc := range in.Cloud.Azure.Credentials {
			if cloud.IssuerHost(fc.Issuer) != cloud.IssuerHost(c.Issuer) {
				continue
			}
			ref := cloudRef(kindFederatedCred, fc.Identity+"/"+fc.Name)
			ns, name, ok := cloud.SplitSubject(fc.Subject)
			if ns2 := in.Snapshot.Cluster.Namespace; ok && ns2 != "" && ns != ns2 {
				continue
			}
			if ok && in.Snapshot.ServiceAccount(ns, name) == nil {
				r.add(Finding{
					Severity:    High,
					Message:     fmt.Sprintf("federated credential %s of managed identity %s trusts ServiceAccount %s/%s, which does not exist: whoever creates it gets the identity", fc.Name, fc.Identity, ns, name),
					Object:      ref,
					Related:     []inventory.ObjectRef{saRef(ns, name)},
					Evidence:    []string{"subject " + fc.Subject, "issuer " + fc.Issuer, creators(in, ns)},
					Remediation: fmt.Sprintf("az identity federated-credential delete --name %s --identity-name %s --resource-group %s", fc.Name, fc.Identity, fc.ResourceGroup),
					Location:    cloudLoc(fc.Source),
				})
			}
			if len(fc.Audiences) != 1 || fc.Audiences[0] != cloud.AzureTokenAudience {
				r.add(Finding{
					Severity:    Medium,
					Message:     fmt.Sprintf("federated credential %s of managed identity %s accepts audiences %s, not just %s", fc.Name, fc.Identity, strings.Join(fc.Audiences, ", "), cloud.AzureTokenAudience),
					Object:      ref,
					Evidence:    []string{"audiences " + strings.Join(fc.Audiences, ", ")},
					Remediation: fmt.Sprintf("az identity federated-credential update --name %s --identity-name %s --resource-group %s --audiences %s", fc.Name, fc.Identity, fc.ResourceGroup, cloud.AzureTokenAudience),
					Location:    cloudLoc(fc.Source),
				})
			}
		}
	},
})

// --- KW-WI-GEN-001 --------------------------------------------------------------------------

var wiNonexistentSACheck = register(&Check{
	ID:       "KW-WI-GEN-001",
	Title:    "Cloud trust names a ServiceAccount that does not exist",
	Severity: High,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefIRSA, "GKE: Workload Identity Federation"},
	Summary: "An IAM role trust (exact <issuer>:sub values for this cluster's issuer) or a GSA's " +
		"roles/iam.workloadIdentityUser member for this cluster's pool that names a ServiceAccount the cluster " +
		"does not have: whoever can create it (or its namespace) gets the cloud identity. Pod Identity " +
		"associations are KW-WI-AWS-008's, Azure federated credentials KW-WI-AZ-002's.",
	run: func(in *Input, r *run) {
		if !r.need("", inventory.ServiceAccounts) {
			return
		}
		c := in.cloudCluster()
		scope := in.Snapshot.Cluster.Namespace
		missing := func(sub string) (string, string, bool) {
			ns, name, ok := cloud.SplitSubject(sub)
			return ns, name, ok && (scope == "" || ns == scope) && in.Snapshot.ServiceAccount(ns, name) == nil
		}
		if r.needAWSRoles("") && r.needIssuer("", c) {
			for _, role := range in.irsaRoles(c.Issuer) {
				var ev []string
				var related []inventory.ObjectRef
				for _, sub := range exactSubjects(role, c.Issuer) {
					if ns, name, ok := missing(sub); ok && role.AssumeWithWebIdentity(c.Issuer, sub, cloud.STSAudience).Result != cloud.No {
						ev = append(ev, fmt.Sprintf("trust admits %s: no such ServiceAccount (%s)", sub, creators(in, ns)))
						related = append(related, saRef(ns, name))
					}
				}
				if len(ev) == 0 {
					continue
				}
				r.add(Finding{
					Severity:    High,
					Message:     fmt.Sprintf("IAM role %s trusts %d ServiceAccount(s) that do not exist: %s", role.Name, len(related), refNames(related, 5)),
					Object:      cloudRef(kindIAMRole, role.ARN),
					Related:     related,
					Evidence:    ev,
					Remediation: "remove these subjects from the trust: " + irsaTrustFix(role, c.Issuer, existingSubjects(in, exactSubjects(role, c.Issuer))),
					Location:    cloudLoc(role.Source),
				})
			}
		}
		if c.GKE == nil || c.GKE.WorkloadPool == "" || in.Cloud == nil {
			return
		}
		for _, g := range in.Cloud.WorkloadIdentityGrants() {
			km, p := g.Member, g.Policy
			if km.Pool != c.GKE.WorkloadPool || km.Name == "" {
				continue
			}
			if ns, name, ok := missing(cloud.Subject(km.Namespace, km.Name)); ok {
				r.add(Finding{
					Severity:    High,
					Message:     fmt.Sprintf("%s grants %s to ServiceAccount %s/%s, which does not exist in this cluster", p.Resource, cloud.WorkloadIdentityUser, ns, name),
					Object:      cloudRef(kindGCPIAMPolicy, p.Resource),
					Related:     []inventory.ObjectRef{saRef(ns, name)},
					Evidence:    []string{"member " + km.Member, creators(in, ns)},
					Remediation: fmt.Sprintf("gcloud iam service-accounts remove-iam-policy-binding %s --role=%s --member='%s'", strings.TrimPrefix(p.Resource, "projects/"), cloud.WorkloadIdentityUser, km.Member),
					Location:    cloudLoc(p.Source),
				})
			}
		}
	},
})

func existingSubjects(in *Input, subs []string) []string {
	var out []string
	for _, s := range subs {
		if ns, name, ok := cloud.SplitSubject(s); ok && in.Snapshot.ServiceAccount(ns, name) != nil {
			out = append(out, s)
		}
	}
	return out
}
