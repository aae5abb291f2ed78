package inventory_test

import (
	"context"
	"os"
	"testing"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/synthetic"
)

// BenchmarkLoadSnapshot reads a saved snapshot (gzip JSON) of a generated cluster.
func BenchmarkLoadSnapshot(b *testing.B) {
	for _, size := range []string{"L", "XL"} {
		b.Run(size, func(b *testing.B) {
			path, err := synthetic.SavedSnapshot(size, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s, err := inventory.LoadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				if len(s.Pods) == 0 {
					b.Fatal("no pods")
				}
			}
		})
	}
}

// BenchmarkLoadFiles reads manifests written by hack/gencluster; set KWID_BENCH_FILES to
// their directory (see docs/performance.md).
func BenchmarkLoadFiles(b *testing.B) {
	dir := os.Getenv("KWID_BENCH_FILES")
	if dir == "" {
		b.Skip("set KWID_BENCH_FILES to a directory written by go run ./hack/gencluster")
	}
	b.ReportAllocs()
	for b.Loop() {
		s, errs, err := inventory.LoadFiles(context.Background(), []string{dir}, inventory.FileOptions{})
		if err != nil || len(errs) > 0 {
			b.Fatal(err, errs)
		}
		if len(s.Pods) == 0 {
			b.Fatal("no pods")
		}
	}
}
