package cli_test

import (
	"os"
	"testing"

	"github.com/kwid-dev/kwid/internal/cli"
	"github.com/kwid-dev/kwid/internal/testcluster"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(wrapped{m}, map[string]func(){
		"kwid": func() { os.Exit(cli.Main()) },
	})
}

// wrapped stops a control plane this test binary started, after the tests.
type wrapped struct{ m *testing.M }

func (w wrapped) Run() int { return testcluster.Main(w.m) }
