package drift_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/drift"
	"github.com/kwid-dev/kwid/internal/inventory"
	rbacv1 "k8s.io/api/rbac/v1"
)

// load reads a fixture side: the shared base cluster plus the case's objects.
func load(t *testing.T, paths ...string) *inventory.Snapshot {
	t.Helper()
	s, errs, err := inventory.LoadFiles(context.Background(), paths, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading %v: %v %v", paths, err, errs)
	}
	return drift.AbsentAsEmpty(s)
}

func compareCase(t *testing.T, name string) *drift.Result {
	t.Helper()
	old := load(t, "testdata/base", filepath.Join("testdata", name, "old"))
	new := load(t, "testdata/base", filepath.Join("testdata", name, "new"))
	return drift.Compare(old, new, drift.Options{})
}

// view is the part of a Result a test pins: findings and objects as one line each.
type view struct {
	Findings      []string
	Identities    []drift.IdentityChange
	CloudMappings []drift.CloudMappingChange
	Objects       []string
	Paths         []string
}

func viewOf(r *drift.Result) view {
	v := view{Identities: r.Identities, CloudMappings: r.CloudMappings}
	for _, f := range r.Findings.Added {
		v.Findings = append(v.Findings, fmt.Sprintf("added %s %s %s", f.Check, f.Severity, f.Object))
	}
	for _, f := range r.Findings.Fixed {
		v.Findings = append(v.Findings, fmt.Sprintf("fixed %s %s %s", f.Check, f.Severity, f.Object))
	}
	for _, c := range r.Findings.Changed {
		v.Findings = append(v.Findings, fmt.Sprintf("changed %s %s->%s %s", c.Check, c.OldSeverity, c.Severity, c.Object))
	}
	for _, o := range r.Objects {
		v.Objects = append(v.Objects, fmt.Sprintf("%s %s", o.Change, o.Object))
	}
	for _, p := range r.Paths {
		v.Paths = append(v.Paths, fmt.Sprintf("%s %s -> %s (%d steps)", p.Change, p.From, p.To, len(p.Steps)))
	}
	return v
}

func rule(verbs []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{""}, Resources: resources}
}

func sa(ns, name string) drift.Identity {
	return drift.Identity{Kind: "ServiceAccount", Namespace: ns, Name: name}
}

func TestCompare(t *testing.T) {
	createPods := []rbacv1.PolicyRule{rule([]string{"create"}, "pods")}
	for _, tc := range []struct {
		name string
		want view
	}{
		{
			// The same rules compacted differently, the same subjects reordered: nothing.
			name: "recompacted",
			want: view{Identities: []drift.IdentityChange{}, CloudMappings: []drift.CloudMappingChange{}},
		},
		{
			name: "new-binding",
			want: view{
				Findings: []string{
					"added KW-RBAC-004 high User alice",
					"added KW-RBAC-004 high ServiceAccount app/web",
					"changed KW-SA-002 low->medium Deployment app/web",
				},
				Identities: []drift.IdentityChange{
					{Identity: sa("app", "web"), Gained: []drift.Scope{{Namespace: "app", Rules: createPods}}, Lost: []drift.Scope{}},
					{Identity: drift.Identity{Kind: "User", Name: "alice"}, Gained: []drift.Scope{{Namespace: "app", Rules: createPods}}, Lost: []drift.Scope{}},
				},
				CloudMappings: []drift.CloudMappingChange{},
				Objects:       []string{"added RoleBinding app/web-pods"},
			},
		},
		{
			// A RoleBinding letting web create pods in kube-system opens a path to
			// cluster-admin (through the controller's ServiceAccount) that did not exist.
			name: "admin-path",
			want: view{
				Findings: []string{
					"added KW-ESC-009 critical ServiceAccount app/web",
					"added KW-RBAC-004 critical ServiceAccount app/web",
					"changed KW-SA-002 low->medium Deployment app/web",
				},
				Identities: []drift.IdentityChange{
					{Identity: sa("app", "web"), Gained: []drift.Scope{{Namespace: "kube-system", Rules: createPods}}, Lost: []drift.Scope{}},
				},
				CloudMappings: []drift.CloudMappingChange{},
				Objects:       []string{"added RoleBinding kube-system/web-pods"},
				Paths:         []string{"added ServiceAccount app/web -> cluster-admin (2 steps)"},
			},
		},
		{
			// A RoleBinding letting worker create pods where web (mapped to an IAM role)
			// runs gives worker a way to that role.
			name: "cloud-path",
			want: view{
				Findings: []string{
					"added KW-RBAC-004 high ServiceAccount app/worker",
					"added KW-WI-AWS-006 medium ServiceAccount app/web",
				},
				Identities: []drift.IdentityChange{
					{Identity: sa("app", "worker"), Gained: []drift.Scope{{Namespace: "app", Rules: createPods}}, Lost: []drift.Scope{}},
				},
				CloudMappings: []drift.CloudMappingChange{},
				Objects:       []string{"added RoleBinding app/worker-pods"},
				Paths:         []string{"added ServiceAccount app/worker -> cloud:arn:aws:iam::111122223333:role/web (1 steps)"},
			},
		},
		{
			name: "removed-binding",
			want: view{
				Identities: []drift.IdentityChange{
					{Identity: sa("app", "worker"), Gained: []drift.Scope{}, Lost: []drift.Scope{{Namespace: "app", Rules: []rbacv1.PolicyRule{rule([]string{"get", "list"}, "configmaps")}}}},
				},
				CloudMappings: []drift.CloudMappingChange{},
				Objects:       []string{"removed RoleBinding app/reader-worker"},
			},
		},
		{
			// Every verb spelled out, then `*`: `*` is an atom of its own (it also
			// covers verbs that do not exist yet), and it covers what was there.
			name: "wildcard",
			want: view{
				Findings: []string{"added KW-RBAC-003 high Role app/pods-admin"},
				Identities: []drift.IdentityChange{
					{Identity: sa("app", "worker"), Gained: []drift.Scope{{Namespace: "app", Rules: []rbacv1.PolicyRule{rule([]string{"*"}, "pods")}}}, Lost: []drift.Scope{}},
				},
				CloudMappings: []drift.CloudMappingChange{},
				Objects:       []string{"changed Role app/pods-admin"},
			},
		},
		{
			name: "cloud",
			want: view{
				// The Azure mapping removed also fixes its missing-label finding.
				Findings:   []string{"fixed KW-WI-AZ-001 medium Deployment app/web"},
				Identities: []drift.IdentityChange{},
				CloudMappings: []drift.CloudMappingChange{
					{ServiceAccount: saRef("app", "web"), Provider: "aws", Annotation: drift.AWSRoleAnnotation, Change: drift.Changed, Old: "arn:aws:iam::111122223333:role/web", New: "arn:aws:iam::111122223333:role/web-admin"},
					{ServiceAccount: saRef("app", "web"), Provider: "gcp", Annotation: drift.GCPSAAnnotation, Change: drift.Added, New: "web@project.iam.gserviceaccount.com"},
					{ServiceAccount: saRef("app", "web"), Provider: "azure", Annotation: drift.AzureIDAnnotation, Change: drift.Removed, Old: "00000000-0000-0000-0000-000000000001"},
				},
			},
		},
		{
			// The same right moves from one namespace to cluster-wide: the findings on the
			// same objects change severity; nothing is lost (cluster-wide covers app).
			name: "severity",
			want: view{
				Findings: []string{
					"changed KW-RBAC-004 high->critical ServiceAccount app/web",
					"changed KW-SA-002 medium->high Deployment app/web",
				},
				Identities: []drift.IdentityChange{
					{Identity: sa("app", "web"), Gained: []drift.Scope{{Rules: createPods}}, Lost: []drift.Scope{}},
				},
				CloudMappings: []drift.CloudMappingChange{},
				Objects:       []string{"added ClusterRoleBinding web-pods", "removed RoleBinding app/web-pods"},
			},
		},
		{
			// A grant to a namespace's ServiceAccounts group is reported once, on the
			// group, with the ServiceAccounts it reaches.
			name: "group",
			want: view{
				Findings: []string{
					"added KW-RBAC-014 medium RoleBinding app/all-read-config",
					// web now uses the API (it reads ConfigMaps): its token is no longer idle.
					"fixed KW-SA-002 low Deployment app/web",
				},
				Identities: []drift.IdentityChange{
					{Identity: drift.Identity{Kind: "Group", Name: "system:serviceaccounts:app"}, ServiceAccounts: 3,
						Gained: []drift.Scope{{Namespace: "app", Rules: []rbacv1.PolicyRule{rule([]string{"get", "list"}, "configmaps")}}}, Lost: []drift.Scope{}},
				},
				CloudMappings: []drift.CloudMappingChange{},
				Objects:       []string{"added RoleBinding app/all-read-config"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := compareCase(t, tc.name)
			if diff := cmp.Diff(tc.want, viewOf(got)); diff != "" {
				t.Errorf("Compare (-want +got):\n%s", diff)
			}
		})
	}
}

func saRef(ns, name string) inventory.ObjectRef {
	return inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: ns, Name: name}
}

// TestIntroduced: --fail-on-new counts added findings and raised severities, not debt.
func TestIntroduced(t *testing.T) {
	for _, tc := range []struct {
		name string
		sev  checks.Severity
		want int
	}{
		{"new-binding", checks.High, 2},
		{"new-binding", checks.Medium, 3},
		{"new-binding", checks.Critical, 0},
		{"severity", checks.Critical, 1},
		{"removed-binding", checks.Info, 0},
		{"recompacted", checks.Info, 0},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.name, tc.sev), func(t *testing.T) {
			if got := len(compareCase(t, tc.name).Introduced(tc.sev)); got != tc.want {
				t.Errorf("Introduced(%s) = %d findings, want %d", tc.sev, got, tc.want)
			}
		})
	}
}

// TestReversed: swapping the sides swaps gained and lost, added and fixed.
func TestReversedPaths(t *testing.T) {
	old := load(t, "testdata/base", "testdata/admin-path/old")
	new := load(t, "testdata/base", "testdata/admin-path/new")
	back := drift.Compare(new, old, drift.Options{})
	if len(back.Paths) != 1 || back.Paths[0].Change != drift.Removed || back.Paths[0].From != sa("app", "web") {
		t.Errorf("reversed paths: %+v", back.Paths)
	}
	if same := drift.Compare(new, new, drift.Options{}); same.Paths == nil || len(same.Paths) != 0 {
		t.Errorf("no change: paths %#v, want an empty list (compared, none changed)", same.Paths)
	}
}

func TestReversed(t *testing.T) {
	old := load(t, "testdata/base", "testdata/new-binding/old")
	new := load(t, "testdata/base", "testdata/new-binding/new")
	fwd, back := drift.Compare(old, new, drift.Options{}), drift.Compare(new, old, drift.Options{})
	if diff := cmp.Diff(fwd.Findings.Added, back.Findings.Fixed); diff != "" {
		t.Errorf("added forward vs fixed backward (-want +got):\n%s", diff)
	}
	for i := range fwd.Identities {
		if diff := cmp.Diff(fwd.Identities[i].Gained, back.Identities[i].Lost); diff != "" {
			t.Errorf("%s: gained forward vs lost backward (-want +got):\n%s", fwd.Identities[i].Identity, diff)
		}
	}
}

// TestUnreadableSide: a side whose RBAC could not be read reports permissions as not
// assessed, never as "nothing changed" or "everything lost".
func TestUnreadableSide(t *testing.T) {
	old := load(t, "testdata/base", "testdata/removed-binding/old")
	new := load(t, "testdata/base", "testdata/removed-binding/new")
	new.Status[inventory.RoleBindings] = inventory.Status{State: inventory.Forbidden, Error: "rolebindings is forbidden"}
	r := drift.Compare(old, new, drift.Options{})
	if len(r.Identities) != 0 || len(r.Objects) != 0 {
		t.Errorf("permissions compared on an unreadable side: %d identities, %d objects", len(r.Identities), len(r.Objects))
	}
	var parts []string
	for _, n := range r.NotAssessed {
		if n.Check == "permissions" {
			parts = append(parts, n.Side+": "+n.Reason)
		}
	}
	want := []string{"new: RoleBinding could not be listed: forbidden (rolebindings is forbidden)"}
	if diff := cmp.Diff(want, parts); diff != "" {
		t.Errorf("not assessed (-want +got):\n%s", diff)
	}
}
