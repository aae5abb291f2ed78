package inventory_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/testcluster"
)

// TestLiveIstio: without Istio's CRDs the mesh kinds are absent and collection succeeds;
// with them, AuthorizationPolicies and PeerAuthentications (v1 and v1beta1 objects) are
// collected through the dynamic client and the mesh checks fire on them. The CRDs are
// removed at the end: other tests share the cluster.
func TestLiveIstio(t *testing.T) {
	c := testcluster.Start(t)
	ctx := context.Background()
	ns := c.Namespace(t, "kwid-mesh")

	s, err := inventory.LoadLive(ctx, c.Config, inventory.LiveOptions{Options: inventory.Options{Namespace: ns}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []inventory.Kind{inventory.AuthorizationPolicies, inventory.PeerAuthentications} {
		if st := s.StatusOf(k); st.State != inventory.Absent {
			t.Errorf("no Istio CRDs: %s is %+v, want absent", k, st)
		}
	}
	if res := checks.Run(checks.NewInput(s)); slices.ContainsFunc(res.NotAssessed, func(n checks.NotAssessed) bool { return n.Check == "KW-MESH-001" || n.Check == "KW-MESH-002" }) {
		t.Errorf("no mesh must be silent: %+v", res.NotAssessed)
	}

	c.ApplyCRDs(t, "testdata/istio-crds.yaml", true, "authorizationpolicies.security.istio.io", "peerauthentications.security.istio.io")

	c.Kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: %[1]s}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: %[1]s}
spec:
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-callers, namespace: %[1]s}
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/%[1]s/sa/web, cluster.local/ns/%[1]s/sa/ghost]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-web, namespace: %[1]s}
spec:
  action: DENY
  rules:
  - from:
    - source: {principals: [cluster.local/ns/%[1]s/sa/web]}
`, ns), "apply", "-f", "-")

	// Discovery of the new group can lag the CRD's Established condition by a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err = inventory.LoadLive(ctx, c.Config, inventory.LiveOptions{Options: inventory.Options{Namespace: ns}})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.AuthorizationPolicies) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, k := range []inventory.Kind{inventory.AuthorizationPolicies, inventory.PeerAuthentications} {
		if st := s.StatusOf(k); st.State != inventory.Collected {
			t.Fatalf("with Istio CRDs: %s is %+v", k, st)
		}
	}
	if len(s.AuthorizationPolicies) != 2 || len(s.PeerAuthentications) != 1 {
		t.Fatalf("collected %d AuthorizationPolicies, %d PeerAuthentications; want 2, 1", len(s.AuthorizationPolicies), len(s.PeerAuthentications))
	}
	if got := s.PeerAuthentications[0].Spec.MTLS; got == nil || got.Mode != "PERMISSIVE" {
		t.Errorf("PeerAuthentication mtls: %+v", got)
	}

	res := checks.Run(checks.NewInput(s))
	var got []string
	for _, f := range res.Findings {
		if f.Check == "KW-MESH-001" || f.Check == "KW-MESH-002" {
			got = append(got, fmt.Sprintf("%s %s %s", f.Check, f.Severity, f.Object.Name))
		}
	}
	want := []string{
		"KW-MESH-001 high allow-callers", // ghost does not exist
		"KW-MESH-002 medium deny-web",    // DENY by principal, PERMISSIVE namespace
		"KW-MESH-002 low allow-callers",  // ALLOW by principal, PERMISSIVE namespace
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("mesh findings:\n got %q\nwant %q", got, want)
	}
	for _, n := range res.NotAssessed {
		if n.Check == "KW-MESH-001" || n.Check == "KW-MESH-002" {
			t.Errorf("not assessed: %+v", n)
		}
	}
}
