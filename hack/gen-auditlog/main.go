// Command gen-auditlog writes a deterministic synthetic Kubernetes audit log for benchmarks:
// go run ./hack/gen-auditlog -mib 1024 > /tmp/audit-1g.log
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kwid-dev/kwid/internal/usage"
)

func main() {
	mib := flag.Int64("mib", 1024, "size to write, in MiB")
	flag.Parse()
	n, err := usage.WriteSynthetic(os.Stdout, *mib<<20)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-auditlog:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gen-auditlog: %d events\n", n)
}
