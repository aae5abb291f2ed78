package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/cli"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/testcluster"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// kwid runs the CLI in-process and returns stdout, stderr and the exit code.
func kwid(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.ExitCode(cli.Run(ctx, streams, args), &errb)
	return out.String(), errb.String(), code
}

// waitFor polls until f is true or fails the test after a minute.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestLiveSnapshotEqualsKubectlExport: what `kwid snapshot` collects from a real API server
// equals what `kwid -f` reads from the same objects exported with `kubectl get -o yaml`.
func TestLiveSnapshotEqualsKubectlExport(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-snap")
	c.Kubectl(t, mustRead(t, "testdata/live/objects.yaml"), "apply", "-n", ns, "-f", "-")
	waitFor(t, "the legacy token Secret to be filled", func() bool {
		return c.Kubectl(t, "", "get", "secret", "ci-deployer-token", "-n", ns, "-o", "jsonpath={.data.token}") != ""
	})
	waitFor(t, "the default ServiceAccount", func() bool {
		return strings.Contains(c.Kubectl(t, "", "get", "serviceaccounts", "-n", ns, "-o", "name"), "serviceaccount/default")
	})

	var diff string
	for attempt := 0; attempt < 3; attempt++ {
		dir := t.TempDir()
		saved := filepath.Join(dir, "live.json.gz")
		if _, stderr, code := kwid(t, "snapshot", "--kubeconfig", c.Kubeconfig, "-n", ns, "-o", saved); code != 0 {
			t.Fatalf("kwid snapshot: exit %d: %s", code, stderr)
		}
		export := filepath.Join(dir, "export")
		if err := os.Mkdir(export, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(export, "namespace.yaml"), c.Kubectl(t, "", "get", "namespace", ns, "-o", "yaml"))
		writeFile(t, filepath.Join(export, "namespaced.yaml"), c.Kubectl(t, "", "get", "-n", ns, "-o", "yaml",
			"serviceaccounts,secrets,pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs,replicationcontrollers,roles,rolebindings,configmaps"))
		writeFile(t, filepath.Join(export, "cluster.json"), c.Kubectl(t, "", "get", "-o", "json",
			"clusterroles,clusterrolebindings,nodes,validatingwebhookconfigurations,mutatingwebhookconfigurations"))

		live, err := inventory.LoadFile(saved)
		if err != nil {
			t.Fatal(err)
		}
		files, inputErrs, err := inventory.LoadFiles(context.Background(), []string{export}, inventory.FileOptions{Options: inventory.Options{Namespace: ns}})
		if err != nil || len(inputErrs) > 0 {
			t.Fatalf("reading the kubectl export: %v %v", err, inputErrs)
		}
		if n := len(live.Secrets); n != 1 || live.Secrets[0].Data != nil {
			t.Fatalf("live snapshot: want the one token Secret without data, got %d Secrets", n)
		}
		if len(live.Pods) != 2 || len(live.Deployments) != 1 || len(live.CronJobs) != 1 || len(live.RoleBindings) != 3 || len(live.ClusterRoles) < 50 {
			t.Fatalf("live snapshot misses objects: %s", counts(live))
		}
		if diff = cmp.Diff(objectsJSON(t, files), objectsJSON(t, live)); diff == "" {
			return
		}
		t.Logf("attempt %d: snapshot and export differ (objects may have changed in between), retrying", attempt+1)
	}
	t.Fatalf("kubectl export (-) vs kwid snapshot (+):\n%s", diff)
}

// TestForbiddenKindIsNotAssessed: a user who may read everything but Secrets gets the
// Secret kind reported as forbidden, the checks that read Secrets as not assessed, and
// everything else collected.
func TestForbiddenKindIsNotAssessed(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-403")
	c.Kubectl(t, mustRead(t, "testdata/live/objects.yaml"), "apply", "-n", ns, "-f", "-")
	c.Kubectl(t, mustRead(t, "testdata/live/auditor-no-secrets.yaml"), "apply", "-f", "-")

	stdout, stderr, code := kwid(t, "scan", "--kubeconfig", c.Kubeconfig, "--as", "kwid-auditor", "-o", "json")
	if code != 0 {
		t.Fatalf("kwid scan --as kwid-auditor: exit %d: %s", code, stderr)
	}
	var res struct {
		Collection map[string]struct {
			State string `json:"state"`
			Error string `json:"error"`
			Count int    `json:"count"`
		} `json:"collection"`
		NotAssessed []struct{ Check, Reason string } `json:"notAssessed"`
		Findings    []struct {
			Check  string `json:"check"`
			Object struct{ Kind, Namespace, Name string }
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("decoding scan JSON: %v\n%s", err, stdout)
	}
	for _, k := range inventory.AllKinds {
		got := res.Collection[string(k)]
		want := "collected"
		switch {
		case k == inventory.Secrets:
			want = "forbidden"
		case k.IsIstioKind():
			want = "absent" // the test cluster serves no Istio CRDs
		}
		if got.State != want {
			t.Errorf("%s: state %q, want %q (%s)", k, got.State, want, got.Error)
		}
	}
	if e := res.Collection["Secret"].Error; !strings.Contains(e, "forbidden") || !strings.Contains(e, "kwid-auditor") {
		t.Errorf("Secret error should carry the API error, got %q", e)
	}
	if res.Collection["Pod"].Count < 2 {
		t.Errorf("pods should still be collected, got %d", res.Collection["Pod"].Count)
	}
	var tok bool
	for _, n := range res.NotAssessed {
		if n.Check == "KW-TOK-001" && strings.Contains(n.Reason, "forbidden") {
			tok = true
		}
		if n.Check == "KW-SA-001" || n.Check == "KW-SA-002" {
			t.Errorf("%s should be assessed (it reads no Secrets): %s", n.Check, n.Reason)
		}
	}
	if !tok {
		t.Errorf("KW-TOK-001 should be not assessed because Secrets are forbidden; notAssessed = %+v", res.NotAssessed)
	}
	for _, f := range res.Findings {
		if f.Check == "KW-TOK-001" {
			t.Errorf("KW-TOK-001 reported a finding without reading Secrets: %+v", f)
		}
	}
	// The rest still produces findings: the default ServiceAccount bound in the namespace.
	if !hasFinding(res.Findings, "KW-SA-001", "ServiceAccount", ns, "default") {
		t.Errorf("want KW-SA-001 on %s/default, got %+v", ns, res.Findings)
	}
}

func hasFinding(fs []struct {
	Check  string `json:"check"`
	Object struct{ Kind, Namespace, Name string }
}, check, kind, ns, name string) bool {
	for _, f := range fs {
		if f.Check == check && f.Object.Kind == kind && f.Object.Namespace == ns && f.Object.Name == name {
			return true
		}
	}
	return false
}

// objectsJSON renders every kind's objects of a Snapshot as indented JSON, for a diff that
// ignores where the Snapshot came from.
func objectsJSON(t *testing.T, s *inventory.Snapshot) map[string]string {
	t.Helper()
	c := *s
	c.Cluster, c.Status, c.Locations = inventory.Cluster{}, nil, nil
	raw, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var kinds map[string]json.RawMessage
	if err := json.Unmarshal(raw, &kinds); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range kinds {
		var b bytes.Buffer
		_ = json.Indent(&b, v, "", "  ")
		out[k] = b.String()
	}
	return out
}

func counts(s *inventory.Snapshot) string {
	var parts []string
	for _, k := range inventory.AllKinds {
		parts = append(parts, string(k)+"="+itoa(s.Count(k)))
	}
	return strings.Join(parts, " ")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type finding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Object   struct {
		Kind      string `json:"kind"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"object"`
}

func (f finding) String() string {
	return f.Check + " " + f.Severity + " " + f.Object.Kind + " " + f.Object.Namespace + "/" + f.Object.Name
}

// scanFindings runs kwid scan with args and returns its findings as strings.
func scanFindings(t *testing.T, args ...string) []string {
	t.Helper()
	stdout, stderr, code := kwid(t, append([]string{"scan", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("kwid scan %v: exit %d: %s", args, code, stderr)
	}
	var res struct{ Findings []finding }
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range res.Findings {
		out = append(out, f.String())
	}
	return out
}

// TestLiveAndManifestsSameFindings: kwid scan on a live cluster and on the manifests that
// were applied to it report the same findings.
func TestLiveAndManifestsSameFindings(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-same")
	manifests := strings.ReplaceAll(mustRead(t, "testdata/live/findings.yaml"), "NAMESPACE", ns)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.yaml"), manifests)
	c.Kubectl(t, manifests, "apply", "-f", "-")
	t.Cleanup(func() { c.Kubectl(t, manifests, "delete", "--ignore-not-found", "--wait=false", "-f", "-") })
	waitFor(t, "the default ServiceAccount", func() bool {
		return strings.Contains(c.Kubectl(t, "", "get", "serviceaccounts", "-n", ns, "-o", "name"), "serviceaccount/default")
	})

	// The cluster's own cluster-wide RBAC (bootstrap roles, and bindings other tests made
	// to groups every ServiceAccount is in) grants into the namespace too: the manifests
	// side gets it as well, as an export.
	writeFile(t, filepath.Join(dir, "cluster-rbac.json"), c.Kubectl(t, "", "get", "clusterroles,clusterrolebindings", "-o", "json"))
	fromFiles := scanFindings(t, "-f", dir, "-n", ns)
	live := scanFindings(t, "--kubeconfig", c.Kubeconfig, "-n", ns)
	// The live default ServiceAccount exists with automount unset, like the manifest's.
	if len(fromFiles) < 4 {
		t.Fatalf("the fixture should produce findings, got %v", fromFiles)
	}
	if diff := cmp.Diff(fromFiles, live); diff != "" {
		t.Errorf("findings from manifests (-) and from the live cluster (+):\n%s", diff)
	}
}

// TestFixRemovesFindings: kwid fix's files applied to the cluster (kubectl apply -f, then
// delete.sh) remove, on a rescan, every finding they address and add none.
func TestFixRemovesFindings(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-fix")
	c.Kubectl(t, mustRead(t, "testdata/live/objects.yaml"), "apply", "-n", ns, "-f", "-")
	waitFor(t, "the default ServiceAccount", func() bool {
		return strings.Contains(c.Kubectl(t, "", "get", "serviceaccounts", "-n", ns, "-o", "name"), "serviceaccount/default")
	})
	scan := []string{"--kubeconfig", c.Kubeconfig, "-n", ns}
	before := scanFindings(t, scan...)

	dir := filepath.Join(t.TempDir(), "fixes")
	if _, stderr, code := kwid(t, append([]string{"fix", "-o", dir}, scan...)...); code != 0 {
		t.Fatalf("kwid fix: exit %d: %s", code, stderr)
	}
	readme := mustRead(t, filepath.Join(dir, "README.md"))
	c.Kubectl(t, "", "apply", "-f", dir)
	cmd := exec.Command("sh", filepath.Join(dir, "delete.sh"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "PATH="+filepath.Dir(c.KubectlBin)+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("delete.sh: %v\n%s", err, out)
	}
	after := scanFindings(t, scan...)

	for _, f := range after {
		if !slices.Contains(before, f) {
			t.Errorf("the fix added a finding: %s", f)
		}
	}
	// What remains is what the README leaves to a person (bare Pods, rights to narrow).
	for _, f := range after {
		parts := strings.Fields(f)
		if strings.HasPrefix(parts[0], "KW-SA-") || parts[0] == "KW-TOK-001" {
			if !strings.Contains(readme, parts[2]+" "+parts[3]) || !strings.Contains(readme, "## By hand") {
				t.Errorf("finding %s is neither fixed nor listed under 'By hand' in the README", f)
			}
		}
	}
	// Narrowed roles: a custom Role edited in place (api-config), a built-in one (edit)
	// copied and rebound (ci-deployer-edit).
	for _, want := range []string{"KW-RBAC-002 medium ServiceAccount " + ns + "/api", "KW-RBAC-003 high Role " + ns + "/api-config", "KW-RBAC-002 high ServiceAccount " + ns + "/ci-deployer"} {
		if !slices.Contains(before, want) {
			t.Errorf("fixture no longer has %q: %v", want, before)
		}
		if slices.Contains(after, want) {
			t.Errorf("not fixed: %s", want)
		}
	}
	fixed := 0
	for _, f := range before {
		if !slices.Contains(after, f) {
			fixed++
		}
	}
	if fixed < 4 {
		t.Errorf("only %d findings fixed; before %v, after %v", fixed, before, after)
	}
	t.Logf("fixed %d of %d findings; left for a person: %v", fixed, len(before), after)
}

// TestPolicyReportsAccepted: the PolicyReports kwid writes are accepted by the API server
// once kwid's CRDs are applied.
func TestPolicyReportsAccepted(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-polr")
	c.Kubectl(t, mustRead(t, "testdata/live/objects.yaml"), "apply", "-n", ns, "-f", "-")
	c.ApplyCRDs(t, "../../deploy/crds/policyreports.yaml", false, testcluster.PolicyReportCRDs...)
	stdout, stderr, code := kwid(t, "scan", "--kubeconfig", c.Kubeconfig, "-n", ns, "-o", "policyreport")
	if code != 0 {
		t.Fatalf("kwid scan -o policyreport: exit %d: %s", code, stderr)
	}
	c.Kubectl(t, stdout, "apply", "-f", "-")
	got := c.Kubectl(t, "", "get", "policyreport", "kwid", "-n", ns, "-o", "jsonpath={.summary.fail} {.results[*].policy}")
	if !strings.Contains(got, "KW-SA-001") || strings.HasPrefix(got, "0 ") {
		t.Errorf("PolicyReport in %s: %q", ns, got)
	}
	t.Cleanup(func() { c.Kubectl(t, "", "delete", "clusterpolicyreport", "kwid", "--ignore-not-found") })
}

// TestLeastPrivilegeRole: kwid's documented read-only ClusterRole (deploy/rbac) is enough to
// collect every kind, and grants no write, no Secret data read and no exec.
func TestLeastPrivilegeRole(t *testing.T) {
	c := testcluster.Start(t)
	c.Kubectl(t, mustRead(t, "../../deploy/rbac/kwid-reader.yaml"), "apply", "-f", "-")
	c.Kubectl(t, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kwid-test-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kwid-reader}
subjects: [{kind: User, name: kwid-test-reader, apiGroup: rbac.authorization.k8s.io}]
`, "apply", "-f", "-")
	stdout, stderr, code := kwid(t, "scan", "--kubeconfig", c.Kubeconfig, "--as", "kwid-test-reader", "-o", "json")
	if code != 0 {
		t.Fatalf("scan as kwid-reader: exit %d: %s", code, stderr)
	}
	var res struct {
		Cluster    struct{ OIDCIssuer string }
		Collection map[string]struct{ State, Error string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range inventory.AllKinds {
		want := "collected"
		if k.IsIstioKind() {
			want = "absent" // the test cluster serves no Istio CRDs
		}
		if st := res.Collection[string(k)]; st.State != want {
			t.Errorf("%s: %s %s", k, st.State, st.Error)
		}
	}
	if res.Cluster.OIDCIssuer == "" {
		t.Error("the role should let kwid read the OIDC issuer")
	}
	for _, check := range [][]string{
		{"create", "pods", "-n", "default"}, {"get", "secrets", "-n", "default"}, {"create", "pods/exec", "-n", "default"},
		{"update", "clusterroles"}, {"list", "configmaps", "-n", "kube-system"},
	} {
		args := append([]string{"can", "user:kwid-test-reader"}, check...)
		if out, _, code := kwid(t, append(args, "--kubeconfig", c.Kubeconfig)...); code != 3 {
			t.Errorf("kwid-reader should not %v: %s", check, out)
		}
	}
}
