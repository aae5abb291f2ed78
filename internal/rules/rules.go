// Package rules loads custom checks written in CEL (the language of Kubernetes'
// ValidatingAdmissionPolicy): one YAML file per rule, with an expression over one object
// that may also ask kwid about effective permissions (can, whoCan), the ServiceAccount of a
// workload (serviceAccountOf) and the cloud identity of a ServiceAccount (cloudRoleOf).
// Rules become checks.Check values that run like the built-in catalog.
//
// rules knows nothing about output formats or where the Snapshot came from.
package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	v1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// CostLimit bounds one evaluation of a rule (CEL cost units): a rule that exceeds it fails
// instead of hanging the scan.
const CostLimit = 1_000_000

// evalTimeout bounds one evaluation in wall time, whatever the cost estimate says.
const evalTimeout = 2 * time.Second

// Spec is a rule file.
type Spec struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Severity    checks.Severity  `json:"severity"`
	Description string           `json:"description"`
	Remediation string           `json:"remediation,omitempty"`
	Kinds       []inventory.Kind `json:"kinds"`
	// Expression is a CEL boolean over `object` (the object as Kubernetes JSON): true
	// means a finding.
	Expression string `json:"expression"`
	// Message is an optional CEL string expression for the finding's message.
	Message    string   `json:"message,omitempty"`
	References []string `json:"references,omitempty"`
}

// Rule is a compiled rule.
type Rule struct {
	Spec
	File    string
	program cel.Program
	message cel.Program

	mu  sync.Mutex
	err error // the first evaluation error
}

// Err is the first evaluation error of the rule in a scan, if any (cost limit, runtime type
// error); the scan reports it instead of a silent pass.
func (r *Rule) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Rule) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// Set is the rules of one scan, sharing the state their functions read.
type Set struct {
	Rules []*Rule
	state *state
}

// state is what kwid's CEL functions read; set when the scan's input is known.
type state struct {
	mu sync.RWMutex
	in *checks.Input
}

func (s *state) input() *checks.Input {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.in
}

// LoadDir compiles every *.yaml / *.yml / *.json rule file of a directory (or one file),
// rejecting the first rule that does not parse or compile, with its file, line and the CEL
// error, before any scan work.
func LoadDir(path string) (*Set, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	files := []string{path}
	if info.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("reading rules: %w", err)
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".yaml", ".yml", ".json":
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	set := &Set{state: &state{}}
	env, err := newEnv(set.state)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading rules: %w", err)
		}
		r, err := compile(env, f, data)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[r.ID]; ok {
			return nil, fmt.Errorf("%s: rule id %s is already used by %s", f, r.ID, other)
		}
		seen[r.ID] = f
		set.Rules = append(set.Rules, r)
	}
	return set, nil
}

// compile parses and type-checks one rule file.
func compile(env *cel.Env, file string, data []byte) (*Rule, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", file, err)
	}
	var spec Spec
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	switch {
	case spec.ID == "":
		return nil, fmt.Errorf("%s: id is required", file)
	case strings.HasPrefix(spec.ID, "KW-"):
		return nil, fmt.Errorf("%s: id %s: the KW- prefix is kwid's own catalog; use your own prefix", file, spec.ID)
	case spec.Title == "" || spec.Expression == "":
		return nil, fmt.Errorf("%s: title and expression are required", file)
	case len(spec.Kinds) == 0:
		return nil, fmt.Errorf("%s: kinds is required (e.g. [Pod, Deployment])", file)
	}
	for _, k := range spec.Kinds {
		if !slices.Contains(inventory.AllKinds, k) {
			return nil, fmt.Errorf("%s: kind %q is not one kwid reads (%v)", file, k, inventory.AllKinds)
		}
	}
	r := &Rule{Spec: spec, File: file}
	if r.program, err = program(env, spec.Expression, cel.BoolType); err != nil {
		return nil, fmt.Errorf("%s:%d: expression: %w", file, lineOf(data, "expression"), err)
	}
	if spec.Message != "" {
		if r.message, err = program(env, spec.Message, cel.StringType); err != nil {
			return nil, fmt.Errorf("%s:%d: message: %w", file, lineOf(data, "message"), err)
		}
	}
	return r, nil
}

func program(env *cel.Env, expr string, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if !ast.OutputType().IsExactType(want) && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("the expression gives %s, want %s", ast.OutputType(), want)
	}
	return env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
}

// lineOf finds the line of a top-level YAML key, for error messages.
func lineOf(data []byte, key string) int {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(key+":")) || bytes.HasPrefix(l, []byte(`"`+key+`"`)) {
			return i + 1
		}
	}
	return 1
}

// Checks turns the rules into checks for checks.Run.
func (s *Set) Checks() []*checks.Check {
	var out []*checks.Check
	for _, r := range s.Rules {
		meta := checks.Check{
			ID: r.ID, Title: r.Title, Severity: r.Severity, Reads: r.Kinds,
			Refs: append([]string{"custom rule " + r.File}, r.References...), Summary: r.Description,
		}
		out = append(out, checks.NewCheck(meta, func(in *checks.Input, add func(checks.Finding), notAssessed func(string)) {
			s.state.mu.Lock()
			s.state.in = in
			s.state.mu.Unlock()
			r.run(in, add, notAssessed)
		}))
	}
	return out
}

// Errors returns each rule's first evaluation error of the scan.
func (s *Set) Errors() []error {
	var out []error
	for _, r := range s.Rules {
		if err := r.Err(); err != nil {
			out = append(out, err)
		}
	}
	return out
}

func (r *Rule) run(in *checks.Input, add func(checks.Finding), notAssessed func(string)) {
	if reasons := in.Snapshot.Unreadable(r.Kinds...); len(reasons) > 0 {
		notAssessed(strings.Join(reasons, "; "))
		// Objects that were read are still judged.
	}
	for _, k := range r.Kinds {
		in.Snapshot.EachOfKind(k, func(obj any) bool {
			m, ok := obj.(v1.Object)
			if !ok {
				return true
			}
			ref := inventory.ObjectRef{Kind: k, Namespace: m.GetNamespace(), Name: m.GetName()}
			vars, err := objectVars(obj)
			if err != nil {
				r.fail(fmt.Errorf("%s: rule %s on %s: %w", r.File, r.ID, ref, err))
				return false
			}
			hit, err := r.eval(r.program, vars)
			if err != nil {
				r.fail(fmt.Errorf("%s: rule %s on %s: %w", r.File, r.ID, ref, err))
				return false
			}
			if hit != types.True {
				return true
			}
			msg := fmt.Sprintf("%s: %s", ref, r.Title)
			if r.message != nil {
				v, err := r.eval(r.message, vars)
				if err != nil {
					r.fail(fmt.Errorf("%s: rule %s message on %s: %w", r.File, r.ID, ref, err))
					return false
				}
				if s, ok := v.Value().(string); ok {
					msg = s
				}
			}
			add(checks.Finding{Severity: r.Severity, Message: msg, Object: ref, Remediation: r.Remediation,
				Evidence: []string{"custom rule " + r.ID + " (" + r.File + "): " + r.Expression}})
			return true
		})
		if r.Err() != nil {
			return
		}
	}
}

func (r *Rule) eval(p cel.Program, vars map[string]any) (ref.Val, error) {
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	v, _, err := p.ContextEval(ctx, vars)
	if err != nil {
		if strings.Contains(err.Error(), "cost limit") || ctx.Err() != nil {
			return nil, fmt.Errorf("evaluation exceeded the cost limit (%d) or %s: %w", CostLimit, evalTimeout, err)
		}
		return nil, err
	}
	return v, nil
}

// objectVars presents an object to CEL as its Kubernetes JSON.
func objectVars(obj any) (map[string]any, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	return map[string]any{"object": m}, nil
}

// input returns the scan input the functions read; it is set before any rule runs.
func (s *state) must() (*checks.Input, error) {
	in := s.input()
	if in == nil {
		return nil, fmt.Errorf("no scan input")
	}
	return in, nil
}
