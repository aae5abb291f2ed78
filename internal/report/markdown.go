package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown renders a scan for a pull-request comment: a summary line, a table of
// findings (most severe first) and the checks not assessed, folded.
func WriteMarkdown(w io.Writer, s *Scan) error {
	sum := s.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "### kwid: %d findings (%d critical, %d high, %d medium, %d low, %d info)\n\n",
		sum.Total, sum.Critical, sum.High, sum.Medium, sum.Low, sum.Info)
	fmt.Fprintf(&b, "Scanned %s: %s.\n\n", mdEscape(s.Cluster.Name), counts(s))
	if len(s.Findings) > 0 {
		b.WriteString("| Severity | Check | Object | Finding | Fix |\n|---|---|---|---|---|\n")
		for _, f := range s.Findings {
			obj := "`" + f.Object.String() + "`"
			if f.Location != nil {
				obj += fmt.Sprintf(" (%s:%d)", mdEscape(f.Location.File), f.Location.Line)
			}
			fix := ""
			if f.Remediation != "" {
				fix = "`" + strings.ReplaceAll(mdEscape(f.Remediation), "`", "'") + "`"
			}
			fmt.Fprintf(&b, "| **%s** | %s | %s | %s | %s |\n", f.Severity, f.Check, obj, mdEscape(f.Message), fix)
		}
		b.WriteString("\n")
	}
	if len(s.NotAssessed) > 0 {
		fmt.Fprintf(&b, "<details><summary>%d checks not assessed (missing data is never a pass)</summary>\n\n", len(s.NotAssessed))
		for _, n := range s.NotAssessed {
			fmt.Fprintf(&b, "- **%s**: %s\n", n.Check, mdEscape(n.Reason))
		}
		b.WriteString("\n</details>\n")
	}
	if len(s.InputErrors) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>%d input documents could not be read</summary>\n\n", len(s.InputErrors))
		for _, e := range s.InputErrors {
			fmt.Fprintf(&b, "- %s\n", mdEscape(e))
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps text inside one table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return s
}
