package usage

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// benchLog is the log the benchmarks read: $KWID_BENCH_AUDIT_LOG (e.g. 1 GiB from
// hack/gen-auditlog), or a 64 MiB synthetic log.
func benchLog(b *testing.B) (string, int64) {
	b.Helper()
	path := os.Getenv("KWID_BENCH_AUDIT_LOG")
	if path == "" {
		path = filepath.Join(b.TempDir(), "audit.log")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := WriteSynthetic(f, 64<<20); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return path, st.Size()
}

// BenchmarkIngest: the whole pipeline (read, decode, dedupe, aggregate).
func BenchmarkIngest(b *testing.B) {
	path, size := benchLog(b)
	b.SetBytes(size)
	b.ResetTimer()
	events := 0
	for range b.N {
		rep, err := ReadFiles([]string{path}, nil)
		if err != nil {
			b.Fatal(err)
		}
		events += rep.Stats.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeOnly: the floor, JSON-decoding each line of the same file into a minimal
// struct and nothing else.
func BenchmarkDecodeOnly(b *testing.B) {
	path, size := benchLog(b)
	b.SetBytes(size)
	b.ResetTimer()
	events := 0
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), MaxLine)
		for sc.Scan() {
			var ev struct {
				AuditID string `json:"auditID"`
				Stage   string `json:"stage"`
				Verb    string `json:"verb"`
				User    struct {
					Username string `json:"username"`
				} `json:"user"`
				ObjectRef *struct {
					Resource  string `json:"resource"`
					Namespace string `json:"namespace"`
				} `json:"objectRef"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				b.Fatal(err)
			}
			events++
		}
		f.Close()
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
