package inventory

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/bytedance/sonic"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
)

// SnapshotAPIVersion versions the saved snapshot format. A reader refuses other versions.
const SnapshotAPIVersion = "kwid.dev/v1alpha1"

// The saved format is JSON lines, so that neither writing nor reading ever holds the whole
// file: the first line is the header (apiVersion, kind: Snapshot, cluster, status, count),
// then one Kubernetes object per line, in Snapshot order, each with its apiVersion and kind.
type savedHeader struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Cluster    Cluster         `json:"cluster"`
	Status     map[Kind]Status `json:"status"`
	// Objects is how many object lines follow; a shorter file is truncated.
	Objects int `json:"objects"`
	// Counts are the objects of each kind among them (a hint for reading; older
	// snapshots do not have it).
	Counts map[Kind]int `json:"counts,omitempty"`
}

// Save writes a Snapshot in the saved format; gzip-compressed when compress is true.
func Save(w io.Writer, s *Snapshot, compress bool) error {
	var out io.Writer = w
	var zw *gzip.Writer
	if compress {
		zw = gzip.NewWriter(w)
		out = zw
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	total := 0
	counts := map[Kind]int{}
	for _, k := range AllKinds {
		if n := s.Count(k); n > 0 {
			counts[k] = n
			total += n
		}
	}
	if err := enc.Encode(savedHeader{APIVersion: SnapshotAPIVersion, Kind: "Snapshot", Cluster: s.Cluster, Status: s.Status, Objects: total, Counts: counts}); err != nil {
		return fmt.Errorf("encoding snapshot: %w", err)
	}
	var err error
	s.each(func(obj any) bool {
		err = enc.Encode(obj)
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("encoding snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

// each calls f with a pointer to every object, kind by kind, until f returns false.
func (s *Snapshot) each(f func(any) bool) {
	for _, k := range AllKinds {
		if !s.EachOfKind(k, f) {
			return
		}
	}
}

// EachOfKind calls f with a pointer to every object of a kind (a *corev1.Pod for Pods, ...),
// in Snapshot order, until f returns false; it reports whether f never did.
func (s *Snapshot) EachOfKind(k Kind, f func(any) bool) bool {
	switch k {
	case Namespaces:
		return eachOf(s.Namespaces, f)
	case ServiceAccounts:
		return eachOf(s.ServiceAccounts, f)
	case Secrets:
		return eachOf(s.Secrets, f)
	case Pods:
		return eachOf(s.Pods, f)
	case Deployments:
		return eachOf(s.Deployments, f)
	case StatefulSets:
		return eachOf(s.StatefulSets, f)
	case DaemonSets:
		return eachOf(s.DaemonSets, f)
	case ReplicaSets:
		return eachOf(s.ReplicaSets, f)
	case Jobs:
		return eachOf(s.Jobs, f)
	case CronJobs:
		return eachOf(s.CronJobs, f)
	case ReplicationControllers:
		return eachOf(s.ReplicationControllers, f)
	case Roles:
		return eachOf(s.Roles, f)
	case ClusterRoles:
		return eachOf(s.ClusterRoles, f)
	case RoleBindings:
		return eachOf(s.RoleBindings, f)
	case ClusterRoleBindings:
		return eachOf(s.ClusterRoleBindings, f)
	case ConfigMaps:
		return eachOf(s.ConfigMaps, f)
	case Nodes:
		return eachOf(s.Nodes, f)
	case ValidatingWebhookConfigurations:
		return eachOf(s.ValidatingWebhookConfigurations, f)
	case MutatingWebhookConfigurations:
		return eachOf(s.MutatingWebhookConfigurations, f)
	case AuthorizationPolicies:
		return eachOf(s.AuthorizationPolicies, f)
	case PeerAuthentications:
		return eachOf(s.PeerAuthentications, f)
	}
	return true
}

func eachOf[T any](objs []T, f func(any) bool) bool {
	for i := range objs {
		if !f(&objs[i]) {
			return false
		}
	}
	return true
}

// SaveFile writes a Snapshot to path, gzip-compressed when the name ends in ".gz".
func SaveFile(path string, s *Snapshot) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing snapshot: %w", err)
	}
	if err := Save(f, s, strings.HasSuffix(path, ".gz")); err != nil {
		f.Close()
		return fmt.Errorf("writing snapshot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing snapshot %s: %w", path, err)
	}
	return nil
}

// newObject returns an empty typed object for a snapshot kind.
func newObject(k Kind) k8sruntime.Object {
	switch k {
	case Namespaces:
		return &corev1.Namespace{}
	case ServiceAccounts:
		return &corev1.ServiceAccount{}
	case Secrets:
		return &corev1.Secret{}
	case Pods:
		return &corev1.Pod{}
	case Deployments:
		return &appsv1.Deployment{}
	case StatefulSets:
		return &appsv1.StatefulSet{}
	case DaemonSets:
		return &appsv1.DaemonSet{}
	case ReplicaSets:
		return &appsv1.ReplicaSet{}
	case Jobs:
		return &batchv1.Job{}
	case CronJobs:
		return &batchv1.CronJob{}
	case ReplicationControllers:
		return &corev1.ReplicationController{}
	case Roles:
		return &rbacv1.Role{}
	case ClusterRoles:
		return &rbacv1.ClusterRole{}
	case RoleBindings:
		return &rbacv1.RoleBinding{}
	case ClusterRoleBindings:
		return &rbacv1.ClusterRoleBinding{}
	case ConfigMaps:
		return &corev1.ConfigMap{}
	case Nodes:
		return &corev1.Node{}
	case ValidatingWebhookConfigurations:
		return &admissionregistrationv1.ValidatingWebhookConfiguration{}
	case MutatingWebhookConfigurations:
		return &admissionregistrationv1.MutatingWebhookConfiguration{}
	case AuthorizationPolicies:
		return &AuthorizationPolicy{}
	case PeerAuthentications:
		return &PeerAuthentication{}
	}
	return nil
}

// LoadOption tunes Load.
type LoadOption func(*loadConfig)

type loadConfig struct {
	progress func(done, total int)
}

// WithProgress calls f now and then with the objects read so far and the total.
func WithProgress(f func(done, total int)) LoadOption {
	return func(c *loadConfig) { c.progress = f }
}

// Load reads a saved Snapshot, gzip-compressed or not (detected from its content). Object
// lines are decoded on every CPU; memory holds the Snapshot and a few lines at a time.
func Load(r io.Reader, opts ...LoadOption) (*Snapshot, error) {
	var cfg loadConfig
	for _, o := range opts {
		o(&cfg)
	}
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	line, err := readLine(br)
	if err != nil && len(line) == 0 {
		return nil, fmt.Errorf("not a kwid snapshot: %w", err)
	}
	var h savedHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("not a kwid snapshot: %w", err)
	}
	if h.Kind != "Snapshot" {
		return nil, fmt.Errorf("not a kwid snapshot (kind %q, want Snapshot; write one with `kwid snapshot -o FILE`)", h.Kind)
	}
	if h.APIVersion != SnapshotAPIVersion {
		return nil, fmt.Errorf("snapshot version %q is not supported (this kwid reads %s)", h.APIVersion, SnapshotAPIVersion)
	}
	b := NewBuilder(h.Cluster, Options{Namespace: h.Cluster.Namespace, SecretData: h.Cluster.SecretData})
	b.expect(h.Counts) // a hint only: a lying header makes a slice at most 64x what is read
	for k, st := range h.Status {
		b.s.Status[k] = st
	}

	type job struct {
		n    int
		line []byte
	}
	jobs := make(chan job, 64)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := newTrimmer()
			for j := range jobs {
				kind, err := lineKind(j.line)
				if err != nil {
					fail(fmt.Errorf("object %d: %w", j.n, err))
					continue
				}
				obj := newObject(kind)
				if obj == nil {
					fail(fmt.Errorf("object %d: unknown kind %q", j.n, kind))
					continue
				}
				if err := decodeObject(j.line, obj); err != nil {
					fail(fmt.Errorf("object %d (%s): %w", j.n, kind, err))
					continue
				}
				b.add(obj, nil, t)
			}
		}()
	}
	n := 0
	for {
		line, err := readLine(br)
		if len(bytes.TrimSpace(line)) > 0 {
			n++
			jobs <- job{n: n, line: line}
			if cfg.progress != nil && (n%20000 == 0 || n == h.Objects) {
				cfg.progress(n, h.Objects)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			close(jobs)
			wg.Wait()
			return nil, fmt.Errorf("reading snapshot after object %d: %w", n, err)
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("decoding snapshot: %w", firstErr)
	}
	if n != h.Objects {
		return nil, fmt.Errorf("snapshot truncated: %d of %d objects", n, h.Objects)
	}
	s := b.Build()
	s.Status = h.Status
	if s.Status == nil {
		s.Status = map[Kind]Status{}
	}
	return s, nil
}

// decodeObject decodes one object line. Most of reading a large snapshot is decoding its
// objects, which github.com/bytedance/sonic does two to three times faster than
// encoding/json (tested to decode every kind alike: TestDecodeObjectAsEncodingJSON,
// FuzzDecodeObject). encoding/json stays the authority: whatever sonic refuses or panics
// on is decoded again by encoding/json, whose result or error (in its usual words) is the
// answer.
func decodeObject(line []byte, obj k8sruntime.Object) error {
	if fastDecode(line, obj) == nil {
		return nil
	}
	reflect.ValueOf(obj).Elem().SetZero() // start again from scratch
	return json.Unmarshal(line, obj)
}

func fastDecode(line []byte, obj any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	// The line is read as a string without a copy: it is not changed while decoding, and
	// ConfigStd copies the strings it decodes (nothing decoded refers to the line).
	return sonic.ConfigStd.UnmarshalFromString(unsafe.String(unsafe.SliceData(line), len(line)), obj)
}

// lineKind returns the kind of an object line. Lines kwid writes start with the kind
// ({"kind":"Pod",...}), read without decoding the line a second time; any other line is
// decoded for it.
func lineKind(line []byte) (Kind, error) {
	if rest, ok := bytes.CutPrefix(line, []byte(`{"kind":"`)); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			return Kind(rest[:i]), nil
		}
	}
	var tm struct{ Kind Kind }
	err := json.Unmarshal(line, &tm)
	return tm.Kind, err
}

// readLine reads one line of any length (without its newline).
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadBytes('\n')
	if errors.Is(err, io.EOF) && len(line) > 0 {
		return line, io.EOF
	}
	return bytes.TrimSuffix(line, []byte("\n")), err
}

// LoadFile reads a saved Snapshot from path.
func LoadFile(path string, opts ...LoadOption) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot: %w", err)
	}
	defer f.Close()
	s, err := Load(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s: %w", path, err)
	}
	return s, nil
}
