package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/drift"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/testcluster"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// TestDiffLiveRoleBinding: between two snapshots of a real cluster, a new RoleBinding gives
// a workload's ServiceAccount `create pods` in kube-system; kwid diff reports that gained
// permission, the binding and the findings it causes, and nothing else.
//
// Other test packages share the cluster and may change it between the two snapshots. The
// test takes them back to back and, when the diff holds anything that is not about its
// own objects, checks whether anything else changed in between (any other object line of
// the two saved snapshots differs): if so it retries with fresh names; if not, the
// unrelated output is a kwid bug and the test fails.
func TestDiffLiveRoleBinding(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-diff")
	c.Kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: %[1]s}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: %[1]s}
spec:
  serviceAccountName: app
  containers: [{name: app, image: example.com/app:1.0}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: %[1]s-pod-creator, namespace: kube-system}
rules:
- {apiGroups: [""], resources: [pods], verbs: [create]}
---
# An operator in kube-system holding cluster-admin, as clusters have (the test control plane
# runs its controllers without ServiceAccounts of their own).
apiVersion: v1
kind: ServiceAccount
metadata: {name: %[1]s-operator, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[1]s-operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: %[1]s-operator, namespace: kube-system}]
`, ns), "apply", "-f", "-")
	role := ns + "-pod-creator"
	t.Cleanup(func() {
		c.Kubectl(t, "", "delete", "role", role, "-n", "kube-system", "--ignore-not-found")
		c.Kubectl(t, "", "delete", "serviceaccount", ns+"-operator", "-n", "kube-system", "--ignore-not-found")
		c.Kubectl(t, "", "delete", "clusterrolebinding", ns+"-operator", "--ignore-not-found")
	})
	waitFor(t, "the namespace's default ServiceAccount", func() bool {
		return strings.Contains(c.Kubectl(t, "", "get", "serviceaccounts", "-n", ns, "-o", "name"), "serviceaccount/default")
	})

	const attempts = 8
	sa := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: ns, Name: "app"}
	roleRef := inventory.ObjectRef{Kind: inventory.Roles, Namespace: "kube-system", Name: role}
	for attempt := 1; attempt <= attempts; attempt++ {
		binding := fmt.Sprintf("%s-app-pods-%d", ns, attempt)
		bindingRef := inventory.ObjectRef{Kind: inventory.RoleBindings, Namespace: "kube-system", Name: binding}
		ours := func(r inventory.ObjectRef) bool {
			return r.Namespace == ns || r == bindingRef || r == roleRef || r.Name == ns+"-operator"
		}
		dir := t.TempDir()
		oldPath, newPath := filepath.Join(dir, "old.json.gz"), filepath.Join(dir, "new.json.gz")
		snapshot(t, c, oldPath)
		c.Kubectl(t, "", "create", "rolebinding", binding, "-n", "kube-system", "--role", role, "--serviceaccount", ns+":app")
		t.Cleanup(func() { c.Kubectl(t, "", "delete", "rolebinding", binding, "-n", "kube-system", "--ignore-not-found") })
		snapshot(t, c, newPath)

		stdout, stderr, code := kwid(t, "diff", oldPath, newPath, "-o", "json")
		if code != 0 {
			t.Fatalf("kwid diff: exit %d: %s", code, stderr)
		}
		var res drift.Result
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("kwid diff -o json: %v\n%s", err, stdout)
		}

		// Split the report into what is about this test's objects and the rest.
		var unrelated []string
		var findings []string
		note := func(change string, f checks.Finding) {
			line := fmt.Sprintf("%s %s %s", change, f.Check, f.Object)
			if ours(f.Object) || slices.ContainsFunc(f.Related, ours) {
				findings = append(findings, line)
			} else {
				unrelated = append(unrelated, "finding "+line)
			}
		}
		for _, f := range res.Findings.Added {
			note("added "+f.Severity.String(), f)
		}
		for _, f := range res.Findings.Fixed {
			note("fixed "+f.Severity.String(), f)
		}
		for _, ch := range res.Findings.Changed {
			note(fmt.Sprintf("changed %s->%s", ch.OldSeverity, ch.Severity), ch.Finding)
		}
		var identities []drift.IdentityChange
		for _, id := range res.Identities {
			if id.Kind == "ServiceAccount" && id.Namespace == ns {
				identities = append(identities, id)
			} else {
				unrelated = append(unrelated, "identity "+id.Identity.String())
			}
		}
		var objects []drift.ObjectChange
		for _, o := range res.Objects {
			if ours(o.Object) {
				objects = append(objects, o)
			} else {
				unrelated = append(unrelated, "object "+o.Object.String())
			}
		}
		for _, m := range res.CloudMappings {
			unrelated = append(unrelated, "cloud mapping "+m.ServiceAccount.String())
		}
		var paths []drift.PathChange
		for _, p := range res.Paths {
			if p.From.Namespace == ns {
				paths = append(paths, p)
			} else {
				unrelated = append(unrelated, "path from "+p.From.String())
			}
		}
		if len(unrelated) > 0 {
			if others := otherChanges(t, oldPath, newPath, binding); len(others) > 0 {
				t.Logf("attempt %d: the cluster changed between the snapshots besides this test (%s), retrying", attempt, strings.Join(others, ", "))
				time.Sleep(time.Duration(attempt) * 500 * time.Millisecond) // let a burst of other tests pass
				continue
			}
			t.Fatalf("kwid diff reports changes the test did not make, and nothing else changed:\n%s", strings.Join(unrelated, "\n"))
		}

		// The gained permission, exactly.
		wantIdentities := []drift.IdentityChange{{
			Identity: drift.Identity{Kind: "ServiceAccount", Namespace: ns, Name: "app"},
			Gained: []drift.Scope{{Namespace: "kube-system", Rules: []rbacv1.PolicyRule{
				{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			}}},
			Lost: []drift.Scope{},
		}}
		if diff := cmp.Diff(wantIdentities, identities); diff != "" {
			t.Errorf("identities (-want +got):\n%s", diff)
		}
		// The binding, and no other object.
		wantObjects := []drift.ObjectChange{{
			Object:        bindingRef,
			Change:        drift.Added,
			RoleRef:       &rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role},
			SubjectsAdded: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "app"}},
		}}
		if diff := cmp.Diff(wantObjects, objects); diff != "" {
			t.Errorf("objects (-want +got):\n%s", diff)
		}
		// The new finding: pod creation in a privileged namespace. Other findings on this
		// test's objects may follow from it (e.g. the pod's token is now worth more).
		want := "added critical KW-RBAC-004 " + sa.String()
		if !slices.Contains(findings, want) {
			t.Errorf("findings: want %q among:\n%s", want, strings.Join(findings, "\n"))
		}
		for _, f := range findings {
			if strings.HasPrefix(f, "fixed") {
				t.Errorf("finding fixed by adding a binding: %s", f)
			}
		}
		t.Logf("findings on this test's objects:\n%s", strings.Join(findings, "\n"))
		// The new path to cluster-admin: a pod created in kube-system runs as one of its
		// controllers' ServiceAccounts.
		if len(paths) != 1 || paths[0].Change != drift.Added || paths[0].From != (drift.Identity{Kind: "ServiceAccount", Namespace: ns, Name: "app"}) ||
			paths[0].To != "cluster-admin" || len(paths[0].Steps) < 2 || !strings.Contains(paths[0].Steps[0], "[P5]") {
			t.Errorf("paths: want one added path from ServiceAccount %s/app starting with P5, got %+v", ns, paths)
		}

		// A live side reads the same cluster: diffing NEW against it runs end to end.
		cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if _, stderr, code := kwid(t, "diff", newPath, "context:"+cfg.CurrentContext, "--kubeconfig", c.Kubeconfig, "-o", "json"); code != 0 {
			t.Fatalf("kwid diff NEW context:%s: exit %d: %s", cfg.CurrentContext, code, stderr)
		}
		return
	}
	t.Fatalf("the cluster kept changing between snapshots in %d attempts", attempts)
}

func snapshot(t *testing.T, c *testcluster.Cluster, path string) {
	t.Helper()
	if _, stderr, code := kwid(t, "snapshot", "--kubeconfig", c.Kubeconfig, "-o", path); code != 0 {
		t.Fatalf("kwid snapshot: exit %d: %s", code, stderr)
	}
}

// otherChanges returns the objects, other than the named binding, whose saved form differs
// between two snapshots (one JSON line per object).
func otherChanges(t *testing.T, oldPath, newPath, binding string) []string {
	t.Helper()
	lines := func(path string) map[string]bool {
		s, err := inventory.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := inventory.Save(&buf, s, false); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for i, l := range strings.Split(buf.String(), "\n") {
			if i > 0 && l != "" { // line 0 is the header
				out[l] = true
			}
		}
		return out
	}
	old, new := lines(oldPath), lines(newPath)
	var changed []string
	name := func(l string) string {
		var o struct {
			Kind     string
			Metadata struct{ Namespace, Name string }
		}
		_ = json.Unmarshal([]byte(l), &o)
		return o.Kind + " " + strings.TrimPrefix(o.Metadata.Namespace+"/", "/") + o.Metadata.Name
	}
	for l := range new {
		if !old[l] && !strings.Contains(l, `"name":"`+binding+`"`) {
			changed = append(changed, name(l))
		}
	}
	for l := range old {
		if !new[l] {
			changed = append(changed, name(l))
		}
	}
	slices.Sort(changed)
	return slices.Compact(changed)
}
