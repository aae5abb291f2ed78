package inventory_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/synthetic"
)

var (
	savedOnce  = map[string]*sync.Once{"L": {}, "XL": {}}
	savedPaths = map[string]string{}
)

// savedSnapshot writes a generated cluster of the named size as a saved snapshot, once per
// test binary, under KWID_BENCH_DIR (default: the system temp directory).
func savedSnapshot(b *testing.B, size string) string {
	b.Helper()
	savedOnce[size].Do(func() {
		dir := os.Getenv("KWID_BENCH_DIR")
		if dir == "" {
			dir = os.TempDir()
		}
		path := filepath.Join(dir, "kwid-bench-"+size+"-seed1.json.gz")
		if _, err := os.Stat(path); err != nil {
			sz, _ := synthetic.SizeByName(size)
			s, err := synthetic.Snapshot(sz, 1)
			if err != nil {
				b.Fatal(err)
			}
			if err := inventory.SaveFile(path, s); err != nil {
				b.Fatal(err)
			}
		}
		savedPaths[size] = path
	})
	return savedPaths[size]
}

// BenchmarkLoadSnapshot reads a saved snapshot (gzip JSON) of a generated cluster.
func BenchmarkLoadSnapshot(b *testing.B) {
	for _, size := range []string{"L", "XL"} {
		b.Run(size, func(b *testing.B) {
			path := savedSnapshot(b, size)
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
