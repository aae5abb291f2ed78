package usage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/kwid-dev/kwid/internal/rbac"
)

// Limits that keep memory bounded whatever the size of the logs. Memory grows with the
// number of distinct (identity, verb, resource, namespace) tuples and non-resource paths,
// never with the number of events.
const (
	// RecentIDs is how many auditIDs the deduplication remembers. The events of one request
	// (ResponseStarted, ResponseComplete) are written close together, and a file read twice
	// is deduplicated within this window; a watch whose completion is logged more than
	// RecentIDs events after its start is counted twice, which changes counts, not what is
	// used.
	RecentIDs = 1 << 16
	// MaxNames is how many resource names are kept per used permission; beyond it the
	// permission counts as used on many names (no resourceNames in generated roles).
	MaxNames = 32
	// MaxLine is the longest line read; longer ones are reported as malformed.
	MaxLine = 16 << 20
	// MaxProblems is how many malformed lines are kept with their position.
	MaxProblems = 100
	maxPods     = 64
	maxCreds    = 64
	maxIPs      = 8
)

// Problem is a line that could not be read.
type Problem struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Error) }

// Stats counts what the reader saw.
type Stats struct {
	Files      int `json:"files"`
	Lines      int `json:"lines"`
	Events     int `json:"events"`
	Malformed  int `json:"malformed"`
	Duplicates int `json:"duplicates"`
	// OtherStages are events of stages that do not count (RequestReceived, Panic, the
	// ResponseStarted of requests other than watch).
	OtherStages int `json:"otherStages"`
	Allowed     int `json:"allowed"`
	Forbidden   int `json:"forbidden"`
	// Failed: allowed, but the response was an error (code >= 400); not counted as used.
	Failed int `json:"failed"`
	// Undecided: no authorization decision (unauthenticated requests, non-RBAC paths).
	Undecided int `json:"undecided"`
}

// Aggregator reads audit events and aggregates them per identity, as they come.
type Aggregator struct {
	report *Report
	recent recentSet
}

// NewAggregator returns an empty Aggregator.
func NewAggregator() *Aggregator {
	return &Aggregator{report: &Report{Identities: map[string]*Identity{}, Bindings: map[string]int{}}, recent: newRecentSet(RecentIDs)}
}

// Report returns what was aggregated so far.
func (a *Aggregator) Report() *Report { return a.report }

// ReadFiles reads audit logs ("-" is stdin) into a Report. Malformed lines are recorded in
// the Report and reading goes on; an error is returned only for a file that cannot be read.
func ReadFiles(paths []string, stdin io.Reader) (*Report, error) {
	a := NewAggregator()
	for _, p := range paths {
		if err := a.ReadFile(p, stdin); err != nil {
			return a.Report(), err
		}
	}
	return a.Report(), nil
}

// ReadFile reads one audit log ("-" is stdin).
func (a *Aggregator) ReadFile(path string, stdin io.Reader) error {
	if path == "-" {
		return a.Read("-", stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading audit log: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("reading audit log %s: is a directory", path)
	}
	return a.Read(path, f)
}

// Read reads one stream of audit events (gzip is detected by its magic number); name is
// what problems are reported against.
func (a *Aggregator) Read(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading audit log %s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	a.report.Stats.Files++
	a.report.Files = append(a.report.Files, name)
	return a.pipeline(name, br)
}

// batch is a run of consecutive lines, decoded by a worker and aggregated in order.
type batch struct {
	first int // line number of lines[0]
	buf   []byte
	ends  []int // lines[i] = buf[ends[i-1]:ends[i]]; -1 marks a line too long
	evs   [][]Event
	errs  []error
	done  chan struct{}
	err   error // a read error after the batch's lines
}

const batchLines = 512

// pipeline reads lines in one goroutine, decodes batches of them on every CPU and
// aggregates the results here, in input order (so counts, samples and line numbers are the
// same as a sequential read). At most a few batches are in flight: memory stays bounded.
func (a *Aggregator) pipeline(name string, br *bufio.Reader) error {
	workers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *batch, workers)
	order := make(chan *batch, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				b.decode()
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(work)
		var long []byte
		n := 0
		for {
			b := &batch{first: n + 1, done: make(chan struct{})}
			for len(b.ends) < batchLines {
				line, tooLong, err := readLine(br, &long)
				if err == io.EOF && len(line) == 0 && !tooLong {
					b.err = io.EOF
					break
				}
				n++
				if tooLong {
					b.ends = append(b.ends, -1)
				} else {
					b.buf = append(b.buf, line...)
					b.ends = append(b.ends, len(b.buf))
				}
				if err != nil {
					b.err = err
					break
				}
			}
			work <- b
			order <- b
			if b.err != nil {
				return
			}
		}
	}()
	var err error
	for b := range order {
		<-b.done
		if err != nil {
			continue // drain
		}
		err = a.aggregate(name, b)
	}
	wg.Wait()
	return err
}

func (b *batch) decode() {
	defer close(b.done)
	b.evs = make([][]Event, len(b.ends))
	b.errs = make([]error, len(b.ends))
	start := 0
	for i, end := range b.ends {
		if end < 0 {
			b.errs[i] = fmt.Errorf("line longer than %d MiB", MaxLine>>20)
			continue
		}
		line := b.buf[start:end]
		start = end
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		b.evs[i], b.errs[i] = DecodeLine(line)
	}
}

func (a *Aggregator) aggregate(name string, b *batch) error {
	start := 0
	for i, end := range b.ends {
		if end >= 0 {
			if len(bytes.TrimSpace(b.buf[start:end])) == 0 {
				start = end
				continue
			}
			start = end
		}
		a.report.Stats.Lines++
		if b.errs[i] != nil {
			a.problem(name, b.first+i, b.errs[i].Error())
		}
		for j := range b.evs[i] {
			a.Add(&b.evs[i][j])
		}
	}
	switch {
	case b.err == nil, b.err == io.EOF:
		return nil
	case errors.Is(b.err, io.ErrUnexpectedEOF):
		a.problem(name, b.first+len(b.ends)-1, "truncated compressed stream")
		return nil
	}
	return fmt.Errorf("reading audit log %s: %w", name, b.err)
}

// readLine returns the next line without its newline. A line longer than MaxLine is
// skipped (tooLong).
func readLine(br *bufio.Reader, buf *[]byte) (line []byte, tooLong bool, err error) {
	s, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return bytes.TrimSuffix(s, []byte{'\n'}), false, err
	}
	*buf = append((*buf)[:0], s...)
	for err == bufio.ErrBufferFull {
		s, err = br.ReadSlice('\n')
		if !tooLong {
			*buf = append(*buf, s...)
			if len(*buf) > MaxLine {
				tooLong, *buf = true, (*buf)[:0]
			}
		}
	}
	if tooLong {
		return nil, true, err
	}
	return bytes.TrimSuffix(*buf, []byte{'\n'}), false, err
}

func (a *Aggregator) problem(file string, line int, msg string) {
	a.report.Stats.Malformed++
	if len(a.report.Problems) < MaxProblems {
		a.report.Problems = append(a.report.Problems, Problem{File: file, Line: line, Error: msg})
	}
}

// counts reports whether an event is the one that counts for its request: ResponseComplete,
// or ResponseStarted for a watch (a long watch may never complete within the log).
func counts(e *Event) bool {
	return e.Stage == "ResponseComplete" || e.Stage == "ResponseStarted" && e.Verb == "watch"
}

// Add aggregates one event.
func (a *Aggregator) Add(e *Event) {
	rep := a.report
	rep.Stats.Events++
	if !counts(e) {
		rep.Stats.OtherStages++
		return
	}
	if !a.recent.add(e.AuditID) {
		rep.Stats.Duplicates++
		return
	}
	if ts := e.StageTimestamp; ts != "" {
		if rep.From == "" || ts < rep.From {
			rep.From = ts
		}
		if ts > rep.To {
			rep.To = ts
		}
	}
	u := e.Identity()
	id := rep.Identities[u.Username]
	if id == nil {
		id = newIdentity(u)
		rep.Identities[u.Username] = id
	}
	id.Events++
	if e.StageTimestamp > id.LastSeen {
		id.LastSeen = e.StageTimestamp
	}
	req := e.Request()
	decision := e.Annotations[AnnotationDecision]
	code := 0
	if e.ResponseStatus != nil {
		code = e.ResponseStatus.Code
	}
	switch {
	case decision == "forbid":
		rep.Stats.Forbidden++
		id.Forbidden++
		id.attempted.add(req, e, "")
		return
	case decision != "allow":
		rep.Stats.Undecided++
		return
	case code >= 400:
		rep.Stats.Failed++
		id.Failed++
		return
	}
	rep.Stats.Allowed++
	id.Allowed++
	binding := ""
	if b, ok := ParseReason(e.Annotations[AnnotationReason]); ok {
		binding = b.String()
		id.Bindings[binding]++
		rep.Bindings[binding]++
	}
	id.used.add(req, e, binding)
	if e.ImpersonatedUser != nil && e.ImpersonatedUser.Username != "" {
		a.impersonation(e)
	}
	for k, v := range e.Annotations {
		switch {
		case strings.HasPrefix(k, AnnotationLegacyToken):
			id.LegacyToken++
			if id.LegacyTokenDetail == "" {
				id.LegacyTokenDetail = k + "=" + v
			}
		case k == AnnotationStaleToken:
			id.StaleToken++
			if id.StaleTokenDetail == "" {
				id.StaleTokenDetail = v
			}
		}
	}
	if id.ServiceAccount != nil && e.Identity() == &e.User {
		pod := first(u.Extra.PodName)
		switch {
		case pod != "":
			if _, ok := id.Pods[pod]; ok || len(id.Pods) < maxPods {
				id.Pods[pod]++
			}
		default:
			id.OffPod++
			if id.OffPodSample == "" {
				id.OffPodSample = sample(e)
			}
		}
		if cred := first(u.Extra.CredentialID); cred != "" && len(e.SourceIPs) > 0 {
			ips := id.Credentials[cred]
			if ips == nil && len(id.Credentials) < maxCreds {
				ips = map[string]bool{}
				id.Credentials[cred] = ips
			}
			if ips != nil && len(ips) < maxIPs {
				ips[e.SourceIPs[0]] = true
			}
		}
	}
}

// impersonation records, for the impersonating user, the impersonate permission it used.
func (a *Aggregator) impersonation(e *Event) {
	rep := a.report
	id := rep.Identities[e.User.Username]
	if id == nil {
		id = newIdentity(&e.User)
		rep.Identities[e.User.Username] = id
	}
	target := e.ImpersonatedUser.Username
	req := rbac.Request{Verb: "impersonate", Resource: "users", Name: target}
	if ns, name, ok := rbac.SplitServiceAccountUsername(target); ok {
		req = rbac.Request{Verb: "impersonate", Resource: "serviceaccounts", Namespace: ns, Name: name}
	}
	id.used.add(req, e, "")
	for _, g := range e.ImpersonatedUser.Groups {
		id.used.add(rbac.Request{Verb: "impersonate", Resource: "groups", Name: g}, e, "")
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// sample describes one request for people: "GET /api/v1/namespaces/x/pods at TIME".
func sample(e *Event) string {
	s := e.Verb + " " + e.RequestURI
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// recentSet remembers the last n strings added (a ring and a map).
type recentSet struct {
	ring []string
	next int
	set  map[string]struct{}
}

func newRecentSet(n int) recentSet {
	return recentSet{ring: make([]string, n), set: make(map[string]struct{}, n)}
}

// add reports whether id was not among the recent ones, and remembers it.
func (r *recentSet) add(id string) bool {
	if id == "" {
		return true
	}
	if _, ok := r.set[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id] = struct{}{}
	return true
}
