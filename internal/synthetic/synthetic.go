// Package synthetic generates deterministic, realistic large clusters for benchmarks and
// scale tests; it knows nothing about checks or output.
//
// A generated cluster looks like a multi-tenant EKS cluster read back with kubectl: system
// namespaces with the Kubernetes and EKS bootstrap RBAC, platform add-ons (cert-manager,
// monitoring, Argo CD, ingress-nginx, Karpenter, ...) with their ClusterRoles, and team
// namespaces whose Deployments, StatefulSets and CronJobs run as the namespace's own
// ServiceAccounts. Objects carry what the API server and its controllers add: uids,
// resourceVersions, ownerReferences, defaulted fields, the projected kube-api-access volume,
// IRSA injection, statuses and filled aggregated ClusterRoles.
//
// synthetic must not know about kwid's Snapshot, checks or output formats: it only emits
// k8s.io/api objects.
package synthetic

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Size is how many objects of the main kinds a generated cluster holds. Generate emits
// exactly these counts. The other kinds follow from them: one Node per 30 Pods (rounded
// up), Deployments with their ReplicaSets, StatefulSets, CronJobs with their Jobs and a few
// DaemonSets to run the Pods, a few legacy token Secrets, and the kube-system ConfigMaps
// aws-auth and kube-apiserver-legacy-service-account-token-tracking.
//
// Counts include the system objects: every namespace's default ServiceAccount, the
// kube-system controllers' ServiceAccounts, the bootstrap ClusterRoles and their bindings.
type Size struct {
	Namespaces          int
	ServiceAccounts     int
	Pods                int
	Roles               int
	RoleBindings        int
	ClusterRoles        int
	ClusterRoleBindings int
}

// The preset sizes. L and XL are the benchmark clusters of design.md ("Performance
// targets"); their cluster-scoped counts are ours. In L, the 200 ClusterRoles are 108
// built-in ones (Kubernetes and EKS bootstrap roles, the roles of the platform add-ons)
// and 92 custom ones (operators with their aggregated -view/-edit roles, team and tooling
// roles, some with nonResourceURLs); the 300 ClusterRoleBindings are 87 built-in ones and
// 213 custom ones for team groups, users and ServiceAccounts, a few of them to
// cluster-admin. Large multi-tenant clusters with a dozen operators hold about that many.
// XL has the same built-in objects and ten times the total, so mostly custom ones.
var (
	// S is a tiny cluster for unit tests that still has every kind and feature.
	S = Size{Namespaces: 8, ServiceAccounts: 60, Pods: 150, Roles: 14, RoleBindings: 36, ClusterRoles: 32, ClusterRoleBindings: 24}
	// L is the large benchmark cluster.
	L = Size{Namespaces: 500, ServiceAccounts: 5000, Pods: 20000, Roles: 2000, RoleBindings: 10000, ClusterRoles: 200, ClusterRoleBindings: 300}
	// XL is L scaled by ten.
	XL = Size{Namespaces: 5000, ServiceAccounts: 50000, Pods: 200000, Roles: 20000, RoleBindings: 100000, ClusterRoles: 2000, ClusterRoleBindings: 3000}
)

// SizeByName returns the preset size named "S", "L" or "XL" (in any case).
func SizeByName(name string) (Size, error) {
	switch strings.ToUpper(name) {
	case "S":
		return S, nil
	case "L":
		return L, nil
	case "XL":
		return XL, nil
	}
	return Size{}, fmt.Errorf("unknown cluster size %q (want S, L or XL)", name)
}

// systemNamespaces are in every cluster, in this order.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// mandatoryClusterRoles are always generated: bindings refer to them.
const mandatoryClusterRoles = 7

func (s Size) validate() error {
	switch {
	case s.Namespaces < len(systemNamespaces):
		return fmt.Errorf("invalid size: %d namespaces, want at least %d (%s)", s.Namespaces, len(systemNamespaces), strings.Join(systemNamespaces, ", "))
	case s.ServiceAccounts < s.Namespaces:
		return fmt.Errorf("invalid size: %d ServiceAccounts for %d namespaces, want at least one per namespace (its default ServiceAccount)", s.ServiceAccounts, s.Namespaces)
	case s.ClusterRoles < mandatoryClusterRoles:
		return fmt.Errorf("invalid size: %d ClusterRoles, want at least %d (cluster-admin, admin, edit, view and their aggregation roles)", s.ClusterRoles, mandatoryClusterRoles)
	case s.Pods < 0 || s.Roles < 0 || s.RoleBindings < 0 || s.ClusterRoleBindings < 0:
		return fmt.Errorf("invalid size: negative count in %+v", s)
	}
	return nil
}

// Generate emits every object of a cluster of the given size, deterministically for a
// seed: the same size and seed give the same objects in the same order. Objects are
// pointers to typed k8s.io/api objects with TypeMeta set; Generate does not keep or change
// an object after emitting it, so emit may keep it.
//
// The order is stable: first the cluster-scoped objects (Namespaces, Nodes, ClusterRoles,
// ClusterRoleBindings), then each namespace's objects, all of one namespace together
// (ServiceAccounts, Secrets, ConfigMaps, Roles, RoleBindings, then each workload followed
// by the objects it owns). Objects are generated as they are emitted: memory does not grow
// with the number of Pods.
//
// Generate stops at the first error emit returns and returns it, wrapped.
func Generate(size Size, seed int64, emit func(runtime.Object) error) error {
	if err := size.validate(); err != nil {
		return err
	}
	g := &gen{
		r:    rand.New(rand.NewPCG(uint64(seed), 0x6b776964)),
		emit: emit,
		size: size,
	}
	g.plan()
	for _, step := range []func() error{g.emitNamespaces, g.emitNodes, g.emitClusterRoles, g.emitClusterRoleBindings} {
		if err := step(); err != nil {
			return err
		}
	}
	for i := range g.ns {
		if err := g.emitNamespaceContents(&g.ns[i]); err != nil {
			return err
		}
	}
	return nil
}

// The cluster's clock: it was created at clusterCreated, upgraded to Kubernetes 1.24 (no
// more auto-generated token Secrets) at legacyTokensEnd and to 1.28 (legacy token usage
// tracking) at trackingSince, and is read back at snapshotTime.
var (
	clusterCreated  = time.Date(2021, time.March, 15, 9, 0, 0, 0, time.UTC)
	legacyTokensEnd = time.Date(2022, time.November, 21, 10, 0, 0, 0, time.UTC)
	trackingSince   = time.Date(2023, time.November, 20, 10, 0, 0, 0, time.UTC)
	snapshotTime    = time.Date(2026, time.January, 5, 9, 0, 0, 0, time.UTC)
)

const (
	rbacGroup   = rbacv1.GroupName
	rbacVersion = "rbac.authorization.k8s.io/v1"
	// podsPerNode is how many Pods a Node runs on average.
	podsPerNode = 30
)

type nsClass uint8

const (
	systemNS nsClass = iota
	platformNS
	teamNS
)

type workloadKind uint8

const (
	deploymentKind workloadKind = iota
	statefulSetKind
	cronJobKind
)

// appSpec is one workload a namespace runs.
type appSpec struct {
	name     string
	kind     workloadKind
	replicas int    // 0: chosen when generated
	sa       string // the ServiceAccount it is meant to run as; "" for none in particular
	image    string // "{region}" and "{account}" are replaced
	port     int32
}

// catalog is the known content of a system or platform namespace.
type catalog struct {
	name string
	// sas are its ServiceAccounts besides default, in the order they are kept when the
	// size leaves room for fewer.
	sas  []string
	irsa []string // those of sas annotated for IRSA
	apps []appSpec
}

type nsPlan struct {
	name, domain, team, env string
	class                   nsClass
	catalog                 *catalog
	istio                   bool
	restricted              bool
	weight                  int
	uid                     types.UID
	created                 time.Time
	sas                     []saPlan
	apps                    []appSpec // planned workloads (more are added while Pods remain)
	// pods counts the Pods of the namespace not run by DaemonSets.
	pods, roles, bindings int
}

type saPlan struct {
	name      string
	uid       types.UID
	automount *bool
	roleARN   string
	app       string // the app it was created for, if any
}

type nodePlan struct {
	name, ip, zone, instanceType, nodegroup, capacity, instanceID string
	created                                                       time.Time
}

type daemonSpec struct {
	ns, name, sa, image string
	hostNetwork         bool
	privileged          bool
	hostPaths           []string
}

type gen struct {
	r    *rand.Rand
	emit func(runtime.Object) error
	size Size

	region, account, clusterName string
	resourceVersion              uint64
	podIP                        uint32

	ns                 []nsPlan
	nodes              []nodePlan
	daemons            []daemonSpec
	teams              []string
	users              []string
	clusterRoles       []*rbacv1.ClusterRole
	clusterRoleNames   map[string]bool
	customClusterRoles []string
	istioImageID       string
}

// put emits one object.
func (g *gen) put(obj runtime.Object) error {
	if err := g.emit(obj); err != nil {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		if m, ok := obj.(metav1.Object); ok {
			if m.GetNamespace() != "" {
				return fmt.Errorf("emitting %s %s/%s: %w", kind, m.GetNamespace(), m.GetName(), err)
			}
			return fmt.Errorf("emitting %s %s: %w", kind, m.GetName(), err)
		}
		return fmt.Errorf("emitting %s: %w", kind, err)
	}
	return nil
}

// ---- planning: what the cluster holds, decided before anything is emitted ----

func (g *gen) plan() {
	g.region = pick(g, []string{"eu-west-1", "us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2"})
	g.account = strconv.FormatInt(100000000000+g.r.Int64N(900000000000), 10)
	g.clusterName = pick(g, []string{"prod", "production", "main", "shared", "platform"}) + "-" + g.region
	g.istioImageID = "docker.io/istio/proxyv2@sha256:" + g.hex(64)
	g.planNamespaces()
	g.planNodes()
	g.allocate()
	for i := range g.ns {
		g.planServiceAccounts(&g.ns[i])
	}
	g.planPeople()
	g.planClusterRoles()
}

func (g *gen) planNamespaces() {
	n := g.size.Namespaces
	nPlatform := min(len(platformCatalogs), (n-len(systemNamespaces))/3)
	g.ns = make([]nsPlan, 0, n)
	used := map[string]bool{}
	for _, name := range systemNamespaces {
		used[name] = true
		g.ns = append(g.ns, nsPlan{name: name, domain: name, class: systemNS, catalog: systemCatalog(name), created: clusterCreated})
	}
	for _, c := range platformCatalogs[:nPlatform] {
		used[c.name] = true
		g.ns = append(g.ns, nsPlan{name: c.name, domain: c.name, class: platformNS, catalog: c,
			created: g.between(clusterCreated.Add(time.Hour), clusterCreated.Add(7*24*time.Hour))})
	}
	istio := nPlatform > 0 && slices.ContainsFunc(platformCatalogs[:nPlatform], func(c *catalog) bool { return c.name == "istio-system" })
	nTeams := max(1, min(len(teamNames), (n-len(g.ns))/20))
	g.teams = teamNames[:nTeams]
	for len(g.ns) < n {
		ns := nsPlan{class: teamNS, team: pick(g, g.teams), env: pick(g, envNames)}
		ns.domain = pick(g, domainNames)
		for attempt := 0; ; attempt++ {
			switch g.r.IntN(4) {
			case 0:
				ns.name = ns.domain + "-" + ns.env
			case 1:
				ns.name = ns.team + "-" + ns.domain
			case 2:
				ns.name = ns.domain
			default:
				ns.name = ns.team + "-" + ns.domain + "-" + ns.env
			}
			if attempt > 8 {
				ns.name += "-" + strconv.Itoa(attempt-7)
			}
			if !used[ns.name] {
				break
			}
			ns.domain = pick(g, domainNames)
		}
		used[ns.name] = true
		ns.created = g.between(clusterCreated.Add(24*time.Hour), snapshotTime.Add(-30*24*time.Hour))
		ns.istio = istio && g.pct(30)
		ns.restricted = g.pct(25)
		// Namespace sizes are skewed: a few teams run much more than most.
		ns.weight = 64 + g.r.IntN(64)
		for k := 0; k < 6 && g.r.IntN(3) == 0; k++ {
			ns.weight <<= 1
		}
		g.ns = append(g.ns, ns)
	}
	for i := range g.ns {
		g.ns[i].uid = g.uid()
	}
}

func (g *gen) planNodes() {
	n := (g.size.Pods + podsPerNode - 1) / podsPerNode
	groups := []struct{ name, itype, capacity string }{
		{"general-20250106", "m6i.2xlarge", "ON_DEMAND"}, {"general-20250611", "m7i.2xlarge", "ON_DEMAND"},
		{"compute-20250318", "c6i.4xlarge", "ON_DEMAND"}, {"memory-20250902", "r6i.2xlarge", "ON_DEMAND"}, {"spot-mixed", "m5.2xlarge", "SPOT"},
	}
	ipBase := uint32(g.r.IntN(1 << 16))
	g.nodes = make([]nodePlan, n)
	for i := range g.nodes {
		ip := ipBase + uint32(i)*7
		a, b, c := (ip>>16)&0x3f, (ip>>8)&0xff, ip&0xff
		grp := groups[g.r.IntN(len(groups))]
		zone := g.region + string(rune('a'+g.r.IntN(3)))
		g.nodes[i] = nodePlan{
			name:         fmt.Sprintf("ip-10-%d-%d-%d.%s.compute.internal", 64+a, b, c, g.region),
			ip:           fmt.Sprintf("10.%d.%d.%d", 64+a, b, c),
			zone:         zone,
			instanceType: grp.itype,
			nodegroup:    grp.name,
			capacity:     grp.capacity,
			instanceID:   "i-0" + g.hex(16),
			created:      g.between(snapshotTime.Add(-400*24*time.Hour), snapshotTime.Add(-31*24*time.Hour)),
		}
	}
	// DaemonSets run one Pod per Node: keep those whose namespace exists, and no more than
	// a quarter of the Pods.
	for _, d := range daemonCatalog {
		if g.nsIndex(d.ns) < 0 {
			continue
		}
		if (len(g.daemons)+1)*n > g.size.Pods/4 {
			break
		}
		g.daemons = append(g.daemons, d)
	}
}

func (g *gen) nsIndex(name string) int {
	return slices.IndexFunc(g.ns, func(ns nsPlan) bool { return ns.name == name })
}

// allocate splits the size's counts over the namespaces.
func (g *gen) allocate() {
	desiredSAs := func(ns *nsPlan) int {
		if ns.catalog == nil {
			return 1
		}
		return 1 + len(ns.catalog.sas)
	}
	desiredPods := func(ns *nsPlan) int {
		n := 0
		if ns.catalog != nil {
			for _, a := range ns.catalog.apps {
				n += a.replicas
			}
		}
		return n
	}
	desiredRoles := func(ns *nsPlan) int { return len(g.fixedRoles(ns)) }
	weight := func(zeroPct int) func(*nsPlan) int {
		return func(ns *nsPlan) int {
			if g.pct(zeroPct) {
				return 0
			}
			return ns.weight * (75 + g.r.IntN(50)) / 100
		}
	}
	sas := g.distribute(g.size.ServiceAccounts, 1, desiredSAs, weight(0))
	pods := g.distribute(g.size.Pods-len(g.daemons)*len(g.nodes), 0, desiredPods, weight(5))
	roles := g.distribute(g.size.Roles, 0, desiredRoles, weight(20))
	bindings := g.distribute(g.size.RoleBindings, 0, desiredRoles, weight(5))
	for i := range g.ns {
		g.ns[i].sas = make([]saPlan, sas[i])
		g.ns[i].pods, g.ns[i].roles, g.ns[i].bindings = pods[i], roles[i], bindings[i]
	}
}

// distribute splits total over the namespaces: each gets floor, system and platform
// namespaces get up to what their catalog wants (at most half of what is left when there
// are team namespaces), and team namespaces share the rest by weight.
func (g *gen) distribute(total, floor int, desired, weight func(*nsPlan) int) []int {
	out := make([]int, len(g.ns))
	rest := total - floor*len(g.ns)
	var fixed, team, extra, weights []int
	for i := range g.ns {
		out[i] = floor
		if g.ns[i].class == teamNS {
			team = append(team, i)
			weights = append(weights, weight(&g.ns[i]))
		} else {
			fixed = append(fixed, i)
			extra = append(extra, max(0, desired(&g.ns[i])-floor))
		}
	}
	sumExtra := 0
	for _, e := range extra {
		sumExtra += e
	}
	give := min(sumExtra, rest/2)
	if len(team) == 0 {
		give = rest
	}
	for j, q := range apportion(give, extra) {
		out[fixed[j]] += q
	}
	for j, q := range apportion(rest-give, weights) {
		out[team[j]] += q
	}
	return out
}

// apportion splits total in proportion to weights by largest remainder (ties to the lower
// index); all-zero weights count as equal.
func apportion(total int, weights []int) []int {
	out := make([]int, len(weights))
	if total <= 0 || len(weights) == 0 {
		return out
	}
	sum := 0
	for _, w := range weights {
		sum += w
	}
	w := weights
	if sum == 0 {
		w = make([]int, len(weights))
		for i := range w {
			w[i] = 1
		}
		sum = len(w)
	}
	rem := make([]int, len(w))
	given := 0
	for i, x := range w {
		out[i] = total * x / sum
		rem[i] = total * x % sum
		given += out[i]
	}
	order := make([]int, len(w))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
	for j := 0; j < total-given; j++ {
		out[order[j]]++
	}
	return out
}

func (g *gen) planServiceAccounts(ns *nsPlan) {
	n := len(ns.sas)
	names := make([]string, 0, n)
	names = append(names, "default")
	used := map[string]bool{"default": true}
	add := func(name string) {
		base := name
		for k := 2; used[name]; k++ {
			name = base + "-" + strconv.Itoa(k)
		}
		used[name] = true
		names = append(names, name)
	}
	apps := map[string]string{} // ServiceAccount -> app
	if ns.catalog != nil {
		for _, sa := range ns.catalog.sas {
			if len(names) < n {
				add(sa)
			}
		}
		ns.apps = ns.catalog.apps
	} else {
		usedApps := map[string]bool{}
		for len(names) < n {
			if g.pct(88) {
				app := g.newApp(ns, usedApps)
				sa := app.name
				if g.pct(30) {
					sa += "-sa"
				}
				add(sa)
				app.sa = names[len(names)-1]
				apps[app.sa] = app.name
				ns.apps = append(ns.apps, app)
			} else {
				add(strings.ReplaceAll(pick(g, nonAppServiceAccounts), "$d", ns.domain))
			}
		}
	}
	for len(names) < n {
		add(ns.domain + "-" + strings.ReplaceAll(pick(g, nonAppServiceAccounts), "$d-", ""))
	}
	for i, name := range names {
		sa := saPlan{name: name, uid: g.uid(), app: apps[name]}
		switch {
		case name == "default":
			if ns.class == teamNS && g.pct(30) || ns.class == platformNS && g.pct(50) {
				sa.automount = ptr(false)
			}
		case ns.catalog != nil:
			if slices.Contains(ns.catalog.irsa, name) || name == "aws-node" && g.pct(50) {
				sa.roleARN = g.roleARN(ns.name, name)
			}
			if g.pct(10) { // add-ons need their token; some charts say so explicitly
				sa.automount = ptr(true)
			}
		default:
			if sa.app != "" && g.pct(20) || sa.app == "" && g.pct(10) {
				sa.roleARN = g.roleARN(ns.name, name)
			}
			switch p := g.r.IntN(100); {
			case p < 12:
				sa.automount = ptr(false)
			case p < 17:
				sa.automount = ptr(true)
			}
		}
		ns.sas[i] = sa
	}
}

func (g *gen) roleARN(ns, sa string) string {
	name := g.clusterName + "-" + ns + "-" + sa
	if len(name) > 64 { // IAM role names are at most 64 characters
		name = name[:64]
	}
	return "arn:aws:iam::" + g.account + ":role/" + strings.TrimRight(name, "-")
}

func (g *gen) newApp(ns *nsPlan, used map[string]bool) appSpec {
	app := appSpec{kind: deploymentKind, port: 8080}
	switch p := g.r.IntN(100); {
	case p < 12:
		app.kind = statefulSetKind
	case p < 25:
		app.kind = cronJobKind
	}
	for attempt := 0; ; attempt++ {
		var comp string
		switch app.kind {
		case statefulSetKind:
			s := stateful[g.r.IntN(len(stateful))]
			comp, app.image, app.port = s.name, s.image, s.port
		case cronJobKind:
			comp = pick(g, cronComponents)
		default:
			comp = pick(g, deployComponents)
		}
		app.name = ns.domain + "-" + comp
		if attempt >= 3 {
			app.name += "-" + strconv.Itoa(attempt-1)
		}
		if !used[app.name] {
			used[app.name] = true
			break
		}
	}
	if app.image == "" {
		app.image = "{account}.dkr.ecr.{region}.amazonaws.com/" + ns.domain + "/" + strings.TrimPrefix(app.name, ns.domain+"-") + ":" + g.imageTag()
	}
	return app
}

func (g *gen) imageTag() string {
	if g.pct(50) {
		return fmt.Sprintf("v%d.%d.%d", 1+g.r.IntN(4), g.r.IntN(30), g.r.IntN(20))
	}
	return "sha-" + g.hex(7)
}

func (g *gen) planPeople() {
	n := max(20, g.size.Namespaces/10)
	g.users = make([]string, n)
	for i := range g.users {
		f, l := firstNames[i%len(firstNames)], lastNames[(i/len(firstNames)+i)%len(lastNames)]
		g.users[i] = f + "." + l + "@example.com"
		if k := i / (len(firstNames) * len(lastNames)); k > 0 {
			g.users[i] = f + "." + l + strconv.Itoa(k+1) + "@example.com"
		}
	}
}

// ---- cluster-scoped objects ----

func (g *gen) emitNamespaces() error {
	for i := range g.ns {
		ns := &g.ns[i]
		labels := map[string]string{"kubernetes.io/metadata.name": ns.name}
		var annotations map[string]string
		switch ns.class {
		case platformNS:
			labels["app.kubernetes.io/part-of"] = "platform"
		case teamNS:
			labels["team"] = ns.team
			labels["env"] = ns.env
			if ns.istio {
				labels["istio-injection"] = "enabled"
			}
			if ns.restricted {
				labels["pod-security.kubernetes.io/enforce"] = "restricted"
			} else {
				labels["pod-security.kubernetes.io/enforce"] = "baseline"
			}
			annotations = map[string]string{"owner": ns.team + "@example.com"}
		}
		obj := &corev1.Namespace{
			TypeMeta: typeMeta("v1", "Namespace"),
			ObjectMeta: metav1.ObjectMeta{
				Name: ns.name, UID: ns.uid, ResourceVersion: g.rv(),
				CreationTimestamp: metav1.NewTime(ns.created), Labels: labels, Annotations: annotations,
			},
			Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}
		if err := g.put(obj); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) emitNodes() error {
	for _, n := range g.nodes {
		ready := metav1.NewTime(n.created.Add(40 * time.Second))
		obj := &corev1.Node{
			TypeMeta: typeMeta("v1", "Node"),
			ObjectMeta: metav1.ObjectMeta{
				Name: n.name, UID: g.uid(), ResourceVersion: g.rv(), CreationTimestamp: metav1.NewTime(n.created),
				Labels: map[string]string{
					"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": n.instanceType, "beta.kubernetes.io/os": "linux",
					"eks.amazonaws.com/capacityType": n.capacity, "eks.amazonaws.com/nodegroup": n.nodegroup,
					"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux",
					"node.kubernetes.io/instance-type": n.instanceType,
					"topology.kubernetes.io/region":    g.region, "topology.kubernetes.io/zone": n.zone,
				},
				Annotations: map[string]string{
					"alpha.kubernetes.io/provided-node-ip":                   n.ip,
					"node.alpha.kubernetes.io/ttl":                           "0",
					"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				},
			},
			Spec: corev1.NodeSpec{ProviderID: "aws:///" + n.zone + "/" + n.instanceID},
			Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32386128Ki"), corev1.ResourcePods: resource.MustParse("58")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("7910m"), corev1.ResourceMemory: resource.MustParse("31369296Ki"), corev1.ResourcePods: resource.MustParse("58")},
				Conditions: []corev1.NodeCondition{
					{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(snapshotTime.Add(-time.Minute)), LastTransitionTime: ready, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
					{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(snapshotTime.Add(-time.Minute)), LastTransitionTime: ready, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
					{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(snapshotTime.Add(-time.Minute)), LastTransitionTime: ready, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
					{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(snapshotTime.Add(-time.Minute)), LastTransitionTime: ready, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
				},
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeInternalIP, Address: n.ip},
					{Type: corev1.NodeHostName, Address: n.name},
					{Type: corev1.NodeInternalDNS, Address: n.name},
				},
				DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
				NodeInfo: corev1.NodeSystemInfo{
					MachineID: g.hex(32), SystemUUID: "ec2" + g.hex(5) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(12),
					BootID: string(g.uid()), KernelVersion: "6.1.141-155.222.amzn2023.x86_64", OSImage: "Amazon Linux 2023.7.20250623",
					ContainerRuntimeVersion: "containerd://1.7.27", KubeletVersion: "v1.33.1-eks-b9364f6", KubeProxyVersion: "v1.33.1-eks-b9364f6",
					OperatingSystem: "linux", Architecture: "amd64",
				},
			},
		}
		if err := g.put(obj); err != nil {
			return err
		}
	}
	return nil
}

// planClusterRoles builds every ClusterRole (they are few and aggregation needs them all).
func (g *gen) planClusterRoles() {
	builtin := g.builtinClusterRoles()
	nBuiltin := min(len(builtin), max(mandatoryClusterRoles, g.size.ClusterRoles-g.size.ClusterRoles/4))
	g.clusterRoles = builtin[:nBuiltin]
	used := map[string]bool{}
	for _, cr := range g.clusterRoles {
		used[cr.Name] = true
	}
	nCustom := g.size.ClusterRoles - nBuiltin
	aggregator := ""
	if nCustom >= 8 {
		aggregator = "platform-reader"
		used[aggregator] = true
		g.clusterRoles = append(g.clusterRoles, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: aggregator, Labels: map[string]string{"app.kubernetes.io/managed-by": "platform-team"}},
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
				{MatchLabels: map[string]string{"rbac.example.com/aggregate-to-platform-reader": "true"}},
			}},
		})
		nCustom--
	}
	for range nCustom {
		cr := g.customClusterRole(used)
		if aggregator != "" && g.pct(10) {
			if cr.Labels == nil {
				cr.Labels = map[string]string{}
			}
			cr.Labels["rbac.example.com/aggregate-to-platform-reader"] = "true"
		}
		g.clusterRoles = append(g.clusterRoles, cr)
		g.customClusterRoles = append(g.customClusterRoles, cr.Name)
	}
	aggregate(g.clusterRoles)
	g.clusterRoleNames = used
}

func (g *gen) customClusterRole(used map[string]bool) *rbacv1.ClusterRole {
	cr := &rbacv1.ClusterRole{}
	var rules []rbacv1.PolicyRule
	switch p := g.r.IntN(100); {
	case p < 30: // an operator and, often, its aggregated view and edit roles
		op := operators[g.r.IntN(len(operators))]
		cr.Name = op.name
		cr.Labels = map[string]string{"app.kubernetes.io/name": op.name, "app.kubernetes.io/managed-by": "Helm"}
		switch v := g.r.IntN(3); {
		case v == 0 || used[op.name] && !used[op.name+"-view"]:
			cr.Name = op.name + "-view"
			cr.Labels["rbac.authorization.k8s.io/aggregate-to-view"] = "true"
			rules = []rbacv1.PolicyRule{rl("get,list,watch", op.group, op.resources)}
		case v == 1 || used[op.name] && !used[op.name+"-edit"]:
			cr.Name = op.name + "-edit"
			cr.Labels["rbac.authorization.k8s.io/aggregate-to-edit"] = "true"
			cr.Labels["rbac.authorization.k8s.io/aggregate-to-admin"] = "true"
			rules = []rbacv1.PolicyRule{rl("create,delete,deletecollection,patch,update", op.group, op.resources)}
		default:
			rules = []rbacv1.PolicyRule{rl("*", op.group, "*"), rl("get,list,watch,create,update,patch,delete", ",apps", "pods,services,configmaps,secrets,statefulsets,deployments"), events()}
			if g.pct(50) {
				rules = append(rules, rl("create,get,update", "coordination.k8s.io", "leases"))
			}
		}
	case p < 55: // a team role
		team := pick(g, g.teams)
		kind := pick(g, []string{"developer", "readonly", "admin", "oncall", "deployer", "debug"})
		cr.Name = team + "-" + kind
		cr.Labels = map[string]string{"team": team}
		rules = g.rules(clusterRulePool, 1+g.ruleCount(), team)
	default: // tooling and people
		cr.Name = pick(g, toolingClusterRoles)
		rules = g.rules(clusterRulePool, 1+g.ruleCount(), "")
	}
	base := cr.Name
	for k := 2; used[cr.Name]; k++ {
		cr.Name = base + "-" + strconv.Itoa(k)
	}
	used[cr.Name] = true
	cr.Rules = rules
	return cr
}

// aggregate fills the rules of aggregated ClusterRoles as the clusterrole-aggregation
// controller does (selected roles in name order, rules deduplicated, itself excluded),
// repeated until nothing changes so that chains (view -> edit -> admin) converge.
func aggregate(roles []*rbacv1.ClusterRole) {
	byName := slices.Clone(roles)
	slices.SortFunc(byName, func(a, b *rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })
	for changed := true; changed; {
		changed = false
		for _, cr := range byName {
			if cr.AggregationRule == nil {
				continue
			}
			var rules []rbacv1.PolicyRule
			for _, sel := range cr.AggregationRule.ClusterRoleSelectors {
				for _, other := range byName {
					if other == cr || !matchLabels(sel.MatchLabels, other.Labels) {
						continue
					}
					for _, r := range other.Rules {
						if !slices.ContainsFunc(rules, func(x rbacv1.PolicyRule) bool { return reflect.DeepEqual(x, r) }) {
							rules = append(rules, *r.DeepCopy())
						}
					}
				}
			}
			if !reflect.DeepEqual(rules, cr.Rules) {
				cr.Rules = rules
				changed = true
			}
		}
	}
}

func matchLabels(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (g *gen) emitClusterRoles() error {
	for _, cr := range g.clusterRoles {
		cr.TypeMeta = typeMeta(rbacVersion, "ClusterRole")
		cr.UID, cr.ResourceVersion = g.uid(), g.rv()
		if cr.CreationTimestamp.IsZero() {
			cr.CreationTimestamp = metav1.NewTime(clusterCreated)
			if cr.Labels["kubernetes.io/bootstrapping"] == "" {
				cr.CreationTimestamp = metav1.NewTime(g.between(clusterCreated.Add(time.Hour), snapshotTime.Add(-24*time.Hour)))
			}
		}
		if err := g.put(cr); err != nil {
			return err
		}
	}
	g.clusterRoles = nil // emitted: no longer ours
	return nil
}

func (g *gen) emitClusterRoleBindings() error {
	var builtin []crbSpec
	for _, b := range g.builtinClusterRoleBindings() {
		if g.clusterRoleNames[b.role] {
			builtin = append(builtin, b)
		}
	}
	n := g.size.ClusterRoleBindings
	builtin = builtin[:min(len(builtin), n-n/4)]
	used := map[string]bool{}
	for i := range n {
		var b crbSpec
		if i < len(builtin) {
			b = builtin[i]
		} else {
			b = g.customClusterRoleBinding()
		}
		base := b.name
		for k := 2; used[b.name]; k++ {
			b.name = base + "-" + strconv.Itoa(k)
		}
		used[b.name] = true
		created := clusterCreated
		labels := map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
		annotations := map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}
		if !b.bootstrap {
			created = g.between(clusterCreated.Add(time.Hour), snapshotTime.Add(-24*time.Hour))
			labels, annotations = b.labels, nil
		}
		obj := &rbacv1.ClusterRoleBinding{
			TypeMeta: typeMeta(rbacVersion, "ClusterRoleBinding"),
			ObjectMeta: metav1.ObjectMeta{Name: b.name, UID: g.uid(), ResourceVersion: g.rv(),
				CreationTimestamp: metav1.NewTime(created), Labels: labels, Annotations: annotations},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: b.role},
			Subjects: b.subjects,
		}
		if err := g.put(obj); err != nil {
			return err
		}
	}
	return nil
}

type crbSpec struct {
	name      string
	role      string
	subjects  []rbacv1.Subject
	labels    map[string]string
	bootstrap bool
}

func (g *gen) customClusterRoleBinding() crbSpec {
	var b crbSpec
	p := g.r.IntN(100)
	switch {
	case p < 2: // people and CI with cluster-admin
		b.role = "cluster-admin"
		switch g.r.IntN(3) {
		case 0:
			u := pick(g, g.users)
			b.name, b.subjects = strings.Split(u, "@")[0]+"-cluster-admin", []rbacv1.Subject{user(u)}
		case 1:
			grp := pick(g, []string{"platform-admins", "sre", "break-glass"})
			b.name, b.subjects = grp+"-cluster-admin", []rbacv1.Subject{group(grp)}
		default:
			ns, sa := g.randomServiceAccount()
			b.name, b.subjects = sa+"-cluster-admin", []rbacv1.Subject{serviceAccount(ns, sa)}
		}
	case p < 45: // team groups
		team := pick(g, g.teams)
		grp := team + "-" + pick(g, []string{"developers", "admins", "oncall", "readonly"})
		b.role = g.clusterRoleFor(team)
		b.name, b.subjects = grp+"-"+b.role, []rbacv1.Subject{group(grp)}
		if g.pct(20) {
			b.subjects = append(b.subjects, group("oidc:"+grp))
		}
		b.labels = map[string]string{"team": team}
	case p < 70: // users
		u := pick(g, g.users)
		b.role = g.clusterRoleFor("")
		b.name, b.subjects = strings.Split(u, "@")[0]+"-"+b.role, []rbacv1.Subject{user(u)}
		for range g.r.IntN(3) {
			b.subjects = append(b.subjects, user(pick(g, g.users)))
		}
	case p < 98: // workloads and controllers
		ns, sa := g.randomServiceAccount()
		b.role = g.clusterRoleFor("")
		b.name, b.subjects = ns+"-"+sa+"-"+b.role, []rbacv1.Subject{serviceAccount(ns, sa)}
	default: // broad groups
		b.role = pick(g, g.customClusterRoles, "view")
		grp := pick(g, []string{"system:serviceaccounts", "system:authenticated"})
		b.name, b.subjects = strings.ReplaceAll(grp, ":", "-")+"-"+b.role, []rbacv1.Subject{group(grp)}
	}
	if len(b.name) > 253 {
		b.name = b.name[:253]
	}
	return b
}

// clusterRoleFor picks a ClusterRole to bind: a custom one, the team's, or view/edit.
func (g *gen) clusterRoleFor(team string) string {
	if team != "" && g.pct(50) {
		for _, name := range g.customClusterRoles {
			if strings.HasPrefix(name, team+"-") {
				return name
			}
		}
	}
	if len(g.customClusterRoles) > 0 && g.pct(60) {
		return g.customClusterRoles[g.skewed(len(g.customClusterRoles))]
	}
	return pick(g, []string{"view", "view", "view", "edit"})
}

// randomServiceAccount picks an existing ServiceAccount, rarely a default one.
func (g *gen) randomServiceAccount() (ns, name string) {
	for {
		p := &g.ns[g.r.IntN(len(g.ns))]
		if len(p.sas) > 1 {
			return p.name, p.sas[1+g.r.IntN(len(p.sas)-1)].name
		}
		if g.pct(5) {
			return p.name, "default"
		}
	}
}

// ---- namespaced objects ----

func (g *gen) emitNamespaceContents(ns *nsPlan) error {
	saIndex := map[string]int{}
	var secrets []*corev1.Secret
	for i := range ns.sas {
		sa := &ns.sas[i]
		saIndex[sa.name] = i
		obj, secret := g.serviceAccount(ns, sa)
		if secret != nil {
			secrets = append(secrets, secret)
		}
		if err := g.put(obj); err != nil {
			return err
		}
	}
	for _, s := range secrets {
		if err := g.put(s); err != nil {
			return err
		}
	}
	if ns.name == "kube-system" {
		for _, cm := range g.kubeSystemConfigMaps() {
			if err := g.put(cm); err != nil {
				return err
			}
		}
	}
	roles, err := g.emitRoles(ns)
	if err != nil {
		return err
	}
	if err := g.emitRoleBindings(ns, roles); err != nil {
		return err
	}
	return g.emitWorkloads(ns, saIndex)
}

func (g *gen) serviceAccount(ns *nsPlan, sa *saPlan) (*corev1.ServiceAccount, *corev1.Secret) {
	created := ns.created
	if sa.name != "default" {
		created = g.between(ns.created.Add(time.Minute), ns.created.Add(90*24*time.Hour))
	}
	obj := &corev1.ServiceAccount{
		TypeMeta: typeMeta("v1", "ServiceAccount"),
		ObjectMeta: metav1.ObjectMeta{Name: sa.name, Namespace: ns.name, UID: sa.uid, ResourceVersion: g.rv(),
			CreationTimestamp: metav1.NewTime(created)},
	}
	if sa.automount != nil {
		obj.AutomountServiceAccountToken = ptr(*sa.automount)
	}
	if sa.name != "default" && (ns.class != systemNS || sa.app != "") {
		obj.Labels = map[string]string{"app.kubernetes.io/name": cmp.Or(sa.app, sa.name)}
		if g.pct(60) {
			obj.Labels["app.kubernetes.io/managed-by"] = "Helm"
			obj.Annotations = map[string]string{"meta.helm.sh/release-name": cmp.Or(sa.app, ns.domain), "meta.helm.sh/release-namespace": ns.name}
		}
	}
	if sa.roleARN != "" {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations["eks.amazonaws.com/role-arn"] = sa.roleARN
		if g.pct(40) {
			obj.Annotations["eks.amazonaws.com/sts-regional-endpoints"] = "true"
		}
		if g.pct(10) {
			obj.Annotations["eks.amazonaws.com/token-expiration"] = pick(g, []string{"3600", "43200", "86400"})
		}
	}
	if sa.name != "default" && g.pct(5) {
		obj.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pick(g, []string{"ecr-pull", "regcred", "dockerhub"})}}
	}
	// Legacy token Secrets: generated for every ServiceAccount before 1.24, of which the
	// legacy token cleaner left the ones still in use or recently invalidated; created by
	// hand since (for CI systems and dashboards).
	auto := created.Before(legacyTokensEnd)
	if auto && !g.pct(8) || !auto && !g.pct(1) {
		return obj, nil
	}
	secret := &corev1.Secret{
		TypeMeta: typeMeta("v1", "Secret"),
		ObjectMeta: metav1.ObjectMeta{Name: sa.name + "-token", Namespace: ns.name, UID: g.uid(), ResourceVersion: g.rv(),
			CreationTimestamp: metav1.NewTime(g.between(created.Add(time.Minute), snapshotTime.Add(-24*time.Hour))),
			Annotations: map[string]string{
				corev1.ServiceAccountNameKey: sa.name,
				corev1.ServiceAccountUIDKey:  string(sa.uid),
			}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	lastUsed := g.between(trackingSince, snapshotTime)
	switch p := g.r.IntN(100); {
	case auto && p < 75 || !auto && p < 50:
		secret.Labels = map[string]string{"kubernetes.io/legacy-token-last-used": lastUsed.Format(time.DateOnly)}
	case auto:
		secret.Labels = map[string]string{"kubernetes.io/legacy-token-invalid-since": g.between(snapshotTime.Add(-300*24*time.Hour), snapshotTime).Format(time.DateOnly)}
	}
	if auto {
		secret.Name += "-" + g.suffix(5)
		secret.CreationTimestamp = metav1.NewTime(created.Add(time.Second))
		obj.Secrets = []corev1.ObjectReference{{Name: secret.Name}}
	}
	return obj, secret
}

func (g *gen) kubeSystemConfigMaps() []*corev1.ConfigMap {
	var roles, users strings.Builder
	fmt.Fprintf(&roles, "- groups:\n  - system:bootstrappers\n  - system:nodes\n  rolearn: arn:aws:iam::%s:role/%s-node\n  username: system:node:{{EC2PrivateDNSName}}\n", g.account, g.clusterName)
	fmt.Fprintf(&roles, "- groups:\n  - system:masters\n  rolearn: arn:aws:iam::%s:role/platform-admin\n  username: platform-admin:{{SessionName}}\n", g.account)
	fmt.Fprintf(&roles, "- groups:\n  - security-auditors\n  rolearn: arn:aws:iam::%s:role/security-audit\n  username: security-audit\n", g.account)
	for _, team := range g.teams[:min(len(g.teams), 12)] {
		fmt.Fprintf(&roles, "- groups:\n  - %s-developers\n  rolearn: arn:aws:iam::%s:role/%s-developers\n  username: %s:{{SessionName}}\n", team, g.account, team, team)
	}
	fmt.Fprintf(&users, "- groups:\n  - system:masters\n  userarn: arn:aws:iam::%s:user/ci-deployer\n  username: ci-deployer\n", g.account)
	for _, u := range g.users[:min(len(g.users), 3)] {
		name := strings.Split(u, "@")[0]
		fmt.Fprintf(&users, "- groups:\n  - sre\n  userarn: arn:aws:iam::%s:user/%s\n  username: %s\n", g.account, name, u)
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "kube-system", UID: g.uid(), ResourceVersion: g.rv(), CreationTimestamp: metav1.NewTime(clusterCreated.Add(10 * time.Minute))}
	}
	return []*corev1.ConfigMap{
		{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta("aws-auth"),
			Data: map[string]string{"mapRoles": roles.String(), "mapUsers": users.String()}},
		{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta("kube-apiserver-legacy-service-account-token-tracking"),
			Data: map[string]string{"since": trackingSince.Format(time.DateOnly)}},
	}
}

// roleSpec is a Role and the RoleBinding that comes with it.
type roleSpec struct {
	name     string
	rules    []rbacv1.PolicyRule
	subjects []rbacv1.Subject
}

// fixedRoles are the Roles a system or platform namespace always has (when its size allows).
func (g *gen) fixedRoles(ns *nsPlan) []roleSpec {
	sa := func(name string) rbacv1.Subject { return serviceAccount("kube-system", name) }
	switch {
	case ns.name == "kube-system":
		return []roleSpec{
			{"extension-apiserver-authentication-reader", []rbacv1.PolicyRule{rl("get,list,watch", "", "configmaps", "extension-apiserver-authentication")},
				[]rbacv1.Subject{user("system:kube-controller-manager"), user("system:kube-scheduler")}},
			{"system::leader-locking-kube-controller-manager", []rbacv1.PolicyRule{rl("watch", "", "configmaps"), rl("get,update", "", "configmaps", "kube-controller-manager")},
				[]rbacv1.Subject{user("system:kube-controller-manager"), sa("kube-controller-manager")}},
			{"system::leader-locking-kube-scheduler", []rbacv1.PolicyRule{rl("watch", "", "configmaps"), rl("get,update", "", "configmaps", "kube-scheduler")},
				[]rbacv1.Subject{user("system:kube-scheduler"), sa("kube-scheduler")}},
			{"system:controller:bootstrap-signer", []rbacv1.PolicyRule{rl("get,list,watch", "", "secrets")}, []rbacv1.Subject{sa("bootstrap-signer")}},
			{"system:controller:cloud-provider", []rbacv1.PolicyRule{rl("create,get,list,watch", "", "configmaps")}, []rbacv1.Subject{sa("cloud-provider")}},
			{"system:controller:token-cleaner", []rbacv1.PolicyRule{rl("delete,get,list,watch", "", "secrets"), events()}, []rbacv1.Subject{sa("token-cleaner")}},
			{"eks:authenticator", []rbacv1.PolicyRule{rl("get", "", "configmaps", "aws-auth")}, []rbacv1.Subject{user("eks:authenticator")}},
			{"eks:node-manager", []rbacv1.PolicyRule{rl("get,list,watch,patch,update", "", "configmaps", "aws-auth")}, []rbacv1.Subject{user("eks:node-manager")}},
		}
	case ns.name == "kube-public":
		return []roleSpec{{"system:controller:bootstrap-signer",
			[]rbacv1.PolicyRule{rl("get,list,watch", "", "configmaps"), rl("update", "", "configmaps", "cluster-info"), events()},
			[]rbacv1.Subject{sa("bootstrap-signer")}}}
	case ns.class == platformNS:
		var out []roleSpec
		for _, app := range ns.catalog.apps {
			out = append(out, roleSpec{app.name + ":leaderelection",
				[]rbacv1.PolicyRule{rl("get,update,patch", "coordination.k8s.io", "leases", app.name+"-leader"), rl("create", "coordination.k8s.io", "leases"), events()},
				[]rbacv1.Subject{serviceAccount(ns.name, app.sa)}})
		}
		return out
	}
	return nil
}

func (g *gen) emitRoles(ns *nsPlan) ([]string, error) {
	fixed := g.fixedRoles(ns)
	names := make([]string, 0, ns.roles)
	used := map[string]bool{}
	for i := range ns.roles {
		var name string
		var rules []rbacv1.PolicyRule
		var labels map[string]string
		created := ns.created
		if i < len(fixed) {
			name, rules = fixed[i].name, fixed[i].rules
			if ns.class == systemNS {
				labels = map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
			}
		} else {
			app := ns.domain
			if len(ns.sas) > 1 && g.pct(60) {
				app = cmp.Or(ns.sas[1+g.r.IntN(len(ns.sas)-1)].app, app)
			}
			if g.pct(55) {
				name = app + pick(g, []string{"", "-role", "-leader-election", "-reader", "-manager"})
			} else {
				name = pick(g, namespacedRoleNames)
			}
			rules = g.rules(roleRulePool, 1+g.ruleCount(), app)
			created = g.between(ns.created.Add(time.Minute), snapshotTime.Add(-time.Hour))
			if g.pct(50) {
				labels = map[string]string{"app.kubernetes.io/managed-by": "Helm"}
			}
		}
		base := name
		for k := 2; used[name]; k++ {
			name = base + "-" + strconv.Itoa(k)
		}
		used[name] = true
		names = append(names, name)
		obj := &rbacv1.Role{
			TypeMeta: typeMeta(rbacVersion, "Role"),
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.name, UID: g.uid(), ResourceVersion: g.rv(),
				CreationTimestamp: metav1.NewTime(created), Labels: labels},
			Rules: rules,
		}
		if err := g.put(obj); err != nil {
			return nil, err
		}
	}
	return names, nil
}

func (g *gen) emitRoleBindings(ns *nsPlan, roles []string) error {
	fixed := g.fixedRoles(ns)
	fixed = fixed[:min(len(fixed), len(roles))]
	used := map[string]bool{}
	for i := range ns.bindings {
		var b rbacv1.RoleBinding
		created := ns.created
		if i < len(fixed) {
			b.Name = fixed[i].name
			b.RoleRef = rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "Role", Name: roles[i]}
			b.Subjects = fixed[i].subjects
			if ns.class == systemNS {
				b.Labels = map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
			}
		} else {
			g.randomRoleBinding(ns, &b, roles, len(fixed), i-len(fixed))
			created = g.between(ns.created.Add(time.Minute), snapshotTime.Add(-time.Hour))
		}
		base := b.Name
		for k := 2; used[b.Name]; k++ {
			b.Name = base + "-" + strconv.Itoa(k)
		}
		used[b.Name] = true
		b.TypeMeta = typeMeta(rbacVersion, "RoleBinding")
		b.Namespace, b.UID, b.ResourceVersion, b.CreationTimestamp = ns.name, g.uid(), g.rv(), metav1.NewTime(created)
		if err := g.put(&b); err != nil {
			return err
		}
	}
	return nil
}

// randomRoleBinding fills b: the k-th random binding of the namespace. The first ones bind
// each of the namespace's own Roles once; the rest bind Roles, admin/edit/view or custom
// ClusterRoles to ServiceAccounts, users and groups.
func (g *gen) randomRoleBinding(ns *nsPlan, b *rbacv1.RoleBinding, roles []string, nFixed, k int) {
	own := roles[nFixed:]
	switch p := g.r.IntN(100); {
	case k < len(own) && p < 90:
		b.RoleRef = rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "Role", Name: own[k]}
	case len(roles) > 0 && p < 35:
		b.RoleRef = rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "Role", Name: roles[g.skewed(len(roles))]}
	case p < 55:
		b.RoleRef = rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: pick(g, []string{"view", "view", "edit", "edit", "admin"})}
	case p < 98:
		b.RoleRef = rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: pick(g, g.customClusterRoles, "view")}
	default:
		b.RoleRef = rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: "cluster-admin"}
	}
	n := 1
	switch p := g.r.IntN(100); {
	case p < 10:
		n = 3 + g.r.IntN(2)
	case p < 30:
		n = 2
	}
	for range n {
		b.Subjects = append(b.Subjects, g.roleBindingSubject(ns))
	}
	first := b.Subjects[0].Name
	if i := strings.LastIndexByte(first, ':'); i >= 0 {
		first = first[i+1:]
	}
	first = strings.Split(first, "@")[0]
	switch g.r.IntN(3) {
	case 0:
		b.Name = b.RoleRef.Name
	case 1:
		b.Name = b.RoleRef.Name + "-binding"
	default:
		b.Name = first + "-" + b.RoleRef.Name
	}
	b.Name = strings.ReplaceAll(b.Name, ":", "-")
	if g.pct(50) {
		b.Labels = map[string]string{"app.kubernetes.io/managed-by": pick(g, []string{"Helm", "argocd", "kustomize"})}
	}
}

func (g *gen) roleBindingSubject(ns *nsPlan) rbacv1.Subject {
	switch p := g.r.IntN(100); {
	case p < 55:
		sa := ns.sas[0].name
		if len(ns.sas) > 1 && g.pct(95) {
			sa = ns.sas[1+g.skewed(len(ns.sas)-1)].name
		}
		s := serviceAccount(ns.name, sa)
		if g.pct(2) { // an empty namespace means the binding's own
			s.Namespace = ""
		}
		return s
	case p < 63:
		otherNS, sa := g.randomServiceAccount()
		return serviceAccount(otherNS, sa)
	case p < 65: // a ServiceAccount that was deleted
		return serviceAccount(ns.name, ns.domain+"-"+pick(g, []string{"legacy", "old", "deprecated", "tmp"}))
	case p < 80:
		return user(pick(g, g.users))
	case p < 92:
		team := ns.team
		if team == "" {
			team = pick(g, g.teams)
		}
		return group(team + "-" + pick(g, []string{"developers", "developers", "admins", "oncall", "readonly"}))
	case p < 99:
		return group("system:serviceaccounts:" + ns.name)
	default:
		return group(pick(g, []string{"system:serviceaccounts", "system:authenticated"}))
	}
}

// ruleCount returns how many rules beyond the first a role has (0-7, mostly few).
func (g *gen) ruleCount() int {
	p := g.r.IntN(100)
	for i, c := range []int{20, 45, 65, 77, 85, 91, 96} {
		if p < c {
			return i
		}
	}
	return 7
}

// rules picks n distinct rule templates by weight; "$app" in resource names becomes app.
func (g *gen) rules(pool []ruleTemplate, n int, app string) []rbacv1.PolicyRule {
	total := 0
	for _, t := range pool {
		total += t.weight
	}
	var picked []int
	for attempt := 0; len(picked) < n && attempt < 4*n; attempt++ {
		x := g.r.IntN(total)
		i := 0
		for x >= pool[i].weight {
			x -= pool[i].weight
			i++
		}
		if !slices.Contains(picked, i) {
			picked = append(picked, i)
		}
	}
	app = cmp.Or(app, "app")
	out := make([]rbacv1.PolicyRule, 0, len(picked))
	for _, i := range picked {
		t := pool[i]
		var r rbacv1.PolicyRule
		if t.urls != "" {
			r = nr(t.verbs, t.urls)
		} else {
			var names []string
			if t.names != "" {
				names = strings.Split(strings.ReplaceAll(t.names, "$app", app), ",")
			}
			r = rl(t.verbs, t.groups, t.resources, names...)
		}
		out = append(out, r)
	}
	return out
}

// ---- workloads ----

// workload is what the Pods of one controller share.
type workload struct {
	ns       *nsPlan
	name     string
	template corev1.PodTemplateSpec
	sa       *saPlan
	imageIDs []string
	created  time.Time
	daemon   *daemonSpec
	tracked  map[string]string // labels of the controller object
	helm     bool
}

func (g *gen) emitWorkloads(ns *nsPlan, saIndex map[string]int) error {
	used := map[string]bool{}
	for _, a := range ns.apps {
		used[a.name] = true
	}
	budget := ns.pods
	for i := 0; budget > 0; i++ {
		var app appSpec
		if i < len(ns.apps) {
			app = ns.apps[i]
		} else {
			app = g.newApp(ns, used)
		}
		// Choose the ServiceAccount: an app planned with its own mostly uses it, other
		// apps share the namespace's (the first ones most); some run as default.
		sa := 0
		j, own := saIndex[app.sa]
		switch p := g.r.IntN(100); {
		case own && (ns.catalog != nil || p < 82):
			sa = j
		case own && p < 90 || !own && p < 15 || len(ns.sas) == 1:
			sa = 0
		default:
			sa = 1 + g.skewed(len(ns.sas)-1)
		}
		n := app.replicas
		if n == 0 {
			switch app.kind {
			case deploymentKind:
				n = pick(g, []int{1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 6, 8, 10, 12})
			case statefulSetKind:
				n = pick(g, []int{1, 3, 3, 5})
			case cronJobKind:
				n = 1 + g.r.IntN(3)
			}
		}
		n = min(n, budget)
		budget -= n
		w := g.newWorkload(ns, app, &ns.sas[sa], sa == 0 && app.kind != cronJobKind && g.pct(70))
		var err error
		switch app.kind {
		case deploymentKind:
			err = g.emitDeployment(w, n)
		case statefulSetKind:
			err = g.emitStatefulSet(w, n)
		case cronJobKind:
			err = g.emitCronJob(w, n)
		}
		if err != nil {
			return err
		}
	}
	for k := range g.daemons {
		d := &g.daemons[k]
		if d.ns != ns.name {
			continue
		}
		sa := 0
		if j, ok := saIndex[d.sa]; ok {
			sa = j
		}
		if err := g.emitDaemonSet(ns, d, &ns.sas[sa]); err != nil {
			return err
		}
	}
	return nil
}

// newWorkload builds the pod template of an app. unnamedSA leaves serviceAccountName empty
// in the template (the Pods still get "default" from the API server).
func (g *gen) newWorkload(ns *nsPlan, app appSpec, sa *saPlan, unnamedSA bool) *workload {
	w := &workload{ns: ns, name: app.name, sa: sa, helm: g.pct(60),
		created: g.between(ns.created.Add(time.Hour), snapshotTime.Add(-35*24*time.Hour))}
	if w.created.Before(ns.created) {
		w.created = ns.created.Add(time.Hour)
	}
	image := strings.NewReplacer("{account}", g.account, "{region}", g.region).Replace(app.image)
	version := image[strings.LastIndexByte(image, ':')+1:]
	selector := map[string]string{"app.kubernetes.io/name": app.name, "app.kubernetes.io/instance": app.name}
	w.tracked = map[string]string{"app.kubernetes.io/name": app.name, "app.kubernetes.io/instance": app.name, "app.kubernetes.io/part-of": ns.domain}
	if ns.team != "" {
		w.tracked["team"] = ns.team
	}
	if w.helm {
		w.tracked["app.kubernetes.io/managed-by"] = "Helm"
		w.tracked["helm.sh/chart"] = fmt.Sprintf("%s-%d.%d.%d", app.name, g.r.IntN(3), g.r.IntN(20), g.r.IntN(10))
	}
	labels := map[string]string{"app.kubernetes.io/version": version}
	for k, v := range selector {
		labels[k] = v
	}
	memory := []string{"64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi"}
	mem := g.r.IntN(len(memory) - 2)
	c := corev1.Container{
		Name:            strings.TrimPrefix(app.name, ns.domain+"-"),
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: app.port, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{
			{Name: "LOG_LEVEL", Value: pick(g, []string{"info", "info", "debug", "warn"})},
			{Name: "APP_ENV", Value: cmp.Or(ns.env, "prod")},
			{Name: "OTEL_SERVICE_NAME", Value: app.name},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(pick(g, []string{"50m", "100m", "250m", "500m", "1"})), corev1.ResourceMemory: resource.MustParse(memory[mem])},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory[mem+1+g.r.IntN(2)])},
		},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
	if c.Name == "" {
		c.Name = "app"
	}
	if ns.catalog == nil && g.pct(30) {
		c.Env = append(c.Env, corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: app.name + "-credentials"}, Key: "password"}}})
	}
	if app.kind == deploymentKind {
		probe := func(path string, delay int32) *corev1.Probe {
			return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
				InitialDelaySeconds: delay, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
		}
		c.LivenessProbe, c.ReadinessProbe = probe("/healthz", 10), probe("/readyz", 5)
	}
	spec := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr(int64(30)),
		DNSPolicy:                     corev1.DNSClusterFirst,
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 corev1.DefaultSchedulerName,
	}
	if ns.restricted || g.pct(50) {
		c.SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
			RunAsNonRoot: ptr(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
		spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr(int64(10001)), FSGroup: ptr(int64(10001)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	}
	if g.pct(30) {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: app.name + "-config"}, DefaultMode: ptr(int32(420))}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "config", MountPath: "/etc/" + app.name, ReadOnly: true})
	}
	if app.kind == cronJobKind {
		spec.RestartPolicy = corev1.RestartPolicyOnFailure
		c.Ports = nil
	}
	spec.Containers = []corev1.Container{c}
	if !unnamedSA {
		spec.ServiceAccountName, spec.DeprecatedServiceAccount = sa.name, sa.name
	}
	if g.pct(4) {
		spec.AutomountServiceAccountToken = ptr(false)
	}
	w.template = corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}
	if g.pct(30) {
		w.template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": g.between(w.created, snapshotTime.Add(-24*time.Hour)).Format(time.RFC3339)}
	}
	w.imageIDs = []string{image[:strings.LastIndexByte(image, ':')] + "@sha256:" + g.hex(64)}
	return w
}

func (g *gen) objectMeta(w *workload, name string, labels map[string]string, created time.Time) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: w.ns.name, UID: g.uid(), ResourceVersion: g.rv(),
		CreationTimestamp: metav1.NewTime(created), Labels: labels}
	if w.helm {
		m.Annotations = map[string]string{"meta.helm.sh/release-name": w.name, "meta.helm.sh/release-namespace": w.ns.name}
	}
	return m
}

func (g *gen) emitDeployment(w *workload, replicas int) error {
	revision := 1 + g.r.IntN(12)
	oldest := max(1, revision-g.r.IntN(3)) // older ReplicaSets kept, scaled to zero
	hashes := make([]string, revision-oldest+1)
	for i := range hashes {
		hashes[i] = g.suffix(10)
	}
	current := w.name + "-" + hashes[len(hashes)-1]
	r32 := int32(replicas)
	d := &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: g.objectMeta(w, w.name, copyMap(w.tracked), w.created),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(r32),
			Selector: &metav1.LabelSelector{MatchLabels: selectorOf(w.template.Labels)},
			Template: *w.template.DeepCopy(),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr(intstr.FromString("25%")), MaxSurge: ptr(intstr.FromString("25%"))}},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}
	d.Generation = int64(revision)
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations["deployment.kubernetes.io/revision"] = strconv.Itoa(revision)
	rolled := g.between(w.created, snapshotTime.Add(-30*24*time.Hour))
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: r32, UpdatedReplicas: r32, ReadyReplicas: r32, AvailableReplicas: r32,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(rolled), LastTransitionTime: metav1.NewTime(rolled),
				Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(rolled), LastTransitionTime: metav1.NewTime(w.created),
				Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", current)},
		},
	}
	if err := g.put(d); err != nil {
		return err
	}
	owner := ownerRef("apps/v1", "Deployment", d.Name, d.UID)
	for i, hash := range hashes {
		rev := oldest + i
		n := 0
		created := g.between(w.created, rolled)
		if rev == revision {
			n, created = replicas, rolled
		}
		tmpl := w.template.DeepCopy()
		tmpl.Labels["pod-template-hash"] = hash
		selector := selectorOf(tmpl.Labels)
		selector["pod-template-hash"] = hash
		meta := g.objectMeta(w, w.name+"-"+hash, copyMap(tmpl.Labels), created)
		meta.OwnerReferences = []metav1.OwnerReference{*owner.DeepCopy()}
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations["deployment.kubernetes.io/desired-replicas"] = strconv.Itoa(replicas)
		meta.Annotations["deployment.kubernetes.io/max-replicas"] = strconv.Itoa(replicas + (replicas+3)/4)
		meta.Annotations["deployment.kubernetes.io/revision"] = strconv.Itoa(rev)
		meta.Generation = 1 + int64(g.r.IntN(3))
		n32 := int32(n)
		rs := &appsv1.ReplicaSet{
			TypeMeta:   typeMeta("apps/v1", "ReplicaSet"),
			ObjectMeta: meta,
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(n32), Selector: &metav1.LabelSelector{MatchLabels: selector}, Template: *tmpl.DeepCopy()},
			Status: appsv1.ReplicaSetStatus{Replicas: n32, FullyLabeledReplicas: n32, ReadyReplicas: n32, AvailableReplicas: n32,
				ObservedGeneration: meta.Generation},
		}
		if err := g.put(rs); err != nil {
			return err
		}
		rsOwner := ownerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)
		used := map[string]bool{}
		for range n {
			pod := g.pod(w, tmpl, rs.Name+"-"+g.uniqueSuffix(used), rsOwner, podOpts{node: -1, phase: corev1.PodRunning, created: g.podCreated(created)})
			if err := g.put(pod); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *gen) emitStatefulSet(w *workload, replicas int) error {
	service := w.name + "-headless"
	hash := w.name + "-" + g.suffix(10)
	w.template.Spec.Containers[0].VolumeMounts = append(w.template.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
	r32 := int32(replicas)
	s := &appsv1.StatefulSet{
		TypeMeta:   typeMeta("apps/v1", "StatefulSet"),
		ObjectMeta: g.objectMeta(w, w.name, copyMap(w.tracked), w.created),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr(r32),
			Selector:    &metav1.LabelSelector{MatchLabels: selectorOf(w.template.Labels)},
			Template:    *w.template.DeepCopy(),
			ServiceName: service,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(pick(g, []string{"8Gi", "20Gi", "50Gi", "100Gi"}))}},
					StorageClassName: ptr("gp3"),
					VolumeMode:       ptr(corev1.PersistentVolumeFilesystem),
				},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
			}},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))}},
			RevisionHistoryLimit: ptr(int32(10)),
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType},
		},
	}
	s.Generation = 1 + int64(g.r.IntN(5))
	s.Status = appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: r32, ReadyReplicas: r32, CurrentReplicas: r32,
		UpdatedReplicas: r32, AvailableReplicas: r32, CurrentRevision: hash, UpdateRevision: hash, CollisionCount: ptr(int32(0))}
	if err := g.put(s); err != nil {
		return err
	}
	owner := ownerRef("apps/v1", "StatefulSet", s.Name, s.UID)
	for i := range replicas {
		name := s.Name + "-" + strconv.Itoa(i)
		pod := g.pod(w, &w.template, name, owner, podOpts{
			node: -1, phase: corev1.PodRunning, created: g.podCreated(w.created),
			labels: map[string]string{
				"controller-revision-hash":           hash,
				"statefulset.kubernetes.io/pod-name": name,
				"apps.kubernetes.io/pod-index":       strconv.Itoa(i),
			},
			volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-" + name}}}},
			hostname: name, subdomain: service,
		})
		if err := g.put(pod); err != nil {
			return err
		}
	}
	return nil
}

var schedules = []struct {
	spec  string
	every time.Duration
}{
	{"*/5 * * * *", 5 * time.Minute}, {"*/15 * * * *", 15 * time.Minute}, {"0 * * * *", time.Hour},
	{"0 */6 * * *", 6 * time.Hour}, {"0 2 * * *", 24 * time.Hour}, {"30 3 * * *", 24 * time.Hour},
}

func (g *gen) emitCronJob(w *workload, jobs int) error {
	sched := schedules[g.r.IntN(len(schedules))]
	last := snapshotTime.Add(-time.Second).Truncate(sched.every)
	running := g.pct(30)
	type jobPlan struct {
		name      string
		uid       types.UID
		scheduled time.Time
	}
	plans := make([]jobPlan, jobs)
	for k := range plans {
		at := last.Add(-time.Duration(jobs-1-k) * sched.every)
		plans[k] = jobPlan{name: w.name + "-" + strconv.FormatInt(at.Unix()/60, 10), uid: g.uid(), scheduled: at}
	}
	cj := &batchv1.CronJob{
		TypeMeta:   typeMeta("batch/v1", "CronJob"),
		ObjectMeta: g.objectMeta(w, w.name, copyMap(w.tracked), w.created),
		Spec: batchv1.CronJobSpec{
			Schedule:                   sched.spec,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr(false),
			SuccessfulJobsHistoryLimit: ptr(int32(3)),
			FailedJobsHistoryLimit:     ptr(int32(1)),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: ptr(int32(6)),
				Template:     *w.template.DeepCopy(),
			}},
		},
		Status: batchv1.CronJobStatus{LastScheduleTime: ptr(metav1.NewTime(last))},
	}
	cj.Generation = 1
	lastOK := last
	if running {
		p := plans[len(plans)-1]
		cj.Status.Active = []corev1.ObjectReference{{Kind: "Job", Namespace: w.ns.name, Name: p.name, UID: p.uid, APIVersion: "batch/v1"}}
		lastOK = last.Add(-sched.every)
	}
	cj.Status.LastSuccessfulTime = ptr(metav1.NewTime(lastOK.Add(47 * time.Second)))
	if err := g.put(cj); err != nil {
		return err
	}
	owner := ownerRef("batch/v1", "CronJob", cj.Name, cj.UID)
	for k, p := range plans {
		active := running && k == len(plans)-1
		jobLabels := map[string]string{
			"batch.kubernetes.io/controller-uid": string(p.uid), "batch.kubernetes.io/job-name": p.name,
			"controller-uid": string(p.uid), "job-name": p.name,
		}
		tmpl := w.template.DeepCopy()
		for k, v := range jobLabels {
			tmpl.Labels[k] = v
		}
		start := metav1.NewTime(p.scheduled.Add(time.Second))
		job := &batchv1.Job{
			TypeMeta: typeMeta("batch/v1", "Job"),
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: w.ns.name, UID: p.uid, ResourceVersion: g.rv(), Generation: 1,
				CreationTimestamp: metav1.NewTime(p.scheduled), Labels: copyMap(jobLabels),
				Annotations:     map[string]string{"batch.kubernetes.io/cronjob-scheduled-timestamp": p.scheduled.Format(time.RFC3339)},
				OwnerReferences: []metav1.OwnerReference{*owner.DeepCopy()}},
			Spec: batchv1.JobSpec{
				Parallelism: ptr(int32(1)), Completions: ptr(int32(1)), BackoffLimit: ptr(int32(6)),
				Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": string(p.uid)}},
				Template:             *tmpl.DeepCopy(),
				CompletionMode:       ptr(batchv1.NonIndexedCompletion),
				Suspend:              ptr(false),
				PodReplacementPolicy: ptr(batchv1.TerminatingOrFailed),
			},
			Status: batchv1.JobStatus{StartTime: &start, Ready: ptr(int32(0)), Terminating: ptr(int32(0)),
				UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{}},
		}
		phase := corev1.PodSucceeded
		if active {
			phase = corev1.PodRunning
			job.Status.Active, job.Status.Ready = 1, ptr(int32(1))
		} else {
			done := metav1.NewTime(p.scheduled.Add(47 * time.Second))
			job.Status.Succeeded, job.Status.CompletionTime = 1, &done
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: done, LastTransitionTime: done, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods"},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: done, LastTransitionTime: done, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods"},
			}
		}
		if err := g.put(job); err != nil {
			return err
		}
		pod := g.pod(w, tmpl, p.name+"-"+g.suffix(5), ownerRef("batch/v1", "Job", p.name, p.uid),
			podOpts{node: -1, phase: phase, created: p.scheduled.Add(time.Second)})
		if err := g.put(pod); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) emitDaemonSet(ns *nsPlan, d *daemonSpec, sa *saPlan) error {
	w := &workload{ns: ns, name: d.name, sa: sa, daemon: d, created: ns.created.Add(10 * time.Minute)}
	if ns.class == platformNS {
		w.helm = true
		w.created = ns.created.Add(time.Duration(1+g.r.IntN(60)) * time.Minute)
	}
	image := strings.ReplaceAll(d.image, "{region}", g.region)
	labels := map[string]string{"app.kubernetes.io/name": d.name, "app.kubernetes.io/instance": d.name, "k8s-app": d.name}
	w.tracked = copyMap(labels)
	c := corev1.Container{
		Name: d.name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("25m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
	if d.privileged {
		c.SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
	}
	spec := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr(int64(30)),
		DNSPolicy:                     corev1.DNSClusterFirst,
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 corev1.DefaultSchedulerName,
		ServiceAccountName:            sa.name,
		DeprecatedServiceAccount:      sa.name,
		HostNetwork:                   d.hostNetwork,
		PriorityClassName:             "system-node-critical",
		Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
	}
	if d.hostNetwork {
		spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	for i, p := range d.hostPaths {
		name := "host-" + strconv.Itoa(i)
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p, Type: ptr(corev1.HostPathType(""))}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/host" + p})
	}
	spec.Containers = []corev1.Container{c}
	w.template = corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}
	w.imageIDs = []string{image[:strings.LastIndexByte(image, ':')] + "@sha256:" + g.hex(64)}

	n := int32(len(g.nodes))
	hash := g.suffix(10)
	ds := &appsv1.DaemonSet{
		TypeMeta:   typeMeta("apps/v1", "DaemonSet"),
		ObjectMeta: g.objectMeta(w, d.name, copyMap(labels), w.created),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": d.name}},
			Template: *w.template.DeepCopy(),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: ptr(intstr.FromString("10%")), MaxSurge: ptr(intstr.FromInt32(0))}},
			RevisionHistoryLimit: ptr(int32(10)),
		},
	}
	ds.Generation = 1
	ds.Annotations = map[string]string{"deprecated.daemonset.template.generation": "1"}
	ds.Status = appsv1.DaemonSetStatus{CurrentNumberScheduled: n, DesiredNumberScheduled: n, NumberReady: n, NumberAvailable: n,
		UpdatedNumberScheduled: n, ObservedGeneration: 1}
	if err := g.put(ds); err != nil {
		return err
	}
	owner := ownerRef("apps/v1", "DaemonSet", ds.Name, ds.UID)
	used := map[string]bool{}
	for i := range g.nodes {
		pod := g.pod(w, &w.template, d.name+"-"+g.uniqueSuffix(used), owner, podOpts{
			node: i, phase: corev1.PodRunning, created: g.between(g.nodes[i].created.Add(5*time.Second), g.nodes[i].created.Add(time.Minute)),
			labels: map[string]string{"controller-revision-hash": hash, "pod-template-generation": "1"},
		})
		if err := g.put(pod); err != nil {
			return err
		}
	}
	return nil
}

// podCreated is when a Pod of a controller created at t was (re)created: mostly recently.
func (g *gen) podCreated(t time.Time) time.Time {
	return g.between(maxTime(t, snapshotTime.Add(-30*24*time.Hour)), snapshotTime.Add(-time.Hour))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

type podOpts struct {
	node                int // -1: any
	phase               corev1.PodPhase
	created             time.Time
	labels              map[string]string // added to the template's
	volumes             []corev1.Volume   // added before the injected ones
	hostname, subdomain string
}

// pod makes a Pod from a template as the API server, the scheduler, admission (ServiceAccount,
// IRSA and Istio webhooks) and the kubelet would leave it.
func (g *gen) pod(w *workload, tmpl *corev1.PodTemplateSpec, name string, owner metav1.OwnerReference, o podOpts) *corev1.Pod {
	spec := tmpl.Spec.DeepCopy()
	labels := copyMap(tmpl.Labels)
	for k, v := range o.labels {
		labels[k] = v
	}
	annotations := copyMap(tmpl.Annotations)
	node := o.node
	if node < 0 {
		node = g.r.IntN(len(g.nodes))
	}
	n := &g.nodes[node]
	spec.NodeName = n.name
	spec.ServiceAccountName, spec.DeprecatedServiceAccount = w.sa.name, w.sa.name
	spec.Hostname, spec.Subdomain = o.hostname, o.subdomain
	spec.Volumes = append(spec.Volumes, o.volumes...)
	spec.EnableServiceLinks = ptr(true)
	spec.PreemptionPolicy = ptr(corev1.PreemptLowerPriority)
	spec.Priority = ptr(int32(0))
	if w.daemon != nil {
		spec.Priority = ptr(int32(2000001000))
		spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{n.name}}}}}}}}
	} else {
		spec.Tolerations = append(spec.Tolerations,
			corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
			corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))})
	}
	imageIDs := w.imageIDs
	if w.ns.istio && !spec.HostNetwork {
		spec.Containers = append(spec.Containers, corev1.Container{
			Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2", ImagePullPolicy: corev1.PullIfNotPresent,
			Args:  []string{"proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning"},
			Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
				{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
				{Name: "SERVICE_ACCOUNT", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.serviceAccountName"}}},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "istio-envoy", MountPath: "/etc/istio/proxy"},
				{Name: "istio-token", MountPath: "/var/run/secrets/tokens"},
			},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1337)),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			TerminationMessagePath: corev1.TerminationMessagePathDefault, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		})
		spec.Volumes = append(spec.Volumes,
			corev1.Volume{Name: "istio-envoy", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
			corev1.Volume{Name: "istio-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr(int32(420)),
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "istio-ca", ExpirationSeconds: ptr(int64(43200)), Path: "istio-token"}}}}}})
		labels["security.istio.io/tlsMode"] = "istio"
		labels["service.istio.io/canonical-name"] = w.name
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations["sidecar.istio.io/status"] = `{"initContainers":null,"containers":["istio-proxy"],"volumes":["istio-envoy","istio-token"],"imagePullSecrets":null,"revision":"default"}`
		imageIDs = append(slices.Clip(imageIDs), g.istioImageID)
	}
	// The ServiceAccount admission plugin mounts a token unless the pod or its
	// ServiceAccount opts out.
	automount := true
	if spec.AutomountServiceAccountToken != nil {
		automount = *spec.AutomountServiceAccountToken
	} else if w.sa.automount != nil {
		automount = *w.sa.automount
	}
	if automount {
		vol := "kube-api-access-" + g.suffix(5)
		spec.Volumes = append(spec.Volumes, kubeAPIAccessVolume(vol))
		for i := range spec.Containers {
			spec.Containers[i].VolumeMounts = append(spec.Containers[i].VolumeMounts,
				corev1.VolumeMount{Name: vol, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"})
		}
	}
	// The EKS pod identity webhook injects IRSA whatever automount says.
	if w.sa.roleARN != "" {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr(int32(420)),
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: "sts.amazonaws.com", ExpirationSeconds: ptr(int64(86400)), Path: "token"}}}}}})
		for i := range spec.Containers {
			c := &spec.Containers[i]
			c.Env = append(c.Env,
				corev1.EnvVar{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"},
				corev1.EnvVar{Name: "AWS_DEFAULT_REGION", Value: g.region},
				corev1.EnvVar{Name: "AWS_REGION", Value: g.region},
				corev1.EnvVar{Name: "AWS_ROLE_ARN", Value: w.sa.roleARN},
				corev1.EnvVar{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "aws-iam-token", ReadOnly: true, MountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount"})
		}
	}
	ip := n.ip
	if !spec.HostNetwork {
		c := g.podIP
		g.podIP++
		ip = fmt.Sprintf("10.%d.%d.%d", 128+(c>>16)&0x3f, (c>>8)&0xff, c&0xff)
	}
	started := metav1.NewTime(o.created.Add(time.Duration(2+g.r.IntN(8)) * time.Second))
	ready := metav1.NewTime(started.Add(time.Duration(1+g.r.IntN(20)) * time.Second))
	running := o.phase == corev1.PodRunning
	status := corev1.PodStatus{
		Phase:     o.phase,
		HostIP:    n.ip,
		HostIPs:   []corev1.HostIP{{IP: n.ip}},
		PodIP:     ip,
		PodIPs:    []corev1.PodIP{{IP: ip}},
		StartTime: &started,
		QOSClass:  corev1.PodQOSBurstable,
	}
	readyStatus, reason := corev1.ConditionTrue, ""
	if !running {
		readyStatus, reason = corev1.ConditionFalse, "PodCompleted"
	}
	status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: readyStatus, LastTransitionTime: started},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(o.created), Reason: reason},
		{Type: corev1.PodReady, Status: readyStatus, LastTransitionTime: ready, Reason: reason},
		{Type: corev1.ContainersReady, Status: readyStatus, LastTransitionTime: ready, Reason: reason},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(o.created)},
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageIDs[min(i, len(imageIDs)-1)],
			ContainerID: "containerd://" + g.hex(64), Ready: running, Started: ptr(running)}
		if running {
			if g.pct(10) {
				cs.RestartCount = int32(1 + g.skewed(20))
			}
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: started}
		} else {
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: started,
				FinishedAt: metav1.NewTime(started.Add(40 * time.Second)), ContainerID: cs.ContainerID}
		}
		status.ContainerStatuses = append(status.ContainerStatuses, cs)
	}
	return &corev1.Pod{
		TypeMeta: typeMeta("v1", "Pod"),
		ObjectMeta: metav1.ObjectMeta{Name: name, GenerateName: generateName(name, o),
			Namespace: w.ns.name, UID: g.uid(), ResourceVersion: g.rv(), CreationTimestamp: metav1.NewTime(o.created),
			Labels: labels, Annotations: annotations, OwnerReferences: []metav1.OwnerReference{*owner.DeepCopy()}},
		Spec:   *spec,
		Status: status,
	}
}

// generateName is the prefix the controller asked for: all but the random suffix
// (StatefulSet pods have fixed names).
func generateName(name string, o podOpts) string {
	if o.hostname != "" {
		return ""
	}
	return name[:strings.LastIndexByte(name, '-')+1]
}

func kubeAPIAccessVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(420)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr(int64(3607)), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}

// ---- small helpers ----

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func ptr[T any](v T) *T { return &v }

// pick returns a random element of xs, or fallback[0] when xs is empty.
func pick[T any](g *gen, xs []T, fallback ...T) T {
	if len(xs) == 0 {
		return fallback[0]
	}
	return xs[g.r.IntN(len(xs))]
}

func (g *gen) pct(p int) bool { return g.r.IntN(100) < p }

// skewed returns an index in [0, n) biased towards 0 (P(i) falls linearly with i).
func (g *gen) skewed(n int) int { return min(g.r.IntN(n), g.r.IntN(n)) }

func (g *gen) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(g.r.Int64N(int64(b.Sub(a)/time.Second)+1)) * time.Second)
}

func (g *gen) rv() string {
	g.resourceVersion++
	return strconv.FormatUint(1_000_000+g.resourceVersion, 10)
}

const hexDigits = "0123456789abcdef"

func (g *gen) hex(n int) string {
	b := make([]byte, n)
	var x uint64
	for i := range b {
		if i%16 == 0 {
			x = g.r.Uint64()
		}
		b[i] = hexDigits[x&0xf]
		x >>= 4
	}
	return string(b)
}

func (g *gen) uid() types.UID {
	a, b := g.r.Uint64(), g.r.Uint64()
	a = a&^(0xf<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	return types.UID(fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff))
}

// nameAlphabet is the alphabet of generated name suffixes (k8s.io/apimachinery rand).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// uniqueSuffix returns a 5-character name suffix not in used, and adds it.
func (g *gen) uniqueSuffix(used map[string]bool) string {
	for {
		s := g.suffix(5)
		if !used[s] {
			used[s] = true
			return s
		}
	}
}

func (g *gen) suffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = nameAlphabet[g.r.IntN(len(nameAlphabet))]
	}
	return string(b)
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func selectorOf(labels map[string]string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": labels["app.kubernetes.io/name"], "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"]}
}

func ownerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
}

func serviceAccount(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacGroup, Name: name}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacGroup, Name: name}
}

// rl is a resource rule: comma-separated verbs, API groups ("" is the core group, so
// ",apps" is core and apps) and resources, and optional resource names.
func rl(verbs, groups, resources string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: strings.Split(verbs, ","), APIGroups: strings.Split(groups, ","),
		Resources: strings.Split(resources, ","), ResourceNames: names}
}

// nr is a non-resource rule.
func nr(verbs, urls string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: strings.Split(verbs, ","), NonResourceURLs: strings.Split(urls, ",")}
}

func events() rbacv1.PolicyRule { return rl("create,patch,update", ",events.k8s.io", "events") }

// ---- catalogs: what real clusters hold ----

// eksRegistry is where EKS add-on images come from.
const eksRegistry = "602401143452.dkr.ecr.{region}.amazonaws.com"

func systemCatalog(name string) *catalog {
	if name != "kube-system" {
		return nil
	}
	c := &catalog{
		name: name,
		sas: []string{"coredns", "aws-node", "kube-proxy", "ebs-csi-node-sa", "ebs-csi-controller-sa", "aws-load-balancer-controller",
			"metrics-server", "eks-vpc-resource-controller", "bootstrap-signer", "token-cleaner", "cloud-provider"},
		irsa: []string{"ebs-csi-controller-sa", "aws-load-balancer-controller"},
		apps: []appSpec{
			{name: "coredns", kind: deploymentKind, replicas: 2, sa: "coredns", image: eksRegistry + "/eks/coredns:v1.11.4-eksbuild.14", port: 53},
			{name: "aws-load-balancer-controller", kind: deploymentKind, replicas: 2, sa: "aws-load-balancer-controller", image: "public.ecr.aws/eks/aws-load-balancer-controller:v2.13.3", port: 9443},
			{name: "ebs-csi-controller", kind: deploymentKind, replicas: 2, sa: "ebs-csi-controller-sa", image: "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.45.0", port: 9808},
			{name: "metrics-server", kind: deploymentKind, replicas: 1, sa: "metrics-server", image: "registry.k8s.io/metrics-server/metrics-server:v0.7.2", port: 10250},
		},
	}
	for _, cr := range controllerRoles() {
		c.sas = append(c.sas, cr.name)
	}
	return c
}

// platformCatalogs are the add-on namespaces, in the order they are kept for small sizes.
var platformCatalogs = []*catalog{
	{name: "cert-manager", sas: []string{"cert-manager", "cert-manager-cainjector", "cert-manager-webhook"}, irsa: []string{"cert-manager"},
		apps: []appSpec{
			{name: "cert-manager", kind: deploymentKind, replicas: 2, sa: "cert-manager", image: "quay.io/jetstack/cert-manager-controller:v1.16.2", port: 9402},
			{name: "cert-manager-cainjector", kind: deploymentKind, replicas: 1, sa: "cert-manager-cainjector", image: "quay.io/jetstack/cert-manager-cainjector:v1.16.2", port: 9402},
			{name: "cert-manager-webhook", kind: deploymentKind, replicas: 1, sa: "cert-manager-webhook", image: "quay.io/jetstack/cert-manager-webhook:v1.16.2", port: 10250},
		}},
	{name: "monitoring", sas: []string{"kube-prometheus-stack-operator", "kube-prometheus-stack-prometheus", "kube-prometheus-stack-alertmanager",
		"kube-prometheus-stack-grafana", "kube-prometheus-stack-kube-state-metrics", "prometheus-node-exporter"},
		apps: []appSpec{
			{name: "kube-prometheus-stack-operator", kind: deploymentKind, replicas: 1, sa: "kube-prometheus-stack-operator", image: "quay.io/prometheus-operator/prometheus-operator:v0.79.2", port: 10250},
			{name: "prometheus-kube-prometheus-stack-prometheus", kind: statefulSetKind, replicas: 2, sa: "kube-prometheus-stack-prometheus", image: "quay.io/prometheus/prometheus:v3.1.0", port: 9090},
			{name: "alertmanager-kube-prometheus-stack-alertmanager", kind: statefulSetKind, replicas: 2, sa: "kube-prometheus-stack-alertmanager", image: "quay.io/prometheus/alertmanager:v0.28.0", port: 9093},
			{name: "kube-prometheus-stack-grafana", kind: deploymentKind, replicas: 1, sa: "kube-prometheus-stack-grafana", image: "docker.io/grafana/grafana:11.4.0", port: 3000},
			{name: "kube-prometheus-stack-kube-state-metrics", kind: deploymentKind, replicas: 1, sa: "kube-prometheus-stack-kube-state-metrics", image: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.14.0", port: 8080},
		}},
	{name: "argocd", sas: []string{"argocd-application-controller", "argocd-server", "argocd-repo-server", "argocd-applicationset-controller",
		"argocd-dex-server", "argocd-notifications-controller", "argocd-redis"},
		apps: []appSpec{
			{name: "argocd-application-controller", kind: statefulSetKind, replicas: 1, sa: "argocd-application-controller", image: "quay.io/argoproj/argocd:v2.13.3", port: 8082},
			{name: "argocd-server", kind: deploymentKind, replicas: 2, sa: "argocd-server", image: "quay.io/argoproj/argocd:v2.13.3", port: 8080},
			{name: "argocd-repo-server", kind: deploymentKind, replicas: 2, sa: "argocd-repo-server", image: "quay.io/argoproj/argocd:v2.13.3", port: 8081},
			{name: "argocd-applicationset-controller", kind: deploymentKind, replicas: 1, sa: "argocd-applicationset-controller", image: "quay.io/argoproj/argocd:v2.13.3", port: 7000},
			{name: "argocd-dex-server", kind: deploymentKind, replicas: 1, sa: "argocd-dex-server", image: "ghcr.io/dexidp/dex:v2.41.1", port: 5556},
			{name: "argocd-notifications-controller", kind: deploymentKind, replicas: 1, sa: "argocd-notifications-controller", image: "quay.io/argoproj/argocd:v2.13.3", port: 9001},
			{name: "argocd-redis", kind: deploymentKind, replicas: 1, sa: "argocd-redis", image: "public.ecr.aws/docker/library/redis:7.4.1-alpine", port: 6379},
		}},
	{name: "ingress-nginx", sas: []string{"ingress-nginx", "ingress-nginx-admission"},
		apps: []appSpec{{name: "ingress-nginx-controller", kind: deploymentKind, replicas: 3, sa: "ingress-nginx", image: "registry.k8s.io/ingress-nginx/controller:v1.12.0", port: 80}}},
	{name: "ci", sas: []string{"gitlab-runner"}, irsa: []string{"gitlab-runner"},
		apps: []appSpec{{name: "gitlab-runner", kind: deploymentKind, replicas: 2, sa: "gitlab-runner", image: "registry.gitlab.com/gitlab-org/gitlab-runner:alpine-v17.7.0", port: 9252}}},
	{name: "karpenter", sas: []string{"karpenter"}, irsa: []string{"karpenter"},
		apps: []appSpec{{name: "karpenter", kind: deploymentKind, replicas: 2, sa: "karpenter", image: "public.ecr.aws/karpenter/controller:1.1.1", port: 8080}}},
	{name: "external-secrets", sas: []string{"external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"}, irsa: []string{"external-secrets"},
		apps: []appSpec{
			{name: "external-secrets", kind: deploymentKind, replicas: 1, sa: "external-secrets", image: "oci.external-secrets.io/external-secrets/external-secrets:v0.12.1", port: 8080},
			{name: "external-secrets-webhook", kind: deploymentKind, replicas: 1, sa: "external-secrets-webhook", image: "oci.external-secrets.io/external-secrets/external-secrets:v0.12.1", port: 10250},
			{name: "external-secrets-cert-controller", kind: deploymentKind, replicas: 1, sa: "external-secrets-cert-controller", image: "oci.external-secrets.io/external-secrets/external-secrets:v0.12.1", port: 8080},
		}},
	{name: "logging", sas: []string{"fluent-bit"}, irsa: []string{"fluent-bit"}},
	{name: "kyverno", sas: []string{"kyverno-admission-controller", "kyverno-background-controller", "kyverno-cleanup-controller", "kyverno-reports-controller"},
		apps: []appSpec{
			{name: "kyverno-admission-controller", kind: deploymentKind, replicas: 3, sa: "kyverno-admission-controller", image: "ghcr.io/kyverno/kyverno:v1.13.2", port: 9443},
			{name: "kyverno-background-controller", kind: deploymentKind, replicas: 1, sa: "kyverno-background-controller", image: "ghcr.io/kyverno/background-controller:v1.13.2", port: 9443},
			{name: "kyverno-cleanup-controller", kind: deploymentKind, replicas: 1, sa: "kyverno-cleanup-controller", image: "ghcr.io/kyverno/cleanup-controller:v1.13.2", port: 9443},
			{name: "kyverno-reports-controller", kind: deploymentKind, replicas: 1, sa: "kyverno-reports-controller", image: "ghcr.io/kyverno/reports-controller:v1.13.2", port: 9443},
		}},
	{name: "external-dns", sas: []string{"external-dns"}, irsa: []string{"external-dns"},
		apps: []appSpec{{name: "external-dns", kind: deploymentKind, replicas: 1, sa: "external-dns", image: "registry.k8s.io/external-dns/external-dns:v0.15.1", port: 7979}}},
	{name: "velero", sas: []string{"velero-server"}, irsa: []string{"velero-server"},
		apps: []appSpec{{name: "velero", kind: deploymentKind, replicas: 1, sa: "velero-server", image: "docker.io/velero/velero:v1.15.1", port: 8085}}},
	{name: "istio-system", sas: []string{"istiod", "istio-ingressgateway-service-account", "istio-reader-service-account"},
		apps: []appSpec{
			{name: "istiod", kind: deploymentKind, replicas: 2, sa: "istiod", image: "docker.io/istio/pilot:1.24.2", port: 15010},
			{name: "istio-ingressgateway", kind: deploymentKind, replicas: 3, sa: "istio-ingressgateway-service-account", image: "docker.io/istio/proxyv2:1.24.2", port: 8080},
		}},
}

var daemonCatalog = []daemonSpec{
	{ns: "kube-system", name: "aws-node", sa: "aws-node", image: eksRegistry + "/amazon-k8s-cni:v1.19.2-eksbuild.1", hostNetwork: true, privileged: true,
		hostPaths: []string{"/opt/cni/bin", "/etc/cni/net.d", "/var/log/aws-routed-eni", "/var/run/aws-node", "/run/xtables.lock"}},
	{ns: "kube-system", name: "kube-proxy", sa: "kube-proxy", image: eksRegistry + "/eks/kube-proxy:v1.33.0-minimal-eksbuild.2", hostNetwork: true, privileged: true,
		hostPaths: []string{"/var/log", "/run/xtables.lock", "/lib/modules"}},
	{ns: "kube-system", name: "ebs-csi-node", sa: "ebs-csi-node-sa", image: "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.45.0", privileged: true,
		hostPaths: []string{"/var/lib/kubelet", "/var/lib/kubelet/plugins/ebs.csi.aws.com/", "/var/lib/kubelet/plugins_registry/", "/dev"}},
	{ns: "monitoring", name: "prometheus-node-exporter", sa: "prometheus-node-exporter", image: "quay.io/prometheus/node-exporter:v1.8.2", hostNetwork: true,
		hostPaths: []string{"/proc", "/sys", "/"}},
	{ns: "logging", name: "fluent-bit", sa: "fluent-bit", image: "cr.fluentbit.io/fluent/fluent-bit:3.2.4",
		hostPaths: []string{"/var/log", "/etc/machine-id"}},
}

var (
	teamNames = []string{"team-a", "team-b", "team-c", "team-d", "team-e", "team-f", "team-g", "team-h", "team-i", "team-j", "team-k", "team-l", "team-m",
		"team-n", "team-o", "team-p", "team-q", "team-r", "team-s", "team-t", "team-u", "team-v", "team-w", "team-x", "team-y", "team-z"}
	envNames    = []string{"prod", "prod", "prod", "staging", "staging", "dev", "dev", "qa", "sandbox", "perf", "uat"}
	domainNames = []string{"payments", "checkout", "ledger", "billing", "search", "catalog", "inventory", "orders", "shipping", "fraud",
		"identity", "auth", "notifications", "recommendations", "pricing", "analytics", "reporting", "ml-training", "feature-store",
		"data-pipeline", "etl", "warehouse", "crm", "support", "chat", "media", "images", "video", "uploads", "gateway", "edge", "web",
		"mobile-bff", "partner-api", "ads", "marketing", "loyalty", "subscriptions", "accounts", "profiles", "onboarding", "kyc", "risk",
		"compliance", "audit", "tax", "invoicing", "treasury", "wallet", "trading", "quotes", "market-data", "fulfillment", "logistics",
		"routing", "maps", "geo", "booking", "scheduling", "calendar", "email", "sms", "push", "events", "streaming", "batch", "reports",
		"docs", "cms", "forum", "rewards", "referrals", "experiments", "flags", "cart", "returns", "reviews", "assets", "translations"}
	deployComponents = []string{"api", "api", "api", "web", "worker", "worker", "consumer", "gateway", "frontend", "backend", "grpc",
		"graphql", "admin", "sync", "indexer", "processor", "notifier", "webhook", "scheduler", "reconciler", "exporter", "importer",
		"router", "auth", "bff", "search", "stream", "ingest", "renderer", "validator", "publisher", "listener"}
	cronComponents = []string{"cleanup", "backup", "report", "reindex", "sync", "export", "rotate-keys", "digest", "reconcile",
		"archive", "compact", "billing-run", "snapshot", "purge"}
	stateful = []struct {
		name, image string
		port        int32
	}{
		{"postgres", "docker.io/bitnami/postgresql:16.4.0-debian-12-r9", 5432},
		{"redis", "docker.io/bitnami/redis:7.4.1-debian-12-r0", 6379},
		{"kafka", "quay.io/strimzi/kafka:0.43.0-kafka-3.8.0", 9092},
		{"zookeeper", "docker.io/bitnami/zookeeper:3.9.2-debian-12-r14", 2181},
		{"elasticsearch", "docker.elastic.co/elasticsearch/elasticsearch:8.15.3", 9200},
		{"rabbitmq", "docker.io/bitnami/rabbitmq:3.13.7-debian-12-r5", 5672},
		{"mongodb", "docker.io/bitnami/mongodb:7.0.14-debian-12-r3", 27017},
		{"etcd", "quay.io/coreos/etcd:v3.5.16", 2379},
		{"clickhouse", "docker.io/clickhouse/clickhouse-server:24.8.4", 8123},
		{"nats", "docker.io/library/nats:2.10.22-alpine", 4222},
		{"minio", "quay.io/minio/minio:RELEASE.2024-10-13T13-34-11Z", 9000},
	}
	nonAppServiceAccounts = []string{"ci-deployer", "$d-migrations", "backup", "$d-reader", "e2e-tests", "debug", "$d-operator",
		"vault-auth", "image-puller", "$d-admin", "github-actions", "jenkins", "flyway", "$d-batch"}
	namespacedRoleNames = []string{"pod-reader", "secret-reader", "config-editor", "deployer", "ci-deployer", "developer",
		"debugger", "job-runner", "namespace-admin", "readonly", "oncall", "monitoring", "leader-election", "port-forward", "log-reader"}
	toolingClusterRoles = []string{"namespace-admin", "pod-exec", "debug-access", "ci-deployer", "node-reader", "pv-manager",
		"metrics-reader", "crd-viewer", "secrets-reader", "read-only", "cluster-viewer", "auditor", "oncall-sre", "break-glass",
		"webhook-admin", "csr-approver", "impersonator", "token-minter", "backup-operator", "log-collector", "cost-analyzer",
		"policy-reporter", "security-scanner", "dashboard-viewer", "helm-deployer", "terraform", "spinnaker", "rancher-agent"}
	firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
		"olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "amir", "bea", "chen", "dmitri",
		"elena", "farah", "gustavo", "hana", "ines", "jonas", "kenji", "lena", "marta", "noor", "omar", "priya", "quentin", "rosa", "sven"}
	lastNames = []string{"smith", "jones", "garcia", "miller", "davis", "martin", "lopez", "wilson", "anderson", "thomas",
		"moore", "jackson", "white", "harris", "clark", "lewis", "young", "walker", "hall", "allen", "king", "wright", "scott",
		"green", "baker", "adams", "nelson", "hill", "campbell", "mitchell", "roberts", "carter", "phillips", "evans", "turner",
		"torres", "parker", "collins", "edwards", "stewart"}
	operators = []struct{ name, group, resources string }{
		{"strimzi-cluster-operator", "kafka.strimzi.io", "kafkas,kafkatopics,kafkausers,kafkaconnects"},
		{"postgres-operator", "acid.zalan.do", "postgresqls,operatorconfigurations"},
		{"cnpg-manager", "postgresql.cnpg.io", "clusters,backups,scheduledbackups,poolers"},
		{"elastic-operator", "elasticsearch.k8s.elastic.co", "elasticsearches"},
		{"rabbitmq-cluster-operator", "rabbitmq.com", "rabbitmqclusters"},
		{"keda-operator", "keda.sh", "scaledobjects,scaledjobs,triggerauthentications"},
		{"sealed-secrets-controller", "bitnami.com", "sealedsecrets"},
		{"vault-secrets-operator", "secrets.hashicorp.com", "vaultstaticsecrets,vaultdynamicsecrets,vaultauths"},
		{"flux-kustomize-controller", "kustomize.toolkit.fluxcd.io", "kustomizations"},
		{"flux-source-controller", "source.toolkit.fluxcd.io", "gitrepositories,helmrepositories,ocirepositories"},
		{"crossplane", "pkg.crossplane.io", "providers,configurations,functions"},
		{"jaeger-operator", "jaegertracing.io", "jaegers"},
		{"opentelemetry-operator", "opentelemetry.io", "opentelemetrycollectors,instrumentations"},
		{"spark-operator", "sparkoperator.k8s.io", "sparkapplications,scheduledsparkapplications"},
		{"tekton-pipelines-controller", "tekton.dev", "pipelines,pipelineruns,tasks,taskruns"},
		{"trivy-operator", "aquasecurity.github.io", "vulnerabilityreports,configauditreports,exposedsecretreports"},
		{"mongodb-operator", "mongodbcommunity.mongodb.com", "mongodbcommunity"},
		{"redis-operator", "databases.spotahome.com", "redisfailovers"},
		{"datadog-operator", "datadoghq.com", "datadogagents,datadogmonitors"},
		{"argo-rollouts", "argoproj.io", "rollouts,analysisruns,analysistemplates,experiments"},
		{"argo-workflows", "argoproj.io", "workflows,workflowtemplates,cronworkflows"},
		{"kafka-ui", "kafka.strimzi.io", "kafkatopics"},
	}
)

// ruleTemplate is a rule of a role, picked with a weight.
type ruleTemplate struct {
	weight                          int
	verbs, groups, resources, names string
	urls                            string // a non-resource rule when set
}

// roleRulePool are rules found in namespaced Roles.
var roleRulePool = []ruleTemplate{
	{weight: 10, verbs: "get,list,watch", resources: "pods"},
	{weight: 6, verbs: "get,list,watch", resources: "pods,pods/log"},
	{weight: 6, verbs: "get,list,watch", resources: "configmaps"},
	{weight: 4, verbs: "get,list,watch,create,update,patch,delete", resources: "configmaps"},
	{weight: 4, verbs: "get", resources: "secrets", names: "$app-credentials,$app-tls"},
	{weight: 3, verbs: "get,list,watch", resources: "secrets"},
	{weight: 5, verbs: "get,list,watch", resources: "services,endpoints"},
	{weight: 4, verbs: "get,update,patch", groups: "coordination.k8s.io", resources: "leases", names: "$app-leader"},
	{weight: 4, verbs: "create", groups: "coordination.k8s.io", resources: "leases"},
	{weight: 3, verbs: "create,patch", groups: ",events.k8s.io", resources: "events"},
	{weight: 4, verbs: "get,list,watch,create,update,patch,delete", groups: "apps", resources: "deployments,replicasets,statefulsets"},
	{weight: 3, verbs: "get,update,patch", groups: "apps", resources: "*/scale"},
	{weight: 2, verbs: "create", resources: "pods/exec,pods/attach"},
	{weight: 2, verbs: "get,create", resources: "pods/portforward"},
	{weight: 2, verbs: "get", resources: "pods/log"},
	{weight: 2, verbs: "delete", resources: "pods"},
	{weight: 1, verbs: "create", resources: "pods/eviction"},
	{weight: 3, verbs: "*", groups: "batch", resources: "jobs,cronjobs"},
	{weight: 2, verbs: "*", resources: "*"},
	{weight: 1, verbs: "*", groups: "*", resources: "*"},
	{weight: 2, verbs: "get,list,watch", groups: "*", resources: "*"},
	{weight: 3, verbs: "get,list,watch,create,update,patch,delete", groups: "networking.k8s.io", resources: "ingresses,networkpolicies"},
	{weight: 2, verbs: "get,list,watch,update,patch", groups: "autoscaling", resources: "horizontalpodautoscalers"},
	{weight: 2, verbs: "get,list,watch", groups: "policy", resources: "poddisruptionbudgets"},
	{weight: 2, verbs: "get,list,watch,create,update,patch,delete", groups: "monitoring.coreos.com", resources: "servicemonitors,podmonitors,prometheusrules"},
	{weight: 2, verbs: "get,list,watch", groups: "argoproj.io", resources: "applications,appprojects,rollouts"},
	{weight: 2, verbs: "get,list,watch,create,update,patch", groups: "cert-manager.io", resources: "certificates,certificaterequests,issuers"},
	{weight: 2, verbs: "get,list,watch,create,update,patch,delete", resources: "persistentvolumeclaims"},
	{weight: 1, verbs: "create", resources: "serviceaccounts/token"},
	{weight: 1, verbs: "impersonate", resources: "serviceaccounts"},
	{weight: 1, verbs: "create,update,patch", resources: "secrets"},
	{weight: 1, verbs: "get,list,create,update,patch", groups: "rbac.authorization.k8s.io", resources: "rolebindings"},
	{weight: 1, verbs: "bind,escalate", groups: "rbac.authorization.k8s.io", resources: "roles"},
	{weight: 1, verbs: "update,patch", resources: "pods/ephemeralcontainers"},
	{weight: 1, verbs: "update,patch", resources: "pods,pods/status"},
	{weight: 1, verbs: "get", resources: "services/proxy,pods/proxy"},
	{weight: 2, verbs: "get,list,watch", groups: "batch", resources: "jobs"},
	{weight: 2, verbs: "get,list,watch", resources: "serviceaccounts"},
	{weight: 2, verbs: "get,update,patch", resources: "configmaps", names: "$app-config"},
	{weight: 1, verbs: "get,list,watch,create,update,patch,delete,deletecollection", resources: "secrets,configmaps"},
	{weight: 1, verbs: "get,list,watch", groups: "external-secrets.io", resources: "externalsecrets,secretstores"},
	{weight: 1, verbs: "get,list,watch,create,update,patch", groups: "keda.sh", resources: "scaledobjects"},
}

// clusterRulePool are rules found in custom ClusterRoles: the namespaced ones and more.
var clusterRulePool = append(slices.Clip(roleRulePool),
	ruleTemplate{weight: 6, verbs: "get,list,watch", resources: "nodes"},
	ruleTemplate{weight: 6, verbs: "get,list,watch", resources: "namespaces"},
	ruleTemplate{weight: 3, verbs: "get", resources: "nodes/metrics,nodes/stats"},
	ruleTemplate{weight: 1, verbs: "get", resources: "nodes/proxy"},
	ruleTemplate{weight: 2, verbs: "get,list,watch,create,delete", resources: "persistentvolumes"},
	ruleTemplate{weight: 3, verbs: "get,list,watch", groups: "storage.k8s.io", resources: "storageclasses,volumeattachments,csinodes"},
	ruleTemplate{weight: 4, verbs: "get,list,watch", groups: "apiextensions.k8s.io", resources: "customresourcedefinitions"},
	ruleTemplate{weight: 4, verbs: "get", urls: "/metrics"},
	ruleTemplate{weight: 2, verbs: "get", urls: "/metrics,/metrics/cadvisor"},
	ruleTemplate{weight: 2, verbs: "get", urls: "/healthz,/readyz,/livez"},
	ruleTemplate{weight: 1, verbs: "get", urls: "/debug/*"},
	ruleTemplate{weight: 1, verbs: "*", urls: "*"},
	ruleTemplate{weight: 2, verbs: "create", groups: "authentication.k8s.io", resources: "tokenreviews"},
	ruleTemplate{weight: 2, verbs: "create", groups: "authorization.k8s.io", resources: "subjectaccessreviews"},
	ruleTemplate{weight: 1, verbs: "get,list,watch,create,update,patch,delete", groups: "admissionregistration.k8s.io", resources: "validatingwebhookconfigurations,mutatingwebhookconfigurations"},
	ruleTemplate{weight: 1, verbs: "update", groups: "certificates.k8s.io", resources: "certificatesigningrequests/approval"},
	ruleTemplate{weight: 1, verbs: "approve", groups: "certificates.k8s.io", resources: "signers", names: "kubernetes.io/kube-apiserver-client"},
	ruleTemplate{weight: 1, verbs: "impersonate", resources: "users,groups"},
	ruleTemplate{weight: 1, verbs: "update,patch", resources: "namespaces"},
	ruleTemplate{weight: 3, verbs: "get,list,watch", resources: "events"},
	ruleTemplate{weight: 2, verbs: "list,watch", groups: "*", resources: "*"},
	ruleTemplate{weight: 1, verbs: "update,patch", resources: "configmaps", names: "aws-auth"},
)

type controllerRole struct {
	name  string
	rules []rbacv1.PolicyRule
}

// controllerRoles are the system:controller:* ClusterRoles; each controller runs as the
// kube-system ServiceAccount of the same name.
func controllerRoles() []controllerRole {
	return []controllerRole{
		{"attachdetach-controller", []rbacv1.PolicyRule{rl("list,watch", "", "persistentvolumes,persistentvolumeclaims"), rl("get,list,watch", "", "nodes"),
			rl("patch,update", "", "nodes/status"), rl("list,watch", "", "pods"), rl("create,delete,get,list,watch", "storage.k8s.io", "volumeattachments"),
			rl("get,list,watch", "storage.k8s.io", "csidrivers,csinodes"), events()}},
		{"certificate-controller", []rbacv1.PolicyRule{rl("delete,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"),
			rl("update", "certificates.k8s.io", "certificatesigningrequests/approval,certificatesigningrequests/status"),
			rl("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/legacy-unknown"),
			rl("sign", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"),
			rl("create", "authorization.k8s.io", "subjectaccessreviews"), events()}},
		{"clusterrole-aggregation-controller", []rbacv1.PolicyRule{rl("escalate,get,list,patch,update,watch", rbacGroup, "clusterroles")}},
		{"cronjob-controller", []rbacv1.PolicyRule{rl("get,list,update,watch", "batch", "cronjobs"), rl("create,delete,get,list,patch,update,watch", "batch", "jobs"),
			rl("update", "batch", "cronjobs/status"), rl("update", "batch", "cronjobs/finalizers"), rl("delete,list", "", "pods"), events()}},
		{"daemon-set-controller", []rbacv1.PolicyRule{rl("get,list,watch", "apps,extensions", "daemonsets"), rl("update", "apps,extensions", "daemonsets/status"),
			rl("update", "apps,extensions", "daemonsets/finalizers"), rl("list,watch", "", "nodes"), rl("create,delete,list,patch,watch", "", "pods"),
			rl("create", "", "pods/binding"), rl("create,delete,get,list,patch,update,watch", "apps", "controllerrevisions"), events()}},
		{"deployment-controller", []rbacv1.PolicyRule{rl("get,list,update,watch", "apps,extensions", "deployments"), rl("update", "apps,extensions", "deployments/status"),
			rl("update", "apps,extensions", "deployments/finalizers"), rl("create,delete,get,list,patch,update,watch", "apps,extensions", "replicasets"),
			rl("get,list,update,watch", "", "pods"), events()}},
		{"disruption-controller", []rbacv1.PolicyRule{rl("get,list,watch", "apps,extensions", "deployments"), rl("get,list,watch", "apps,extensions", "replicasets"),
			rl("get,list,watch", "", "replicationcontrollers"), rl("get,list,watch", "policy", "poddisruptionbudgets"), rl("get,list,watch", "apps", "statefulsets"),
			rl("update", "policy", "poddisruptionbudgets/status"), rl("get", "*", "*/scale"), rl("patch,update", "", "pods/status"), events()}},
		{"endpoint-controller", []rbacv1.PolicyRule{rl("get,list,watch", "", "services,pods"), rl("create,delete,get,list,update", "", "endpoints"),
			rl("create", "", "endpoints/restricted"), events()}},
		{"endpointslice-controller", []rbacv1.PolicyRule{rl("get,list,watch", "", "services,pods,nodes"), rl("update", "", "services/finalizers"),
			rl("create,delete,get,list,update", "discovery.k8s.io", "endpointslices"), events()}},
		{"endpointslicemirroring-controller", []rbacv1.PolicyRule{rl("get,list,watch", "", "services,endpoints"), rl("update", "", "services/finalizers,endpoints/finalizers"),
			rl("create,delete,get,list,update", "discovery.k8s.io", "endpointslices"), events()}},
		{"ephemeral-volume-controller", []rbacv1.PolicyRule{rl("get,list,watch", "", "pods"), rl("update", "", "pods/finalizers"),
			rl("create,get,list,watch", "", "persistentvolumeclaims"), events()}},
		{"expand-controller", []rbacv1.PolicyRule{rl("get,list,patch,update,watch", "", "persistentvolumes"), rl("patch,update", "", "persistentvolumeclaims/status"),
			rl("get,list,watch", "", "persistentvolumeclaims"), rl("get,list,watch", "storage.k8s.io", "storageclasses"), rl("get", "", "endpoints,services"),
			rl("get", "", "secrets"), events()}},
		{"generic-garbage-collector", []rbacv1.PolicyRule{rl("delete,get,list,patch,update,watch", "*", "*")}},
		{"horizontal-pod-autoscaler", []rbacv1.PolicyRule{rl("get,list,watch", "autoscaling", "horizontalpodautoscalers"),
			rl("update", "autoscaling", "horizontalpodautoscalers/status"), rl("get,update", "*", "*/scale"), rl("list", "", "pods"),
			rl("list", "metrics.k8s.io", "pods"), rl("get,list", "custom.metrics.k8s.io", "*"), rl("get,list", "external.metrics.k8s.io", "*"), events()}},
		{"job-controller", []rbacv1.PolicyRule{rl("get,list,update,watch", "batch", "jobs"), rl("update", "batch", "jobs/status"), rl("update", "batch", "jobs/finalizers"),
			rl("create,delete,list,patch,watch", "", "pods"), events()}},
		{"legacy-service-account-token-cleaner", []rbacv1.PolicyRule{rl("get", "", "configmaps", "kube-apiserver-legacy-service-account-token-tracking"),
			rl("delete,patch", "", "secrets")}},
		{"namespace-controller", []rbacv1.PolicyRule{rl("delete,get,list,watch", "", "namespaces"), rl("update", "", "namespaces/finalize,namespaces/status"),
			rl("delete,deletecollection,get,list", "*", "*")}},
		{"node-controller", []rbacv1.PolicyRule{rl("delete,get,list,patch,update", "", "nodes"), rl("patch,update", "", "nodes/status"),
			rl("patch,update", "", "pods/status"), rl("delete,list", "", "pods"), events()}},
		{"persistent-volume-binder", []rbacv1.PolicyRule{rl("create,delete,get,list,update,watch", "", "persistentvolumes"), rl("update", "", "persistentvolumes/status"),
			rl("get,list,update,watch", "", "persistentvolumeclaims"), rl("update", "", "persistentvolumeclaims/status"), rl("create,delete,get,list,watch", "", "pods"),
			rl("get,list,watch", "storage.k8s.io", "storageclasses"), rl("create,delete,get", "", "endpoints,services"), rl("get", "", "secrets"),
			rl("list,watch", "", "nodes"), events()}},
		{"pod-garbage-collector", []rbacv1.PolicyRule{rl("delete,list,watch", "", "pods"), rl("get,list", "", "nodes"), rl("patch", "", "pods/status")}},
		{"pv-protection-controller", []rbacv1.PolicyRule{rl("get,list,update,watch", "", "persistentvolumes"), events()}},
		{"pvc-protection-controller", []rbacv1.PolicyRule{rl("get,list,update,watch", "", "persistentvolumeclaims"), rl("get,list,watch", "", "pods"), events()}},
		{"replicaset-controller", []rbacv1.PolicyRule{rl("get,list,update,watch", "apps,extensions", "replicasets"), rl("update", "apps,extensions", "replicasets/status"),
			rl("update", "apps,extensions", "replicasets/finalizers"), rl("create,delete,list,patch,watch", "", "pods"), events()}},
		{"replication-controller", []rbacv1.PolicyRule{rl("get,list,update,watch", "", "replicationcontrollers"), rl("update", "", "replicationcontrollers/status"),
			rl("update", "", "replicationcontrollers/finalizers"), rl("create,delete,list,patch,watch", "", "pods"), events()}},
		{"resourcequota-controller", []rbacv1.PolicyRule{rl("list,watch", "*", "*"), rl("update", "", "resourcequotas/status"), events()}},
		{"root-ca-cert-publisher", []rbacv1.PolicyRule{rl("create,update", "", "configmaps"), events()}},
		{"service-account-controller", []rbacv1.PolicyRule{rl("create", "", "serviceaccounts"), events()}},
		{"service-controller", []rbacv1.PolicyRule{rl("get,list,watch", "", "services"), rl("patch,update", "", "services/status"), rl("list,watch", "", "nodes"), events()}},
		{"statefulset-controller", []rbacv1.PolicyRule{rl("list,watch", "", "pods"), rl("get,list,watch", "apps", "statefulsets"), rl("update", "apps", "statefulsets/status"),
			rl("update", "apps", "statefulsets/finalizers"), rl("create,delete,get,patch,update", "", "pods"),
			rl("create,delete,get,list,patch,update,watch", "apps", "controllerrevisions"), rl("create,get", "", "persistentvolumeclaims"),
			rl("update,delete", "", "persistentvolumeclaims"), events()}},
		{"ttl-after-finished-controller", []rbacv1.PolicyRule{rl("delete,get,list,watch", "batch", "jobs"), events()}},
		{"ttl-controller", []rbacv1.PolicyRule{rl("list,patch,update,watch", "", "nodes"), events()}},
	}
}

func aggregationLabels(to ...string) map[string]string {
	m := map[string]string{}
	for _, t := range to {
		m["rbac.authorization.k8s.io/aggregate-to-"+t] = "true"
	}
	return m
}

func aggregationRule(labelKey string) *rbacv1.AggregationRule {
	return &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{labelKey: "true"}}}}
}

// builtinClusterRoles returns the ClusterRoles every cluster of this kind has, most
// important first: bootstrap roles, the add-ons of the namespaces that exist, EKS.
func (g *gen) builtinClusterRoles() []*rbacv1.ClusterRole {
	var out []*rbacv1.ClusterRole
	add := func(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
		out = append(out, cr)
		return cr
	}
	boot := func(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		if labels == nil {
			labels = map[string]string{}
		}
		labels["kubernetes.io/bootstrapping"] = "rbac-defaults"
		cr := add(name, labels, rules...)
		cr.Annotations = map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}
		return cr
	}
	helm := func(ns, name string, labels map[string]string, rules ...rbacv1.PolicyRule) {
		if g.nsIndex(ns) < 0 {
			return
		}
		if labels == nil {
			labels = map[string]string{}
		}
		labels["app.kubernetes.io/managed-by"] = "Helm"
		cr := add(name, labels, rules...)
		cr.Annotations = map[string]string{"meta.helm.sh/release-name": ns, "meta.helm.sh/release-namespace": ns}
	}
	const (
		read  = "get,list,watch"
		write = "create,delete,deletecollection,patch,update"
		all   = "create,delete,deletecollection,get,list,patch,update,watch"
	)

	boot("cluster-admin", nil, rl("*", "*", "*"), nr("*", "*"))
	boot("admin", nil).AggregationRule = aggregationRule("rbac.authorization.k8s.io/aggregate-to-admin")
	boot("edit", aggregationLabels("admin")).AggregationRule = aggregationRule("rbac.authorization.k8s.io/aggregate-to-edit")
	boot("view", aggregationLabels("edit")).AggregationRule = aggregationRule("rbac.authorization.k8s.io/aggregate-to-view")
	boot("system:aggregate-to-admin", aggregationLabels("admin"),
		rl(all, rbacGroup, "rolebindings,roles"), rl("create", "authorization.k8s.io", "localsubjectaccessreviews"))
	boot("system:aggregate-to-edit", aggregationLabels("edit"),
		rl(read, "", "pods/attach,pods/exec,pods/portforward,pods/proxy,secrets,services/proxy"),
		rl("impersonate", "", "serviceaccounts"),
		rl(write, "", "pods,pods/attach,pods/exec,pods/portforward,pods/proxy"),
		rl("create", "", "pods/eviction"),
		rl(write, "", "configmaps,events,persistentvolumeclaims,replicationcontrollers,replicationcontrollers/scale,secrets,serviceaccounts,services,services/proxy"),
		rl("create", "", "serviceaccounts/token"),
		rl(write, "apps", "daemonsets,deployments,deployments/rollback,deployments/scale,replicasets,replicasets/scale,statefulsets,statefulsets/scale"),
		rl(write, "autoscaling", "horizontalpodautoscalers"),
		rl(write, "batch", "cronjobs,jobs"),
		rl(write, "extensions", "daemonsets,deployments,deployments/rollback,deployments/scale,ingresses,networkpolicies,replicasets,replicasets/scale,replicationcontrollers/scale"),
		rl(write, "policy", "poddisruptionbudgets"),
		rl(write, "networking.k8s.io", "ingresses,networkpolicies"),
		rl(write, "coordination.k8s.io", "leases"))
	boot("system:aggregate-to-view", aggregationLabels("view"),
		rl(read, "", "configmaps,endpoints,persistentvolumeclaims,persistentvolumeclaims/status,pods,replicationcontrollers,replicationcontrollers/scale,serviceaccounts,services,services/status"),
		rl(read, "", "bindings,events,limitranges,namespaces/status,pods/log,pods/status,replicationcontrollers/status,resourcequotas,resourcequotas/status"),
		rl(read, "", "namespaces"),
		rl(read, "discovery.k8s.io", "endpointslices"),
		rl(read, "apps", "controllerrevisions,daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,replicasets,replicasets/scale,replicasets/status,statefulsets,statefulsets/scale,statefulsets/status"),
		rl(read, "autoscaling", "horizontalpodautoscalers,horizontalpodautoscalers/status"),
		rl(read, "batch", "cronjobs,cronjobs/status,jobs,jobs/status"),
		rl(read, "extensions", "daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,ingresses,ingresses/status,networkpolicies,replicasets,replicasets/scale,replicasets/status,replicationcontrollers/scale"),
		rl(read, "policy", "poddisruptionbudgets,poddisruptionbudgets/status"),
		rl(read, "networking.k8s.io", "ingresses,ingresses/status,networkpolicies"),
		rl(read, "coordination.k8s.io", "leases"))
	boot("system:basic-user", nil, rl("create", "authorization.k8s.io", "selfsubjectaccessreviews,selfsubjectrulesreviews"),
		rl("create", "authentication.k8s.io", "selfsubjectreviews"))
	boot("system:discovery", nil, nr("get", "/api,/api/*,/apis,/apis/*,/healthz,/livez,/openapi,/openapi/*,/readyz,/version,/version/"))
	boot("system:public-info-viewer", nil, nr("get", "/healthz,/livez,/readyz,/version,/version/"))

	// Platform add-ons.
	helm("cert-manager", "cert-manager-controller-issuers", nil, rl("update,patch", "cert-manager.io", "issuers,issuers/status"),
		rl(read, "cert-manager.io", "issuers"), rl("get,list,watch,create,update,delete", "", "secrets"), events())
	helm("cert-manager", "cert-manager-controller-certificates", nil,
		rl("update,patch", "cert-manager.io", "certificates,certificates/status,certificaterequests,certificaterequests/status"),
		rl(read, "cert-manager.io", "certificates,certificaterequests,clusterissuers,issuers"),
		rl("create,delete", "cert-manager.io", "certificaterequests"), rl("get,list,watch,create,update,delete,patch", "", "secrets"), events())
	helm("cert-manager", "cert-manager-controller-challenges", nil, rl("update,patch", "acme.cert-manager.io", "challenges,challenges/status"),
		rl(read, "acme.cert-manager.io", "challenges"), rl("get,list,watch,create,delete", "", "pods,services"),
		rl("get,list,watch,create,delete,update", "networking.k8s.io", "ingresses"), rl("get,list,watch", "", "secrets"), events())
	helm("cert-manager", "cert-manager-view", aggregationLabels("view", "edit", "admin", "cluster-reader"),
		rl(read, "cert-manager.io", "certificates,certificaterequests,issuers"), rl(read, "acme.cert-manager.io", "challenges,orders"))
	helm("cert-manager", "cert-manager-edit", aggregationLabels("edit", "admin"),
		rl("create,delete,deletecollection,patch,update", "cert-manager.io", "certificates,certificaterequests,issuers"),
		rl("update", "cert-manager.io", "certificates/status"), rl("create,delete,deletecollection,patch,update", "acme.cert-manager.io", "challenges,orders"))
	helm("cert-manager", "cert-manager-cainjector", nil, rl(read, "cert-manager.io", "certificates"), rl(read, "", "secrets"),
		rl("get,list,watch,update,patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations,mutatingwebhookconfigurations"),
		rl("get,list,watch,update,patch", "apiextensions.k8s.io", "customresourcedefinitions"), events())
	helm("cert-manager", "cert-manager-controller-approve:cert-manager-io", nil,
		rl("approve", "cert-manager.io", "signers", "issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"))
	helm("monitoring", "kube-prometheus-stack-operator", nil, rl("*", "monitoring.coreos.com", "*"), rl("*", "apps", "statefulsets"),
		rl("*", "", "configmaps,secrets"), rl("list,delete", "", "pods"), rl("get,create,update,delete", "", "services,services/finalizers,endpoints"),
		rl("list,watch", "", "nodes"), rl("get,list,watch", "", "namespaces"), rl("get,list,watch", "networking.k8s.io", "ingresses"), events())
	helm("monitoring", "kube-prometheus-stack-prometheus", nil, rl(read, "", "nodes,nodes/metrics,services,endpoints,pods"),
		rl(read, "discovery.k8s.io", "endpointslices"), rl(read, "networking.k8s.io", "ingresses"), nr("get", "/metrics,/metrics/cadvisor"))
	helm("monitoring", "kube-prometheus-stack-kube-state-metrics", nil,
		rl("list,watch", "", "configmaps,secrets,nodes,pods,services,serviceaccounts,resourcequotas,replicationcontrollers,limitranges,persistentvolumeclaims,persistentvolumes,namespaces,endpoints"),
		rl("list,watch", "apps", "statefulsets,daemonsets,deployments,replicasets"), rl("list,watch", "batch", "cronjobs,jobs"),
		rl("list,watch", "autoscaling", "horizontalpodautoscalers"), rl("list,watch", "policy", "poddisruptionbudgets"),
		rl("list,watch", "certificates.k8s.io", "certificatesigningrequests"), rl("list,watch", "storage.k8s.io", "storageclasses,volumeattachments"),
		rl("list,watch", "networking.k8s.io", "networkpolicies,ingresses"), rl("list,watch", "coordination.k8s.io", "leases"),
		rl("list,watch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations,validatingwebhookconfigurations"))
	helm("monitoring", "kube-prometheus-stack-grafana-clusterrole", nil, rl("get,watch,list", "", "configmaps,secrets"))
	helm("argocd", "argocd-application-controller", nil, rl("*", "*", "*"), nr("*", "*"))
	helm("argocd", "argocd-server", nil, rl("delete,get,patch", "*", "*"), rl("list", "", "events"), rl("get", "", "pods,pods/log"),
		rl("create,get", "argoproj.io", "applications,applicationsets"), rl("create", "", "pods/exec"))
	helm("argocd", "argocd-applicationset-controller", nil, rl("create,delete,get,list,patch,update,watch", "argoproj.io", "applications,applicationsets,applicationsets/finalizers"),
		rl("get,list,watch", "", "secrets,configmaps"), events())
	helm("ingress-nginx", "ingress-nginx", nil, rl("list,watch", "", "configmaps,endpoints,nodes,pods,secrets,namespaces"), rl("get", "", "nodes"),
		rl(read, "", "services"), rl(read, "networking.k8s.io", "ingresses,ingressclasses"), rl("update", "networking.k8s.io", "ingresses/status"),
		rl("list,watch,get", "discovery.k8s.io", "endpointslices"), rl("list,watch,get", "coordination.k8s.io", "leases"), rl("create,patch", "", "events"))
	helm("ingress-nginx", "ingress-nginx-admission", nil, rl("get,update", "admissionregistration.k8s.io", "validatingwebhookconfigurations"))
	helm("karpenter", "karpenter-core", nil, rl(read, "karpenter.sh", "nodepools,nodepools/status,nodeclaims,nodeclaims/status"),
		rl(read, "", "pods,nodes,persistentvolumes,persistentvolumeclaims,replicationcontrollers,namespaces"),
		rl(read, "storage.k8s.io", "storageclasses,csinodes,volumeattachments"), rl(read, "apps", "daemonsets,deployments,replicasets,statefulsets"),
		rl(read, "policy", "poddisruptionbudgets"), rl("create,delete,update,patch", "", "nodes"), rl("create", "", "pods/eviction"),
		rl("delete", "", "pods"), rl("create,delete,update,patch", "karpenter.sh", "nodeclaims,nodeclaims/status,nodepools,nodepools/status"), events())
	helm("karpenter", "karpenter", nil, rl(read, "karpenter.k8s.aws", "ec2nodeclasses"), rl("patch,update", "karpenter.k8s.aws", "ec2nodeclasses,ec2nodeclasses/status"))
	helm("karpenter", "karpenter-admin", aggregationLabels("admin"), rl("get,list,watch,create,delete,patch", "karpenter.sh", "nodepools,nodeclaims"),
		rl("get,list,watch,create,delete,patch", "karpenter.k8s.aws", "ec2nodeclasses"))
	helm("external-secrets", "external-secrets-controller", nil,
		rl("get,list,watch", "external-secrets.io", "secretstores,clustersecretstores,externalsecrets,clusterexternalsecrets,pushsecrets"),
		rl("update,patch", "external-secrets.io", "externalsecrets,externalsecrets/status,externalsecrets/finalizers,secretstores,secretstores/status,pushsecrets,pushsecrets/status"),
		rl("get,list,watch,create,update,delete,patch", "", "secrets"), rl("get,list,watch", "", "serviceaccounts,namespaces,configmaps"),
		rl("create", "", "serviceaccounts/token"), events())
	helm("external-secrets", "external-secrets-view", aggregationLabels("view", "edit", "admin"),
		rl(read, "external-secrets.io", "externalsecrets,secretstores,clustersecretstores,pushsecrets"))
	helm("external-secrets", "external-secrets-edit", aggregationLabels("edit", "admin"),
		rl("create,delete,deletecollection,patch,update", "external-secrets.io", "externalsecrets,secretstores,clustersecretstores,pushsecrets"))
	helm("logging", "fluent-bit", nil, rl(read, "", "namespaces,pods,nodes,nodes/proxy"))
	helm("kyverno", "kyverno:admission-controller", nil, rl(read, "*", "*"), rl("*", "kyverno.io", "*"),
		rl("create,delete,get,list,patch,update,watch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations,validatingwebhookconfigurations"),
		rl("create,update,delete", "reports.kyverno.io,wgpolicyk8s.io", "*"), rl("create,patch,update", "", "events"))
	helm("kyverno", "kyverno:background-controller", nil, rl(read, "*", "*"), rl("create,update,patch,delete", "", "configmaps,secrets,networkpolicies,resourcequotas,limitranges"),
		rl("create,update,patch,delete", "networking.k8s.io", "networkpolicies"), rl("create,update,patch,delete", rbacGroup, "roles,rolebindings"))
	helm("kyverno", "kyverno:cleanup-controller", nil, rl("delete,list,get", "*", "*"))
	helm("kyverno", "kyverno:rbac:admin:policies", aggregationLabels("admin"), rl("*", "kyverno.io", "cleanuppolicies,clustercleanuppolicies,policies,clusterpolicies"))
	helm("kyverno", "kyverno:rbac:view:policyreports", aggregationLabels("view"), rl(read, "wgpolicyk8s.io", "policyreports,clusterpolicyreports"))
	helm("external-dns", "external-dns", nil, rl("get,watch,list", "", "services,endpoints,pods,nodes"),
		rl("get,watch,list", "networking.k8s.io", "ingresses"), rl("get,watch,list", "discovery.k8s.io", "endpointslices"))
	helm("istio-system", "istiod-clusterrole-istio-system", nil, rl("get,list,watch,update,patch,create,delete", "admissionregistration.k8s.io", "mutatingwebhookconfigurations,validatingwebhookconfigurations"),
		rl("get,watch,list,update", "config.istio.io,security.istio.io,networking.istio.io,authentication.istio.io,rbac.istio.io,telemetry.istio.io,extensions.istio.io", "*"),
		rl(read, "", "pods,nodes,services,namespaces,endpoints"), rl(read, "discovery.k8s.io", "endpointslices"), rl("create", "authentication.k8s.io", "tokenreviews"),
		rl("create", "authorization.k8s.io", "subjectaccessreviews"), rl("get,watch,list", "", "secrets"),
		rl("create,get,list,watch,update", "certificates.k8s.io", "certificatesigningrequests,certificatesigningrequests/approval,certificatesigningrequests/status"),
		rl("approve", "certificates.k8s.io", "signers", "kubernetes.io/legacy-unknown"))
	helm("istio-system", "istio-reader-clusterrole-istio-system", nil,
		rl("get,list,watch", "config.istio.io,security.istio.io,networking.istio.io,authentication.istio.io,rbac.istio.io,telemetry.istio.io,extensions.istio.io", "*"),
		rl("get,list,watch", "", "endpoints,pods,services,nodes,replicationcontrollers,namespaces,secrets"), rl("create", "authentication.k8s.io", "tokenreviews"))
	helm("istio-system", "istiod-gateway-controller-istio-system", nil, rl("get,watch,list,update,patch,create,delete", "apps", "deployments"),
		rl("get,watch,list,update,patch,create,delete", "", "services,serviceaccounts"))

	// EKS and the kube-system add-ons.
	eks := func(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return add(name, map[string]string{"eks.amazonaws.com/component": strings.TrimPrefix(name, "eks:")}, rules...)
	}
	eks("aws-node", rl("list,watch,get", "", "namespaces,pods"), rl("list,watch,get", "", "nodes"), rl("patch", "", "pods"),
		rl("list,watch,get", "crd.k8s.amazonaws.com", "eniconfigs"), rl("get,list,watch,create,update,patch", "vpcresources.k8s.aws", "cninodes"), events())
	eks("system:coredns", rl("list,watch", "", "endpoints,services,pods,namespaces"), rl("list,watch", "discovery.k8s.io", "endpointslices"), rl("get", "", "nodes"))
	eks("eks:addon-manager", rl("*", "", "configmaps,secrets,services,serviceaccounts"), rl("*", "apps", "daemonsets,deployments"),
		rl("*", rbacGroup, "clusterroles,clusterrolebindings,roles,rolebindings"), rl("*", "apiextensions.k8s.io", "customresourcedefinitions"),
		rl("*", "admissionregistration.k8s.io", "mutatingwebhookconfigurations,validatingwebhookconfigurations"), rl("bind,escalate", rbacGroup, "clusterroles,roles"))
	eks("eks:node-bootstrapper", rl("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient"))
	eks("eks:k8s-metrics", rl("list", "", "nodes,pods"), rl("list", "apps", "deployments"), nr("get", "/metrics"))
	eks("eks:az-poller", rl("list,get", "", "nodes"))
	eks("eks:cloud-controller-manager", rl("create,patch,update", "", "events"), rl("*", "", "nodes"), rl("patch", "", "nodes/status"),
		rl("list,patch,update,watch", "", "services"), rl("patch,update", "", "services/status"), rl("create,get,list,watch,update", "", "serviceaccounts"),
		rl("get,list,watch,update", "", "persistentvolumes"), rl("create,get,list,watch,update", "", "endpoints"), rl("create,get,list,watch,update", "coordination.k8s.io", "leases"))
	eks("vpc-resource-controller-role", rl("get,list,watch", "", "nodes,pods,serviceaccounts"), rl("patch,update", "", "nodes/status,pods"),
		rl("create,delete,get,list,patch,update,watch", "vpcresources.k8s.aws", "cninodes"))
	eks("ebs-csi-node-role", rl("get,patch", "", "nodes"), rl("get,list,watch", "storage.k8s.io", "volumeattachments,csinodes"))
	eks("ebs-external-attacher-role", rl("get,list,watch,update,patch", "", "persistentvolumes"), rl("get,list,watch", "", "nodes"),
		rl("get,list,watch,update,patch", "storage.k8s.io", "volumeattachments,volumeattachments/status"), rl("get,list,watch", "storage.k8s.io", "csinodes"))
	eks("ebs-external-provisioner-role", rl("get,list,watch,create,patch,delete", "", "persistentvolumes"), rl("get,list,watch,update", "", "persistentvolumeclaims"),
		rl("get,list,watch", "storage.k8s.io", "storageclasses,csinodes"), rl("list,watch,create,update,patch", "", "events"),
		rl("get,list", "snapshot.storage.k8s.io", "volumesnapshots,volumesnapshotcontents"), rl("get,list,watch", "", "nodes"))
	eks("ebs-external-resizer-role", rl("get,list,watch,update,patch", "", "persistentvolumes"), rl("get,list,watch", "", "persistentvolumeclaims,pods"),
		rl("update,patch", "", "persistentvolumeclaims/status"), rl("list,watch,create,update,patch", "", "events"))
	eks("aws-load-balancer-controller-role", rl("create,get,list,patch,update,watch", "elbv2.k8s.aws", "targetgroupbindings,ingressclassparams"),
		rl("create,patch", "", "events"), rl("get,list,watch", "", "pods,namespaces,nodes,endpoints,secrets,services,serviceaccounts"),
		rl("get,list,patch,update,watch", "networking.k8s.io,extensions", "ingresses,ingressclasses"), rl("update,patch", "networking.k8s.io,extensions,", "ingresses/status,services/status,pods/status,targetgroupbindings/status"),
		rl("get,list,watch", "discovery.k8s.io", "endpointslices"))
	eks("system:metrics-server", rl("get", "", "nodes/metrics"), rl("get,list,watch", "", "pods,nodes"))
	eks("system:aggregated-metrics-reader", rl(read, "metrics.k8s.io", "pods,nodes")).Labels = aggregationLabels("view", "edit", "admin")

	// The other bootstrap roles.
	boot("system:node", nil, rl("create", "authentication.k8s.io", "tokenreviews"), rl("create", "authorization.k8s.io", "localsubjectaccessreviews,subjectaccessreviews"),
		rl("get,list,watch", "", "services"), rl("create,get,list,watch,delete,update,patch", "", "nodes"), rl("patch,update", "", "nodes/status"),
		rl("create,patch,update", "", "events"), rl("get,list,watch", "", "pods"), rl("create,delete", "", "pods"), rl("update,patch", "", "pods/status"),
		rl("create", "", "pods/eviction"), rl("get", "", "configmaps,secrets"), rl("get", "", "persistentvolumeclaims,persistentvolumes"),
		rl("get", "", "endpoints"), rl("create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"),
		rl("create,delete,get,patch,update", "coordination.k8s.io", "leases"), rl("get", "storage.k8s.io", "volumeattachments"),
		rl("create", "", "serviceaccounts/token"), rl("update,patch", "", "persistentvolumeclaims/status"),
		rl("get,list,watch", "node.k8s.io", "runtimeclasses"), rl("get,list,watch", "storage.k8s.io", "csidrivers"),
		rl("get,create,update,patch,delete", "storage.k8s.io", "csinodes"))
	boot("system:node-proxier", nil, rl("list,watch", "", "endpoints,services"), rl("get,list,watch", "", "nodes"), events(),
		rl("list,watch", "discovery.k8s.io", "endpointslices"))
	boot("system:kube-controller-manager", nil, events(), rl("create", "coordination.k8s.io", "leases"),
		rl("get,update", "coordination.k8s.io", "leases", "kube-controller-manager"), rl("create", "", "secrets,serviceaccounts"),
		rl("delete", "", "secrets"), rl("get", "", "configmaps,namespaces,secrets,serviceaccounts"), rl("update", "", "secrets,serviceaccounts"),
		rl("create", "authentication.k8s.io", "tokenreviews"), rl("create", "authorization.k8s.io", "subjectaccessreviews"),
		rl("list,watch", "*", "*"), rl("create", "", "serviceaccounts/token"))
	boot("system:kube-scheduler", nil, events(), rl("create", "coordination.k8s.io", "leases"),
		rl("get,update", "coordination.k8s.io", "leases", "kube-scheduler"), rl("delete,get,list,watch", "", "nodes"), rl("get,list,watch", "", "pods"),
		rl("create", "", "bindings,pods/binding"), rl("patch,update", "", "pods/status"), rl("get,list,watch", "", "replicationcontrollers,services"),
		rl("get,list,watch", "apps,extensions", "replicasets"), rl("get,list,watch", "apps", "statefulsets"), rl("get,list,watch", "policy", "poddisruptionbudgets"),
		rl("get,list,patch,update,watch", "", "persistentvolumeclaims,persistentvolumes"), rl("create", "authentication.k8s.io", "tokenreviews"),
		rl("create", "authorization.k8s.io", "subjectaccessreviews"), rl("get,list,watch", "storage.k8s.io", "csinodes,csidrivers,csistoragecapacities"))
	boot("system:kube-dns", nil, rl("list,watch", "", "endpoints,services"))
	boot("system:monitoring", nil, nr("get", "/healthz,/healthz/*,/livez,/livez/*,/metrics,/metrics/slis,/readyz,/readyz/*"))
	boot("system:auth-delegator", nil, rl("create", "authentication.k8s.io", "tokenreviews"), rl("create", "authorization.k8s.io", "subjectaccessreviews"))
	boot("system:heapster", nil, rl("get,list,watch", "", "events,namespaces,nodes,pods"), rl("get,list,watch", "extensions", "deployments"))
	boot("system:kubelet-api-admin", nil, rl("get,list,watch", "", "nodes"), rl("proxy", "", "nodes"),
		rl("*", "", "nodes/log,nodes/metrics,nodes/proxy,nodes/stats"))
	boot("system:node-bootstrapper", nil, rl("create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"))
	boot("system:node-problem-detector", nil, rl("get", "", "nodes"), rl("patch", "", "nodes/status"), events())
	boot("system:persistent-volume-provisioner", nil, rl("create,delete,get,list,watch", "", "persistentvolumes"),
		rl("get,list,update,watch", "", "persistentvolumeclaims"), rl("get,list,watch", "storage.k8s.io", "storageclasses"), rl("list,watch", "", "events"), events())
	boot("system:volume-scheduler", nil, rl("get,list,patch,update,watch", "", "persistentvolumes"), rl("get,list,watch", "storage.k8s.io", "storageclasses"),
		rl("get,list,patch,update,watch", "", "persistentvolumeclaims"))
	boot("system:service-account-issuer-discovery", nil, nr("get", "/.well-known/openid-configuration,/.well-known/openid-configuration/,/openid/v1/jwks,/openid/v1/jwks/"))
	boot("system:certificates.k8s.io:certificatesigningrequests:nodeclient", nil, rl("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient"))
	boot("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", nil, rl("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient"))
	boot("system:certificates.k8s.io:kube-apiserver-client-approver", nil, rl("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client"))
	boot("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", nil, rl("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet"))
	boot("system:certificates.k8s.io:kubelet-serving-approver", nil, rl("approve", "certificates.k8s.io", "signers", "kubernetes.io/kubelet-serving"))
	boot("system:certificates.k8s.io:legacy-unknown-approver", nil, rl("approve", "certificates.k8s.io", "signers", "kubernetes.io/legacy-unknown"))
	for _, c := range controllerRoles() {
		boot("system:controller:"+c.name, nil, c.rules...)
	}
	return out
}

// builtinClusterRoleBindings returns the bindings that come with the built-in ClusterRoles,
// in the same order of importance.
func (g *gen) builtinClusterRoleBindings() []crbSpec {
	var out []crbSpec
	boot := func(name, role string, subjects ...rbacv1.Subject) {
		out = append(out, crbSpec{name: name, role: role, subjects: subjects, bootstrap: true})
	}
	addon := func(name, role string, subjects ...rbacv1.Subject) {
		out = append(out, crbSpec{name: name, role: role, subjects: subjects, labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}})
	}
	ks := func(name string) rbacv1.Subject { return serviceAccount("kube-system", name) }
	boot("cluster-admin", "cluster-admin", group("system:masters"))
	boot("system:basic-user", "system:basic-user", group("system:authenticated"))
	boot("system:discovery", "system:discovery", group("system:authenticated"))
	boot("system:public-info-viewer", "system:public-info-viewer", group("system:authenticated"), group("system:unauthenticated"))
	for _, name := range []string{"cert-manager-controller-issuers", "cert-manager-controller-certificates", "cert-manager-controller-challenges", "cert-manager-controller-approve:cert-manager-io"} {
		addon(name, name, serviceAccount("cert-manager", "cert-manager"))
	}
	addon("cert-manager-cainjector", "cert-manager-cainjector", serviceAccount("cert-manager", "cert-manager-cainjector"))
	addon("kube-prometheus-stack-operator", "kube-prometheus-stack-operator", serviceAccount("monitoring", "kube-prometheus-stack-operator"))
	addon("kube-prometheus-stack-prometheus", "kube-prometheus-stack-prometheus", serviceAccount("monitoring", "kube-prometheus-stack-prometheus"))
	addon("kube-prometheus-stack-kube-state-metrics", "kube-prometheus-stack-kube-state-metrics", serviceAccount("monitoring", "kube-prometheus-stack-kube-state-metrics"))
	addon("kube-prometheus-stack-grafana-clusterrolebinding", "kube-prometheus-stack-grafana-clusterrole", serviceAccount("monitoring", "kube-prometheus-stack-grafana"))
	addon("argocd-application-controller", "argocd-application-controller", serviceAccount("argocd", "argocd-application-controller"))
	addon("argocd-server", "argocd-server", serviceAccount("argocd", "argocd-server"))
	addon("argocd-applicationset-controller", "argocd-applicationset-controller", serviceAccount("argocd", "argocd-applicationset-controller"))
	addon("ingress-nginx", "ingress-nginx", serviceAccount("ingress-nginx", "ingress-nginx"))
	addon("ingress-nginx-admission", "ingress-nginx-admission", serviceAccount("ingress-nginx", "ingress-nginx-admission"))
	if g.nsIndex("ci") >= 0 {
		addon("gitlab-runner-cluster-admin", "cluster-admin", serviceAccount("ci", "gitlab-runner"))
	}
	addon("karpenter-core", "karpenter-core", serviceAccount("karpenter", "karpenter"))
	addon("karpenter", "karpenter", serviceAccount("karpenter", "karpenter"))
	addon("external-secrets-controller", "external-secrets-controller", serviceAccount("external-secrets", "external-secrets"))
	addon("fluent-bit", "fluent-bit", serviceAccount("logging", "fluent-bit"))
	addon("kyverno:admission-controller", "kyverno:admission-controller", serviceAccount("kyverno", "kyverno-admission-controller"))
	addon("kyverno:background-controller", "kyverno:background-controller", serviceAccount("kyverno", "kyverno-background-controller"))
	addon("kyverno:cleanup-controller", "kyverno:cleanup-controller", serviceAccount("kyverno", "kyverno-cleanup-controller"))
	addon("external-dns-viewer", "external-dns", serviceAccount("external-dns", "external-dns"))
	if g.nsIndex("velero") >= 0 {
		addon("velero-server", "cluster-admin", serviceAccount("velero", "velero-server"))
	}
	addon("istiod-clusterrole-istio-system", "istiod-clusterrole-istio-system", serviceAccount("istio-system", "istiod"))
	addon("istio-reader-clusterrole-istio-system", "istio-reader-clusterrole-istio-system", serviceAccount("istio-system", "istio-reader-service-account"))
	addon("istiod-gateway-controller-istio-system", "istiod-gateway-controller-istio-system", serviceAccount("istio-system", "istiod"))

	boot("aws-node", "aws-node", ks("aws-node"))
	boot("system:coredns", "system:coredns", ks("coredns"))
	boot("eks:addon-manager", "eks:addon-manager", user("eks:addon-manager"))
	boot("eks:node-bootstrapper", "eks:node-bootstrapper", group("system:bootstrappers"), group("system:nodes"))
	boot("eks:k8s-metrics", "eks:k8s-metrics", user("eks:k8s-metrics"))
	boot("eks:az-poller", "eks:az-poller", user("eks:az-poller"))
	boot("eks:cloud-controller-manager", "eks:cloud-controller-manager", user("eks:cloud-controller-manager"))
	boot("vpc-resource-controller-rolebinding", "vpc-resource-controller-role", user("eks:vpc-resource-controller"), ks("eks-vpc-resource-controller"))
	boot("ebs-csi-node-binding", "ebs-csi-node-role", ks("ebs-csi-node-sa"))
	boot("ebs-csi-attacher-binding", "ebs-external-attacher-role", ks("ebs-csi-controller-sa"))
	boot("ebs-csi-provisioner-binding", "ebs-external-provisioner-role", ks("ebs-csi-controller-sa"))
	boot("ebs-csi-resizer-binding", "ebs-external-resizer-role", ks("ebs-csi-controller-sa"))
	boot("aws-load-balancer-controller-rolebinding", "aws-load-balancer-controller-role", ks("aws-load-balancer-controller"))
	boot("system:metrics-server", "system:metrics-server", ks("metrics-server"))
	boot("metrics-server:system:auth-delegator", "system:auth-delegator", ks("metrics-server"))

	boot("system:node", "system:node")
	boot("system:node-proxier", "system:node-proxier", user("system:kube-proxy"))
	boot("eks:kube-proxy", "system:node-proxier", ks("kube-proxy"))
	boot("system:kube-controller-manager", "system:kube-controller-manager", user("system:kube-controller-manager"))
	boot("system:kube-scheduler", "system:kube-scheduler", user("system:kube-scheduler"))
	boot("system:kube-dns", "system:kube-dns", ks("kube-dns"))
	boot("system:monitoring", "system:monitoring", group("system:monitoring"))
	boot("system:service-account-issuer-discovery", "system:service-account-issuer-discovery", group("system:serviceaccounts"))
	boot("system:volume-scheduler", "system:volume-scheduler", user("system:kube-scheduler"))
	boot("kubelet-bootstrap", "system:node-bootstrapper", group("system:bootstrappers"))
	for _, c := range controllerRoles() {
		boot("system:controller:"+c.name, "system:controller:"+c.name, ks(c.name))
	}
	return out
}
