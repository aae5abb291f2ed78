package graph

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	groupMasters = rbac.GroupMasters
	groupNodes   = "system:nodes"
	nodeUserPfx  = "system:node:"
	saGroupPfx   = "system:serviceaccounts:"
	rbacGroup    = "rbac.authorization.k8s.io"
	certGroup    = "certificates.k8s.io"
	clientSigner = "kubernetes.io/kube-apiserver-client"
)

// Cloud role annotations on ServiceAccounts.
var cloudAnnotations = []struct{ key, prefix, what string }{
	{"eks.amazonaws.com/role-arn", "", "IRSA annotation eks.amazonaws.com/role-arn"},
	{"iam.gke.io/gcp-service-account", "gcp:", "GKE Workload Identity annotation iam.gke.io/gcp-service-account"},
	{"azure.workload.identity/client-id", "azure:", "Azure Workload Identity annotation azure.workload.identity/client-id"},
}

type builder struct {
	g       *Graph
	s       *inventory.Snapshot
	ix      *rbac.Index
	cloud   *cloud.Inventory
	cluster cloud.Cluster
	wsGet   bool // get on pods/exec and pods/attach opens a websocket exec (before 1.35)
	awsAuth bool

	namespaces  []string
	psaOpen     map[string]bool   // namespace -> privileged pods admitted (false when restricted)
	psaLevel    map[string]string // namespace -> its pod-security.kubernetes.io/enforce label
	sasByNS     map[string][]int32
	saByName    map[string][]int32
	secretsByNS map[string][]int32
	secretByNm  map[string][]int32
	podsByNS    map[string][]int32
	podsByNode  map[string][]int32
	adminRoles  map[string]bool    // ClusterRoles holding a P1 rule
	movedByNS   map[string][]int32 // running pods of ReplicaSets, StatefulSets, Jobs, RCs that carry a token
	tokenNodes  map[int32][]int32  // ServiceAccount -> the nodes its pods with a token run on
	bindingsNS  map[string][]*rbac.Binding
	stolen      map[[2]int32]bool // P18 edges from nodes already added

	matchers   [nParts]func(*rbacv1.PolicyRule, bool) bool
	groupParts map[string]*parts
	partCache  map[partKey]uint32 // the parts a rule grants, bound cluster-wide or not
	ruleMemo   map[ruleScope]ruleGrants
	templates  []inventory.Workload        // the controllers' pod templates
	escalates  map[*rbacv1.PolicyRule]bool // rules that allow escalate on some role

	pending    []int32
	candidates map[int32]rbac.User
	saGroupNS  map[string]bool // namespaces whose ServiceAccount groups hold a combined right's part
}

// Build computes the identity graph of a Snapshot.
func Build(s *inventory.Snapshot, ix *rbac.Index) *Graph { return build(s, ix, nil) }

func build(s *inventory.Snapshot, ix *rbac.Index, inv *cloud.Inventory) *Graph {
	b := &builder{
		g:           &Graph{},
		s:           s,
		ix:          ix,
		cloud:       inv,
		cluster:     inv.ClusterFor(s.Cluster.Server, s.Cluster.OIDCIssuer),
		wsGet:       !websocketCreate(s.Cluster.ServerVersion),
		psaOpen:     map[string]bool{},
		psaLevel:    map[string]string{},
		movedByNS:   map[string][]int32{},
		tokenNodes:  map[int32][]int32{},
		sasByNS:     map[string][]int32{},
		saByName:    map[string][]int32{},
		secretsByNS: map[string][]int32{},
		secretByNm:  map[string][]int32{},
		podsByNS:    map[string][]int32{},
		podsByNode:  map[string][]int32{},
		adminRoles:  map[string]bool{},
		candidates:  map[int32]rbac.User{},
		saGroupNS:   map[string]bool{},
		ruleMemo:    map[ruleScope]ruleGrants{},
		escalates:   map[*rbacv1.PolicyRule]bool{},
	}
	// Sized for what most clusters hold: a node per pod, workload, ServiceAccount, Secret
	// and node; edges from each pod (its ServiceAccount, its node), workload and
	// ServiceAccount (its groups), and a few per binding.
	b.templates = s.Templates()
	controllers := len(b.templates)
	nodes := len(s.Pods) + controllers + len(s.ServiceAccounts) + len(s.Secrets) + len(s.Nodes) + 4*len(s.Namespaces)
	b.g.nodes = make([]NodeInfo, 0, nodes)
	b.g.index = make(map[NodeInfo]int32, nodes)
	b.g.edges = make([]Edge, 0, 2*len(s.Pods)+controllers+4*len(s.ServiceAccounts)+4*len(ix.Bindings()))
	b.g.Sink = b.node(NodeInfo{Kind: ClusterAdmin, Name: "cluster-admin"})
	if b.wsGet {
		b.g.Notes = append(b.g.Notes, fmt.Sprintf("server version %q: get on pods/exec and pods/attach counts as exec (websocket), as before 1.35", cmp.Or(s.Cluster.ServerVersion, "unknown")))
	}
	b.g.Notes = append(b.g.Notes, "a new pod can break out to its node unless the namespace enforces Pod Security baseline or restricted (other admission controls are not modelled)")
	b.awsAuth = s.ConfigMap(inventory.SystemNamespace, inventory.AWSAuthConfigMap) != nil
	b.groupNode(groupMasters)
	b.identities()
	b.cloudEdges()
	b.workloads()
	b.rights()
	b.combined()
	for len(b.pending) > 0 {
		id := b.pending[0]
		b.pending = b.pending[1:]
		b.expand(id)
	}
	b.adjacency()
	return b.g
}

func (b *builder) node(n NodeInfo) int32 {
	if id, ok := b.g.index[n]; ok {
		return id
	}
	id := int32(len(b.g.nodes))
	b.g.nodes = append(b.g.nodes, n)
	b.g.index[n] = id
	if n.Kind.Intermediate() {
		b.pending = append(b.pending, id)
	}
	return id
}

func (b *builder) edge(e Edge) { b.g.edges = append(b.g.edges, e) }

func (b *builder) inter(k Kind, namespace string) int32 {
	return b.node(NodeInfo{Kind: k, Namespace: namespace})
}

// saNode is a ServiceAccount and its three groups.
func (b *builder) saNode(namespace, name string) int32 {
	n := NodeInfo{Kind: ServiceAccount, Namespace: namespace, Name: name}
	if id, ok := b.g.index[n]; ok {
		return id
	}
	id := b.node(n)
	for _, grp := range []string{rbac.GroupServiceAccounts, saGroupPfx + namespace, rbac.GroupAuthenticated} {
		b.edge(Edge{From: id, To: b.groupNode(grp), Prim: MemberOf})
	}
	return id
}

func (b *builder) groupNode(name string) int32 {
	n := NodeInfo{Kind: Group, Name: name}
	if id, ok := b.g.index[n]; ok {
		return id
	}
	id := b.node(n)
	if name == groupMasters {
		b.edge(Edge{From: id, To: b.g.Sink, Prim: Masters})
	}
	return id
}

// userNode is a user; a ServiceAccount username is the ServiceAccount, system:node:NAME
// the node identity.
func (b *builder) userNode(name string) int32 {
	if ns, sa, ok := rbac.SplitServiceAccountUsername(name); ok {
		return b.saNode(ns, sa)
	}
	if node, ok := strings.CutPrefix(name, nodeUserPfx); ok && node != "" {
		return b.nodeNode(node)
	}
	n := NodeInfo{Kind: User, Name: name}
	if id, ok := b.g.index[n]; ok {
		return id
	}
	id := b.node(n)
	grp := rbac.GroupAuthenticated
	if name == rbac.UserAnonymous {
		grp = rbac.GroupUnauthenticated
	}
	b.edge(Edge{From: id, To: b.groupNode(grp), Prim: MemberOf})
	return id
}

func (b *builder) nodeNode(name string) int32 {
	n := NodeInfo{Kind: Node, Name: name}
	if id, ok := b.g.index[n]; ok {
		return id
	}
	id := b.node(n)
	b.edge(Edge{From: id, To: b.groupNode(groupNodes), Prim: MemberOf})
	b.edge(Edge{From: id, To: b.groupNode(rbac.GroupAuthenticated), Prim: MemberOf})
	return id
}

// userOf is the user the API server authenticates a node as, for evaluating its rights.
func (b *builder) userOf(id int32) rbac.User {
	n := b.g.nodes[id]
	switch n.Kind {
	case ServiceAccount:
		return rbac.ServiceAccountUser(n.Namespace, n.Name)
	case Node:
		return rbac.User{Name: nodeUserPfx + n.Name, Groups: []string{groupNodes, rbac.GroupAuthenticated}}
	case Group:
		return rbac.User{Groups: []string{n.Name}}
	}
	if n.Name == rbac.UserAnonymous {
		return rbac.User{Name: n.Name, Groups: []string{rbac.GroupUnauthenticated}}
	}
	return rbac.User{Name: n.Name, Groups: []string{rbac.GroupAuthenticated}}
}

func (b *builder) identities() {
	s := b.s
	seen := map[string]bool{}
	addNS := func(ns string) {
		if ns != "" && !seen[ns] {
			seen[ns] = true
			b.namespaces = append(b.namespaces, ns)
		}
	}
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		addNS(ns.Name)
		enforce := ns.Labels["pod-security.kubernetes.io/enforce"]
		b.psaOpen[ns.Name] = enforce == "" || enforce == "privileged"
		b.psaLevel[ns.Name] = enforce
	}
	for i := range s.ServiceAccounts {
		sa := &s.ServiceAccounts[i]
		addNS(sa.Namespace)
		id := b.saNode(sa.Namespace, sa.Name)
		b.sasByNS[sa.Namespace] = append(b.sasByNS[sa.Namespace], id)
		b.saByName[sa.Name] = append(b.saByName[sa.Name], id)
		for _, a := range cloudAnnotations {
			if v := sa.Annotations[a.key]; v != "" && !b.cloudDecides(a.key, v) {
				b.edge(Edge{From: id, To: b.node(NodeInfo{Kind: CloudRole, Name: a.prefix + v}), Prim: MapsTo, action: a.what})
			}
		}
	}
	for i := range s.Nodes {
		b.nodeNode(s.Nodes[i].Name)
	}
	for i := range s.Secrets {
		sec := &s.Secrets[i]
		addNS(sec.Namespace)
		id := b.node(NodeInfo{Kind: Secret, Namespace: sec.Namespace, Name: sec.Name})
		b.secretsByNS[sec.Namespace] = append(b.secretsByNS[sec.Namespace], id)
		b.secretByNm[sec.Name] = append(b.secretByNm[sec.Name], id)
		if sec.Type == corev1.SecretTypeServiceAccountToken {
			if sa := sec.Annotations[corev1.ServiceAccountNameKey]; sa != "" {
				b.edge(Edge{From: id, To: b.saNode(sec.Namespace, sa), Prim: HoldsToken})
			}
		}
	}
	for _, ns := range b.namespaces {
		if _, ok := b.psaOpen[ns]; !ok {
			b.psaOpen[ns] = true
		}
	}
	for i := range s.ClusterRoles {
		name := s.ClusterRoles[i].Name
		rules, _ := b.ix.ClusterRoleRules(name)
		for j := range rules {
			if isP1(&rules[j]) {
				b.adminRoles[name] = true
			}
		}
	}
}

func isP1(r *rbacv1.PolicyRule) bool {
	return rbac.RuleAllows(r, rbac.Request{Verb: "*", Resource: "*"})
}

func (b *builder) workloads() {
	s := b.s
	type pair struct{ node, sa int32 }
	nodeTokens := map[pair]bool{}
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		id := b.node(NodeInfo{Kind: Pod, Namespace: p.Namespace, Name: p.Name})
		b.podsByNS[p.Namespace] = append(b.podsByNS[p.Namespace], id)
		sa := b.saNode(p.Namespace, saName(&p.Spec))
		token, why := APIToken(s, p.Namespace, &p.Spec)
		if token {
			b.edge(Edge{From: id, To: sa, Prim: RunsAs, action: why})
			if rescheduled(p) {
				b.movedByNS[p.Namespace] = append(b.movedByNS[p.Namespace], id)
			}
		}
		if p.Spec.NodeName == "" {
			continue
		}
		b.podsByNode[p.Spec.NodeName] = append(b.podsByNode[p.Spec.NodeName], id)
		node := b.nodeNode(p.Spec.NodeName)
		if why := escape(&p.Spec); why != "" {
			b.edge(Edge{From: id, To: node, Prim: NodeEscape, action: why})
		}
		if !nodeTokens[pair{node, sa}] {
			nodeTokens[pair{node, sa}] = true
			b.edge(Edge{From: node, To: sa, Prim: NodeToken, action: "pod " + p.Name})
			if token {
				b.tokenNodes[sa] = append(b.tokenNodes[sa], node)
			}
		}
	}
	for _, w := range b.templates {
		id := b.node(NodeInfo{Kind: Workload, Object: w.Ref.Kind, Namespace: w.Ref.Namespace, Name: w.Ref.Name})
		if ok, why := APIToken(s, w.Ref.Namespace, w.Spec); ok {
			b.edge(Edge{From: id, To: b.saNode(w.Ref.Namespace, w.ServiceAccountName()), Prim: RunsAs, action: why})
		}
	}
}

// rescheduled reports whether a deleted or evicted pod is replaced by a new one that the
// scheduler places again: pods of ReplicaSets, StatefulSets, Jobs and ReplicationControllers
// (not DaemonSet pods, pinned to their node, nor static pods; other owners are not assumed).
func rescheduled(p *corev1.Pod) bool {
	c := metav1.GetControllerOf(p)
	if c == nil {
		return false
	}
	switch c.Kind {
	case "ReplicaSet", "StatefulSet", "ReplicationController":
		return c.APIVersion == "apps/v1" || c.APIVersion == "v1"
	case "Job":
		return c.APIVersion == "batch/v1"
	}
	return false
}

func saName(spec *corev1.PodSpec) string {
	return cmp.Or(spec.ServiceAccountName, spec.DeprecatedServiceAccount, "default")
}

// APIToken says whether a pod spec carries a token the API server accepts: the automounted
// one (pod setting, else ServiceAccount setting, else true) or a projected
// serviceAccountToken without audience.
func APIToken(s *inventory.Snapshot, namespace string, spec *corev1.PodSpec) (bool, string) {
	switch {
	case spec.AutomountServiceAccountToken != nil:
		if *spec.AutomountServiceAccountToken {
			return true, "automounted token (pod sets automountServiceAccountToken: true)"
		}
	default:
		if o := s.ServiceAccount(namespace, saName(spec)); o == nil || o.AutomountServiceAccountToken == nil || *o.AutomountServiceAccountToken {
			return true, "automounted token"
		}
	}
	for _, v := range spec.Volumes {
		if v.Projected == nil || strings.HasPrefix(v.Name, "kube-api-access-") {
			continue
		}
		for _, src := range v.Projected.Sources {
			if t := src.ServiceAccountToken; t != nil && t.Audience == "" {
				return true, "projected API token in volume " + v.Name
			}
		}
	}
	return false, ""
}

// escape says how a pod can reach its node, or "".
func escape(spec *corev1.PodSpec) string {
	if spec.HostPID {
		return "hostPID"
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			return "hostPath volume " + v.Name + " (" + v.HostPath.Path + ")"
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if sc := cs[i].SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
				return "privileged container " + cs[i].Name
			}
		}
	}
	return ""
}

// websocketCreate reports whether the server authorizes websocket exec as create (1.35+).
func websocketCreate(version string) bool {
	v := strings.TrimPrefix(version, "v")
	maj, rest, found := strings.Cut(v, ".")
	if !found {
		return false
	}
	if end := strings.IndexFunc(rest, func(c rune) bool { return c < '0' || c > '9' }); end >= 0 {
		rest = rest[:end]
	}
	a, err1 := strconv.Atoi(maj)
	m, err2 := strconv.Atoi(rest)
	return err1 == nil && err2 == nil && (a > 1 || m >= 35)
}

// expand links an intermediate node to its members.
func (b *builder) expand(id int32) {
	n := b.g.nodes[id]
	add := func(to int32) { b.edge(Edge{From: id, To: to, Prim: Expand}) }
	addAll := func(ids []int32) {
		for _, to := range ids {
			add(to)
		}
	}
	all := n.Namespace == "*"
	perNS := func(m map[string][]int32) {
		for _, ns := range b.namespaces {
			if len(m) == 0 || len(m[ns]) > 0 {
				add(b.inter(n.Kind, ns))
			}
		}
	}
	switch n.Kind {
	case anySA:
		if all {
			perNS(b.sasByNS)
		} else {
			addAll(b.sasByNS[n.Namespace])
		}
	case anySecret:
		if all {
			perNS(b.secretsByNS)
		} else {
			addAll(b.secretsByNS[n.Namespace])
		}
	case anyPod:
		if all {
			perNS(b.podsByNS)
		} else {
			addAll(b.podsByNS[n.Namespace])
		}
	case runPod, nsAdmin:
		if all {
			perNS(nil)
			return
		}
		add(b.inter(anySA, n.Namespace))
		add(b.inter(anySecret, n.Namespace))
		if n.Kind == nsAdmin {
			add(b.inter(anyPod, n.Namespace))
			add(b.inter(runPod, n.Namespace))
		} else if b.psaOpen[n.Namespace] && len(b.podsByNode) > 0 {
			add(b.inter(anyNode, ""))
		}
	case anyUser:
		for i := range b.g.nodes {
			if b.g.nodes[i].Kind == User {
				add(int32(i))
			}
		}
	case anyNode:
		for i := range b.g.nodes {
			if b.g.nodes[i].Kind == Node {
				add(int32(i))
			}
		}
	case nodePods:
		addAll(b.podsByNode[n.Name])
	case movedPods:
		if all {
			perNS(b.movedByNS)
		} else {
			addAll(b.movedByNS[n.Namespace])
		}
	}
}

func (b *builder) adjacency() {
	g := b.g
	n := len(g.nodes)
	g.outStart, g.inStart = make([]int32, n+1), make([]int32, n+1)
	for i := range g.edges {
		g.outStart[g.edges[i].From+1]++
		g.inStart[g.edges[i].To+1]++
	}
	for i := 1; i <= n; i++ {
		g.outStart[i] += g.outStart[i-1]
		g.inStart[i] += g.inStart[i-1]
	}
	g.outIdx, g.inIdx = make([]int32, len(g.edges)), make([]int32, len(g.edges))
	oc, ic := slices.Clone(g.outStart[:n]), slices.Clone(g.inStart[:n])
	for i := range g.edges {
		e := &g.edges[i]
		g.outIdx[oc[e.From]] = int32(i)
		oc[e.From]++
		g.inIdx[ic[e.To]] = int32(i)
		ic[e.To]++
	}
}
