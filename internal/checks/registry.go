package checks

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/usage"
)

// Check is one entry of the catalog.
type Check struct {
	ID       string           `json:"id"`
	Title    string           `json:"title"`
	Severity Severity         `json:"severity"` // the default; findings may raise or lower it
	Reads    []inventory.Kind `json:"reads"`
	Refs     []string         `json:"references"`
	Summary  string           `json:"description"`
	// WholeGraph: the check searches the identity graph of the whole cluster, so it cannot
	// judge one object under admission on a small neighbourhood (kwid webhook skips it).
	WholeGraph bool               `json:"-"`
	run        func(*Input, *run) `json:"-"`
}

// Input is what every check reads.
type Input struct {
	Snapshot *inventory.Snapshot
	RBAC     *rbac.Index
	Config   *Config
	// Usage is what audit logs say identities did (kwid scan --audit-log); nil without logs.
	Usage *usage.Report
	// Cloud is the cloud side (kwid --cloud): IAM roles, EKS, GKE and Azure objects; nil
	// without cloud input. Set it before the first call to Graph.
	Cloud *cloud.Inventory

	mu        sync.Mutex
	tiers     map[[2]string]tierOf
	usage     map[[2]string]saUsage
	workloads []inventory.Workload

	rbacWorkloadsOnce sync.Once
	rbacWorkloads     *rbacWorkloadIndex
	rbacUsages        sync.Map // inventory.ObjectRef -> rbacUsage
	bindingsOnce      sync.Once
	bindings          *bindingIndex

	lines evidenceLines

	graph graphMemo

	cloudHolders struct {
		once sync.Once
		v    []CloudRoleHolder
	}
}

type tierOf struct {
	tier Tier
	why  string
}

// NewInput indexes a Snapshot for the checks, with the default configuration.
func NewInput(s *inventory.Snapshot) *Input {
	return &Input{Snapshot: s, RBAC: rbac.NewIndex(s), Config: DefaultConfig(), tiers: map[[2]string]tierOf{}}
}

// ServiceAccountTier rates a ServiceAccount's effective RBAC rights (memoized). A
// ServiceAccount holds what names it plus what its three groups hold; the groups' tiers
// are shared by every ServiceAccount, so they are computed once.
func (in *Input) ServiceAccountTier(namespace, name string) (Tier, string) {
	key := [2]string{namespace, name}
	in.mu.Lock()
	t, ok := in.tiers[key]
	in.mu.Unlock()
	if ok {
		return t.tier, t.why
	}
	u := rbac.ServiceAccountUser(namespace, name)
	t.tier, t.why = TierOf(in.RBAC.GrantsForUserName(u.Name))
	for _, g := range u.Groups {
		gt := in.groupTier(g)
		if gt.tier > t.tier {
			t = gt
		}
	}
	in.mu.Lock()
	in.tiers[key] = t
	in.mu.Unlock()
	return t.tier, t.why
}

func (in *Input) groupTier(group string) tierOf {
	key := [2]string{"group", group}
	in.mu.Lock()
	t, ok := in.tiers[key]
	in.mu.Unlock()
	if !ok {
		t.tier, t.why = TierOf(in.RBAC.GrantsForGroup(group))
		in.mu.Lock()
		in.tiers[key] = t
		in.mu.Unlock()
	}
	return t
}

// Workloads returns the Snapshot's workloads, computed once for all checks.
func (in *Input) Workloads() []inventory.Workload {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.workloads == nil {
		in.workloads = in.Snapshot.Workloads()
	}
	return in.workloads
}

// Result is what a set of checks found.
type Result struct {
	Findings    []Finding     `json:"findings"`
	NotAssessed []NotAssessed `json:"notAssessed"`
	// Allowlisted are findings on subjects meant to hold those rights (Config.Allowlist).
	Allowlisted []Allowlisted `json:"allowlisted"`
	// Suppressed are findings a baseline accepts (Baseline.Apply).
	Suppressed []Suppressed `json:"suppressed"`
}

// Allowlisted is a finding the allowlist covers, and why.
type Allowlisted struct {
	Check  string              `json:"check"`
	Object inventory.ObjectRef `json:"object"`
	Reason string              `json:"reason"`
}

// run collects one check's output.
type run struct {
	check *Check
	in    *Input
	res   *Result
}

func (r *run) add(f Finding) {
	f.Check = r.check.ID
	if f.Title == "" {
		f.Title = r.check.Title
	}
	if f.References == nil {
		f.References = r.check.Refs
	}
	if loc, ok := r.in.Snapshot.Locations[f.Object]; ok && f.Location == nil {
		f.Location = &loc
	}
	r.res.Findings = append(r.res.Findings, f)
}

func (r *run) notAssessed(part string, reasons []string) {
	reason := strings.Join(reasons, "; ")
	if part != "" {
		reason = part + ": " + reason
	}
	r.res.NotAssessed = append(r.res.NotAssessed, NotAssessed{Check: r.check.ID, Reason: reason})
}

// need reports whether every kind was collected, and records the check (part) as not
// assessed otherwise.
func (r *run) need(part string, kinds ...inventory.Kind) bool {
	if reasons := r.in.Snapshot.Unreadable(kinds...); len(reasons) > 0 {
		r.notAssessed(part, reasons)
		return false
	}
	return true
}

// partial is need for checks that judge each object on its own: findings on the objects
// that were read still hold, so it records the unreadable kinds as not assessed and
// reports whether any kind was read.
func (r *run) partial(part string, kinds ...inventory.Kind) bool {
	reasons := r.in.Snapshot.Unreadable(kinds...)
	if len(reasons) > 0 {
		r.notAssessed(part, reasons)
	}
	return len(reasons) < len(kinds)
}

// workloadKinds are the kinds that carry pod specs.
var workloadKinds = []inventory.Kind{
	inventory.Pods, inventory.Deployments, inventory.StatefulSets, inventory.DaemonSets,
	inventory.ReplicaSets, inventory.Jobs, inventory.CronJobs, inventory.ReplicationControllers,
}

// needWorkloads is need for the workload kinds, where a kind merely absent from the input
// (a manifest set without CronJobs, a server without a kind) is fine as long as one
// workload kind was collected; a kind that could not be read is not.
func (r *run) needWorkloads(part string) bool {
	var failed []string
	collected := false
	for _, k := range workloadKinds {
		st := r.in.Snapshot.StatusOf(k)
		switch st.State {
		case inventory.Collected:
			collected = true
		case inventory.Absent, "":
		default:
			failed = append(failed, st.Reason(k))
		}
	}
	if !collected && len(failed) == 0 {
		failed = append(failed, "no Pods or workload controllers in the input")
	}
	if len(failed) > 0 {
		r.notAssessed(part, failed)
		return false
	}
	return true
}

var registry []*Check

func register(c *Check) *Check {
	registry = append(registry, c)
	return c
}

// All returns the catalog sorted by ID.
func All() []*Check {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b *Check) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Lookup finds a check by ID.
func Lookup(id string) (*Check, error) {
	for _, c := range registry {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("unknown check %q (see `kwid checks`)", id)
}

// Run runs checks (all enabled ones when none are given) and returns their findings, most
// severe first, then by check and object.
func Run(in *Input, cs ...*Check) *Result {
	if len(cs) == 0 {
		cs = All()
	}
	res := &Result{Findings: []Finding{}, NotAssessed: []NotAssessed{}, Allowlisted: []Allowlisted{}, Suppressed: []Suppressed{}}
	// Checks are pure functions of the Input (whose shared memos are locked): they run on
	// every CPU, each into its own Result, merged in catalog order.
	parts := make([]Result, len(cs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(cs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cs[i].run(in, &run{check: cs[i], in: in, res: &parts[i]})
			}
		}()
	}
	// One check that searches the whole identity graph goes first, the others last:
	// building the graph is the longest single piece of work, and the other checks fill
	// the other CPUs meanwhile instead of waiting for it.
	var first, rest, last []int
	for i, c := range cs {
		switch {
		case slices.Contains(in.Config.Disabled, c.ID):
		case c.WholeGraph && first == nil:
			first = append(first, i)
		case c.WholeGraph:
			last = append(last, i)
		default:
			rest = append(rest, i)
		}
	}
	order := slices.Concat(first, rest, last)
	for _, i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	n := 0
	for _, p := range parts {
		n += len(p.Findings)
	}
	res.Findings = slices.Grow(res.Findings, n)
	for _, p := range parts {
		res.Findings = append(res.Findings, p.Findings...)
		res.NotAssessed = append(res.NotAssessed, p.NotAssessed...)
		res.Allowlisted = append(res.Allowlisted, p.Allowlisted...)
	}
	kept := res.Findings[:0]
	for _, f := range res.Findings {
		// A namespace-scoped collection keeps cluster-wide RBAC (it grants into the
		// namespace); findings about objects of other namespaces are out of scope.
		if ns := in.Snapshot.Cluster.Namespace; ns != "" && f.Object.Namespace != "" && f.Object.Namespace != ns {
			continue
		}
		if e := in.Config.allowed(&f); e != nil {
			res.Allowlisted = append(res.Allowlisted, Allowlisted{Check: f.Check, Object: f.Object, Reason: e.Reason})
			continue
		}
		if sev, ok := in.Config.Severity[f.Check]; ok {
			f.Severity = sev
		}
		kept = append(kept, f)
	}
	res.Findings = kept
	slices.SortStableFunc(res.Findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Object.Namespace, b.Object.Namespace),
			cmp.Compare(a.Object.Kind, b.Object.Kind),
			cmp.Compare(a.Object.Name, b.Object.Name),
		)
	})
	return res
}
