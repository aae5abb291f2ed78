package token

import (
	"context"
	"fmt"

	"github.com/kwid-dev/kwid/internal/inventory"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SnapshotLookup is the Lookup of a Snapshot. An object absent from manifest files, from a
// kind that was not collected, or from a namespace the collection did not cover is unknown
// (an error), not missing: only a complete collection proves that an object is gone.
func SnapshotLookup(s *inventory.Snapshot) Lookup {
	return func(_ context.Context, kind, namespace, name string) (*Object, error) {
		var k inventory.Kind
		var metas []*metav1.ObjectMeta
		switch kind {
		case "ServiceAccount":
			k = inventory.ServiceAccounts
			if sa := s.ServiceAccount(namespace, name); sa != nil {
				metas = append(metas, &sa.ObjectMeta)
			}
		case "Pod":
			k = inventory.Pods
			for i := range s.Pods {
				metas = append(metas, &s.Pods[i].ObjectMeta)
			}
		case "Secret":
			k = inventory.Secrets
			for i := range s.Secrets {
				metas = append(metas, &s.Secrets[i].ObjectMeta)
			}
		case "Node":
			k = inventory.Nodes
			for i := range s.Nodes {
				metas = append(metas, &s.Nodes[i].ObjectMeta)
			}
		default:
			return nil, fmt.Errorf("unknown kind %q", kind)
		}
		for _, m := range metas {
			if m.Namespace == namespace && m.Name == name {
				return &Object{UID: string(m.UID), Labels: m.Labels, Annotations: m.Annotations}, nil
			}
		}
		switch {
		case !s.Readable(k):
			return nil, fmt.Errorf("not looked up: %s", s.StatusOf(k).Reason(k))
		case s.Cluster.Source == "files":
			return nil, fmt.Errorf("not in the manifest files")
		case s.Cluster.Namespace != "" && namespace != s.Cluster.Namespace:
			return nil, fmt.Errorf("not looked up: only namespace %s was collected", s.Cluster.Namespace)
		case kind == "Secret" && !s.Cluster.SecretData:
			return nil, fmt.Errorf("not found among the ServiceAccount token Secrets collected (other Secret types need --include-secret-data)")
		}
		return nil, ErrNotFound
	}
}
