package admission

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// DefaultGCPercent is the Go GC target kwid webhook runs with (kwid webhook --gc-percent):
// the informer state is most of the heap and changes little, so collecting it four times
// less often than the runtime's default (100) shortens the latency tail (measured in
// docs/performance.md) for about 2.5x the state's memory.
const DefaultGCPercent = 400

// Paths served by Server.
const (
	ValidatePath = "/validate"
	HealthzPath  = "/healthz"
	ReadyzPath   = "/readyz"
	MetricsPath  = "/metrics"
)

// Server serves the webhook over TLS: ValidatePath, HealthzPath, ReadyzPath (ready once
// the cluster state has synced) and MetricsPath. The certificate and key are read from
// files and reloaded when the files change.
type Server struct {
	CertFile, KeyFile string
	Handler           *Handler
	// Gatherer is served on MetricsPath (nil = no metrics endpoint).
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// Timeouts bounding slow clients (zero = the defaults below).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Default timeouts. The API server gives a webhook at most 30 s (timeoutSeconds, 10 s by
// default); a client that has not sent its headers in 5 s or its body in 10 s is dropped.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 15 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
)

// Mux returns the server's routes, without TLS (for tests).
func (s *Server) Mux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ValidatePath, s.Handler)
	mux.HandleFunc(HealthzPath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc(ReadyzPath, func(w http.ResponseWriter, _ *http.Request) {
		if !s.Handler.state.Synced() {
			httpError(w, http.StatusServiceUnavailable, "cluster state not synced yet")
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	if s.Gatherer != nil {
		mux.Handle(MetricsPath, promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// Serve serves TLS on a listener until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	watcher, err := certwatcher.New(s.CertFile, s.KeyFile)
	if err != nil {
		return fmt.Errorf("loading TLS certificate %s and key %s: %w", s.CertFile, s.KeyFile, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		if err := watcher.Start(ctx); err != nil {
			log.Error("watching TLS certificate files", "err", err)
		}
	}()
	srv := &http.Server{
		Handler:           s.Mux(),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: watcher.GetCertificate},
		ReadHeaderTimeout: orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(s.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(s.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(s.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
