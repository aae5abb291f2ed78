package cli

import (
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
)

func TestBoundHeap(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(math.MaxInt64)
	boundHeap(slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got == math.MaxInt64 || got < 512<<20 {
		t.Errorf("limit = %d, want a bound of at least 512 MiB", got)
	}

	// A limit the user chose is kept.
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(math.MaxInt64)
	boundHeap(slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set, yet the limit was changed to %d", got)
	}
}
