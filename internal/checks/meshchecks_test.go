package checks

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/inventory"
)

func TestMeshChecks(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/mesh.yaml")), lookupAll(t, "KW-MESH-001", "KW-MESH-002")...)
	tests := []struct {
		check string
		want  []string
	}{
		{"KW-MESH-001", []string{
			"high AuthorizationPolicy shop/payments-allow",
			"medium AuthorizationPolicy shop/deny-scanner",
		}},
		{"KW-MESH-002", []string{
			"high AuthorizationPolicy shop/allow-not-frontend",
			"medium AuthorizationPolicy shop/deny-scanner",
			"medium AuthorizationPolicy strict/deny-legacy",
			"low AuthorizationPolicy shop/payments-allow",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	if len(res.NotAssessed) != 0 {
		t.Errorf("everything was in the input, yet: %+v", res.NotAssessed)
	}
	// The evidence names exactly the squattable identities, and not the near misses.
	for _, f := range res.Findings {
		ev := strings.Join(f.Evidence, "\n")
		switch f.Check + " " + f.Object.Name {
		case "KW-MESH-001 payments-allow":
			for _, want := range []string{`"cluster.local/ns/frontend/sa/web-old"`, "no such ServiceAccount", `"*/ns/ghost/sa/batch"`, "namespace ghost does not exist"} {
				if !strings.Contains(ev, want) {
					t.Errorf("%s: evidence lacks %q:\n%s", f.Object, want, ev)
				}
			}
			for _, not := range []string{`sa/web"`, "api-*", "sa/*", `"*"`} {
				if strings.Contains(ev, not) {
					t.Errorf("%s: evidence reports the near miss %q:\n%s", f.Object, not, ev)
				}
			}
			if diff := cmp.Diff([]inventory.ObjectRef{saRef("frontend", "web-old"), saRef("ghost", "batch")}, f.Related); diff != "" {
				t.Errorf("related (-want +got):\n%s", diff)
			}
		case "KW-MESH-002 deny-legacy":
			if !strings.Contains(ev, "port 9090 DISABLE") || strings.Contains(ev, "PERMISSIVE") {
				t.Errorf("deny-legacy: evidence should blame port 9090 only:\n%s", ev)
			}
		case "KW-MESH-002 deny-scanner":
			if !strings.Contains(ev, "mesh-wide PeerAuthentication istio-system/default: PERMISSIVE") {
				t.Errorf("deny-scanner: evidence should name the mesh-wide mode:\n%s", ev)
			}
		}
	}
}

// TestMeshChecksInputStates: no mesh is silent; a mesh kind that could not be read is not
// assessed, never a pass.
func TestMeshChecksInputStates(t *testing.T) {
	noMesh := load(t, "testdata/serviceaccounts.yaml")
	res := Run(NewInput(noMesh), lookupAll(t, "KW-MESH-001", "KW-MESH-002")...)
	if len(res.Findings)+len(res.NotAssessed) != 0 {
		t.Errorf("a cluster without Istio: %+v %+v", res.Findings, res.NotAssessed)
	}

	forbidden := load(t, "testdata/mesh.yaml")
	forbidden.Status[inventory.AuthorizationPolicies] = inventory.Status{State: inventory.Forbidden, Error: "403"}
	res = Run(NewInput(forbidden), lookupAll(t, "KW-MESH-001", "KW-MESH-002")...)
	if len(res.Findings) != 0 || len(res.NotAssessed) != 2 {
		t.Errorf("AuthorizationPolicies forbidden: findings %v, not assessed %+v", got(res, "KW-MESH-001"), res.NotAssessed)
	}

	noPeer := load(t, "testdata/mesh.yaml")
	noPeer.Status[inventory.PeerAuthentications] = inventory.Status{State: inventory.Absent}
	res = Run(NewInput(noPeer), lookupAll(t, "KW-MESH-001", "KW-MESH-002")...)
	if len(got(res, "KW-MESH-002")) != 0 || len(res.NotAssessed) != 1 || res.NotAssessed[0].Check != "KW-MESH-002" {
		t.Errorf("PeerAuthentications not in the input: findings %v, not assessed %+v", got(res, "KW-MESH-002"), res.NotAssessed)
	}
	if len(got(res, "KW-MESH-001")) != 2 {
		t.Errorf("KW-MESH-001 does not need PeerAuthentications: %v", got(res, "KW-MESH-001"))
	}
}

func TestParsePrincipal(t *testing.T) {
	tests := []struct {
		in   string
		want meshTarget
		ok   bool
	}{
		{"cluster.local/ns/a/sa/b", meshTarget{Namespace: "a", Name: "b"}, true},
		{"spiffe://td.example/ns/a/sa/b", meshTarget{Namespace: "a", Name: "b"}, true},
		{"*/ns/a/sa/b", meshTarget{Namespace: "a", Name: "b"}, true},
		{"*ns/a/sa/b", meshTarget{Namespace: "a", Name: "b"}, true},
		{"cluster.local/ns/a/sa/web-*", meshTarget{Namespace: "a", Prefix: "web-"}, true},
		{"cluster.local/ns/a/sa/*", meshTarget{Namespace: "a", anyName: true}, true},
		{"*", meshTarget{}, false},
		{"", meshTarget{}, false},
		{"cluster.local/ns/a-*", meshTarget{}, false},
		{"*/sa/b", meshTarget{}, false},
		{"cluster.local/ns/a", meshTarget{}, false},
		{"cluster.local/ns/a/sa", meshTarget{}, false},
		{"cluster.local/ns/a/sa/", meshTarget{}, false},
		{"cluster.local/ns/a/xx/b", meshTarget{}, false},
		{"*/ns/a/sa/*", meshTarget{}, false},
		{"cluster.local/ns/a/sa/b/c", meshTarget{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parsePrincipal(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Errorf("parsePrincipal(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestIstioMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "x", true}, {"a*", "ab", true}, {"a*", "ba", false}, {"*b", "ab", true}, {"*b", "ba", false}, {"ab", "ab", true}, {"ab", "abc", false},
	} {
		if got := istioMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("istioMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

// FuzzParsePrincipal: any principal string parses without panicking, and what it names is
// always one namespace without wildcards.
func FuzzParsePrincipal(f *testing.F) {
	for _, s := range []string{"cluster.local/ns/a/sa/b", "*/ns/a/sa/*", "spiffe://x/ns//sa/", "*", "ns/ns/ns/sa/sa/sa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, ok := parsePrincipal(s)
		if !ok {
			return
		}
		if tg.Namespace == "" || strings.ContainsAny(tg.Namespace+tg.Name+tg.Prefix, "*/") {
			t.Errorf("parsePrincipal(%q) = %+v", s, tg)
		}
		// The pattern matches the principal of what it names (in its own trust domain).
		p := strings.TrimPrefix(s, "spiffe://")
		suffix := "/ns/" + tg.Namespace + "/sa/" + tg.Name + tg.Prefix
		var ok2 bool
		switch {
		case strings.HasPrefix(p, "*"): // any trust domain ending as the pattern does
			ok2 = tg.Name != "" && strings.HasSuffix("/"+p[1:], suffix)
		case tg.Name != "":
			ok2 = strings.HasSuffix(p, suffix) && !strings.HasPrefix(p, "/")
		default:
			ok2 = strings.HasSuffix(p, suffix+"*")
		}
		if !ok2 {
			t.Errorf("parsePrincipal(%q) = %+v, which the pattern does not match", s, tg)
		}
	})
}
