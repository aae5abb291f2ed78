package controller

import (
	"sync"
	"time"

	"github.com/kwid-dev/kwid/internal/report"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the controller's Prometheus series. Names are a contract (the Grafana
// dashboard in deploy/grafana and docs/controller.md use them).
type Metrics struct {
	mu          sync.Mutex
	findings    *prometheus.GaugeVec
	notAssessed *prometheus.GaugeVec
	duration    prometheus.Histogram
	evaluations *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

// NewMetrics registers the controller's series on reg; the objects watched are read from
// src at each scrape.
func NewMetrics(reg prometheus.Registerer, src Source) *Metrics {
	m := &Metrics{
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kwid_findings",
			Help: "Findings of the last evaluation, by check, severity and namespace (\"\" for cluster-scoped objects).",
		}, []string{"check", "severity", "namespace"}),
		notAssessed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kwid_checks_not_assessed",
			Help: "1 for each check the last evaluation could not assess (a kind it needs could not be read).",
		}, []string{"check"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kwid_evaluation_duration_seconds",
			Help:    "Time to evaluate the checks and write the PolicyReports.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kwid_evaluations_total",
			Help: "Evaluations run, by result (ok or error).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kwid_last_evaluation_success_timestamp_seconds",
			Help: "Unix time of the last evaluation whose reports were written.",
		}),
	}
	m.evaluations.WithLabelValues("ok")
	m.evaluations.WithLabelValues("error")
	reg.MustRegister(m.findings, m.notAssessed, m.duration, m.evaluations, m.lastSuccess, watchedCollector{src})
	return m
}

func (m *Metrics) observe(scan *report.Scan, took time.Duration, err error) {
	m.duration.Observe(took.Seconds())
	// The findings are known even when some report could not be written (a namespace
	// being deleted, say): the gauges follow the evaluation, the counter says it failed.
	if err != nil {
		m.evaluations.WithLabelValues("error").Inc()
	} else {
		m.evaluations.WithLabelValues("ok").Inc()
		m.lastSuccess.Set(float64(time.Now().Unix()))
	}

	type key struct{ check, severity, namespace string }
	counts := map[key]int{}
	for _, f := range scan.Findings {
		counts[key{f.Check, f.Severity.String(), f.Object.Namespace}]++
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Series of fixed findings must disappear, not stay at their last value.
	m.findings.Reset()
	for k, n := range counts {
		m.findings.WithLabelValues(k.check, k.severity, k.namespace).Set(float64(n))
	}
	m.notAssessed.Reset()
	for _, n := range scan.NotAssessed {
		m.notAssessed.WithLabelValues(n.Check).Set(1)
	}
}

// watchedCollector reports the objects cached per kind at scrape time.
type watchedCollector struct{ src Source }

var watchedDesc = prometheus.NewDesc("kwid_objects_watched", "Objects in the controller's caches, by kind.", []string{"kind"}, nil)

func (w watchedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- watchedDesc }

func (w watchedCollector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range w.src.Counts() {
		ch <- prometheus.MustNewConstMetric(watchedDesc, prometheus.GaugeValue, float64(n), string(k))
	}
}
