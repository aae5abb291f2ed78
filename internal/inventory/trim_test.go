package inventory

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

const fullPod = `
apiVersion: v1
kind: Pod
metadata:
  name: api-7d9-x1
  namespace: shop
  labels: {app: api}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"big":"copy"}'
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/api
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9, uid: u1, controller: true}]
  managedFields: [{manager: kubectl}]
spec:
  serviceAccountName: api
  automountServiceAccountToken: true
  nodeName: node-1
  hostNetwork: true
  nodeSelector: {pool: a}
  tolerations: [{key: k, operator: Exists}]
  affinity: {nodeAffinity: {}}
  dnsPolicy: ClusterFirst
  schedulerName: default-scheduler
  priority: 0
  terminationGracePeriodSeconds: 30
  securityContext: {runAsUser: 1000}
  volumes:
  - name: kube-api-access-abcde
    projected:
      sources:
      - serviceAccountToken: {path: token, audience: sts.amazonaws.com, expirationSeconds: 3600}
  - name: host
    hostPath: {path: /var/run}
  containers:
  - name: api
    image: registry/api:1
    env:
    - {name: AWS_ACCESS_KEY_ID, value: AKIAEXAMPLE}
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: tok, key: t}}
    envFrom: [{secretRef: {name: creds}}]
    volumeMounts: [{name: host, mountPath: /host}]
    securityContext: {privileged: true}
    ports: [{containerPort: 8080}]
    resources: {limits: {memory: 1Gi}}
    livenessProbe: {httpGet: {path: /healthz, port: 8080}}
    readinessProbe: {httpGet: {path: /readyz, port: 8080}}
    imagePullPolicy: Always
status:
  phase: Running
  podIP: 10.0.0.1
  conditions: [{type: Ready, status: "True"}]
`

func TestTrimKeepsIdentityDropsTheRest(t *testing.T) {
	var p corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(fullPod), &p); err != nil {
		t.Fatal(err)
	}
	want := p.DeepCopy()
	Trim(&p)

	// Dropped.
	c := p.Spec.Containers[0]
	if c.Ports != nil || c.Resources.Limits != nil || c.LivenessProbe != nil || c.ReadinessProbe != nil || c.ImagePullPolicy != "" {
		t.Errorf("container not trimmed: %+v", c)
	}
	if p.Spec.Affinity != nil || p.Spec.DNSPolicy != "" || p.Spec.SchedulerName != "" || p.Spec.Priority != nil || p.Spec.TerminationGracePeriodSeconds != nil {
		t.Errorf("pod spec not trimmed: %+v", p.Spec)
	}
	if p.ManagedFields != nil || p.Annotations[LastAppliedAnnotation] != "" {
		t.Errorf("metadata not trimmed: %+v", p.ObjectMeta)
	}
	if !equality.Semantic.DeepEqual(p.Status, corev1.PodStatus{Phase: corev1.PodRunning}) {
		t.Errorf("status = %+v, want the phase only", p.Status)
	}

	// Kept: everything identity analysis reads. Put the dropped parts back on the original
	// and the two must be equal.
	want.ManagedFields = nil
	delete(want.Annotations, LastAppliedAnnotation)
	want.Status = corev1.PodStatus{Phase: corev1.PodRunning}
	wc := &want.Spec.Containers[0]
	wc.Ports, wc.Resources, wc.LivenessProbe, wc.ReadinessProbe, wc.ImagePullPolicy = nil, corev1.ResourceRequirements{}, nil, nil, ""
	want.Spec.Affinity, want.Spec.DNSPolicy, want.Spec.SchedulerName, want.Spec.Priority, want.Spec.TerminationGracePeriodSeconds = nil, "", "", nil, nil
	if !equality.Semantic.DeepEqual(&p, want) {
		t.Errorf("trim changed identity fields:\n got %+v\nwant %+v", p, *want)
	}

	// Idempotent.
	again := p.DeepCopy()
	Trim(again)
	if !equality.Semantic.DeepEqual(&p, again) {
		t.Error("Trim is not idempotent")
	}
}

func TestTrimTemplatesAndStatus(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			ServiceAccountName: "api",
			Containers: []corev1.Container{{Name: "api", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}},
		}}},
		Status: appsv1.DeploymentStatus{Replicas: 3},
	}
	Trim(d)
	if d.Status.Replicas != 0 || d.Spec.Template.Spec.Containers[0].Resources.Requests != nil {
		t.Errorf("deployment not trimmed: %+v", d)
	}
	if d.Spec.Template.Spec.ServiceAccountName != "api" {
		t.Error("service account lost")
	}
}

func TestTrimmerSharesStrings(t *testing.T) {
	tr := newTrimmer()
	var pods [2]corev1.Pod
	for i := range pods {
		if err := yaml.Unmarshal([]byte(fullPod), &pods[i]); err != nil {
			t.Fatal(err)
		}
		tr.trim(&pods[i])
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	if !same(pods[0].Namespace, pods[1].Namespace) || !same(pods[0].Spec.Containers[0].Image, pods[1].Spec.Containers[0].Image) || !same(pods[0].Spec.NodeName, pods[1].Spec.NodeName) {
		t.Error("equal strings of two trimmed pods are separate copies")
	}
}

func TestLineKind(t *testing.T) {
	for _, tc := range []struct {
		line, want, err string
	}{
		{line: `{"kind":"Pod","apiVersion":"v1"}`, want: "Pod"},
		{line: `{"apiVersion":"v1","kind":"Role"}`, want: "Role"},    // not first: decoded
		{line: `{"kind":"P\u006fd","apiVersion":"v1"}`, want: "Pod"}, // escaped: decoded
		{line: `{"kind":`, err: "unexpected end"},
		{line: `{"kind":"Pod`, err: "unexpected end"},
	} {
		got, err := lineKind([]byte(tc.line))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("lineKind(%s) error = %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("lineKind(%s) = %q, %v, want %q", tc.line, got, err, tc.want)
		}
	}
}

// A reset Builder builds what a new one would, and nothing of its last Snapshot.
func TestBuilderReset(t *testing.T) {
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "a"}}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "a"}}
	b := NewBuilder(Cluster{Name: "one"}, Options{})
	b.Add(pod("p1"), &Location{File: "f.yaml"})
	b.Add(pod("p2"), nil)
	b.SetStatus(Pods, Status{State: Collected})
	if first := b.Build(); len(first.Pods) != 2 {
		t.Fatalf("first snapshot has %d pods", len(first.Pods))
	}

	b.Reset(Cluster{Name: "two"}, Options{Namespace: "a"})
	b.Add(sa.DeepCopy(), nil)
	b.SetStatus(ServiceAccounts, Status{State: Collected})
	got := b.Build()

	fresh := NewBuilder(Cluster{Name: "two"}, Options{Namespace: "a"})
	fresh.Add(sa.DeepCopy(), nil)
	fresh.SetStatus(ServiceAccounts, Status{State: Collected})
	want := fresh.Build()
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("reset builder built\n%+v\nwant\n%+v", got, want)
	}
	if len(got.Pods) != 0 || cap(got.Pods) == 0 {
		t.Errorf("pods after reset: len %d cap %d, want none and the old capacity", len(got.Pods), cap(got.Pods))
	}
	if p := got.Pods[:cap(got.Pods)]; p[0].Name != "" {
		t.Errorf("the old pods are still referenced: %q", p[0].Name)
	}
}

// A loading trimmer stores equal parts of pods once, and the pods stay what they were.
func TestTrimmerSharesEqualParts(t *testing.T) {
	load := func() [3]corev1.Pod {
		var pods [3]corev1.Pod
		for i := range pods {
			if err := yaml.Unmarshal([]byte(fullPod), &pods[i]); err != nil {
				t.Fatal(err)
			}
		}
		pods[2].Spec.Containers[0].Env[0].Value = "other" // differs from the others
		return pods
	}
	want := load()
	for i := range want {
		Trim(&want[i])
	}
	got := load()
	tr := newTrimmer()
	for i := range got {
		tr.trim(&got[i])
	}
	for i := range got {
		if !equality.Semantic.DeepEqual(got[i], want[i]) {
			t.Errorf("pod %d changed by sharing:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	p0, p1, p2 := &got[0].Spec, &got[1].Spec, &got[2].Spec
	if p0.Volumes[0].Projected != p1.Volumes[0].Projected || p0.SecurityContext != p1.SecurityContext ||
		&p0.Tolerations[0] != &p1.Tolerations[0] || &p0.Containers[0].Env[0] != &p1.Containers[0].Env[0] ||
		&got[0].OwnerReferences[0] != &got[1].OwnerReferences[0] {
		t.Error("equal parts of two pods are stored twice")
	}
	if &p0.Containers[0].Env[0] == &p2.Containers[0].Env[0] {
		t.Error("different env shared")
	}
	if cap(p0.Tolerations) != len(p0.Tolerations) {
		t.Error("a shared slice has spare capacity: an append would write into it")
	}
}

// Saved snapshots say how many objects of each kind they hold; reading takes it as a hint
// only: a header that lies does not make kwid reserve memory for objects that never come.
func TestSavedCountsAreAHint(t *testing.T) {
	b := NewBuilder(Cluster{Name: "c"}, Options{})
	b.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "a"}}, nil)
	b.SetStatus(Pods, Status{State: Collected})
	var buf strings.Builder
	if err := Save(&buf, b.Build(), false); err != nil {
		t.Fatal(err)
	}
	saved := buf.String()
	if !strings.Contains(saved, `"counts":{"Pod":1}`) {
		t.Fatalf("header has no counts:\n%s", saved)
	}
	for _, counts := range []string{`"counts":{"Pod":1}`, `"counts":{"Pod":1000000000000}`, `"counts":{"Pod":-5}`} {
		s, err := Load(strings.NewReader(strings.Replace(saved, `"counts":{"Pod":1}`, counts, 1)))
		if err != nil {
			t.Fatalf("%s: %v", counts, err)
		}
		if len(s.Pods) != 1 || cap(s.Pods) > 64 {
			t.Errorf("%s: %d pods, capacity %d", counts, len(s.Pods), cap(s.Pods))
		}
	}

	// A header that claims many more than come: the list is sized to the claim once a
	// 64th of it has come, and so never holds more than 64 times what was read.
	b = NewBuilder(Cluster{Name: "c"}, Options{})
	for i := range 100 {
		b.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("p", i), Namespace: "a"}}, nil)
	}
	b.SetStatus(Pods, Status{State: Collected})
	buf.Reset()
	if err := Save(&buf, b.Build(), false); err != nil {
		t.Fatal(err)
	}
	s, err := Load(strings.NewReader(strings.Replace(buf.String(), `"counts":{"Pod":100}`, `"counts":{"Pod":1000000}`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pods) != 100 || cap(s.Pods) > 64*100 {
		t.Errorf("lying header: %d pods, capacity %d, want at most %d", len(s.Pods), cap(s.Pods), 64*100)
	}
}

// Reading a saved snapshot never panics, whatever the bytes: it is a snapshot or an error.
// The seeds are a real snapshot (pods whose parts are shared) and damaged copies of it.
func FuzzLoadSaved(f *testing.F) {
	b := NewBuilder(Cluster{Name: "c"}, Options{})
	for i := range 3 {
		var p corev1.Pod
		if err := yaml.Unmarshal([]byte(fullPod), &p); err != nil {
			f.Fatal(err)
		}
		p.Name += string(rune('a' + i))
		b.Add(&p, nil)
	}
	b.SetStatus(Pods, Status{State: Collected})
	var buf strings.Builder
	if err := Save(&buf, b.Build(), false); err != nil {
		f.Fatal(err)
	}
	saved := buf.String()
	f.Add([]byte(saved))
	f.Add([]byte(saved[:len(saved)/2]))
	f.Add([]byte(strings.Replace(saved, `"counts":{"Pod":3}`, `"counts":{"Pod":-1,"Nope":9}`, 1)))
	f.Add([]byte(strings.ReplaceAll(saved, `"kind":"Pod"`, `"kind":"Role"`)))
	f.Add([]byte(strings.Replace(saved, `"objects":3`, `"objects":99999999999`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(bytes.NewReader(data))
		if err == nil && s == nil {
			t.Fatal("no snapshot and no error")
		}
	})
}

// Templates is Workloads without the Pods, in the same order and with the same flags.
func TestTemplates(t *testing.T) {
	s, err := LoadDemo(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []Workload
	for _, w := range s.Workloads() {
		if w.Ref.Kind != Pods {
			want = append(want, w)
		}
	}
	got := s.Templates()
	if len(got) == 0 || len(got) != len(want) {
		t.Fatalf("%d templates, want %d (and some)", len(got), len(want))
	}
	for i := range got {
		if got[i].Ref != want[i].Ref || got[i].Spec != want[i].Spec || got[i].Controlled != want[i].Controlled {
			t.Errorf("template %d: %v, want %v", i, got[i].Ref, want[i].Ref)
		}
	}
}

// Trimming leaves no spare capacity in the lists a decoder may grow ahead of their length.
func TestTrimFitsSlices(t *testing.T) {
	c := corev1.Container{Name: "c", Command: make([]string, 1, 4), VolumeMounts: make([]corev1.VolumeMount, 1, 3)}
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: append(make([]corev1.Container, 0, 5), c), Volumes: make([]corev1.Volume, 2, 8)}}
	r := &rbacv1.Role{Rules: append(make([]rbacv1.PolicyRule, 0, 2), rbacv1.PolicyRule{Verbs: append(make([]string, 0, 4), "get")})}
	Trim(p)
	Trim(r)
	sp := p.Spec
	if cap(sp.Containers) != 1 || cap(sp.Volumes) != 2 || cap(sp.Containers[0].Command) != 1 || cap(sp.Containers[0].VolumeMounts) != 1 {
		t.Errorf("pod lists keep spare capacity: %d %d %d %d", cap(sp.Containers), cap(sp.Volumes), cap(sp.Containers[0].Command), cap(sp.Containers[0].VolumeMounts))
	}
	if cap(r.Rules) != 1 || cap(r.Rules[0].Verbs) != 1 || r.Rules[0].Verbs[0] != "get" {
		t.Errorf("role rules keep spare capacity or lost content: %+v", r.Rules)
	}
}

// Reading a snapshot shares pointers to equal numbers and booleans and keeps unique
// strings in blocks, without changing a value; a cache's Trim shares none of them (its
// objects are freed one by one).
func TestSavedSharesScalars(t *testing.T) {
	b := NewBuilder(Cluster{Name: "c"}, Options{})
	for _, name := range []string{"a", "b"} {
		replicas, automount := int32(3), false
		b.Add(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{AutomountServiceAccountToken: &automount}}}}, nil)
	}
	b.SetStatus(Deployments, Status{State: Collected})
	var buf strings.Builder
	if err := Save(&buf, b.Build(), false); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one decoding worker: one trimmer sees both
	s, err := Load(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	d0, d1 := &s.Deployments[0], &s.Deployments[1]
	if d0.Spec.Replicas != d1.Spec.Replicas || *d0.Spec.Replicas != 3 {
		t.Errorf("replicas not shared or changed: %p %p %d", d0.Spec.Replicas, d1.Spec.Replicas, *d0.Spec.Replicas)
	}
	a0, a1 := d0.Spec.Template.Spec.AutomountServiceAccountToken, d1.Spec.Template.Spec.AutomountServiceAccountToken
	if a0 != a1 || *a0 {
		t.Errorf("automount not shared or changed: %p %p %v", a0, a1, *a0)
	}
	if d0.Name != "a" || d1.Name != "b" || d0.UID != "uid-a" || d1.UID != "uid-b" {
		t.Errorf("names or UIDs changed: %s %s %s %s", d0.Name, d1.Name, d0.UID, d1.UID)
	}

	replicas := int32(3)
	own := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &replicas}}
	Trim(own)
	if own.Spec.Replicas != &replicas {
		t.Error("a cache's Trim replaced an object's own pointer")
	}
}
