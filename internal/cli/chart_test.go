package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/kwid-dev/kwid/internal/testcluster"
)

const chartDir = "../../deploy/helm/kwid"

// helm runs the helm binary named by KWID_HELM (hack/test.sh builds it with hack/helm.sh),
// or skips the test.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := os.Getenv("KWID_HELM")
	if bin == "" {
		t.Skip("needs helm: run hack/test.sh, or set KWID_HELM=$(hack/helm.sh path)")
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// scanRendered scans rendered manifests with --fail-on medium and returns the table and the exit code.
func scanRendered(t *testing.T, rendered string, extra ...string) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rendered.yaml")
	writeFile(t, path, rendered)
	stdout, stderr, code := kwid(t, append([]string{"scan", "-f", path, "--include-secret-data", "--fail-on", "medium"}, extra...)...)
	if code != 0 && code != 3 {
		t.Fatalf("kwid scan of the chart: exit %d: %s", code, stderr)
	}
	return stdout, code
}

// TestChartScansClean: kwid finds nothing above low in its own chart, in the default
// configuration and with every optional part on; reading Secrets (off by default) is
// reported, as it is in any other workload.
func TestChartScansClean(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
	}{
		{"defaults", nil},
		{"everything on", []string{"--set", "grafanaDashboard.enabled=true", "--set", "webhook.mode=warn", "--set", "webhook.checkModes.KW-SA-002=audit"}},
		{"tls from a Secret", []string{"--set", "webhook.tls.mode=secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rendered := helm(t, append([]string{"template", "kwid", chartDir, "--namespace", "kwid"}, tc.set...)...)
			for _, kind := range []string{"ClusterRole", "Deployment", "ValidatingWebhookConfiguration", "PodDisruptionBudget"} {
				if !strings.Contains(rendered, "\nkind: "+kind+"\n") {
					t.Errorf("rendered chart has no %s", kind)
				}
			}
			if out, code := scanRendered(t, rendered); code != 0 {
				t.Errorf("kwid scan of its own chart found something above low:\n%s", out)
			}
		})
	}
	t.Run("readSecrets is reported", func(t *testing.T) {
		rendered := helm(t, "template", "kwid", chartDir, "--namespace", "kwid", "--set", "readSecrets=true")
		out, code := scanRendered(t, rendered)
		if code != 3 || !strings.Contains(out, "KW-RBAC-002") {
			t.Errorf("readSecrets=true: exit %d, want 3 with KW-RBAC-002:\n%s", code, out)
		}
	})
}

// TestRenderedManifestsCurrent: deploy/manifests/kwid.yaml is what the chart renders
// (hack/render-manifests.sh), and the chart carries the same CRDs as deploy/crds.
func TestRenderedManifestsCurrent(t *testing.T) {
	rendered := helm(t, "template", "kwid", chartDir, "--namespace", "kwid", "--include-crds", "--set", "webhook.tls.mode=secret")
	committed := mustRead(t, "../../deploy/manifests/kwid.yaml")
	if _, body, _ := strings.Cut(committed, "\n---"); "---"+body != rendered {
		t.Errorf("deploy/manifests/kwid.yaml is out of date: run hack/render-manifests.sh")
	}
	if mustRead(t, chartDir+"/crds/policyreports.yaml") != mustRead(t, "../../deploy/crds/policyreports.yaml") {
		t.Errorf("the chart's CRDs differ from deploy/crds/policyreports.yaml: copy it into %s/crds", chartDir)
	}
}

// TestChartAcceptedByAPIServer: every object the chart renders is accepted by the real API
// server (server-side dry run), in a namespace of its own.
func TestChartAcceptedByAPIServer(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-chart")
	// Cluster-scoped names come from the release name: a unique one keeps them apart.
	rendered := helm(t, "template", ns, chartDir, "--namespace", ns, "--include-crds", "--set", "grafanaDashboard.enabled=true")
	out := c.Kubectl(t, rendered, "apply", "--server-side", "--dry-run=server", "-f", "-")
	for _, want := range []string{"deployment.apps/" + ns + "-controller", "validatingwebhookconfiguration.admissionregistration.k8s.io/" + ns + "-webhook",
		"poddisruptionbudget.policy/" + ns + "-webhook", "clusterrole.rbac.authorization.k8s.io/" + ns + "-reader"} {
		if !strings.Contains(out, want+" serverside-applied (server dry run)") {
			t.Errorf("server dry run did not apply %s:\n%s", want, out)
		}
	}
}

// TestChartBoundsGoMemory: every kwid container has a memory limit and GOMEMLIMIT set from
// it, so that the Go runtime collects harder near the limit instead of being killed at it.
func TestChartBoundsGoMemory(t *testing.T) {
	rendered := helm(t, "template", "kwid", chartDir, "--namespace", "kwid")
	deployments := 0
	for _, doc := range strings.Split(rendered, "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		deployments++
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s/%s has no memory limit", d.Name, c.Name)
			}
			set := false
			for _, e := range c.Env {
				if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
					e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" {
					set = true
				}
			}
			if !set {
				t.Errorf("%s/%s: GOMEMLIMIT is not set from limits.memory", d.Name, c.Name)
			}
		}
	}
	if deployments < 2 {
		t.Errorf("rendered %d Deployments, want the webhook's and the controller's", deployments)
	}
}
