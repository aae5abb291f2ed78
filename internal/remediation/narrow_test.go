package remediation

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	rbacv1 "k8s.io/api/rbac/v1"
)

// upsert replaces the object with the same namespace and name, or appends it.
func upsert[T any](list []T, obj T, key func(*T) [2]string) []T {
	out := slices.Clone(list)
	for i := range out {
		if key(&out[i]) == key(&obj) {
			out[i] = obj
			return out
		}
	}
	return append(out, obj)
}

func remove[T any](list []T, ref inventory.ObjectRef, key func(*T) [2]string) []T {
	return slices.DeleteFunc(slices.Clone(list), func(x T) bool { return key(&x) == [2]string{ref.Namespace, ref.Name} })
}

func roleKey(r *rbacv1.Role) [2]string               { return [2]string{r.Namespace, r.Name} }
func clusterRoleKey(r *rbacv1.ClusterRole) [2]string { return [2]string{"", r.Name} }
func bindingKey(r *rbacv1.RoleBinding) [2]string     { return [2]string{r.Namespace, r.Name} }
func clusterBindingKey(r *rbacv1.ClusterRoleBinding) [2]string {
	return [2]string{"", r.Name}
}

// applyRBAC is what `kubectl apply -f DIR && sh delete.sh` does to the RBAC of a Snapshot.
func applyRBAC(t *testing.T, s *inventory.Snapshot, p *Plan) *inventory.Snapshot {
	t.Helper()
	out := *s
	for _, o := range p.Objects {
		switch obj := o.Object.(type) {
		case *rbacv1.Role:
			out.Roles = upsert(out.Roles, *obj, roleKey)
		case *rbacv1.ClusterRole:
			out.ClusterRoles = upsert(out.ClusterRoles, *obj, clusterRoleKey)
		case *rbacv1.RoleBinding:
			out.RoleBindings = upsert(out.RoleBindings, *obj, bindingKey)
		case *rbacv1.ClusterRoleBinding:
			out.ClusterRoleBindings = upsert(out.ClusterRoleBindings, *obj, clusterBindingKey)
		default:
			t.Fatalf("plan object %s is not RBAC: %T", o.File, obj)
		}
	}
	for _, d := range p.Deletions {
		switch {
		case d.Deletes == nil:
			t.Fatalf("deletion %q names no object", d.Command)
		case d.Deletes.Kind == inventory.RoleBindings:
			out.RoleBindings = remove(out.RoleBindings, *d.Deletes, bindingKey)
		case d.Deletes.Kind == inventory.ClusterRoleBindings:
			out.ClusterRoleBindings = remove(out.ClusterRoleBindings, *d.Deletes, clusterBindingKey)
		default:
			t.Fatalf("unexpected deletion %s", d.Command)
		}
	}
	return &out
}

func findingKeys(s *inventory.Snapshot) []string {
	var out []string
	for _, f := range checks.Run(checks.NewInput(s)).Findings {
		out = append(out, f.Check+" "+f.Object.String())
	}
	return out
}

// TestNarrowingFixesFindings: on the RBAC fixtures of the checks, the narrowed roles and
// bindings kwid fix writes, applied, remove every finding they claim to fix and add none.
func TestNarrowingFixesFindings(t *testing.T) {
	var narrowed []*checks.Check
	for id := range narrowSpecs {
		c, err := checks.Lookup(id)
		if err != nil {
			t.Fatalf("narrowSpecs names %s: %v", id, err)
		}
		narrowed = append(narrowed, c)
	}
	for _, fixture := range []string{"rbac-secrets.yaml", "rbac-wildcards.yaml", "rbac-workloads.yaml", "rbac-escalation.yaml", "rbac-csr.yaml", "rbac-admin.yaml"} {
		t.Run(fixture, func(t *testing.T) {
			s, errs, err := inventory.LoadFiles(context.Background(), []string{"../checks/testdata/" + fixture}, inventory.FileOptions{})
			if err != nil || len(errs) > 0 {
				t.Fatal(err, errs)
			}
			before := findingKeys(s)
			res := checks.Run(checks.NewInput(s), narrowed...)
			p, err := Build(s, res.Findings)
			if err != nil {
				t.Fatal(err)
			}
			claimed := map[string]bool{}
			for _, o := range p.Objects {
				for _, f := range o.Fixes {
					claimed[f] = true
				}
			}
			for _, d := range p.Deletions {
				claimed[d.Fixes] = true
			}
			if len(claimed) == 0 {
				t.Fatalf("no fix planned for %d findings", len(res.Findings))
			}
			after := findingKeys(applyRBAC(t, s, p))
			for _, f := range after {
				if !slices.Contains(before, f) {
					t.Errorf("the fix added a finding: %s", f)
				}
				if claimed[f] {
					t.Errorf("the fix claims %s, which remains", f)
				}
			}
			fixed := 0
			for _, f := range before {
				if !slices.Contains(after, f) {
					fixed++
				}
			}
			t.Logf("%d findings before, %d after; %d claimed", len(before), len(after), len(claimed))
			if fixed == 0 {
				t.Errorf("nothing fixed")
			}
			for _, o := range p.Objects {
				if !strings.HasSuffix(o.File, ".yaml") || o.Why == "" || o.Risk == "" {
					t.Errorf("object %s: why %q, risk %q", o.File, o.Why, o.Risk)
				}
			}
		})
	}
}
