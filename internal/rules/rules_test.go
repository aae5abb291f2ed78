package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// TestExampleRules runs the rules shipped in docs/rules on a fixture with a positive case
// and near misses for each.
func TestExampleRules(t *testing.T) {
	set, err := LoadDir("../../docs/rules")
	if err != nil {
		t.Fatal(err)
	}
	s, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/cluster.yaml"}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	res := checks.Run(checks.NewInput(s), set.Checks()...)
	if errs := set.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, fmt.Sprintf("%s %s %s: %s", f.Check, f.Severity, f.Object, f.Message))
	}
	want := []string{
		"ORG-001 critical ServiceAccount payments/api: ServiceAccount payments/api can read Secrets in namespace vault",
		"ORG-005 critical ServiceAccount ci/deployer: ServiceAccount ci/deployer reaches cluster-admin: " +
			"ServiceAccount ci/deployer -[P5]-> ServiceAccount kube-system/daemon-set-controller; " +
			"ServiceAccount kube-system/daemon-set-controller -[P1]-> ClusterAdmin cluster-admin",
		"ORG-003 high Namespace kube-system: can create pods in kube-system: sa:ci/deployer",
		"ORG-004 high Deployment payments/legacy-sync: Deployment payments/legacy-sync: AWS workload runs as the default ServiceAccount",
		"ORG-002 medium ServiceAccount payments/exporter: ServiceAccount payments/exporter maps to exporter@proj.iam.gserviceaccount.com and automounts its API token",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestBadRules: a rule that does not parse, does not type-check, or exceeds the cost limit
// is reported with its file (and line for compile errors).
func TestBadRules(t *testing.T) {
	const head = "id: T-001\ntitle: t\nseverity: low\ndescription: d\nkinds: [Namespace]\n"
	tests := []struct {
		name, rule, loadErr, evalErr string
	}{
		{name: "syntax", rule: head + "expression: object.metadata.name ==\n", loadErr: "bad.yaml:6: expression: ERROR: <input>:1:24: Syntax error"},
		{name: "type", rule: head + "expression: \"\\\"a\\\" + 1 > 2\"\n", loadErr: "bad.yaml:6: expression: ERROR"},
		{name: "not bool", rule: head + "expression: '\"text\"'\n", loadErr: "gives string, want bool"},
		{name: "unknown function", rule: head + "expression: pathsTo(object)\n", loadErr: "undeclared reference to 'pathsTo'"},
		{name: "bad path subject", rule: head + "expression: pathsToClusterAdmin(\"sa:x\").size() > 0\n", evalErr: "want sa:NAMESPACE/NAME"},
		{name: "unknown field", rule: head + "expresion: \"true\"\n", loadErr: `unknown field "expresion"`},
		{name: "kwid prefix", rule: strings.Replace(head, "T-001", "KW-SA-999", 1) + "expression: \"true\"\n", loadErr: "the KW- prefix is kwid's own"},
		{name: "bad kind", rule: strings.Replace(head, "[Namespace]", "[Service]", 1) + "expression: \"true\"\n", loadErr: `kind "Service" is not one kwid reads`},
		{name: "cost limit", rule: head + "expression: " + costly + "\n", evalErr: "exceeded the cost limit"},
		{name: "bad can subject", rule: head + "expression: can(\"serviceaccount/x\", \"get\", \"pods\", \"a\")\n", evalErr: "for a ServiceAccount write sa:NAMESPACE/NAME"},
	}
	s, _, err := inventory.LoadFiles(context.Background(), []string{"testdata/cluster.yaml"}, inventory.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(path, []byte(tc.rule), 0o644); err != nil {
				t.Fatal(err)
			}
			set, err := LoadDir(dir)
			if tc.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.loadErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("load error %v, want one naming %s and saying %q", err, path, tc.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checks.Run(checks.NewInput(s), set.Checks()...)
			errs := set.Errors()
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.evalErr) || !strings.Contains(errs[0].Error(), path) {
				t.Fatalf("evaluation errors %v, want one naming %s and saying %q", errs, path, tc.evalErr)
			}
		})
	}
}

// costly nests comprehensions to 10^6 iterations, past CostLimit.
var costly = func() string {
	l := "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]"
	return "'" + l + ".all(a, " + l + ".all(b, " + l + ".all(c, " + l + ".all(d, " + l + ".all(e, a + b + c + d + e >= 0)))))'"
}()
