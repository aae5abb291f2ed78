// Package graph is kwid's identity graph: who can become whom. Nodes are identities
// (ServiceAccounts, users, groups, node identities, cloud roles), the things that hold or
// lead to them (pods, workloads, Secrets) and a "cluster-admin" sink; edges are the
// escalation primitives P1-P24 of the check catalog (section 2), computed from effective
// RBAC permissions, plus structural facts ("runs as", "holds the token of", "member of").
// Every edge carries its evidence: the binding, role and rule, or the object.
//
// The graph stays lean on large clusters: rights that reach "any ServiceAccount of a
// namespace" point at one intermediate node per namespace rather than at every
// ServiceAccount, and paths are shortest paths found by breadth-first search over
// adjacency lists (intermediate nodes cost nothing, so a path's length counts real hops).
//
// graph reads a Snapshot and an rbac.Index; it knows nothing about checks or output formats.
package graph

import (
	"fmt"
	"strings"
	"sync"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// Kind is the kind of a node.
type Kind uint8

// Node kinds. The unexported ones are intermediate nodes ("any ServiceAccount of NS"):
// they never start or end a path and are folded into the hop that crosses them.
const (
	ServiceAccount Kind = iota + 1
	User
	Group
	Node
	Pod
	Workload
	Secret
	CloudRole
	ClusterAdmin

	anySA      // any ServiceAccount of a namespace ("*": of every namespace)
	anySecret  // any Secret of a namespace
	anyPod     // any running pod of a namespace
	runPod     // a new pod created in a namespace (P5)
	nsAdmin    // every namespaced right in a namespace
	anyUser    // any user named in the cluster's bindings
	anyNode    // any node
	nodePods   // the running pods of one node
	movedPods  // the controller-managed pods of a namespace: deleted, their replacements reschedule
	firstInter = anySA
)

var kindNames = [...]string{
	ServiceAccount: "ServiceAccount", User: "User", Group: "Group", Node: "Node", Pod: "Pod",
	Workload: "Workload", Secret: "Secret", CloudRole: "CloudRole", ClusterAdmin: "ClusterAdmin",
	anySA: "AnyServiceAccount", anySecret: "AnySecret", anyPod: "AnyPod", runPod: "NewPod",
	nsAdmin: "NamespaceAdmin", anyUser: "AnyUser", anyNode: "AnyNode", nodePods: "NodePods",
	movedPods: "ReschedulablePods",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Intermediate reports whether nodes of the kind only stand for a set of other nodes.
func (k Kind) Intermediate() bool { return k >= firstInter }

// NodeInfo is one node.
type NodeInfo struct {
	Kind Kind
	// Object is the workload kind (Deployment, ...) of a Workload node.
	Object    inventory.Kind
	Namespace string
	Name      string
}

// Ref is how a node is written in output.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Ref names the node.
func (n NodeInfo) Ref() Ref {
	k := n.Kind.String()
	if n.Kind == Workload {
		k = string(n.Object)
	}
	return Ref{Kind: k, Namespace: n.Namespace, Name: n.Name}
}

// ObjectRef is the node as an inventory reference (User and Group as those kinds).
func (n NodeInfo) ObjectRef() inventory.ObjectRef {
	r := n.Ref()
	return inventory.ObjectRef{Kind: inventory.Kind(r.Kind), Namespace: r.Namespace, Name: r.Name}
}

// describe says in words what an intermediate node stands for.
func (n NodeInfo) describe() string {
	where := "namespace " + n.Namespace
	if n.Namespace == "*" {
		where = "every namespace"
	}
	switch n.Kind {
	case anySA:
		return "any ServiceAccount of " + where
	case anySecret:
		return "any Secret of " + where
	case anyPod:
		return "any running pod of " + where
	case runPod:
		return "a new pod in " + where + " (runs as any of its ServiceAccounts, mounts any of its Secrets)"
	case nsAdmin:
		return "every namespaced right in " + where
	case anyUser:
		return "any user"
	case anyNode:
		return "any node (a privileged pod breaks out to its node)"
	case nodePods:
		return "the pods on node " + n.Name
	case movedPods:
		return "the controller-managed pods of " + where + " (deleted or evicted, their replacements are scheduled again)"
	}
	return n.Ref().String()
}

// Primitive is what an edge means: an escalation primitive of the catalog (P1-P24) or a
// structural fact.
type Primitive uint8

// Primitives.
const (
	Expand     Primitive = iota // an intermediate node's members
	MemberOf                    // an identity is in a group
	RunsAs                      // a pod or workload carries its ServiceAccount's API token
	HoldsToken                  // a Secret holds a legacy token of a ServiceAccount
	NodeEscape                  // a pod can break out to its node (privileged, hostPID, hostPath)
	NodeToken                   // a node identity can get the token of any pod bound to it
	MapsTo                      // a ServiceAccount maps to a cloud role
	Masters                     // group system:masters bypasses RBAC
	P1
	P2
	P3
	P4
	P5
	P6
	P7
	P8
	P9
	P11
	P12
	P13
	P14
	P15
	P17
	EKSAuth // EKS authenticates an IAM principal as a user or group (aws-auth, access entries)
	P10
	P16
	P18
	P23
)

var primNames = [...]string{
	Expand: "expand", MemberOf: "member-of", RunsAs: "runs-as", HoldsToken: "holds-token",
	NodeEscape: "node-escape", NodeToken: "node-token", MapsTo: "maps-to-cloud-role", Masters: "system:masters",
	P1: "P1", P2: "P2", P3: "P3", P4: "P4", P5: "P5", P6: "P6", P7: "P7", P8: "P8", P9: "P9",
	P11: "P11", P12: "P12", P13: "P13", P14: "P14", P15: "P15", P17: "P17", EKSAuth: "eks-authn",
	P10: "P10", P16: "P16", P18: "P18", P23: "P23",
}

func (p Primitive) String() string { return primNames[p] }

// Edge is one "can become" or "leads to" fact with its evidence.
type Edge struct {
	From, To int32
	Prim     Primitive
	// binding, subject and rule are the grant behind an RBAC edge (binding nil otherwise).
	binding *rbac.Binding
	subject int32
	rule    int32
	// action says what the grant allows ("create pods in namespace app"); note replaces
	// the generated evidence (combined grants).
	action string
	note   string
	// bindings are the grants' bindings of a combined primitive (note set).
	bindings []*rbac.Binding
}

// Graph is the identity graph of one Snapshot. Build it with Build; it is read-only
// afterwards and safe for concurrent use.
type Graph struct {
	nodes []NodeInfo
	index map[NodeInfo]int32
	edges []Edge
	// Compressed adjacency: the out-edges of node n are outIdx[outStart[n]:outStart[n+1]].
	outStart, outIdx []int32
	inStart, inIdx   []int32
	// Sink is the cluster-admin node.
	Sink int32
	// Notes are assumptions the graph was built on (e.g. websocket exec as get).
	Notes []string

	adminOnce sync.Once
	admin     []bool // Admin's answers, by node
}

// Len is the number of nodes.
func (g *Graph) Len() int { return len(g.nodes) }

// EdgeCount is the number of edges.
func (g *Graph) EdgeCount() int { return len(g.edges) }

// Node returns a node's description.
func (g *Graph) Node(id int32) NodeInfo { return g.nodes[id] }

// Lookup finds a node.
func (g *Graph) Lookup(k Kind, namespace, name string) (int32, bool) {
	id, ok := g.index[NodeInfo{Kind: k, Namespace: namespace, Name: name}]
	return id, ok
}

// LookupWorkload finds a workload (controller) node.
func (g *Graph) LookupWorkload(k inventory.Kind, namespace, name string) (int32, bool) {
	id, ok := g.index[NodeInfo{Kind: Workload, Object: k, Namespace: namespace, Name: name}]
	return id, ok
}

// Out returns the out-edges of a node.
func (g *Graph) Out(id int32) []int32 { return g.outIdx[g.outStart[id]:g.outStart[id+1]] }

// In returns the in-edges of a node.
func (g *Graph) In(id int32) []int32 { return g.inIdx[g.inStart[id]:g.inStart[id+1]] }

// Edge returns an edge.
func (g *Graph) Edge(i int32) *Edge { return &g.edges[i] }

// Nodes returns the ids of every node of a kind.
func (g *Graph) Nodes(k Kind) []int32 {
	var out []int32
	for i := range g.nodes {
		if g.nodes[i].Kind == k {
			out = append(out, int32(i))
		}
	}
	return out
}

// Bindings returns the bindings behind an edge (none for structural edges).
func (g *Graph) Bindings(i int32) []*rbac.Binding {
	e := &g.edges[i]
	if e.binding != nil {
		return []*rbac.Binding{e.binding}
	}
	return e.bindings
}

// weight is 0 for edges leaving an intermediate node: they only pick a member.
func (g *Graph) weight(e *Edge) int32 {
	if g.nodes[e.From].Kind.Intermediate() {
		return 0
	}
	return 1
}

// Evidence explains an edge in one line.
func (g *Graph) Evidence(i int32) string {
	e := &g.edges[i]
	if e.note != "" {
		return e.note
	}
	from, to := g.nodes[e.From], g.nodes[e.To]
	if e.binding != nil {
		gr := rbac.Grant{Binding: e.binding, Subject: &e.binding.Subjects[e.subject], RuleIndex: int(e.rule)}
		return fmt.Sprintf("%s: %s, rule %s", e.action, strings.TrimPrefix(gr.Reason(), "RBAC: allowed by "), rbac.DescribeRule(gr.Rule()))
	}
	switch e.Prim {
	case Expand:
		return from.describe() + " includes " + to.Ref().String()
	case MemberOf:
		return fmt.Sprintf("%s is in group %s", from.Ref(), to.Name)
	case RunsAs:
		return fmt.Sprintf("%s runs as %s with an API token mounted (%s)", from.Ref(), to.Ref(), e.action)
	case HoldsToken:
		return fmt.Sprintf("%s is a kubernetes.io/service-account-token Secret of %s: reading it yields a non-expiring token", from.Ref(), to.Ref())
	case NodeEscape:
		return fmt.Sprintf("%s can break out to node %s (%s) and use the kubelet's credentials", from.Ref(), to.Name, e.action)
	case NodeToken:
		return fmt.Sprintf("node %s can request tokens for %s (a pod bound to the node runs as it: %s)", from.Name, to.Ref(), e.action)
	case MapsTo:
		return fmt.Sprintf("%s maps to cloud role %s (%s)", from.Ref(), to.Name, e.action)
	case Masters:
		return "group system:masters bypasses RBAC: cluster-admin"
	}
	return e.action
}
