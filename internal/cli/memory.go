package cli

import (
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// heapBound is how large the heap may grow, as a multiple of the input's live heap, before
// the GC works harder to stay under it (a soft limit: Go's default would let the heap
// reach about twice the live heap at its largest, which on XL is the Snapshot plus the
// findings plus the checks' shared work).
const heapBound = 2.5

// boundHeap sets a soft memory limit proportional to the input just read, unless the user
// set GOMEMLIMIT: the peak memory of a scan then follows the cluster's size closely, for a
// little more GC work near the end (docs/performance.md).
func boundHeap(log *slog.Logger) {
	// What the input holds, without the garbage of reading it; the memory that garbage took
	// goes back to the system, or a limit (this one or the user's) would count it and leave
	// the checks little room.
	debug.FreeOSMemory()
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := sample[0].Value.Uint64()
	limit := int64(max(float64(live)*heapBound, 512<<20))
	debug.SetMemoryLimit(limit)
	log.Debug("heap bounded", "live_MiB", live>>20, "limit_MiB", limit>>20)
}
