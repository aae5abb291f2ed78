package admission

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kwid-dev/kwid/internal/admission/admissiontest"
	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/synthetic"
)

var (
	loadRate     = flag.Int("webhook-load-rate", 0, "TestLoad: requests per second (0 = skip the load test)")
	loadDuration = flag.Duration("webhook-load-duration", 10*time.Second, "TestLoad: how long to send")
	loadSize     = flag.String("webhook-load-size", "L", "TestLoad: generated cluster size (S, L, XL)")
)

// mixedReviews returns AdmissionReview bodies of objects of a generated cluster (every
// reviewed kind but Secrets, weighted as below, each as a CREATE or UPDATE of that object),
// plus the violating objects of the unit tests placed in one of its namespaces.
func mixedReviews(t testing.TB, snap *inventory.Snapshot, n int) [][]byte {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	type item struct {
		gvk metav1.GroupVersionKind
		obj clusterstate.Object
	}
	type bucket struct {
		weight int
		items  []item
	}
	var pool []bucket
	total := 0
	add := func(weight int, group, version, kind string, k inventory.Kind) {
		var items []item
		for _, o := range clusterstate.FromSnapshot(snap).List(k, "") {
			items = append(items, item{metav1.GroupVersionKind{Group: group, Version: version, Kind: kind}, o})
		}
		if len(items) > 0 {
			pool = append(pool, bucket{weight, items})
			total += weight
		}
	}
	// A request mix shaped like a busy cluster's admission traffic (percent): pods churn,
	// templates change with rollouts, RBAC changes rarely.
	add(60, "", "v1", "Pod", inventory.Pods)
	add(6, "apps", "v1", "Deployment", inventory.Deployments)
	add(5, "apps", "v1", "ReplicaSet", inventory.ReplicaSets)
	add(2, "apps", "v1", "StatefulSet", inventory.StatefulSets)
	add(2, "apps", "v1", "DaemonSet", inventory.DaemonSets)
	add(3, "batch", "v1", "Job", inventory.Jobs)
	add(2, "batch", "v1", "CronJob", inventory.CronJobs)
	add(8, "", "v1", "ServiceAccount", inventory.ServiceAccounts)
	add(3, "rbac.authorization.k8s.io", "v1", "Role", inventory.Roles)
	add(6, "rbac.authorization.k8s.io", "v1", "RoleBinding", inventory.RoleBindings)
	add(1, "rbac.authorization.k8s.io", "v1", "ClusterRole", inventory.ClusterRoles)
	add(2, "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", inventory.ClusterRoleBindings)
	pick := func() []item {
		w := r.IntN(total)
		for _, b := range pool {
			if w < b.weight {
				return b.items
			}
			w -= b.weight
		}
		return pool[0].items
	}
	out := make([][]byte, 0, n)
	for i := range n {
		items := pick()
		it := items[r.IntN(len(items))]
		raw, err := json.Marshal(it.obj)
		if err != nil {
			t.Fatal(err)
		}
		op := admissionv1.Create
		if i%2 == 1 {
			op = admissionv1.Update
		}
		body, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID: types.UID(fmt.Sprint("load-", i)), Kind: it.gvk, Operation: op,
				Name: it.obj.GetName(), Namespace: it.obj.GetNamespace(),
				Object: k8sruntime.RawExtension{Raw: raw},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, body)
	}
	// The violating objects of the unit tests, moved into a namespace of the cluster.
	ns := snap.Namespaces[len(snap.Namespaces)/2].Name
	for _, obj := range []string{adminToDefault, awsKeysPod, deploymentWithKeys, defaultSAPod} {
		b := review(t, admissionv1.Create, obj, false)
		out = append(out, bytes.ReplaceAll(b, []byte(`"team"`), []byte(`"`+ns+`"`)))
	}
	return out
}

// TestLoad sends mixed AdmissionReviews over TLS on loopback at a fixed rate to a webhook
// whose cluster state is a generated cluster, and reports latency percentiles and errors.
// It is a measurement, not an assertion on time; it runs only when asked:
//
//	go test ./internal/admission -run TestLoad -v -webhook-load-rate 1000 -webhook-load-duration 10s
//
// Latency is measured from each request's scheduled send time (open loop), so a slow
// server is not hidden by the client waiting for it.
func TestLoad(t *testing.T) {
	if *loadRate == 0 {
		t.Skip("load test: set -webhook-load-rate (e.g. 1000)")
	}
	size, err := synthetic.SizeByName(*loadSize)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	snap, err := synthetic.Snapshot(size, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := clusterstate.FromSnapshot(snap)
	bodies := mixedReviews(t, snap, 5000)
	t.Logf("cluster %s generated and indexed in %v: %d pods, %d ServiceAccounts, %d RoleBindings", *loadSize, time.Since(start).Round(time.Millisecond),
		len(snap.Pods), len(snap.ServiceAccounts), len(snap.RoleBindings))
	runtime.GC()

	h, err := NewHandler(Options{State: st})
	if err != nil {
		t.Fatal(err)
	}
	certs := admissiontest.NewCerts(t, t.TempDir(), "load")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = (&Server{CertFile: certs.CertFile, KeyFile: certs.KeyFile, Handler: h}).Serve(ctx, ln) }()
	url := "https://" + ln.Addr().String() + ValidatePath

	// The server runs with kwid webhook's GC target unless GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(DefaultGCPercent))
	}
	var res loadResult
	cpu0 := cpuTime()
	if *loadClient == "inprocess" {
		res = runLoad(t, url, certs.CAPEM, bodies, *loadRate, *loadDuration)
	} else {
		res = runLoadProcess(t, url, certs.CAPEM, bodies)
	}
	serverCPU := cpuTime() - cpu0
	total := len(res.Latency)
	lat := make([]time.Duration, total)
	for i, l := range res.Latency {
		lat[i] = time.Duration(l)
	}
	// The kinds of the slowest 1% of requests: where the tail comes from.
	order := make([]int, total)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(lat[b], lat[a]) })
	tailKinds := map[string]int{}
	for _, i := range order[:max(1, total/100)] {
		var rv struct {
			Request struct{ Kind struct{ Kind string } } `json:"request"`
		}
		_ = json.Unmarshal(bodies[i%len(bodies)], &rv)
		tailKinds[rv.Request.Kind.Kind]++
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("%d requests in %v (%.0f/s) over TLS on loopback, %d CPUs, cluster %s, client %s", total, time.Duration(res.Elapsed).Round(time.Millisecond),
		float64(total)/time.Duration(res.Elapsed).Seconds(), runtime.GOMAXPROCS(0), *loadSize, *loadClient)
	t.Logf("latency p50 %v  p90 %v  p99 %v  p99.9 %v  max %v", pct(.50).Round(time.Microsecond), pct(.90).Round(time.Microsecond),
		pct(.99).Round(time.Microsecond), pct(.999).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	t.Logf("CPU of this process (the server, and the client when in process) %v: %.3f ms per request", serverCPU.Round(time.Millisecond), float64(serverCPU.Microseconds())/1000/float64(total))
	t.Logf("kinds of the slowest 1%%: %v", tailKinds)
	t.Logf("errors %d, denied %d (%.1f%%)", res.Errors, res.Denied, 100*float64(res.Denied)/float64(total))
	if res.Errors > 0 {
		t.Errorf("%d requests failed; first: %v", res.Errors, res.FirstError)
	}
}

var loadClient = flag.String("webhook-load-client", "process", "TestLoad: run the load client in its own process (process, as the API server is) or in the test's (inprocess)")

// loadResult is what a load client measured.
type loadResult struct {
	Latency        []int64 // ns, from each request's scheduled send time
	Elapsed        int64   // ns
	Errors, Denied int64
	FirstError     string
}

// runLoad sends bodies at a fixed rate (open loop) over HTTP/2 and TLS, as the API
// server's webhook client does, after a warm-up.
func runLoad(t testing.TB, url string, caPEM []byte, bodies [][]byte, rate int, duration time.Duration) loadResult {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxConnsPerHost: 4,
	}}
	for i := range 200 {
		if _, err := send(client, url, bodies[i%len(bodies)]); err != nil {
			t.Fatal(err)
		}
	}
	total := int(duration.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	res := loadResult{Latency: make([]int64, total)}
	var errs, denied atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range total {
		at := begin.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func() {
			defer wg.Done()
			allowed, err := send(client, url, bodies[i%len(bodies)])
			res.Latency[i] = int64(time.Since(at))
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			} else if !allowed {
				denied.Add(1)
			}
		}()
	}
	wg.Wait()
	res.Elapsed = int64(time.Since(begin))
	res.Errors, res.Denied = errs.Load(), denied.Load()
	if e, ok := firstErr.Load().(string); ok {
		res.FirstError = e
	}
	return res
}

// runLoadProcess runs the load client in a child process (this test binary, running
// TestLoadClient), so that the server's process holds only the server: its garbage
// collector works for the webhook alone, as it does in a cluster.
func runLoadProcess(t *testing.T, url string, caPEM []byte, bodies [][]byte) loadResult {
	dir := t.TempDir()
	in, err := json.Marshal(loadJob{URL: url, CAPEM: caPEM, Bodies: bodies, Rate: *loadRate, Duration: *loadDuration})
	if err != nil {
		t.Fatal(err)
	}
	job, out := filepath.Join(dir, "job.json"), filepath.Join(dir, "result.json")
	if err := os.WriteFile(job, in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLoadClient$", "-test.v")
	// The client's runtime keeps its defaults, whatever GOGC or GOMEMLIMIT the server has.
	env := slices.DeleteFunc(os.Environ(), func(e string) bool {
		return strings.HasPrefix(e, "GOGC=") || strings.HasPrefix(e, "GOMEMLIMIT=")
	})
	cmd.Env = append(env, "KWID_LOAD_JOB="+job, "KWID_LOAD_RESULT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("load client: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res loadResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// loadJob is what TestLoad gives its client process.
type loadJob struct {
	URL      string
	CAPEM    []byte
	Bodies   [][]byte
	Rate     int
	Duration time.Duration
}

// TestLoadClient is TestLoad's client process; it runs only when TestLoad starts it.
func TestLoadClient(t *testing.T) {
	jobFile, outFile := os.Getenv("KWID_LOAD_JOB"), os.Getenv("KWID_LOAD_RESULT")
	if jobFile == "" || outFile == "" {
		t.Skip("the load test's client process: started by TestLoad")
	}
	data, err := os.ReadFile(jobFile)
	if err != nil {
		t.Fatal(err)
	}
	var job loadJob
	if err := json.Unmarshal(data, &job); err != nil {
		t.Fatal(err)
	}
	res := runLoad(t, job.URL, job.CAPEM, job.Bodies, job.Rate, job.Duration)
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func send(c *http.Client, url string, body []byte) (bool, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &out); err != nil || out.Response == nil {
		return false, fmt.Errorf("bad response: %v", err)
	}
	return out.Response.Allowed, nil
}

// BenchmarkEvaluate: one decision (neighbourhood, checks, attribution) per kind on a
// generated L cluster, without HTTP.
func BenchmarkEvaluate(b *testing.B) {
	snap, err := synthetic.Snapshot(synthetic.L, 1)
	if err != nil {
		b.Fatal(err)
	}
	st := clusterstate.FromSnapshot(snap)
	e := NewEvaluator(st, nil)
	for _, k := range []inventory.Kind{inventory.Pods, inventory.Deployments, inventory.ServiceAccounts, inventory.Roles, inventory.RoleBindings, inventory.ClusterRoles, inventory.ClusterRoleBindings} {
		objs := st.List(k, "")
		b.Run(string(k), func(b *testing.B) {
			i := 0
			for b.Loop() {
				e.Evaluate(k, objs[i%len(objs)])
				i++
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
