// Package controller is kwid's continuous mode: it re-evaluates the checks whenever the
// watched cluster state changes (coalescing bursts of changes into one evaluation), writes
// the results as wgpolicyk8s.io/v1alpha2 PolicyReports (one per namespace with findings and
// one ClusterPolicyReport), and exposes them as Prometheus metrics.
//
// Data flows one way: a Source (the informer caches of internal/clusterstate) gives an
// immutable Snapshot, the checks judge it, a ReportWriter applies what changed.
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/report"
)

// Source is the cluster state the controller watches.
type Source interface {
	// Snapshot returns an immutable view of the current state.
	Snapshot() *inventory.Snapshot
	// OnChange registers a callback run after any add, update or delete.
	OnChange(func(kind inventory.Kind, namespace, name string))
	// Counts returns how many objects of each kind are watched.
	Counts() map[inventory.Kind]int
}

// ReportWriter stores the PolicyReports of one evaluation.
type ReportWriter interface {
	Write(ctx context.Context, reports []any) (WriteStats, error)
}

// WriteStats says what one Write changed.
type WriteStats struct {
	Applied, Deleted, Unchanged int
}

// Options tune the controller.
type Options struct {
	// Config is the checks' configuration (allowlist, disabled checks, severities).
	Config *checks.Config
	// Debounce is how long the cluster must be quiet before an evaluation starts; changes
	// keep arriving during a long burst, so MaxDelay bounds the wait.
	Debounce time.Duration
	// MaxDelay is the longest a change waits for its evaluation.
	MaxDelay time.Duration
	// Resync re-evaluates this often even without changes (expiring data, clock-based
	// checks); 0 disables it.
	Resync time.Duration
	// Logger receives one line per evaluation; nil is slog.Default().
	Logger *slog.Logger
}

// Controller evaluates the checks on a Source and writes PolicyReports.
type Controller struct {
	src     Source
	out     ReportWriter
	metrics *Metrics
	opts    Options
	changed chan struct{}
}

// New returns a controller; call Run to start it. metrics may be nil.
func New(src Source, out ReportWriter, metrics *Metrics, opts Options) *Controller {
	if opts.Config == nil {
		opts.Config = checks.DefaultConfig()
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 2 * time.Second
	}
	if opts.MaxDelay < opts.Debounce {
		opts.MaxDelay = 10 * opts.Debounce
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Controller{src: src, out: out, metrics: metrics, opts: opts, changed: make(chan struct{}, 1)}
	src.OnChange(func(inventory.Kind, string, string) { c.trigger() })
	return c
}

// trigger records that something changed, without blocking the informers.
func (c *Controller) trigger() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Run evaluates once, then again after every quiet period following changes, until ctx
// ends. An evaluation that fails is logged and counted, and retried on the next change or
// resync.
func (c *Controller) Run(ctx context.Context) error {
	var resync <-chan time.Time
	if c.opts.Resync > 0 {
		t := time.NewTicker(c.opts.Resync)
		defer t.Stop()
		resync = t.C
	}
	for {
		if err := c.Evaluate(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.opts.Logger.Error("evaluation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-resync:
		case <-c.changed:
			if !c.settle(ctx) {
				return nil
			}
		}
	}
}

// settle waits until no change arrived for Debounce, or MaxDelay passed since the first
// change; it reports false when ctx ended.
func (c *Controller) settle(ctx context.Context) bool {
	deadline := time.NewTimer(c.opts.MaxDelay)
	defer deadline.Stop()
	quiet := time.NewTimer(c.opts.Debounce)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-quiet.C:
			return true
		case <-c.changed:
			quiet.Reset(c.opts.Debounce)
		}
	}
}

// Evaluate runs the checks on the current state and writes the reports once.
func (c *Controller) Evaluate(ctx context.Context) error {
	start := time.Now()
	snap := c.src.Snapshot()
	in := checks.NewInput(snap)
	in.Config = c.opts.Config
	res := checks.Run(in)
	scan := report.NewScan(snap, res, nil)
	stats, err := c.out.Write(ctx, report.PolicyReports(scan))
	took := time.Since(start)
	if c.metrics != nil {
		c.metrics.observe(scan, took, err)
	}
	if err != nil {
		return fmt.Errorf("writing PolicyReports: %w", err)
	}
	c.opts.Logger.Info("evaluated", "findings", len(res.Findings), "notAssessed", len(res.NotAssessed),
		"reportsApplied", stats.Applied, "reportsDeleted", stats.Deleted, "reportsUnchanged", stats.Unchanged,
		"duration", took.Round(time.Millisecond))
	return nil
}
