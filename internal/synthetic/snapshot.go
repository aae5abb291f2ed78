package synthetic

import (
	"github.com/kwid-dev/kwid/internal/inventory"
	"k8s.io/apimachinery/pkg/runtime"
)

// Snapshot generates a cluster straight into a Snapshot, every kind collected, as a live
// collection of that cluster would produce it.
func Snapshot(size Size, seed int64) (*inventory.Snapshot, error) {
	b := inventory.NewBuilder(inventory.Cluster{Source: "live", Name: "synthetic", ServerVersion: "v1.36.3"}, inventory.Options{})
	err := Generate(size, seed, func(obj runtime.Object) error {
		b.Add(obj, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range inventory.AllKinds {
		b.SetStatus(k, inventory.Status{State: inventory.Collected})
	}
	return b.Build(), nil
}
