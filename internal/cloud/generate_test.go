package cloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const genIssuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/SHOP"

var genEKS = EKSCluster{Name: "shop", ARN: "arn:aws:eks:eu-west-1:111122223333:cluster/shop", Issuer: genIssuer, AuthenticationMode: "API"}

// writeFiles writes Generate's cloud side into a directory and reads it back with Load,
// as kwid scan --cloud does.
func writeFiles(t *testing.T, g *Generated) *Inventory {
	t.Helper()
	files, err := g.Files()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := Load([]string{dir})
	if err != nil {
		t.Fatalf("reading the generated cloud side back: %v", err)
	}
	return inv
}

// TestGenerateReadBack generates each kind of workload identity, reads the cloud side back
// through the --cloud loader, and checks that the cloud grants the identity to the one
// ServiceAccount and to no neighbour (same namespace, same name elsewhere).
func TestGenerateReadBack(t *testing.T) {
	sas := []ServiceAccount{{Namespace: "shop", Name: "orders"}, {Namespace: "shop", Name: "other"}, {Namespace: "dev", Name: "orders"}}
	tests := []struct {
		name      string
		spec      Spec
		identity  string
		mechanism string
		tfType    string
		annot     map[string]string
	}{
		{
			name:     "IRSA",
			spec:     Spec{Namespace: "shop", Name: "orders", AWS: &AWSSpec{RoleName: "shop-orders", Account: "111122223333", Cluster: genEKS}},
			identity: "arn:aws:iam::111122223333:role/shop-orders", mechanism: MechIRSA, tfType: "aws_iam_role",
			annot: map[string]string{IRSARoleAnnotation: "arn:aws:iam::111122223333:role/shop-orders"},
		},
		{
			name:     "IRSA with audience and expiration",
			spec:     Spec{Namespace: "shop", Name: "orders", AWS: &AWSSpec{RoleName: "shop-orders", Account: "111122223333", Cluster: genEKS, Audience: "sts.amazonaws.com", TokenExpiration: 3600}},
			identity: "arn:aws:iam::111122223333:role/shop-orders", mechanism: MechIRSA, tfType: "aws_iam_role",
			annot: map[string]string{IRSARoleAnnotation: "arn:aws:iam::111122223333:role/shop-orders", IRSAAudienceAnnot: "sts.amazonaws.com", "eks.amazonaws.com/token-expiration": "3600"},
		},
		{
			name:     "EKS Pod Identity",
			spec:     Spec{Namespace: "shop", Name: "orders", AWS: &AWSSpec{RoleName: "shop-orders", Account: "111122223333", Cluster: genEKS, PodIdentity: true}},
			identity: "arn:aws:iam::111122223333:role/shop-orders", mechanism: MechPodIdentity, tfType: "aws_eks_pod_identity_association",
		},
		{
			name:     "GKE",
			spec:     Spec{Namespace: "shop", Name: "orders", GCP: &GCPSpec{GSA: "orders@shop-prod.iam.gserviceaccount.com", Cluster: GKECluster{Name: "shop", Location: "europe-west1", Project: "shop-prod", WorkloadPool: "shop-prod.svc.id.goog"}}},
			identity: "gcp:orders@shop-prod.iam.gserviceaccount.com", mechanism: MechGKE, tfType: "google_service_account_iam_member",
			annot: map[string]string{GKEAnnotation: "orders@shop-prod.iam.gserviceaccount.com"},
		},
		{
			name: "Azure",
			spec: Spec{Namespace: "shop", Name: "orders", Azure: &AzureSpec{ClientID: "6f1c2d3e-0000-4000-8000-000000000001", Identity: "orders", ResourceGroup: "rg-shop",
				Subscription: "11111111-2222-3333-4444-555555555555", Cluster: AKSCluster{Name: "shop", Issuer: "https://westeurope.oic.prod-aks.azure.com/T/I/", OIDCEnabled: true}}},
			identity: "azure:identity/orders", mechanism: MechAzure, tfType: "azurerm_federated_identity_credential",
			annot: map[string]string{AzureClientIDAnnot: "6f1c2d3e-0000-4000-8000-000000000001"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Generate(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.annot, g.ServiceAccount.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			inv := writeFiles(t, g)
			c := inv.ClusterFor("", "")
			var got []string
			for _, b := range inv.Bindings(c, sas) {
				if b.Result != Yes {
					t.Errorf("binding %s/%s -> %s is %v, want yes: %s", b.Namespace, b.ServiceAccount, b.Identity, b.Result, b.Evidence)
				}
				got = append(got, b.Namespace+"/"+b.ServiceAccount+" "+b.Mechanism+" "+b.Identity)
			}
			want := []string{"shop/orders " + tc.mechanism + " " + tc.identity}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("bindings read back (-want +got):\n%s", diff)
			}
			if r := inv.AWS.Role(tc.identity); r != nil {
				if !r.AttachedKnown || len(r.Attached) != 0 {
					t.Errorf("role %s: attached policies known %v, %d; want known and none", r.Name, r.AttachedKnown, len(r.Attached))
				}
				if tc.mechanism == MechIRSA {
					if d := r.AssumeWithWebIdentity(genIssuer, Subject("shop", "orders"), "other-audience"); d.Result != No {
						t.Errorf("trust admits another audience: %v", d.Result)
					}
				} else {
					other := PodIdentityContext{ClusterARN: "arn:aws:eks:eu-west-1:999999999999:cluster/shop", ClusterName: "shop", Namespace: "shop", ServiceAccount: "orders", SessionTags: true}
					if d := r.AssumeWithPodIdentity(other); d.Result != No {
						t.Errorf("trust admits the same ServiceAccount of another account's cluster: %v", d.Result)
					}
				}
			}
			tf, err := g.Terraform()
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Resource map[string]map[string]map[string]any `json:"resource"`
			}
			if err := json.Unmarshal(tf, &doc); err != nil {
				t.Fatalf("terraform JSON: %v", err)
			}
			if _, ok := doc.Resource[tc.tfType]["shop_orders"]; !ok {
				t.Errorf("terraform JSON has no %s.shop_orders: %s", tc.tfType, tf)
			}
		})
	}
}

// TestGenerateLoosened: the generated trust read back, with its sub condition turned into a
// wildcard, admits the neighbours the exact one refused; the evaluator is what tells them
// apart.
func TestGenerateLoosened(t *testing.T) {
	g, err := Generate(Spec{Namespace: "shop", Name: "orders", AWS: &AWSSpec{RoleName: "shop-orders", Account: "111122223333", Cluster: genEKS}})
	if err != nil {
		t.Fatal(err)
	}
	host := IssuerHost(genIssuer)
	for _, tc := range []struct {
		name, op, sub string
		admits        []string
	}{
		{"exact", "StringEquals", "system:serviceaccount:shop:orders", []string{"shop/orders"}},
		{"namespace wildcard", "StringLike", "system:serviceaccount:shop:*", []string{"shop/orders", "shop/other"}},
		{"cluster wildcard", "StringLike", "*", []string{"shop/orders", "shop/other", "dev/orders"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(string(g.AWS.TrustPolicy), `"StringEquals"`, `"`+tc.op+`"`, 1)
			doc = strings.Replace(doc, `"`+host+`:sub":"system:serviceaccount:shop:orders"`, `"`+host+`:sub":"`+tc.sub+`"`, 1)
			p, err := ParsePolicy([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			r := &Role{Name: "shop-orders", ARN: g.AWS.RoleARN, Trust: p}
			var got []string
			for _, sa := range [][2]string{{"shop", "orders"}, {"shop", "other"}, {"dev", "orders"}} {
				if r.AssumeWithWebIdentity(genIssuer, Subject(sa[0], sa[1]), STSAudience).Result == Yes {
					got = append(got, sa[0]+"/"+sa[1])
				}
			}
			if diff := cmp.Diff(tc.admits, got); diff != "" {
				t.Errorf("admitted (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	aws := func(f func(*AWSSpec)) Spec {
		a := &AWSSpec{RoleName: "r", Account: "111122223333", Cluster: genEKS}
		f(a)
		return Spec{Namespace: "shop", Name: "orders", AWS: a}
	}
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no cloud", Spec{Namespace: "shop", Name: "orders"}, "want exactly one cloud identity"},
		{"bad namespace", Spec{Namespace: "Shop", Name: "orders", AWS: &AWSSpec{}}, `namespace "Shop"`},
		{"bad account", aws(func(a *AWSSpec) { a.Account = "1234" }), "want 12 digits"},
		{"bad role", aws(func(a *AWSSpec) { a.RoleName = "a/b" }), "IAM role name"},
		{"no issuer", aws(func(a *AWSSpec) { a.Cluster.Issuer = "" }), "needs the cluster's OIDC issuer"},
		{"pod identity without cluster ARN", aws(func(a *AWSSpec) { a.PodIdentity, a.Cluster.ARN = true, "" }), "needs the cluster's name and ARN"},
		{"token expiration", aws(func(a *AWSSpec) { a.TokenExpiration = 60 }), "600 to 86400"},
		{"gsa", Spec{Namespace: "shop", Name: "orders", GCP: &GCPSpec{GSA: "orders@example.com", Cluster: GKECluster{WorkloadPool: "shop-prod.svc.id.goog"}}}, "want NAME@PROJECT"},
		{"pool", Spec{Namespace: "shop", Name: "orders", GCP: &GCPSpec{GSA: "orders@shop-prod.iam.gserviceaccount.com"}}, "workload pool"},
		{"azure client", Spec{Namespace: "shop", Name: "orders", Azure: &AzureSpec{ClientID: "x"}}, "want a UUID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
