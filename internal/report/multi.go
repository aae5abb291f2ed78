package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kwid-dev/kwid/internal/checks"
)

// MultiScan is the result of one `kwid scan` over several clusters (docs/json-output.md):
// one ScanResult per cluster, unchanged, and the findings that only several clusters
// together show.
type MultiScan struct {
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	KwidVersion string `json:"kwidVersion,omitempty"`
	// Summary counts the findings of every cluster and the cross-cluster ones.
	Summary      Summary      `json:"summary"`
	Clusters     []*Scan      `json:"clusters"`
	CrossCluster CrossCluster `json:"crossCluster"`
}

// CrossCluster are the findings about several clusters at once.
type CrossCluster struct {
	Summary     Summary               `json:"summary"`
	Findings    []checks.CrossFinding `json:"findings"`
	NotAssessed []checks.NotAssessed  `json:"notAssessed"`
}

// MultiFormats lists the output formats of WriteMulti.
var MultiFormats = []string{"table", "json", "yaml", "markdown"}

// NewMultiScan assembles a multi-cluster result from the clusters' results.
func NewMultiScan(clusters []*Scan, cross *checks.CrossResult) *MultiScan {
	m := &MultiScan{APIVersion: APIVersion, Kind: "MultiScanResult", Clusters: clusters,
		CrossCluster: CrossCluster{Findings: cross.Findings, NotAssessed: cross.NotAssessed}}
	for _, f := range cross.Findings {
		m.CrossCluster.Summary.count(f.Severity)
	}
	for _, s := range clusters {
		m.Summary.plus(s.Summary)
	}
	m.Summary.plus(m.CrossCluster.Summary)
	return m
}

func (s *Summary) count(sev checks.Severity) {
	s.Total++
	switch sev {
	case checks.Critical:
		s.Critical++
	case checks.High:
		s.High++
	case checks.Medium:
		s.Medium++
	case checks.Low:
		s.Low++
	default:
		s.Info++
	}
}

func (s *Summary) plus(o Summary) {
	s.Total += o.Total
	s.Critical += o.Critical
	s.High += o.High
	s.Medium += o.Medium
	s.Low += o.Low
	s.Info += o.Info
}

// AtOrAbove reports whether any finding of any cluster, or any cross-cluster finding, is
// at or above a severity.
func (m *MultiScan) AtOrAbove(sev checks.Severity) bool {
	for _, s := range m.Clusters {
		if s.AtOrAbove(sev) {
			return true
		}
	}
	return slices.ContainsFunc(m.CrossCluster.Findings, func(f checks.CrossFinding) bool { return f.Severity >= sev })
}

// WriteMulti renders a multi-cluster result: JSON or YAML as one MultiScanResult
// document; table and markdown as one section per cluster, then the cross-cluster
// findings. color adds ANSI colours to the table's severity headings.
func WriteMulti(w io.Writer, format string, m *MultiScan, color bool) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(m)
	case "yaml":
		return WriteYAML(w, m)
	case "markdown":
		for _, s := range m.Clusters {
			if err := WriteMarkdown(w, s); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
		return writeCrossMarkdown(w, m)
	case "table", "":
		for i, s := range m.Clusters {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "=== Cluster %s ===\n\n", s.Cluster.Name)
			if err := WriteTable(w, s, color); err != nil {
				return err
			}
		}
		return writeCrossTable(w, m, color)
	}
	return fmt.Errorf("output format %q is not available for several clusters (want one of %s)", format, strings.Join(MultiFormats, ", "))
}

func clusterNames(m *MultiScan) string {
	var names []string
	for _, s := range m.Clusters {
		names = append(names, s.Cluster.Name)
	}
	return strings.Join(names, ", ")
}

func writeCrossTable(w io.Writer, m *MultiScan, color bool) error {
	fmt.Fprintf(w, "\n=== Across clusters %s ===\n\n", clusterNames(m))
	fs := m.CrossCluster.Findings
	for i := 0; i < len(fs); {
		sev := fs[i].Severity
		j := i
		for j < len(fs) && fs[j].Severity == sev {
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
		for _, f := range fs[i:j] {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Check, f.Object, f.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		i = j
	}
	if len(m.CrossCluster.NotAssessed) > 0 {
		fmt.Fprintln(w, "\nNot assessed across clusters (missing data is never a pass):")
		for _, n := range m.CrossCluster.NotAssessed {
			fmt.Fprintf(w, "  %s: %s\n", n.Check, n.Reason)
		}
	}
	c, sum := m.CrossCluster.Summary, m.Summary
	fmt.Fprintf(w, "\n%d cross-cluster findings. All %d clusters: %d findings: %d critical, %d high, %d medium, %d low, %d info.\n",
		c.Total, len(m.Clusters), sum.Total, sum.Critical, sum.High, sum.Medium, sum.Low, sum.Info)
	return nil
}

func writeCrossMarkdown(w io.Writer, m *MultiScan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### kwid: %d cross-cluster findings (%s)\n\n", m.CrossCluster.Summary.Total, mdEscape(clusterNames(m)))
	if len(m.CrossCluster.Findings) > 0 {
		b.WriteString("| Severity | Check | Object | Clusters | Finding |\n|---|---|---|---|---|\n")
		for _, f := range m.CrossCluster.Findings {
			fmt.Fprintf(&b, "| **%s** | %s | `%s` | %s | %s |\n", f.Severity, f.Check, f.Object, mdEscape(strings.Join(f.Clusters, ", ")), mdEscape(f.Message))
		}
	}
	for _, n := range m.CrossCluster.NotAssessed {
		fmt.Fprintf(&b, "\n- not assessed: **%s**: %s", n.Check, mdEscape(n.Reason))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
