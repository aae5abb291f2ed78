package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kwid-dev/kwid/internal/admission"
	"github.com/kwid-dev/kwid/internal/clusterstate"
)

type webhookOptions struct {
	kube       *genericclioptions.ConfigFlags
	certFile   string
	keyFile    string
	mode       string
	checkModes []string
	addr       string
	config     string
	gcPercent  int
}

func newWebhookCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &webhookOptions{kube: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   "webhook --tls-cert FILE --tls-key FILE",
		Short: "Validating admission webhook: kwid's checks on each object before it is stored",
		Long: `Serve a validating admission webhook (AdmissionReview v1) over TLS. For Pods and pod
templates (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs,
ReplicationControllers), ServiceAccounts, Roles, ClusterRoles, RoleBindings,
ClusterRoleBindings and Secrets it runs the checks that read the object's kind on the object
as it would be after the request, with the rest of the cluster kept by informers, and keeps
the findings about that object (for RBAC objects, also the findings it takes part in, such
as a ServiceAccount that a new RoleBinding makes cluster-admin).

Each finding is judged in a mode:
  enforce  the request is denied; the message carries the check ID, the reason and the fix
  warn     the request is admitted with an admission warning (kubectl prints it)
  audit    the request is admitted; the finding is logged and counted
By default critical and high findings are enforced and the others warned; --mode sets one
mode for every check and --check-mode ID=MODE one check's mode (it wins over --mode).
Dry-run requests are judged the same; their logs and counters are marked dry_run.
Deletes, subresources and other kinds are allowed.

Endpoints (HTTPS): /validate (point the ValidatingWebhookConfiguration here), /healthz,
/readyz (ready once every watched kind has synced or is known unreadable) and /metrics
(kwid_webhook_decisions_total{check,mode,decision,dry_run}, request counts and latency).
The certificate and key are reloaded when their files change. In a pod, the in-cluster
configuration is used unless --kubeconfig is given. See docs/webhook.md and
deploy/webhook/ for a ValidatingWebhookConfiguration.`,
		Example: `  kwid webhook --tls-cert tls.crt --tls-key tls.key
  kwid webhook --tls-cert tls.crt --tls-key tls.key --mode warn --check-mode KW-CRED-001=enforce
  kwid webhook --tls-cert tls.crt --tls-key tls.key --config kwid.yaml --addr :9443`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), g, streams)
		},
	}
	o.kube.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.certFile, "tls-cert", "", "PEM certificate file served (reloaded when it changes)")
	cmd.Flags().StringVar(&o.keyFile, "tls-key", "", "PEM private key file of the certificate")
	cmd.Flags().StringVar(&o.mode, "mode", "", "mode of every check: enforce, warn or audit (default: enforce critical and high findings, warn the others)")
	cmd.Flags().StringArrayVar(&o.checkModes, "check-mode", nil, "mode of one check, ID=MODE (repeatable), e.g. KW-SA-002=audit")
	cmd.Flags().StringVar(&o.addr, "addr", ":8443", "address to serve HTTPS on")
	cmd.Flags().StringVar(&o.config, "config", "", "YAML file tuning the checks (as kwid scan --config): allowlist, severity overrides, disabled checks")
	cmd.Flags().IntVar(&o.gcPercent, "gc-percent", admission.DefaultGCPercent, "Go GC target (as GOGC): higher means rarer collections of the cluster state, a shorter latency tail and more memory; 0 keeps the runtime's (GOGC)")
	return cmd
}

func (o *webhookOptions) run(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams) error {
	if o.certFile == "" || o.keyFile == "" {
		return usageErrorf("--tls-cert and --tls-key are required")
	}
	if o.gcPercent < 0 {
		return usageErrorf("--gc-percent must be 0 (the runtime's) or positive, got %d", o.gcPercent)
	}
	if o.gcPercent > 0 {
		// The informer state is a large live heap that every GC cycle marks; marking takes a
		// core for a while and delays the requests meanwhile (docs/performance.md).
		debug.SetGCPercent(o.gcPercent)
	}
	modes := admission.Modes{}
	if o.mode != "" {
		m, err := admission.ParseMode(o.mode)
		if err != nil {
			return usageErrorf("--mode: %v", err)
		}
		modes.Default = m
	}
	perCheck, err := admission.ParseCheckModes(o.checkModes)
	if err != nil {
		return usageErrorf("--check-mode: %v", err)
	}
	modes.Checks = perCheck
	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	restCfg, err := o.kube.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("no cluster to watch: %w", err)
	}
	// Decisions are the webhook's output: logged at info (debug with -v).
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(streams.ErrOut, &slog.HandlerOptions{Level: level}))

	namespace := ""
	if o.kube.Namespace != nil {
		namespace = *o.kube.Namespace
	}
	state, err := clusterstate.New(restCfg, clusterstate.Options{Namespace: namespace, Logger: log})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h, err := admission.NewHandler(admission.Options{State: state, Config: cfg, Modes: modes, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	srv := &admission.Server{CertFile: o.certFile, KeyFile: o.keyFile, Handler: h, Gatherer: reg, Logger: log}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	log.Info("webhook serving; syncing cluster state", "addr", ln.Addr().String())

	synced := make(chan error, 1)
	go func() { synced <- state.Start(ctx) }()
	select {
	case err := <-served:
		return err
	case err := <-synced:
		if err != nil {
			cancel()
			<-served
			return fmt.Errorf("watching the cluster: %w", err)
		}
	}
	for _, k := range admission.ReviewedKinds() {
		if st := state.Status(k); !st.Readable() {
			log.Warn("kind not watched: checks that read it are not assessed", "kind", k, "reason", st.Reason(k))
		}
	}
	log.Info("webhook ready", "addr", ln.Addr().String(), "objects", state.Counts())
	err = <-served
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
