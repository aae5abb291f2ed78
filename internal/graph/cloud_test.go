package graph

import (
	"context"
	"strings"
	"testing"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// TestCloudEdges: with the cloud side, a ServiceAccount maps to a role only when the role
// trusts it for this cluster's issuer; EKS access entries lead from a role into the
// cluster, so `paths --to cloud:ROLE` and paths to cluster-admin cross clouds.
func TestCloudEdges(t *testing.T) {
	s, err := inventory.LoadDemo(context.Background(), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := cloud.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	ix := rbac.NewIndex(s)
	plain, withCloud := Build(s, ix), BuildWithCloud(s, ix, inv)
	const acct = "arn:aws:iam::111122223333:role/"
	maps := func(g *Graph, ns, name, role string) bool {
		sa, ok := g.Lookup(ServiceAccount, ns, name)
		if !ok {
			t.Fatalf("no ServiceAccount %s/%s", ns, name)
		}
		for _, ei := range g.Out(sa) {
			if e := g.Edge(ei); e.Prim == MapsTo && g.Node(e.To).Name == role {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name            string
		ns, sa, role    string
		plain, withData bool
	}{
		{"annotated and trusted", "payments", "payments-api", acct + "brightcart-prod-payments-api", true, true},
		{"annotated, trust names the old cluster", "catalog", "catalog-api", acct + "brightcart-prod-catalog-api", true, false},
		{"not annotated, trust has no sub", "payments", "payments-api", acct + "brightcart-prod-search-indexer", false, true},
		{"Pod Identity association", "checkout", "cart-service", acct + "brightcart-prod-cart-service", false, true},
		{"Azure federated credential", "ml-inference", "llm-gateway", "azure:3f8e2a6c-91d4-4b7e-a5c0-6d2f1e9b4a73", true, true},
		{"GKE annotation on EKS", "search", "search-api", "gcp:search-api@brightcart-search-prod.iam.gserviceaccount.com", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := maps(plain, tc.ns, tc.sa, tc.role); got != tc.plain {
				t.Errorf("without cloud input: maps = %v", got)
			}
			if got := maps(withCloud, tc.ns, tc.sa, tc.role); got != tc.withData {
				t.Errorf("with cloud input: maps = %v", got)
			}
		})
	}
	role, err := withCloud.ParseTo("cloud:" + acct + "brightcart-prod-use1-eks-iam-sync")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := withCloud.ShortestTo(withCloud.Sink).Shortest(role)
	if !ok || len(p.Hops) != 1 || p.Hops[0].Primitive != "eks-authn" || !strings.Contains(p.Hops[0].Evidence, "AmazonEKSClusterAdminPolicy") {
		t.Errorf("role to cluster-admin: %+v", p)
	}
	sa, _ := withCloud.Lookup(ServiceAccount, "platform-tools", "eks-iam-sync")
	if p, ok := withCloud.ShortestTo(role).Shortest(sa); !ok || len(p.Hops) != 1 {
		t.Errorf("paths --to cloud:ROLE from its ServiceAccount: %+v", p)
	}
	// aws-auth: the SSO role mapped to system:masters reaches cluster-admin through it.
	sso, err := withCloud.ParseTo("cloud:" + acct + "AWSReservedSSO_PlatformAdmins_3f2a9c81d4e5b6a7")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := withCloud.ShortestTo(withCloud.Sink).Shortest(sso); !ok {
		t.Error("an IAM role mapped to system:masters does not reach cluster-admin")
	}
}
