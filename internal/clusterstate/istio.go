package clusterstate

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kwid-dev/kwid/internal/inventory"
)

// istioSources returns the list/watch of a security.istio.io kind through the dynamic
// client, in the version the server serves (v1, then v1beta1), found through discovery as
// inventory.LoadLive finds it: discovery is open to every authenticated user, so a server
// without Istio's CRDs makes the kind absent even for a user who may not list it (a list of
// an unknown resource would answer 403 to such a user). The informer's transform turns the
// unstructured objects into inventory's types.
func istioSources(cs kubernetes.Interface, dyn dynamic.Interface, k inventory.Kind, namespace string) []source {
	var (
		mu      sync.Mutex
		version string // the served version, found by discovery
	)
	resource := func(v string) dynamic.ResourceInterface {
		return dyn.Resource(inventory.IstioResource(k, v)).Namespace(namespace)
	}
	served := func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if version == "" {
			v, err := inventory.IstioServedVersion(ctx, cs)
			if err != nil {
				return "", err
			}
			version = v
		}
		return version, nil
	}
	return []source{{example: &unstructured.Unstructured{}, lw: &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			v, err := served(ctx)
			if err != nil {
				return nil, err
			}
			return resource(v).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			v, err := served(ctx)
			if err != nil {
				return nil, err
			}
			return resource(v).Watch(ctx, o)
		},
	}}}
}
