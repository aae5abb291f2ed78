package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// scanOf runs every check on manifest files, as kwid scan -f does.
func scanOf(t *testing.T, paths ...string) *Scan {
	t.Helper()
	s, errs, err := inventory.LoadFiles(context.Background(), paths, inventory.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return NewScan(s, checks.Run(checks.NewInput(s)), errs)
}

func demoScan(t *testing.T) *Scan {
	t.Helper()
	s, err := inventory.LoadDemo(context.Background(), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return NewScan(s, checks.Run(checks.NewInput(s)), nil)
}

func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("document does not validate: %v", err)
	}
}

// TestJSONOutputSchema: `kwid scan -o json` validates against the published schema
// (docs/scan-result.schema.json), on the demo and on file input with locations,
// input errors and checks not assessed.
func TestJSONOutputSchema(t *testing.T) {
	sch := compileSchema(t, "../../docs/scan-result.schema.json")
	files := scanOf(t, "testdata/manifests.yaml", "testdata/broken.yaml")
	if len(files.InputErrors) == 0 || len(files.NotAssessed) == 0 || files.Findings[0].Location == nil {
		t.Fatalf("fixture should exercise input errors, not-assessed checks and locations")
	}
	for name, s := range map[string]*Scan{"demo": demoScan(t), "files": files} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, "json", s); err != nil {
				t.Fatal(err)
			}
			validate(t, sch, buf.Bytes())
		})
	}
}

// TestSARIF: every result points at a rule of the catalog, file input is located by file
// and line, and the log validates against the SARIF 2.1.0 schema (KWID_SARIF_SCHEMA, which
// hack/test.sh fetches from the npm registry).
func TestSARIF(t *testing.T) {
	s := scanOf(t, "testdata/manifests.yaml")
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", s); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Results) != len(s.Findings) || len(run.Results) == 0 {
		t.Fatalf("%d results for %d findings", len(run.Results), len(s.Findings))
	}
	for i, r := range run.Results {
		if rule := run.Tool.Driver.Rules[r.RuleIndex]; rule.ID != r.RuleID || rule.Help.Text == "" {
			t.Errorf("result %d: ruleIndex %d is %s, ruleId %s (help %q)", i, r.RuleIndex, rule.ID, r.RuleID, rule.Help.Text)
		}
		p := r.Locations[0].PhysicalLocation
		if p == nil || p.ArtifactLocation.URI != "testdata/manifests.yaml" || p.Region == nil || p.Region.StartLine < 1 {
			t.Errorf("result %d not located in the manifest: %+v", i, r.Locations[0])
		}
	}
	path := os.Getenv("KWID_SARIF_SCHEMA")
	if path == "" {
		t.Skip("SARIF schema validation: set KWID_SARIF_SCHEMA to sarif-2.1.0 JSON schema (hack/test.sh fetches it from the npm package @microsoft/jest-sarif)")
	}
	sch := compileSchema(t, path)
	validate(t, sch, buf.Bytes())
	// The schema really constrains: a result with an unknown level is rejected.
	bad := bytes.Replace(buf.Bytes(), []byte(`"level": "error"`), []byte(`"level": "severe"`), 1)
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if sch.Validate(v) == nil {
		t.Fatal("the SARIF schema accepted an invalid level: is it the right schema?")
	}
	var demo bytes.Buffer
	if err := Write(&demo, "sarif", demoScan(t)); err != nil {
		t.Fatal(err)
	}
	validate(t, sch, demo.Bytes())
}

// TestGolden compares the text renderings of a fixture scan with golden files
// (UPDATE_GOLDEN=1 rewrites them).
func TestGolden(t *testing.T) {
	s := scanOf(t, "testdata/manifests.yaml")
	for _, format := range []string{"table", "markdown", "policyreport"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, format, s); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "manifests."+format+".golden")
			if os.Getenv("UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (UPDATE_GOLDEN=1 creates it)", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestMarkdownEscapes(t *testing.T) {
	s := &Scan{Cluster: inventory.Cluster{Name: "c"}, Findings: []checks.Finding{{
		Check: "KW-X-001", Severity: checks.High, Message: "a | b\nc <script>", Object: inventory.ObjectRef{Kind: "Pod", Namespace: "n", Name: "p"},
		Remediation: "kubectl patch x -p '{\"a\":`b`}'",
	}}}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, s); err != nil {
		t.Fatal(err)
	}
	row := strings.Split(buf.String(), "\n")[6]
	if strings.Count(row, " | ") != 4 || strings.Contains(row, "<script>") {
		t.Errorf("a finding must stay in one table row of 5 cells, escaped: %q", row)
	}
}

// The JSON report encodes findings in chunks on every CPU: the bytes must be those of
// encoding the whole document at once, in order, whatever the number of chunks.
func TestJSONFindingsInChunks(t *testing.T) {
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		s := &Scan{APIVersion: APIVersion, Kind: "ScanResult", Findings: make([]checks.Finding, n)}
		for i := range s.Findings {
			s.Findings[i] = checks.Finding{Check: "KW-T-001", Severity: checks.Severity(i % 5), Title: "t <&>",
				Message: fmt.Sprintf("finding %d", i), Object: inventory.ObjectRef{Kind: inventory.Pods, Namespace: "ns", Name: fmt.Sprint("p", i)},
				Evidence: []string{"a", "b"}}
		}
		var got, want bytes.Buffer
		if err := writeJSON(&got, s); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%d findings: chunked JSON differs from the whole document's encoding", n)
		}
	}
}
