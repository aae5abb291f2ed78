package cli_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCatalogDoc keeps docs/checks-catalog.md equal to `kwid checks -o markdown`
// (UPDATE_GOLDEN=1 rewrites it).
func TestCatalogDoc(t *testing.T) {
	stdout, stderr, code := kwid(t, "checks", "-o", "markdown")
	if code != 0 {
		t.Fatalf("kwid checks -o markdown: exit %d: %s", code, stderr)
	}
	const path = "../../docs/checks-catalog.md"
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), stdout); diff != "" {
		t.Errorf("docs/checks-catalog.md is stale; run UPDATE_GOLDEN=1 go test ./internal/cli -run TestCatalogDoc (-file +command):\n%s", diff)
	}
}
