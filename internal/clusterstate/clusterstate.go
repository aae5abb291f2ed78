// Package clusterstate keeps kwid's view of a live cluster up to date with informers, for
// the long-running modes (the admission webhook and the controller), and turns it into the
// same inventory.Snapshot a one-shot `kwid scan` collects.
//
// Contract (the webhook and the controller code against it):
//
//   - New(cfg, Options) prepares the informers; nothing talks to the cluster yet.
//   - Start(ctx) reads the cluster's metadata (version, OIDC issuer), probes each kind with a
//     first List (limit 1) and starts one informer per readable kind. It blocks until every
//     kind has synced or is known unreadable: a 403 is recorded as inventory.Forbidden, a
//     resource the server does not serve as inventory.Absent, any other error as
//     inventory.Failed; such kinds are not watched, so Start never hangs on them. Start
//     returns an error only when the cluster cannot be reached or ctx ends. Informers stop
//     when ctx ends.
//   - Snapshot() builds an immutable *inventory.Snapshot of the caches through
//     inventory.NewBuilder, so it is normalised exactly like `kwid scan` (same per-kind
//     Status, Pods keep only their phase, scaled-to-zero ReplicaSets dropped, ...).
//   - OnChange(fn) runs fn (from informer goroutines, so fn must be quick and safe for
//     concurrent use) after any add, update or delete, including the adds of the first sync.
//   - Counts() and Synced() are for metrics and readiness probes.
//   - Get, List and ByIndex give read access to single cached objects and to the indexes
//     (IndexServiceAccount, IndexSubject, IndexRoleRef) for per-object evaluation. Returned
//     objects are shared with the cache: never modify them.
//   - FromSnapshot(snap) makes an already-synced State of a Snapshot, with no informers (for
//     tests, benchmarks and offline use).
//
// Secrets: only ServiceAccount token Secrets are watched, through the metadata API with the
// field selector `type=kubernetes.io/service-account-token` (as inventory.LoadLive does), so
// no Secret data ever reaches the process; the kubectl last-applied annotation (which may
// hold a Secret's data) is dropped before caching. ConfigMaps: only the two inventory keeps
// (kube-system/aws-auth and the legacy token tracking ConfigMap), each watched by name.
// Pods are cached with only their phase and Nodes with only metadata and providerID, as the
// Snapshot keeps them; managedFields are never cached.
//
// clusterstate knows nothing about checks, admission or output formats.
package clusterstate

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// Options say what to watch.
type Options struct {
	// Kinds to watch (nil = every kind a Snapshot holds). The others are recorded as absent.
	Kinds []inventory.Kind
	// Namespace limits namespaced kinds to one namespace ("" = all namespaces).
	Namespace string
	// Logger receives debug lines about kinds that cannot be read (nil = discard).
	Logger *slog.Logger
}

// Index names usable with ByIndex.
const (
	// IndexServiceAccount indexes workloads (Pods and pod templates) by the ServiceAccount
	// they run as, and token Secrets by the ServiceAccount they belong to; key "ns/name".
	IndexServiceAccount = "serviceAccount"
	// IndexSubject indexes RoleBindings and ClusterRoleBindings by subject; keys
	// SubjectKey(...): "User:<name>" (ServiceAccounts as their user name
	// system:serviceaccount:ns:name) and "Group:<name>".
	IndexSubject = "subject"
	// IndexRoleRef indexes bindings by the role they reference; key RoleRefKey(...).
	IndexRoleRef = "roleRef"
)

// SubjectKey is the IndexSubject key of a user or a group name ("User" or "Group").
func SubjectKey(kind, name string) string { return kind + ":" + name }

// RoleRefKey is the IndexRoleRef key of a role: "ClusterRole:name" or "Role:ns/name".
func RoleRefKey(kind, namespace, name string) string {
	if kind == "Role" {
		return "Role:" + namespace + "/" + name
	}
	return kind + ":" + name
}

// State is the informer-backed view of one cluster. It is safe for concurrent use.
type State struct {
	cfg  *rest.Config
	opts Options
	log  *slog.Logger

	mu       sync.RWMutex
	cluster  inventory.Cluster
	status   map[inventory.Kind]inventory.Status
	stores   map[inventory.Kind][]cache.Indexer
	synced   bool
	onChange []func(kind inventory.Kind, namespace, name string)
}

// New prepares a State for a cluster. Nothing is read until Start.
func New(cfg *rest.Config, opts Options) (*State, error) {
	if cfg == nil {
		return nil, fmt.Errorf("clusterstate: no cluster configuration")
	}
	for _, k := range opts.Kinds {
		if !slices.Contains(inventory.AllKinds, k) {
			return nil, fmt.Errorf("clusterstate: unknown kind %q", k)
		}
	}
	s := newState(opts)
	s.cfg = rest.CopyConfig(cfg)
	if s.cfg.QPS == 0 {
		s.cfg.QPS, s.cfg.Burst = 50, 100
	}
	for _, k := range inventory.AllKinds {
		s.status[k] = inventory.Status{State: inventory.Failed, Error: "not synced yet"}
	}
	return s, nil
}

func newState(opts Options) *State {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &State{opts: opts, log: log, status: map[inventory.Kind]inventory.Status{}, stores: map[inventory.Kind][]cache.Indexer{}}
}

// watched reports whether the options ask for a kind.
func (s *State) watched(k inventory.Kind) bool {
	return s.opts.Kinds == nil || slices.Contains(s.opts.Kinds, k)
}

// Start reads the cluster and runs informers until ctx ends. See the package doc.
func (s *State) Start(ctx context.Context) error {
	if s.cfg == nil {
		return nil // FromSnapshot: nothing to start
	}
	// The cluster's metadata, read exactly as a live scan reads it.
	meta, err := inventory.LoadLive(ctx, s.cfg, inventory.LiveOptions{Options: inventory.Options{Namespace: s.opts.Namespace, Kinds: []inventory.Kind{}}})
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(s.cfg)
	if err != nil {
		return fmt.Errorf("creating client for %s: %w", s.cfg.Host, err)
	}
	md, err := metadata.NewForConfig(s.cfg)
	if err != nil {
		return fmt.Errorf("creating client for %s: %w", s.cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(s.cfg)
	if err != nil {
		return fmt.Errorf("creating client for %s: %w", s.cfg.Host, err)
	}
	s.mu.Lock()
	s.cluster = meta.Cluster
	s.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, k := range inventory.AllKinds {
		if !s.watched(k) {
			s.setStatus(k, inventory.Status{State: inventory.Absent, Scope: "not collected for this command"})
			continue
		}
		g.Go(func() error {
			srcs := sources(cs, md, k, s.opts.Namespace)
			if k.IsIstioKind() {
				srcs = istioSources(cs, dyn, k, s.opts.Namespace)
			}
			st, err := s.startKind(ctx, gctx, k, srcs)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				s.log.Debug("kind not watched", "kind", k, "err", err)
			}
			s.setStatus(k, st)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.mu.Lock()
	s.synced = true
	s.mu.Unlock()
	return nil
}

// startKind probes and starts the informers of one kind and waits for their first sync.
// The informers run on runCtx (the caller's), not on the errgroup's context.
func (s *State) startKind(runCtx, ctx context.Context, k inventory.Kind, srcs []source) (inventory.Status, error) {
	for _, src := range srcs {
		if _, err := src.lw.ListWithContext(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			switch {
			case apierrors.IsForbidden(err):
				return inventory.Status{State: inventory.Forbidden, Error: err.Error()}, err
			case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
				return inventory.Status{State: inventory.Absent, Error: err.Error()}, err
			default:
				return inventory.Status{State: inventory.Failed, Error: err.Error()}, err
			}
		}
	}
	var synced []cache.InformerSynced
	var stores []cache.Indexer
	for _, src := range srcs {
		inf := cache.NewSharedIndexInformerWithOptions(src.lw, src.example, cache.SharedIndexInformerOptions{
			Indexers:          indexersFor(k),
			ObjectDescription: string(k),
		})
		if err := inf.SetTransform(transform); err != nil {
			return inventory.Status{State: inventory.Failed, Error: err.Error()}, err
		}
		if _, err := inf.AddEventHandler(s.handler(k)); err != nil {
			return inventory.Status{State: inventory.Failed, Error: err.Error()}, err
		}
		go inf.RunWithContext(runCtx)
		synced = append(synced, inf.HasSynced)
		stores = append(stores, inf.GetIndexer())
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return inventory.Status{State: inventory.Failed, Error: "informer did not sync"}, ctx.Err()
	}
	s.mu.Lock()
	s.stores[k] = stores
	s.mu.Unlock()
	return inventory.Status{State: inventory.Collected}, nil
}

func (s *State) setStatus(k inventory.Kind, st inventory.Status) {
	s.mu.Lock()
	s.status[k] = st
	s.mu.Unlock()
}

func (s *State) handler(k inventory.Kind) cache.ResourceEventHandler {
	notify := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			return
		}
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		s.mu.RLock()
		fns := s.onChange
		s.mu.RUnlock()
		for _, fn := range fns {
			fn(k, ns, name)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { notify(obj) },
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: notify,
	}
}

// OnChange registers a callback run after any add, update or delete (see the package doc).
func (s *State) OnChange(fn func(kind inventory.Kind, namespace, name string)) {
	s.mu.Lock()
	s.onChange = append(slices.Clip(s.onChange), fn)
	s.mu.Unlock()
}

// Synced reports whether Start has finished: every kind synced or known unreadable.
func (s *State) Synced() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.synced
}

// Status returns how a kind is collected (the Snapshot's Status for it).
func (s *State) Status(k inventory.Kind) inventory.Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.statusLocked(k)
}

func (s *State) statusLocked(k inventory.Kind) inventory.Status {
	st, ok := s.status[k]
	if !ok {
		st = inventory.Status{State: inventory.Absent}
	}
	if k == inventory.Secrets && st.State == inventory.Collected {
		st.Scope = inventory.SATokenScope
	}
	return st
}

// Cluster returns the cluster metadata (as a Snapshot's Cluster).
func (s *State) Cluster() inventory.Cluster {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cluster
}

// Namespace is the namespace the State is limited to ("" = all).
func (s *State) Namespace() string { return s.opts.Namespace }

// Counts returns how many objects of each watched kind are cached.
func (s *State) Counts() map[inventory.Kind]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[inventory.Kind]int, len(s.stores))
	for k, stores := range s.stores {
		for _, st := range stores {
			out[k] += len(st.ListKeys())
		}
	}
	return out
}

func (s *State) storesOf(k inventory.Kind) []cache.Indexer {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stores[k]
}

// Object is a typed Kubernetes object, as held in the caches.
type Object interface {
	runtime.Object
	metav1.Object
}

// Get returns a cached object, or nil. Secrets come back as *corev1.Secret holding only
// metadata and type. The object is shared with the cache: never modify it.
func (s *State) Get(k inventory.Kind, namespace, name string) Object {
	key := name
	if k.Namespaced() {
		key = namespace + "/" + name
	}
	for _, st := range s.storesOf(k) {
		if obj, ok, _ := st.GetByKey(key); ok {
			return typed(obj)
		}
	}
	return nil
}

// List returns the cached objects of a kind, in one namespace ("" = all). Never modify them.
func (s *State) List(k inventory.Kind, namespace string) []Object {
	var out []Object
	for _, st := range s.storesOf(k) {
		var objs []any
		if namespace != "" && k.Namespaced() {
			objs, _ = st.ByIndex(cache.NamespaceIndex, namespace)
		} else {
			objs = st.List()
		}
		for _, o := range objs {
			out = append(out, typed(o))
		}
	}
	return out
}

// ByIndex returns the cached objects of a kind whose index has the key. Never modify them.
func (s *State) ByIndex(k inventory.Kind, index, key string) []Object {
	var out []Object
	for _, st := range s.storesOf(k) {
		objs, err := st.ByIndex(index, key)
		if err != nil {
			continue // the kind has no such index
		}
		out = slices.Grow(out, len(objs))
		for _, o := range objs {
			out = append(out, typed(o))
		}
	}
	return out
}

// Snapshot builds an immutable Snapshot of the current caches (see the package doc).
func (s *State) Snapshot() *inventory.Snapshot {
	s.mu.RLock()
	cluster := s.cluster
	status := make(map[inventory.Kind]inventory.Status, len(inventory.AllKinds))
	for _, k := range inventory.AllKinds {
		status[k] = s.status[k]
	}
	stores := make(map[inventory.Kind][]cache.Indexer, len(s.stores))
	for k, v := range s.stores {
		stores[k] = v
	}
	s.mu.RUnlock()

	b := inventory.NewBuilder(cluster, inventory.Options{Namespace: s.opts.Namespace, Kinds: s.opts.Kinds, Shared: true})
	for _, k := range inventory.AllKinds {
		if st, ok := status[k]; ok {
			b.SetStatus(k, st)
		}
		for _, st := range stores[k] {
			for _, o := range st.List() {
				b.Add(typed(o), nil)
			}
		}
	}
	return b.Build()
}

// FromSnapshot returns a synced State holding a Snapshot's objects, with no informers: for
// tests, benchmarks and evaluation against a saved snapshot. The Snapshot's objects are
// shared, not copied.
func FromSnapshot(snap *inventory.Snapshot) *State {
	s := newState(Options{Namespace: snap.Cluster.Namespace})
	s.cluster = snap.Cluster
	for _, k := range inventory.AllKinds {
		s.status[k] = snap.StatusOf(k)
		if st := snap.StatusOf(k); st.State == inventory.Collected {
			s.stores[k] = []cache.Indexer{cache.NewIndexer(cache.MetaNamespaceKeyFunc, indexersFor(k))}
		}
	}
	add := func(k inventory.Kind, obj runtime.Object) {
		if st := s.stores[k]; st != nil {
			_ = st[0].Add(obj)
		}
	}
	each(snap, add)
	s.synced = true
	return s
}

// each calls fn with a pointer to every object of a Snapshot.
func each(snap *inventory.Snapshot, fn func(inventory.Kind, runtime.Object)) {
	for i := range snap.Namespaces {
		fn(inventory.Namespaces, &snap.Namespaces[i])
	}
	for i := range snap.ServiceAccounts {
		fn(inventory.ServiceAccounts, &snap.ServiceAccounts[i])
	}
	for i := range snap.Secrets {
		fn(inventory.Secrets, &snap.Secrets[i])
	}
	for i := range snap.Pods {
		fn(inventory.Pods, &snap.Pods[i])
	}
	for i := range snap.Deployments {
		fn(inventory.Deployments, &snap.Deployments[i])
	}
	for i := range snap.StatefulSets {
		fn(inventory.StatefulSets, &snap.StatefulSets[i])
	}
	for i := range snap.DaemonSets {
		fn(inventory.DaemonSets, &snap.DaemonSets[i])
	}
	for i := range snap.ReplicaSets {
		fn(inventory.ReplicaSets, &snap.ReplicaSets[i])
	}
	for i := range snap.Jobs {
		fn(inventory.Jobs, &snap.Jobs[i])
	}
	for i := range snap.CronJobs {
		fn(inventory.CronJobs, &snap.CronJobs[i])
	}
	for i := range snap.ReplicationControllers {
		fn(inventory.ReplicationControllers, &snap.ReplicationControllers[i])
	}
	for i := range snap.Roles {
		fn(inventory.Roles, &snap.Roles[i])
	}
	for i := range snap.ClusterRoles {
		fn(inventory.ClusterRoles, &snap.ClusterRoles[i])
	}
	for i := range snap.RoleBindings {
		fn(inventory.RoleBindings, &snap.RoleBindings[i])
	}
	for i := range snap.ClusterRoleBindings {
		fn(inventory.ClusterRoleBindings, &snap.ClusterRoleBindings[i])
	}
	for i := range snap.ConfigMaps {
		fn(inventory.ConfigMaps, &snap.ConfigMaps[i])
	}
	for i := range snap.Nodes {
		fn(inventory.Nodes, &snap.Nodes[i])
	}
	for i := range snap.ValidatingWebhookConfigurations {
		fn(inventory.ValidatingWebhookConfigurations, &snap.ValidatingWebhookConfigurations[i])
	}
	for i := range snap.MutatingWebhookConfigurations {
		fn(inventory.MutatingWebhookConfigurations, &snap.MutatingWebhookConfigurations[i])
	}
	for i := range snap.AuthorizationPolicies {
		fn(inventory.AuthorizationPolicies, &snap.AuthorizationPolicies[i])
	}
	for i := range snap.PeerAuthentications {
		fn(inventory.PeerAuthentications, &snap.PeerAuthentications[i])
	}
}

// typed turns a cached object into the type a Snapshot holds (Secret metadata into a Secret).
func typed(obj any) Object {
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: o.ObjectMeta, Type: corev1.SecretTypeServiceAccountToken}
	case Object:
		return o
	}
	return nil
}

// transform trims objects before they are cached, as the Builder would (idempotent).
func transform(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok { // Istio kinds, from the dynamic client
		typed, err := inventory.FromUnstructured(u)
		if err != nil {
			return nil, err
		}
		obj = typed
	}
	if o, ok := obj.(runtime.Object); ok {
		inventory.Trim(o)
	}
	if o, ok := obj.(*corev1.Secret); ok {
		o.Data, o.StringData = nil, nil
	}
	return obj, nil
}

// source is one list/watch feeding a kind's informer.
type source struct {
	lw      *cache.ListWatch
	example runtime.Object
}

// restSource lists and watches a typed resource through a REST client.
func restSource(c rest.Interface, resource, namespace string, example runtime.Object, fieldSelector string) source {
	mod := func(o *metav1.ListOptions) {
		if fieldSelector != "" {
			o.FieldSelector = fieldSelector
		}
	}
	return source{example: example, lw: &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			mod(&o)
			return c.Get().Namespace(namespace).Resource(resource).VersionedParams(&o, metav1.ParameterCodec).Do(ctx).Get()
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.Watch = true
			mod(&o)
			return c.Get().Namespace(namespace).Resource(resource).VersionedParams(&o, metav1.ParameterCodec).Watch(ctx)
		},
	}}
}

// sources returns the list/watches of a kind.
func sources(cs kubernetes.Interface, md metadata.Interface, k inventory.Kind, namespace string) []source {
	ns := ""
	if k.Namespaced() {
		ns = namespace
	}
	core, apps, batch, rbacc, adm := cs.CoreV1().RESTClient(), cs.AppsV1().RESTClient(), cs.BatchV1().RESTClient(), cs.RbacV1().RESTClient(), cs.AdmissionregistrationV1().RESTClient()
	byName := func(name string) string { return fields.OneTermEqualSelector("metadata.name", name).String() }
	switch k {
	case inventory.Namespaces:
		sel := ""
		if namespace != "" {
			sel = byName(namespace)
		}
		return []source{restSource(core, "namespaces", "", &corev1.Namespace{}, sel)}
	case inventory.ServiceAccounts:
		return []source{restSource(core, "serviceaccounts", ns, &corev1.ServiceAccount{}, "")}
	case inventory.Secrets:
		// Metadata only, token Secrets only: the selector inventory.LoadLive uses.
		sel := fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)).String()
		r := md.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(ns)
		return []source{{example: &metav1.PartialObjectMetadata{}, lw: &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.FieldSelector = sel
				return r.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.FieldSelector = sel
				return r.Watch(ctx, o)
			},
		}}}
	case inventory.Pods:
		return []source{restSource(core, "pods", ns, &corev1.Pod{}, "")}
	case inventory.Deployments:
		return []source{restSource(apps, "deployments", ns, &appsv1.Deployment{}, "")}
	case inventory.StatefulSets:
		return []source{restSource(apps, "statefulsets", ns, &appsv1.StatefulSet{}, "")}
	case inventory.DaemonSets:
		return []source{restSource(apps, "daemonsets", ns, &appsv1.DaemonSet{}, "")}
	case inventory.ReplicaSets:
		return []source{restSource(apps, "replicasets", ns, &appsv1.ReplicaSet{}, "")}
	case inventory.Jobs:
		return []source{restSource(batch, "jobs", ns, &batchv1.Job{}, "")}
	case inventory.CronJobs:
		return []source{restSource(batch, "cronjobs", ns, &batchv1.CronJob{}, "")}
	case inventory.ReplicationControllers:
		return []source{restSource(core, "replicationcontrollers", ns, &corev1.ReplicationController{}, "")}
	case inventory.Roles:
		return []source{restSource(rbacc, "roles", ns, &rbacv1.Role{}, "")}
	case inventory.ClusterRoles:
		return []source{restSource(rbacc, "clusterroles", "", &rbacv1.ClusterRole{}, "")}
	case inventory.RoleBindings:
		return []source{restSource(rbacc, "rolebindings", ns, &rbacv1.RoleBinding{}, "")}
	case inventory.ClusterRoleBindings:
		return []source{restSource(rbacc, "clusterrolebindings", "", &rbacv1.ClusterRoleBinding{}, "")}
	case inventory.ConfigMaps:
		// Only the ConfigMaps a Snapshot keeps, each by name (needs only their names).
		if namespace != "" && namespace != inventory.SystemNamespace {
			return nil
		}
		return []source{
			restSource(core, "configmaps", inventory.SystemNamespace, &corev1.ConfigMap{}, byName(inventory.AWSAuthConfigMap)),
			restSource(core, "configmaps", inventory.SystemNamespace, &corev1.ConfigMap{}, byName(inventory.LegacyTokenTrackingConfigMap)),
		}
	case inventory.Nodes:
		return []source{restSource(core, "nodes", "", &corev1.Node{}, "")}
	case inventory.ValidatingWebhookConfigurations:
		return []source{restSource(adm, "validatingwebhookconfigurations", "", &admissionregistrationv1.ValidatingWebhookConfiguration{}, "")}
	case inventory.MutatingWebhookConfigurations:
		return []source{restSource(adm, "mutatingwebhookconfigurations", "", &admissionregistrationv1.MutatingWebhookConfiguration{}, "")}
	}
	return nil
}

// indexersFor returns the indexes kept for a kind.
func indexersFor(k inventory.Kind) cache.Indexers {
	ix := cache.Indexers{}
	if k.Namespaced() {
		ix[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}
	switch k {
	case inventory.Pods, inventory.Deployments, inventory.StatefulSets, inventory.DaemonSets,
		inventory.ReplicaSets, inventory.Jobs, inventory.CronJobs, inventory.ReplicationControllers:
		ix[IndexServiceAccount] = workloadServiceAccount
	case inventory.Secrets:
		ix[IndexServiceAccount] = secretServiceAccount
	case inventory.RoleBindings, inventory.ClusterRoleBindings:
		ix[IndexSubject] = bindingSubjects
		ix[IndexRoleRef] = bindingRoleRef
	}
	return ix
}

// PodSpecOf returns the pod spec of a workload object (a Pod or a controller's template),
// or nil for other objects.
func PodSpecOf(obj runtime.Object) *corev1.PodSpec { return inventory.PodSpecOf(obj) }

func workloadServiceAccount(obj any) ([]string, error) {
	o, ok := obj.(runtime.Object)
	if !ok {
		return nil, nil
	}
	spec := PodSpecOf(o)
	m, err := meta.Accessor(obj)
	if spec == nil || err != nil {
		return nil, nil
	}
	w := inventory.Workload{Spec: spec}
	return []string{m.GetNamespace() + "/" + w.ServiceAccountName()}, nil
}

// SecretServiceAccountAnnotation names the ServiceAccount of a token Secret.
const SecretServiceAccountAnnotation = corev1.ServiceAccountNameKey

func secretServiceAccount(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	if sa := m.GetAnnotations()[SecretServiceAccountAnnotation]; sa != "" {
		return []string{m.GetNamespace() + "/" + sa}, nil
	}
	return nil, nil
}

func bindingSubjects(obj any) ([]string, error) {
	var subjects []rbacv1.Subject
	ns := ""
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		subjects, ns = b.Subjects, b.Namespace
	case *rbacv1.ClusterRoleBinding:
		subjects = b.Subjects
	default:
		return nil, nil
	}
	var keys []string
	for _, sub := range subjects {
		switch sub.Kind {
		case rbacv1.UserKind:
			keys = append(keys, SubjectKey("User", sub.Name))
		case rbacv1.GroupKind:
			keys = append(keys, SubjectKey("Group", sub.Name))
		case rbacv1.ServiceAccountKind:
			sns := sub.Namespace
			if sns == "" {
				sns = ns
			}
			if sns != "" {
				keys = append(keys, SubjectKey("User", rbac.ServiceAccountUsername(sns, sub.Name)))
			}
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

func bindingRoleRef(obj any) ([]string, error) {
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		return []string{RoleRefKey(b.RoleRef.Kind, b.Namespace, b.RoleRef.Name)}, nil
	case *rbacv1.ClusterRoleBinding:
		return []string{RoleRefKey(b.RoleRef.Kind, "", b.RoleRef.Name)}, nil
	}
	return nil, nil
}
