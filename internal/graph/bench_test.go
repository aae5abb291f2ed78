package graph_test

import (
	"runtime"
	"testing"

	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/synthetic"
)

// BenchmarkAdminPaths builds the identity graph of a generated cluster (from its saved
// snapshot, decoded outside the timer) and computes the shortest path to cluster-admin of
// every identity: one backward search, then one path per identity that has one.
func BenchmarkAdminPaths(b *testing.B) {
	for _, size := range []string{"L", "XL"} {
		b.Run(size, func(b *testing.B) {
			path, err := synthetic.SavedSnapshot(size, 1)
			if err != nil {
				b.Fatal(err)
			}
			s, err := inventory.LoadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for b.Loop() {
				ix := rbac.NewIndex(s)
				g := graph.Build(s, ix)
				tree := g.ShortestTo(g.Sink)
				found := 0
				for _, k := range []graph.Kind{graph.ServiceAccount, graph.User, graph.Group} {
					for _, id := range g.Nodes(k) {
						if p, ok := tree.Shortest(id); ok && len(p.Hops) > 0 {
							found++
						}
					}
				}
				b.ReportMetric(float64(found), "paths")
				b.ReportMetric(float64(g.Len()), "nodes")
				b.ReportMetric(float64(g.EdgeCount()), "edges")
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				// Heap the index and graph keep alive (beyond the decoded snapshot).
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "retained-MiB")
				runtime.KeepAlive(tree)
				b.StartTimer()
			}
		})
	}
}
