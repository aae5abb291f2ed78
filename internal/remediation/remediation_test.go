package remediation

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

func plan(t *testing.T) *Plan {
	t.Helper()
	s, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/app.yaml"}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	var cs []*checks.Check
	for _, id := range Checks {
		c, _ := checks.Lookup(id)
		cs = append(cs, c)
	}
	p, err := Build(s, checks.Run(checks.NewInput(s), cs...).Findings)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlan(t *testing.T) {
	p := plan(t)
	var files []string
	for _, o := range p.Objects {
		files = append(files, o.File)
	}
	want := []string{
		"deployment-shop-cart.yaml",             // moved to a dedicated ServiceAccount
		"deployment-shop-idle.yaml",             // token not needed: opted out
		"role-shop-all.yaml",                    // wildcards and Secret reads narrowed in place
		"rolebinding-shop-cart-pod-reader.yaml", // what default held, for the new ServiceAccount
		"rolebinding-shop-shared.yaml",          // default removed, ops kept
		"serviceaccount-shop-cart.yaml",         // the dedicated ServiceAccount
		"serviceaccount-shop-default.yaml",      // automount off
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	byFile := map[string]Object{}
	for _, o := range p.Objects {
		byFile[o.File] = o
	}
	if d := byFile["deployment-shop-cart.yaml"].Object.(*appsv1.Deployment); d.Spec.Template.Spec.ServiceAccountName != "cart" || d.ResourceVersion != "" || d.UID != "" {
		t.Errorf("cart: serviceAccountName %q, resourceVersion %q, uid %q", d.Spec.Template.Spec.ServiceAccountName, d.ResourceVersion, d.UID)
	}
	if sa := byFile["serviceaccount-shop-cart.yaml"].Object.(*corev1.ServiceAccount); sa.AutomountServiceAccountToken != nil {
		t.Error("the dedicated ServiceAccount inherits default's role, so it needs its token")
	}
	if d := byFile["deployment-shop-idle.yaml"].Object.(*appsv1.Deployment); d.Spec.Template.Spec.AutomountServiceAccountToken == nil || *d.Spec.Template.Spec.AutomountServiceAccountToken {
		t.Error("idle holds no rights: its token should be dropped")
	}
	if rb := byFile["rolebinding-shop-shared.yaml"].Object.(*rbacv1.RoleBinding); len(rb.Subjects) != 1 || rb.Subjects[0].Name != "ops" {
		t.Errorf("shared keeps only ops: %+v", rb.Subjects)
	}
	var deletions []string
	for _, d := range p.Deletions {
		deletions = append(deletions, d.Command)
	}
	if diff := cmp.Diff([]string{"kubectl delete rolebinding default-reader -n shop", "kubectl delete secret cart-token -n shop"}, deletions); diff != "" {
		t.Errorf("deletions (-want +got):\n%s", diff)
	}
	if len(p.Manual) != 2 {
		t.Errorf("want 2 manual steps (the bare pod, the powerful token), got %+v", p.Manual)
	}
}

func TestFiles(t *testing.T) {
	files, err := plan(t).Files()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Name] = string(f.Content)
	}
	for _, name := range []string{"Kustomization", "delete.sh", "README.md", "serviceaccount-shop-default.yaml"} {
		if got[name] == "" {
			t.Fatalf("missing %s", name)
		}
	}
	if !strings.Contains(got["Kustomization"], "- serviceaccount-shop-default.yaml") || !strings.Contains(got["README.md"], "what could break") {
		t.Error("Kustomization must list every object file, README must explain risks")
	}
	if strings.Contains(got["deployment-shop-cart.yaml"], "status:") || strings.Contains(got["deployment-shop-cart.yaml"], "resourceVersion") {
		t.Error("written objects must be manifests, without server-set fields")
	}
}
