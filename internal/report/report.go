// Package report renders scan results for people (table) and programs (JSON, YAML). The
// JSON shape is kwid's stable contract, documented in docs/json-output.md.
//
// report only formats what it is given: it never computes a finding.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// APIVersion versions the scan result document.
const APIVersion = "kwid.dev/v1alpha1"

// Scan is the result of one `kwid scan`.
type Scan struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// KwidVersion is the version of kwid that produced the result.
	KwidVersion string               `json:"kwidVersion,omitempty"`
	Cluster     inventory.Cluster    `json:"cluster"`
	Summary     Summary              `json:"summary"`
	Findings    []checks.Finding     `json:"findings"`
	NotAssessed []checks.NotAssessed `json:"notAssessed"`
	// Allowlisted are findings on subjects meant to hold those rights (--config allowlist).
	Allowlisted []checks.Allowlisted `json:"allowlisted"`
	// Suppressed are findings accepted by the --baseline file; Baseline says which entries
	// expired or matched nothing.
	Suppressed []checks.Suppressed     `json:"suppressed"`
	Baseline   *checks.BaselineReport  `json:"baseline,omitempty"`
	Collection map[inventory.Kind]Kind `json:"collection"`
	// InputErrors are documents or files that could not be read (the rest was scanned).
	InputErrors []string `json:"inputErrors"`
}

// Kind is how one kind was collected and how many objects it holds.
type Kind struct {
	inventory.Status
	Count int `json:"count"`
}

// Summary counts findings by severity.
type Summary struct {
	Total    int `json:"total"`
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Info     int `json:"info"`
}

// NewScan assembles a scan result.
func NewScan(s *inventory.Snapshot, res *checks.Result, inputErrors []*inventory.InputError) *Scan {
	out := &Scan{
		APIVersion:  APIVersion,
		Kind:        "ScanResult",
		Cluster:     s.Cluster,
		Findings:    res.Findings,
		NotAssessed: res.NotAssessed,
		Allowlisted: res.Allowlisted,
		Suppressed:  res.Suppressed,
		Collection:  map[inventory.Kind]Kind{},
		InputErrors: []string{},
	}
	for _, k := range inventory.AllKinds {
		out.Collection[k] = Kind{Status: s.StatusOf(k), Count: s.Count(k)}
	}
	for _, e := range inputErrors {
		out.InputErrors = append(out.InputErrors, e.Error())
	}
	for _, f := range res.Findings {
		out.Summary.Total++
		switch f.Severity {
		case checks.Critical:
			out.Summary.Critical++
		case checks.High:
			out.Summary.High++
		case checks.Medium:
			out.Summary.Medium++
		case checks.Low:
			out.Summary.Low++
		default:
			out.Summary.Info++
		}
	}
	return out
}

// Formats lists the output formats of Write.
var Formats = []string{"table", "json", "yaml", "sarif", "markdown", "html", "policyreport"}

// Write renders a scan result in a format.
func Write(w io.Writer, format string, s *Scan) error {
	switch format {
	case "sarif":
		return WriteSARIF(w, s, checks.All(), s.KwidVersion)
	case "markdown":
		return WriteMarkdown(w, s)
	case "html":
		return WriteHTML(w, s)
	case "policyreport":
		return WritePolicyReports(w, s)
	case "json":
		return writeJSON(w, s)
	case "yaml":
		return WriteYAML(w, s)
	case "table", "":
		return WriteTable(w, s, false)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// ansi colours for severity headings in a terminal.
var ansi = map[checks.Severity]string{
	checks.Critical: "\x1b[1;37;41m", checks.High: "\x1b[1;31m", checks.Medium: "\x1b[1;33m",
	checks.Low: "\x1b[1;34m", checks.Info: "\x1b[1;37m",
}

// WriteTable renders findings for people: grouped by severity (most severe first), each
// group a table of check, object and message; then what was not assessed and a summary.
// color adds ANSI colours to the severity headings (for a terminal).
func WriteTable(w io.Writer, s *Scan, color bool) error {
	for i := 0; i < len(s.Findings); {
		sev := s.Findings[i].Severity
		j := i
		for j < len(s.Findings) && s.Findings[j].Severity == sev {
			j++
		}
		heading := fmt.Sprintf("%s (%d)", strings.ToUpper(sev.String()), j-i)
		if color {
			heading = ansi[sev] + heading + "\x1b[0m"
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, heading)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range s.Findings[i:j] {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Check, f.Object, f.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		i = j
	}
	if len(s.NotAssessed) > 0 {
		fmt.Fprintln(w, "\nNot assessed (missing data is never a pass):")
		for _, n := range s.NotAssessed {
			fmt.Fprintf(w, "  %s: %s\n", n.Check, n.Reason)
		}
	}
	if n := len(s.Suppressed); n > 0 {
		fmt.Fprintf(w, "\n%d findings accepted by the baseline are not shown.\n", n)
	}
	if n := len(s.Allowlisted); n > 0 {
		fmt.Fprintf(w, "\n%d allowlisted findings are not shown (-o json lists them; --config changes the allowlist).\n", n)
	}
	if n := len(s.InputErrors); n > 0 {
		fmt.Fprintf(w, "\n%d input documents could not be read (listed on stderr); the rest was scanned.\n", n)
	}
	sum := s.Summary
	fmt.Fprintf(w, "\n%d findings: %d critical, %d high, %d medium, %d low, %d info. Scanned %s: %s.\n",
		sum.Total, sum.Critical, sum.High, sum.Medium, sum.Low, sum.Info, s.Cluster.Name, counts(s))
	return nil
}

func counts(s *Scan) string {
	var parts []string
	for _, k := range []inventory.Kind{inventory.Namespaces, inventory.ServiceAccounts, inventory.Pods, inventory.RoleBindings, inventory.ClusterRoleBindings} {
		if c, ok := s.Collection[k]; ok && c.State == inventory.Collected {
			parts = append(parts, fmt.Sprintf("%d %s", c.Count, plural(k, c.Count)))
		}
	}
	if len(parts) == 0 {
		return "no objects"
	}
	return strings.Join(parts, ", ")
}

// plural names n objects of a kind in running text ("1 namespace", "3 serviceAccounts").
func plural(k inventory.Kind, n int) string {
	s := string(k)
	s = strings.ToLower(s[:1]) + s[1:]
	if n == 1 {
		return s
	}
	if strings.HasSuffix(s, "s") {
		return s + "es"
	}
	return s + "s"
}

// AtOrAbove reports whether any finding is at or above a severity.
func (s *Scan) AtOrAbove(sev checks.Severity) bool {
	return slices.ContainsFunc(s.Findings, func(f checks.Finding) bool { return f.Severity >= sev })
}

// writeJSON writes the scan as indented JSON, encoding findings one at a time: a large
// cluster has hundreds of thousands of them, which must not be held twice in memory.
func writeJSON(w io.Writer, s *Scan) error {
	head := *s
	head.Findings = nil
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&head); err != nil {
		return err
	}
	const hole = `"findings": null`
	before, after, ok := bytes.Cut(hb.Bytes(), []byte(hole))
	if !ok {
		return fmt.Errorf("encoding JSON: no findings field")
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.Write(before)
	bw.WriteString(`"findings": [`)
	if err := writeFindingsJSON(bw, s.Findings); err != nil {
		return err
	}
	if len(s.Findings) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	bw.Write(after)
	return bw.Flush()
}

// writeFindingsJSON writes the findings array's items, indented as in the whole document.
// Chunks of findings are encoded on every CPU and written in order, a few chunks in memory
// at a time: an XL scan has hundreds of thousands of findings.
func writeFindingsJSON(w io.Writer, fs []checks.Finding) error {
	const chunk = 1024
	n := (len(fs) + chunk - 1) / chunk
	parts := make([]chan []byte, n)
	for i := range parts {
		parts[i] = make(chan []byte, 1)
	}
	slots := make(chan struct{}, runtime.GOMAXPROCS(0)+1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := range n {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			go func() { parts[i] <- encodeFindings(fs[i*chunk:min(len(fs), (i+1)*chunk)], i == 0) }()
		}
	}()
	for i := range n {
		b := <-parts[i]
		<-slots
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// encodeFindings encodes findings as items of the findings array, each preceded by its
// separator (none before the very first).
func encodeFindings(fs []checks.Finding, first bool) []byte {
	out := make([]byte, 0, 2048*len(fs))
	for i := range fs {
		if i > 0 || !first {
			out = append(out, ',')
		}
		out = append(out, "\n    "...)
		out = appendFinding(out, &fs[i])
	}
	return out
}
