package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// ResourceMatches against the rule's definition, written the obvious way: every
// combination of rule entries and requests, including the near misses.
func TestResourceMatches(t *testing.T) {
	entries := []string{"*", "pods", "pods/exec", "pods/*", "*/exec", "*/status", "pod/sexec", "podsexec", "pods/execs", "s/exec", "exec", "", "*/", "/exec", "pods/", "nods/exec", "pods/exes"}
	requests := [][2]string{{"pods", ""}, {"pods", "exec"}, {"pods", "status"}, {"pod", "sexec"}, {"deployments", "scale"}, {"pods", "execs"}, {"", "exec"}, {"pods", "*"}}
	for _, e := range entries {
		rule := &rbacv1.PolicyRule{Resources: []string{e}}
		for _, r := range requests {
			combined := r[0]
			if r[1] != "" {
				combined += "/" + r[1]
			}
			want := e == "*" || e == combined || r[1] != "" && e == "*/"+r[1]
			if got := ResourceMatches(rule, r[0], r[1]); got != want {
				t.Errorf("rule %q, request %q %q: %v, want %v", e, r[0], r[1], got, want)
			}
		}
	}
}
