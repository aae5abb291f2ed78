// Command kwid audits and enforces Kubernetes workload identity. See README.md.
package main

import (
	"os"

	"github.com/kwid-dev/kwid/internal/cli"
)

func main() { os.Exit(cli.Main()) }
