package cli_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/testcluster"
	"sigs.k8s.io/yaml"
)

// TestPolicyExportEnforced: the ValidatingAdmissionPolicies kwid exports are accepted by the
// API server and deny what the checks flag, while compliant objects pass.
func TestPolicyExportEnforced(t *testing.T) {
	c := testcluster.Start(t)
	stdout, stderr, code := kwid(t, "policy", "export", "--format", "vap")
	if code != 0 {
		t.Fatalf("kwid policy export: exit %d: %s", code, stderr)
	}
	ns := c.Namespace(t, "kwid-vap")
	// Pods are checked against their ServiceAccount's existence before any policy runs.
	c.Kubectl(t, "", "create", "serviceaccount", "app", "-n", ns)
	// The cluster is shared with other tests: the bindings here only match objects labelled
	// for this test (the exported ones match everything but kube-system).
	const label = "kwid.dev/policy-test"
	var docs []string
	for _, doc := range strings.Split(stdout, "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj["kind"] == "ValidatingAdmissionPolicyBinding" {
			spec := obj["spec"].(map[string]any)
			spec["matchResources"] = map[string]any{"objectSelector": map[string]any{"matchLabels": map[string]any{label: ns}}}
		}
		out, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(out))
	}
	c.Kubectl(t, strings.Join(docs, "---\n"), "apply", "-f", "-")
	t.Cleanup(func() {
		c.Kubectl(t, "", "delete", "validatingadmissionpolicies,validatingadmissionpolicybindings", "-l", "app.kubernetes.io/managed-by=kwid", "--ignore-not-found")
	})
	labelled := func(manifest string) string {
		return strings.Replace(manifest, "metadata: {name: ", "metadata: {labels: {"+label+": "+ns+"}, name: ", 1)
	}

	// The API server loads policies asynchronously: wait until a violation is denied.
	violating := `apiVersion: apps/v1
kind: Deployment
metadata: {name: runs-as-default, namespace: ` + ns + `}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers: [{name: a, image: example.com/a:1}]
`
	var out string
	waitFor(t, "the policies to be enforced", func() bool {
		out = tryKubectl(c, labelled(violating), "apply", "--dry-run=server", "-f", "-")
		return strings.Contains(out, "KW-SA-001")
	})

	tests := []struct {
		name, manifest, want string // want: a check ID in the denial, or "" for allowed
	}{
		{"workload on default", violating, "KW-SA-001"},
		{"dedicated ServiceAccount", `apiVersion: apps/v1
kind: Deployment
metadata: {name: dedicated, namespace: ` + ns + `}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      serviceAccountName: app
      containers: [{name: a, image: example.com/a:1}]
`, ""},
		{"static AWS key in a CronJob", `apiVersion: batch/v1
kind: CronJob
metadata: {name: keys, namespace: ` + ns + `}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: app
          restartPolicy: Never
          containers: [{name: a, image: x, env: [{name: AWS_ACCESS_KEY_ID, value: AKIAQ3EGSJ4NPLRNXZ7V}]}]
`, "KW-CRED-001"},
		{"example key is fine", `apiVersion: batch/v1
kind: CronJob
metadata: {name: example-keys, namespace: ` + ns + `}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: app
          restartPolicy: Never
          containers: [{name: a, image: x, env: [{name: AWS_ACCESS_KEY_ID, value: AKIAIOSFODNN7EXAMPLE}]}]
`, ""},
		{"week-long projected token", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: long-token, namespace: ` + ns + `}
spec:
  serviceName: s
  selector: {matchLabels: {app: s}}
  template:
    metadata: {labels: {app: s}}
    spec:
      serviceAccountName: app
      containers: [{name: a, image: x}]
      volumes:
      - name: t
        projected:
          sources: [{serviceAccountToken: {path: t, expirationSeconds: 604800}}]
`, "KW-TOK-004"},
		{"wildcard Role", `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: everything, namespace: ` + ns + `}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["get"]}]
`, "KW-RBAC-003"},
		{"named Role", `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: ` + ns + `}
rules: [{apiGroups: [""], resources: ["pods"], verbs: ["get"]}]
`, ""},
		{"binding to every authenticated user", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: everyone, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
`, "KW-RBAC-014"},
		{"cluster-admin bound to a default ServiceAccount", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: admin-default, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: ` + ns + `}]
`, "KW-SA-001"},
		{"view bound to a dedicated ServiceAccount", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: view-app, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: app, namespace: ` + ns + `}]
`, ""},
		{"pod with AWS keys in env", `apiVersion: v1
kind: Pod
metadata: {name: keys, namespace: ` + ns + `}
spec:
  serviceAccountName: app
  containers: [{name: a, image: x, env: [{name: AWS_ACCESS_KEY_ID, value: AKIA2JQZX7KDR4MBNW5T}, {name: AWS_SECRET_ACCESS_KEY, value: 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}]}]
`, "KW-CRED-001"},
		{"binding to system:masters", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: masters, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: Group, name: "system:masters", apiGroup: rbac.authorization.k8s.io}]
`, "KW-RBAC-007"},
	}
	// Violations first, each polled for a while: the API server loads each policy on its own
	// schedule. Compliant objects are checked once every policy is seen to deny.
	for _, tc := range tests {
		if tc.want == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var out string
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				out = tryKubectl(c, labelled(tc.manifest), "apply", "--dry-run=server", "-f", "-")
				if strings.Contains(out, tc.want) || time.Now().After(deadline) {
					break
				}
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("want a denial by %s, got: %s", tc.want, out)
			}
		})
	}
	for _, tc := range tests {
		if tc.want != "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			out := tryKubectl(c, labelled(tc.manifest), "apply", "--dry-run=server", "-f", "-")
			if strings.Contains(out, "denied request") || strings.Contains(out, "ValidatingAdmissionPolicy") {
				t.Errorf("a compliant object was denied: %s", out)
			}
		})
	}
}

// tryKubectl runs kubectl and returns its combined output, success or not.
func tryKubectl(c *testcluster.Cluster, stdin string, args ...string) string {
	cmd := exec.Command(c.KubectlBin, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, _ := cmd.CombinedOutput()
	return string(out)
}
