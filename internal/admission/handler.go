package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// MaxBodyBytes bounds an AdmissionReview body. The API server accepts objects up to about
// 1.5 MiB (etcd's limit) in requests of at most 3 MiB, and wraps them with its own fields;
// 3 MiB plus room for the review is more than any review it sends.
const MaxBodyBytes = 3<<20 + 64<<10

// warningRunes is where a warning is cut: the API server truncates each to 256 runes once
// a response's warnings exceed 4 KiB.
const warningRunes = 250

// Options configure a Handler.
type Options struct {
	State  *clusterstate.State
	Config *checks.Config // nil = defaults
	Modes  Modes
	Logger *slog.Logger // nil = discard
	// Registerer receives the webhook's metrics (nil = not registered).
	Registerer prometheus.Registerer
}

// Handler serves AdmissionReview v1 requests (POST, JSON).
type Handler struct {
	eval      *Evaluator
	state     *clusterstate.State
	modes     Modes
	log       *slog.Logger
	decisions *prometheus.CounterVec
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// NewHandler returns a Handler; it registers its metrics on opts.Registerer.
func NewHandler(opts Options) (*Handler, error) {
	if opts.State == nil {
		return nil, errors.New("admission: no cluster state")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		eval:  NewEvaluator(opts.State, opts.Config),
		state: opts.State,
		modes: opts.Modes,
		log:   log,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kwid_webhook_decisions_total",
			Help: "Findings judged at admission, by check, mode (enforce, warn, audit), decision (denied, warned, audited) and whether the request was a dry run.",
		}, []string{"check", "mode", "decision", "dry_run"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kwid_webhook_requests_total",
			Help: "AdmissionReview requests answered, by kind, operation and whether they were allowed.",
		}, []string{"kind", "operation", "allowed"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kwid_webhook_request_duration_seconds",
			Help:    "Time to judge one AdmissionReview, from the decoded request to the response.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"kind"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{h.decisions, h.requests, h.duration} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("registering webhook metrics: %w", err)
			}
		}
	}
	return h, nil
}

// Evaluator returns the Handler's evaluator.
func (h *Handler) Evaluator() *Evaluator { return h.eval }

// httpError answers with a status and a plain-text message.
func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, format+"\n", args...)
}

// errNotReady: the cluster state has not synced; the API server applies the webhook's
// failurePolicy.
var errNotReady = errors.New("kwid: cluster state not synced yet")

// bodies are request body buffers reused from request to request (those that grew past
// maxPooledBody are left to the GC).
var bodies sync.Pool

const maxPooledBody = 256 << 10

var reviewAPIVersion = admissionv1.SchemeGroupVersion.String()

// ServeHTTP decodes one AdmissionReview and answers it. Bodies that are not an
// AdmissionReview v1 get 400, bodies over MaxBodyBytes 413, other methods 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "kwid webhook: method %s not allowed: POST an AdmissionReview", r.Method)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			httpError(w, http.StatusUnsupportedMediaType, "kwid webhook: content type %q not supported: want application/json", ct)
			return
		}
	}
	buf, _ := bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodies.Put(buf)
		}
	}()
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	body := buf.Bytes() // decoding copies what it keeps
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpError(w, http.StatusRequestEntityTooLarge, "kwid webhook: request body over %d bytes", MaxBodyBytes)
			return
		}
		httpError(w, http.StatusBadRequest, "kwid webhook: reading request body: %v", err)
		return
	}
	req, err := decodeReview(body)
	if err != nil {
		httpError(w, http.StatusBadRequest, "kwid webhook: %v", err)
		return
	}
	resp, err := h.Review(req)
	if errors.Is(err, errNotReady) {
		httpError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: "AdmissionReview"},
		Response: resp,
	})
	if err != nil {
		httpError(w, http.StatusInternalServerError, "kwid webhook: encoding response: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// decodeReview reads an AdmissionReview v1 with a request and a UID.
func decodeReview(body []byte) (*admissionv1.AdmissionRequest, error) {
	if len(body) == 0 {
		return nil, errors.New("empty request body: want an AdmissionReview")
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, fmt.Errorf("malformed AdmissionReview: %w", err)
	}
	if review.APIVersion != reviewAPIVersion || review.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("malformed AdmissionReview: apiVersion %q kind %q, want admission.k8s.io/v1 AdmissionReview", review.APIVersion, review.Kind)
	}
	if review.Request == nil {
		return nil, errors.New("malformed AdmissionReview: no request")
	}
	if review.Request.UID == "" {
		return nil, errors.New("malformed AdmissionReview: request has no uid")
	}
	return review.Request, nil
}

// Review judges one admission request. Only errNotReady is returned as an error; every
// other problem is an answer.
func (h *Handler) Review(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update || req.SubResource != "" {
		return resp, nil // deletes and connects are allowed; subresources carry other objects
	}
	k, obj := newObject(req.Kind)
	if obj == nil {
		return resp, nil // not a kind kwid judges
	}
	if !h.state.Synced() {
		return nil, errNotReady
	}
	start := time.Now()
	if len(req.Object.Raw) == 0 {
		return denied(resp, http.StatusBadRequest, fmt.Sprintf("kwid: %s %s has no object", req.Kind.Kind, objectName(req.Namespace, req.Name))), nil
	}
	if err := json.Unmarshal(req.Object.Raw, obj); err != nil {
		return denied(resp, http.StatusBadRequest, fmt.Sprintf("kwid: decoding %s %s: %v", req.Kind.Kind, objectName(req.Namespace, req.Name), err)), nil
	}
	if k.Namespaced() && obj.GetNamespace() == "" {
		obj.SetNamespace(req.Namespace)
	}
	if obj.GetName() == "" {
		name := req.Name
		if name == "" {
			name = obj.GetGenerateName() + "*" // the API server names it after admission
		}
		obj.SetName(name)
	}
	dryRun := req.DryRun != nil && *req.DryRun
	judged := judge(h.eval.Evaluate(k, obj), h.modes)

	ref := inventory.ObjectRef{Kind: k, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	var deny []string
	for _, j := range judged {
		decision := "audited"
		switch j.Mode {
		case Enforce:
			decision = "denied"
			deny = append(deny, denyLine(&j.Finding))
		case Warn:
			decision = "warned"
			resp.Warnings = append(resp.Warnings, warning(&j.Finding))
		}
		h.decisions.WithLabelValues(j.Check, string(j.Mode), decision, strconv.FormatBool(dryRun)).Inc()
		h.log.Info("admission finding", "decision", decision, "check", j.Check, "severity", j.Severity.String(),
			"mode", string(j.Mode), "object", ref.String(), "operation", string(req.Operation),
			"user", req.UserInfo.Username, "dry_run", dryRun, "message", j.Message)
	}
	if len(deny) > 0 {
		msg := fmt.Sprintf("kwid: %s violates %d enforced check(s):\n%s", ref, len(deny), strings.Join(deny, "\n"))
		denied(resp, http.StatusForbidden, msg)
	}
	h.requests.WithLabelValues(string(k), string(req.Operation), strconv.FormatBool(resp.Allowed)).Inc()
	h.duration.WithLabelValues(string(k)).Observe(time.Since(start).Seconds())
	return resp, nil
}

func denied(resp *admissionv1.AdmissionResponse, code int32, msg string) *admissionv1.AdmissionResponse {
	resp.Allowed = false
	resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: metav1.StatusReason(http.StatusText(int(code))), Message: msg}
	if code == http.StatusForbidden {
		resp.Result.Reason = metav1.StatusReasonForbidden
	} else if code == http.StatusBadRequest {
		resp.Result.Reason = metav1.StatusReasonBadRequest
	}
	return resp
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// denyLine is one enforced finding: the check ID, the reason and the fix.
func denyLine(f *checks.Finding) string {
	s := fmt.Sprintf("- %s (%s) %s: %s", f.Check, f.Severity, f.Title, f.Message)
	if f.Remediation != "" {
		s += ". Fix: " + f.Remediation
	}
	return s
}

// warning is one warned finding, on one line and short enough not to be cut by the API
// server.
func warning(f *checks.Finding) string {
	s := fmt.Sprintf("kwid %s (%s): %s", f.Check, f.Severity, f.Message)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > warningRunes {
		s = string([]rune(s)[:warningRunes-3]) + "..."
	}
	return s
}
