package inventory

import (
	"encoding/binary"
	"slices"
	"strings"
	"unique"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Trim drops, in place, what identity analysis never reads, and shares the strings that
// repeat from object to object (namespaces, labels, images, node names). It is what keeps
// 200,000 pods in memory affordable: a pod's probes, resources, ports, scheduling hints and
// status are most of its size. Every source (the Builder) and every cache (the webhook's and
// the controller's informers) trims the same way, so analyses see the same objects whatever
// the input. Trim is idempotent and returns obj.
//
// Dropped: managedFields and kubectl's last-applied annotation (a copy of the whole object)
// everywhere; the status of Pods but their phase, and of workload controllers; in pod specs
// and templates the containers' ports, resources, resize policy, probes, lifecycle hooks,
// termination message settings and image pull policy, and the pod's affinity, topology
// spread, DNS settings, scheduler, priority, preemption policy, readiness gates, overhead
// and termination grace period; a StatefulSet's volume claim templates. Everything identity-related (service account, token
// automount and projected volumes, secrets, env, security contexts, host namespaces and
// paths, node name, selectors and tolerations) is kept.
func Trim(obj runtime.Object) runtime.Object {
	var t trimmer
	return t.trim(obj)
}

// trimmer trims objects. Its zero value interns with package unique (safe for concurrent
// use, and strings no object uses any more are freed: what long-running caches need); one
// made by newTrimmer interns in a map of its own, which is several times faster for one
// goroutine loading a snapshot. That one also stores equal parts once (shared), equal
// numbers and booleans behind one pointer, and strings no other object has (names, UIDs)
// in blocks of its own (own): fewer heap objects for the GC to mark on every cycle.
type trimmer struct {
	strings map[string]string
	// shared holds, by their protobuf encoding, the parts of pods and templates that are
	// usually equal from pod to pod (labels, security contexts, env, tolerations, the
	// projected token volume...): equal parts are stored once. Only a trimmer of its own
	// has it: what it shares must be read-only, as a loaded Snapshot is.
	shared map[string]any
	// keys and key are scratch space for the keys of shared maps.
	keys []string
	key  []byte
	// arena is the block own copies strings into.
	arena []byte
	// bools, int32s and int64s are the shared pointers to booleans and numbers.
	bools  map[bool]*bool
	int32s map[int32]*int32
	int64s map[int64]*int64
}

func newTrimmer() *trimmer {
	return &trimmer{strings: map[string]string{}, shared: map[string]any{},
		bools: map[bool]*bool{}, int32s: map[int32]*int32{}, int64s: map[int64]*int64{}}
}

func (t *trimmer) trim(obj runtime.Object) runtime.Object {
	switch o := obj.(type) {
	case *corev1.Pod:
		t.trimMeta(&o.ObjectMeta)
		o.Status = corev1.PodStatus{Phase: corev1.PodPhase(t.str(string(o.Status.Phase)))}
		t.trimPodSpec(&o.Spec)
	case *appsv1.Deployment:
		t.trimMeta(&o.ObjectMeta)
		o.Status = appsv1.DeploymentStatus{}
		sp := &o.Spec
		sp.Replicas, sp.RevisionHistoryLimit, sp.ProgressDeadlineSeconds = t.int32(sp.Replicas), t.int32(sp.RevisionHistoryLimit), t.int32(sp.ProgressDeadlineSeconds)
		sp.Selector = share(t, "selector", sp.Selector, nil)
		sp.Strategy.RollingUpdate = share(t, "rollingUpdate", sp.Strategy.RollingUpdate, nil)
		t.trimTemplate(&sp.Template)
	case *appsv1.StatefulSet:
		t.trimMeta(&o.ObjectMeta)
		o.Status = appsv1.StatefulSetStatus{}
		sp := &o.Spec
		sp.Replicas, sp.RevisionHistoryLimit = t.int32(sp.Replicas), t.int32(sp.RevisionHistoryLimit)
		sp.Selector = share(t, "selector", sp.Selector, nil)
		sp.UpdateStrategy.RollingUpdate = share(t, "stsRollingUpdate", sp.UpdateStrategy.RollingUpdate, nil)
		sp.PersistentVolumeClaimRetentionPolicy = share(t, "pvcRetention", sp.PersistentVolumeClaimRetentionPolicy, nil)
		t.trimTemplate(&sp.Template)
		o.Spec.VolumeClaimTemplates = nil
	case *appsv1.DaemonSet:
		t.trimMeta(&o.ObjectMeta)
		o.Status = appsv1.DaemonSetStatus{}
		t.trimTemplate(&o.Spec.Template)
	case *appsv1.ReplicaSet:
		t.trimMeta(&o.ObjectMeta)
		o.Status = appsv1.ReplicaSetStatus{}
		o.Spec.Replicas = t.int32(o.Spec.Replicas)
		o.Spec.Selector = share(t, "selector", o.Spec.Selector, nil)
		t.trimTemplate(&o.Spec.Template)
	case *batchv1.Job:
		t.trimMeta(&o.ObjectMeta)
		o.Status = batchv1.JobStatus{}
		t.trimJob(&o.Spec)
	case *batchv1.CronJob:
		t.trimMeta(&o.ObjectMeta)
		o.Status = batchv1.CronJobStatus{}
		sp := &o.Spec
		t.intern(&sp.Schedule)
		t.intern((*string)(&sp.ConcurrencyPolicy))
		sp.Suspend = t.bool(sp.Suspend)
		sp.SuccessfulJobsHistoryLimit, sp.FailedJobsHistoryLimit = t.int32(sp.SuccessfulJobsHistoryLimit), t.int32(sp.FailedJobsHistoryLimit)
		sp.StartingDeadlineSeconds = t.int64(sp.StartingDeadlineSeconds)
		t.trimJob(&sp.JobTemplate.Spec)
	case *corev1.ReplicationController:
		t.trimMeta(&o.ObjectMeta)
		o.Status = corev1.ReplicationControllerStatus{}
		if o.Spec.Template != nil {
			t.trimTemplate(o.Spec.Template)
		}
	case *corev1.Node:
		t.trimMeta(&o.ObjectMeta)
		// Node metadata and provider ID only: the rest is large and not identity-related.
		o.Spec = corev1.NodeSpec{ProviderID: o.Spec.ProviderID}
		o.Status = corev1.NodeStatus{}
	case *rbacv1.Role:
		t.trimMeta(&o.ObjectMeta)
		o.Rules = t.trimRules(o.Rules)
	case *rbacv1.ClusterRole:
		t.trimMeta(&o.ObjectMeta)
		o.Rules = t.trimRules(o.Rules)
	case *rbacv1.RoleBinding:
		t.trimMeta(&o.ObjectMeta)
		o.Subjects = t.trimBinding(&o.RoleRef, o.Subjects)
	case *rbacv1.ClusterRoleBinding:
		t.trimMeta(&o.ObjectMeta)
		o.Subjects = t.trimBinding(&o.RoleRef, o.Subjects)
	case *corev1.ServiceAccount:
		t.trimMeta(&o.ObjectMeta)
	case *corev1.Namespace:
		t.trimMeta(&o.ObjectMeta)
	case metav1.Object:
		o.SetManagedFields(nil)
		if a := o.GetAnnotations(); hasKey(a, LastAppliedAnnotation) {
			o.SetAnnotations(withoutKey(a, LastAppliedAnnotation))
		}
	}
	return obj
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func (t *trimmer) trimMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	t.intern(&m.Namespace)
	t.intern(&m.GenerateName)
	t.own(&m.Name)
	t.own((*string)(&m.UID))
	t.own(&m.ResourceVersion)
	m.Labels = t.internMap(m.Labels, "")
	m.Annotations = t.internMap(m.Annotations, LastAppliedAnnotation)
	m.OwnerReferences = shareSlice(t, "owner", m.OwnerReferences, func(r *metav1.OwnerReference) {
		t.intern(&r.APIVersion)
		t.intern(&r.Kind)
		t.intern(&r.Name)
	})
}

func (t *trimmer) trimJob(sp *batchv1.JobSpec) {
	sp.Parallelism, sp.Completions, sp.BackoffLimit = t.int32(sp.Parallelism), t.int32(sp.Completions), t.int32(sp.BackoffLimit)
	sp.TTLSecondsAfterFinished, sp.BackoffLimitPerIndex, sp.MaxFailedIndexes = t.int32(sp.TTLSecondsAfterFinished), t.int32(sp.BackoffLimitPerIndex), t.int32(sp.MaxFailedIndexes)
	sp.ActiveDeadlineSeconds = t.int64(sp.ActiveDeadlineSeconds)
	sp.ManualSelector, sp.Suspend = t.bool(sp.ManualSelector), t.bool(sp.Suspend)
	sp.Selector = share(t, "selector", sp.Selector, nil)
	sp.PodFailurePolicy = share(t, "podFailurePolicy", sp.PodFailurePolicy, nil)
	t.trimTemplate(&sp.Template)
}

func (t *trimmer) trimTemplate(tmpl *corev1.PodTemplateSpec) {
	tmpl.Labels = t.internMap(tmpl.Labels, "")
	tmpl.Annotations = t.internMap(tmpl.Annotations, LastAppliedAnnotation)
	t.trimPodSpec(&tmpl.Spec)
}

func (t *trimmer) trimPodSpec(s *corev1.PodSpec) {
	s.Affinity = nil
	s.TopologySpreadConstraints = nil
	s.DNSPolicy, s.DNSConfig = "", nil
	s.SchedulerName = ""
	s.Priority, s.PreemptionPolicy = nil, nil
	s.ReadinessGates = nil
	s.Overhead = nil
	s.TerminationGracePeriodSeconds = nil
	s.EnableServiceLinks = nil
	t.intern((*string)(&s.RestartPolicy))
	s.AutomountServiceAccountToken, s.ShareProcessNamespace = t.bool(s.AutomountServiceAccountToken), t.bool(s.ShareProcessNamespace)
	s.HostUsers, s.SetHostnameAsFQDN = t.bool(s.HostUsers), t.bool(s.SetHostnameAsFQDN)
	s.ActiveDeadlineSeconds = t.int64(s.ActiveDeadlineSeconds)
	t.intern(&s.ServiceAccountName)
	t.intern(&s.DeprecatedServiceAccount)
	t.intern(&s.NodeName)
	t.intern(&s.PriorityClassName)
	s.NodeSelector = t.internMap(s.NodeSelector, "")
	s.Tolerations = shareSlice(t, "tolerations", s.Tolerations, func(tol *corev1.Toleration) {
		t.intern(&tol.Key)
		t.intern((*string)(&tol.Operator))
		t.intern(&tol.Value)
		t.intern((*string)(&tol.Effect))
	})
	s.ImagePullSecrets = shareSlice(t, "pullSecrets", s.ImagePullSecrets, func(r *corev1.LocalObjectReference) { t.intern(&r.Name) })
	s.SecurityContext = share(t, "podSecurityContext", s.SecurityContext, nil)
	s.Volumes, s.InitContainers, s.Containers = fit(s.Volumes), fit(s.InitContainers), fit(s.Containers)
	s.EphemeralContainers = fit(s.EphemeralContainers)
	for i := range s.Volumes {
		t.trimVolume(&s.Volumes[i])
	}
	for i := range s.InitContainers {
		t.trimContainer(&s.InitContainers[i])
	}
	for i := range s.Containers {
		t.trimContainer(&s.Containers[i])
	}
	for i := range s.EphemeralContainers {
		c := &s.EphemeralContainers[i].EphemeralContainerCommon
		c.Ports, c.Resources, c.ResizePolicy = nil, corev1.ResourceRequirements{}, nil
		c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
		c.TerminationMessagePath, c.TerminationMessagePolicy, c.ImagePullPolicy = "", "", ""
		t.intern(&c.Name)
		t.intern(&c.Image)
	}
}

func (t *trimmer) trimContainer(c *corev1.Container) {
	c.Ports = nil
	c.Resources = corev1.ResourceRequirements{}
	c.ResizePolicy = nil
	c.LivenessProbe, c.ReadinessProbe, c.StartupProbe = nil, nil, nil
	c.Lifecycle = nil
	c.TerminationMessagePath, c.TerminationMessagePolicy = "", ""
	c.ImagePullPolicy = ""
	t.intern(&c.Name)
	t.intern(&c.Image)
	c.Env = shareSlice(t, "env", c.Env, func(e *corev1.EnvVar) {
		t.intern(&e.Name)
		t.intern(&e.Value)
		if f := e.ValueFrom; f != nil {
			if r := f.SecretKeyRef; r != nil {
				t.intern(&r.Name)
				t.intern(&r.Key)
			}
			if r := f.ConfigMapKeyRef; r != nil {
				t.intern(&r.Name)
				t.intern(&r.Key)
			}
			if r := f.FieldRef; r != nil {
				t.intern(&r.APIVersion)
				t.intern(&r.FieldPath)
			}
		}
	})
	c.EnvFrom = shareSlice(t, "envFrom", c.EnvFrom, func(e *corev1.EnvFromSource) {
		if r := e.SecretRef; r != nil {
			t.intern(&r.Name)
		}
		if r := e.ConfigMapRef; r != nil {
			t.intern(&r.Name)
		}
	})
	c.SecurityContext = share(t, "securityContext", c.SecurityContext, nil)
	c.VolumeMounts, c.Command, c.Args = fit(c.VolumeMounts), t.strs(c.Command), t.strs(c.Args)
	t.intern(&c.WorkingDir)
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		t.volumeName(&m.Name)
		t.intern(&m.MountPath)
		t.intern(&m.SubPath)
	}
}

func (t *trimmer) trimVolume(v *corev1.Volume) {
	t.volumeName(&v.Name)
	v.Projected = share(t, "projected", v.Projected, func(p *corev1.ProjectedVolumeSource) {
		for i := range p.Sources {
			src := &p.Sources[i]
			if tok := src.ServiceAccountToken; tok != nil {
				t.intern(&tok.Audience)
				t.intern(&tok.Path)
			}
			if c := src.ConfigMap; c != nil {
				t.intern(&c.Name)
				for j := range c.Items {
					t.intern(&c.Items[j].Key)
					t.intern(&c.Items[j].Path)
				}
			}
			if d := src.DownwardAPI; d != nil {
				for j := range d.Items {
					t.intern(&d.Items[j].Path)
					if f := d.Items[j].FieldRef; f != nil {
						t.intern(&f.APIVersion)
						t.intern(&f.FieldPath)
					}
				}
			}
			if s := src.Secret; s != nil {
				t.intern(&s.Name)
			}
		}
	})
	if s := v.Secret; s != nil {
		t.intern(&s.SecretName)
	}
	if c := v.ConfigMap; c != nil {
		t.intern(&c.Name)
	}
	if h := v.HostPath; h != nil {
		t.intern(&h.Path)
	}
}

// volumeName shares a volume (or volume mount) name, except the API server's per-pod
// kube-api-access-xxxxx names, which are unique: those go where other unique strings go.
func (t *trimmer) volumeName(s *string) {
	if strings.HasPrefix(*s, "kube-api-access-") {
		t.own(s)
		return
	}
	t.intern(s)
}

// own moves a string no other object shares (a name, a UID) into the trimmer's arena:
// blocks that hold many such strings, which the GC sees as one object without
// pointers rather than as one object each. Only a trimmer of its own (loading a
// Snapshot, whose objects live and die together) has an arena; a cache's objects keep
// their own strings, so that a deleted object frees them.
func (t *trimmer) own(s *string) {
	n := len(*s)
	if t.shared == nil || n == 0 || n > 256 {
		return
	}
	if len(t.arena)+n > cap(t.arena) {
		// Blocks grow from 4 KB to 64 KB, so that a small input keeps little spare.
		t.arena = make([]byte, 0, min(max(2*cap(t.arena), 4<<10), 64<<10))
	}
	start := len(t.arena)
	t.arena = append(t.arena, *s...)
	*s = unsafe.String(&t.arena[start], n)
}

// Pointers to equal numbers and booleans are shared too (one object each otherwise).
func (t *trimmer) bool(p *bool) *bool    { return scalar(t, t.bools, p) }
func (t *trimmer) int32(p *int32) *int32 { return scalar(t, t.int32s, p) }
func (t *trimmer) int64(p *int64) *int64 { return scalar(t, t.int64s, p) }

// scalar returns the one stored pointer to *p's value, storing p when it is the first;
// p itself when the trimmer does not share.
func scalar[T comparable](t *trimmer, seen map[T]*T, p *T) *T {
	if p == nil || t.shared == nil {
		return p
	}
	if c, ok := seen[*p]; ok {
		return c
	}
	seen[*p] = p
	return p
}

// intern replaces a string by the one copy every trimmed object shares.
func (t *trimmer) intern(s *string) {
	*s = t.str(*s)
}

func (t *trimmer) str(s string) string {
	if s == "" {
		return s
	}
	if t.strings == nil {
		return unique.Make(s).Value()
	}
	if c, ok := t.strings[s]; ok {
		return c
	}
	t.strings[s] = s
	return s
}

// internMap returns m with its keys and values interned, without the key drop (and the
// one equal map shared, when the trimmer shares).
func (t *trimmer) internMap(m map[string]string, drop string) map[string]string {
	if len(m) == 0 {
		return m
	}
	var key []byte
	if t.shared != nil {
		keys := t.keys[:0]
		for k := range m {
			if k != drop {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		key = append(t.key[:0], "map\x00"...)
		for _, k := range keys {
			key = binary.AppendUvarint(key, uint64(len(k)))
			key = append(key, k...)
			key = binary.AppendUvarint(key, uint64(len(m[k])))
			key = append(key, m[k]...)
		}
		t.keys, t.key = keys, key
		if c, ok := t.shared[string(key)]; ok {
			return c.(map[string]string)
		}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != drop {
			out[t.str(k)] = t.str(v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	if t.shared != nil {
		t.shared[string(key)] = out
	}
	return out
}

// marshaler is a Kubernetes API type with its generated protobuf encoding.
type marshaler interface {
	Marshal() ([]byte, error)
}

// share returns the one stored object equal to p (by protobuf encoding), storing p when it
// is the first; p itself when the trimmer does not share. prepare (if any) interns p's
// strings: it runs on the objects kept, not on the copies dropped.
func share[T any, P interface {
	*T
	marshaler
}](t *trimmer, kind string, p P, prepare func(P)) P {
	if p == nil {
		return p
	}
	if t.shared == nil {
		if prepare != nil {
			prepare(p)
		}
		return p
	}
	b, err := p.Marshal()
	if err != nil {
		return p
	}
	key := kind + "\x00" + string(b)
	if c, ok := t.shared[key]; ok {
		return c.(P)
	}
	if prepare != nil {
		prepare(p)
	}
	t.shared[key] = p
	return p
}

// shareSlice is share for a slice; the slice returned has no spare capacity, so that an
// append never writes into a shared array.
func shareSlice[T any, P interface {
	*T
	marshaler
}](t *trimmer, kind string, s []T, prepare func(P)) []T {
	if len(s) == 0 {
		return s
	}
	if t.shared == nil {
		for i := range s {
			prepare(&s[i])
		}
		return s
	}
	key := append([]byte(kind), 0)
	for i := range s {
		b, err := P(&s[i]).Marshal()
		if err != nil {
			return s
		}
		key = binary.AppendUvarint(key, uint64(len(b)))
		key = append(key, b...)
	}
	if c, ok := t.shared[string(key)]; ok {
		return c.([]T)
	}
	for i := range s {
		prepare(&s[i])
	}
	s = fit(s)
	t.shared[string(key)] = s
	return s
}

func (t *trimmer) trimRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	rules = fit(rules)
	for i := range rules {
		r := &rules[i]
		r.Verbs, r.APIGroups, r.Resources = t.strs(r.Verbs), t.strs(r.APIGroups), t.strs(r.Resources)
		r.ResourceNames, r.NonResourceURLs = t.strs(r.ResourceNames), t.strs(r.NonResourceURLs)
	}
	return rules
}

func (t *trimmer) trimBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) []rbacv1.Subject {
	t.intern(&ref.APIGroup)
	t.intern(&ref.Kind)
	t.intern(&ref.Name)
	subjects = fit(subjects)
	for i := range subjects {
		s := &subjects[i]
		t.intern(&s.Kind)
		t.intern(&s.APIGroup)
		t.intern(&s.Name)
		t.intern(&s.Namespace)
	}
	return subjects
}

// strs interns a list of strings, fitted to its length.
func (t *trimmer) strs(list []string) []string {
	list = fit(list)
	for i := range list {
		t.intern(&list[i])
	}
	return list
}

// fit returns s without spare capacity (a copy when it has some), so that an append never
// writes into an array another object shares and no memory is held past the last
// element: decoders grow slices ahead of what they hold.
func fit[T any](s []T) []T {
	if cap(s) == len(s) {
		return s
	}
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
