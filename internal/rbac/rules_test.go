package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// resourceMatches must agree with ResourceMatches on "resource/subresource" for every
// combination of rule entries and requests, including the near misses.
func TestResourceMatchesWithoutConcatenation(t *testing.T) {
	entries := []string{"*", "pods", "pods/exec", "pods/*", "*/exec", "*/status", "pod/sexec", "podsexec", "pods/execs", "s/exec", "exec", "", "*/", "/exec", "pods/"}
	requests := [][2]string{{"pods", ""}, {"pods", "exec"}, {"pods", "status"}, {"pod", "sexec"}, {"deployments", "scale"}, {"pods", "execs"}, {"", "exec"}, {"pods", "*"}}
	for _, e := range entries {
		rule := &rbacv1.PolicyRule{Resources: []string{e}}
		for _, r := range requests {
			combined := r[0]
			if r[1] != "" {
				combined += "/" + r[1]
			}
			if got, want := resourceMatches(rule, r[0], r[1]), ResourceMatches(rule, combined, r[1]); got != want {
				t.Errorf("rule %q, request %q %q: %v, want %v", e, r[0], r[1], got, want)
			}
		}
	}
}
