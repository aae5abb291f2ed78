package clusterstate

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/kwid-dev/kwid/internal/inventory"
)

// istioSources returns the list/watch of a security.istio.io kind through the dynamic
// client, in the first version the server serves (v1, then v1beta1, as inventory.LoadLive
// reads them). A server without Istio's CRDs answers 404 to the probe: the kind is absent.
// The informer's transform turns the unstructured objects into inventory's types.
func istioSources(dyn dynamic.Interface, k inventory.Kind, namespace string) []source {
	var (
		mu      sync.Mutex
		version string // the served version, found by the first successful list
	)
	resource := func(v string) dynamic.ResourceInterface {
		return dyn.Resource(inventory.IstioResource(k, v)).Namespace(namespace)
	}
	return []source{{example: &unstructured.Unstructured{}, lw: &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			mu.Lock()
			v := version
			mu.Unlock()
			if v != "" {
				return resource(v).List(ctx, o)
			}
			var err error
			for _, v := range inventory.IstioSecurityVersions {
				var list *unstructured.UnstructuredList
				list, err = resource(v).List(ctx, o)
				if err == nil {
					mu.Lock()
					version = v
					mu.Unlock()
					return list, nil
				}
				if !apierrors.IsNotFound(err) {
					return nil, err
				}
			}
			return nil, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			mu.Lock()
			v := version
			mu.Unlock()
			if v == "" {
				v = inventory.IstioSecurityVersions[0]
			}
			return resource(v).Watch(ctx, o)
		},
	}}}
}
