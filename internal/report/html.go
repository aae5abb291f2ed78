package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"

	"github.com/kwid-dev/kwid/internal/checks"
)

//go:embed report.html.tmpl
var htmlTemplate string

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower": func(s checks.Severity) string { return s.String() },
}).Parse(htmlTemplate))

type htmlData struct {
	*Scan
	Severities []string
	Namespaces []string
	Checks     []string
}

// WriteHTML renders one self-contained HTML file: a summary, filters by severity,
// namespace and check, and every finding with its evidence and fix. It loads nothing from
// the network.
func WriteHTML(w io.Writer, s *Scan) error {
	d := htmlData{Scan: s, Severities: []string{"critical", "high", "medium", "low", "info"}}
	for _, f := range s.Findings {
		if ns := f.Object.Namespace; ns != "" && !slices.Contains(d.Namespaces, ns) {
			d.Namespaces = append(d.Namespaces, ns)
		}
		if !slices.Contains(d.Checks, f.Check) {
			d.Checks = append(d.Checks, f.Check)
		}
	}
	slices.Sort(d.Namespaces)
	slices.Sort(d.Checks)
	if err := htmlReport.Execute(w, d); err != nil {
		return fmt.Errorf("rendering HTML: %w", err)
	}
	return nil
}
