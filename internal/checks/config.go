package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/kwid-dev/kwid/internal/inventory"
	"sigs.k8s.io/yaml"
)

// Config tunes the checks: which namespaces are privileged, which subjects are meant to hold
// powerful rights, severity overrides and disabled checks. `kwid scan --config FILE` reads
// it as YAML; unset fields keep their defaults.
type Config struct {
	// PrivilegedNamespaces raise the severity of rights held there (default kube-system).
	PrivilegedNamespaces []string `json:"privilegedNamespaces,omitempty"`
	// Allowlist holds subjects whose findings are expected. Matching findings are not
	// reported as findings but listed as allowlisted, with the entry's reason.
	Allowlist []AllowEntry `json:"allowlist,omitempty"`
	// NoDefaultAllowlist drops the built-in allowlist (system and bootstrap subjects).
	NoDefaultAllowlist bool `json:"noDefaultAllowlist,omitempty"`
	// Severity overrides a check's findings' severity, by check ID.
	Severity map[string]Severity `json:"severity,omitempty"`
	// Disabled checks do not run.
	Disabled []string `json:"disabled,omitempty"`
}

// AllowEntry matches findings by the object they are about (a subject: ServiceAccount,
// User, Group) and optionally by check and by a role among the related objects. Fields are
// path.Match globs ("system:*", "kube-system"); empty fields match anything.
type AllowEntry struct {
	Check     string `json:"check,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Role matches a Role or ClusterRole among the finding's related objects.
	Role   string `json:"role,omitempty"`
	Reason string `json:"reason"`
	// Except lists names (globs) the entry does not cover.
	Except []string `json:"except,omitempty"`
}

// DefaultAllowlist: control-plane and bootstrap subjects that hold powerful rights by design.
var DefaultAllowlist = []AllowEntry{
	{Kind: "Group", Name: "system:masters", Reason: "break-glass group of the control plane (see KW-RBAC-007 for its use)"},
	{Kind: "Group", Name: "system:nodes", Reason: "kubelets; the Node authorizer restricts them"},
	{Kind: "User", Name: "system:*", Except: []string{"system:anonymous", "system:serviceaccount:*"}, Reason: "control-plane component identity"},
	{Kind: "User", Name: "eks:*", Reason: "EKS-managed control-plane identity"},
	{Kind: "Group", Name: "eks:*", Reason: "EKS-managed control-plane identity"},
	{Kind: "ServiceAccount", Namespace: "kube-system", Role: "system:controller:*", Reason: "kube-controller-manager controller ServiceAccount, bound to its bootstrap role"},
	{Kind: "ClusterRole", Name: "eks:*", Check: "KW-RBAC-003", Reason: "EKS-managed role, reconciled by EKS"},
}

// DefaultConfig is the configuration without a --config file.
func DefaultConfig() *Config {
	return &Config{PrivilegedNamespaces: []string{inventory.SystemNamespace}}
}

// ParseConfig reads a YAML or JSON config, rejecting unknown fields and unknown checks.
func ParseConfig(data []byte) (*Config, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	c := DefaultConfig()
	if !bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			return nil, err
		}
	}
	for _, id := range c.Disabled {
		if _, err := Lookup(id); err != nil {
			return nil, fmt.Errorf("disabled: %w", err)
		}
	}
	for id := range c.Severity {
		if _, err := Lookup(id); err != nil {
			return nil, fmt.Errorf("severity: %w", err)
		}
	}
	for i, e := range c.Allowlist {
		if e.Reason == "" {
			return nil, fmt.Errorf("allowlist entry %d: a reason is required", i+1)
		}
		for _, p := range append([]string{e.Check, e.Kind, e.Namespace, e.Name, e.Role}, e.Except...) {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("allowlist entry %d: bad pattern %q: %w", i+1, p, err)
			}
		}
	}
	if len(c.PrivilegedNamespaces) == 0 {
		c.PrivilegedNamespaces = []string{inventory.SystemNamespace}
	}
	return c, nil
}

// Privileged reports whether a namespace is privileged.
func (c *Config) Privileged(namespace string) bool {
	return slices.Contains(c.PrivilegedNamespaces, namespace)
}

// allowed returns the allowlist entry that covers a finding, if any: the default entries
// (unless turned off), then the configured ones.
func (c *Config) allowed(f *Finding) *AllowEntry {
	lists := [][]AllowEntry{DefaultAllowlist, c.Allowlist}
	if c.NoDefaultAllowlist {
		lists = lists[1:]
	}
	for _, list := range lists {
		for i := range list {
			if list[i].matches(f) {
				e := list[i]
				return &e
			}
		}
	}
	return nil
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

func (e AllowEntry) matches(f *Finding) bool {
	if !glob(e.Check, f.Check) || !glob(e.Kind, string(f.Object.Kind)) ||
		!glob(e.Namespace, f.Object.Namespace) || !glob(e.Name, f.Object.Name) {
		return false
	}
	for _, x := range e.Except {
		if glob(x, f.Object.Name) {
			return false
		}
	}
	if e.Role == "" {
		return true
	}
	for _, r := range f.Related {
		if (r.Kind == "ClusterRole" || r.Kind == "Role") && glob(e.Role, r.Name) {
			return true
		}
	}
	return false
}
