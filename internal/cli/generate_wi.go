package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

type generateWIOptions struct {
	in        *inputFlags
	sa        string
	awsRole   string
	podID     bool
	gcpSA     string
	azClient  string
	azIdent   string
	azRG      string
	azSub     string
	azCred    string
	issuer    string
	account   string
	cluster   string
	region    string
	project   string
	location  string
	audience  string
	tokenExp  int64
	output    string
	outputDir string
}

func newGenerateWICommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &generateWIOptions{in: newInputFlags()}
	o.in.kinds = []inventory.Kind{inventory.Namespaces, inventory.ServiceAccounts}
	cmd := &cobra.Command{
		Use:   "workload-identity --sa NS/NAME (--aws-role NAME [--pod-identity] | --gcp-sa EMAIL | --azure-client-id ID) [--cloud DIR] [cluster flags | -f | --snapshot | --demo]",
		Short: "Write a dedicated ServiceAccount and the exact cloud trust for it (IRSA, EKS Pod Identity, GKE, Azure)",
		Long: `Provision one dedicated workload identity the narrow way: a ServiceAccount
(automountServiceAccountToken: false, the cloud annotation) mapped to exactly one cloud identity,
and the cloud side trusting exactly that ServiceAccount of this cluster:

  --aws-role NAME                IRSA: the role's trust policy with Federated principal the
                                 cluster's OIDC provider, sts:AssumeRoleWithWebIdentity, and
                                 StringEquals on ISSUER:sub = system:serviceaccount:NS:NAME and
                                 ISSUER:aud = sts.amazonaws.com;
  --aws-role NAME --pod-identity EKS Pod Identity: the association and the role's trust for
                                 pods.eks.amazonaws.com (sts:AssumeRole, sts:TagSession) with
                                 conditions on aws:SourceAccount and the session tags
                                 eks-cluster-arn, kubernetes-namespace, kubernetes-service-account;
  --gcp-sa EMAIL                 GKE: roles/iam.workloadIdentityUser on that one Google service
                                 account for serviceAccount:PROJECT.svc.id.goog[NS/NAME];
  --azure-client-id ID           Azure: the managed identity's federated credential (issuer,
                                 subject system:serviceaccount:NS:NAME, api://AzureADTokenExchange)
                                 and the pod label azure.workload.identity/use: "true".

No RBAC is generated: a workload that only calls its cloud needs no Kubernetes API right.

The cluster's values come from --cloud input (aws eks describe-cluster, gcloud container clusters
describe, az aks show, az identity show; see docs/cloud.md), else from the cluster (-f,
--snapshot, --demo, or the live cluster's OIDC issuer, read only when a value is still missing),
else from flags: --issuer, --account, --cluster-name, --region, --project, --location,
--resource-group, --azure-identity, --subscription. A flag that contradicts --cloud input is a
usage error; a value found nowhere is a usage error naming its flag.

Output (-o): yaml (default) or json: the ServiceAccount manifest, the cloud side and the commands
that create it; terraform: Terraform JSON (aws_iam_role, aws_eks_pod_identity_association,
google_service_account_iam_member, azurerm_federated_identity_credential).
--output-dir DIR writes DIR/serviceaccount.yaml, DIR/cloud/ (the cloud side as the clouds' CLIs
print it: aws iam get-role and list-attached-role-policies, aws eks
describe-pod-identity-association and describe-cluster, gcloud iam service-accounts
get-iam-policy and container clusters describe, az identity federated-credential list and az aks
show), DIR/workload-identity.tf.json and, for AWS, DIR/trust-policy.json, so that
  kwid scan -f DIR/serviceaccount.yaml --cloud DIR/cloud
reviews exactly what will be created.

Exit codes: 0 done, 1 error (unreadable input, a cluster without Workload Identity), 2 usage
error (a missing or contradicting value).`,
		Example: `  kwid generate workload-identity --sa shop/orders --aws-role shop-orders --cloud cloud/
  kwid generate workload-identity --sa shop/orders --aws-role shop-orders --pod-identity --cluster-name prod --account 111122223333 --region eu-west-1
  kwid generate workload-identity --sa search/api --gcp-sa api@search-prod.iam.gserviceaccount.com --project search-prod -o terraform
  kwid generate workload-identity --sa llm/gateway --azure-client-id 6f1c... --cloud azure/ --output-dir out/
  kwid scan -f out/serviceaccount.yaml --cloud out/cloud`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, g, streams)
		},
	}
	fs := cmd.Flags()
	o.in.addFlags(fs)
	o.in.addCloudFlag(fs)
	fs.StringVar(&o.sa, "sa", "", "the ServiceAccount: NAMESPACE/NAME")
	fs.StringVar(&o.awsRole, "aws-role", "", "AWS: IAM role name (or ARN) to map it to")
	fs.BoolVar(&o.podID, "pod-identity", false, "AWS: use EKS Pod Identity instead of IRSA")
	fs.StringVar(&o.gcpSA, "gcp-sa", "", "GCP: Google service account e-mail to map it to")
	fs.StringVar(&o.azClient, "azure-client-id", "", "Azure: client ID of the user-assigned managed identity to map it to")
	fs.StringVar(&o.azIdent, "azure-identity", "", "Azure: the managed identity's name (else from az identity show in --cloud)")
	fs.StringVar(&o.azRG, "resource-group", "", "Azure: the managed identity's resource group (else from az identity show in --cloud)")
	fs.StringVar(&o.azSub, "subscription", "", "Azure: the managed identity's subscription ID (else from --cloud)")
	fs.StringVar(&o.azCred, "azure-credential-name", "", "Azure: federated credential name (default NAMESPACE-NAME)")
	fs.StringVar(&o.issuer, "issuer", "", "the cluster's OIDC issuer URL (IRSA, Azure), when neither --cloud nor the cluster gives it")
	fs.StringVar(&o.account, "account", "", "AWS account ID of the role (default: the role ARN's, else the cluster's)")
	fs.StringVar(&o.cluster, "cluster-name", "", "cluster name (picks the cluster in --cloud input; names it otherwise)")
	fs.StringVar(&o.region, "region", "", "AWS region of the EKS cluster (Pod Identity; default: from an EKS issuer)")
	fs.StringVar(&o.project, "project", "", "GCP: project of the cluster's workload pool (PROJECT.svc.id.goog)")
	fs.StringVar(&o.location, "location", "", "GCP: the cluster's location (names it in the generated cluster description)")
	fs.StringVar(&o.audience, "audience", "", "IRSA: token audience, annotated as eks.amazonaws.com/audience (default sts.amazonaws.com, not annotated)")
	fs.Int64Var(&o.tokenExp, "token-expiration", 0, "IRSA: token lifetime in seconds, annotated as eks.amazonaws.com/token-expiration (default: not annotated)")
	fs.StringVarP(&o.output, "output", "o", "yaml", "output format: yaml, json or terraform")
	fs.StringVar(&o.outputDir, "output-dir", "", "write the ServiceAccount, the cloud side (as the clouds' CLIs print it) and Terraform JSON into this directory")
	return cmd
}

// wiOutput is what -o yaml|json prints.
type wiOutput struct {
	ServiceAccount    map[string]any        `json:"serviceAccount"`
	PodTemplateLabels map[string]string     `json:"podTemplateLabels,omitempty"`
	RBAC              []string              `json:"rbac"`
	AWS               *cloud.GeneratedAWS   `json:"aws,omitempty"`
	GCP               *cloud.GeneratedGCP   `json:"gcp,omitempty"`
	Azure             *cloud.GeneratedAzure `json:"azure,omitempty"`
	Commands          []string              `json:"commands"`
	Notes             []string              `json:"notes"`
}

func (o *generateWIOptions) run(cmd *cobra.Command, g *globalOptions, streams genericiooptions.IOStreams) error {
	if err := oneOf("output", o.output, []string{"yaml", "json", "terraform"}); err != nil {
		return err
	}
	ns, name, ok := strings.Cut(o.sa, "/")
	if o.sa == "" || !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return usageErrorf("--sa NAMESPACE/NAME is required (got %q)", o.sa)
	}
	clouds := 0
	for _, set := range []bool{o.awsRole != "", o.gcpSA != "", o.azClient != ""} {
		if set {
			clouds++
		}
	}
	if clouds != 1 {
		return usageErrorf("want exactly one of --aws-role, --gcp-sa and --azure-client-id")
	}
	if o.podID && o.awsRole == "" {
		return usageErrorf("--pod-identity goes with --aws-role")
	}
	if o.podID && (o.audience != "" || o.tokenExp != 0) {
		return usageErrorf("--audience and --token-expiration are IRSA annotations; EKS Pod Identity uses neither")
	}
	inv, err := o.in.loadCloud()
	if err != nil {
		return err
	}
	if inv == nil {
		inv = &cloud.Inventory{}
	}
	r := &wiResolver{o: o, inv: inv, fs: cmd.Flags(), ctx: cmd.Context(), g: g, streams: streams}
	spec := cloud.Spec{Namespace: ns, Name: name}
	switch {
	case o.awsRole != "":
		spec.AWS, err = r.aws()
	case o.gcpSA != "":
		spec.GCP, err = r.gcp()
	default:
		spec.Azure, err = r.azure()
	}
	if err != nil {
		return err
	}
	gen, err := cloud.Generate(spec)
	if err != nil {
		return usageErrorf("%v", err)
	}
	gen.Notes = append(gen.Notes, r.notes...)
	if r.snap != nil {
		if sa := r.snap.ServiceAccount(ns, name); sa != nil {
			gen.Notes = append(gen.Notes, fmt.Sprintf("ServiceAccount %s/%s already exists in %s: applying replaces its annotations and automount setting", ns, name, r.snap.Cluster.Name))
		}
	}
	if o.outputDir != "" {
		return o.writeDir(streams.Out, gen)
	}
	if o.output == "terraform" {
		tf, err := gen.Terraform()
		if err != nil {
			return err
		}
		_, err = streams.Out.Write(tf)
		return err
	}
	return encodeStructured(streams.Out, o.output, wiOutput{
		ServiceAccount: serviceAccountManifest(gen), PodTemplateLabels: gen.ServiceAccount.PodLabels, RBAC: gen.RBAC,
		AWS: gen.AWS, GCP: gen.GCP, Azure: gen.Azure, Commands: gen.Commands, Notes: gen.Notes,
	})
}

func serviceAccountManifest(gen *cloud.Generated) map[string]any {
	md := map[string]any{"name": gen.ServiceAccount.Name, "namespace": gen.ServiceAccount.Namespace}
	if len(gen.ServiceAccount.Annotations) > 0 {
		md["annotations"] = gen.ServiceAccount.Annotations
	}
	return map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md, "automountServiceAccountToken": false}
}

// writeDir writes the ServiceAccount, the cloud side and Terraform JSON under --output-dir.
func (o *generateWIOptions) writeDir(out io.Writer, gen *cloud.Generated) error {
	files, err := gen.Files()
	if err != nil {
		return err
	}
	all := map[string][]byte{}
	for name, data := range files {
		all[filepath.Join("cloud", filepath.FromSlash(name))] = data
	}
	sa, err := yaml.Marshal(serviceAccountManifest(gen))
	if err != nil {
		return err
	}
	var head strings.Builder
	fmt.Fprintf(&head, "# generated by kwid generate workload-identity\n")
	if l := gen.ServiceAccount.PodLabels; len(l) > 0 {
		for k, v := range l {
			fmt.Fprintf(&head, "# pods using this ServiceAccount need the label %s: %q in their template\n", k, v)
		}
	}
	all["serviceaccount.yaml"] = append([]byte(head.String()), sa...)
	tf, err := gen.Terraform()
	if err != nil {
		return err
	}
	all["workload-identity.tf.json"] = tf
	if tp := gen.TrustPolicyFile(); tp != nil {
		all["trust-policy.json"] = tp
	}
	var b strings.Builder
	for _, name := range cloud.FileNames(all) {
		p := filepath.Join(o.outputDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing --output-dir: %w", err)
		}
		if err := os.WriteFile(p, all[name], 0o644); err != nil {
			return fmt.Errorf("writing --output-dir: %w", err)
		}
		fmt.Fprintf(&b, "wrote %s\n", p)
	}
	fmt.Fprintf(&b, "\nReview: kwid scan -f %s --cloud %s\n", filepath.Join(o.outputDir, "serviceaccount.yaml"), filepath.Join(o.outputDir, "cloud"))
	b.WriteString("Create the cloud side (or apply workload-identity.tf.json with Terraform):\n")
	for _, c := range gen.Commands {
		fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(c, "file://trust-policy.json", "file://"+filepath.Join(o.outputDir, "trust-policy.json")))
	}
	fmt.Fprintf(&b, "  kubectl apply -f %s\n", filepath.Join(o.outputDir, "serviceaccount.yaml"))
	for _, n := range gen.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	_, err = io.WriteString(out, b.String())
	return err
}

// wiResolver finds each value the generation needs: from --cloud input, else the cluster,
// else a flag.
type wiResolver struct {
	o       *generateWIOptions
	inv     *cloud.Inventory
	fs      *pflag.FlagSet
	ctx     context.Context
	g       *globalOptions
	streams genericiooptions.IOStreams
	// snap is the cluster, once read; snapErr why it could not be.
	snap    *inventory.Snapshot
	snapErr error
	read    bool
	notes   []string
}

// snapshot reads the cluster: -f, --snapshot or --demo when given, else the live cluster
// (only ServiceAccounts and namespaces, and its issuer).
func (r *wiResolver) snapshot() *inventory.Snapshot {
	if r.read {
		return r.snap
	}
	r.read = true
	l, err := r.o.in.loadSnapshot(r.ctx, r.g, r.streams, r.fs)
	if err != nil {
		r.snapErr = err
		return nil
	}
	r.snap = l.snap
	return r.snap
}

// explicitInput reports whether a cluster source was named (so it is read up front).
func (r *wiResolver) explicitInput() bool {
	if len(r.o.in.files) > 0 || r.o.in.snapshot != "" || r.o.in.demo {
		return true
	}
	for _, f := range []string{"context", "kubeconfig", "server", "cluster"} {
		if r.fs.Changed(f) {
			return true
		}
	}
	return false
}

// clusterIssuer is the cluster's issuer from the Snapshot (read when needed).
func (r *wiResolver) clusterIssuer() string {
	if s := r.snapshot(); s != nil {
		return s.Cluster.OIDCIssuer
	}
	return ""
}

// missing is the usage error for a value found nowhere.
func (r *wiResolver) missing(what, flag string) error {
	why := ""
	if r.snapErr != nil {
		why = fmt.Sprintf(" (the cluster could not be read: %v)", r.snapErr)
	} else if r.snap != nil {
		why = fmt.Sprintf(" (%s does not say)", clusterLabel(r.snap))
	}
	return usageErrorf("%s is unknown: give %s, or --cloud input that holds it (see docs/cloud.md)%s", what, flag, why)
}

func clusterLabel(s *inventory.Snapshot) string {
	if s.Cluster.Name != "" {
		return s.Cluster.Source + " " + s.Cluster.Name
	}
	return s.Cluster.Source + " input"
}

// agree checks a flag against a value from the input.
func agree(flag, value, fromInput, where string) error {
	if value != "" && fromInput != "" && strings.TrimSuffix(value, "/") != strings.TrimSuffix(fromInput, "/") {
		return usageErrorf("--%s %s contradicts %s (%s)", flag, value, where, fromInput)
	}
	return nil
}

// cloudCluster picks the cluster of the --cloud input: by --cluster-name, else by the
// Snapshot's (or --issuer's) issuer, else the only one.
func (r *wiResolver) cloudCluster() cloud.Cluster {
	if r.inv.Empty() {
		return cloud.Cluster{}
	}
	if n := r.o.cluster; n != "" {
		var c cloud.Cluster
		c.EKS = r.inv.AWS.Cluster(n)
		for _, g := range r.inv.GCP.Clusters {
			if g.Name == n {
				c.GKE = g
			}
		}
		for _, a := range r.inv.Azure.Clusters {
			if a.Name == n {
				c.AKS = a
			}
		}
		return c
	}
	server, issuer := "", r.o.issuer
	if r.explicitInput() {
		if s := r.snapshot(); s != nil {
			server, issuer = s.Cluster.Server, cmp.Or(s.Cluster.OIDCIssuer, issuer)
		}
	}
	c := r.inv.ClusterFor(server, issuer)
	// The only cluster of a cloud is the one meant; a flag that contradicts it is then
	// reported by agree.
	if c.EKS == nil && len(r.inv.AWS.Clusters) == 1 {
		c.EKS = r.inv.AWS.Clusters[0]
	}
	if c.GKE == nil && len(r.inv.GCP.Clusters) == 1 {
		c.GKE = r.inv.GCP.Clusters[0]
	}
	if c.AKS == nil && len(r.inv.Azure.Clusters) == 1 {
		c.AKS = r.inv.Azure.Clusters[0]
	}
	return c
}

var eksIssuerRE = regexp.MustCompile(`^https://oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/id/[A-Za-z0-9]+$`)

func (r *wiResolver) aws() (*cloud.AWSSpec, error) {
	o := r.o
	spec := &cloud.AWSSpec{RoleName: o.awsRole, PodIdentity: o.podID, Audience: o.audience, TokenExpiration: o.tokenExp}
	roleAccount := ""
	if strings.HasPrefix(o.awsRole, "arn:") {
		_, rest, ok := strings.Cut(o.awsRole, ":role/")
		if !ok || cloud.AccountOf(o.awsRole) == "" {
			return nil, usageErrorf("--aws-role %s: want a role name or arn:aws:iam::ACCOUNT:role/NAME", o.awsRole)
		}
		roleAccount = cloud.AccountOf(o.awsRole)
		spec.RoleName = rest[strings.LastIndexByte(rest, '/')+1:]
		if err := agree("account", o.account, roleAccount, "the account of --aws-role"); err != nil {
			return nil, err
		}
	}
	c := r.cloudCluster()
	if c.EKS != nil {
		spec.Cluster = *c.EKS
		if err := agree("issuer", o.issuer, c.EKS.Issuer, "the issuer of EKS cluster "+c.EKS.Name+" in --cloud"); err != nil {
			return nil, err
		}
		if err := agree("region", o.region, regionOf(c.EKS.ARN), "the region of EKS cluster "+c.EKS.Name+" in --cloud"); err != nil {
			return nil, err
		}
	} else if o.cluster != "" && !r.inv.Empty() && len(r.inv.AWS.Clusters) > 0 {
		return nil, usageErrorf("--cluster-name %s: no EKS cluster of that name in --cloud input", o.cluster)
	}
	spec.Account = cmp.Or(o.account, cmp.Or(roleAccount, spec.Cluster.Account()))
	if spec.Account == "" {
		return nil, r.missing("the AWS account of the role", "--account ACCOUNT_ID (or --aws-role as an ARN)")
	}
	if spec.Cluster.Name == "" {
		spec.Cluster.Name = o.cluster
	}
	if !o.podID {
		if spec.Cluster.Issuer == "" {
			if r.explicitInput() || o.issuer == "" {
				spec.Cluster.Issuer = r.clusterIssuer()
			}
			if err := agree("issuer", o.issuer, spec.Cluster.Issuer, "the cluster's issuer"); err != nil {
				return nil, err
			}
			spec.Cluster.Issuer = cmp.Or(spec.Cluster.Issuer, o.issuer)
		}
		if spec.Cluster.Issuer == "" {
			return nil, r.missing("the cluster's OIDC issuer", "--issuer URL (aws eks describe-cluster --name C --query cluster.identity.oidc.issuer)")
		}
	}
	if spec.Cluster.ARN == "" && spec.Cluster.Name != "" {
		region := o.region
		if m := eksIssuerRE.FindStringSubmatch(spec.Cluster.Issuer); region == "" && m != nil {
			region = m[1]
		}
		if region != "" {
			spec.Cluster.ARN = "arn:aws:eks:" + region + ":" + cmp.Or(o.account, spec.Account) + ":cluster/" + spec.Cluster.Name
		}
	}
	if o.podID {
		if spec.Cluster.Name == "" {
			return nil, r.missing("the EKS cluster", "--cluster-name NAME")
		}
		if spec.Cluster.ARN == "" {
			return nil, r.missing("the EKS cluster's region", "--region REGION")
		}
	}
	if c.EKS == nil {
		if spec.Cluster.Name == "" {
			r.notes = append(r.notes, "no EKS cluster description is written (give --cluster-name or aws eks describe-cluster output in --cloud): kwid scan of the output needs it to know the issuer")
		} else {
			r.notes = append(r.notes, "the EKS cluster description under cloud/ holds only what kwid was given (name, ARN, issuer); add the real aws eks describe-cluster output for the cluster's own checks")
		}
	}
	return spec, nil
}

func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}

var gkeIssuerRE = regexp.MustCompile(`^https://container\.googleapis\.com/v1/projects/([^/]+)/(?:locations|zones)/([^/]+)/clusters/([^/]+)$`)

func (r *wiResolver) gcp() (*cloud.GCPSpec, error) {
	o := r.o
	spec := &cloud.GCPSpec{GSA: o.gcpSA}
	c := r.cloudCluster()
	switch {
	case c.GKE != nil:
		if c.GKE.WorkloadPool == "" {
			return nil, fmt.Errorf("GKE cluster %s (%s) has no workload pool: enable Workload Identity first: gcloud container clusters update %s --location %s --workload-pool=%s.svc.id.goog",
				c.GKE.Name, c.GKE.Source.File, c.GKE.Name, c.GKE.Location, cmp.Or(c.GKE.Project, "PROJECT"))
		}
		if err := agree("project", o.project, strings.TrimSuffix(c.GKE.WorkloadPool, ".svc.id.goog"), "the workload pool of GKE cluster "+c.GKE.Name+" in --cloud"); err != nil {
			return nil, err
		}
		spec.Cluster = *c.GKE
	case o.cluster != "" && len(r.inv.GCP.Clusters) > 0:
		return nil, usageErrorf("--cluster-name %s: no GKE cluster of that name in --cloud input", o.cluster)
	default:
		var project, location, name string
		if o.project == "" || r.explicitInput() {
			if m := gkeIssuerRE.FindStringSubmatch(r.clusterIssuer()); m != nil {
				project, location, name = m[1], m[2], m[3]
				if err := agree("project", o.project, project, "the project of the cluster's issuer"); err != nil {
					return nil, err
				}
			}
		}
		project = cmp.Or(project, o.project)
		if project == "" {
			return nil, r.missing("the project of the cluster's workload pool", "--project PROJECT_ID")
		}
		spec.Cluster = cloud.GKECluster{Name: cmp.Or(o.cluster, name), Location: cmp.Or(o.location, location), Project: project, WorkloadPool: project + ".svc.id.goog"}
		if spec.Cluster.Name == "" {
			r.notes = append(r.notes, "no GKE cluster description is written (give --cluster-name or gcloud container clusters describe output in --cloud): kwid scan of the output needs it to know the workload pool")
		} else {
			r.notes = append(r.notes, "the GKE cluster description under cloud/ holds only the workload pool kwid was given; add the real gcloud container clusters describe output to check node pools (GKE_METADATA)")
		}
	}
	return spec, nil
}

// azureIDRE reads /subscriptions/SUB/resourceGroups/RG/... resource IDs.
var azureIDRE = regexp.MustCompile(`(?i)^/subscriptions/([^/]+)/resourcegroups/([^/]+)/`)

func (r *wiResolver) azure() (*cloud.AzureSpec, error) {
	o := r.o
	spec := &cloud.AzureSpec{ClientID: o.azClient, Identity: o.azIdent, ResourceGroup: o.azRG, Subscription: o.azSub, CredentialName: o.azCred}
	if mi := r.inv.Azure.IdentityByClientID(o.azClient); mi != nil {
		if err := agree("azure-identity", o.azIdent, mi.Name, "az identity show in --cloud"); err != nil {
			return nil, err
		}
		spec.Identity = mi.Name
		if m := azureIDRE.FindStringSubmatch(mi.ID); m != nil {
			if !strings.EqualFold(o.azRG, m[2]) && o.azRG != "" {
				return nil, usageErrorf("--resource-group %s contradicts az identity show in --cloud (%s)", o.azRG, m[2])
			}
			if err := agree("subscription", o.azSub, m[1], "az identity show in --cloud"); err != nil {
				return nil, err
			}
			spec.ResourceGroup, spec.Subscription = m[2], m[1]
		}
	}
	c := r.cloudCluster()
	if c.AKS != nil {
		if c.AKS.Issuer == "" || !c.AKS.OIDCEnabled {
			return nil, fmt.Errorf("AKS cluster %s (%s) has no OIDC issuer: enable it first: az aks update --name %s --resource-group RG --enable-oidc-issuer --enable-workload-identity", c.AKS.Name, c.AKS.Source.File, c.AKS.Name)
		}
		if err := agree("issuer", o.issuer, c.AKS.Issuer, "the issuer of AKS cluster "+c.AKS.Name+" in --cloud"); err != nil {
			return nil, err
		}
		spec.Cluster = *c.AKS
		if !c.AKS.WorkloadIdentity {
			r.notes = append(r.notes, fmt.Sprintf("AKS cluster %s does not run the workload identity webhook: az aks update --name %s --resource-group RG --enable-workload-identity", c.AKS.Name, c.AKS.Name))
		}
		if m := azureIDRE.FindStringSubmatch(c.AKS.ID); m != nil && spec.Subscription == "" {
			spec.Subscription = m[1]
		}
	} else {
		if o.cluster != "" && len(r.inv.Azure.Clusters) > 0 {
			return nil, usageErrorf("--cluster-name %s: no AKS cluster of that name in --cloud input", o.cluster)
		}
		issuer := ""
		if r.explicitInput() || o.issuer == "" {
			issuer = r.clusterIssuer()
		}
		if err := agree("issuer", o.issuer, issuer, "the cluster's issuer"); err != nil {
			return nil, err
		}
		spec.Cluster = cloud.AKSCluster{Name: o.cluster, Issuer: cmp.Or(issuer, o.issuer), OIDCEnabled: true}
		if spec.Cluster.Issuer == "" {
			return nil, r.missing("the cluster's OIDC issuer", "--issuer URL (az aks show --name C --resource-group G --query oidcIssuerProfile.issuerUrl)")
		}
		r.notes = append(r.notes, "the AKS cluster description under cloud/ holds only the issuer kwid was given; add the real az aks show output for the cluster's own settings")
	}
	switch {
	case spec.Identity == "":
		return nil, r.missing("the managed identity's name", "--azure-identity NAME")
	case spec.ResourceGroup == "":
		return nil, r.missing("the managed identity's resource group", "--resource-group RG")
	case spec.Subscription == "":
		return nil, r.missing("the managed identity's subscription", "--subscription ID")
	}
	r.notes = append(r.notes, "add the identity's az identity show output to --cloud so kwid links the client ID annotation to the federated credential")
	return spec, nil
}
