package synthetic

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// SavedSnapshot returns the path of a saved snapshot of a generated cluster of the named
// size, writing it the first time: $KWID_BENCH_DIR (default the system temp directory)
// /kwid-bench-SIZE-seedN.json.gz. Benchmarks share it so that XL is generated once.
func SavedSnapshot(size string, seed int64) (string, error) {
	dir := os.Getenv("KWID_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("kwid-bench-%s-seed%d.json.gz", size, seed))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	sz, err := SizeByName(size)
	if err != nil {
		return "", err
	}
	s, err := Snapshot(sz, seed)
	if err != nil {
		return "", err
	}
	// Write under a temporary name first: an interrupted run leaves no truncated cache.
	// (keeping the .gz suffix, which is what makes SaveFile compress).
	tmp := strings.TrimSuffix(path, ".json.gz") + ".tmp.json.gz"
	if err := inventory.SaveFile(tmp, s); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}
