package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/report"
	"github.com/kwid-dev/kwid/internal/rules"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// contexts lists the kubeconfig contexts of --context a,b (nil when one or none).
func (f *inputFlags) contexts() []string {
	if f.kube.Context == nil || !strings.Contains(*f.kube.Context, ",") {
		return nil
	}
	var out []string
	for _, c := range strings.Split(*f.kube.Context, ",") {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// multi reports whether the input names several clusters (--context a,b or several
// --snapshot); with one --snapshot it sets the single-cluster field.
func (f *inputFlags) multi() (bool, error) {
	ctxs := f.contexts()
	switch {
	case len(ctxs) > 0 && len(f.snapshots) > 0:
		return false, usageErrorf("use --context a,b or several --snapshot, not both")
	case len(ctxs) == 1:
		*f.kube.Context = ctxs[0]
		return false, nil
	case len(ctxs) == 0 && len(f.snapshots) == 1:
		f.snapshot = f.snapshots[0]
		return false, nil
	case len(ctxs) == 0 && len(f.snapshots) == 0:
		return false, nil
	}
	if len(f.files) > 0 || f.demo {
		return false, usageErrorf("several clusters are read from --context a,b or several --snapshot; -f and --demo read one")
	}
	return true, nil
}

// clusterSource is one cluster of a multi-cluster scan: a kubeconfig context or a
// snapshot file.
type clusterSource struct {
	context, snapshot string
}

func (c clusterSource) String() string {
	if c.context != "" {
		return "context " + c.context
	}
	return "snapshot " + c.snapshot
}

// loadedCluster is one cluster read for a multi-cluster scan, with its label.
type loadedCluster struct {
	label string
	src   clusterSource
	*loaded
}

// loadClusters reads every cluster of --context a,b or the --snapshot files, then the
// --cloud input of each: unscoped --cloud paths apply to every cluster, CLUSTER=PATH to
// the cluster labelled CLUSTER (its context, snapshot file, file name without extension,
// or the cluster name saved in the snapshot).
func (f *inputFlags) loadClusters(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams, fs *pflag.FlagSet) ([]*loadedCluster, error) {
	var srcs []clusterSource
	for _, c := range f.contexts() {
		srcs = append(srcs, clusterSource{context: c})
	}
	for _, s := range f.snapshots {
		srcs = append(srcs, clusterSource{snapshot: s})
	}
	var out []*loadedCluster
	for _, src := range srcs {
		sub := *f
		sub.snapshots = nil
		sub.cloud = nil
		if src.context != "" {
			sub.kube = withContext(f.kube, src.context)
		} else {
			sub.snapshot = src.snapshot
		}
		l, err := sub.loadSnapshot(ctx, g, streams, fs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		out = append(out, &loadedCluster{src: src, loaded: l})
	}
	labelClusters(out)
	var shared []string
	scoped := map[*loadedCluster][]string{}
	for _, c := range f.cloud {
		key, path, ok := strings.Cut(c, "=")
		if _, err := os.Stat(c); !ok || err == nil {
			shared = append(shared, c)
			continue
		}
		i := slices.IndexFunc(out, func(l *loadedCluster) bool { return l.matches(key) })
		if i < 0 {
			var labels []string
			for _, l := range out {
				labels = append(labels, l.label)
			}
			return nil, usageErrorf("--cloud %s: no cluster %q in this scan (clusters: %s)", c, key, strings.Join(labels, ", "))
		}
		scoped[out[i]] = append(scoped[out[i]], path)
	}
	for _, l := range out {
		paths := append(slices.Clone(shared), scoped[l]...)
		if len(paths) == 0 {
			continue
		}
		inv, err := cloud.Load(paths)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", l.label, err)
		}
		l.cloud = inv
	}
	return out, nil
}

// withContext is a copy of the kubeconfig flags naming another context (the flags cache
// their client config, so each context needs its own).
func withContext(k *genericclioptions.ConfigFlags, name string) *genericclioptions.ConfigFlags {
	c := genericclioptions.NewConfigFlags(false)
	c.CacheDir, c.KubeConfig = k.CacheDir, k.KubeConfig
	c.ClusterName, c.AuthInfoName, c.Namespace, c.APIServer, c.TLSServerName = k.ClusterName, k.AuthInfoName, k.Namespace, k.APIServer, k.TLSServerName
	c.Insecure, c.CertFile, c.KeyFile, c.CAFile, c.BearerToken = k.Insecure, k.CertFile, k.KeyFile, k.CAFile, k.BearerToken
	c.Impersonate, c.ImpersonateUID, c.ImpersonateGroup, c.ImpersonateUserExtra = k.Impersonate, k.ImpersonateUID, k.ImpersonateGroup, k.ImpersonateUserExtra
	c.Username, c.Password, c.Timeout, c.DisableCompression, c.WrapConfigFn = k.Username, k.Password, k.Timeout, k.DisableCompression, k.WrapConfigFn
	c.Context = &name
	return c
}

// labelClusters names each cluster uniquely: its context; for a snapshot, the context it
// was collected from, else (read from files, or the name is taken) the snapshot's file name
// without extensions. The label becomes the cluster name of its ScanResult.
func labelClusters(cs []*loadedCluster) {
	count := map[string]int{}
	for _, c := range cs {
		count[c.snap.Cluster.Name]++
	}
	taken := map[string]bool{}
	for i, c := range cs {
		label := c.src.context
		if label == "" {
			label = c.snap.Cluster.Name
			if c.snap.Cluster.Source != "live" || label == "" || count[label] > 1 {
				label = snapshotBase(c.src.snapshot)
			}
		}
		if taken[label] {
			label = fmt.Sprintf("%s#%d", label, i+1)
		}
		taken[label] = true
		c.label = label
		c.snap.Cluster.Name = label
	}
}

func snapshotBase(path string) string {
	b := filepath.Base(path)
	for _, ext := range []string{".gz", ".json", ".yaml"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

// matches reports whether a --cloud CLUSTER=PATH key names this cluster.
func (l *loadedCluster) matches(key string) bool {
	return key == l.label || key == l.src.context || l.src.snapshot != "" && (key == l.src.snapshot || key == snapshotBase(l.src.snapshot))
}

// runMulti is kwid scan over several clusters: each is scanned as usual, then the
// cross-cluster checks run over all of them (docs/cli.md, docs/cloud.md).
func (o *scanOptions) runMulti(cmd *cobra.Command, g *globalOptions, streams genericiooptions.IOStreams, outs []output, failOn checks.Severity, custom *rules.Set, base *checks.Baseline, cfg *checks.Config) error {
	for _, out := range outs {
		if !slices.Contains(report.MultiFormats, out.format) {
			return usageErrorf("-o %s is not available for several clusters (want one of %s)", out.format, strings.Join(report.MultiFormats, ", "))
		}
	}
	switch {
	case o.writeBase != "":
		return usageErrorf("--write-baseline takes one cluster")
	case len(o.auditLogs) > 0:
		return usageErrorf("--audit-log takes one cluster (an audit log is one cluster's)")
	}
	clusters, err := o.input.loadClusters(cmd.Context(), g, streams, cmd.Flags())
	if err != nil {
		return err
	}
	all := checks.All()
	if custom != nil {
		all = append(all, custom.Checks()...)
	}
	var scans []*report.Scan
	var inputs []checks.ClusterInput
	incomplete := false
	var expired, unused []checks.BaselineEntry
	for i, c := range clusters {
		input := c.checksInput()
		input.Config = cfg
		res := checks.Run(input, all...)
		if custom != nil {
			if errs := custom.Errors(); len(errs) > 0 {
				return fmt.Errorf("cluster %s: custom rules failed: %w", c.label, errors.Join(errs...))
			}
		}
		var baseRep *checks.BaselineReport
		if base != nil {
			rep := base.Apply(res, time.Now())
			baseRep = &rep
			for _, e := range rep.Expired {
				if !slices.Contains(expired, e) {
					expired = append(expired, e)
				}
			}
			if i == 0 {
				unused = rep.Unused
			} else {
				unused = slices.DeleteFunc(unused, func(e checks.BaselineEntry) bool { return !slices.Contains(rep.Unused, e) })
			}
		}
		scan := report.NewScan(c.snap, res, c.errors)
		scan.KwidVersion, scan.Baseline = kwidVersion(), baseRep
		incomplete = incomplete || len(c.errors) > 0
		scans = append(scans, scan)
		inputs = append(inputs, checks.ClusterInput{Name: c.label, In: input})
	}
	for _, e := range expired {
		fmt.Fprintf(streams.ErrOut, "kwid: WARNING: baseline entry expired on %s, its findings are reported again: %s %s (%s)\n", e.Expires, e.Check, e.Object, e.Reason)
	}
	for _, e := range unused {
		fmt.Fprintf(streams.ErrOut, "kwid: baseline entry matches no finding in any cluster (fixed? remove it): %s %s\n", e.Check, e.Object)
	}
	m := report.NewMultiScan(scans, checks.CrossCluster(inputs))
	m.KwidVersion = kwidVersion()
	for _, out := range outs {
		if err := writeMultiReport(streams, out, m); err != nil {
			return err
		}
	}
	switch {
	case o.failOn != "" && m.AtOrAbove(failOn):
		return &exitError{code: ExitFindings}
	case incomplete:
		return &exitError{code: ExitIncomplete}
	}
	return nil
}

func writeMultiReport(streams genericiooptions.IOStreams, out output, m *report.MultiScan) error {
	if out.file == "" {
		color := out.format == "table" && isTerminal(streams.Out) && os.Getenv("NO_COLOR") == ""
		if err := report.WriteMulti(streams.Out, out.format, m, color); err != nil {
			return fmt.Errorf("writing %s report: %w", out.format, err)
		}
		return nil
	}
	f, err := os.Create(out.file)
	if err != nil {
		return fmt.Errorf("writing %s report: %w", out.format, err)
	}
	if err := report.WriteMulti(f, out.format, m, false); err != nil {
		f.Close()
		return fmt.Errorf("writing %s report to %s: %w", out.format, out.file, err)
	}
	return f.Close()
}
