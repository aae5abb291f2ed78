package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/controller"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

type controllerOptions struct {
	kube        *genericclioptions.ConfigFlags
	config      string
	metricsAddr string
	healthAddr  string
	debounce    time.Duration
	maxDelay    time.Duration
	resync      time.Duration
	leaderElect bool
	leaseNS     string
	leaseName   string
}

func newControllerCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &controllerOptions{kube: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Watch the cluster and keep PolicyReports and Prometheus metrics current",
		Long: `Run kwid continuously: watch the kinds the checks read (informers), re-evaluate the
checks when the cluster changes (bursts of changes are coalesced: an evaluation starts once
the cluster has been quiet for --debounce, and never later than --max-delay after a change),
and write the results as wgpolicyk8s.io/v1alpha2 PolicyReports (one per namespace with
findings, named "kwid") and a ClusterPolicyReport "kwid". Only the reports whose content
changed are written; reports of namespaces without findings any more are deleted.

Metrics (Prometheus text format on --metrics-addr /metrics): kwid_findings{check,severity,
namespace}, kwid_checks_not_assessed{check}, kwid_evaluation_duration_seconds,
kwid_evaluations_total{result}, kwid_last_evaluation_success_timestamp_seconds,
kwid_objects_watched{kind}. Probes on --health-addr: /healthz (the process is alive) and
/readyz (the caches have synced).

In a cluster it uses the pod's ServiceAccount; outside, the kubeconfig flags. With
--leader-elect, replicas elect a leader through a Lease and only the leader evaluates and
writes; the others keep warm caches and take over when the leader goes away.

kwid never changes cluster objects other than its PolicyReports and its Lease. It needs
the PolicyReport CRDs (deploy/crds/policyreports.yaml).`,
		Example: `  kwid controller --kubeconfig ~/.kube/config --metrics-addr 127.0.0.1:8080
  kwid controller --leader-elect --leader-election-namespace kwid   # in the cluster (Helm chart)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), g, streams)
		},
	}
	o.kube.AddFlags(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "YAML file tuning the checks (as kwid scan --config)")
	f.StringVar(&o.metricsAddr, "metrics-addr", ":8080", "address serving /metrics; empty disables it")
	f.StringVar(&o.healthAddr, "health-addr", ":8081", "address serving /healthz and /readyz; empty disables it")
	f.DurationVar(&o.debounce, "debounce", 5*time.Second, "quiet time after a change before re-evaluating")
	f.DurationVar(&o.maxDelay, "max-delay", time.Minute, "longest a change waits for its evaluation during a burst")
	f.DurationVar(&o.resync, "resync", 10*time.Minute, "re-evaluate this often without changes (0: never)")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader through a Lease so several replicas are safe")
	f.StringVar(&o.leaseNS, "leader-election-namespace", "", "namespace of the Lease (default: the pod's namespace, from POD_NAMESPACE or the ServiceAccount mount)")
	f.StringVar(&o.leaseName, "leader-election-id", "kwid-controller", "name of the Lease")
	return cmd
}

func (o *controllerOptions) run(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams) error {
	if o.debounce <= 0 || o.maxDelay < o.debounce || o.resync < 0 {
		return usageErrorf("--debounce must be positive and --max-delay at least --debounce (got %s, %s)", o.debounce, o.maxDelay)
	}
	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	restCfg, err := o.kube.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("cluster configuration: %w", err)
	}
	ns := ""
	if o.kube.Namespace != nil {
		ns = *o.kube.Namespace
	}
	state, err := clusterstate.New(restCfg, clusterstate.Options{Namespace: ns})
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("cluster client: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	log := slog.Default()
	klog.SetSlogLogger(log) // client-go's leader election and informers log through klog
	ctrl := controller.New(state, controller.NewAPIReportWriter(dyn), controller.NewMetrics(reg, state),
		controller.Options{Config: cfg, Debounce: o.debounce, MaxDelay: o.maxDelay, Resync: o.resync, Logger: log})

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var synced atomic.Bool
	grp, ctx := errgroup.WithContext(ctx)
	if o.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		grp.Go(func() error { return serveUntilDone(ctx, "metrics", o.metricsAddr, mux) })
	}
	if o.healthAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !synced.Load() {
				http.Error(w, "caches not synced yet", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		grp.Go(func() error { return serveUntilDone(ctx, "health", o.healthAddr, mux) })
	}
	grp.Go(func() error {
		log.Info("starting informers", "namespace", ns)
		if err := state.Start(ctx); err != nil {
			return fmt.Errorf("watching the cluster: %w", err)
		}
		synced.Store(true)
		log.Info("caches synced", "objects", state.Counts())
		if !o.leaderElect {
			return ctrl.Run(ctx)
		}
		return o.runElected(ctx, restCfg, ctrl)
	})
	err = grp.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// runElected runs the controller while this replica holds the Lease.
func (o *controllerOptions) runElected(ctx context.Context, restCfg *rest.Config, ctrl *controller.Controller) error {
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("cluster client: %w", err)
	}
	ns := o.leaseNS
	if ns == "" {
		ns = podNamespace()
	}
	if ns == "" {
		return usageErrorf("--leader-elect needs --leader-election-namespace outside a cluster")
	}
	host, _ := os.Hostname()
	id := host + "_" + rand.String(6)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: o.leaseName},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	log := slog.Default().With("lease", ns+"/"+o.leaseName, "identity", id)
	var runErr error
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		ReleaseOnCancel: true,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("leading")
				runErr = ctrl.Run(ctx)
			},
			OnStoppedLeading: func() { log.Info("stopped leading") },
			OnNewLeader: func(leader string) {
				if leader != id {
					log.Info("following", "leader", leader)
				}
			},
		},
	})
	if runErr != nil {
		return runErr
	}
	if ctx.Err() == nil {
		// Leadership lost while the process should go on: exit so that a restart rejoins
		// the election with fresh state, as Kubernetes controllers do.
		return errors.New("lost the leader Lease")
	}
	return nil
}

// podNamespace is the namespace this pod runs in, when it runs in a cluster.
func podNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// serveUntilDone runs an HTTP server until ctx ends.
func serveUntilDone(ctx context.Context, name, addr string, h http.Handler) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s server: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	slog.Info("serving", "server", name, "addr", lis.Addr().String())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s server: %w", name, err)
	}
	return nil
}
