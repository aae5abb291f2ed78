package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/testcluster"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestPathsAreReal: the paths kwid finds on a real control plane are followed, hop by hop,
// with the API as the starting identity, and end with the target's rights. Tokens obtained
// on the way are never logged.
func TestPathsAreReal(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-paths")
	power := "kwid-paths-power-" + ns
	// target holds a right nobody else in the namespace holds: list nodes (cluster-wide).
	c.Kubectl(t, fmt.Sprintf(`
apiVersion: v1
kind: ServiceAccount
metadata: {name: target, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: minter, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: secreter, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: imper, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bystander, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[2]s}
rules: [{apiGroups: [""], resources: [nodes], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[2]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[2]s}
subjects: [{kind: ServiceAccount, name: target, namespace: %[1]s}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: minter, namespace: %[1]s}
rules: [{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create], resourceNames: [target]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: minter, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: minter}
subjects: [{kind: ServiceAccount, name: minter}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secreter, namespace: %[1]s}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [create]}
- {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [minted]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: secreter, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secreter}
subjects: [{kind: ServiceAccount, name: secreter}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: imper, namespace: %[1]s}
rules: [{apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate], resourceNames: [target]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: imper, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: imper}
subjects: [{kind: ServiceAccount, name: imper}]
`, ns, power), "apply", "-f", "-")
	t.Cleanup(func() {
		_ = c.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), power, metav1.DeleteOptions{})
		_ = c.Client.RbacV1().ClusterRoles().Delete(context.Background(), power, metav1.DeleteOptions{})
	})
	ctx := context.Background()

	// asSA returns a client authenticated with a fresh token of a ServiceAccount.
	asSA := func(t *testing.T, cfg *rest.Config, name string) *rest.Config {
		t.Helper()
		tr, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("token for %s: %v", name, err)
		}
		out := rest.AnonymousClientConfig(cfg)
		out.BearerToken = tr.Status.Token
		return out
	}
	withToken := func(token string) *rest.Config {
		out := rest.AnonymousClientConfig(c.Config)
		out.BearerToken = token
		return out
	}
	// canListNodes asks the API for real: list nodes as the identity.
	canListNodes := func(t *testing.T, cfg *rest.Config) bool {
		t.Helper()
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil && !apierrors.IsForbidden(err) {
			t.Fatalf("listing nodes: %v", err)
		}
		return err == nil
	}
	target := fmt.Sprintf("sa:%s/target", ns)

	tests := []struct {
		attacker string
		prim     string
		// follow walks the hop with the attacker's client and returns a client that acts
		// as the target.
		follow func(t *testing.T, attacker *rest.Config) *rest.Config
	}{
		{"minter", "P4", func(t *testing.T, attacker *rest.Config) *rest.Config {
			cs := kubernetes.NewForConfigOrDie(attacker)
			tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "target", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("TokenRequest for target as minter: %v", err)
			}
			return withToken(tr.Status.Token)
		}},
		{"secreter", "P3", func(t *testing.T, attacker *rest.Config) *rest.Config {
			cs := kubernetes.NewForConfigOrDie(attacker)
			_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "minted", Annotations: map[string]string{corev1.ServiceAccountNameKey: "target"}},
				Type:       corev1.SecretTypeServiceAccountToken,
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("creating the token Secret as secreter: %v", err)
			}
			var token string
			waitFor(t, "the token controller to fill the Secret", func() bool {
				s, err := cs.CoreV1().Secrets(ns).Get(ctx, "minted", metav1.GetOptions{})
				if err != nil {
					t.Fatalf("reading the token Secret as secreter: %v", err)
				}
				token = string(s.Data[corev1.ServiceAccountTokenKey])
				return token != ""
			})
			return withToken(token)
		}},
		{"imper", "P13", func(t *testing.T, attacker *rest.Config) *rest.Config {
			out := rest.CopyConfig(attacker)
			out.Impersonate = rest.ImpersonationConfig{UserName: fmt.Sprintf("system:serviceaccount:%s:target", ns)}
			return out
		}},
	}
	for _, tc := range tests {
		t.Run(tc.prim, func(t *testing.T) {
			// kwid finds the path on the live cluster.
			stdout, stderr, code := kwid(t, "paths", "--kubeconfig", c.Kubeconfig, "--from", fmt.Sprintf("sa:%s/%s", ns, tc.attacker), "--to", target, "-o", "json")
			if code != 0 {
				t.Fatalf("kwid paths: exit %d: %s", code, stderr)
			}
			var out struct {
				Paths []struct {
					Hops []struct {
						From, To  struct{ Kind, Namespace, Name string }
						Primitive string
						Evidence  string
					}
				}
			}
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("kwid paths -o json: %v\n%s", err, stdout)
			}
			if len(out.Paths) != 1 || len(out.Paths[0].Hops) != 1 {
				t.Fatalf("want one path of one hop, got %s", stdout)
			}
			hop := out.Paths[0].Hops[0]
			if hop.Primitive != tc.prim || hop.To.Name != "target" || hop.From.Name != tc.attacker || hop.Evidence == "" {
				t.Fatalf("hop: %+v, want %s %s -> target with evidence", hop, tc.prim, tc.attacker)
			}
			// The API agrees: the attacker alone cannot list nodes; after following the
			// hop it can, as the target.
			attacker := asSA(t, c.Config, tc.attacker)
			if canListNodes(t, attacker) {
				t.Fatalf("%s can list nodes by itself: the test proves nothing", tc.attacker)
			}
			var asTarget *rest.Config
			deadline := time.Now().Add(30 * time.Second)
			for {
				asTarget = tc.follow(t, attacker)
				if canListNodes(t, asTarget) || time.Now().After(deadline) {
					break
				}
				time.Sleep(500 * time.Millisecond) // RBAC caches settle
			}
			if !canListNodes(t, asTarget) {
				t.Fatalf("following %s from %s did not give the target's rights", tc.prim, tc.attacker)
			}
		})
	}

	// P12 to cluster-admin: bind cluster-admin and create a ClusterRoleBinding to oneself.
	t.Run("P12", func(t *testing.T) {
		binder := "kwid-paths-binder-" + ns
		c.Kubectl(t, fmt.Sprintf(`
apiVersion: v1
kind: ServiceAccount
metadata: {name: binder, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[2]s}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[2]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[2]s}
subjects: [{kind: ServiceAccount, name: binder, namespace: %[1]s}]
`, ns, binder), "apply", "-f", "-")
		t.Cleanup(func() {
			for _, n := range []string{binder, binder + "-escalated"} {
				_ = c.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), n, metav1.DeleteOptions{})
			}
			_ = c.Client.RbacV1().ClusterRoles().Delete(context.Background(), binder, metav1.DeleteOptions{})
		})
		stdout, stderr, code := kwid(t, "paths", "--kubeconfig", c.Kubeconfig, "--from", fmt.Sprintf("sa:%s/binder", ns), "-o", "json")
		if code != 0 || !strings.Contains(stdout, `"primitive": "P12"`) || !strings.Contains(stdout, `"kind": "ClusterAdmin"`) {
			t.Fatalf("kwid paths: exit %d: %s %s", code, stdout, stderr)
		}
		attacker := asSA(t, c.Config, "binder")
		if canListNodes(t, attacker) {
			t.Fatal("binder can list nodes by itself")
		}
		cs := kubernetes.NewForConfigOrDie(attacker)
		_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: binder + "-escalated"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "binder", Namespace: ns}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("binding cluster-admin as binder: %v", err)
		}
		waitFor(t, "binder to be cluster-admin", func() bool { return canListNodes(t, attacker) })
	})

	// Near miss: the bystander has no path, and kwid says so.
	stdout, stderr, code := kwid(t, "paths", "--kubeconfig", c.Kubeconfig, "--from", fmt.Sprintf("sa:%s/bystander", ns), "--to", target, "-o", "json")
	if code != 0 || stdout != "{\n  \"paths\": []\n}\n" {
		t.Fatalf("bystander: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
}
