package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/testcluster"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestCombinedPrimitivesLive checks on a real API server the semantics P16, P23 and P10 rest
// on, and that the graph built from the live cluster has the P23 edge and not its near miss:
//   - a RoleBinding grants patch on its own namespace object (and no other), and relabelling
//     it lifts Pod Security for new pods (P16);
//   - patching an existing binding without bind on its role is refused by the escalation
//     check; with bind it succeeds and yields the role's rights (P23);
//   - Pod Security restricted admits a non-root pod of group 0 whose generic ephemeral
//     volume names a PersistentVolume (P10).
//
// No node runs in the test control plane, so pods stay Pending: admission is what is tested.
// Tokens are never logged.
func TestCombinedPrimitivesLive(t *testing.T) {
	c := testcluster.Start(t)
	ctx := context.Background()
	ns := c.Namespace(t, "kwid-prim")
	power := "kwid-prim-power-" + ns
	c.Kubectl(t, "", "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
	c.Kubectl(t, fmt.Sprintf(`
apiVersion: v1
kind: ServiceAccount
metadata: {name: relabeler, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: editor, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobind, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: target, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: relabel, namespace: %[1]s}
rules:
- {apiGroups: [""], resources: [namespaces], verbs: [patch], resourceNames: [%[1]s]}
- {apiGroups: [""], resources: [pods], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: relabel, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: relabel}
subjects: [{kind: ServiceAccount, name: relabeler}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[2]s}
rules: [{apiGroups: [""], resources: [secrets], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ops, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[2]s}
subjects: [{kind: ServiceAccount, name: target}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: editor, namespace: %[1]s}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [patch], resourceNames: [ops]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [%[2]s]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: editor, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: editor}
subjects: [{kind: ServiceAccount, name: editor}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: nobind, namespace: %[1]s}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [get, patch], resourceNames: [ops]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: nobind, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: nobind}
subjects: [{kind: ServiceAccount, name: nobind}]
`, ns, power), "apply", "-f", "-")
	t.Cleanup(func() {
		_ = c.Client.RbacV1().ClusterRoles().Delete(context.Background(), power, metav1.DeleteOptions{})
	})

	as := func(t *testing.T, sa string) kubernetes.Interface {
		t.Helper()
		tr, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("token for %s: %v", sa, err)
		}
		cfg := rest.AnonymousClientConfig(c.Config)
		cfg.BearerToken = tr.Status.Token
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}

	// retry calls f until its error is not one that only says the API server's caches
	// (RBAC, namespaces) have not yet seen an earlier write, for up to 15 s.
	retry := func(f func() error, stale ...string) error {
		var last error
		_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
			last = f()
			for _, s := range stale {
				if last != nil && strings.Contains(last.Error(), s) {
					return false, nil
				}
			}
			return true, nil
		})
		return last
	}
	const rbacDenied = "cannot " // User "..." cannot patch resource ...

	t.Run("graph", func(t *testing.T) {
		s, err := inventory.LoadLive(ctx, c.Config, inventory.LiveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g := graph.Build(s, rbac.NewIndex(s))
		p23 := func(sa string) []string {
			id, ok := g.Lookup(graph.ServiceAccount, ns, sa)
			if !ok {
				t.Fatalf("no ServiceAccount %s/%s in the graph", ns, sa)
			}
			var out []string
			for _, ei := range g.Out(id) {
				if g.Edge(ei).Prim == graph.P23 {
					out = append(out, g.Evidence(ei))
				}
			}
			return out
		}
		ev := p23("editor")
		if len(ev) != 1 || !strings.Contains(ev[0], "patch RoleBinding "+ns+"/ops") || !strings.Contains(ev[0], "list/watch Secrets in namespace "+ns) {
			t.Errorf("editor: P23 edges %q, want one patching %s/ops to list Secrets", ev, ns)
		}
		if ev := p23("nobind"); len(ev) != 0 {
			t.Errorf("nobind: P23 edges %q, want none (no bind)", ev)
		}
	})

	t.Run("P23", func(t *testing.T) {
		addMe := func(sa string) []byte {
			return fmt.Appendf(nil, `[{"op":"add","path":"/subjects/-","value":{"kind":"ServiceAccount","name":%q,"namespace":%q}}]`, sa, ns)
		}
		nobind := as(t, "nobind")
		err := retry(func() error {
			_, err := nobind.RbacV1().RoleBindings(ns).Patch(ctx, "ops", types.JSONPatchType, addMe("nobind"), metav1.PatchOptions{})
			return err
		}, rbacDenied)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "not currently held") {
			t.Fatalf("patch without bind: err = %v, want Forbidden by the escalation check", err)
		}
		editor := as(t, "editor")
		if _, err := editor.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("editor lists Secrets before the edit: err = %v, want Forbidden", err)
		}
		if err := retry(func() error {
			_, err := editor.RbacV1().RoleBindings(ns).Patch(ctx, "ops", types.JSONPatchType, addMe("editor"), metav1.PatchOptions{})
			return err
		}, rbacDenied); err != nil {
			t.Fatalf("patch with bind: %v", err)
		}
		// The authorizer sees the binding change through its informer: allow it a moment.
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := editor.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("editor cannot list Secrets after adding itself to ops: %v", err)
		}
	})

	// escaping is a pod that mounts the node's root (the test API server refuses privileged
	// containers by its own flag, so a hostPath volume stands for what Pod Security stops).
	escaping := func(name string) *corev1.Pod {
		no := false
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				ServiceAccountName:           "relabeler",
				AutomountServiceAccountToken: &no,
				Containers:                   []corev1.Container{{Name: "c", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}}},
				Volumes:                      []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
			},
		}
	}
	t.Run("P16", func(t *testing.T) {
		relabeler := as(t, "relabeler")
		err := retry(func() error {
			_, err := relabeler.CoreV1().Pods(ns).Create(ctx, escaping("before"), metav1.CreateOptions{})
			return err
		}, rbacDenied)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Fatalf("hostPath pod under restricted: err = %v, want Forbidden by Pod Security", err)
		}
		lift := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"privileged"}}}`)
		if _, err := relabeler.CoreV1().Namespaces().Patch(ctx, "default", types.MergePatchType, lift, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("relabel another namespace: err = %v, want Forbidden", err)
		}
		if _, err := relabeler.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, lift, metav1.PatchOptions{}); err != nil {
			t.Fatalf("relabel its own namespace through a RoleBinding: %v", err)
		}
		if err := retry(func() error {
			_, err := relabeler.CoreV1().Pods(ns).Create(ctx, escaping("after"), metav1.CreateOptions{})
			return err
		}, "violates PodSecurity"); err != nil {
			t.Fatalf("hostPath pod after relabelling: %v", err)
		}
	})

	t.Run("P10 admission", func(t *testing.T) {
		rns := c.Namespace(t, "kwid-prim-r")
		c.Kubectl(t, "", "label", "namespace", rns, "pod-security.kubernetes.io/enforce=restricted")
		c.Kubectl(t, "", "-n", rns, "create", "serviceaccount", "reader")
		yes, no := true, false
		uid, gid := int64(1000), int64(0)
		empty := ""
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			Spec: corev1.PodSpec{
				ServiceAccountName:           "reader",
				AutomountServiceAccountToken: &no,
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &gid,
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				Containers: []corev1.Container{{Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					VolumeMounts: []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}}},
				Volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
					VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						StorageClassName: &empty, VolumeName: "kwid-hostpath",
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
					}}}}}},
			},
		}
		if _, err := c.Client.CoreV1().Pods(rns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatalf("restricted refused a non-root pod of group 0 with an ephemeral volume naming a PersistentVolume: %v", err)
		}
		// The control: restricted is enforced on this dry run (root is refused).
		root := pod.DeepCopy()
		root.Spec.SecurityContext.RunAsUser = new(int64)
		if _, err := c.Client.CoreV1().Pods(rns).Create(ctx, root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
			t.Fatalf("restricted admitted the same pod as root: err = %v, want Forbidden", err)
		}
	})
}
