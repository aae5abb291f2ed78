package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/synthetic"
)

// testState is the cluster of testdata/cluster.yaml.
func testState(t testing.TB) *clusterstate.State {
	t.Helper()
	snap, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/cluster.yaml"}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading testdata/cluster.yaml: %v %v", err, errs)
	}
	return clusterstate.FromSnapshot(snap)
}

// review builds an AdmissionReview body for a YAML object.
func review(t testing.TB, op admissionv1.Operation, objYAML string, dryRun bool) []byte {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(objYAML))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	group, version, ok := strings.Cut(meta.APIVersion, "/")
	if !ok {
		group, version = "", meta.APIVersion
	}
	req := &admissionv1.AdmissionRequest{
		UID:       types.UID("uid-" + meta.Metadata.Name),
		Kind:      metav1.GroupVersionKind{Group: group, Version: version, Kind: meta.Kind},
		Resource:  metav1.GroupVersionResource{Group: group, Version: version, Resource: strings.ToLower(meta.Kind) + "s"},
		Name:      meta.Metadata.Name,
		Namespace: meta.Metadata.Namespace,
		Operation: op,
		UserInfo:  authenticationUser("alice"),
		DryRun:    &dryRun,
	}
	if op != admissionv1.Delete {
		req.Object = runtime.RawExtension{Raw: raw}
	} else {
		req.OldObject = runtime.RawExtension{Raw: raw}
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// post sends a body to the handler and decodes the AdmissionReview response.
func post(t testing.TB, h http.Handler, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v\n%s", err, rec.Body)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil {
		t.Fatalf("bad response envelope: %s", rec.Body)
	}
	return out.Response
}

const (
	adminToDefault = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: default-admin, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: team}]`
	readerToApp = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-config-2, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: config-reader}
subjects: [{kind: ServiceAccount, name: app, namespace: team}]`
	awsKeysPod = `apiVersion: v1
kind: Pod
metadata: {name: aws, namespace: team}
spec:
  serviceAccountName: app
  automountServiceAccountToken: false
  containers:
  - name: c
    image: nginx
    env:
    - {name: AWS_ACCESS_KEY_ID, value: AKIAIOSFODNN7ABCDEFG}
    - {name: AWS_SECRET_ACCESS_KEY, value: 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}`
	compliantPod = `apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: team}
spec:
  serviceAccountName: app
  automountServiceAccountToken: false
  containers: [{name: c, image: nginx}]`
	defaultSAPod = `apiVersion: v1
kind: Pod
metadata: {generateName: web-, namespace: team}
spec:
  automountServiceAccountToken: false
  containers: [{name: c, image: nginx}]`
	wildcardRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: config-reader, namespace: team}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: [get]}`
	deploymentWithKeys = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: app
      automountServiceAccountToken: false
      containers:
      - name: web
        image: nginx
        env:
        - {name: AWS_ACCESS_KEY_ID, value: AKIAIOSFODNN7ABCDEFG}
        - {name: AWS_SECRET_ACCESS_KEY, value: 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}`
	configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: anything, namespace: team}
data: {AWS_ACCESS_KEY_ID: AKIAIOSFODNN7ABCDEFG}`
)

func TestReview(t *testing.T) {
	st := testState(t)
	for _, tc := range []struct {
		name       string
		modes      Modes
		config     *checks.Config
		op         admissionv1.Operation
		obj        string
		allowed    bool
		denyHas    []string // substrings of the denial message
		warningHas []string // substrings of one of the warnings
		noWarnings bool
	}{
		{name: "cluster-admin to default SA denied", obj: adminToDefault, op: admissionv1.Create,
			denyHas: []string{"KW-RBAC-001", "RoleBinding team/default-admin", "Fix:"}},
		{name: "AWS keys in env denied", obj: awsKeysPod, op: admissionv1.Create,
			denyHas: []string{"KW-CRED-001", "Pod team/aws"}},
		{name: "secret value never in the message", obj: awsKeysPod, op: admissionv1.Create,
			denyHas: []string{"KW-CRED-001"}},
		{name: "template with AWS keys denied on update", obj: deploymentWithKeys, op: admissionv1.Update,
			denyHas: []string{"KW-CRED-001", "Deployment team/web"}},
		{name: "compliant pod allowed", obj: compliantPod, op: admissionv1.Create, allowed: true, noWarnings: true},
		{name: "compliant binding allowed", obj: readerToApp, op: admissionv1.Create, allowed: true, noWarnings: true},
		{name: "default SA pod warned (medium)", obj: defaultSAPod, op: admissionv1.Create, allowed: true,
			warningHas: []string{"KW-SA-001"}},
		// The edited role is bound to a ServiceAccount: the wildcard is high, and the
		// ServiceAccount gains pods/exec through it (a finding the role takes part in).
		{name: "wildcard in a bound role denied", obj: wildcardRole, op: admissionv1.Update,
			denyHas: []string{"KW-RBAC-003", "KW-ESC-002", "ServiceAccount team/app"}},
		{name: "warn mode admits with a warning", modes: Modes{Default: Warn}, obj: adminToDefault, op: admissionv1.Create,
			allowed: true, warningHas: []string{"KW-RBAC-001"}},
		{name: "audit mode admits silently", modes: Modes{Default: Audit}, obj: adminToDefault, op: admissionv1.Create,
			allowed: true, noWarnings: true},
		{name: "per-check mode wins over the default", modes: Modes{Default: Audit, Checks: map[string]Mode{"KW-CRED-001": Enforce}},
			obj: awsKeysPod, op: admissionv1.Create, denyHas: []string{"KW-CRED-001"}},
		{name: "disabled check does not deny", config: &checks.Config{Disabled: []string{"KW-CRED-001"}},
			modes: Modes{Checks: map[string]Mode{"KW-EKS-004": Audit}}, obj: awsKeysPod, op: admissionv1.Create, allowed: true, noWarnings: true},
		{name: "severity override lowers to warn", config: &checks.Config{Severity: map[string]checks.Severity{"KW-CRED-001": checks.Low}},
			obj: awsKeysPod, op: admissionv1.Create, allowed: true, warningHas: []string{"KW-CRED-001"}},
		{name: "delete allowed", obj: adminToDefault, op: admissionv1.Delete, allowed: true, noWarnings: true},
		{name: "unknown kind allowed", obj: configMap, op: admissionv1.Create, allowed: true, noWarnings: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHandler(Options{State: st, Config: tc.config, Modes: tc.modes})
			if err != nil {
				t.Fatal(err)
			}
			resp := post(t, h, review(t, tc.op, tc.obj, false))
			if resp.UID == "" {
				t.Error("response without the request's uid")
			}
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (result %+v, warnings %q)", resp.Allowed, tc.allowed, resp.Result, resp.Warnings)
			}
			if !tc.allowed {
				if resp.Result == nil || resp.Result.Code != http.StatusForbidden {
					t.Fatalf("denial without a 403 result: %+v", resp.Result)
				}
				for _, s := range tc.denyHas {
					if !strings.Contains(resp.Result.Message, s) {
						t.Errorf("denial message lacks %q:\n%s", s, resp.Result.Message)
					}
				}
			}
			for _, s := range tc.warningHas {
				if !strings.Contains(strings.Join(resp.Warnings, "\n"), s) {
					t.Errorf("warnings lack %q: %q", s, resp.Warnings)
				}
			}
			if tc.noWarnings && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings: %q", resp.Warnings)
			}
			all := fmt.Sprint(resp.Result, resp.Warnings)
			if strings.Contains(all, "wJalrXUtnFEMI") || strings.Contains(all, "AKIAIOSFODNN7ABCDEFG") {
				t.Errorf("response carries the secret key: %s", all)
			}
			for _, w := range resp.Warnings {
				if strings.ContainsAny(w, "\n\r") || len([]rune(w)) > warningRunes {
					t.Errorf("warning not one short line: %q", w)
				}
			}
		})
	}
}

// TestDryRunAndMetrics: a dry run is answered like the real request; the counters and
// logs of its findings say dry_run, and Secret data never reaches the log.
func TestDryRunAndMetrics(t *testing.T) {
	st := testState(t)
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	h, err := NewHandler(Options{State: st, Registerer: reg, Modes: Modes{Checks: map[string]Mode{"KW-EKS-004": Audit}},
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	real := post(t, h, review(t, admissionv1.Create, awsKeysPod, false))
	dry := post(t, h, review(t, admissionv1.Create, awsKeysPod, true))
	if real.Allowed || dry.Allowed || real.Result.Message != dry.Result.Message {
		t.Errorf("dry run judged differently:\nreal: %v %+v\ndry:  %v %+v", real.Allowed, real.Result, dry.Allowed, dry.Result)
	}
	for _, tc := range []struct {
		check, mode, decision, dryRun string
		want                          float64
	}{
		{"KW-CRED-001", "enforce", "denied", "false", 1},
		{"KW-CRED-001", "enforce", "denied", "true", 1},
		{"KW-EKS-004", "audit", "audited", "true", 1},
		{"KW-EKS-004", "audit", "audited", "false", 1},
	} {
		got := testutil.ToFloat64(h.decisions.WithLabelValues(tc.check, tc.mode, tc.decision, tc.dryRun))
		if got != tc.want {
			t.Errorf("kwid_webhook_decisions_total{check=%s,mode=%s,decision=%s,dry_run=%s} = %v, want %v", tc.check, tc.mode, tc.decision, tc.dryRun, got, tc.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "kwid_webhook_decisions_total"); err != nil || n == 0 {
		t.Errorf("decisions not registered: %d %v", n, err)
	}
	if !strings.Contains(logs.String(), `"dry_run":true`) || !strings.Contains(logs.String(), `"decision":"audited"`) {
		t.Errorf("audit log lines lack dry_run or decision:\n%s", logs.String())
	}

	// A Secret under review carries data: it must not reach the log or the answer.
	secret := `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: team}
stringData: {AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEYabc, AWS_ACCESS_KEY_ID: AKIAIOSFODNN7ABCDEFG}
type: Opaque`
	resp := post(t, h, review(t, admissionv1.Create, secret, false))
	if strings.Contains(logs.String(), "wJalrXUtnFEMI") || strings.Contains(logs.String(), "AKIAIOSFODNN7ABCDEFG") {
		t.Errorf("Secret data logged:\n%s", logs.String())
	}
	if s := fmt.Sprint(resp.Result, resp.Warnings); strings.Contains(s, "wJalrXUtnFEMI") {
		t.Errorf("Secret data in the answer: %s", s)
	}
}

// TestNotReady: before the cluster state has synced, reviewed kinds get 503 (the API
// server then applies the failurePolicy) and /readyz says not ready; /healthz is fine.
func TestNotReady(t *testing.T) {
	st, err := clusterstate.New(&restConfigForNothing, clusterstate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{State: st})
	if err != nil {
		t.Fatal(err)
	}
	mux := (&Server{Handler: h}).Mux()
	for _, tc := range []struct {
		path string
		body []byte
		want int
	}{
		{ValidatePath, review(t, admissionv1.Create, compliantPod, false), http.StatusServiceUnavailable},
		{ValidatePath, review(t, admissionv1.Create, configMap, false), http.StatusOK},
		{ReadyzPath, nil, http.StatusServiceUnavailable},
		{HealthzPath, nil, http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		method := http.MethodGet
		if tc.body != nil {
			method = http.MethodPost
		}
		mux.ServeHTTP(rec, httptest.NewRequest(method, tc.path, bytes.NewReader(tc.body)))
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.path, rec.Code, tc.want, rec.Body)
		}
	}
}

func TestParseCheckModes(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		wantErr string
	}{
		{in: []string{"KW-SA-001=warn", "KW-CRED-001=ENFORCE"}},
		{in: []string{"KW-SA-001"}, wantErr: "want ID=MODE"},
		{in: []string{"KW-NOPE-001=warn"}, wantErr: "unknown check"},
		{in: []string{"KW-SA-001=block"}, wantErr: "unknown mode"},
	} {
		m, err := ParseCheckModes(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v, want %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && m["KW-CRED-001"] != Enforce:
			t.Errorf("%v: %v", tc.in, m)
		}
	}
}

// TestWorkloadChecks: every check that reports a finding about a workload, on the demo
// cluster and a generated one, is among the checks run for workloads.
func TestWorkloadChecks(t *testing.T) {
	demo, err := inventory.LoadDemo(context.Background(), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := synthetic.Snapshot(synthetic.S, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, snap := range []*inventory.Snapshot{demo, gen} {
		in := checks.NewInput(snap)
		in.Config = &checks.Config{NoDefaultAllowlist: true, PrivilegedNamespaces: []string{inventory.SystemNamespace}}
		for _, f := range checks.Run(in).Findings {
			if slices.Contains(workloadKinds, f.Object.Kind) && !slices.Contains(workloadChecks, f.Check) {
				t.Errorf("%s reports on %s but is not in workloadChecks", f.Check, f.Object)
			}
		}
	}
	for _, id := range workloadChecks {
		if _, err := checks.Lookup(id); err != nil {
			t.Error(err)
		}
	}
}

// TestConcurrentReviewsLeaveTheCacheAlone reviews objects from many goroutines at once, as
// the server does. The cluster state's objects are shared by every request: run with -race
// (hack/test.sh does), this fails if a decision writes to them; without it, it checks that
// the state and the answers are unchanged.
func TestConcurrentReviewsLeaveTheCacheAlone(t *testing.T) {
	// The cluster of the other tests, plus running pods of ServiceAccounts team/app and
	// team/default that reviews below read (workloads of a ServiceAccount being bound). They
	// are put in as they come from the API server, untrimmed: a decision that trimmed, or
	// otherwise wrote to, the objects it shares with the cache would change them.
	snap, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/cluster.yaml"}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading the cluster: %v %v", err, errs)
	}
	for i := range 4 {
		var p corev1.Pod
		if err := yaml.UnmarshalStrict([]byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: app-%d, namespace: team, labels: {app: app}}
spec:
  serviceAccountName: %s
  nodeName: node-1
  containers: [{name: c, image: nginx, env: [{name: A, value: b}], ports: [{containerPort: 80}]}]
status: {phase: Running, podIP: 10.0.0.1}`, i, []string{"app", "default"}[i%2])), &p); err != nil {
			t.Fatal(err)
		}
		snap.Pods = append(snap.Pods, p)
	}
	snap.Status[inventory.Pods] = inventory.Status{State: inventory.Collected}
	st := clusterstate.FromSnapshot(snap)
	before, err := json.Marshal(st.Snapshot()) // a deep copy: the Snapshot shares the cache's maps
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{State: st})
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{
		review(t, admissionv1.Create, adminToDefault, false),
		review(t, admissionv1.Create, awsKeysPod, false),
		review(t, admissionv1.Update, deploymentWithKeys, false),
		review(t, admissionv1.Update, wildcardRole, false),
		review(t, admissionv1.Create, defaultSAPod, false),
		review(t, admissionv1.Create, strings.Replace(compliantPod, "containers:", "nodeName: node-1\n  containers:", 1), false),
	}
	want := make([]bool, len(bodies))
	for i, b := range bodies {
		want[i] = post(t, h, b).Allowed
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 20 {
				j := (g + i) % len(bodies)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(bodies[j])))
				var out admissionv1.AdmissionReview
				if jerr := json.Unmarshal(rec.Body.Bytes(), &out); jerr != nil || out.Response == nil {
					err = fmt.Errorf("review %d: status %d: %s", j, rec.Code, rec.Body)
				} else if out.Response.Allowed != want[j] {
					err = fmt.Errorf("review %d allowed=%v under concurrency, %v alone", j, out.Response.Allowed, want[j])
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if after, err := json.Marshal(st.Snapshot()); err != nil || !bytes.Equal(before, after) {
		t.Errorf("reviews changed the cluster state's objects (%v)", err)
	}
}
