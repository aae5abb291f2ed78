// Package checks holds kwid's check catalog: pure functions of a Snapshot and its RBAC index
// that return findings (what is wrong, with evidence and a fix) and say which checks could
// not be assessed because a kind they read was not collected.
//
// checks never prints and knows nothing about output formats.
package checks

import (
	"fmt"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
)

// Severity orders findings; the zero value is Info.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads "critical", "high", "medium", "low" or "info" (any case).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames, ", "))
}

// MarshalText renders the severity as its lowercase name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Finding is one problem on one object. Its JSON form is part of kwid's stable contract
// (docs/json-output.md).
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	// Object is what the finding is about; Related are the other objects involved.
	Object  inventory.ObjectRef   `json:"object"`
	Related []inventory.ObjectRef `json:"related,omitempty"`
	// Evidence explains, one fact per line, why the finding holds.
	Evidence    []string `json:"evidence,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	References  []string `json:"references,omitempty"`
	// Location is where Object was read from, for file input.
	Location *inventory.Location `json:"location,omitempty"`
}

// NotAssessed says a check (or a part of it) did not run because its input was missing.
// It is never a pass.
type NotAssessed struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}
