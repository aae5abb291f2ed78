package rbac_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

func allows(rules []rbacv1.PolicyRule, r rbac.Request) bool {
	for i := range rules {
		if rbac.RuleAllows(&rules[i], r) {
			return true
		}
	}
	return false
}

// TestCompactKeepsMeaning: on random rule sets, compaction allows exactly what the
// original rules allow, and never grows the rule count.
func TestCompactKeepsMeaning(t *testing.T) {
	pick := func(rng *rand.Rand, from []string) []string {
		var out []string
		for range 1 + rng.IntN(3) {
			out = append(out, from[rng.IntN(len(from))])
		}
		return out
	}
	verbs := []string{"get", "list", "create", "delete", "*"}
	groups := []string{"", "apps", "*"}
	resources := []string{"pods", "pods/exec", "secrets", "deployments", "*/scale", "*"}
	names := []string{"a", "b"}
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		var rules []rbacv1.PolicyRule
		for range 1 + rng.IntN(6) {
			r := rbacv1.PolicyRule{Verbs: pick(rng, verbs)}
			if rng.IntN(5) == 0 {
				r.NonResourceURLs = pick(rng, []string{"/a", "/a/*", "/b"})
			} else {
				r.APIGroups, r.Resources = pick(rng, groups), pick(rng, resources)
				if rng.IntN(3) == 0 {
					r.ResourceNames = pick(rng, names)
				}
			}
			rules = append(rules, r)
		}
		compact := rbac.Compact(rules)
		if len(compact) > len(rules) {
			t.Fatalf("seed %d: %d rules compacted into %d", seed, len(rules), len(compact))
		}
		for _, v := range verbs[:4] {
			for _, g := range groups[:2] {
				for _, res := range []string{"pods", "pods/exec", "secrets", "deployments", "deployments/scale"} {
					for _, n := range []string{"", "a", "c"} {
						resource, sub, _ := strings.Cut(res, "/")
						r := rbac.Request{Verb: v, APIGroup: g, Resource: resource, Subresource: sub, Name: n}
						if allows(rules, r) != allows(compact, r) {
							t.Fatalf("seed %d: %s: original %v, compacted %v\nrules %+v\ncompact %+v", seed, r, allows(rules, r), allows(compact, r), rules, compact)
						}
					}
				}
			}
			for _, p := range []string{"/a", "/a/x", "/b", "/c"} {
				r := rbac.Request{Verb: v, Path: p}
				if allows(rules, r) != allows(compact, r) {
					t.Fatalf("seed %d: %s differs after compaction", seed, r)
				}
			}
		}
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		verb, resource, name, ns string
		want                     rbac.Request
		err                      string
	}{
		{verb: "get", resource: "pods", ns: "a", want: rbac.Request{Verb: "get", Resource: "pods", Namespace: "a"}},
		{verb: "create", resource: "pods/exec", name: "p", ns: "a", want: rbac.Request{Verb: "create", Resource: "pods", Subresource: "exec", Name: "p", Namespace: "a"}},
		{verb: "update", resource: "deployments/scale", ns: "a", want: rbac.Request{Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "scale", Namespace: "a"}},
		{verb: "list", resource: "widgets.example.com", ns: "a", want: rbac.Request{Verb: "list", APIGroup: "example.com", Resource: "widgets", Namespace: "a"}},
		{verb: "get", resource: "nodes", ns: "a", want: rbac.Request{Verb: "get", Resource: "nodes"}}, // cluster-scoped: namespace dropped
		{verb: "GET", resource: "/healthz", want: rbac.Request{Verb: "get", Path: "/healthz"}},
		{verb: "impersonate", resource: "users", want: rbac.Request{Verb: "impersonate", Resource: "users"}},
		{verb: "gte", resource: "pods", err: `unknown verb "gte"`},
		{verb: "get", resource: "psod", err: `unknown resource "psod" (did you mean "pods"?)`},
		{verb: "get", resource: "pods/exec/x", err: "want RESOURCE[.GROUP][/SUBRESOURCE]"},
		{verb: "get", resource: "/healthz", name: "x", err: "takes no name"},
	}
	for _, tc := range tests {
		t.Run(tc.verb+" "+tc.resource, func(t *testing.T) {
			got, err := rbac.ParseRequest(tc.verb, tc.resource, tc.name, tc.ns)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseQueries(f *testing.F) {
	f.Add([]byte("- {subject: 'sa:a/b', verb: get, resource: pods, namespace: a, expect: allow}"))
	f.Add([]byte(`[{"subject":"group:x","verb":"get","nonResourceURL":"/healthz"}]`))
	f.Add([]byte("- {subject: 'user:u', verb: '*', resource: '*/scale', apiGroup: ''}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		qs, err := rbac.ParseQueries(data)
		if err != nil {
			return
		}
		for _, q := range qs {
			if _, _, err := q.Resolve(); err != nil {
				t.Fatalf("ParseQueries accepted an entry Resolve rejects: %v", err)
			}
		}
	})
}
