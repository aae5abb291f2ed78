package inventory_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/testcluster"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// countingTransport counts requests by method and path.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// TestLivePagination: lists are paginated, every object arrives once, and kwid makes no more
// requests than kinds x pages (plus version and OIDC discovery).
func TestLivePagination(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-pages")
	var manifest strings.Builder
	for i := range 25 {
		fmt.Fprintf(&manifest, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa-%02d}\n---\n", i)
	}
	c.Kubectl(t, manifest.String(), "apply", "-n", ns, "-f", "-")

	counter := &countingTransport{n: map[string]int{}}
	cfg := rest.CopyConfig(c.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter }
	s, err := inventory.LoadLive(context.Background(), cfg, inventory.LiveOptions{
		Options:  inventory.Options{Namespace: ns},
		PageSize: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.ServiceAccounts); got != 26 { // 25 + default
		t.Errorf("got %d ServiceAccounts, want 26", got)
	}
	seen := map[string]bool{}
	for _, sa := range s.ServiceAccounts {
		if seen[sa.Name] {
			t.Errorf("ServiceAccount %s collected twice", sa.Name)
		}
		seen[sa.Name] = true
	}
	path := "GET /api/v1/namespaces/" + ns + "/serviceaccounts"
	if got := counter.n[path]; got != 3 {
		t.Errorf("%s: %d requests, want 3 pages of 10", path, got)
	}
	total := 0
	for p, n := range counter.n {
		total += n
		if !strings.HasPrefix(p, "GET ") {
			t.Errorf("kwid must be read-only, made %s", p)
		}
	}
	// Kinds x pages: one request per page of 10 (at least one per kind), ConfigMaps none
	// outside kube-system, plus /version and OIDC discovery.
	budget := 2
	for _, k := range inventory.AllKinds {
		if k != inventory.ConfigMaps {
			budget += max(1, (s.Count(k)+9)/10)
		}
	}
	if total > budget {
		t.Errorf("%d requests, more than kinds x pages (%d): %v", total, budget, counter.n)
	}
}

// TestLiveSecretsMetadataOnly: without opt-in, token Secrets are listed through the
// metadata API with a type field selector, so no token data is ever transferred.
func TestLiveSecretsMetadataOnly(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-secrets")
	c.Kubectl(t, `apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: v1
kind: Secret
metadata:
  name: app-token
  annotations: {kubernetes.io/service-account.name: app}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: Secret
metadata: {name: opaque}
stringData: {password: hunter2}
`, "apply", "-n", ns, "-f", "-")

	for _, tc := range []struct {
		secretData bool
		want       []string
	}{{false, []string{"app-token"}}, {true, []string{"app-token", "opaque"}}} {
		t.Run(fmt.Sprintf("secretData=%v", tc.secretData), func(t *testing.T) {
			s, err := inventory.LoadLive(context.Background(), c.Config, inventory.LiveOptions{
				Options: inventory.Options{Namespace: ns, SecretData: tc.secretData},
			})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, sec := range s.Secrets {
				names = append(names, sec.Name)
				if !tc.secretData && (sec.Data != nil || sec.Type != "kubernetes.io/service-account-token") {
					t.Errorf("Secret %s: data kept or wrong type %q", sec.Name, sec.Type)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Errorf("Secrets %v, want %v", names, tc.want)
			}
			if tc.secretData && s.Secrets[1].Data == nil {
				t.Error("--include-secret-data should keep data")
			}
		})
	}
}
