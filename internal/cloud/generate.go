package cloud

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Generating a dedicated workload identity (kwid generate workload-identity): the
// ServiceAccount's annotations and the cloud side, exact for one cluster, in three forms:
// kwid's own description, the JSON the clouds' command lines print for the same objects
// (so that --cloud reads them back), and Terraform JSON.

// Spec asks for one dedicated workload identity: a Kubernetes ServiceAccount mapped to
// exactly one cloud identity. Exactly one of AWS, GCP and Azure is set; every value is
// already resolved (from --cloud input, the cluster or flags).
type Spec struct {
	Namespace, Name string
	AWS             *AWSSpec
	GCP             *GCPSpec
	Azure           *AzureSpec
}

// AWSSpec is an IAM role for IRSA or, with PodIdentity, for EKS Pod Identity.
type AWSSpec struct {
	RoleName, Account string
	PodIdentity       bool
	// Cluster is the EKS cluster: Issuer for IRSA; Name and ARN for Pod Identity.
	Cluster EKSCluster
	// Audience and TokenExpiration (seconds) are annotated only when set (IRSA).
	Audience        string
	TokenExpiration int64
}

// GCPSpec is a Google service account for GKE Workload Identity.
type GCPSpec struct {
	GSA string
	// Cluster is the GKE cluster: WorkloadPool (PROJECT.svc.id.goog) is required.
	Cluster GKECluster
}

// AzureSpec is a user-assigned managed identity for Azure Workload Identity.
type AzureSpec struct {
	ClientID, Identity, ResourceGroup, Subscription string
	// CredentialName names the federated credential ("" for NAMESPACE-NAME).
	CredentialName string
	// Cluster is the AKS cluster: Issuer is required.
	Cluster AKSCluster
}

// Generated is a workload identity as kwid describes it (-o yaml|json).
type Generated struct {
	ServiceAccount GeneratedServiceAccount `json:"serviceAccount"`
	// RBAC is empty: a workload that only calls its cloud needs no Kubernetes API right.
	RBAC  []string        `json:"rbac"`
	AWS   *GeneratedAWS   `json:"aws,omitempty"`
	GCP   *GeneratedGCP   `json:"gcp,omitempty"`
	Azure *GeneratedAzure `json:"azure,omitempty"`
	// Commands create the cloud side with the clouds' own command lines.
	Commands []string `json:"commands"`
	Notes    []string `json:"notes"`

	spec Spec
}

// GeneratedServiceAccount is the Kubernetes side.
type GeneratedServiceAccount struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// PodLabels are labels the pods using the ServiceAccount must carry.
	PodLabels map[string]string `json:"podLabels,omitempty"`
}

// GeneratedAWS is the IAM role (and Pod Identity association).
type GeneratedAWS struct {
	Mechanism   string          `json:"mechanism"`
	RoleName    string          `json:"roleName"`
	RoleARN     string          `json:"roleArn"`
	TrustPolicy json.RawMessage `json:"trustPolicy"`
	// Association is the Pod Identity association to create.
	Association *GeneratedAssociation `json:"podIdentityAssociation,omitempty"`
}

// GeneratedAssociation is an EKS Pod Identity association (before creation: no ID).
type GeneratedAssociation struct {
	ClusterName    string `json:"clusterName"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	RoleARN        string `json:"roleArn"`
}

// GeneratedGCP is the IAM binding on the one Google service account.
type GeneratedGCP struct {
	ServiceAccount string `json:"serviceAccount"`
	Role           string `json:"role"`
	Member         string `json:"member"`
}

// GeneratedAzure is the federated identity credential of the managed identity.
type GeneratedAzure struct {
	ClientID      string   `json:"clientId"`
	Identity      string   `json:"identity"`
	ResourceGroup string   `json:"resourceGroup"`
	Name          string   `json:"name"`
	Issuer        string   `json:"issuer"`
	Subject       string   `json:"subject"`
	Audiences     []string `json:"audiences"`
	ID            string   `json:"id"`
}

var (
	dnsLabelRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	roleNameRE  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	gsaRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$`)
	poolRE      = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]\.svc\.id\.goog$`)
	ficNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$`)
	azureNameRE = regexp.MustCompile(`^[A-Za-z0-9._()-]{1,128}$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Generate builds the workload identity a Spec asks for, or says which value is wrong.
func Generate(s Spec) (*Generated, error) {
	if !dnsLabelRE.MatchString(s.Namespace) {
		return nil, fmt.Errorf("namespace %q is not a valid namespace name", s.Namespace)
	}
	if !dnsSubRE.MatchString(s.Name) {
		return nil, fmt.Errorf("ServiceAccount name %q is not a valid name", s.Name)
	}
	n := 0
	for _, set := range []bool{s.AWS != nil, s.GCP != nil, s.Azure != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("want exactly one cloud identity (AWS, GCP or Azure)")
	}
	g := &Generated{
		ServiceAccount: GeneratedServiceAccount{Namespace: s.Namespace, Name: s.Name},
		RBAC:           []string{},
		spec:           s,
	}
	var err error
	switch {
	case s.AWS != nil:
		err = g.aws(*s.AWS)
	case s.GCP != nil:
		err = g.gcp(*s.GCP)
	default:
		err = g.azure(*s.Azure)
	}
	if err != nil {
		return nil, err
	}
	g.Notes = append(g.Notes,
		"automountServiceAccountToken: false: the cloud token is projected separately; mount the API token only in pods that call the Kubernetes API, and add RBAC for exactly what they call (none is generated: this identity needs no Kubernetes API right)")
	return g, nil
}

// trustDoc is an IAM policy document in the order IAM prints it.
type trustDoc struct {
	Version   string           `json:"Version"`
	Statement []trustStatement `json:"Statement"`
}

type trustStatement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal"`
	Action    any                          `json:"Action"`
	Condition map[string]map[string]string `json:"Condition"`
}

func (g *Generated) aws(a AWSSpec) error {
	if !roleNameRE.MatchString(a.RoleName) {
		return fmt.Errorf("IAM role name %q: want 1 to 64 of letters, digits and +=,.@_-", a.RoleName)
	}
	if !accountRE.MatchString(a.Account) {
		return fmt.Errorf("AWS account %q: want 12 digits", a.Account)
	}
	arn := "arn:aws:iam::" + a.Account + ":role/" + a.RoleName
	ns, name := g.ServiceAccount.Namespace, g.ServiceAccount.Name
	out := &GeneratedAWS{RoleName: a.RoleName, RoleARN: arn}
	var doc trustDoc
	if a.PodIdentity {
		c := a.Cluster
		if c.Name == "" || AccountOf(c.ARN) == "" || !strings.Contains(c.ARN, ":cluster/") {
			return fmt.Errorf("EKS Pod Identity needs the cluster's name and ARN (got %q, %q)", c.Name, c.ARN)
		}
		out.Mechanism = MechPodIdentity
		doc = trustDoc{Version: "2012-10-17", Statement: []trustStatement{{
			Sid:       "AllowEksAuthToAssumeRoleForPodIdentity",
			Effect:    "Allow",
			Principal: map[string]string{"Service": PodIdentityService},
			Action:    []string{ActionAssumeRole, ActionTagSession},
			Condition: map[string]map[string]string{"StringEquals": {
				"aws:SourceAccount":                         AccountOf(c.ARN),
				"aws:RequestTag/eks-cluster-arn":            c.ARN,
				"aws:RequestTag/kubernetes-namespace":       ns,
				"aws:RequestTag/kubernetes-service-account": name,
			}},
		}}}
		out.Association = &GeneratedAssociation{ClusterName: c.Name, Namespace: ns, ServiceAccount: name, RoleARN: arn}
		g.Commands = append(g.Commands,
			fmt.Sprintf("aws iam create-role --role-name %s --assume-role-policy-document file://trust-policy.json", a.RoleName),
			fmt.Sprintf("aws eks create-pod-identity-association --cluster-name %s --namespace %s --service-account %s --role-arn %s", c.Name, ns, name, arn))
		g.Notes = append(g.Notes,
			"EKS Pod Identity needs no ServiceAccount annotation: the association maps it; the eks-pod-identity-agent add-on must run on the cluster",
			"the trust admits pods.eks.amazonaws.com only with the session tags of this cluster, namespace and ServiceAccount (keep session tags enabled on the association)")
	} else {
		if a.Cluster.Issuer == "" {
			return errors.New("IRSA needs the cluster's OIDC issuer")
		}
		if !strings.HasPrefix(a.Cluster.Issuer, "https://") {
			return fmt.Errorf("OIDC issuer %q: want an https:// URL", a.Cluster.Issuer)
		}
		aud := cmp.Or(a.Audience, STSAudience)
		host := IssuerHost(a.Cluster.Issuer)
		out.Mechanism = MechIRSA
		doc = trustDoc{Version: "2012-10-17", Statement: []trustStatement{{
			Effect:    "Allow",
			Principal: map[string]string{"Federated": OIDCProviderARN(a.Account, a.Cluster.Issuer)},
			Action:    ActionWebIdentity,
			Condition: map[string]map[string]string{"StringEquals": {
				host + ":sub": Subject(ns, name),
				host + ":aud": aud,
			}},
		}}}
		g.ServiceAccount.Annotations = map[string]string{IRSARoleAnnotation: arn}
		if a.Audience != "" {
			g.ServiceAccount.Annotations[IRSAAudienceAnnot] = a.Audience
		}
		if a.TokenExpiration != 0 {
			if a.TokenExpiration < 600 || a.TokenExpiration > 86400 {
				return fmt.Errorf("token expiration %d s: the IRSA webhook (amazon-eks-pod-identity-webhook) accepts 600 to 86400", a.TokenExpiration)
			}
			g.ServiceAccount.Annotations["eks.amazonaws.com/token-expiration"] = strconv.FormatInt(a.TokenExpiration, 10)
		}
		g.Commands = append(g.Commands,
			fmt.Sprintf("aws iam create-role --role-name %s --assume-role-policy-document file://trust-policy.json", a.RoleName))
		g.Notes = append(g.Notes,
			fmt.Sprintf("the IAM OIDC provider %s must exist (eksctl utils associate-iam-oidc-provider, or aws iam create-open-id-connect-provider --url %s --client-id-list %s)", OIDCProviderARN(a.Account, a.Cluster.Issuer), a.Cluster.Issuer, aud))
	}
	g.Notes = append(g.Notes, fmt.Sprintf("attach to role %s only the policies its workload needs, and a permissions boundary (aws iam put-role-permissions-boundary)", a.RoleName))
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	out.TrustPolicy = raw
	g.AWS = out
	return nil
}

func (g *Generated) gcp(s GCPSpec) error {
	if !gsaRE.MatchString(s.GSA) {
		return fmt.Errorf("Google service account %q: want NAME@PROJECT.iam.gserviceaccount.com", s.GSA)
	}
	pool := s.Cluster.WorkloadPool
	if !poolRE.MatchString(pool) {
		return fmt.Errorf("workload pool %q: want PROJECT.svc.id.goog", pool)
	}
	ns, name := g.ServiceAccount.Namespace, g.ServiceAccount.Name
	member := "serviceAccount:" + pool + "[" + ns + "/" + name + "]"
	g.GCP = &GeneratedGCP{ServiceAccount: s.GSA, Role: WorkloadIdentityUser, Member: member}
	g.ServiceAccount.Annotations = map[string]string{GKEAnnotation: s.GSA}
	g.Commands = append(g.Commands, fmt.Sprintf("gcloud iam service-accounts add-iam-policy-binding %s --role=%s --member='%s'", s.GSA, WorkloadIdentityUser, member))
	g.Notes = append(g.Notes,
		"the binding is on the one Google service account, never on the project (KW-WI-GCP-002)",
		"node pools must run with --workload-metadata=GKE_METADATA, or pods reach the node's service account")
	return nil
}

func (g *Generated) azure(s AzureSpec) error {
	if !uuidRE.MatchString(s.ClientID) {
		return fmt.Errorf("Azure client ID %q: want a UUID", s.ClientID)
	}
	if !azureNameRE.MatchString(s.Identity) {
		return fmt.Errorf("managed identity name %q is not valid", s.Identity)
	}
	if !azureNameRE.MatchString(s.ResourceGroup) {
		return fmt.Errorf("resource group %q is not valid", s.ResourceGroup)
	}
	if !uuidRE.MatchString(s.Subscription) {
		return fmt.Errorf("Azure subscription %q: want a UUID", s.Subscription)
	}
	if !strings.HasPrefix(s.Cluster.Issuer, "https://") {
		return fmt.Errorf("AKS OIDC issuer %q: want an https:// URL", s.Cluster.Issuer)
	}
	ns, name := g.ServiceAccount.Namespace, g.ServiceAccount.Name
	fic := s.CredentialName
	if fic == "" {
		fic = ns + "-" + name
		if len(fic) > 120 {
			fic = fic[:120]
		}
	}
	if !ficNameRE.MatchString(fic) {
		return fmt.Errorf("federated credential name %q: want 3 to 120 of letters, digits, - and _, starting with a letter or digit", fic)
	}
	identityID := "/subscriptions/" + s.Subscription + "/resourcegroups/" + s.ResourceGroup + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + s.Identity
	g.Azure = &GeneratedAzure{ClientID: s.ClientID, Identity: s.Identity, ResourceGroup: s.ResourceGroup, Name: fic,
		Issuer: s.Cluster.Issuer, Subject: Subject(ns, name), Audiences: []string{AzureTokenAudience},
		ID: identityID + "/federatedIdentityCredentials/" + fic}
	g.ServiceAccount.Annotations = map[string]string{AzureClientIDAnnot: s.ClientID}
	g.ServiceAccount.PodLabels = map[string]string{"azure.workload.identity/use": "true"}
	g.Commands = append(g.Commands, fmt.Sprintf("az identity federated-credential create --name %s --identity-name %s --resource-group %s --issuer %s --subject %s --audiences %s",
		fic, s.Identity, s.ResourceGroup, s.Cluster.Issuer, Subject(ns, name), AzureTokenAudience))
	g.Notes = append(g.Notes,
		`pods using this ServiceAccount must carry the label azure.workload.identity/use: "true" (in the pod template), or the webhook injects nothing (KW-WI-AZ-001)`)
	return nil
}

// --- the clouds' CLI output for the same objects ----------------------------------------

// Files are the generated cloud side as the clouds' command lines print it, by path
// relative to a --cloud directory: what `kwid scan --cloud DIR` reads back. The cluster
// description holds the fields kwid generated from (the issuer, pool or ARN) and those
// the input gave.
func (g *Generated) Files() (map[string][]byte, error) {
	files := map[string]any{}
	s := g.spec
	switch {
	case g.AWS != nil:
		dir := "aws/iam/roles/" + g.AWS.RoleName + "/"
		files[dir+"get-role.json"] = map[string]any{"Role": map[string]any{
			"Path": "/", "RoleName": g.AWS.RoleName, "Arn": g.AWS.RoleARN, "AssumeRolePolicyDocument": g.AWS.TrustPolicy,
			"MaxSessionDuration": 3600,
		}}
		files[dir+"list-attached-role-policies.json"] = map[string]any{"AttachedPolicies": []any{}, "IsTruncated": false}
		if a := g.AWS.Association; a != nil {
			files["aws/eks/pod-identity-associations/"+a.Namespace+"-"+a.ServiceAccount+".json"] = map[string]any{"association": map[string]any{
				"clusterName": a.ClusterName, "namespace": a.Namespace, "serviceAccount": a.ServiceAccount, "roleArn": a.RoleARN,
				"disableSessionTags": false, "tags": map[string]string{},
			}}
		}
		if c := s.AWS.Cluster; c.Name != "" {
			files["aws/eks/describe-cluster-"+c.Name+".json"] = map[string]any{"cluster": eksClusterJSON(c)}
		}
	case g.GCP != nil:
		files["gcp/service-accounts/"+g.GCP.ServiceAccount+".json"] = map[string]any{
			"bindings": []any{map[string]any{"role": g.GCP.Role, "members": []string{g.GCP.Member}}},
			"version":  1,
		}
		if c := s.GCP.Cluster; c.Name != "" {
			files["gcp/container-clusters/"+c.Name+".json"] = gkeClusterJSON(c)
		}
	case g.Azure != nil:
		a := g.Azure
		files["azure/federated-credentials-"+a.Identity+".json"] = []any{map[string]any{
			"audiences": a.Audiences, "id": a.ID, "issuer": a.Issuer, "name": a.Name, "resourceGroup": a.ResourceGroup,
			"subject": a.Subject, "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
		}}
		files["azure/aks-"+cmp.Or(s.Azure.Cluster.Name, "cluster")+".json"] = aksClusterJSON(s.Azure.Cluster)
	}
	out := make(map[string][]byte, len(files))
	for name, v := range files {
		b, err := marshalIndent(v, "    ")
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", name, err)
		}
		out[path.Clean(name)] = b
	}
	return out, nil
}

func eksClusterJSON(c EKSCluster) map[string]any {
	m := map[string]any{"name": c.Name, "arn": c.ARN}
	if c.Endpoint != "" {
		m["endpoint"] = c.Endpoint
	}
	if c.Version != "" {
		m["version"] = c.Version
	}
	if c.Issuer != "" {
		m["identity"] = map[string]any{"oidc": map[string]string{"issuer": c.Issuer}}
	}
	if c.AuthenticationMode != "" {
		ac := map[string]any{"authenticationMode": c.AuthenticationMode}
		if c.BootstrapCreatorAdmin != nil {
			ac["bootstrapClusterCreatorAdminPermissions"] = *c.BootstrapCreatorAdmin
		}
		m["accessConfig"] = ac
	}
	return m
}

func gkeClusterJSON(c GKECluster) map[string]any {
	m := map[string]any{"name": c.Name, "workloadIdentityConfig": map[string]string{"workloadPool": c.WorkloadPool}}
	if c.Location != "" {
		m["location"] = c.Location
	}
	switch {
	case c.SelfLink != "":
		m["selfLink"] = c.SelfLink
	case c.Project != "" && c.Location != "":
		m["selfLink"] = "https://container.googleapis.com/v1/projects/" + c.Project + "/locations/" + c.Location + "/clusters/" + c.Name
	}
	if c.Endpoint != "" {
		m["endpoint"] = c.Endpoint
	}
	if len(c.NodePools) > 0 {
		var pools []any
		for _, p := range c.NodePools {
			cfg := map[string]any{}
			if p.ServiceAccount != "" {
				cfg["serviceAccount"] = p.ServiceAccount
			}
			if p.MetadataMode != "" {
				cfg["workloadMetadataConfig"] = map[string]string{"mode": p.MetadataMode}
			}
			pools = append(pools, map[string]any{"name": p.Name, "config": cfg})
		}
		m["nodePools"] = pools
	}
	if c.LegacyABAC {
		m["legacyAbac"] = map[string]bool{"enabled": true}
	}
	return m
}

func aksClusterJSON(c AKSCluster) map[string]any {
	m := map[string]any{"type": "Microsoft.ContainerService/ManagedClusters",
		"oidcIssuerProfile": map[string]any{"enabled": true, "issuerUrl": c.Issuer}}
	if c.Name != "" {
		m["name"] = c.Name
	}
	if c.ID != "" {
		m["id"] = c.ID
	}
	if c.WorkloadIdentity {
		m["securityProfile"] = map[string]any{"workloadIdentity": map[string]bool{"enabled": true}}
	}
	return m
}

// --- Terraform JSON ------------------------------------------------------------------------

// Terraform is the cloud side as Terraform JSON configuration (a *.tf.json file):
// aws_iam_role (and aws_eks_pod_identity_association), google_service_account_iam_member,
// or azurerm_federated_identity_credential.
func (g *Generated) Terraform() ([]byte, error) {
	id := tfName(g.ServiceAccount.Namespace + "_" + g.ServiceAccount.Name)
	res := map[string]map[string]any{}
	providers := map[string]any{}
	switch {
	case g.AWS != nil:
		res["aws_iam_role"] = map[string]any{id: map[string]any{"name": g.AWS.RoleName, "assume_role_policy": string(g.AWS.TrustPolicy)}}
		if a := g.AWS.Association; a != nil {
			res["aws_eks_pod_identity_association"] = map[string]any{id: map[string]any{
				"cluster_name": a.ClusterName, "namespace": a.Namespace, "service_account": a.ServiceAccount,
				"role_arn": "${aws_iam_role." + id + ".arn}",
			}}
		}
		providers["aws"] = map[string]string{"source": "hashicorp/aws", "version": ">= 5.31"}
	case g.GCP != nil:
		project := strings.TrimSuffix(g.GCP.ServiceAccount[strings.IndexByte(g.GCP.ServiceAccount, '@')+1:], ".iam.gserviceaccount.com")
		res["google_service_account_iam_member"] = map[string]any{id: map[string]any{
			"service_account_id": "projects/" + project + "/serviceAccounts/" + g.GCP.ServiceAccount,
			"role":               g.GCP.Role, "member": g.GCP.Member,
		}}
		providers["google"] = map[string]string{"source": "hashicorp/google"}
	case g.Azure != nil:
		a := g.Azure
		res["azurerm_federated_identity_credential"] = map[string]any{id: map[string]any{
			"name": a.Name, "resource_group_name": a.ResourceGroup,
			"parent_id": strings.TrimSuffix(a.ID, "/federatedIdentityCredentials/"+a.Name),
			"audience":  a.Audiences, "issuer": a.Issuer, "subject": a.Subject,
		}}
		providers["azurerm"] = map[string]string{"source": "hashicorp/azurerm", "version": "~> 4.0"}
	}
	doc := map[string]any{
		"//":        fmt.Sprintf("generated by kwid generate workload-identity for ServiceAccount %s/%s", g.ServiceAccount.Namespace, g.ServiceAccount.Name),
		"terraform": map[string]any{"required_providers": providers},
		"resource":  res,
	}
	return marshalIndent(doc, "  ")
}

// marshalIndent encodes JSON as the clouds' CLIs print it: indented, < > & unescaped.
func marshalIndent(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// tfName makes a Terraform resource name: letters, digits, _ and -, not starting with a
// digit.
func tfName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] >= '0' && b[0] <= '9' || b[0] == '-' {
		b = append([]byte("sa_"), b...)
	}
	return string(b)
}

// TrustPolicyFile is the role's trust policy alone, for aws iam create-role
// --assume-role-policy-document file://trust-policy.json.
func (g *Generated) TrustPolicyFile() []byte {
	if g.AWS == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(g.AWS.TrustPolicy, &v); err != nil {
		return nil
	}
	b, _ := marshalIndent(v, "    ")
	return b
}

// FileNames lists Files' paths in order.
func FileNames(files map[string][]byte) []string { return slices.Sorted(maps.Keys(files)) }
