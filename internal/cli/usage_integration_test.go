package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/testcluster"
	"github.com/kwid-dev/kwid/internal/usage"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const usageRBAC = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: writer}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: overgranted}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other-config}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: s1}
stringData: {k: v}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [configmaps], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: reader}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: writer}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [create, update, delete, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: writer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: writer}
subjects: [{kind: ServiceAccount, name: writer}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: broad}
rules:
- {apiGroups: [""], resources: [pods, secrets], verbs: [get, list, watch, delete]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: broad}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: broad}
subjects: [{kind: ServiceAccount, name: overgranted}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: extra}
rules:
- {apiGroups: [apps], resources: [deployments], verbs: [create, delete]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: extra}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extra}
subjects: [{kind: ServiceAccount, name: overgranted}]
`

// saClient returns a client authenticated with a TokenRequest token of ns/name.
func saClient(t *testing.T, c *testcluster.Cluster, ns, name string) kubernetes.Interface {
	t.Helper()
	exp := int64(3600)
	tr, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = tr.Status.Token
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestUsageAndGenerateRoleLive is the end-to-end proof of kwid usage and kwid generate role
// against a real API server with audit logging: ServiceAccounts with TokenRequest tokens make
// allowed and forbidden requests; the roles generated from the audit log, applied to a fresh
// namespace, allow every allowed request of the log (SubjectAccessReview) and deny the rest;
// kwid usage reports the over-granted account's unused rules and binding.
func TestUsageAndGenerateRoleLive(t *testing.T) {
	c := testcluster.Start(t)
	if c.AuditLog == "" {
		t.Skip("the control plane has no audit log (KWID_TEST_AUDIT_LOG)")
	}
	ctx := context.Background()
	ns := c.Namespace(t, "kwid-aud")
	c.Kubectl(t, usageRBAC, "apply", "-n", ns, "-f", "-")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{
		AutomountServiceAccountToken: new(bool), Containers: []corev1.Container{{Name: "c", Image: "example.invalid/none"}}}}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "RBAC of the new namespace", func() bool {
		return strings.Contains(c.Kubectl(t, "", "auth", "can-i", "delete", "deployments.apps", "-n", ns,
			"--as", "system:serviceaccount:"+ns+":overgranted"), "yes")
	})

	reader, writer, over := saClient(t, c, ns, "reader"), saClient(t, c, ns, "writer"), saClient(t, c, ns, "overgranted")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Fatalf("%s: want forbidden, got %v", what, err)
		}
	}
	// reader: list, get and watch pods; get one ConfigMap by name; refused secrets and deletes.
	_, err := reader.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	must("reader list pods", err)
	_, err = reader.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
	must("reader get pod", err)
	w, err := reader.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{TimeoutSeconds: new(int64)})
	must("reader watch pods", err)
	w.Stop()
	_, err = reader.CoreV1().ConfigMaps(ns).Get(ctx, "app-config", metav1.GetOptions{})
	must("reader get configmap", err)
	_, err = reader.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	forbidden("reader list secrets", err)
	forbidden("reader delete pod", reader.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{}))
	// writer: create, update, delete a ConfigMap; refused secrets.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "made-by-writer"}, Data: map[string]string{"x": "1"}}
	cm, err = writer.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	must("writer create configmap", err)
	cm.Data["x"] = "2"
	_, err = writer.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	must("writer update configmap", err)
	must("writer delete configmap", writer.CoreV1().ConfigMaps(ns).Delete(ctx, "made-by-writer", metav1.DeleteOptions{}))
	_, err = writer.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "nope"}}, metav1.CreateOptions{})
	forbidden("writer create secret", err)
	// overgranted: only list pods and get one Secret; refused nodes.
	_, err = over.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	must("overgranted list pods", err)
	_, err = over.CoreV1().Secrets(ns).Get(ctx, "s1", metav1.GetOptions{})
	must("overgranted get secret", err)
	_, err = over.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	forbidden("overgranted list nodes", err)
	// The marker: the last request; its event means the others are written too.
	_, err = over.CoreV1().ConfigMaps(ns).Get(ctx, "kwid-marker", metav1.GetOptions{})
	forbidden("marker", err)

	// Copy this test's events (its three users) out of the shared audit log.
	users := []string{"reader", "writer", "overgranted"}
	logFile := filepath.Join(t.TempDir(), "audit.log")
	waitFor(t, "the audit events of the test's requests", func() bool {
		n := copyEvents(t, c.AuditLog, logFile, ns, users)
		data, _ := os.ReadFile(logFile)
		return n > 0 && strings.Contains(string(data), "kwid-marker") && strings.Count(string(data), `"stage":"ResponseComplete"`) >= 14
	})

	// kwid generate role, rewritten to a fresh namespace (fresh ServiceAccounts), applied.
	out, stderr, code := kwid(t, "generate", "role", "--from-audit-log", logFile, "--for", "all-serviceaccounts")
	if code != 0 {
		t.Fatalf("kwid generate role: exit %d: %s", code, stderr)
	}
	t.Logf("generated:\n%s", out)
	fresh := c.Namespace(t, "kwid-aud2")
	rewritten := strings.ReplaceAll(out, ns, fresh)
	c.Kubectl(t, rewritten, "apply", "-f", "-")
	t.Cleanup(func() { c.Kubectl(t, rewritten, "delete", "--ignore-not-found", "-f", "-") })

	rep, err := usage.ReadFiles([]string{logFile}, nil)
	if err != nil || rep.Stats.Malformed != 0 {
		t.Fatalf("reading the audit log: %v %+v", err, rep.Problems)
	}
	sar := func(sa string, r rbac.Request) bool {
		t.Helper()
		u := rbac.ServiceAccountUser(fresh, sa)
		spec := authorizationv1.SubjectAccessReviewSpec{User: u.Name, Groups: u.Groups}
		if r.IsResource() {
			spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Verb: r.Verb, Group: r.APIGroup, Resource: r.Resource,
				Subresource: r.Subresource, Namespace: r.Namespace, Name: r.Name}
		} else {
			spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: r.Verb, Path: r.Path}
		}
		res, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Status.Allowed
	}
	rewrite := func(r rbac.Request) rbac.Request {
		r.Namespace = strings.ReplaceAll(r.Namespace, ns, fresh)
		r.Name = strings.ReplaceAll(r.Name, ns, fresh)
		r.Path = strings.ReplaceAll(r.Path, ns, fresh)
		return r
	}
	checked := 0
	for _, sa := range users {
		id := rep.Identities[rbac.ServiceAccountUsername(ns, sa)]
		if id == nil {
			t.Fatalf("no events of %s in the audit log", sa)
		}
		for _, u := range id.Used() {
			for _, r := range u.Requests() {
				r = rewrite(r)
				ok := false
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
					if ok = sar(sa, r); ok {
						break
					}
				}
				if !ok {
					t.Errorf("%s was allowed %q in the log, the generated role denies it", sa, r)
				}
				checked++
			}
		}
		for _, u := range id.Attempted() {
			for _, r := range u.Requests() {
				if sar(sa, rewrite(r)) {
					t.Errorf("%s was refused %q in the log, the generated role allows it", sa, r)
				}
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d allowed requests checked; the audit log lacks events", checked)
	}
	denied := []struct {
		sa string
		r  rbac.Request
	}{
		{"reader", rbac.Request{Verb: "delete", Resource: "pods", Namespace: fresh, Name: "web"}},
		{"reader", rbac.Request{Verb: "get", Resource: "configmaps", Namespace: fresh, Name: "other-config"}},
		{"reader", rbac.Request{Verb: "list", Resource: "configmaps", Namespace: fresh}},
		{"reader", rbac.Request{Verb: "get", Resource: "pods", Namespace: ns, Name: "web"}},
		{"writer", rbac.Request{Verb: "list", Resource: "secrets", Namespace: fresh}},
		{"writer", rbac.Request{Verb: "get", Resource: "configmaps", Namespace: fresh, Name: "app-config"}},
		{"writer", rbac.Request{Verb: "create", Resource: "configmaps", Namespace: "default"}},
		{"overgranted", rbac.Request{Verb: "delete", Resource: "pods", Namespace: fresh, Name: "web"}},
		{"overgranted", rbac.Request{Verb: "watch", Resource: "pods", Namespace: fresh}},
		{"overgranted", rbac.Request{Verb: "get", Resource: "secrets", Namespace: fresh, Name: "other"}},
		{"overgranted", rbac.Request{Verb: "list", Resource: "secrets", Namespace: fresh}},
		{"overgranted", rbac.Request{Verb: "create", APIGroup: "apps", Resource: "deployments", Namespace: fresh}},
		{"overgranted", rbac.Request{Verb: "list", Resource: "nodes"}},
	}
	for _, d := range denied {
		if sar(d.sa, d.r) {
			t.Errorf("the generated role of %s allows %q, which the log did not need", d.sa, d.r)
		}
	}

	// kwid usage reports the over-granted account's unused permissions.
	out, stderr, code = kwid(t, "usage", "--audit-log", logFile, "--kubeconfig", c.Kubeconfig, "-o", "json",
		"--for", "sa:"+ns+"/overgranted")
	if code != 0 {
		t.Fatalf("kwid usage: exit %d: %s", code, stderr)
	}
	var got usage.Comparison
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Identities) != 1 {
		t.Fatalf("want the overgranted identity, got %d identities", len(got.Identities))
	}
	iu := got.Identities[0]
	if want := "RoleBinding " + ns + "/extra"; !slices.Contains(iu.UnusedBindings, want) {
		t.Errorf("unused bindings %v, want %s", iu.UnusedBindings, want)
	}
	var parts []string
	wholeExtra := false
	for _, u := range iu.Unused {
		parts = append(parts, u.UnusedParts...)
		if u.Binding == "RoleBinding "+ns+"/extra" && !u.Partly {
			wholeExtra = true
		}
	}
	if !wholeExtra {
		t.Errorf("the rule of Role extra is not reported unused: %+v", iu.Unused)
	}
	for _, p := range []string{"delete pods", "watch pods", "list secrets", "watch secrets", "delete secrets", "get pods"} {
		if !slices.Contains(parts, p) {
			t.Errorf("unused parts %v lack %q", parts, p)
		}
	}
}

// copyEvents writes the events of ns's ServiceAccounts users from the shared audit log to
// dst and returns how many there were.
func copyEvents(t *testing.T, src, dst, ns string, users []string) int {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		for _, u := range users {
			if strings.Contains(line, `"username":"system:serviceaccount:`+ns+":"+u+`"`) {
				out.WriteString(line + "\n")
				n++
				break
			}
		}
	}
	return n
}
