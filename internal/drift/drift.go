// Package drift holds kwid's comparison of two Snapshots of the same cluster (or of the
// manifests meant for it) taken at two points in time: the findings added, fixed and
// changed in severity, the effective permissions each identity gained and lost, the cloud
// identity mappings added, removed or changed, and the RBAC objects behind those changes.
//
// drift reads Snapshots through the rbac index and the checks, and knows nothing about
// where a Snapshot came from (live, files, saved) or how a Result is rendered.
package drift

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

// APIVersion versions the diff result document.
const APIVersion = "kwid.dev/v1alpha1"

// Change says how something differs between OLD and NEW.
type Change string

// Changes.
const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// Result is what changed from OLD to NEW. Its JSON form is a stable contract
// (docs/diff.md): lists are never null, except Paths (see there).
type Result struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// KwidVersion is the version of kwid that produced the result.
	KwidVersion string            `json:"kwidVersion,omitempty"`
	Old         inventory.Cluster `json:"old"`
	New         inventory.Cluster `json:"new"`
	Summary     Summary           `json:"summary"`
	Findings    Findings          `json:"findings"`
	// Identities are the ServiceAccounts, Users and Groups whose effective permissions
	// changed, sorted by kind, namespace and name.
	Identities []IdentityChange `json:"identities"`
	// CloudMappings are ServiceAccount annotations that map it to a cloud identity.
	CloudMappings []CloudMappingChange `json:"cloudMappings"`
	// Objects are the RoleBindings, ClusterRoleBindings, Roles and ClusterRoles added,
	// removed or changed (a Role whose rules allow the same is not changed).
	Objects []ObjectChange `json:"objects"`
	// Paths are the identities whose path to cluster-admin appeared (added) or went away
	// (removed), with the shortest path's hops. nil (null in JSON) means paths were not
	// compared (RBAC not read on a side), an empty list that none changed.
	Paths []PathChange `json:"paths"`
	// NotAssessed are the parts of the comparison that could not be made on a side because
	// a kind was not collected there. A check not assessed on one side makes its findings
	// look added or fixed: read them with this list.
	NotAssessed []NotAssessed `json:"notAssessed"`
}

// Summary counts the changes.
type Summary struct {
	FindingsAdded   int `json:"findingsAdded"`
	FindingsFixed   int `json:"findingsFixed"`
	FindingsChanged int `json:"findingsChanged"`
	Identities      int `json:"identities"`
	CloudMappings   int `json:"cloudMappings"`
	Objects         int `json:"objects"`
	Paths           int `json:"paths"`
}

// Findings are the findings of NEW that OLD did not have (Added), those of OLD that NEW no
// longer has (Fixed), and those on both whose severity changed (Changed). Findings are
// matched by check and object (and message, when one check reports several findings on
// one object). Each list is sorted like a scan: most severe first, then check and object.
type Findings struct {
	Added   []checks.Finding `json:"added"`
	Fixed   []checks.Finding `json:"fixed"`
	Changed []SeverityChange `json:"changed"`
}

// SeverityChange is a finding of NEW whose severity differs from the same finding of OLD.
type SeverityChange struct {
	checks.Finding
	OldSeverity checks.Severity `json:"oldSeverity"`
}

// Raised reports whether the severity went up.
func (c SeverityChange) Raised() bool { return c.Severity > c.OldSeverity }

// Identity names a ServiceAccount, User or Group.
type Identity struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (id Identity) String() string {
	if id.Kind == rbacv1.ServiceAccountKind {
		return "ServiceAccount " + id.Namespace + "/" + id.Name
	}
	return id.Kind + " " + id.Name
}

// IdentityChange is what one identity can do on NEW that it could not on OLD (Gained), and
// the reverse (Lost), as compacted rules by scope.
//
// A ServiceAccount's or User's entry covers what bindings naming it grant, judged against
// everything it holds (its groups included): a rule it already held through a group is not
// gained. What a group gains or loses is reported once, on the group's entry, which counts
// the ServiceAccounts that are members.
type IdentityChange struct {
	Identity
	// ServiceAccounts is, for the groups every ServiceAccount (or those of one namespace)
	// is in, how many ServiceAccounts of NEW the change reaches.
	ServiceAccounts int     `json:"serviceAccounts,omitempty"`
	Gained          []Scope `json:"gained"`
	Lost            []Scope `json:"lost"`
}

// Scope is rules in one scope.
type Scope struct {
	// Namespace is where the rules apply; absent (empty) for cluster-wide rules (held
	// through a ClusterRoleBinding), which apply in every namespace too.
	Namespace string              `json:"namespace,omitempty"`
	Rules     []rbacv1.PolicyRule `json:"rules"`
}

// Cloud identity annotations on ServiceAccounts.
const (
	AWSRoleAnnotation  = "eks.amazonaws.com/role-arn"
	GCPSAAnnotation    = "iam.gke.io/gcp-service-account"
	AzureIDAnnotation  = "azure.workload.identity/client-id"
	providerAWS        = "aws"
	providerGCP        = "gcp"
	providerAzure      = "azure"
	partPermissions    = "permissions"
	partCloudMappings  = "cloudMappings"
	kindServiceAccount = rbacv1.ServiceAccountKind
)

var cloudAnnotations = []struct{ annotation, provider string }{
	{AWSRoleAnnotation, providerAWS},
	{GCPSAAnnotation, providerGCP},
	{AzureIDAnnotation, providerAzure},
}

// CloudMappingChange is a ServiceAccount's cloud identity annotation that appeared,
// disappeared or changed value.
type CloudMappingChange struct {
	ServiceAccount inventory.ObjectRef `json:"serviceAccount"`
	// Provider is aws (IRSA), gcp (GKE Workload Identity) or azure (Azure Workload Identity).
	Provider   string `json:"provider"`
	Annotation string `json:"annotation"`
	Change     Change `json:"change"`
	Old        string `json:"old,omitempty"`
	New        string `json:"new,omitempty"`
}

// ObjectChange is an RBAC object added, removed or changed. For bindings, the role they
// reference and the subjects added or removed; for roles, the rules added or removed
// (aggregation applied, compared atom by atom).
type ObjectChange struct {
	Object inventory.ObjectRef `json:"object"`
	Change Change              `json:"change"`
	// RoleRef is the binding's role (on NEW; on OLD for a removed binding); OldRoleRef is
	// set when it changed.
	RoleRef         *rbacv1.RoleRef     `json:"roleRef,omitempty"`
	OldRoleRef      *rbacv1.RoleRef     `json:"oldRoleRef,omitempty"`
	SubjectsAdded   []rbacv1.Subject    `json:"subjectsAdded,omitempty"`
	SubjectsRemoved []rbacv1.Subject    `json:"subjectsRemoved,omitempty"`
	RulesAdded      []rbacv1.PolicyRule `json:"rulesAdded,omitempty"`
	RulesRemoved    []rbacv1.PolicyRule `json:"rulesRemoved,omitempty"`
}

// PathChange is an escalation path present on one side only. It is the extension point
// for the identity graph: drift does not compute paths yet.
type PathChange struct {
	Change Change   `json:"change"`
	From   Identity `json:"from"`
	// To is the target: "cluster-admin", "cloud:ARN" or "secret:NS/NAME".
	To string `json:"to"`
	// Steps explain the path edge by edge.
	Steps []string `json:"steps"`
}

// NotAssessed is a part of the comparison that could not be made on one side.
type NotAssessed struct {
	// Side is "old", "new" or "both".
	Side string `json:"side"`
	// Check is a check ID, or "permissions" or "cloudMappings".
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// Options tune a comparison.
type Options struct {
	// Config tunes the checks on both sides (nil: the defaults).
	Config *checks.Config
}

// Side is one point in time, scanned: its findings, its RBAC index and the parts of its
// Snapshot a comparison reads. It does not keep the rest of the Snapshot (Pods, Secrets,
// workloads), so that a large cluster's two sides need not be in memory at once.
type Side struct {
	snap   *inventory.Snapshot // the kinds compare reads; the rest dropped
	ix     *rbac.Index
	result *checks.Result
	// paths are the identities with a path to cluster-admin, and the path's hops (nil when
	// the RBAC kinds were not all read).
	paths map[Identity][]string
	// cloudPaths are the subjects that can act as a ServiceAccount mapped to a cloud role,
	// by subject and target ("cloud:ROLE"), with the step that gets them there.
	cloudPaths map[pathKey][]string
}

// pathKey is one identity's path to one target.
type pathKey struct {
	From Identity
	To   string
}

// NewSide scans a Snapshot with a configuration (nil: the defaults).
func NewSide(s *inventory.Snapshot, cfg *checks.Config) *Side { return NewSideWithCloud(s, cfg, nil) }

// NewSideWithCloud scans a Snapshot with its cloud side (nil: none), so that cloud checks
// run and paths to cloud roles follow what the clouds' trust really admits.
func NewSideWithCloud(s *inventory.Snapshot, cfg *checks.Config, c *cloud.Inventory) *Side {
	if cfg == nil {
		cfg = checks.DefaultConfig()
	}
	in := checks.NewInput(s)
	in.Config = cfg
	in.Cloud = c
	res := checks.Run(in)
	var paths map[Identity][]string
	var cloudPaths map[pathKey][]string
	if s.Readable(rbacKinds...) {
		cloudPaths = map[pathKey][]string{}
		for _, h := range checks.CloudRoleHolders(in) {
			for _, sub := range h.Subjects {
				for _, role := range h.Roles {
					step := fmt.Sprintf("can act as %s, mapped to cloud role %s (KW-WI-AWS-006; kwid paths --to cloud:%s)", h.ServiceAccount, role, role)
					k := pathKey{subjectIdentity(sub), "cloud:" + role}
					cloudPaths[k] = append(cloudPaths[k], step)
				}
			}
		}
		// The graph is memoized in the Input: KW-ESC-009 built it during Run.
		paths = map[Identity][]string{}
		g := in.Graph()
		for _, ap := range checks.AdminPathsOf(in) {
			n := g.Node(ap.Identity)
			paths[Identity{Kind: n.Kind.String(), Namespace: n.Namespace, Name: n.Name}] = checks.HopLines(ap.Path)
		}
	}
	kept := &inventory.Snapshot{
		Cluster: s.Cluster, Status: s.Status,
		ServiceAccounts: s.ServiceAccounts, Roles: s.Roles, ClusterRoles: s.ClusterRoles,
		RoleBindings: s.RoleBindings, ClusterRoleBindings: s.ClusterRoleBindings,
	}
	return &Side{snap: kept, ix: in.RBAC, result: res, paths: paths, cloudPaths: cloudPaths}
}

// Snapshot returns what the side keeps of its Snapshot: cluster metadata, collection
// status, ServiceAccounts and RBAC objects.
func (s *Side) Snapshot() *inventory.Snapshot { return s.snap }

// Compare reports what changed from old to new, scanning both sides concurrently with the
// same configuration. See CompareSides.
func Compare(old, new *inventory.Snapshot, opts Options) *Result {
	var o, n *Side
	var wg sync.WaitGroup
	wg.Go(func() { o = NewSide(old, opts.Config) })
	wg.Go(func() { n = NewSide(new, opts.Config) })
	wg.Wait()
	return CompareSides(o, n)
}

// CompareSides reports what changed from old to new (scanned with the same configuration).
// Effective permissions are computed only for the identities named by a binding that
// changed or by a binding whose role changed, so the cost beyond the two scans grows with
// the size of the change, not of the cluster.
func CompareSides(oldSide, newSide *Side) *Result {
	old, new := oldSide.snap, newSide.snap
	res := &Result{
		APIVersion: APIVersion, Kind: "DiffResult",
		Old: old.Cluster, New: new.Cluster,
		Identities:    []IdentityChange{},
		CloudMappings: []CloudMappingChange{},
		Objects:       []ObjectChange{},
	}
	res.Findings = compareFindings(oldSide.result.Findings, newSide.result.Findings)
	res.NotAssessed = mergeNotAssessed(oldSide.result.NotAssessed, newSide.result.NotAssessed)

	if notAssessed(res, partPermissions, old, new, rbacKinds...) {
		c := newComparison(old, new, oldSide.ix, newSide.ix)
		res.Objects = c.objects()
		res.Identities = c.identities()
		if oldSide.paths != nil && newSide.paths != nil {
			res.Paths = append(comparePaths(oldSide.paths, newSide.paths), compareCloudPaths(oldSide.cloudPaths, newSide.cloudPaths)...)
		}
	}
	if notAssessed(res, partCloudMappings, old, new, inventory.ServiceAccounts) {
		res.CloudMappings = compareCloudMappings(old, new)
	}
	res.Summary = Summary{
		FindingsAdded: len(res.Findings.Added), FindingsFixed: len(res.Findings.Fixed), FindingsChanged: len(res.Findings.Changed),
		Identities: len(res.Identities), CloudMappings: len(res.CloudMappings), Objects: len(res.Objects),
		Paths: len(res.Paths),
	}
	return res
}

// rbacKinds are what effective permissions and escalation paths are computed from.
var rbacKinds = []inventory.Kind{inventory.Roles, inventory.ClusterRoles, inventory.RoleBindings, inventory.ClusterRoleBindings}

// comparePaths reports the identities whose path to cluster-admin appeared or went away;
// an identity with a path on both sides is unchanged, whatever its shortest path now is.
func comparePaths(old, new map[Identity][]string) []PathChange {
	out := []PathChange{}
	for id, steps := range new {
		if _, ok := old[id]; !ok {
			out = append(out, PathChange{Change: Added, From: id, To: "cluster-admin", Steps: steps})
		}
	}
	for id, steps := range old {
		if _, ok := new[id]; !ok {
			out = append(out, PathChange{Change: Removed, From: id, To: "cluster-admin", Steps: steps})
		}
	}
	slices.SortFunc(out, func(a, b PathChange) int {
		return cmp.Or(cmp.Compare(a.Change, b.Change), cmp.Compare(a.From.Kind, b.From.Kind),
			cmp.Compare(a.From.Namespace, b.From.Namespace), cmp.Compare(a.From.Name, b.From.Name))
	})
	return out
}

// compareCloudPaths reports the subjects that gained or lost a way to a cloud role (by
// acting as a ServiceAccount mapped to it).
func compareCloudPaths(old, new map[pathKey][]string) []PathChange {
	out := []PathChange{}
	for k, steps := range new {
		if _, ok := old[k]; !ok {
			out = append(out, PathChange{Change: Added, From: k.From, To: k.To, Steps: steps})
		}
	}
	for k, steps := range old {
		if _, ok := new[k]; !ok {
			out = append(out, PathChange{Change: Removed, From: k.From, To: k.To, Steps: steps})
		}
	}
	slices.SortFunc(out, func(a, b PathChange) int {
		return cmp.Or(cmp.Compare(a.Change, b.Change), cmp.Compare(a.To, b.To), cmp.Compare(a.From.Kind, b.From.Kind),
			cmp.Compare(a.From.Namespace, b.From.Namespace), cmp.Compare(a.From.Name, b.From.Name))
	})
	return out
}

// subjectIdentity names a subject found by the checks.
func subjectIdentity(r inventory.ObjectRef) Identity {
	kind := string(r.Kind)
	if r.Kind == inventory.ServiceAccounts {
		kind = rbacv1.ServiceAccountKind
	}
	return Identity{Kind: kind, Namespace: r.Namespace, Name: r.Name}
}

// notAssessed records a part as not assessed on each side where a kind it reads was not
// collected, and reports whether it can be compared (both sides readable).
func notAssessed(res *Result, part string, old, new *inventory.Snapshot, kinds ...inventory.Kind) bool {
	ok := true
	for _, s := range []struct {
		name string
		snap *inventory.Snapshot
	}{{"old", old}, {"new", new}} {
		if reasons := s.snap.Unreadable(kinds...); len(reasons) > 0 {
			ok = false
			for _, r := range reasons {
				res.NotAssessed = append(res.NotAssessed, NotAssessed{Side: s.name, Check: part, Reason: r})
			}
		}
	}
	return ok
}

func mergeNotAssessed(old, new []checks.NotAssessed) []NotAssessed {
	out := []NotAssessed{}
	inNew := map[checks.NotAssessed]bool{}
	for _, n := range new {
		inNew[n] = true
	}
	inOld := map[checks.NotAssessed]bool{}
	for _, n := range old {
		inOld[n] = true
		side := "old"
		if inNew[n] {
			side = "both"
		}
		out = append(out, NotAssessed{Side: side, Check: n.Check, Reason: n.Reason})
	}
	for _, n := range new {
		if !inOld[n] {
			out = append(out, NotAssessed{Side: "new", Check: n.Check, Reason: n.Reason})
		}
	}
	return out
}

// Introduced returns the findings the change introduces at or above a severity: added
// ones, and those whose severity was raised to at least sev. Existing debt is not
// introduced.
func (r *Result) Introduced(sev checks.Severity) []checks.Finding {
	var out []checks.Finding
	for _, f := range r.Findings.Added {
		if f.Severity >= sev {
			out = append(out, f)
		}
	}
	for _, c := range r.Findings.Changed {
		if c.Raised() && c.Severity >= sev {
			out = append(out, c.Finding)
		}
	}
	return out
}

// Empty reports whether nothing changed.
func (r *Result) Empty() bool {
	s := r.Summary
	return s == Summary{} && len(r.Paths) == 0
}

type findingKey struct {
	check  string
	object inventory.ObjectRef
}

func compareFindings(old, new []checks.Finding) Findings {
	out := Findings{Added: []checks.Finding{}, Fixed: []checks.Finding{}, Changed: []SeverityChange{}}
	byKey := func(fs []checks.Finding) (map[findingKey][]int, []findingKey) {
		m := map[findingKey][]int{}
		var order []findingKey
		for i := range fs {
			k := findingKey{fs[i].Check, fs[i].Object}
			if _, ok := m[k]; !ok {
				order = append(order, k)
			}
			m[k] = append(m[k], i)
		}
		return m, order
	}
	oldBy, _ := byKey(old)
	newBy, newOrder := byKey(new)
	for _, k := range newOrder {
		ns, os := newBy[k], oldBy[k]
		usedOld := make([]bool, len(os))
		var rest []int
		// Several findings of one check on one object: pair equal messages first.
		for _, ni := range ns {
			j := -1
			for x, oi := range os {
				if !usedOld[x] && old[oi].Message == new[ni].Message {
					j = x
					break
				}
			}
			if j < 0 {
				rest = append(rest, ni)
				continue
			}
			usedOld[j] = true
			if old[os[j]].Severity != new[ni].Severity {
				out.Changed = append(out.Changed, SeverityChange{Finding: new[ni], OldSeverity: old[os[j]].Severity})
			}
		}
		for _, ni := range rest {
			j := slices.Index(usedOld, false)
			if j < 0 {
				out.Added = append(out.Added, new[ni])
				continue
			}
			usedOld[j] = true
			if old[os[j]].Severity != new[ni].Severity {
				out.Changed = append(out.Changed, SeverityChange{Finding: new[ni], OldSeverity: old[os[j]].Severity})
			}
		}
		for j, used := range usedOld {
			if !used {
				out.Fixed = append(out.Fixed, old[os[j]])
			}
		}
	}
	for i := range old {
		if _, ok := newBy[findingKey{old[i].Check, old[i].Object}]; !ok {
			out.Fixed = append(out.Fixed, old[i])
		}
	}
	sortFindings(out.Added)
	sortFindings(out.Fixed)
	slices.SortStableFunc(out.Changed, func(a, b SeverityChange) int { return findingOrder(a.Finding, b.Finding) })
	return out
}

func findingOrder(a, b checks.Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(a.Check, b.Check),
		cmp.Compare(a.Object.Namespace, b.Object.Namespace),
		cmp.Compare(a.Object.Kind, b.Object.Kind),
		cmp.Compare(a.Object.Name, b.Object.Name),
	)
}

func sortFindings(fs []checks.Finding) { slices.SortStableFunc(fs, findingOrder) }

func compareCloudMappings(old, new *inventory.Snapshot) []CloudMappingChange {
	out := []CloudMappingChange{}
	i, j := 0, 0
	for i < len(old.ServiceAccounts) || j < len(new.ServiceAccounts) {
		var o, n map[string]string
		var ref inventory.ObjectRef
		switch c := compareSA(old, new, i, j); {
		case c < 0:
			o = old.ServiceAccounts[i].Annotations
			ref = saRef(old.ServiceAccounts[i].Namespace, old.ServiceAccounts[i].Name)
			i++
		case c > 0:
			n = new.ServiceAccounts[j].Annotations
			ref = saRef(new.ServiceAccounts[j].Namespace, new.ServiceAccounts[j].Name)
			j++
		default:
			o, n = old.ServiceAccounts[i].Annotations, new.ServiceAccounts[j].Annotations
			ref = saRef(new.ServiceAccounts[j].Namespace, new.ServiceAccounts[j].Name)
			i++
			j++
		}
		for _, ca := range cloudAnnotations {
			ov, nv := o[ca.annotation], n[ca.annotation]
			if ov == nv {
				continue
			}
			ch := Changed
			switch {
			case ov == "":
				ch = Added
			case nv == "":
				ch = Removed
			}
			out = append(out, CloudMappingChange{ServiceAccount: ref, Provider: ca.provider, Annotation: ca.annotation, Change: ch, Old: ov, New: nv})
		}
	}
	return out
}

// compareSA orders old.ServiceAccounts[i] and new.ServiceAccounts[j] (both sorted by
// namespace and name); an exhausted side sorts last.
func compareSA(old, new *inventory.Snapshot, i, j int) int {
	switch {
	case i >= len(old.ServiceAccounts):
		return 1
	case j >= len(new.ServiceAccounts):
		return -1
	}
	a, b := &old.ServiceAccounts[i], &new.ServiceAccounts[j]
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func saRef(ns, name string) inventory.ObjectRef {
	return inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: ns, Name: name}
}

// identityOf names the identity a binding subject stands for.
func identityOf(s *rbacv1.Subject, bindingNamespace string) (Identity, bool) {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := cmp.Or(s.Namespace, bindingNamespace)
		if ns == "" || s.Name == "" {
			return Identity{}, false
		}
		return Identity{Kind: kindServiceAccount, Namespace: ns, Name: s.Name}, true
	case rbacv1.UserKind:
		if ns, name, ok := rbac.SplitServiceAccountUsername(s.Name); ok {
			return Identity{Kind: kindServiceAccount, Namespace: ns, Name: name}, true
		}
		return Identity{Kind: rbacv1.UserKind, Name: s.Name}, s.Name != ""
	case rbacv1.GroupKind:
		return Identity{Kind: rbacv1.GroupKind, Name: s.Name}, s.Name != ""
	}
	return Identity{}, false
}

// AbsentAsEmpty returns s with every kind absent from its input read as collected and
// empty: when comparing two manifest sets (or a cluster that does not serve a kind), a kind
// nobody wrote means there is none of it, and leaving it "not assessed" on one side would
// turn every finding that reads it into an added or fixed one. Kinds that could not be read
// (forbidden, error) stay unreadable. s itself is not modified.
func AbsentAsEmpty(s *inventory.Snapshot) *inventory.Snapshot {
	cp := *s
	cp.Status = make(map[inventory.Kind]inventory.Status, len(inventory.AllKinds))
	for _, k := range inventory.AllKinds {
		st := s.StatusOf(k)
		if st.State == inventory.Absent || st.State == "" {
			st = inventory.Status{State: inventory.Collected, Scope: "absent from the input: read as none"}
		}
		cp.Status[k] = st
	}
	return &cp
}
