package rbac_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/testcluster"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// TestDifferentialLive generates a random RBAC universe from a seed, applies it to a real
// API server, and checks kwid's answer against the API server's SubjectAccessReview on
// thousands of random queries, on two indexes of the same universe:
//
//   - the live snapshot (inventory.LoadLive): every query. It also holds the cluster's
//     bootstrap RBAC, as the API server does. When both allow, the API server's reason must
//     name one of the bindings kwid finds allowing the request (ClusterRoleBindings first,
//     as the authorizer visits them; so equality when exactly one binding allows);
//   - the manifest file (inventory.LoadFiles, aggregation computed offline): every query
//     whose answer is decided by the file's objects alone, see diffAllowing.
//
// KWID_DIFF_SEED=<n> replays a run; KWID_DIFF_KEEP=1 leaves the universe in the cluster.
func TestDifferentialLive(t *testing.T) {
	c := testcluster.Start(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KWID_DIFF_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("KWID_DIFF_SEED=%q: want an unsigned integer", s)
		}
	}
	repro := fmt.Sprintf("seed %d; reproduce with KWID_DIFF_SEED=%d go test ./internal/rbac -run TestDifferentialLive -count=1 -v", seed, seed)
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(repro) // also after failures reported by shared helpers
		}
	})
	start := time.Now()
	u := newDiffUniverse(seed)
	sel := diffRunLabel + "=" + u.short

	// A replay of the same seed reuses the names: remove what an earlier run left, and
	// wait for its namespaces to be gone (applying into a terminating namespace fails).
	if c.Kubectl(t, "", "get", "namespaces", "-l", sel, "-o", "name") != "" {
		c.Kubectl(t, "", "delete", "namespaces", "-l", sel, "--wait=true", "--timeout=120s")
	}
	diffDeleteClusterScoped(t, c, u)
	t.Cleanup(func() {
		if os.Getenv("KWID_DIFF_KEEP") == "1" {
			t.Logf("KWID_DIFF_KEEP=1: universe left in the cluster (label %s)", sel)
			return
		}
		c.Kubectl(t, "", "delete", "namespaces", "-l", sel, "--wait=false", "--ignore-not-found")
		diffDeleteClusterScoped(t, c, u)
	})

	manifest := diffYAML(t, u.objects())
	file := filepath.Join(t.TempDir(), "universe.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Kubectl(t, manifest, "apply", "-f", "-")

	// SubjectAccessReviews go through a client without client-side throttling.
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 5000, 5000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fast := *c
	fast.Client = cs
	diffWaitAggregation(t, cs, u, repro)
	diffWaitAuthorizer(t, &fast, u, repro)

	ctx := context.Background()
	live, err := inventory.LoadLive(ctx, c.Config, inventory.LiveOptions{})
	if err != nil {
		t.Fatalf("loading the live snapshot: %v (%s)", err, repro)
	}
	files, errs, err := inventory.LoadFiles(ctx, []string{file}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading %s: %v %v (%s)", file, err, errs, repro)
	}
	liveIx, filesIx := rbac.NewIndex(live), rbac.NewIndex(files)
	bindings := map[string]*rbac.Binding{}
	for _, b := range liveIx.Bindings() {
		bindings[b.Kind+" "+b.Namespace+"/"+b.Name] = b
	}
	loaded := time.Now()

	queries := u.queries(diffQueries)
	answers := make([]diffAnswer, len(queries))
	next := make(chan int, len(queries))
	for i := range queries {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for w := range diffWorkers {
		// t.Run may be called from several goroutines; each worker is a subtest so that
		// the shared subjectAccessReview helper may fail it.
		wg.Go(func() {
			t.Run(fmt.Sprintf("sar-worker-%d", w), func(t *testing.T) {
				for i := range next {
					answers[i].allowed, answers[i].reason = subjectAccessReview(t, &fast, queries[i].user, queries[i].req)
				}
			})
		})
	}
	wg.Wait()
	if t.Failed() {
		t.Fatalf("SubjectAccessReviews failed (%s)", repro)
	}
	reviewed := time.Now()

	var mismatches []diffMismatch
	var allowed, filesCompared, reasonsChecked int
	var allowedTargeted, targeted int
	for i, q := range queries {
		a := answers[i]
		if a.allowed {
			allowed++
		}
		if q.targeted {
			targeted++
			if a.allowed {
				allowedTargeted++
			}
		}
		bad := func(what string, d rbac.Decision) {
			m := diffMismatch{what: what, index: i, q: q, api: a, kwid: d}
			if b := bindings[diffReasonBinding(a.reason)]; b != nil {
				m.apiRules = b.Rules
			}
			mismatches = append(mismatches, m)
		}
		d := liveIx.Authorize(q.user, q.req)
		crbs, rbs, outside := diffAllowing(liveIx, q.user, q.req, u.prefix)
		candidates := crbs // the authorizer visits ClusterRoleBindings first
		if len(crbs) == 0 {
			candidates = rbs
		}
		switch {
		case d.Allowed != a.allowed:
			bad("live snapshot: allowed differs", d)
		case a.allowed && d.Grant != nil:
			reasonsChecked++
			if !slices.Contains(candidates, a.reason) {
				bad(fmt.Sprintf("live snapshot: the API server's reason is none of kwid's allowing bindings %q", candidates), d)
			}
		}
		if outside {
			continue
		}
		filesCompared++
		fd := filesIx.Authorize(q.user, q.req)
		switch {
		case fd.Allowed != a.allowed:
			bad("manifest file: allowed differs", fd)
		case a.allowed && fd.Grant != nil && len(crbs)+len(rbs) == 1 && fd.Reason != a.reason:
			bad("manifest file: reason differs (exactly one binding allows)", fd)
		}
	}
	t.Logf("universe: %d namespaces, %d ServiceAccounts, %d Roles, %d ClusterRoles, %d RoleBindings, %d ClusterRoleBindings",
		len(u.namespaces), len(u.serviceAccounts), len(u.roles), len(u.clusterRoles), len(u.roleBindings), len(u.clusterRoleBindings))
	t.Logf("%d queries: %d allowed (%.0f%%), %d denied; derived from a binding: %d (%.0f%% allowed); files index compared on %d; reasons checked on %d",
		len(queries), allowed, 100*float64(allowed)/float64(len(queries)), len(queries)-allowed,
		targeted, 100*float64(allowedTargeted)/float64(max(targeted, 1)), filesCompared, reasonsChecked)
	t.Logf("timing: apply, wait and load %v, %d SubjectAccessReviews %v, total %v",
		loaded.Sub(start).Round(time.Millisecond), len(queries), reviewed.Sub(loaded).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if len(mismatches) == 0 {
		return
	}
	failing := 0
	for j, m := range mismatches {
		if j == 0 || mismatches[j-1].index != m.index {
			failing++
		}
	}
	var b strings.Builder
	for _, m := range mismatches[:min(len(mismatches), 20)] {
		b.WriteString(m.String())
	}
	t.Fatalf("%d of %d queries disagree with the API server, %d disagreements (first %d below); %s\n%s",
		failing, len(queries), len(mismatches), min(len(mismatches), 20), repro, b.String())
}

const (
	diffNamespaces = 24
	diffQueries    = 8000
	diffWorkers    = 8
	diffRunLabel   = "kwid.dev/diff-run"
	diffAPIGroup   = "diff.kwid.dev" // a custom group no server serves
	diffGhostSA    = "ghost-sa"      // a ServiceAccount that never exists
)

var (
	diffVerbs         = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "bind", "escalate", "approve", "*"}
	diffAPIGroups     = []string{"", "apps", "batch", rbacv1.GroupName, "*", diffAPIGroup}
	diffRuleResources = []string{"pods", "secrets", "configmaps", "deployments", "nodes", "namespaces", "serviceaccounts", "*",
		"pods/exec", "pods/log", "deployments/scale", "*/scale", "*/status", "pods/*"}
	diffResources     = []string{"pods", "secrets", "configmaps", "deployments", "nodes", "namespaces", "serviceaccounts", "roles", "widgets"}
	diffSubresources  = []string{"exec", "log", "scale", "status", "proxy", "*"}
	diffResourceNames = []string{"alpha", "db-creds", "web", "kube-root-ca.crt"}
	diffURLVerbs      = []string{"get", "post", "put", "delete", "*"}
	diffPathVerbs     = []string{"get", "post", "put", "delete", "head", "patch"}
	diffBootstrapURLs = []string{"/api", "/apis", "/healthz", "/version", "/.well-known/openid-configuration", "/metrics"}
	diffSANames       = []string{"app", "worker", "builder", "deployer"}
	diffBootstrapRefs = []string{"view", "edit"} // bootstrap ClusterRoles: in the live snapshot only
)

// diffUniverse is a generated set of RBAC objects. Every name (and every user and custom
// group) starts with prefix, so runs with different seeds do not collide on a shared
// cluster, and cluster-scoped objects carry diffRunLabel=short for cleanup.
type diffUniverse struct {
	rng    *rand.Rand
	short  string
	prefix string
	aggKey string // aggregation label key: bootstrap roles never carry it

	namespaces      []string
	serviceAccounts [][2]string // namespace, name
	saByNamespace   map[string][]string
	users, groups   []string
	urls            []string // nonResourceURLs rules are made of

	roles               []rbacv1.Role
	clusterRoles        []rbacv1.ClusterRole
	roleBindings        []rbacv1.RoleBinding
	clusterRoleBindings []rbacv1.ClusterRoleBinding

	aggregated   map[string]bool                // ClusterRoles with an aggregationRule
	clusterRules map[string][]rbacv1.PolicyRule // aggregation applied
	roleRules    map[[2]string][]rbacv1.PolicyRule
}

func newDiffUniverse(seed uint64) *diffUniverse {
	short := fmt.Sprintf("%08x", uint32(seed^seed>>32))
	u := &diffUniverse{
		rng:           rand.New(rand.NewPCG(seed, 0x6b776964)),
		short:         short,
		prefix:        "kwid-diff-" + short + "-",
		aggKey:        "kwid.dev/diff-" + short + "-agg",
		saByNamespace: map[string][]string{},
		aggregated:    map[string]bool{},
		roleRules:     map[[2]string][]rbacv1.PolicyRule{},
	}
	for _, n := range []string{"alice", "bob", "carol", "dave", "erin"} {
		u.users = append(u.users, u.prefix+n)
	}
	for _, g := range []string{"devs", "ops", "auditors"} {
		u.groups = append(u.groups, u.prefix+g)
	}
	root := "/" + strings.TrimSuffix(u.prefix, "-")
	// Exact, "/x/*" prefix, prefix without slash, everything, and a bootstrap path.
	u.urls = []string{root + "/healthz", root + "/logs/*", root + "/metrics*", root + "/api/v1", "*", "/version"}

	for i := range diffNamespaces {
		ns := fmt.Sprintf("%sns%02d", u.prefix, i)
		u.namespaces = append(u.namespaces, ns)
		names := u.some(diffSANames, 3)
		u.saByNamespace[ns] = names
		for _, n := range names {
			u.serviceAccounts = append(u.serviceAccounts, [2]string{ns, n})
		}
	}

	// Roles role-0..role-3, a few per namespace: a RoleBinding to role-N in a namespace
	// without one is dangling although a Role of that name exists elsewhere.
	for _, ns := range u.namespaces {
		for _, i := range u.rng.Perm(4)[:u.rng.IntN(3)] {
			r := rbacv1.Role{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%srole-%d", u.prefix, i), Namespace: ns},
				Rules:      u.rules(false),
			}
			u.roles = append(u.roles, r)
			u.roleRules[[2]string{ns, r.Name}] = r.Rules
		}
	}

	// Plain ClusterRoles, two of them named like Roles (roleRef kind matters). The first
	// three carry each aggregation label value, the rest one at random or none.
	names := []string{u.prefix + "role-0", u.prefix + "role-1"}
	for i := range 14 {
		names = append(names, fmt.Sprintf("%scr%02d", u.prefix, i))
	}
	for i, name := range names {
		cr := u.clusterRole(name)
		switch {
		case i < 3:
			cr.Labels[u.aggKey] = []string{"a", "b", "c"}[i]
		case u.chance(0.5):
			cr.Labels[u.aggKey] = u.pick([]string{"a", "b", "c"})
		}
		cr.Rules = u.rules(true)
		u.clusterRoles = append(u.clusterRoles, cr)
	}
	// Aggregated ClusterRoles: matchLabels, matchExpressions (In, Exists), several
	// selectors, two chains (agg-chain and agg-any select agg-mid, itself aggregated) and one
	// that selects nothing and stays empty. Only agg-mid is labelled: no cycles.
	match := func(v string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: map[string]string{u.aggKey: v}}
	}
	expr := func(op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: u.aggKey, Operator: op, Values: values}}}
	}
	for _, agg := range []struct {
		name      string
		label     string
		selectors []metav1.LabelSelector
	}{
		{"agg-a", "", []metav1.LabelSelector{match("a")}},
		{"agg-bc", "", []metav1.LabelSelector{match("b"), expr(metav1.LabelSelectorOpIn, "c")}},
		{"agg-mid", "mid", []metav1.LabelSelector{match("c")}},
		{"agg-chain", "", []metav1.LabelSelector{match("mid"), match("a")}},
		{"agg-any", "", []metav1.LabelSelector{expr(metav1.LabelSelectorOpExists)}},
		{"agg-none", "", []metav1.LabelSelector{match("none")}},
	} {
		cr := u.clusterRole(u.prefix + agg.name)
		if agg.label != "" {
			cr.Labels[u.aggKey] = agg.label
		}
		cr.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: agg.selectors}
		u.clusterRoles = append(u.clusterRoles, cr)
		u.aggregated[cr.Name] = true
	}
	u.clusterRules, _ = rbac.AggregateClusterRoles(u.clusterRoles)

	for _, ns := range u.namespaces {
		for i := range 1 + u.rng.IntN(3) {
			u.roleBindings = append(u.roleBindings, rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%srb%d", u.prefix, i), Namespace: ns},
				RoleRef:    u.roleRef(ns),
				Subjects:   u.subjects(ns),
			})
		}
	}
	for i := range 14 {
		u.clusterRoleBindings = append(u.clusterRoleBindings, rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%scrb%02d", u.prefix, i), Labels: u.labels()},
			RoleRef:    u.roleRef(""),
			Subjects:   u.subjects(""),
		})
	}
	return u
}

func (u *diffUniverse) pick(from []string) string { return from[u.rng.IntN(len(from))] }
func (u *diffUniverse) chance(p float64) bool     { return u.rng.Float64() < p }

// some returns 1 to n distinct elements.
func (u *diffUniverse) some(from []string, n int) []string {
	var out []string
	for _, i := range u.rng.Perm(len(from))[:min(1+u.rng.IntN(n), len(from))] {
		out = append(out, from[i])
	}
	return out
}

func (u *diffUniverse) labels() map[string]string { return map[string]string{diffRunLabel: u.short} }

func (u *diffUniverse) clusterRole(name string) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: u.labels()},
	}
}

// rules returns 1 to 3 rules; nonResourceURLs only in ClusterRoles (the API server rejects
// them in Roles), and a rule has either resources or nonResourceURLs.
func (u *diffUniverse) rules(clusterRole bool) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for range 1 + u.rng.IntN(3) {
		if clusterRole && u.chance(0.25) {
			out = append(out, rbacv1.PolicyRule{Verbs: u.some(diffURLVerbs, 2), NonResourceURLs: u.some(u.urls, 2)})
			continue
		}
		r := rbacv1.PolicyRule{Verbs: u.some(diffVerbs, 3), APIGroups: u.some(diffAPIGroups, 2), Resources: u.some(diffRuleResources, 3)}
		if u.chance(0.3) {
			r.ResourceNames = u.some(diffResourceNames, 2)
			if u.chance(0.2) {
				// The API server accepts an empty resource name, and a request without a
				// name matches it.
				r.ResourceNames = append(r.ResourceNames, "")
			}
		}
		out = append(out, r)
	}
	return out
}

// roleRef: mostly a role of the universe, sometimes one that never exists (or a Role
// name that exists in other namespaces only), sometimes a bootstrap ClusterRole.
func (u *diffUniverse) roleRef(ns string) rbacv1.RoleRef {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole"}
	switch x := u.rng.Float64(); {
	case ns != "" && x < 0.4:
		ref.Kind, ref.Name = "Role", fmt.Sprintf("%srole-%d", u.prefix, u.rng.IntN(4))
	case x < 0.86:
		ref.Name = u.clusterRoles[u.rng.IntN(len(u.clusterRoles))].Name
	case x < 0.95:
		ref.Name = u.prefix + "ghost"
		if ns != "" && u.chance(0.5) {
			ref.Kind = "Role"
		}
	default:
		ref.Name = u.pick(diffBootstrapRefs)
	}
	return ref
}

// subjects: 1 to 3 of every form the API server accepts. A ServiceAccount subject may omit
// its namespace in RoleBindings only.
func (u *diffUniverse) subjects(ns string) []rbacv1.Subject {
	user := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	group := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	var out []rbacv1.Subject
	for n := 1 + u.rng.IntN(3); len(out) < n; {
		switch x := u.rng.IntN(100); {
		case x < 25:
			saNS := u.pick(u.namespaces)
			name := u.pick(u.saByNamespace[saNS])
			if u.chance(0.1) {
				name = diffGhostSA
			}
			out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: saNS, Name: name})
		case x < 35:
			if ns != "" {
				out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: u.pick(u.saByNamespace[ns])})
			}
		case x < 60:
			out = append(out, user(u.pick(u.users)))
		case x < 67:
			sa := u.serviceAccounts[u.rng.IntN(len(u.serviceAccounts))]
			out = append(out, user(rbac.ServiceAccountUsername(sa[0], sa[1])))
		case x < 82:
			out = append(out, group(u.pick(u.groups)))
		case x < 90:
			saNS := cmp.Or(ns, u.pick(u.namespaces))
			if u.chance(0.5) {
				saNS = u.pick(u.namespaces)
			}
			out = append(out, group("system:serviceaccounts:"+saNS))
		case x < 94:
			out = append(out, group(rbac.GroupServiceAccounts))
		case x < 98:
			out = append(out, group(rbac.GroupAuthenticated))
		default:
			out = append(out, group(rbac.GroupUnauthenticated))
		}
	}
	return out
}

// objects returns every object of the universe in apply order.
func (u *diffUniverse) objects() []any {
	var out []any
	for _, ns := range u.namespaces {
		out = append(out, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: u.labels()},
		})
	}
	for _, sa := range u.serviceAccounts {
		out = append(out, &corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Namespace: sa[0], Name: sa[1]},
		})
	}
	for i := range u.roles {
		out = append(out, &u.roles[i])
	}
	for i := range u.clusterRoles {
		out = append(out, &u.clusterRoles[i])
	}
	for i := range u.roleBindings {
		out = append(out, &u.roleBindings[i])
	}
	for i := range u.clusterRoleBindings {
		out = append(out, &u.clusterRoleBindings[i])
	}
	return out
}

// diffDeleteClusterScoped deletes the universe's ClusterRoles and ClusterRoleBindings
// (RBAC objects have no finalizers: they are gone when the delete call returns).
//
// The aggregation controller writes an aggregated role's rules with a server-side apply,
// which creates the role again, without labels, when it was deleted in the meantime. So
// aggregated roles go first, in an order where each goes before the roles it selects
// (only agg-mid is selected by another), and the controller never sees the union of a
// role that still exists change. Deleting them by name also removes such a re-created
// role that an earlier run left.
func diffDeleteClusterScoped(t *testing.T, c *testcluster.Cluster, u *diffUniverse) {
	t.Helper()
	var top, selected []string
	for _, cr := range u.clusterRoles {
		if !u.aggregated[cr.Name] {
			continue
		}
		if _, ok := cr.Labels[u.aggKey]; ok {
			selected = append(selected, cr.Name)
		} else {
			top = append(top, cr.Name)
		}
	}
	c.Kubectl(t, "", append([]string{"delete", "clusterroles", "--ignore-not-found", "--wait=false"}, append(top, selected...)...)...)
	c.Kubectl(t, "", "delete", "clusterroles,clusterrolebindings", "-l", diffRunLabel+"="+u.short, "--ignore-not-found", "--wait=false")
}

func diffYAML(t *testing.T, objs []any) string {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.String()
}

// diffWaitAggregation waits until the clusterrole-aggregation controller has given every
// aggregated ClusterRole of the universe the rules kwid computes offline (same set, then
// same order); one that aggregates nothing must stay empty.
func diffWaitAggregation(t *testing.T, cs kubernetes.Interface, u *diffUniverse, repro string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := cs.RbacV1().ClusterRoles().List(context.Background(), metav1.ListOptions{LabelSelector: diffRunLabel + "=" + u.short})
		if err != nil {
			t.Fatalf("listing ClusterRoles: %v (%s)", err, repro)
		}
		var pending []string
		for _, cr := range list.Items {
			if !u.aggregated[cr.Name] {
				continue
			}
			want := u.clusterRules[cr.Name]
			switch {
			case len(want) == 0 && len(cr.Rules) > 0:
				t.Fatalf("ClusterRole %s: kwid aggregates no rule, the controller gave it %d: %+v (%s)", cr.Name, len(cr.Rules), cr.Rules, repro)
			case !diffSameRules(cr.Rules, want):
				pending = append(pending, fmt.Sprintf("%s: live %d rules %+v\n  kwid offline %d rules %+v", cr.Name, len(cr.Rules), cr.Rules, len(want), want))
			case !equality.Semantic.DeepEqual(cr.Rules, want):
				pending = append(pending, fmt.Sprintf("%s: same rules as kwid's offline aggregation, in another order: live %+v\n  kwid %+v", cr.Name, cr.Rules, want))
			}
		}
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("aggregated ClusterRoles never matched kwid's offline aggregation in 30s (%s):\n%s", repro, strings.Join(pending, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func diffSameRules(a, b []rbacv1.PolicyRule) bool {
	in := func(r rbacv1.PolicyRule, rules []rbacv1.PolicyRule) bool {
		return slices.ContainsFunc(rules, func(o rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(r, o) })
	}
	if len(a) != len(b) {
		return false
	}
	for _, r := range a {
		if !in(r, b) {
			return false
		}
	}
	return true
}

// diffWaitAuthorizer makes sure the API server's authorizer has seen the whole universe:
// its informers (one per RBAC kind) deliver events in order, so once it allows through a
// Role, RoleBinding, ClusterRole and ClusterRoleBinding created after everything else
// (the aggregation controller's updates included), it has seen every earlier change.
func diffWaitAuthorizer(t *testing.T, c *testcluster.Cluster, u *diffUniverse, repro string) {
	t.Helper()
	name, ns := u.prefix+"canary", u.namespaces[0]
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}}
	canary := []any{
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name}}},
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   subjects,
		},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: u.labels()},
			Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/" + name}}},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: u.labels()},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   subjects,
		},
	}
	c.Kubectl(t, diffYAML(t, canary), "apply", "-f", "-")
	who := rbac.User{Name: name, Groups: []string{rbac.GroupAuthenticated}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		byRole, _ := subjectAccessReview(t, c, who, rbac.Request{Verb: "get", Resource: "configmaps", Namespace: ns, Name: name})
		byClusterRole, _ := subjectAccessReview(t, c, who, rbac.Request{Verb: "get", Path: "/" + name})
		if byRole && byClusterRole {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server's authorizer never saw the canary bindings (%s)", repro)
		}
	}
}

// diffQuery is a user and a request, and how it was generated (for the report).
type diffQuery struct {
	user     rbac.User
	req      rbac.Request
	targeted bool
	origin   string
}

// queries returns n queries, half derived from a rule of a binding of the universe (the
// user from one of its subjects, the request from one of its role's rules, one field
// mutated in 3 of 10) so that a good share is allowed, half entirely random.
func (u *diffUniverse) queries(n int) []diffQuery {
	out := make([]diffQuery, 0, n)
	for range n {
		if u.chance(0.5) {
			out = append(out, u.targetedQuery())
		} else {
			out = append(out, diffQuery{user: u.randomUser(), req: u.randomRequest(), origin: "random"})
		}
	}
	return out
}

func (u *diffUniverse) targetedQuery() diffQuery {
	var ns, desc string
	var ref rbacv1.RoleRef
	var subjects []rbacv1.Subject
	if i := u.rng.IntN(len(u.roleBindings) + len(u.clusterRoleBindings)); i < len(u.roleBindings) {
		rb := &u.roleBindings[i]
		ns, ref, subjects, desc = rb.Namespace, rb.RoleRef, rb.Subjects, "RoleBinding "+rb.Namespace+"/"+rb.Name
	} else {
		crb := &u.clusterRoleBindings[i-len(u.roleBindings)]
		ref, subjects, desc = crb.RoleRef, crb.Subjects, "ClusterRoleBinding "+crb.Name
	}
	q := diffQuery{user: u.userFor(subjects[u.rng.IntN(len(subjects))], ns), targeted: true}
	var rules []rbacv1.PolicyRule
	if ref.Kind == "Role" {
		rules = u.roleRules[[2]string{ns, ref.Name}]
	} else {
		rules = u.clusterRules[ref.Name]
	}
	if len(rules) == 0 {
		q.req, q.origin = u.randomRequest(), fmt.Sprintf("a subject of %s (%s %s: no rules in the universe), random request", desc, ref.Kind, ref.Name)
		return q
	}
	i := u.rng.IntN(len(rules))
	reqNS := ns
	if ns == "" && u.chance(0.6) {
		reqNS = u.pick(u.namespaces)
	}
	q.req = u.requestFor(rules[i], reqNS)
	q.origin = fmt.Sprintf("%s, %s %s rule %d", desc, ref.Kind, ref.Name, i)
	if u.chance(0.3) {
		var what string
		q.req, what = u.mutate(q.req)
		q.origin += ", mutated " + what
	}
	return q
}

// userFor returns a user a binding subject names.
func (u *diffUniverse) userFor(s rbacv1.Subject, bindingNS string) rbac.User {
	authenticated := func(name string) rbac.User {
		usr := rbac.User{Name: name, Groups: []string{rbac.GroupAuthenticated}}
		if u.chance(0.3) {
			usr.Groups = append(usr.Groups, u.pick(u.groups))
		}
		return usr
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return rbac.ServiceAccountUser(cmp.Or(s.Namespace, bindingNS), s.Name)
	case rbacv1.UserKind:
		if ns, name, ok := rbac.SplitServiceAccountUsername(s.Name); ok {
			return rbac.ServiceAccountUser(ns, name)
		}
		return authenticated(s.Name)
	}
	switch {
	case s.Name == rbac.GroupServiceAccounts:
		sa := u.serviceAccounts[u.rng.IntN(len(u.serviceAccounts))]
		return rbac.ServiceAccountUser(sa[0], sa[1])
	case strings.HasPrefix(s.Name, "system:serviceaccounts:"):
		ns := strings.TrimPrefix(s.Name, "system:serviceaccounts:")
		return rbac.ServiceAccountUser(ns, u.pick(append([]string{diffGhostSA}, u.saByNamespace[ns]...)))
	case s.Name == rbac.GroupAuthenticated:
		if u.chance(0.5) {
			return authenticated(u.pick(u.users))
		}
		sa := u.serviceAccounts[u.rng.IntN(len(u.serviceAccounts))]
		return rbac.ServiceAccountUser(sa[0], sa[1])
	case s.Name == rbac.GroupUnauthenticated:
		return rbac.User{Name: rbac.UserAnonymous, Groups: []string{rbac.GroupUnauthenticated}}
	case u.chance(0.5):
		return rbac.User{Groups: []string{s.Name}} // a group on its own, no user name
	}
	return rbac.User{Name: u.pick(u.users), Groups: []string{rbac.GroupAuthenticated, s.Name}}
}

func (u *diffUniverse) randomUser() rbac.User {
	switch x := u.rng.IntN(100); {
	case x < 45:
		sa := u.serviceAccounts[u.rng.IntN(len(u.serviceAccounts))]
		return rbac.ServiceAccountUser(sa[0], sa[1])
	case x < 52:
		return rbac.ServiceAccountUser(u.pick(u.namespaces), diffGhostSA)
	case x < 55:
		return rbac.ServiceAccountUser(u.pick(append([]string{"kube-system"}, u.namespaces...)), "default")
	case x < 75:
		return rbac.User{Name: u.pick(u.users), Groups: []string{rbac.GroupAuthenticated}}
	case x < 85:
		return rbac.User{Name: u.pick(u.users), Groups: []string{rbac.GroupAuthenticated, u.pick(u.groups)}}
	case x < 89:
		return rbac.User{Groups: []string{u.pick(u.groups)}}
	case x < 94:
		return rbac.User{Name: rbac.UserAnonymous, Groups: []string{rbac.GroupUnauthenticated}}
	case x < 97:
		// Users of the bootstrap RBAC (not system:nodes: the Node authorizer decides those).
		return rbac.User{Name: u.pick([]string{"system:kube-scheduler", "system:kube-controller-manager"}), Groups: []string{rbac.GroupAuthenticated}}
	}
	return rbac.User{Name: u.prefix + "root", Groups: []string{rbac.GroupMasters, rbac.GroupAuthenticated}}
}

func (u *diffUniverse) randomNamespace() string {
	switch x := u.rng.IntN(100); {
	case x < 65:
		return u.pick(u.namespaces)
	case x < 90:
		return "" // cluster-scoped, or across all namespaces
	}
	return u.pick([]string{"default", "kube-system"})
}

func (u *diffUniverse) randomName() string {
	switch x := u.rng.IntN(100); {
	case x < 40:
		return u.pick(diffResourceNames)
	case x < 55:
		return "other"
	}
	return ""
}

func (u *diffUniverse) randomRequest() rbac.Request {
	if u.chance(0.15) {
		return rbac.Request{Verb: u.pick(diffPathVerbs), Path: u.randomPath()}
	}
	r := rbac.Request{
		Verb:      u.pick(diffVerbs[:len(diffVerbs)-1]),
		APIGroup:  u.pick(diffAPIGroups[:len(diffAPIGroups)-1]),
		Resource:  u.pick(diffResources),
		Namespace: u.randomNamespace(),
		Name:      u.randomName(),
	}
	if u.chance(0.35) {
		r.Subresource = u.pick(diffSubresources)
	}
	return r
}

func (u *diffUniverse) randomPath() string {
	switch x := u.rng.IntN(100); {
	case x < 50:
		return u.pathFor(u.pick(u.urls[:len(u.urls)-2]))
	case x < 80:
		return u.pick(diffBootstrapURLs)
	}
	return "/" + strings.TrimSuffix(u.prefix, "-") + u.pick([]string{"", "/", "/nothing", "/logs", "/logsx"})
}

// pathFor returns a path around a nonResourceURL: on it, below it, or just beside it.
func (u *diffUniverse) pathFor(url string) string {
	switch {
	case url == "*":
		return u.randomPath()
	case strings.HasSuffix(url, "*"):
		stem := strings.TrimRight(url, "*")
		switch u.rng.IntN(4) {
		case 0:
			return stem
		case 1:
			return strings.TrimSuffix(stem, "/") // "/x" is not under "/x/*"
		}
		return stem + u.pick([]string{"x", "a/b", "kube.log"})
	case u.chance(0.2):
		return url + u.pick([]string{"/", "x", "/deep"})
	}
	return url
}

// requestFor returns a request the rule allows (unless a resourceName is left out or
// another wildcard stand-in misses).
func (u *diffUniverse) requestFor(rule rbacv1.PolicyRule, ns string) rbac.Request {
	verb := u.pick(rule.Verbs)
	if len(rule.NonResourceURLs) > 0 {
		if verb == "*" {
			verb = u.pick(diffPathVerbs)
		}
		return rbac.Request{Verb: verb, Path: u.pathFor(u.pick(rule.NonResourceURLs))}
	}
	if verb == "*" {
		verb = u.pick(diffVerbs[:len(diffVerbs)-1])
	}
	group := u.pick(rule.APIGroups)
	if group == "*" {
		group = u.pick(diffAPIGroups[:len(diffAPIGroups)-1])
	}
	r := rbac.Request{Verb: verb, APIGroup: group, Namespace: ns}
	switch res := u.pick(rule.Resources); {
	case res == "*":
		r.Resource = u.pick(diffResources)
		if u.chance(0.3) {
			r.Subresource = u.pick(diffSubresources)
		}
	case strings.HasPrefix(res, "*/"):
		r.Resource, r.Subresource = u.pick(diffResources), strings.TrimPrefix(res, "*/")
	default:
		r.Resource, r.Subresource, _ = strings.Cut(res, "/") // "pods/*" asks for subresource "*"
	}
	if len(rule.ResourceNames) > 0 && u.chance(0.85) {
		r.Name = u.pick(rule.ResourceNames)
	} else if u.chance(0.5) {
		r.Name = u.randomName()
	}
	return r
}

// mutate changes one field of a request, to probe just beside what a rule allows.
func (u *diffUniverse) mutate(r rbac.Request) (rbac.Request, string) {
	if !r.IsResource() {
		if u.chance(0.5) {
			r.Verb = u.pick(diffPathVerbs)
			return r, "verb"
		}
		r.Path = u.randomPath()
		return r, "path"
	}
	switch u.rng.IntN(6) {
	case 0:
		r.Verb = u.pick(diffVerbs[:len(diffVerbs)-1])
		return r, "verb"
	case 1:
		r.Namespace = u.randomNamespace()
		return r, "namespace"
	case 2:
		r.Name = u.randomName()
		return r, "name"
	case 3:
		if r.Subresource == "" {
			r.Subresource = u.pick(diffSubresources)
		} else {
			r.Subresource = ""
		}
		return r, "subresource"
	case 4:
		r.APIGroup = u.pick(diffAPIGroups[:len(diffAPIGroups)-1])
		return r, "apiGroup"
	}
	r.Resource = u.pick(diffResources)
	return r, "resource"
}

// diffAllowing returns the reasons of the ClusterRoleBindings and of the RoleBindings of
// the live index that allow the request, and whether any binding outside the universe
// allows it.
//
// The rule for comparing the manifest file with the API server: the API
// server allows when some binding of the cluster allows (or the user is in
// system:masters, which both indexes model identically). The file holds the universe's
// bindings and roles only, so its answer must equal the API server's exactly when no
// other binding allows the request: none outside the universe (bootstrap RBAC, another
// run's objects), and none of the universe bound to a role outside it (view, edit).
// "Allows" is judged by kwid on the live index, whose answers are themselves compared
// with the API server on the same query; a query skipped here is still checked live.
func diffAllowing(ix *rbac.Index, u rbac.User, r rbac.Request, prefix string) (crbs, rbs []string, outside bool) {
	seen := map[*rbac.Binding]bool{}
	for _, g := range ix.GrantsFor(u) {
		b := g.Binding
		inScope := b.ClusterWide() || r.IsResource() && r.Namespace != "" && b.Namespace == r.Namespace
		if seen[b] || !inScope || !rbac.RuleAllows(g.Rule(), r) {
			continue
		}
		seen[b] = true
		if !strings.HasPrefix(b.Name, prefix) || !strings.HasPrefix(b.RoleRef.Name, prefix) {
			outside = true
		}
		if b.ClusterWide() {
			crbs = append(crbs, g.Reason())
		} else {
			rbs = append(rbs, g.Reason())
		}
	}
	return crbs, rbs, outside
}

type diffAnswer struct {
	allowed bool
	reason  string
}

type diffMismatch struct {
	what     string
	index    int
	q        diffQuery
	api      diffAnswer
	kwid     rbac.Decision
	apiRules []rbacv1.PolicyRule // the rules of the binding the API server's reason names
}

func (m diffMismatch) String() string {
	req, _ := json.Marshal(m.q.req)
	s := fmt.Sprintf("\n[%s] query %d (%s)\n  user:       %q groups %q\n  request:    %s   %s\n  API server: allowed=%v reason=%q\n  kwid:       allowed=%v reason=%q\n",
		m.what, m.index, m.q.origin, m.q.user.Name, m.q.user.Groups, m.q.req, req, m.api.allowed, m.api.reason, m.kwid.Allowed, m.kwid.Reason)
	if m.apiRules != nil {
		rules, _ := json.Marshal(m.apiRules)
		s += fmt.Sprintf("  rules of the API server's binding: %s\n", rules)
	}
	return s
}

// diffReasonBinding returns "Kind namespace/name" of the binding an RBAC reason names
// ("RBAC: allowed by RoleBinding \"name/ns\" of ..."), or "".
func diffReasonBinding(reason string) string {
	rest, ok := strings.CutPrefix(reason, "RBAC: allowed by ")
	if !ok {
		return ""
	}
	kind, rest, _ := strings.Cut(rest, " ")
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return ""
	}
	name, _ := strconv.Unquote(quoted)
	if kind == "RoleBinding" {
		name, ns, _ := strings.Cut(name, "/")
		return kind + " " + ns + "/" + name
	}
	return kind + " /" + name
}
