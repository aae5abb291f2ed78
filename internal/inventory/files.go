package inventory

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// DefaultMaxDocumentSize bounds one YAML document (YAML parsing costs many times the input
// size in memory). JSON lists are streamed item by item and are not bound by it.
const DefaultMaxDocumentSize = 32 << 20

// FileOptions configure reading manifests.
type FileOptions struct {
	Options
	// MaxDocumentSize bounds one YAML document, in bytes (0 = DefaultMaxDocumentSize).
	MaxDocumentSize int
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Logger receives debug messages (nil discards).
	Logger *slog.Logger
	// Progress, when set, is called now and then with the documents read so far.
	Progress func(documents int)
}

// InputError is one document or file that could not be read. The rest of the input is
// still loaded.
type InputError struct {
	File string
	// Document is the 1-based document (or JSON List item) index, 0 for the whole file.
	Document int
	Line     int
	Err      error
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Document > 0 {
		fmt.Fprintf(&b, ": document %d", e.Document)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// LoadFiles reads manifests from files and directories (recursively: *.yaml, *.yml,
// *.json) and "-" for stdin: multi-document YAML, JSON streams, v1 List and `kubectl get -o
// yaml|json` output, Helm-rendered output. Objects of other kinds are skipped and counted.
// Documents that cannot be read are returned as InputErrors and the rest still loads. The
// error is only for a path that cannot be opened at all.
func LoadFiles(ctx context.Context, paths []string, opts FileOptions) (*Snapshot, []*InputError, error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("no input files given")
	}
	r := newFileReader(Cluster{Source: "files", Name: strings.Join(paths, ",")}, opts)
	for _, p := range paths {
		err := ctx.Err()
		if err == nil {
			err = r.path(ctx, p)
		}
		if err != nil {
			r.finish() // stop the decoders
			return nil, nil, err
		}
	}
	return r.finish(), r.errs, nil
}

func newFileReader(c Cluster, opts FileOptions) *fileReader {
	r := &fileReader{
		b:       NewBuilder(c, opts.Options),
		maxDoc:  opts.MaxDocumentSize,
		logger:  opts.Logger,
		seen:    map[Kind]bool{},
		stdin:   opts.Stdin,
		decoder: scheme.Codecs.UniversalDeserializer(),
	}
	if r.maxDoc <= 0 {
		r.maxDoc = DefaultMaxDocumentSize
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	r.files = map[string]int{}
	r.progress = opts.Progress
	r.work = make(chan func(*trimmer), 256)
	for range runtime.GOMAXPROCS(0) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := newTrimmer() // one per worker: equal parts of the objects it decodes are stored once
			for f := range r.work {
				f(t)
			}
		}()
	}
	return r
}

// finish waits for the decoders, orders the errors as the input was read, and marks kinds
// seen in the input as collected, the others as absent.
func (r *fileReader) finish() *Snapshot {
	close(r.work)
	r.wg.Wait()
	slices.SortStableFunc(r.errs, func(a, b *InputError) int {
		return cmp.Or(cmp.Compare(r.files[a.File], r.files[b.File]), cmp.Compare(a.Document, b.Document))
	})
	for _, k := range AllKinds {
		if r.seen[k] {
			r.b.SetStatus(k, Status{State: Collected})
		} else {
			r.b.SetStatus(k, Status{State: Absent})
		}
	}
	return r.b.Build()
}

// fileReader splits files into documents on one goroutine and decodes documents on every
// CPU (YAML parsing and typed decoding are most of the cost).
type fileReader struct {
	b       *Builder
	maxDoc  int
	logger  *slog.Logger
	stdin   io.Reader
	decoder k8sruntime.Decoder

	work chan func(*trimmer)
	wg   sync.WaitGroup

	progress func(int)
	docs     int

	mu    sync.Mutex
	seen  map[Kind]bool
	errs  []*InputError
	files map[string]int // file -> order read, to sort errors
}

// decode runs f on a decoding worker, with the worker's trimmer.
func (r *fileReader) decode(f func(*trimmer)) {
	r.docs++
	if r.progress != nil && r.docs%5000 == 0 {
		r.progress(r.docs)
	}
	r.work <- f
}

func (r *fileReader) path(ctx context.Context, p string) error {
	if p == "-" {
		if r.stdin == nil {
			return errors.New("reading stdin: no standard input")
		}
		r.stream("<stdin>", r.stdin)
		return nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	if !info.IsDir() {
		return r.file(p)
	}
	return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading directory %s: %w", p, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			return r.file(path)
		}
		r.logger.Debug("ignoring file that is not YAML or JSON", "file", path)
		return nil
	})
}

func (r *fileReader) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	defer f.Close()
	r.stream(path, f)
	return nil
}

func (r *fileReader) fail(file string, doc, line int, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, &InputError{File: file, Document: doc, Line: line, Err: err})
	r.mu.Unlock()
}

// stream reads one file: JSON when its first non-space byte opens a JSON value, else YAML.
func (r *fileReader) stream(name string, in io.Reader) {
	r.mu.Lock()
	if _, ok := r.files[name]; !ok {
		r.files[name] = len(r.files)
	}
	r.mu.Unlock()
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		c, _, err := br.ReadRune()
		if err != nil {
			if err != io.EOF {
				r.fail(name, 0, 0, err)
			}
			return
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\uFEFF' {
			continue
		}
		_ = br.UnreadRune()
		if c == '{' || c == '[' {
			r.jsonStream(name, br)
		} else {
			r.yamlStream(name, br)
		}
		return
	}
}

// yamlStream splits YAML documents on "---" lines, bounding each document's size.
func (r *fileReader) yamlStream(name string, br *bufio.Reader) {
	var (
		doc       bytes.Buffer
		docIndex  = 1
		startLine = 1
		line      = 0
		tooBig    bool
	)
	flush := func() {
		defer func() { doc.Reset(); tooBig = false }()
		if tooBig {
			r.fail(name, docIndex, startLine, fmt.Errorf("document larger than the %d MiB limit (--max-document-size); for large exports use kubectl get -o json, which is streamed", r.maxDoc>>20))
			return
		}
		data, index, line := bytes.Clone(doc.Bytes()), docIndex, startLine
		r.decode(func(t *trimmer) { r.yamlDocument(t, name, index, line, data) })
	}
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if isDocumentStart(chunk) && (doc.Len() > 0 || tooBig || line > 0) {
				flush()
				docIndex++
				startLine = line + 2
			} else if !tooBig {
				if doc.Len()+len(chunk) > r.maxDoc {
					tooBig = true
					doc.Reset()
				} else {
					doc.Write(chunk)
				}
			}
		}
		if err == bufio.ErrBufferFull { // a long line: keep reading the same line
			continue
		}
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			line++
		}
		if err != nil {
			if err != io.EOF {
				r.fail(name, docIndex, startLine, err)
			}
			if doc.Len() > 0 || tooBig {
				flush()
			}
			return
		}
	}
}

// isDocumentStart reports whether a line is a YAML document separator ("---", "--- # x").
func isDocumentStart(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(bytes.TrimSpace(rest)) == 0 || rest[0] == ' ' || rest[0] == '\t'
}

func (r *fileReader) yamlDocument(t *trimmer, name string, docIndex, line int, data []byte) {
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		r.fail(name, docIndex, line, errors.New("binary data, not a YAML or JSON manifest"))
		return
	}
	if isBlankYAML(data) {
		return
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		r.fail(name, docIndex, line, fmt.Errorf("invalid YAML: %w", err))
		return
	}
	if bytes.Equal(js, []byte("null")) {
		return
	}
	r.object(t, name, docIndex, line, js)
}

// isBlankYAML reports whether a document holds only comments and blank lines (Helm emits
// such documents for templates that render empty).
func isBlankYAML(data []byte) bool {
	for l := range bytes.Lines(data) {
		t := bytes.TrimSpace(l)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// jsonStream reads a sequence of JSON values. A value with an "items" array (a List) is
// streamed item by item, so exports of any size need memory for one item at a time.
func (r *fileReader) jsonStream(name string, br *bufio.Reader) {
	dec := json.NewDecoder(br)
	dec.UseNumber()
	for index := 1; ; index++ {
		tok, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			r.fail(name, index, 0, fmt.Errorf("invalid JSON at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
			return
		}
		switch tok {
		case json.Delim('['): // a bare array of objects
			for item := 1; dec.More(); item++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					r.fail(name, item, 0, fmt.Errorf("invalid JSON at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
					return
				}
				item := item
				r.decode(func(t *trimmer) { r.object(t, name, item, 0, raw) })
			}
			if _, err := dec.Token(); err != nil {
				r.fail(name, index, 0, fmt.Errorf("invalid JSON at byte %d: %w", dec.InputOffset(), err))
				return
			}
		case json.Delim('{'):
			if !r.jsonObject(name, index, dec) {
				return
			}
		default:
			r.fail(name, index, 0, fmt.Errorf("expected a JSON object, found %v", tok))
			return
		}
	}
}

// jsonObject reads the rest of one top-level JSON object whose '{' was consumed. It
// reports false when the stream cannot be read further.
func (r *fileReader) jsonObject(name string, index int, dec *json.Decoder) bool {
	fields := map[string]json.RawMessage{}
	isList := false
	items := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			r.fail(name, index, 0, fmt.Errorf("invalid JSON at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
			return false
		}
		key, _ := tok.(string)
		if key == "items" {
			next, err := dec.Token()
			if err != nil {
				r.fail(name, index, 0, fmt.Errorf("invalid JSON at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
				return false
			}
			if next == nil { // "items": null
				isList = true
				continue
			}
			if next != json.Delim('[') {
				r.fail(name, index, 0, errors.New(`"items" is not an array`))
				return false
			}
			isList = true
			for dec.More() {
				items++
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					r.fail(name, items, 0, fmt.Errorf("invalid JSON in list item at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
					return false
				}
				item := items
				r.decode(func(t *trimmer) { r.object(t, name, item, 0, raw) })
			}
			if _, err := dec.Token(); err != nil {
				r.fail(name, index, 0, fmt.Errorf("invalid JSON at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
				return false
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			r.fail(name, index, 0, fmt.Errorf("invalid JSON at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
			return false
		}
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		r.fail(name, index, 0, fmt.Errorf("invalid JSON at byte %d: %w (rest of file not read)", dec.InputOffset(), err))
		return false
	}
	if isList {
		return true
	}
	js, err := json.Marshal(fields)
	if err != nil {
		r.fail(name, index, 0, err)
		return true
	}
	r.decode(func(t *trimmer) { r.object(t, name, index, 0, js) })
	return true
}

// object decodes one JSON object (or a List, whose items are decoded in turn).
func (r *fileReader) object(t *trimmer, name string, docIndex, line int, js []byte) {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		r.fail(name, docIndex, line, fmt.Errorf("not a Kubernetes object: %w", err))
		return
	}
	if head.Kind == "" {
		r.fail(name, docIndex, line, errors.New("not a Kubernetes object: no kind"))
		return
	}
	if head.Items != nil || head.Kind == "List" {
		for _, item := range head.Items {
			r.object(t, name, docIndex, line, item)
		}
		return
	}
	if ik := istioKindOf(head.APIVersion, head.Kind); ik != "" {
		obj, err := decodeIstio(ik, js)
		if err != nil {
			r.fail(name, docIndex, line, fmt.Errorf("%s %s: %w", head.APIVersion, head.Kind, err))
			return
		}
		r.add(t, obj, name, docIndex, line, head.APIVersion, head.Kind)
		return
	}
	obj, gvk, err := r.decoder.Decode(js, nil, nil)
	if err != nil {
		if k8sruntime.IsNotRegisteredError(err) {
			r.b.Skip(head.APIVersion, head.Kind)
			return
		}
		r.fail(name, docIndex, line, fmt.Errorf("%s %s: %w", head.APIVersion, head.Kind, err))
		return
	}
	r.add(t, obj, name, docIndex, line, gvk.GroupVersion().String(), gvk.Kind)
}

// add adds one decoded object and marks its kind as seen (or counts it as skipped).
func (r *fileReader) add(t *trimmer, obj k8sruntime.Object, name string, docIndex, line int, apiVersion, kind string) {
	k, _ := r.b.add(obj, &Location{File: name, Document: docIndex, Line: line}, t)
	if k == "" {
		r.b.Skip(apiVersion, kind)
		return
	}
	r.mu.Lock()
	r.seen[k] = true
	r.mu.Unlock()
}
