package cli_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kwid-dev/kwid/internal/admission/admissiontest"
	"github.com/kwid-dev/kwid/internal/cli"
	"github.com/kwid-dev/kwid/internal/testcluster"
)

// syncBuffer is a bytes.Buffer safe for the webhook's log goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// warnings collects the API server's warning headers (what kubectl prints).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.list = append(w.list, text)
	w.mu.Unlock()
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// startWebhook runs `kwid webhook` in-process on 127.0.0.1 and registers it with the API
// server through a ValidatingWebhookConfiguration that matches only objects labelled
// kwid.dev/webhook-test=label (the control plane is shared with other tests).
func startWebhook(t *testing.T, c *testcluster.Cluster, label string, extra ...string) *syncBuffer {
	t.Helper()
	certs := admissiontest.NewCerts(t, t.TempDir(), label)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"webhook", "--kubeconfig", c.Kubeconfig, "--addr", addr, "--tls-cert", certs.CertFile, "--tls-key", certs.KeyFile}, extra...)
	go func() {
		done <- cli.Run(ctx, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: stderr}, args)
	}()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool}}}
	waitFor(t, "the webhook to be ready", func() bool {
		select {
		case err := <-done:
			t.Fatalf("kwid webhook exited: %v\n%s", err, stderr)
		default:
		}
		resp, err := client.Get("https://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(10)
	url := "https://" + addr + "/validate"
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources},
		}
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kwid-test-" + label},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "identity.kwid.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: certs.CAPEM},
			Rules:                   []admissionregistrationv1.RuleWithOperations{rule("", "pods", "serviceaccounts", "secrets"), rule("rbac.authorization.k8s.io", "rolebindings", "clusterrolebindings", "roles", "clusterroles")},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"kwid.dev/webhook-test": label}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(context.Background(), vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), vwc.Name, metav1.DeleteOptions{})
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kwid webhook: %v", err)
		}
	})
	return stderr
}

// TestWebhookLive: `kwid webhook`, registered with a real API server, denies a RoleBinding
// of cluster-admin to a namespace's default ServiceAccount and a Pod with static AWS keys
// (the check ID in the message), also on a server-side dry run, allows compliant ones, and
// in warn mode admits the same objects with a warning that client-go receives.
func TestWebhookLive(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-webhook")
	c.Kubectl(t, `apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: config-reader}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
`, "apply", "-n", ns, "-f", "-")
	enforceLog := startWebhook(t, c, "enforce-"+ns)
	startWebhook(t, c, "warn-"+ns, "--mode", "warn")

	w := &warnings{}
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	labels := func(mode string) map[string]string {
		return map[string]string{"kwid.dev/webhook-test": mode + "-" + ns}
	}
	adminBinding := func(mode, name string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(mode)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}},
		}
	}
	readerBinding := func(mode, name string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(mode)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "config-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "app", Namespace: ns}},
		}
	}
	no := false
	pod := func(mode, name string, env ...corev1.EnvVar) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(mode)},
			Spec: corev1.PodSpec{
				ServiceAccountName:           "app",
				AutomountServiceAccountToken: &no,
				Containers:                   []corev1.Container{{Name: "c", Image: "example.com/app:1", Env: env}},
			},
		}
	}
	awsKeys := []corev1.EnvVar{
		{Name: "AWS_ACCESS_KEY_ID", Value: "AKIAIOSFODNN7ABCDEFG"},
		{Name: "AWS_SECRET_ACCESS_KEY", Value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEYabc"},
	}
	create := func(obj any, dryRun bool) error {
		opts := metav1.CreateOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		var err error
		switch o := obj.(type) {
		case *rbacv1.RoleBinding:
			_, err = cs.RbacV1().RoleBindings(ns).Create(ctx, o, opts)
		case *corev1.Pod:
			_, err = cs.CoreV1().Pods(ns).Create(ctx, o, opts)
		}
		return err
	}

	// The API server picks up new webhook configurations asynchronously.
	waitFor(t, "the webhook to be called", func() bool {
		err := create(adminBinding("enforce", "probe"), true)
		return err != nil && strings.Contains(err.Error(), "KW-")
	})
	w.take()

	for _, tc := range []struct {
		name    string
		obj     any
		denied  []string // check IDs in the denial; nil = allowed
		warned  []string // check IDs among the warnings
		noWarns bool
	}{
		{name: "cluster-admin to default denied", obj: adminBinding("enforce", "default-admin"), denied: []string{"KW-RBAC-001"}},
		{name: "AWS keys in env denied", obj: pod("enforce", "aws", awsKeys...), denied: []string{"KW-CRED-001"}},
		{name: "compliant pod allowed", obj: pod("enforce", "ok"), noWarns: true},
		{name: "compliant binding allowed", obj: readerBinding("enforce", "app-config"), noWarns: true},
		{name: "warn mode: binding admitted with a warning", obj: adminBinding("warn", "default-admin-warned"), warned: []string{"KW-RBAC-001"}},
		{name: "warn mode: pod admitted with a warning", obj: pod("warn", "aws-warned", awsKeys...), warned: []string{"KW-CRED-001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dryErr := create(tc.obj, true)
			dryWarnings := w.take()
			err := create(tc.obj, false)
			realWarnings := w.take()
			if tc.denied == nil {
				if err != nil || dryErr != nil {
					t.Fatalf("denied: %v (dry run: %v)", err, dryErr)
				}
			} else {
				if err == nil || dryErr == nil {
					t.Fatalf("admitted (error %v, dry run error %v)", err, dryErr)
				}
				for _, id := range tc.denied {
					if !strings.Contains(err.Error(), id) {
						t.Errorf("denial lacks %s: %v", id, err)
					}
				}
				t.Logf("denied: %v", err)
				if err.Error() != dryErr.Error() {
					t.Errorf("dry run judged differently:\nreal: %v\ndry:  %v", err, dryErr)
				}
				if strings.Contains(err.Error(), "wJalrXUtnFEMI") {
					t.Errorf("denial carries the secret key: %v", err)
				}
			}
			for _, id := range tc.warned {
				if !strings.Contains(strings.Join(realWarnings, "\n"), id) || !strings.Contains(strings.Join(dryWarnings, "\n"), id) {
					t.Errorf("warnings lack %s: real %q, dry run %q", id, realWarnings, dryWarnings)
				}
			}
			if tc.noWarns && len(realWarnings) > 0 {
				t.Errorf("unexpected warnings: %q", realWarnings)
			}
		})
	}
	if log := enforceLog.String(); !strings.Contains(log, "dry_run=true") || !strings.Contains(log, "decision=denied") {
		t.Errorf("webhook log lacks decisions marked dry_run:\n%s", log)
	}
	if strings.Contains(enforceLog.String(), "wJalrXUtnFEMI") {
		t.Error("webhook logged the secret key")
	}
}
