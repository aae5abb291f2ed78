package checks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCrossCluster: clusters scanned together, each with its issuer; the shared cloud input
// holds every cloud object. Near misses are named in comments and must not appear.
func TestCrossCluster(t *testing.T) {
	const (
		dir     = "testdata/crosscluster/"
		gkePref = "https://container.googleapis.com/v1/projects/"
		eksPref = "https://oidc.eks.eu-west-1.amazonaws.com/id/"
		shared  = "https://oidc.example.test/shared"
	)
	cluster := func(name, issuer string) ClusterInput {
		return ClusterInput{Name: name, In: cloudInput(t, dir+name+".yaml", dir+"cloud", issuer)}
	}
	gkeProd := cluster("gke-prod", gkePref+"proj/locations/europe-west1/clusters/prod")
	gkeDev := cluster("gke-dev", gkePref+"proj/locations/europe-west1/clusters/dev")
	gkeOther := cluster("gke-other", gkePref+"other/locations/europe-west1/clusters/other")
	eksProd := cluster("eks-prod", eksPref+"PROD")
	eksDev := cluster("eks-dev", eksPref+"DEV")
	aksA := cluster("aks-a", shared)
	aksB := cluster("aks-b", shared)
	disabled := cluster("gke-dev", gkePref+"proj/locations/europe-west1/clusters/dev")
	disabled.In.Config.Disabled = []string{"KW-WI-GCP-003"}

	tests := []struct {
		name     string
		clusters []ClusterInput
		want     []string
		evidence []string // substrings of the first finding's evidence
	}{
		{
			// near misses: batch/worker (absent from dev and nobody there can create it);
			// gke-other's shop/web (another pool: another principal).
			name:     "GKE identity sameness",
			clusters: []ClusterInput{gkeProd, gkeDev, gkeOther},
			want:     []string{"high KW-WI-GCP-003 GCPIAMPolicy web@proj.iam.gserviceaccount.com [gke-prod gke-dev]"},
			evidence: []string{
				"member serviceAccount:proj.svc.id.goog[shop/web]",
				"cluster gke-prod: ServiceAccount shop/web exists, annotated for this identity",
				"cluster gke-dev: no ServiceAccount shop/web; can create ServiceAccounts in shop: User dev-alice",
			},
		},
		{name: "different pools", clusters: []ClusterInput{gkeProd, gkeOther}, want: []string{}},
		{name: "GKE check disabled", clusters: []ClusterInput{disabled, gkeProd}, want: []string{}},
		{
			// near miss: role/split trusts both issuers, but its dev subject ops/deployer does
			// not exist in eks-dev and nobody there can create it.
			name:     "IAM role trusting two clusters' issuers",
			clusters: []ClusterInput{eksProd, eksDev},
			want:     []string{"medium KW-WI-GEN-002 IAMRole arn:aws:iam::111122223333:role/shared [eks-prod eks-dev]"},
			evidence: []string{
				"cluster eks-prod: ServiceAccount pay/api exists, annotated for this identity",
				"cluster eks-dev: ServiceAccount pay/api exists, not annotated for this identity (it holds it anyway)",
			},
		},
		{
			// near miss: solo-fic (its issuer is no cluster's).
			name:     "Azure credential of a shared issuer",
			clusters: []ClusterInput{aksA, aksB},
			want: []string{
				"high KW-WI-GEN-002 FederatedCredential api-id/api-fic [aks-a aks-b]",
				"low KW-WI-GEN-002 OIDCIssuer https://oidc.example.test/shared [aks-a aks-b]",
			},
			evidence: []string{
				"cluster aks-a: ServiceAccount app/api exists, annotated for this identity",
				"cluster aks-b: no ServiceAccount app/api; can create ServiceAccounts in app: ServiceAccount ci/ci-bot",
			},
		},
		{name: "one cluster", clusters: []ClusterInput{gkeProd}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := CrossCluster(tt.clusters)
			got := []string{}
			for _, f := range res.Findings {
				got = append(got, fmt.Sprintf("%s %s %s %v", f.Severity, f.Check, f.Object, f.Clusters))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("findings (-want +got):\n%s", diff)
			}
			if len(tt.evidence) == 0 {
				return
			}
			ev := strings.Join(res.Findings[0].Evidence, "\n")
			for _, e := range tt.evidence {
				if !strings.Contains(ev, e) {
					t.Errorf("evidence lacks %q:\n%s", e, ev)
				}
			}
			if len(res.NotAssessed) > 0 {
				t.Errorf("not assessed: %v", res.NotAssessed)
			}
		})
	}
}

// TestCrossClusterUnknownIssuer: an EKS-looking cluster whose issuer is unknown is named as
// not assessed, never passed.
func TestCrossClusterUnknownIssuer(t *testing.T) {
	dir := "testdata/crosscluster/"
	a := ClusterInput{Name: "eks-prod", In: cloudInput(t, dir+"eks-prod.yaml", dir+"cloud/aws/shared", "")}
	b := ClusterInput{Name: "eks-dev", In: cloudInput(t, dir+"eks-dev.yaml", dir+"cloud/aws/shared", "")}
	res := CrossCluster([]ClusterInput{a, b})
	if len(res.Findings) != 0 {
		t.Errorf("findings without issuers: %v", res.Findings)
	}
	if len(res.NotAssessed) != 2 || !strings.Contains(res.NotAssessed[0].Reason, "cluster eks-prod: its OIDC issuer is unknown") ||
		!strings.Contains(res.NotAssessed[1].Reason, "cluster eks-dev: its OIDC issuer is unknown") {
		t.Errorf("not assessed = %v, want both clusters' unknown issuers", res.NotAssessed)
	}
}
