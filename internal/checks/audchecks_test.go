package checks

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/usage"
)

func TestAuditChecks(t *testing.T) {
	in := NewInput(load(t, "testdata/aud-rbac.yaml"))
	rep, err := usage.ReadFiles([]string{"testdata/aud-audit.log"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Usage = rep
	res := Run(in, lookupAll(t, "KW-AUD-001", "KW-AUD-002", "KW-AUD-003", "KW-AUD-004", "KW-AUD-005", "KW-AUD-006")...)
	tests := []struct {
		check string
		want  []string
	}{
		{"KW-AUD-001", []string{
			"medium ServiceAccount shop/idle", // bound, never seen
			"medium ServiceAccount shop/web",  // secrets rule never used
			"low ServiceAccount shop/legacy",  // list services never used
		}},
		{"KW-AUD-002", []string{"medium ServiceAccount shop/legacy"}},
		{"KW-AUD-003", []string{
			"high ServiceAccount shop/web",      // one credential from two IPs
			"medium ServiceAccount shop/legacy", // legacy-token requests are KW-AUD-002; its self review had no pod
		}},
		{"KW-AUD-004", []string{"low ServiceAccount shop/legacy"}},
		{"KW-AUD-005", []string{
			"high ServiceAccount shop/legacy", // refused pods/exec
			"medium User alice",               // impersonation
		}},
		{"KW-AUD-006", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	if len(res.NotAssessed) != 0 {
		t.Errorf("not assessed: %+v", res.NotAssessed)
	}
}

// TestAuditChecksWithoutLog: without --audit-log the checks are not assessed, never a pass.
func TestAuditChecksWithoutLog(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/aud-rbac.yaml")), lookupAll(t, "KW-AUD-001", "KW-AUD-002", "KW-AUD-003", "KW-AUD-004", "KW-AUD-005", "KW-AUD-006")...)
	if len(res.Findings) != 0 || len(res.NotAssessed) != 6 || res.NotAssessed[0].Reason != noAuditLog {
		t.Errorf("findings %v, not assessed %+v", res.Findings, res.NotAssessed)
	}
}
