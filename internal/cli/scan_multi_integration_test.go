package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kwid-dev/kwid/internal/testcluster"
	"k8s.io/client-go/tools/clientcmd"
)

// TestLiveScanSeveralContexts: `kwid scan --context blue,green` reads two kubeconfig
// contexts of the real API server as two clusters. They share its OIDC issuer, so an Azure
// federated credential for that issuer and one ServiceAccount is satisfiable in both: the
// MultiScanResult names both clusters, with each cluster's own ScanResult.
func TestLiveScanSeveralContexts(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-multi")
	c.Kubectl(t, `apiVersion: v1
kind: ServiceAccount
metadata: {name: api, annotations: {azure.workload.identity/client-id: 00000000-0000-0000-0000-00000000000a}}
`, "apply", "-n", ns, "-f", "-")

	dir := t.TempDir()
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil {
		t.Fatalf("kubeconfig %s has no current context", c.Kubeconfig)
	}
	for _, name := range []string{"blue", "green"} {
		ctx := *cur
		cfg.Contexts[name] = &ctx
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := kwid(t, "scan", "--kubeconfig", kubeconfig, "--context", "blue", "-n", ns, "-o", "json")
	if code != 0 {
		t.Fatalf("kwid scan --context blue: exit %d: %s", code, stderr)
	}
	var one struct {
		Kind    string `json:"kind"`
		Cluster struct {
			Name, OIDCIssuer string
		} `json:"cluster"`
	}
	if err := json.Unmarshal([]byte(stdout), &one); err != nil || one.Kind != "ScanResult" || one.Cluster.OIDCIssuer == "" {
		t.Fatalf("one context: kind %q issuer %q (%v)", one.Kind, one.Cluster.OIDCIssuer, err)
	}
	azure := filepath.Join(dir, "azure")
	if err := os.Mkdir(azure, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(azure, "fic.json"), fmt.Sprintf(`[{"name": "api-fic", "id": "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/api-id/federatedIdentityCredentials/api-fic", "issuer": %q, "subject": "system:serviceaccount:%s:api", "audiences": ["api://AzureADTokenExchange"]}]`, one.Cluster.OIDCIssuer, ns))
	writeFile(t, filepath.Join(azure, "identity.json"), `{"name": "api-id", "id": "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/api-id", "clientId": "00000000-0000-0000-0000-00000000000a", "principalId": "p", "tenantId": "t"}`)

	stdout, stderr, code = kwid(t, "scan", "--kubeconfig", kubeconfig, "--context", "blue,green", "-n", ns, "--cloud", azure, "-o", "json")
	if code != 0 {
		t.Fatalf("kwid scan --context blue,green: exit %d: %s", code, stderr)
	}
	var multi struct {
		Kind     string `json:"kind"`
		Clusters []struct {
			Kind    string `json:"kind"`
			Cluster struct {
				Source, Name string
			} `json:"cluster"`
		} `json:"clusters"`
		CrossCluster struct {
			Findings []struct {
				Check    string `json:"check"`
				Severity string `json:"severity"`
				Object   struct{ Kind, Name string }
				Evidence []string `json:"evidence"`
				Clusters []string `json:"clusters"`
			} `json:"findings"`
		} `json:"crossCluster"`
	}
	if err := json.Unmarshal([]byte(stdout), &multi); err != nil {
		t.Fatalf("decoding the MultiScanResult: %v\n%s", err, stdout)
	}
	if multi.Kind != "MultiScanResult" || len(multi.Clusters) != 2 {
		t.Fatalf("kind %q with %d clusters, want a MultiScanResult of 2", multi.Kind, len(multi.Clusters))
	}
	for i, want := range []string{"blue", "green"} {
		if got := multi.Clusters[i]; got.Kind != "ScanResult" || got.Cluster.Name != want || got.Cluster.Source != "live" {
			t.Errorf("cluster %d: %+v, want the live ScanResult of %s", i, got, want)
		}
	}
	var got []string
	for _, f := range multi.CrossCluster.Findings {
		got = append(got, fmt.Sprintf("%s %s %s %s %v", f.Severity, f.Check, f.Object.Kind, f.Object.Name, f.Clusters))
		if f.Object.Kind == "FederatedCredential" {
			ev := strings.Join(f.Evidence, "\n")
			for _, cl := range []string{"blue", "green"} {
				if want := "cluster " + cl + ": ServiceAccount " + ns + "/api exists, annotated for this identity"; !strings.Contains(ev, want) {
					t.Errorf("evidence lacks %q:\n%s", want, ev)
				}
			}
		}
	}
	for _, want := range []string{
		"low KW-WI-GEN-002 FederatedCredential api-id/api-fic [blue green]",
		"low KW-WI-GEN-002 OIDCIssuer " + strings.TrimSuffix(one.Cluster.OIDCIssuer, "/") + " [blue green]",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("cross-cluster findings %q lack %q", got, want)
		}
	}
}
