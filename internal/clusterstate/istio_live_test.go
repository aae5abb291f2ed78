package clusterstate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/testcluster"
)

// TestLiveIstioKinds: the informers mark the Istio kinds absent when the CRDs are not
// served, and watch them (v1beta1 objects too) into inventory's types when they are.
func TestLiveIstioKinds(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-state-mesh")
	kinds := []inventory.Kind{inventory.ServiceAccounts, inventory.AuthorizationPolicies, inventory.PeerAuthentications}
	start := func() *clusterstate.State {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		st, err := clusterstate.New(c.Config, clusterstate.Options{Namespace: ns, Kinds: kinds})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return st
	}

	if s := start().Snapshot(); s.StatusOf(inventory.AuthorizationPolicies).State != inventory.Absent || !s.Readable(inventory.ServiceAccounts) {
		t.Errorf("no CRDs: %+v", s.Status)
	}

	c.ApplyCRDs(t, "../inventory/testdata/istio-crds.yaml", true, "authorizationpolicies.security.istio.io", "peerauthentications.security.istio.io")
	c.Kubectl(t, fmt.Sprintf(`apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-x, namespace: %[1]s}
spec:
  action: DENY
  rules: [{from: [{source: {principals: [cluster.local/ns/%[1]s/sa/x]}}]}]
`, ns), "apply", "-f", "-")

	st := start()
	if msg := eventually(20*time.Second, func() string {
		s := st.Snapshot()
		if !s.Readable(inventory.AuthorizationPolicies, inventory.PeerAuthentications) || len(s.AuthorizationPolicies) != 1 {
			return fmt.Sprintf("status %+v, %d policies", s.Status, len(s.AuthorizationPolicies))
		}
		return ""
	}); msg != "" {
		t.Fatal(msg)
	}
	// A policy created after the first sync arrives through the watch.
	c.Kubectl(t, fmt.Sprintf("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: %s}\nspec: {mtls: {mode: STRICT}}\n", ns), "apply", "-f", "-")
	if msg := eventually(20*time.Second, func() string {
		s := st.Snapshot()
		if len(s.PeerAuthentications) != 1 || s.PeerAuthentications[0].Spec.MTLS == nil || s.PeerAuthentications[0].Spec.MTLS.Mode != "STRICT" {
			return fmt.Sprintf("PeerAuthentications %+v", s.PeerAuthentications)
		}
		p := s.AuthorizationPolicies[0]
		if p.Spec.EffectiveAction() != "DENY" || p.Spec.Rules[0].From[0].Source.Principals[0] != "cluster.local/ns/"+ns+"/sa/x" {
			return fmt.Sprintf("AuthorizationPolicy %+v", p)
		}
		return ""
	}); msg != "" {
		t.Fatal(msg)
	}
}
