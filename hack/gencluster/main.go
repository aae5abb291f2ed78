// Command gencluster writes a synthetic cluster (internal/synthetic) as manifest files, for
// benchmarks and scale tests of kwid's file input:
//
//	go run ./hack/gencluster -size L|XL|S -seed 1 -o DIR [-format yaml|json]
//
// DIR gets one file per namespace (ns-<name>.yaml, multi-document YAML) and cluster.yaml
// for the cluster-scoped objects (Namespaces, Nodes, ClusterRoles, ClusterRoleBindings).
// With -format json each file is instead one `kubectl get -o json`-style List (.json), one
// item per line. DIR must be empty or not exist. Progress goes to stderr; a summary of the
// counts to stdout.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kwid-dev/kwid/internal/synthetic"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "gencluster:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gencluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizeName := fs.String("size", "L", "cluster size: S, L or XL")
	seed := fs.Int64("seed", 1, "random seed: the same seed writes the same cluster")
	dir := fs.String("o", "", "output directory (required; must be empty or not exist)")
	format := fs.String("format", "yaml", "file format: yaml (multi-document) or json (one List per file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *dir == "":
		return errors.New("no output directory: use -o DIR")
	case *format != "yaml" && *format != "json":
		return fmt.Errorf("unknown format %q (want yaml or json)", *format)
	}
	size, err := synthetic.SizeByName(*sizeName)
	if err != nil {
		return err
	}
	if err := prepareDir(*dir); err != nil {
		return err
	}

	start := time.Now()
	w := &writer{dir: *dir, format: *format, size: size, progress: stderr, counts: map[string]int{}, lastReport: start}
	err = generate(size, *seed, *format, w)
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "gencluster: wrote %d objects in %d files (%s) to %s in %s\n",
		w.objects, w.files, humanBytes(w.bytes), *dir, time.Since(start).Round(10*time.Millisecond))
	return w.summary(stdout)
}

// encoded is one object on its way to the writer.
type encoded struct {
	obj  k8sruntime.Object
	data []byte
	err  error
	done chan struct{} // closed once data or err is set
}

var errStopped = errors.New("stopped")

// generate runs the generator, encodes its objects on every CPU (YAML encoding is what
// takes the time) and hands them to w in the order they were generated. At most a few
// hundred objects are in flight.
func generate(size synthetic.Size, seed int64, format string, w *writer) error {
	const inFlight = 256
	work := make(chan *encoded, inFlight)    // to the encoders
	ordered := make(chan *encoded, inFlight) // to the writer, in order
	stop := make(chan struct{})              // closed when the writer fails

	var encoders sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		encoders.Go(func() {
			for e := range work {
				e.data, e.err = encode(format, e.obj)
				close(e.done)
			}
		})
	}
	genErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(work)
		genErr <- synthetic.Generate(size, seed, func(obj k8sruntime.Object) error {
			e := &encoded{obj: obj, done: make(chan struct{})}
			for _, ch := range []chan *encoded{work, ordered} {
				select {
				case ch <- e:
				case <-stop:
					return errStopped
				}
			}
			return nil
		})
	}()

	var writeErr error
	for e := range ordered {
		<-e.done
		if writeErr != nil {
			continue // drain what is in flight
		}
		if writeErr = e.err; writeErr == nil {
			writeErr = w.add(e.obj, e.data)
		}
		if writeErr != nil {
			close(stop)
		}
	}
	encoders.Wait()
	if err := <-genErr; writeErr == nil && err != nil {
		return fmt.Errorf("generating cluster: %w", err)
	}
	return writeErr
}

func encode(format string, obj k8sruntime.Object) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if format == "json" {
		b, err = json.Marshal(obj)
	} else {
		b, err = yaml.Marshal(obj)
	}
	if err != nil {
		m, _ := obj.(metav1.Object)
		if m == nil {
			return nil, fmt.Errorf("encoding %T: %w", obj, err)
		}
		return nil, fmt.Errorf("encoding %s %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, m.GetNamespace(), m.GetName(), err)
	}
	return b, nil
}

// prepareDir creates dir, or checks that it is empty so that no stale file from an
// earlier run ends up in the input.
func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating output directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading output directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("output directory %s is not empty", dir)
	}
	return nil
}

// writer routes each object to its file: cluster-scoped objects to cluster.<ext>,
// namespaced ones to ns-<namespace>.<ext>. Generate emits each namespace's objects
// together, so one namespace file is open at a time.
type writer struct {
	dir, format string
	size        synthetic.Size
	progress    io.Writer

	cluster *docFile
	current *docFile
	closed  map[string]bool // namespaces whose file is complete

	counts     map[string]int
	objects    int
	files      int
	bytes      int64
	namespaces int
	lastReport time.Time
}

func (w *writer) add(obj k8sruntime.Object, data []byte) error {
	m, ok := obj.(metav1.Object)
	if !ok {
		return fmt.Errorf("object of type %T has no metadata", obj)
	}
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	w.counts[kind]++
	w.objects++
	ns := m.GetNamespace()
	if ns == "" {
		if w.cluster == nil {
			f, err := w.open("cluster")
			if err != nil {
				return err
			}
			w.cluster = f
		}
		return w.cluster.write(data)
	}
	if w.current == nil || w.current.namespace != ns {
		if w.closed[ns] {
			return fmt.Errorf("objects of namespace %s are not contiguous", ns)
		}
		if err := w.closeCurrent(); err != nil {
			return err
		}
		f, err := w.open("ns-" + ns)
		if err != nil {
			return err
		}
		f.namespace = ns
		w.current = f
		w.namespaces++
		if time.Since(w.lastReport) >= time.Second {
			w.lastReport = time.Now()
			fmt.Fprintf(w.progress, "gencluster: %d/%d namespaces, %d objects, %s\n", w.namespaces, w.size.Namespaces, w.objects, humanBytes(w.bytes))
		}
	}
	return w.current.write(data)
}

func (w *writer) open(base string) (*docFile, error) {
	path := filepath.Join(w.dir, base+"."+w.format)
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating output file: %w", err)
	}
	w.files++
	return &docFile{f: f, w: bufio.NewWriterSize(f, 256<<10), json: w.format == "json", total: &w.bytes}, nil
}

func (w *writer) closeCurrent() error {
	if w.current == nil {
		return nil
	}
	if w.closed == nil {
		w.closed = map[string]bool{}
	}
	w.closed[w.current.namespace] = true
	err := w.current.close()
	w.current = nil
	return err
}

// close finishes every open file; it is safe to call after an error.
func (w *writer) close() error {
	err := w.closeCurrent()
	if w.cluster != nil {
		err = errors.Join(err, w.cluster.close())
		w.cluster = nil
	}
	return err
}

func (w *writer) summary(out io.Writer) error {
	kinds := make([]string, 0, len(w.counts))
	for k := range w.counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "KIND\tCOUNT\t\n")
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t%d\t\n", k, w.counts[k])
	}
	fmt.Fprintf(tw, "total\t%d\t\n", w.objects)
	return tw.Flush()
}

// docFile is one output file: YAML documents separated by "---" lines, or a JSON List
// with one item per line.
type docFile struct {
	namespace string
	f         *os.File
	w         *bufio.Writer
	json      bool
	n         int
	total     *int64
}

const (
	jsonListStart = `{"apiVersion":"v1","kind":"List","items":[` + "\n"
	jsonListEnd   = "\n" + `],"metadata":{"resourceVersion":""}}` + "\n"
)

// write adds one encoded object.
func (d *docFile) write(b []byte) error {
	sep := "---\n"
	switch {
	case d.json && d.n == 0:
		sep = jsonListStart
	case d.json:
		sep = ",\n"
	case d.n == 0:
		sep = ""
	}
	d.n++
	if _, err := d.w.WriteString(sep); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	*d.total += int64(len(sep) + len(b))
	return nil
}

func (d *docFile) close() error {
	var err error
	if d.json {
		tail := jsonListEnd
		if d.n == 0 {
			tail = jsonListStart + jsonListEnd
		}
		_, err = d.w.WriteString(tail)
		*d.total += int64(len(tail))
	}
	if err == nil {
		err = d.w.Flush()
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
