package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// inputFlags choose where a Snapshot comes from: a live cluster (kubectl's flags), manifest
// files (-f), a saved snapshot (--snapshot) or the embedded demo (--demo).
type inputFlags struct {
	kube          *genericclioptions.ConfigFlags
	files         []string
	snapshot      string
	demo          bool
	allNamespaces bool
	secretData    bool
	maxDocMiB     int
	// cloud are --cloud files and directories (the clouds' CLI JSON, docs/cloud.md);
	// cloudFlag: the command reads the cloud side.
	cloud     []string
	cloudFlag bool

	// kinds limits live collection (nil = all); set by commands that need only some.
	kinds []inventory.Kind
	// queryNamespace: -n names the namespace a question is about, not a collection scope.
	queryNamespace bool
	// multiCluster: --snapshot is repeatable (snapshots) and --context takes a list, for
	// scans of several clusters (scan_multi.go); set before addFlags.
	multiCluster bool
	snapshots    []string
}

// rbacKinds are what RBAC questions need: the bindings, the roles, and the
// ServiceAccounts that groups expand to.
var rbacKinds = []inventory.Kind{
	inventory.Namespaces, inventory.ServiceAccounts,
	inventory.Roles, inventory.ClusterRoles, inventory.RoleBindings, inventory.ClusterRoleBindings,
}

func newInputFlags() *inputFlags {
	return &inputFlags{kube: genericclioptions.NewConfigFlags(true), maxDocMiB: inventory.DefaultMaxDocumentSize >> 20}
}

func (f *inputFlags) addFlags(fs *pflag.FlagSet) {
	f.kube.AddFlags(fs)
	fs.StringArrayVarP(&f.files, "filename", "f", nil, "manifest file or directory (recursive) to read instead of a cluster; repeatable; - for stdin")
	if f.multiCluster {
		fs.StringArrayVar(&f.snapshots, "snapshot", nil, "saved snapshot file to read instead of a cluster (see kwid snapshot); repeatable: several are scanned as several clusters")
	} else {
		fs.StringVar(&f.snapshot, "snapshot", "", "saved snapshot file to read instead of a cluster (see kwid snapshot)")
	}
	fs.BoolVar(&f.demo, "demo", false, "use the realistic EKS cluster embedded in kwid (no cluster needed)")
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "all namespaces (the default unless -n is given)")
	fs.BoolVar(&f.secretData, "include-secret-data", false, "read Secret data and every Secret type (needed by static-credential checks); off: only ServiceAccount token Secrets' metadata")
	fs.IntVar(&f.maxDocMiB, "max-document-size", f.maxDocMiB, "largest YAML document read from files, in MiB")
}

// addCloudFlag adds --cloud, for the commands that read the cloud side (scan, paths,
// explain, graph, fix).
func (f *inputFlags) addCloudFlag(fs *pflag.FlagSet) {
	f.cloudFlag = true
	fs.StringArrayVar(&f.cloud, "cloud", nil, "file or directory (*.json below it) of AWS, gcloud and az CLI JSON output: IAM roles, EKS, GKE, Azure identities (see docs/cloud.md); repeatable; --demo includes its own")
}

// namespace is the namespace scope: "" (all) unless -n was given explicitly.
func (f *inputFlags) namespace(fs *pflag.FlagSet) string {
	if f.allNamespaces || !fs.Changed("namespace") || f.kube.Namespace == nil {
		return ""
	}
	return *f.kube.Namespace
}

// loaded is a Snapshot and the input problems met while reading it, and the cloud side.
type loaded struct {
	snap   *inventory.Snapshot
	errors []*inventory.InputError
	cloud  *cloud.Inventory
}

// checksInput indexes the Snapshot for the checks, with the cloud side.
func (l *loaded) checksInput() *checks.Input {
	in := checks.NewInput(l.snap)
	in.Cloud = l.cloud
	return in
}

// loadCloud reads --cloud (the embedded demo's cloud side with --demo and no --cloud).
func (f *inputFlags) loadCloud() (*cloud.Inventory, error) {
	switch {
	case len(f.cloud) > 0:
		return cloud.Load(f.cloud)
	case f.demo && f.cloudFlag:
		return cloud.LoadDemo()
	}
	return nil, nil
}

func (f *inputFlags) load(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams, fs *pflag.FlagSet) (*loaded, error) {
	// The cloud side is small and its errors are the user's to fix first.
	inv, err := f.loadCloud()
	if err != nil {
		return nil, err
	}
	l, err := f.loadSnapshot(ctx, g, streams, fs)
	if l != nil {
		l.cloud = inv
	}
	return l, err
}

func (f *inputFlags) loadSnapshot(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams, fs *pflag.FlagSet) (*loaded, error) {
	sources := 0
	for _, set := range []bool{len(f.files) > 0, f.snapshot != "", f.demo} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return nil, usageErrorf("use only one of -f, --snapshot and --demo")
	}
	if f.allNamespaces && fs.Changed("namespace") {
		return nil, usageErrorf("use -n or -A, not both")
	}
	if f.maxDocMiB <= 0 {
		return nil, usageErrorf("--max-document-size must be positive")
	}
	opts := inventory.Options{Namespace: f.namespace(fs), SecretData: f.secretData, Kinds: f.kinds}
	if f.queryNamespace {
		opts.Namespace = ""
	}
	switch {
	case f.demo:
		s, err := inventory.LoadDemo(ctx, opts)
		return &loaded{snap: s}, err
	case f.snapshot != "":
		var loadOpts []inventory.LoadOption
		if isTerminal(streams.ErrOut) {
			loadOpts = append(loadOpts, inventory.WithProgress(func(done, total int) {
				fmt.Fprintf(streams.ErrOut, "\rreading %s: %d/%d objects", f.snapshot, done, total)
				if done == total {
					fmt.Fprintln(streams.ErrOut)
				}
			}))
		}
		s, err := inventory.LoadFile(f.snapshot, loadOpts...)
		if err != nil {
			return nil, err
		}
		if opts.Namespace != "" || opts.SecretData {
			return nil, usageErrorf("-n and --include-secret-data apply when collecting; a snapshot is read as saved")
		}
		return &loaded{snap: s}, nil
	case len(f.files) > 0:
		fo := inventory.FileOptions{Options: opts, MaxDocumentSize: f.maxDocMiB << 20, Stdin: streams.In, Logger: g.logger}
		if isTerminal(streams.ErrOut) {
			fo.Progress = func(docs int) { fmt.Fprintf(streams.ErrOut, "\rreading manifests: %d documents", docs) }
		}
		s, errs, err := inventory.LoadFiles(ctx, f.files, fo)
		if fo.Progress != nil {
			fmt.Fprintln(streams.ErrOut)
		}
		if err != nil {
			return nil, err
		}
		for _, e := range errs {
			fmt.Fprintf(streams.ErrOut, "kwid: skipped %v\n", e)
		}
		return &loaded{snap: s, errors: errs}, nil
	}
	return f.loadLive(ctx, g, streams, opts)
}

func (f *inputFlags) loadLive(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams, opts inventory.Options) (*loaded, error) {
	const hint = "try kwid with --demo, -f FILES or --snapshot FILE"
	raw, err := f.kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w; %s", err, hint)
	}
	inCluster := os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	if len(raw.Clusters) == 0 && !inCluster && (f.kube.APIServer == nil || *f.kube.APIServer == "") {
		return nil, fmt.Errorf("no cluster configured (no kubeconfig found: set KUBECONFIG or --kubeconfig); %s", hint)
	}
	cfg, err := f.kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to read (%w); %s", err, hint)
	}
	name := raw.CurrentContext
	if f.kube.Context != nil && *f.kube.Context != "" {
		name = *f.kube.Context
	}
	lo := inventory.LiveOptions{Options: opts, Name: name, Logger: g.logger}
	if isTerminal(streams.ErrOut) {
		lo.Progress = func(done, total, objects int) {
			fmt.Fprintf(streams.ErrOut, "\rcollecting %s: %d/%d kinds, %d objects", name, done, total, objects)
			if done == total {
				fmt.Fprintln(streams.ErrOut)
			}
		}
	}
	s, err := inventory.LoadLive(ctx, cfg, lo)
	if err != nil {
		return nil, err
	}
	for _, k := range inventory.AllKinds {
		if st := s.StatusOf(k); st.State == inventory.Forbidden || st.State == inventory.Failed {
			g.logger.Warn("kind not collected", "kind", k, "state", st.State)
		}
	}
	return &loaded{snap: s}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// oneOf validates an enumerated flag value.
func oneOf(flag, value string, allowed []string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return usageErrorf("--%s %q: want one of %s", flag, value, strings.Join(allowed, ", "))
}
