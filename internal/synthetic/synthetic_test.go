package synthetic

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/inventory"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// collect generates a cluster and returns its objects in emission order.
func collect(t *testing.T, size Size, seed int64) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	if err := Generate(size, seed, func(o runtime.Object) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return objs
}

func kindOf(o runtime.Object) string { return o.GetObjectKind().GroupVersionKind().Kind }

func countKinds(objs []runtime.Object) map[string]int {
	counts := map[string]int{}
	for _, o := range objs {
		counts[kindOf(o)]++
	}
	return counts
}

func TestSizeByName(t *testing.T) {
	tests := []struct {
		name, in string
		want     Size
		wantErr  bool
	}{
		{name: "S", in: "S", want: S},
		{name: "L", in: "L", want: L},
		{name: "XL", in: "XL", want: XL},
		{name: "lower case", in: "xl", want: XL},
		{name: "unknown", in: "M", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SizeByName(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("SizeByName(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SizeByName(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	if diff := cmp.Diff(Size{Namespaces: 5000, ServiceAccounts: 50000, Pods: 200000, Roles: 20000, RoleBindings: 100000,
		ClusterRoles: 10 * L.ClusterRoles, ClusterRoleBindings: 10 * L.ClusterRoleBindings}, XL); diff != "" {
		t.Errorf("XL is not L x10 (-want +got):\n%s", diff)
	}
}

// sizeCounts returns the counts a Size fixes exactly, plus the Nodes and ConfigMaps that
// follow from it.
func sizeCounts(s Size) map[string]int {
	return map[string]int{
		"Namespace": s.Namespaces, "ServiceAccount": s.ServiceAccounts, "Pod": s.Pods,
		"Role": s.Roles, "RoleBinding": s.RoleBindings, "ClusterRole": s.ClusterRoles, "ClusterRoleBinding": s.ClusterRoleBindings,
		"Node": (s.Pods + podsPerNode - 1) / podsPerNode, "ConfigMap": 2,
	}
}

func TestGenerateCounts(t *testing.T) {
	tests := []struct {
		name string
		size Size
		// want is every kind's count for seed 1; nil checks only the counts the size fixes.
		want map[string]int
	}{
		{name: "S", size: S, want: map[string]int{
			"Namespace": 8, "Node": 5, "ClusterRole": 32, "ClusterRoleBinding": 24,
			"ServiceAccount": 60, "Secret": 3, "ConfigMap": 2, "Role": 14, "RoleBinding": 36,
			"Deployment": 35, "ReplicaSet": 64, "StatefulSet": 2, "DaemonSet": 3, "CronJob": 4, "Job": 8, "Pod": 150,
		}},
		{name: "L", size: L},
		{name: "tiny", size: Size{Namespaces: 4, ServiceAccounts: 4, ClusterRoles: 7}},
		{name: "no team namespaces", size: Size{Namespaces: 6, ServiceAccounts: 40, Pods: 100, Roles: 20, RoleBindings: 20, ClusterRoles: 150, ClusterRoleBindings: 150}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := countKinds(collect(t, tc.size, 1))
			fixed := sizeCounts(tc.size)
			gotFixed := map[string]int{}
			for k := range fixed {
				gotFixed[k] = got[k]
			}
			if diff := cmp.Diff(fixed, gotFixed); diff != "" {
				t.Errorf("counts fixed by the size (-want +got):\n%s", diff)
			}
			if tc.want == nil {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("counts per kind (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenerateInvalidSize(t *testing.T) {
	tests := []struct {
		name string
		size Size
	}{
		{name: "too few namespaces", size: Size{Namespaces: 3, ServiceAccounts: 3, ClusterRoles: 7}},
		{name: "no default ServiceAccounts", size: Size{Namespaces: 10, ServiceAccounts: 9, ClusterRoles: 7}},
		{name: "too few ClusterRoles", size: Size{Namespaces: 4, ServiceAccounts: 4, ClusterRoles: 6}},
		{name: "negative Pods", size: Size{Namespaces: 4, ServiceAccounts: 4, ClusterRoles: 7, Pods: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			err := Generate(tc.size, 1, func(runtime.Object) error { called = true; return nil })
			if err == nil || !strings.HasPrefix(err.Error(), "invalid size") {
				t.Errorf("Generate(%+v) error = %v, want an invalid size error", tc.size, err)
			}
			if called {
				t.Error("emit was called for an invalid size")
			}
		})
	}
}

func TestGenerateStopsAtEmitError(t *testing.T) {
	errStop := errors.New("disk full")
	tests := []struct {
		name   string
		failAt int // 1-based object that fails
	}{
		{name: "first object", failAt: 1},
		{name: "a pod", failAt: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Generate(S, 1, func(runtime.Object) error {
				calls++
				if calls >= tc.failAt {
					return errStop
				}
				return nil
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("Generate error = %v, want it to wrap %v", err, errStop)
			}
			if calls != tc.failAt {
				t.Errorf("emit called %d times, want %d (stop at the first error)", calls, tc.failAt)
			}
		})
	}
}

// fingerprint is the JSON of every object in order, hashed.
func fingerprint(t *testing.T, size Size, seed int64) (string, []string) {
	t.Helper()
	h := sha256.New()
	var docs []string
	if err := Generate(size, seed, func(o runtime.Object) error {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		h.Write(b)
		h.Write([]byte{'\n'})
		if size == S {
			docs = append(docs, string(b))
		}
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), docs
}

func TestGenerateDeterministic(t *testing.T) {
	tests := []struct {
		name         string
		size         Size
		seedA, seedB int64
		wantSame     bool
	}{
		{name: "S same seed", size: S, seedA: 1, seedB: 1, wantSame: true},
		{name: "S other seed", size: S, seedA: 1, seedB: 2, wantSame: false},
		{name: "S negative seed", size: S, seedA: -7, seedB: -7, wantSame: true},
		{name: "L same seed", size: L, seedA: 1, seedB: 1, wantSame: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.size != S && testing.Short() {
				t.Skip("large cluster skipped in -short mode")
			}
			hashA, docsA := fingerprint(t, tc.size, tc.seedA)
			hashB, docsB := fingerprint(t, tc.size, tc.seedB)
			if tc.wantSame {
				if diff := cmp.Diff(docsA, docsB); diff != "" {
					t.Errorf("seed %d twice gave different objects (-want +got):\n%s", tc.seedA, diff)
				}
				if hashA != hashB {
					t.Errorf("seed %d twice gave different objects: %s and %s", tc.seedA, hashA, hashB)
				}
			} else if hashA == hashB {
				t.Errorf("seeds %d and %d gave identical clusters", tc.seedA, tc.seedB)
			}
		})
	}
}

type key struct{ kind, ns, name string }

// index holds a generated cluster for lookups.
type index struct {
	objs       map[key]metav1.Object
	namespaces map[string]bool
}

func newIndex(t *testing.T, objs []runtime.Object) *index {
	t.Helper()
	ix := &index{objs: map[key]metav1.Object{}, namespaces: map[string]bool{}}
	uids := map[string]key{}
	var nsOrder []string
	for _, o := range objs {
		m := o.(metav1.Object)
		k := key{kindOf(o), m.GetNamespace(), m.GetName()}
		if gvk := o.GetObjectKind().GroupVersionKind(); gvk.Version == "" || gvk.Kind == "" {
			t.Errorf("%v: TypeMeta not set", k)
		}
		if _, dup := ix.objs[k]; dup {
			t.Errorf("%v emitted twice", k)
		}
		ix.objs[k] = m
		if other, dup := uids[string(m.GetUID())]; dup || m.GetUID() == "" {
			t.Errorf("%v: uid %q missing or also used by %v", k, m.GetUID(), other)
		}
		uids[string(m.GetUID())] = k
		if k.kind == "Namespace" {
			ix.namespaces[k.name] = true
		}
		if ns := k.ns; ns != "" {
			if !ix.namespaces[ns] {
				t.Errorf("%v emitted before its Namespace", k)
			}
			if len(nsOrder) == 0 || nsOrder[len(nsOrder)-1] != ns {
				if slices.Contains(nsOrder, ns) {
					t.Errorf("%v: the objects of namespace %s are not contiguous", k, ns)
				}
				nsOrder = append(nsOrder, ns)
			}
		}
	}
	return ix
}

func (ix *index) has(kind, ns, name string) bool {
	_, ok := ix.objs[key{kind, ns, name}]
	return ok
}

func (ix *index) serviceAccount(ns, name string) *corev1.ServiceAccount {
	if o, ok := ix.objs[key{"ServiceAccount", ns, name}]; ok {
		return o.(*corev1.ServiceAccount)
	}
	return nil
}

func TestGenerateReferentialIntegrity(t *testing.T) {
	objs := collect(t, S, 1)
	ix := newIndex(t, objs)
	for _, o := range objs {
		m := o.(metav1.Object)
		where := kindOf(o) + " " + m.GetNamespace() + "/" + m.GetName()
		for _, ref := range m.GetOwnerReferences() {
			owner, ok := ix.objs[key{ref.Kind, m.GetNamespace(), ref.Name}]
			switch {
			case !ok:
				t.Errorf("%s: owner %s %s not emitted", where, ref.Kind, ref.Name)
			case owner.GetUID() != ref.UID:
				t.Errorf("%s: owner %s %s uid %s, the owner has %s", where, ref.Kind, ref.Name, ref.UID, owner.GetUID())
			case ref.Controller == nil || !*ref.Controller:
				t.Errorf("%s: owner reference is not the controller", where)
			}
		}
		switch o := o.(type) {
		case *corev1.Pod:
			if len(o.OwnerReferences) != 1 {
				t.Errorf("%s: %d owner references, want 1", where, len(o.OwnerReferences))
			}
			sa := ix.serviceAccount(o.Namespace, o.Spec.ServiceAccountName)
			if sa == nil {
				t.Errorf("%s: ServiceAccount %q does not exist", where, o.Spec.ServiceAccountName)
				continue
			}
			if !ix.has("Node", "", o.Spec.NodeName) {
				t.Errorf("%s: Node %q does not exist", where, o.Spec.NodeName)
			}
			automount := true
			if o.Spec.AutomountServiceAccountToken != nil {
				automount = *o.Spec.AutomountServiceAccountToken
			} else if sa.AutomountServiceAccountToken != nil {
				automount = *sa.AutomountServiceAccountToken
			}
			mounted := slices.ContainsFunc(o.Spec.Volumes, func(v corev1.Volume) bool { return strings.HasPrefix(v.Name, "kube-api-access-") })
			if mounted != automount {
				t.Errorf("%s: kube-api-access volume %v, effective automount %v", where, mounted, automount)
			}
			arn := sa.Annotations["eks.amazonaws.com/role-arn"]
			injected := slices.ContainsFunc(o.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "AWS_ROLE_ARN" && e.Value == arn })
			if (arn != "") != injected {
				t.Errorf("%s: IRSA role %q, AWS_ROLE_ARN injected %v", where, arn, injected)
			}
		case *appsv1.ReplicaSet:
			if !ix.has("Deployment", o.Namespace, o.OwnerReferences[0].Name) {
				t.Errorf("%s: not owned by a Deployment", where)
			}
		case *batchv1.Job:
			if len(o.OwnerReferences) != 1 || o.OwnerReferences[0].Kind != "CronJob" {
				t.Errorf("%s: not owned by a CronJob", where)
			}
		case *corev1.Secret:
			sa := ix.serviceAccount(o.Namespace, o.Annotations[corev1.ServiceAccountNameKey])
			if sa == nil || string(sa.UID) != o.Annotations[corev1.ServiceAccountUIDKey] {
				t.Errorf("%s: token for a ServiceAccount that does not exist or has another uid", where)
			}
		case *rbacv1.RoleBinding:
			switch o.RoleRef.Kind {
			case "Role":
				if !ix.has("Role", o.Namespace, o.RoleRef.Name) {
					t.Errorf("%s: Role %q does not exist in namespace %s", where, o.RoleRef.Name, o.Namespace)
				}
			case "ClusterRole":
				if !ix.has("ClusterRole", "", o.RoleRef.Name) {
					t.Errorf("%s: ClusterRole %q does not exist", where, o.RoleRef.Name)
				}
			default:
				t.Errorf("%s: roleRef kind %q", where, o.RoleRef.Kind)
			}
		case *rbacv1.ClusterRoleBinding:
			if o.RoleRef.Kind != "ClusterRole" || !ix.has("ClusterRole", "", o.RoleRef.Name) {
				t.Errorf("%s: ClusterRole %q does not exist", where, o.RoleRef.Name)
			}
		}
	}
}

// TestGenerateSnapshot checks that every object is of a kind a Snapshot holds and passes
// its filters (token Secrets only, identity ConfigMaps only), but for a Deployment's old
// ReplicaSets scaled to zero, which a Snapshot drops by design.
func TestGenerateSnapshot(t *testing.T) {
	b := inventory.NewBuilder(inventory.Cluster{Source: "synthetic"}, inventory.Options{})
	var rejected []string
	if err := Generate(S, 1, func(o runtime.Object) error {
		if rs, ok := o.(*appsv1.ReplicaSet); ok && *rs.Spec.Replicas == 0 && metav1.GetControllerOf(rs) != nil {
			return nil
		}
		if _, ok := b.Add(o, nil); !ok {
			m := o.(metav1.Object)
			rejected = append(rejected, kindOf(o)+" "+m.GetNamespace()+"/"+m.GetName())
		}
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if diff := cmp.Diff([]string(nil), rejected); diff != "" {
		t.Errorf("objects a Snapshot does not keep (-want +got):\n%s", diff)
	}
	s := b.Build()
	if s.ServiceAccount("kube-system", "aws-node") == nil || s.ConfigMap("kube-system", "aws-auth") == nil {
		t.Error("kube-system/aws-node ServiceAccount or aws-auth ConfigMap missing")
	}
}

// TestGenerateRealism checks that L has the features kwid's checks and RBAC engine are
// benchmarked on.
func TestGenerateRealism(t *testing.T) {
	if testing.Short() {
		t.Skip("large cluster skipped in -short mode")
	}
	objs := collect(t, L, 1)
	ix := newIndex(t, objs)
	got := map[string]int{}
	rule := func(what string, r rbacv1.PolicyRule) {
		if slices.Contains(r.Verbs, "*") {
			got[what+" verb *"]++
		}
		if slices.Contains(r.Resources, "*") {
			got[what+" resource *"]++
		}
		if slices.Contains(r.Resources, "*/scale") {
			got[what+" resource */scale"]++
		}
		if slices.Contains(r.Resources, "pods/exec") {
			got[what+" pods/exec"]++
		}
		if len(r.ResourceNames) > 0 {
			got[what+" resourceNames"]++
		}
		if len(r.NonResourceURLs) > 0 {
			got[what+" nonResourceURLs"]++
		}
	}
	subject := func(what string, s rbacv1.Subject, ns string) {
		if s.Kind == rbacv1.ServiceAccountKind {
			got[what+" ServiceAccount subject"]++
			saNS := s.Namespace
			if saNS == "" {
				saNS = ns
			}
			if ix.serviceAccount(saNS, s.Name) == nil {
				got[what+" ServiceAccount that does not exist"]++
			}
		}
		switch {
		case s.Kind == rbacv1.ServiceAccountKind && ns != "" && s.Namespace != "" && s.Namespace != ns:
			got[what+" ServiceAccount of another namespace"]++
		case s.Kind == rbacv1.ServiceAccountKind:
			got[what+" ServiceAccount"]++
		case s.Kind == rbacv1.GroupKind && strings.HasPrefix(s.Name, "system:serviceaccounts:"):
			got[what+" Group system:serviceaccounts:<ns>"]++
		default:
			got[what+" "+s.Kind]++
		}
	}
	pods := 0
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			if o.AutomountServiceAccountToken != nil && !*o.AutomountServiceAccountToken {
				got["ServiceAccount automount false"]++
			}
			if o.Annotations["eks.amazonaws.com/role-arn"] != "" {
				got["ServiceAccount IRSA"]++
			}
		case *corev1.Pod:
			pods++
			if o.Spec.ServiceAccountName == "default" {
				got["Pod as default"]++
			}
			if o.Status.Phase == corev1.PodRunning {
				got["Pod Running"]++
			}
			if o.OwnerReferences[0].Kind == "DaemonSet" {
				got["Pod of a DaemonSet"]++
			}
		case *rbacv1.Role:
			if n := len(o.Rules); n < 1 || n > 8 {
				t.Errorf("Role %s/%s has %d rules, want 1-8", o.Namespace, o.Name, n)
			}
			for _, r := range o.Rules {
				rule("Role", r)
			}
		case *rbacv1.ClusterRole:
			if o.AggregationRule != nil && len(o.Rules) > 0 {
				got["ClusterRole aggregated with rules"]++
			}
			for _, r := range o.Rules {
				rule("ClusterRole", r)
			}
		case *rbacv1.RoleBinding:
			got["RoleBinding to "+o.RoleRef.Kind]++
			if o.RoleRef.Kind == "ClusterRole" && slices.Contains([]string{"admin", "edit", "view"}, o.RoleRef.Name) {
				got["RoleBinding to admin/edit/view"]++
			}
			for _, s := range o.Subjects {
				subject("RoleBinding", s, o.Namespace)
			}
		case *rbacv1.ClusterRoleBinding:
			if o.RoleRef.Name == "cluster-admin" && slices.ContainsFunc(o.Subjects, func(s rbacv1.Subject) bool { return s.Kind == rbacv1.ServiceAccountKind }) {
				got["ClusterRoleBinding cluster-admin to a ServiceAccount"]++
			}
			for _, s := range o.Subjects {
				subject("ClusterRoleBinding", s, "")
			}
		}
	}
	for _, name := range []string{"cluster-admin", "admin", "edit", "view"} {
		if !ix.has("ClusterRole", "", name) {
			t.Errorf("ClusterRole %s missing", name)
		}
	}
	for _, k := range []string{"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "CronJob", "Job", "Secret", "Node"} {
		if countKinds(objs)[k] == 0 {
			t.Errorf("no %s generated", k)
		}
	}
	wantSome := []string{
		"ServiceAccount automount false", "ServiceAccount IRSA", "Pod as default", "Pod of a DaemonSet",
		"Role verb *", "Role resource *", "Role resource */scale", "Role pods/exec", "Role resourceNames",
		"ClusterRole nonResourceURLs", "ClusterRole aggregated with rules", "ClusterRole verb *",
		"RoleBinding to Role", "RoleBinding to admin/edit/view", "RoleBinding to ClusterRole",
		"RoleBinding ServiceAccount", "RoleBinding ServiceAccount of another namespace", "RoleBinding User", "RoleBinding Group",
		"RoleBinding Group system:serviceaccounts:<ns>", "RoleBinding ServiceAccount that does not exist",
		"ClusterRoleBinding ServiceAccount", "ClusterRoleBinding User", "ClusterRoleBinding Group",
		"ClusterRoleBinding cluster-admin to a ServiceAccount",
	}
	var missing []string
	for _, w := range wantSome {
		if got[w] == 0 {
			missing = append(missing, w)
		}
	}
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("features missing from L (-want +got):\n%s", diff)
	}
	// RoleBindings may name a deleted ServiceAccount, as real ones do, but rarely.
	if d, n := got["RoleBinding ServiceAccount that does not exist"], got["RoleBinding ServiceAccount subject"]; d*20 > n {
		t.Errorf("%d of %d ServiceAccount subjects of RoleBindings do not exist, want at most 5%%", d, n)
	}
	// Most Pods run their namespace's own ServiceAccounts; default is the exception.
	if d := got["Pod as default"]; d*5 > pods {
		t.Errorf("%d of %d Pods run as default, want at most 20%%", d, pods)
	}
	if r := got["Pod Running"]; r*10 < pods*9 {
		t.Errorf("%d of %d Pods Running, want at least 90%%", r, pods)
	}
}
