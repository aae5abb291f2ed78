package inventory

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const istioManifests = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  selector: {matchLabels: {app: payments}}
  rules:
  - from:
    - source: {principals: [cluster.local/ns/frontend/sa/web], notNamespaces: [dev]}
    to:
    - operation: {methods: [GET]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    8080: {mode: DISABLE}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
---
apiVersion: security.istio.io/v1alpha9
kind: PeerAuthentication
metadata: {name: future, namespace: shop}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: shop}
spec:
  rules: "not a list"
`

// TestIstioFiles: v1 and v1beta1 Istio policies decode into kwid's types; other Istio
// kinds and versions are skipped and counted; a malformed policy is an error naming it.
func TestIstioFiles(t *testing.T) {
	s, errs, err := LoadFiles(context.Background(), []string{"-"}, FileOptions{Stdin: strings.NewReader(istioManifests)})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "<stdin>: document 5 (line 28): security.istio.io/v1 AuthorizationPolicy") {
		t.Errorf("errors: %v", errs)
	}
	if len(s.AuthorizationPolicies) != 1 || len(s.PeerAuthentications) != 1 {
		t.Fatalf("got %d AuthorizationPolicies, %d PeerAuthentications", len(s.AuthorizationPolicies), len(s.PeerAuthentications))
	}
	ap := s.AuthorizationPolicies[0]
	if ap.Spec.EffectiveAction() != "ALLOW" || ap.APIVersion != "security.istio.io/v1" || ap.Namespace != "shop" {
		t.Errorf("AuthorizationPolicy: %+v", ap)
	}
	wantSrc := Source{Principals: []string{"cluster.local/ns/frontend/sa/web"}, NotNamespaces: []string{"dev"}}
	if diff := cmp.Diff(wantSrc, ap.Spec.Rules[0].From[0].Source); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
	pa := s.PeerAuthentications[0]
	if pa.Spec.MTLS.Mode != "PERMISSIVE" || pa.Spec.PortLevelMTLS["8080"].Mode != "DISABLE" {
		t.Errorf("PeerAuthentication: %+v", pa.Spec)
	}
	if diff := cmp.Diff(map[string]int{"security.istio.io/v1/RequestAuthentication": 1, "security.istio.io/v1alpha9/PeerAuthentication": 1}, s.Cluster.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	for _, k := range []Kind{AuthorizationPolicies, PeerAuthentications} {
		if s.StatusOf(k).State != Collected {
			t.Errorf("%s: %+v", k, s.StatusOf(k))
		}
	}
	if _, ok := s.Locations[ObjectRef{Kind: AuthorizationPolicies, Namespace: "shop", Name: "allow-web"}]; !ok {
		t.Error("no location for the AuthorizationPolicy")
	}

	// Saved snapshots keep them.
	var buf bytes.Buffer
	if err := Save(&buf, s, false); err != nil {
		t.Fatal(err)
	}
	back, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.AuthorizationPolicies, back.AuthorizationPolicies); diff != "" {
		t.Errorf("AuthorizationPolicies round trip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(s.PeerAuthentications, back.PeerAuthentications); diff != "" {
		t.Errorf("PeerAuthentications round trip (-want +got):\n%s", diff)
	}

	// Without Istio objects in the input the kinds are absent, not collected.
	s, _, err = LoadFiles(context.Background(), []string{"-"}, FileOptions{Stdin: strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.StatusOf(AuthorizationPolicies); st.State != Absent {
		t.Errorf("no Istio input: %+v", st)
	}
}

func TestIstioDeepCopy(t *testing.T) {
	s, _, err := LoadFiles(context.Background(), []string{"-"}, FileOptions{Stdin: strings.NewReader(istioManifests)})
	if err != nil {
		t.Fatal(err)
	}
	c := s.AuthorizationPolicies[0].DeepCopyObject().(*AuthorizationPolicy)
	c.Spec.Rules[0].From[0].Source.Principals[0] = "changed"
	if s.AuthorizationPolicies[0].Spec.Rules[0].From[0].Source.Principals[0] == "changed" {
		t.Error("DeepCopyObject shares the rules")
	}
}
