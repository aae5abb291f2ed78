package controller

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// webhookMetrics are the series of kwid webhook the dashboard shows (internal/admission).
var webhookMetrics = []string{"kwid_webhook_decisions_total"}

// TestDashboardQueriesKnownMetrics: every series the Grafana dashboard queries is one kwid
// exports, and every controller series has a panel.
func TestDashboardQueriesKnownMetrics(t *testing.T) {
	data, err := os.ReadFile("../../deploy/helm/kwid/dashboards/kwid.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, &fakeSource{snap: load(t, fixed)})
	m.findings.WithLabelValues("KW-X", "high", "ns").Set(1)
	m.notAssessed.WithLabelValues("KW-X").Set(1)
	m.duration.Observe(1)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := slices.Clone(webhookMetrics)
	for _, f := range families {
		known = append(known, f.GetName())
		if f.GetType().String() == "HISTOGRAM" {
			known = append(known, f.GetName()+"_bucket", f.GetName()+"_sum", f.GetName()+"_count")
		}
	}
	used := map[string]bool{}
	series := regexp.MustCompile(`\bkwid_[a-z_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range series.FindAllString(tg.Expr, -1) {
				used[name] = true
				if !slices.Contains(known, name) {
					t.Errorf("panel %q queries %s, which kwid does not export (known: %v)", p.Title, name, known)
				}
			}
		}
	}
	for _, f := range families {
		name := f.GetName()
		if !used[name] && !used[name+"_bucket"] {
			t.Errorf("metric %s has no panel in the dashboard", name)
		}
	}
}
