package inventory

import (
	"cmp"
	"slices"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// LastAppliedAnnotation is kubectl's copy of the applied manifest. On Secrets it holds the
// Secret's data, so it is dropped unless Secret data was requested.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// SATokenScope is the Status.Scope of Secrets when only ServiceAccount token Secrets were kept.
const SATokenScope = "type=" + string(corev1.SecretTypeServiceAccountToken)

// Options are what every source must honour identically.
type Options struct {
	// Namespace limits namespaced kinds to one namespace ("" = all).
	Namespace string
	// SecretData keeps Secret data and all Secret types. Off by default: then only
	// ServiceAccount token Secrets are kept, and only their metadata and type.
	SecretData bool
	// Kinds limits live collection to these kinds (nil = every kind). The others are
	// recorded as absent. File sources read what the files hold.
	Kinds []Kind
	// Shared says the objects added are trimmed already and shared with other readers (a
	// cache's objects): the Builder then does not trim them, and writes only to its own
	// copies.
	Shared bool
}

// Builder assembles a Snapshot. It normalizes every object the same way whatever the
// source: type meta set, trimmed (Trim), Secret data dropped unless requested, only the
// ConfigMaps that matter kept. It is safe for concurrent use.
type Builder struct {
	opts Options
	mu   sync.Mutex
	s    Snapshot
	// sizes are how many objects of each kind are expected (a saved snapshot says): a
	// hint for growing the slices (push).
	sizes map[Kind]int
}

// NewBuilder starts a Snapshot for the given source and options.
func NewBuilder(cluster Cluster, opts Options) *Builder {
	cluster.Namespace = opts.Namespace
	cluster.SecretData = opts.SecretData
	return &Builder{opts: opts, s: Snapshot{
		Cluster:   cluster,
		Status:    make(map[Kind]Status, len(AllKinds)),
		Locations: map[ObjectRef]Location{},
	}}
}

// expect says how many objects of each kind will be added (a hint: more or fewer may come).
func (b *Builder) expect(sizes map[Kind]int) {
	b.mu.Lock()
	b.sizes = sizes
	b.mu.Unlock()
}

// Reset empties the Builder for a new Snapshot as NewBuilder would, keeping the memory of
// the last one: for callers that build many small Snapshots (the webhook, one per
// decision). The Snapshot it built last must no longer be used.
func (b *Builder) Reset(cluster Cluster, opts Options) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cluster.Namespace = opts.Namespace
	cluster.SecretData = opts.SecretData
	b.opts = opts
	b.sizes = nil
	s := &b.s
	clear(s.Status)
	clear(s.Locations)
	*s = Snapshot{
		Cluster:                         cluster,
		Status:                          s.Status,
		Locations:                       s.Locations,
		Namespaces:                      emptied(s.Namespaces),
		ServiceAccounts:                 emptied(s.ServiceAccounts),
		Secrets:                         emptied(s.Secrets),
		Pods:                            emptied(s.Pods),
		Deployments:                     emptied(s.Deployments),
		StatefulSets:                    emptied(s.StatefulSets),
		DaemonSets:                      emptied(s.DaemonSets),
		ReplicaSets:                     emptied(s.ReplicaSets),
		Jobs:                            emptied(s.Jobs),
		CronJobs:                        emptied(s.CronJobs),
		ReplicationControllers:          emptied(s.ReplicationControllers),
		Roles:                           emptied(s.Roles),
		ClusterRoles:                    emptied(s.ClusterRoles),
		RoleBindings:                    emptied(s.RoleBindings),
		ClusterRoleBindings:             emptied(s.ClusterRoleBindings),
		ConfigMaps:                      emptied(s.ConfigMaps),
		Nodes:                           emptied(s.Nodes),
		ValidatingWebhookConfigurations: emptied(s.ValidatingWebhookConfigurations),
		MutatingWebhookConfigurations:   emptied(s.MutatingWebhookConfigurations),
		AuthorizationPolicies:           emptied(s.AuthorizationPolicies),
		PeerAuthentications:             emptied(s.PeerAuthentications),
	}
}

// emptied returns s with no elements and its capacity, the old ones zeroed (nothing they
// pointed to is kept alive).
func emptied[T any](s []T) []T {
	clear(s)
	return s[:0]
}

// SetStatus records how a kind was collected.
func (b *Builder) SetStatus(k Kind, st Status) {
	if k == Secrets && st.State == Collected && !b.opts.SecretData {
		st.Scope = SATokenScope
	}
	b.mu.Lock()
	b.s.Status[k] = st
	b.mu.Unlock()
}

// SetCluster updates the cluster metadata.
func (b *Builder) SetCluster(f func(*Cluster)) {
	b.mu.Lock()
	f(&b.s.Cluster)
	b.mu.Unlock()
}

// Skip counts an input object of a kind kwid does not use.
func (b *Builder) Skip(apiVersion, kind string) {
	b.mu.Lock()
	if b.s.Cluster.Skipped == nil {
		b.s.Cluster.Skipped = map[string]int{}
	}
	b.s.Cluster.Skipped[apiVersion+"/"+kind]++
	b.mu.Unlock()
}

// Add normalizes and adds one typed object. It reports the object's kind, and false when
// the object is of a kind a Snapshot does not hold, or is filtered out by the options
// (another namespace, a Secret that is not a token, a ConfigMap that does not matter).
func (b *Builder) Add(obj runtime.Object, loc *Location) (Kind, bool) {
	return b.add(obj, loc, &trimmer{})
}

// add is Add trimming with t.
func (b *Builder) add(obj runtime.Object, loc *Location, t *trimmer) (Kind, bool) {
	if _, ok := obj.(*unstructured.Unstructured); ok {
		typed, err := FromUnstructured(obj)
		if err != nil {
			return "", false
		}
		obj = typed
	}
	k, meta := kindOf(obj)
	if k == "" {
		return "", false
	}
	if b.opts.Namespace != "" {
		if k.Namespaced() && meta.Namespace != b.opts.Namespace || k == Namespaces && meta.Name != b.opts.Namespace {
			return k, false
		}
	}
	if !b.opts.Shared {
		t.trim(obj)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch o := obj.(type) {
	case *corev1.Namespace:
		push(&b.s.Namespaces, o, "v1", k, b.sizes[k])
	case *corev1.ServiceAccount:
		push(&b.s.ServiceAccounts, o, "v1", k, b.sizes[k])
	case *corev1.Secret:
		if !b.opts.SecretData && o.Type != corev1.SecretTypeServiceAccountToken {
			return k, false
		}
		s := push(&b.s.Secrets, o, "v1", k, b.sizes[k])
		if !b.opts.SecretData {
			s.Data, s.StringData = nil, nil
		}
	case *corev1.Pod:
		push(&b.s.Pods, o, "v1", k, b.sizes[k])
	case *appsv1.Deployment:
		push(&b.s.Deployments, o, "apps/v1", k, b.sizes[k])
	case *appsv1.StatefulSet:
		push(&b.s.StatefulSets, o, "apps/v1", k, b.sizes[k])
	case *appsv1.DaemonSet:
		push(&b.s.DaemonSets, o, "apps/v1", k, b.sizes[k])
	case *appsv1.ReplicaSet:
		// A Deployment's old ReplicaSets, scaled to zero, are revision history: no pod
		// runs from them.
		if o.Spec.Replicas != nil && *o.Spec.Replicas == 0 && metav1.GetControllerOf(o) != nil {
			return k, false
		}
		push(&b.s.ReplicaSets, o, "apps/v1", k, b.sizes[k])
	case *batchv1.Job:
		push(&b.s.Jobs, o, "batch/v1", k, b.sizes[k])
	case *batchv1.CronJob:
		push(&b.s.CronJobs, o, "batch/v1", k, b.sizes[k])
	case *corev1.ReplicationController:
		push(&b.s.ReplicationControllers, o, "v1", k, b.sizes[k])
	case *rbacv1.Role:
		push(&b.s.Roles, o, rbacAPIVersion, k, b.sizes[k])
	case *rbacv1.ClusterRole:
		push(&b.s.ClusterRoles, o, rbacAPIVersion, k, b.sizes[k])
	case *rbacv1.RoleBinding:
		push(&b.s.RoleBindings, o, rbacAPIVersion, k, b.sizes[k])
	case *rbacv1.ClusterRoleBinding:
		push(&b.s.ClusterRoleBindings, o, rbacAPIVersion, k, b.sizes[k])
	case *corev1.ConfigMap:
		if !KeptConfigMap(o.Namespace, o.Name) {
			return k, false
		}
		push(&b.s.ConfigMaps, o, "v1", k, b.sizes[k])
	case *corev1.Node:
		push(&b.s.Nodes, o, "v1", k, b.sizes[k])
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		push(&b.s.ValidatingWebhookConfigurations, o, admissionAPIVersion, k, b.sizes[k])
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		push(&b.s.MutatingWebhookConfigurations, o, admissionAPIVersion, k, b.sizes[k])
	case *AuthorizationPolicy:
		push(&b.s.AuthorizationPolicies, o, istioAPIVersion, k, b.sizes[k])
	case *PeerAuthentication:
		push(&b.s.PeerAuthentications, o, istioAPIVersion, k, b.sizes[k])
	}
	if loc != nil {
		b.s.Locations[ObjectRef{Kind: k, Namespace: meta.Namespace, Name: meta.Name}] = *loc
	}
	return k, true
}

// Build sorts the objects and returns the Snapshot. The Builder must not be used after.
func (b *Builder) Build() *Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &b.s
	sortObjects(s.Namespaces)
	sortObjects(s.ServiceAccounts)
	sortObjects(s.Secrets)
	sortObjects(s.Pods)
	sortObjects(s.Deployments)
	sortObjects(s.StatefulSets)
	sortObjects(s.DaemonSets)
	sortObjects(s.ReplicaSets)
	sortObjects(s.Jobs)
	sortObjects(s.CronJobs)
	sortObjects(s.ReplicationControllers)
	sortObjects(s.Roles)
	sortObjects(s.ClusterRoles)
	sortObjects(s.RoleBindings)
	sortObjects(s.ClusterRoleBindings)
	sortObjects(s.ConfigMaps)
	sortObjects(s.Nodes)
	sortObjects(s.ValidatingWebhookConfigurations)
	sortObjects(s.MutatingWebhookConfigurations)
	sortObjects(s.AuthorizationPolicies)
	sortObjects(s.PeerAuthentications)
	return s
}

// object is any Kubernetes object type held by value in a Snapshot slice.
type object[T any] interface {
	*T
	GetNamespace() string
	GetName() string
}

// sortObjects sorts by namespace and name. Objects are large structs: it sorts indices,
// then moves each object once (following the permutation's cycles).
func sortObjects[T any, P object[T]](objs []T) {
	key := func(i int32) (string, string) { p := P(&objs[i]); return p.GetNamespace(), p.GetName() }
	idx := make([]int32, len(objs))
	for i := range idx {
		idx[i] = int32(i)
	}
	compare := func(a, b int32) int {
		an, aname := key(a)
		bn, bname := key(b)
		return cmp.Or(cmp.Compare(an, bn), cmp.Compare(aname, bname), cmp.Compare(a, b))
	}
	if slices.IsSortedFunc(idx, compare) {
		return
	}
	slices.SortFunc(idx, compare)
	// Position i must receive objs[idx[i]].
	for start := range idx {
		if idx[start] < 0 {
			continue
		}
		tmp := objs[start]
		i := start
		for {
			j := int(idx[i])
			idx[i] = -1
			if j == start {
				objs[i] = tmp
				break
			}
			objs[i] = objs[j]
			i = j
		}
	}
}

// apiVersions of the kinds a Snapshot holds (constants: push runs for every object).
var (
	rbacAPIVersion      = rbacv1.SchemeGroupVersion.String()
	admissionAPIVersion = admissionregistrationv1.SchemeGroupVersion.String()
	istioAPIVersion     = IstioSecurityGroup + "/" + IstioSecurityVersions[0]
)

// push appends a copy of o to list, sets the copy's type meta and returns it. o itself is
// not written to: it may be shared. A full list doubles (append grows large slices by a
// quarter, which for 200,000 pods copies them many times over), but not past the
// expected size when there is one; once a 64th of the expected objects have come, it
// grows to the expected size at once (a header that lies about its counts can make a
// list at most 64 times what was read).
func push[T any, P interface {
	*T
	runtime.Object
}](list *[]T, o P, apiVersion string, k Kind, expected int) P {
	if n := len(*list); n == cap(*list) {
		more := max(n, 16)
		if expected > n {
			more = min(more, expected-n)
			if n >= expected/64 {
				more = expected - n
			}
		}
		*list = slices.Grow(*list, more)
	}
	*list = append(*list, *o)
	c := P(&(*list)[len(*list)-1])
	c.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, string(k)))
	return c
}

func withoutKey(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// kindOf returns the Snapshot kind of a typed object and its metadata, or "" when the
// Snapshot does not hold that type.
func kindOf(obj runtime.Object) (Kind, *metav1.ObjectMeta) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return Namespaces, &o.ObjectMeta
	case *corev1.ServiceAccount:
		return ServiceAccounts, &o.ObjectMeta
	case *corev1.Secret:
		return Secrets, &o.ObjectMeta
	case *corev1.Pod:
		return Pods, &o.ObjectMeta
	case *appsv1.Deployment:
		return Deployments, &o.ObjectMeta
	case *appsv1.StatefulSet:
		return StatefulSets, &o.ObjectMeta
	case *appsv1.DaemonSet:
		return DaemonSets, &o.ObjectMeta
	case *appsv1.ReplicaSet:
		return ReplicaSets, &o.ObjectMeta
	case *batchv1.Job:
		return Jobs, &o.ObjectMeta
	case *batchv1.CronJob:
		return CronJobs, &o.ObjectMeta
	case *corev1.ReplicationController:
		return ReplicationControllers, &o.ObjectMeta
	case *rbacv1.Role:
		return Roles, &o.ObjectMeta
	case *rbacv1.ClusterRole:
		return ClusterRoles, &o.ObjectMeta
	case *rbacv1.RoleBinding:
		return RoleBindings, &o.ObjectMeta
	case *rbacv1.ClusterRoleBinding:
		return ClusterRoleBindings, &o.ObjectMeta
	case *corev1.ConfigMap:
		return ConfigMaps, &o.ObjectMeta
	case *corev1.Node:
		return Nodes, &o.ObjectMeta
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		return ValidatingWebhookConfigurations, &o.ObjectMeta
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		return MutatingWebhookConfigurations, &o.ObjectMeta
	case *AuthorizationPolicy:
		return AuthorizationPolicies, &o.ObjectMeta
	case *PeerAuthentication:
		return PeerAuthentications, &o.ObjectMeta
	}
	return "", nil
}
