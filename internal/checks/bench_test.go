package checks_test

import (
	"testing"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/synthetic"
)

// BenchmarkScan runs every check on a generated cluster read from a saved snapshot: the
// whole of `kwid scan --snapshot` but rendering. Compare with inventory's
// BenchmarkLoadSnapshot (the load alone).
func BenchmarkScan(b *testing.B) {
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
				res := checks.Run(checks.NewInput(s))
				if len(res.Findings) == 0 {
					b.Fatal("no findings")
				}
			}
		})
	}
}
