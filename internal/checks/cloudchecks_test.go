package checks

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/cloud"
)

func cloudInput(t *testing.T, manifests, cloudDir, issuer string) *Input {
	t.Helper()
	s := load(t, manifests)
	s.Cluster.OIDCIssuer = issuer
	in := NewInput(s)
	var err error
	if in.Cloud, err = cloud.Load([]string{cloudDir}); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestCloudChecks: each check on real-shaped CLI output, with the near misses named in
// comments (they must not appear).
func TestCloudChecks(t *testing.T) {
	const role = "IAMRole arn:aws:iam::111122223333:role/"
	aws := cloudInput(t, "testdata/wi-cloud.yaml", "testdata/wi-cloud", "")
	gke := cloudInput(t, "testdata/wi-gke.yaml", "testdata/wi-gke", "https://container.googleapis.com/v1/projects/proj/locations/europe-west1/clusters/prod")
	tests := []struct {
		in    *Input
		check string
		want  []string
	}{
		// near miss: sub-other-issuer (its sub condition names another issuer: nobody is admitted)
		{aws, "KW-WI-AWS-001", []string{"critical " + role + "no-sub"}},
		// near misses: exact (StringEquals), no-sub (no sub at all: 001)
		{aws, "KW-WI-AWS-002", []string{"critical " + role + "any-ns", "high " + role + "ns-wildcard"}},
		// near misses: every role with an aud condition
		{aws, "KW-WI-AWS-003", []string{"medium " + role + "no-aud"}},
		// prod/legacy: the trust names only the old issuer; prod/misissued: the sub condition
		// is on the old issuer's key. The old issuer is in no cluster of the input.
		{aws, "KW-WI-AWS-004", []string{"high ServiceAccount prod/legacy", "high ServiceAccount prod/misissued", "low " + role + "old-issuer"}},
		// near miss: bounded-admin (AdministratorAccess under a permissions boundary)
		{aws, "KW-WI-AWS-005", []string{"critical " + role + "admin"}},
		// near miss: pod-scoped (SourceAccount and SourceArn conditions)
		{aws, "KW-WI-AWS-007", []string{"medium " + role + "pod-open"}},
		// near misses: a-cart, a-xacct-ok (external ID set)
		{aws, "KW-WI-AWS-008", []string{"high PodIdentityAssociation fixture/a-missing", "medium PodIdentityAssociation fixture/a-notags", "medium PodIdentityAssociation fixture/a-xacct"}},
		{aws, "KW-EKS-001", []string{"medium EKSCluster arn:aws:eks:eu-west-1:111122223333:cluster/fixture"}},
		{aws, "KW-EKS-002", []string{}}, // bootstrapClusterCreatorAdminPermissions false
		// near miss: lt-0safe (required, hop limit 1)
		{aws, "KW-EKS-005", []string{"medium LaunchTemplate lt-0open:3"}},
		// near misses: the ok credential, other-cluster (another issuer)
		{aws, "KW-WI-AZ-002", []string{"high FederatedCredential gw/ghost", "medium FederatedCredential gw/wide-aud"}},
		// prod/ghost is in the exact role's trust; near miss: any-ns (a wildcard is 002's)
		{aws, "KW-WI-GEN-001", []string{"high " + role + "exact"}},
		{gke, "KW-WI-GCP-001", []string{"medium ServiceAccount web/frontend"}},
		{gke, "KW-WI-GCP-002", []string{"high GCPIAMPolicy projects/proj"}},
		// the namespace principalSet (medium), and each exact member granted in both clusters
		// of the pool (low): web/api on the project, web/frontend and web/ghost on the GSA
		{gke, "KW-WI-GCP-003", []string{"medium GCPIAMPolicy web@proj.iam.gserviceaccount.com", "low GCPIAMPolicy projects/proj",
			"low GCPIAMPolicy web@proj.iam.gserviceaccount.com", "low GCPIAMPolicy web@proj.iam.gserviceaccount.com"}},
		{gke, "KW-WI-GEN-001", []string{"high GCPIAMPolicy web@proj.iam.gserviceaccount.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			c, err := Lookup(tc.check)
			if err != nil {
				t.Fatal(err)
			}
			res := Run(tc.in, c)
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if len(res.NotAssessed) > 0 {
				t.Errorf("not assessed: %+v", res.NotAssessed)
			}
		})
	}
}

// TestCloudChecksEvidence: the evidence says why, in the policy's own terms.
func TestCloudChecksEvidence(t *testing.T) {
	in := cloudInput(t, "testdata/wi-cloud.yaml", "testdata/wi-cloud", "")
	res := Run(in, wiIRSAMismatchCheck, wiIRSAWildcardCheck)
	f := escFind(t, res, "KW-WI-AWS-004", "ServiceAccount prod/legacy")
	if !strings.Contains(strings.Join(f.Evidence, "\n"), "the trust federates oidc.eks.eu-west-1.amazonaws.com/id/OLDCLUSTER") {
		t.Errorf("evidence: %q", f.Evidence)
	}
	if f.Location == nil || f.Location.File != "testdata/wi-cloud.yaml" {
		t.Errorf("a ServiceAccount finding is located in its manifest: %+v", f.Location)
	}
	w := escFind(t, res, "KW-WI-AWS-002", "IAMRole arn:aws:iam::111122223333:role/ns-wildcard")
	if !strings.Contains(w.Message, "namespace prod") || w.Location == nil || !strings.HasSuffix(w.Location.File, "roles/ns-wildcard/get-role.json") {
		t.Errorf("finding: %s at %+v", w.Message, w.Location)
	}
	if !strings.Contains(w.Remediation, `"oidc.eks.eu-west-1.amazonaws.com/id/FIXTURE0001:sub":"system:serviceaccount:prod:logs"`) {
		t.Errorf("remediation: %s", w.Remediation)
	}
}

// TestCloudNotAssessed: an EKS cluster with IRSA annotations and no cloud input is not
// assessed, never clean; a cluster that uses no cloud is silent.
func TestCloudNotAssessed(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/wi-cloud.yaml")), wiIRSANoSubCheck, eksAccessEntriesCheck, eksIMDSCheck, azureFICCheck)
	want := []NotAssessed{
		{Check: "KW-WI-AWS-001", Reason: "no --cloud input for AWS IAM roles (aws iam get-role, see docs/cloud.md)"},
		{Check: "KW-EKS-001", Reason: "no --cloud input for the EKS cluster (aws eks describe-cluster)"},
		{Check: "KW-EKS-005", Reason: "no --cloud input for EC2 launch templates (aws ec2 describe-launch-template-versions) of the nodes"},
		{Check: "KW-WI-AZ-002", Reason: "no --cloud input for Azure federated credentials (az identity federated-credential list)"},
	}
	if diff := cmp.Diff(want, res.NotAssessed); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings without input: %v", res.Findings)
	}
	res = Run(NewInput(load(t, "testdata/serviceaccounts.yaml")), wiIRSANoSubCheck, eksAccessEntriesCheck, gcpProjectLevelCheck, azureFICCheck)
	if len(res.NotAssessed)+len(res.Findings) != 0 {
		t.Errorf("a cluster without cloud identities: %+v %+v", res.NotAssessed, res.Findings)
	}
}
