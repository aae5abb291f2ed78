package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kwid-dev/kwid/internal/inventory"
	"sigs.k8s.io/yaml"
)

// BaselineAPIVersion versions the baseline file.
const BaselineAPIVersion = "kwid.dev/v1alpha1"

// Baseline is a set of accepted findings: each entry matches findings by check and object,
// says why it is accepted, and may expire. `kwid scan --baseline FILE` reads it;
// `kwid scan --write-baseline FILE` writes one from the current findings.
type Baseline struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Entries    []BaselineEntry `json:"entries"`
}

// BaselineEntry accepts the findings of one check on one object.
type BaselineEntry struct {
	Check  string              `json:"check"`
	Object inventory.ObjectRef `json:"object"`
	Reason string              `json:"reason"`
	// Expires is a date (YYYY-MM-DD); from that day on the finding is reported again.
	Expires string `json:"expires,omitempty"`
}

// Suppressed is a finding a baseline entry accepts.
type Suppressed struct {
	Check    string              `json:"check"`
	Severity Severity            `json:"severity"`
	Object   inventory.ObjectRef `json:"object"`
	Reason   string              `json:"reason"`
	Expires  string              `json:"expires,omitempty"`
}

// BaselineReport says what applying a baseline did besides suppressing: entries that expired
// (their findings are reported again) and entries that matched nothing (fixed: remove them).
type BaselineReport struct {
	Expired []BaselineEntry `json:"expired"`
	Unused  []BaselineEntry `json:"unused"`
}

const dateLayout = "2006-01-02"

// ParseBaseline reads a baseline file (YAML or JSON), checking every entry.
func ParseBaseline(data []byte) (*Baseline, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	var b Baseline
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, err
	}
	if b.Kind != "Baseline" || b.APIVersion != BaselineAPIVersion {
		return nil, fmt.Errorf("not a kwid baseline (want apiVersion %s, kind Baseline; kwid scan --write-baseline writes one)", BaselineAPIVersion)
	}
	for i, e := range b.Entries {
		switch {
		case e.Check == "":
			return nil, fmt.Errorf("entry %d: check is required", i+1)
		case e.Object.Kind == "" || e.Object.Name == "":
			return nil, fmt.Errorf("entry %d (%s): object kind and name are required", i+1, e.Check)
		case e.Reason == "":
			return nil, fmt.Errorf("entry %d (%s %s): a reason is required", i+1, e.Check, e.Object)
		}
		if e.Expires != "" {
			if _, err := time.Parse(dateLayout, e.Expires); err != nil {
				return nil, fmt.Errorf("entry %d (%s %s): expires %q: want YYYY-MM-DD", i+1, e.Check, e.Object, e.Expires)
			}
		}
	}
	return &b, nil
}

// Apply removes the findings the baseline accepts from res (into res.Suppressed), as of
// now. Expired entries suppress nothing.
func (b *Baseline) Apply(res *Result, now time.Time) BaselineReport {
	rep := BaselineReport{Expired: []BaselineEntry{}, Unused: []BaselineEntry{}}
	used := make([]bool, len(b.Entries))
	expired := make([]bool, len(b.Entries))
	today := now.Format(dateLayout)
	for i, e := range b.Entries {
		if e.Expires != "" && e.Expires <= today {
			expired[i] = true
			rep.Expired = append(rep.Expired, e)
		}
	}
	kept := res.Findings[:0]
	for _, f := range res.Findings {
		i := slices.IndexFunc(b.Entries, func(e BaselineEntry) bool { return e.Check == f.Check && e.Object == f.Object })
		if i < 0 || expired[i] {
			kept = append(kept, f)
			continue
		}
		used[i] = true
		e := b.Entries[i]
		res.Suppressed = append(res.Suppressed, Suppressed{Check: f.Check, Severity: f.Severity, Object: f.Object, Reason: e.Reason, Expires: e.Expires})
	}
	res.Findings = kept
	for i, e := range b.Entries {
		if !used[i] && !expired[i] {
			rep.Unused = append(rep.Unused, e)
		}
	}
	return rep
}

// WriteBaseline writes a baseline accepting every finding, one entry per check and object,
// with a reason to fill in.
func WriteBaseline(w io.Writer, findings []Finding) error {
	b := Baseline{APIVersion: BaselineAPIVersion, Kind: "Baseline", Entries: []BaselineEntry{}}
	for _, f := range findings {
		e := BaselineEntry{Check: f.Check, Object: f.Object, Reason: "TODO: say why this is accepted (" + f.Severity.String() + ")"}
		if !slices.ContainsFunc(b.Entries, func(x BaselineEntry) bool { return x.Check == e.Check && x.Object == e.Object }) {
			b.Entries = append(b.Entries, e)
		}
	}
	y, err := yaml.Marshal(b)
	if err != nil {
		return err
	}
	_, err = w.Write(append([]byte("# kwid baseline: accepted findings. Give each entry a reason and, ideally, an expiry date (expires: YYYY-MM-DD).\n"), y...))
	return err
}
