package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// stdFinding is a finding as encoding/json writes it in an indented report.
func stdFinding(t testing.TB, f *checks.Finding) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("    ", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// hostile are strings encoding/json escapes in every way it does.
var hostile = []string{
	"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "héllo wörld ✓ 日本", "bad \xff utf8 \xc3", "line\u2028sep\u2029para", "\xed\xa0\x80 surrogate",
	"emoji 👍🏽", "\\u0000 literal",
}

// Every finding the demo cluster yields, and findings with every field set to each hostile
// string, encode byte for byte as encoding/json encodes them.
func TestAppendFindingAsEncodingJSON(t *testing.T) {
	s, err := inventory.LoadDemo(t.Context(), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := checks.Run(checks.NewInput(s)).Findings
	if len(fs) < 50 {
		t.Fatalf("only %d demo findings", len(fs))
	}
	for _, h := range hostile {
		fs = append(fs, checks.Finding{Check: h, Severity: checks.Critical, Title: h, Message: h,
			Object:   inventory.ObjectRef{Kind: inventory.Kind(h), Namespace: h, Name: h},
			Related:  []inventory.ObjectRef{{Kind: "Role", Name: h}, {Kind: inventory.Kind(h), Namespace: "ns", Name: "n"}},
			Evidence: []string{h, h + "2"}, Remediation: h, References: []string{h},
			Location: &inventory.Location{File: h, Document: 3, Line: 12}})
	}
	fs = append(fs, checks.Finding{Location: &inventory.Location{File: "f.yaml", Document: 1}}, checks.Finding{Related: []inventory.ObjectRef{}, Evidence: []string{}})
	for i := range fs {
		want := stdFinding(t, &fs[i])
		if got := appendFinding(nil, &fs[i]); !bytes.Equal(got, want) {
			t.Fatalf("finding %d:\ngot  %s\nwant %s", i, got, want)
		}
	}
}

// appendFinding writes every field of a Finding: a field added to the type (or to
// ObjectRef or Location) fails here until it is written too.
func TestAppendFindingFields(t *testing.T) {
	want := map[reflect.Type][]string{
		reflect.TypeFor[checks.Finding]():      {"check", "severity", "title", "message", "object", "related", "evidence", "remediation", "references", "location"},
		reflect.TypeFor[inventory.ObjectRef](): {"kind", "namespace", "name"},
		reflect.TypeFor[inventory.Location]():  {"file", "document", "line"},
	}
	for typ, fields := range want {
		var got []string
		for f := range typ.Fields() {
			name, _, _ := bytes.Cut([]byte(f.Tag.Get("json")), []byte(","))
			got = append(got, string(name))
		}
		if !reflect.DeepEqual(got, fields) {
			t.Errorf("%s has JSON fields %v; appendFinding writes %v", typ, got, fields)
		}
	}
}

func FuzzAppendFinding(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, h, 1)
	}
	f.Fuzz(func(t *testing.T, a, b string, n int) {
		fd := checks.Finding{Check: a, Severity: checks.Severity(n % 5), Title: b, Message: a + b,
			Object: inventory.ObjectRef{Kind: inventory.Kind(b), Name: a}, Evidence: []string{a, b}, Remediation: b}
		if n%2 == 0 {
			fd.Location = &inventory.Location{File: a, Document: n, Line: n / 3}
			fd.Related = []inventory.ObjectRef{{Kind: inventory.Kind(a), Namespace: b, Name: a}}
		}
		if got, want := appendFinding(nil, &fd), stdFinding(t, &fd); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}
