package graph_test

import (
	"os"
	"testing"

	"github.com/kwid-dev/kwid/internal/testcluster"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }
