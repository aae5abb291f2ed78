package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"
)

// LiveOptions configure collection from a live cluster.
type LiveOptions struct {
	Options
	// Name is shown as the cluster's name (the kubeconfig context).
	Name string
	// PageSize is the limit of each list request (0 = 500).
	PageSize int64
	// Concurrency bounds the kinds listed at once (0 = 4).
	Concurrency int
	// Progress, when set, is called after each kind with the kinds done so far and the
	// objects collected so far.
	Progress func(kindsDone, kindsTotal, objects int)
	Logger   *slog.Logger
}

// LoadLive collects a Snapshot from a live cluster, read-only. Every kind is listed with
// pagination (a full re-list when a continue token expires), several kinds at once. A kind
// the server refuses (403) or fails to serve is recorded in the Snapshot's Status and the
// rest is still collected. The error is for a cluster that cannot be reached at all.
func LoadLive(ctx context.Context, cfg *rest.Config, opts LiveOptions) (*Snapshot, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating client for %s: %w", cfg.Host, err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating client for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating client for %s: %w", cfg.Host, err)
	}
	version, err := cs.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("connecting to cluster %s: %w", cfg.Host, err)
	}
	b := NewBuilder(Cluster{Source: "live", Name: opts.Name, Server: cfg.Host, ServerVersion: version.GitVersion}, opts.Options)
	if issuer := oidcIssuer(ctx, cs); issuer != "" {
		b.SetCluster(func(c *Cluster) { c.OIDCIssuer = issuer })
	}

	l := &liveCollector{cs: cs, md: md, dyn: dyn, b: b, opts: opts}
	var done, objects atomic.Int64
	var progressMu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	kinds := AllKinds
	if opts.Kinds != nil {
		kinds = opts.Kinds
		for _, k := range AllKinds {
			if !slices.Contains(kinds, k) {
				b.SetStatus(k, Status{State: Absent, Scope: "not collected for this command"})
			}
		}
	}
	for _, k := range kinds {
		g.Go(func() error {
			n, err := l.collect(gctx, k)
			switch {
			case err == nil:
				b.SetStatus(k, Status{State: Collected})
			case ctx.Err() != nil:
				return ctx.Err()
			case apierrors.IsForbidden(err):
				b.SetStatus(k, Status{State: Forbidden, Error: err.Error()})
			case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
				b.SetStatus(k, Status{State: Absent, Error: err.Error()})
			default:
				b.SetStatus(k, Status{State: Failed, Error: err.Error()})
			}
			if err != nil {
				opts.Logger.Debug("kind not collected", "kind", k, "err", err)
			}
			objects.Add(int64(n))
			d := done.Add(1)
			if opts.Progress != nil {
				progressMu.Lock()
				opts.Progress(int(d), len(kinds), int(objects.Load()))
				progressMu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return b.Build(), nil
}

// oidcIssuer reads the service account issuer from OIDC discovery, when readable.
func oidcIssuer(ctx context.Context, cs kubernetes.Interface) string {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil {
		return ""
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	return doc.Issuer
}

type liveCollector struct {
	cs  kubernetes.Interface
	md  metadata.Interface
	dyn dynamic.Interface

	istioOnce    sync.Once
	istioVersion string
	istioErr     error

	b    *Builder
	opts LiveOptions
}

// collect lists one kind into the Builder and returns how many objects it kept.
func (l *liveCollector) collect(ctx context.Context, k Kind) (int, error) {
	ns := ""
	if k.Namespaced() {
		ns = l.opts.Namespace
	}
	switch k {
	case Namespaces:
		if l.opts.Namespace != "" {
			n, err := l.cs.CoreV1().Namespaces().Get(ctx, l.opts.Namespace, metav1.GetOptions{})
			if err != nil {
				return 0, err
			}
			l.b.Add(n, nil)
			return 1, nil
		}
		return l.list(ctx, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return l.cs.CoreV1().Namespaces().List(ctx, o)
		}, metav1.ListOptions{})
	case ConfigMaps:
		// Only two ConfigMaps matter; fetch them by name rather than reading every ConfigMap.
		if ns != "" && ns != SystemNamespace {
			return 0, nil
		}
		n := 0
		for _, name := range []string{AWSAuthConfigMap, LegacyTokenTrackingConfigMap} {
			cm, err := l.cs.CoreV1().ConfigMaps(SystemNamespace).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return n, err
			}
			l.b.Add(cm, nil)
			n++
		}
		return n, nil
	case Secrets:
		if l.opts.SecretData {
			return l.list(ctx, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return l.cs.CoreV1().Secrets(ns).List(ctx, o)
			}, metav1.ListOptions{})
		}
		// Without opt-in, only token Secrets, and only their metadata: no token is transferred.
		sel := fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)).String()
		p := pager.New(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return l.md.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(ns).List(ctx, o)
		})
		p.PageSize = l.opts.PageSize
		list, _, err := p.List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return 0, err
		}
		n := 0
		err = meta.EachListItem(list, func(obj runtime.Object) error {
			m, ok := obj.(*metav1.PartialObjectMetadata)
			if !ok {
				return fmt.Errorf("unexpected %T in Secret metadata list", obj)
			}
			l.b.Add(&corev1.Secret{ObjectMeta: m.ObjectMeta, Type: corev1.SecretTypeServiceAccountToken}, nil)
			n++
			return nil
		})
		return n, err
	}
	if k.IsIstioKind() {
		return l.istio(ctx, k, ns)
	}
	return l.list(ctx, l.listFunc(k, ns), metav1.ListOptions{})
}

// istio lists a security.istio.io kind through the dynamic client, in the version the
// server prefers among those kwid reads (v1, v1beta1). A server without Istio's CRDs
// does not serve the group: the kind is then absent, not an error.
func (l *liveCollector) istio(ctx context.Context, k Kind, ns string) (int, error) {
	l.istioOnce.Do(func() { l.istioVersion, l.istioErr = IstioServedVersion(ctx, l.cs) })
	if l.istioErr != nil {
		return 0, l.istioErr
	}
	r := l.dyn.Resource(IstioResource(k, l.istioVersion)).Namespace(ns)
	return l.list(ctx, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return r.List(ctx, o)
	}, metav1.ListOptions{})
}

// istioServedVersion asks discovery (one request) which version of security.istio.io to
// read; a NotFound error when the group is not served in a version kwid reads.
func IstioServedVersion(ctx context.Context, cs kubernetes.Interface) (string, error) {
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/apis/" + IstioSecurityGroup).DoRaw(ctx)
	if err != nil {
		return "", err
	}
	var g metav1.APIGroup
	if err := json.Unmarshal(raw, &g); err != nil {
		return "", fmt.Errorf("reading discovery of %s: %w", IstioSecurityGroup, err)
	}
	for _, want := range IstioSecurityVersions {
		for _, v := range g.Versions {
			if v.Version == want {
				return want, nil
			}
		}
	}
	return "", apierrors.NewNotFound(schema.GroupResource{Group: IstioSecurityGroup}, "versions "+strings.Join(IstioSecurityVersions, ", "))
}

func (l *liveCollector) listFunc(k Kind, ns string) pager.ListPageFunc {
	c := l.cs
	return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		switch k {
		case ServiceAccounts:
			return c.CoreV1().ServiceAccounts(ns).List(ctx, o)
		case Pods:
			return c.CoreV1().Pods(ns).List(ctx, o)
		case Deployments:
			return c.AppsV1().Deployments(ns).List(ctx, o)
		case StatefulSets:
			return c.AppsV1().StatefulSets(ns).List(ctx, o)
		case DaemonSets:
			return c.AppsV1().DaemonSets(ns).List(ctx, o)
		case ReplicaSets:
			return c.AppsV1().ReplicaSets(ns).List(ctx, o)
		case Jobs:
			return c.BatchV1().Jobs(ns).List(ctx, o)
		case CronJobs:
			return c.BatchV1().CronJobs(ns).List(ctx, o)
		case ReplicationControllers:
			return c.CoreV1().ReplicationControllers(ns).List(ctx, o)
		case Roles:
			return c.RbacV1().Roles(ns).List(ctx, o)
		case ClusterRoles:
			return c.RbacV1().ClusterRoles().List(ctx, o)
		case RoleBindings:
			return c.RbacV1().RoleBindings(ns).List(ctx, o)
		case ClusterRoleBindings:
			return c.RbacV1().ClusterRoleBindings().List(ctx, o)
		case Nodes:
			return c.CoreV1().Nodes().List(ctx, o)
		case ValidatingWebhookConfigurations:
			return c.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, o)
		case MutatingWebhookConfigurations:
			return c.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, o)
		}
		return nil, fmt.Errorf("no lister for kind %s", k)
	}
}

// list pages through one kind and adds every item to the Builder.
func (l *liveCollector) list(ctx context.Context, fn pager.ListPageFunc, opts metav1.ListOptions) (int, error) {
	p := pager.New(fn)
	p.PageSize = l.opts.PageSize
	list, _, err := p.List(ctx, opts)
	if err != nil {
		return 0, err
	}
	n := 0
	t := newTrimmer() // one per list: equal parts of the kind's objects are stored once
	err = meta.EachListItem(list, func(obj runtime.Object) error {
		if _, ok := l.b.add(obj, nil, t); ok {
			n++
		}
		return nil
	})
	return n, err
}
