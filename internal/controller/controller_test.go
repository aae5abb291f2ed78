package controller

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSource serves fixed snapshots: pure logic, the live behaviour is tested against the
// real control plane in internal/cli.
type fakeSource struct {
	mu       sync.Mutex
	snap     *inventory.Snapshot
	onChange []func(inventory.Kind, string, string)
	served   int
}

func (f *fakeSource) Snapshot() *inventory.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served++
	return f.snap
}

func (f *fakeSource) OnChange(fn func(inventory.Kind, string, string)) {
	f.onChange = append(f.onChange, fn)
}

func (f *fakeSource) Counts() map[inventory.Kind]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[inventory.Kind]int{inventory.Pods: len(f.snap.Pods), inventory.ServiceAccounts: len(f.snap.ServiceAccounts)}
}

func (f *fakeSource) set(t *testing.T, yaml string) {
	t.Helper()
	s := load(t, yaml)
	f.mu.Lock()
	f.snap = s
	f.mu.Unlock()
	for _, fn := range f.onChange {
		fn(inventory.Pods, "team", "x")
	}
}

func (f *fakeSource) evaluations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served
}

// memWriter keeps the last reports, by namespace.
type memWriter struct {
	mu      sync.Mutex
	reports map[string]string
	writes  int
}

func (m *memWriter) Write(_ context.Context, reports []any) (WriteStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	m.reports = map[string]string{}
	for _, r := range reports {
		obj, err := toUnstructured(r)
		if err != nil {
			return WriteStats{}, err
		}
		data, _ := json.Marshal(obj.Object)
		m.reports[obj.GetNamespace()] = string(data)
	}
	return WriteStats{Applied: len(reports)}, nil
}

func (m *memWriter) get(ns string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reports[ns]
}

func load(t *testing.T, yaml string) *inventory.Snapshot {
	t.Helper()
	path := t.TempDir() + "/objects.yaml"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s, errs, err := inventory.LoadFiles(context.Background(), []string{path}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading fixture: %v %v", err, errs)
	}
	return s
}

const violating = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: team}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: team}
spec:
  serviceAccountName: default
  containers:
  - name: app
    image: app
    env:
    - {name: AWS_ACCESS_KEY_ID, value: AKIA2JQZX7KDR4MBNW5T}
    - {name: AWS_SECRET_ACCESS_KEY, value: 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}
`

const fixed = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: team}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: team}
spec:
  serviceAccountName: app
  automountServiceAccountToken: false
  containers:
  - name: app
    image: app
`

func TestControllerReportsFollowChanges(t *testing.T) {
	src := &fakeSource{snap: load(t, violating)}
	out := &memWriter{}
	reg := prometheus.NewRegistry()
	c := New(src, out, NewMetrics(reg, src), Options{Debounce: 20 * time.Millisecond, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	waitFor(t, "a report with KW-CRED-001 in namespace team", func() bool { return strings.Contains(out.get("team"), "KW-CRED-001") })
	if got := testutil.ToFloat64(c.metrics.findings.WithLabelValues("KW-CRED-001", "high", "team")); got != 1 {
		t.Errorf("kwid_findings{check=KW-CRED-001,namespace=team} = %v, want 1", got)
	}

	src.set(t, fixed)
	waitFor(t, "the team report gone once the pod is fixed", func() bool { return out.get("team") == "" })
	// A fixed finding's series disappears rather than staying at its last value.
	if n := testutil.CollectAndCount(c.metrics.findings, "kwid_findings"); n != 0 {
		t.Errorf("kwid_findings still has %d series after the fix", n)
	}
	if !strings.Contains(out.get(""), "ClusterPolicyReport") {
		t.Errorf("no ClusterPolicyReport written: %q", out.get(""))
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kwid_objects_watched Objects in the controller's caches, by kind.
# TYPE kwid_objects_watched gauge
kwid_objects_watched{kind="Pod"} 1
kwid_objects_watched{kind="ServiceAccount"} 1
`), "kwid_objects_watched"); err != nil {
		t.Error(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A burst of changes is one evaluation, not one per change.
func TestControllerCoalescesBursts(t *testing.T) {
	src := &fakeSource{snap: load(t, fixed)}
	out := &memWriter{}
	c := New(src, out, nil, Options{Debounce: 200 * time.Millisecond, MaxDelay: time.Minute, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()
	waitFor(t, "the first evaluation", func() bool { return src.evaluations() == 1 })
	for range 50 {
		c.trigger()
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "the evaluation after the burst", func() bool { return src.evaluations() == 2 })
	time.Sleep(400 * time.Millisecond)
	if n := src.evaluations(); n != 2 {
		t.Errorf("50 changes in a burst caused %d evaluations, want 1", n-1)
	}
}

// MaxDelay bounds the wait when changes never stop.
func TestControllerMaxDelay(t *testing.T) {
	src := &fakeSource{snap: load(t, fixed)}
	c := New(src, &memWriter{}, nil, Options{Debounce: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()
	waitFor(t, "the first evaluation", func() bool { return src.evaluations() == 1 })
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.trigger()
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	waitFor(t, "an evaluation despite constant changes", func() bool { return src.evaluations() >= 2 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var quiet = slog.New(slog.DiscardHandler)

// failingWriter writes nothing and fails, as when a namespace is being deleted.
type failingWriter struct{}

func (failingWriter) Write(context.Context, []any) (WriteStats, error) {
	return WriteStats{}, errors.New(`policyreports.wgpolicyk8s.io "kwid" is forbidden: namespace is being terminated`)
}

// A report that cannot be written does not hide the findings from the metrics.
func TestMetricsFollowFindingsWhenWritesFail(t *testing.T) {
	src := &fakeSource{snap: load(t, violating)}
	c := New(src, failingWriter{}, NewMetrics(prometheus.NewRegistry(), src), Options{Logger: quiet})
	if err := c.Evaluate(context.Background()); err == nil {
		t.Fatal("Evaluate should report the write failure")
	}
	if got := testutil.ToFloat64(c.metrics.findings.WithLabelValues("KW-CRED-001", "high", "team")); got != 1 {
		t.Errorf("kwid_findings{check=KW-CRED-001} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(c.metrics.evaluations.WithLabelValues("error")); got != 1 {
		t.Errorf("kwid_evaluations_total{result=error} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(c.metrics.lastSuccess); got != 0 {
		t.Errorf("last success set by a failed evaluation: %v", got)
	}
}
