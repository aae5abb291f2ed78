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
	// Graph holds the escalation paths of KW-ESC-009 findings, drawn in the page.
	Graph *htmlGraph
}

// htmlGraph is the union of the escalation paths of KW-ESC-009 findings: nodes with their
// distance (hops) to cluster-admin, and edges labelled with their primitive.
type htmlGraph struct {
	Nodes []htmlNode `json:"nodes"`
	Edges []htmlEdge `json:"edges"`
}

type htmlNode struct {
	ID   string `json:"id"`
	Dist int    `json:"dist"`
}

type htmlEdge struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Primitive string `json:"primitive"`
}

func escalationGraph(findings []checks.Finding) *htmlGraph {
	g := &htmlGraph{}
	dist := map[string]int{}
	seen := map[htmlEdge]bool{}
	var order []string
	for _, f := range findings {
		if f.Check != "KW-ESC-009" {
			continue
		}
		var hops []htmlEdge
		for _, line := range f.Evidence {
			if p, from, to, ok := checks.ParseHopLine(line); ok {
				hops = append(hops, htmlEdge{From: from, To: to, Primitive: p})
			}
		}
		for i, h := range hops {
			for id, d := range map[string]int{h.From: len(hops) - i, h.To: len(hops) - i - 1} {
				if old, ok := dist[id]; !ok || d < old {
					if !ok {
						order = append(order, id)
					}
					dist[id] = d
				}
			}
			if !seen[h] {
				seen[h] = true
				g.Edges = append(g.Edges, h)
			}
		}
	}
	if len(order) == 0 {
		return nil
	}
	slices.Sort(order)
	for _, id := range order {
		g.Nodes = append(g.Nodes, htmlNode{ID: id, Dist: dist[id]})
	}
	return g
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
	d.Graph = escalationGraph(s.Findings)
	slices.Sort(d.Namespaces)
	slices.Sort(d.Checks)
	if err := htmlReport.Execute(w, d); err != nil {
		return fmt.Errorf("rendering HTML: %w", err)
	}
	return nil
}
