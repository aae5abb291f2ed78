package drift

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestAtomDiff: what counts as a change in a rule list, with the API server's matching and
// wildcards taken as atoms of their own.
func TestAtomDiff(t *testing.T) {
	r := func(verbs, groups, resources, names []string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
	}
	url := func(verbs, urls []string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: urls}
	}
	s := func(v ...string) []string { return v }
	core := s("")
	for _, tc := range []struct {
		name               string
		old, new           []rbacv1.PolicyRule
		namespaced         bool
		wantGain, wantLost []rbacv1.PolicyRule
	}{
		{name: "split vs merged", old: []rbacv1.PolicyRule{r(s("get"), core, s("pods"), nil), r(s("list"), core, s("pods"), nil)},
			new: []rbacv1.PolicyRule{r(s("list", "get"), core, s("pods"), nil)}},
		{name: "names split vs merged", old: []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), s("a")), r(s("get"), core, s("secrets"), s("b"))},
			new: []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), s("b", "a"))}},
		{name: "names dropped: all secrets gained", old: []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), s("a"))},
			new:      []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), nil)},
			wantGain: []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), nil)}},
		{name: "named covered by unnamed", old: []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), nil)},
			new:      []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), s("a"))},
			wantLost: []rbacv1.PolicyRule{r(s("get"), core, s("secrets"), nil)}},
		{name: "verb wildcard is its own atom", old: []rbacv1.PolicyRule{r(s("get"), core, s("pods"), nil)},
			new:      []rbacv1.PolicyRule{r(s("*"), core, s("pods"), nil)},
			wantGain: []rbacv1.PolicyRule{r(s("*"), core, s("pods"), nil)}},
		{name: "*/scale covers deployments/scale", old: []rbacv1.PolicyRule{r(s("update"), s("apps"), s("deployments/scale"), nil)},
			new:      []rbacv1.PolicyRule{r(s("update"), s("apps"), s("*/scale"), nil)},
			wantGain: []rbacv1.PolicyRule{r(s("update"), s("apps"), s("*/scale"), nil)}},
		{name: "pods does not cover pods/exec", old: []rbacv1.PolicyRule{r(s("create"), core, s("pods"), nil)},
			new:      []rbacv1.PolicyRule{r(s("create"), core, s("pods", "pods/exec"), nil)},
			wantGain: []rbacv1.PolicyRule{r(s("create"), core, s("pods/exec"), nil)}},
		{name: "URL prefix covers a longer prefix", old: []rbacv1.PolicyRule{url(s("get"), s("/api/*"))},
			new:      []rbacv1.PolicyRule{url(s("get"), s("/api/v1/*", "/healthz"))},
			wantGain: []rbacv1.PolicyRule{url(s("get"), s("/healthz"))}, wantLost: []rbacv1.PolicyRule{url(s("get"), s("/api/*"))}},
		{name: "URLs grant nothing in a namespace", namespaced: true, old: nil,
			new: []rbacv1.PolicyRule{url(s("get"), s("/metrics"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gained, lost := atomDiff(tc.old, tc.new, tc.namespaced)
			if diff := cmp.Diff(tc.wantGain, rulesOf(gained)); diff != "" {
				t.Errorf("gained (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLost, rulesOf(lost)); diff != "" {
				t.Errorf("lost (-want +got):\n%s", diff)
			}
		})
	}
}
