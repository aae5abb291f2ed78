package graph

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/rbac"
)

// Tree holds, for every node, its distance to one target and the first edge of a
// shortest path there. Build one with ShortestTo.
type Tree struct {
	g      *Graph
	Target int32
	dist   []int32 // -1: no path
	next   []int32 // edge index

	skipMembers, direct bool
}

// ShortestTo runs one backward breadth-first search from the target over the whole graph
// (0-1 BFS: edges leaving intermediate nodes are free).
func (g *Graph) ShortestTo(target int32) *Tree {
	n := len(g.nodes)
	t := &Tree{g: g, dist: make([]int32, n), next: make([]int32, n)}
	for i := range t.dist {
		t.dist[i], t.next[i] = -1, -1
	}
	t.search(target, nil)
	return t
}

// Searcher runs many backward searches on one graph and reuses one Tree's memory, so that
// a search costs what it visits rather than the size of the graph. The Tree it returns is
// valid until the next search.
type Searcher struct {
	t       *Tree
	visited []int32
	// SkipMembers leaves group membership out of the search: a group that reaches the
	// target is reached, its members are not (unless they have a way of their own).
	SkipMembers bool
	// Direct stops the search at identities (ServiceAccounts, Users, Groups): it finds
	// who reaches the target by their own rights, through pods, nodes, workloads and
	// Secrets, but not through becoming another identity first.
	Direct bool
}

// NewSearcher returns a Searcher for the graph.
func (g *Graph) NewSearcher() *Searcher {
	return &Searcher{t: g.ShortestTo(-1), visited: make([]int32, 0, 64)}
}

// ShortestTo searches backward from target and returns the tree and the nodes that reach
// the target (the target included), in the order they were reached.
func (s *Searcher) ShortestTo(target int32) (*Tree, []int32) {
	for _, v := range s.visited {
		s.t.dist[v], s.t.next[v] = -1, -1
	}
	s.t.skipMembers, s.t.direct = s.SkipMembers, s.Direct
	s.visited = s.t.search(target, s.visited[:0])
	return s.t, s.visited
}

// search fills a reset tree (every dist -1) from target; it appends every node it reaches
// to visited when visited is not nil. A negative target leaves the tree empty.
func (t *Tree) search(target int32, visited []int32) []int32 {
	g := t.g
	t.Target = target
	if target < 0 {
		return visited
	}
	track := visited != nil
	if track {
		visited = append(visited, target)
	}
	t.dist[target] = 0
	// A deque as two stacks of frontier: front holds the current distance, back the next.
	deque := make([]int32, 0, 1024)
	head := 0
	front := []int32{target}
	for len(front) > 0 || head < len(deque) {
		var v int32
		if len(front) > 0 {
			v, front = front[len(front)-1], front[:len(front)-1]
		} else {
			v = deque[head]
			head++
		}
		dv := t.dist[v]
		if t.direct && v != target {
			if k := g.nodes[v].Kind; k == ServiceAccount || k == User || k == Group {
				continue
			}
		}
		for _, ei := range g.In(v) {
			e := &g.edges[ei]
			if t.skipMembers && e.Prim == MemberOf {
				continue
			}
			d := dv + g.weight(e)
			if t.dist[e.From] >= 0 && t.dist[e.From] <= d {
				continue
			}
			if track && t.dist[e.From] < 0 {
				visited = append(visited, e.From)
			}
			t.dist[e.From], t.next[e.From] = d, ei
			if d == dv {
				front = append(front, e.From)
			} else {
				deque = append(deque, e.From)
			}
		}
	}
	return visited
}

// Dist is the number of hops from a node to the target (-1: no path).
func (t *Tree) Dist(from int32) int { return int(t.dist[from]) }

// edges returns the edge indices of the shortest path from a node.
func (t *Tree) edges(from int32) []int32 {
	if t.dist[from] < 0 {
		return nil
	}
	var out []int32
	for v := from; v != t.Target; {
		ei := t.next[v]
		out = append(out, ei)
		v = t.g.edges[ei].To
		if len(out) > len(t.g.nodes) {
			break // cannot happen; guards against a broken tree
		}
	}
	return out
}

// Path is a chain of hops from one node to another.
type Path struct {
	From Ref   `json:"from"`
	To   Ref   `json:"to"`
	Hops []Hop `json:"hops"`

	from, to int32
}

// Hop is one step of a path: the primitive used, and why it holds.
type Hop struct {
	From      Ref    `json:"from"`
	To        Ref    `json:"to"`
	Primitive string `json:"primitive"`
	Evidence  string `json:"evidence"`
	// Via names the sets the step went through ("any ServiceAccount of namespace app").
	Via []string `json:"via,omitempty"`

	edges []int32
}

// Source is the first node of the path.
func (p Path) Source() int32 { return p.from }

// Edges are the graph edges of a hop.
func (h Hop) Edges() []int32 { return h.edges }

// path folds a chain of edges into hops between real (non-intermediate) nodes.
func (g *Graph) path(chain []int32) Path {
	var p Path
	if len(chain) == 0 {
		return p
	}
	p.from = g.edges[chain[0]].From
	p.to = g.edges[chain[len(chain)-1]].To
	p.From, p.To = g.nodes[p.from].Ref(), g.nodes[p.to].Ref()
	for i := 0; i < len(chain); {
		first := &g.edges[chain[i]]
		h := Hop{From: g.nodes[first.From].Ref(), Primitive: first.Prim.String(), Evidence: g.Evidence(chain[i]), edges: []int32{chain[i]}}
		to := first.To
		i++
		for g.nodes[to].Kind.Intermediate() && i < len(chain) {
			next := g.nodes[g.edges[chain[i]].To]
			if n := g.nodes[to]; n.Namespace != "*" || !next.Kind.Intermediate() || next.Namespace == "*" {
				h.Via = append(h.Via, n.describe())
			}
			h.edges = append(h.edges, chain[i])
			to = g.edges[chain[i]].To
			i++
		}
		h.To = g.nodes[to].Ref()
		p.Hops = append(p.Hops, h)
	}
	return p
}

// Shortest returns a shortest path from a node to the tree's target.
func (t *Tree) Shortest(from int32) (Path, bool) {
	chain := t.edges(from)
	if chain == nil {
		return Path{}, false
	}
	return t.g.path(chain), true
}

// Paths returns up to n distinct paths from a node to the tree's target, shortest first:
// the shortest path, then the best detours that leave it at one of its nodes.
func (t *Tree) Paths(from int32, n int) []Path {
	best := t.edges(from)
	if best == nil || n <= 0 {
		return nil
	}
	g := t.g
	type cand struct {
		chain []int32
		cost  int32
	}
	cands := []cand{{chain: best, cost: t.dist[from]}}
	prefixCost := int32(0)
	for i := range best {
		v := g.edges[best[i]].From
		onPrefix := map[int32]bool{}
		for _, ei := range best[:i] {
			onPrefix[g.edges[ei].From] = true
		}
		onPrefix[v] = true
		for _, ei := range g.Out(v) {
			if ei == best[i] {
				continue
			}
			e := &g.edges[ei]
			if t.dist[e.To] < 0 || onPrefix[e.To] {
				continue
			}
			rest := t.edges(e.To)
			if slices.ContainsFunc(rest, func(x int32) bool { return onPrefix[g.edges[x].To] }) {
				continue
			}
			chain := slices.Concat(best[:i], []int32{ei}, rest)
			cands = append(cands, cand{chain: chain, cost: prefixCost + g.weight(e) + t.dist[e.To]})
			if len(cands) > 50*n+200 {
				break
			}
		}
		prefixCost += g.weight(&g.edges[best[i]])
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.cost, b.cost) })
	var out []Path
	seen := map[string]bool{}
	for _, c := range cands {
		p := g.path(c.chain)
		key := p.key()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
		if len(out) == n {
			break
		}
	}
	return out
}

func (p Path) key() string {
	var b strings.Builder
	for _, h := range p.Hops {
		fmt.Fprintf(&b, "%s|%s|%s|%s\n", h.From, h.To, h.Primitive, h.Evidence)
	}
	return b.String()
}

// Reachable returns every node reachable from a node (itself excluded), nearest first.
func (g *Graph) Reachable(from int32) []int32 {
	seen := make(map[int32]bool)
	seen[from] = true
	queue := []int32{from}
	var out []int32
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, ei := range g.Out(v) {
			to := g.edges[ei].To
			if !seen[to] {
				seen[to] = true
				queue = append(queue, to)
				out = append(out, to)
			}
		}
	}
	return out
}

// IsAdmin reports whether an identity holds cluster-admin-equivalent rights itself
// (through its own bindings or its groups): a rule allowing every verb on every resource
// cluster-wide, or membership of system:masters.
func IsAdmin(ix *rbac.Index, u rbac.User) bool {
	return ix.Authorize(u, rbac.Request{Verb: "*", Resource: "*"}).Allowed
}

// Admin reports whether an identity node holds cluster-admin-equivalent rights itself or
// through one of its groups (the same answer as IsAdmin, read off the graph). The answers
// for every node are computed together the first time (one pass over the edges).
func (g *Graph) Admin(id int32) bool {
	g.adminOnce.Do(g.computeAdmin)
	return g.admin[id]
}

func (g *Graph) computeAdmin() {
	direct := make([]bool, len(g.nodes))
	for v := range direct {
		for _, ei := range g.Out(int32(v)) {
			if e := &g.edges[ei]; e.To == g.Sink && (e.Prim == P1 || e.Prim == Masters) {
				direct[v] = true
				break
			}
		}
	}
	admin := slices.Clone(direct)
	for v := range admin {
		if admin[v] {
			continue
		}
		for _, ei := range g.Out(int32(v)) {
			if e := &g.edges[ei]; e.Prim == MemberOf && direct[e.To] {
				admin[v] = true
				break
			}
		}
	}
	g.admin = admin
}

// User is the user the API server authenticates an identity node as (ServiceAccount,
// user, node; a group as a user that is only in that group).
func (g *Graph) User(id int32) rbac.User {
	n := g.nodes[id]
	switch n.Kind {
	case ServiceAccount:
		return rbac.ServiceAccountUser(n.Namespace, n.Name)
	case Node:
		return rbac.User{Name: nodeUserPfx + n.Name, Groups: []string{groupNodes, rbac.GroupAuthenticated}}
	case Group:
		return rbac.User{Groups: []string{n.Name}}
	case User:
		if n.Name == rbac.UserAnonymous {
			return rbac.User{Name: n.Name, Groups: []string{rbac.GroupUnauthenticated}}
		}
		return rbac.User{Name: n.Name, Groups: []string{rbac.GroupAuthenticated}}
	}
	return rbac.User{}
}

// ErrNotFound is wrapped by ParseFrom and ParseTo when a well-formed value names nothing
// in the input.
var ErrNotFound = errors.New("not found")

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}

// ParseFrom resolves a --from value to the nodes paths start at: a subject
// (sa:NS/NAME, system:serviceaccount:NS:NAME, user:NAME, group:NAME, a bare user name),
// pod:NS/NAME, namespace:NS (its ServiceAccounts) or node:NAME.
func (g *Graph) ParseFrom(s string) ([]int32, error) {
	const forms = "want sa:NS/NAME, user:NAME, group:NAME, pod:NS/NAME, namespace:NS or node:NAME"
	prefix, rest, hasPrefix := strings.Cut(s, ":")
	switch {
	case s == "":
		return nil, fmt.Errorf("empty --from: %s", forms)
	case hasPrefix && prefix == "pod":
		ns, name, ok := strings.Cut(rest, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--from %q: want pod:NAMESPACE/NAME", s)
		}
		if id, ok := g.Lookup(Pod, ns, name); ok {
			return []int32{id}, nil
		}
		return nil, notFound("--from %q: no running pod %s/%s in the input", s, ns, name)
	case hasPrefix && prefix == "namespace":
		if rest == "" {
			return nil, fmt.Errorf("--from %q: want namespace:NAME", s)
		}
		var out []int32
		for i := range g.nodes {
			if n := g.nodes[i]; n.Kind == ServiceAccount && n.Namespace == rest {
				out = append(out, int32(i))
			}
		}
		if len(out) == 0 {
			return nil, notFound("--from %q: no ServiceAccount in namespace %s in the input", s, rest)
		}
		return out, nil
	case hasPrefix && prefix == "node":
		if id, ok := g.Lookup(Node, "", rest); ok && rest != "" {
			return []int32{id}, nil
		}
		return nil, notFound("--from %q: no node %q in the input", s, rest)
	case hasPrefix && !slices.Contains([]string{"sa", "user", "group", "system"}, prefix):
		return nil, fmt.Errorf("--from %q: unknown form %q: %s", s, prefix+":", forms)
	}
	u, err := rbac.ParseUser(s, nil)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	switch {
	case u.Name == "":
		if id, ok := g.Lookup(Group, "", u.Groups[0]); ok {
			return []int32{id}, nil
		}
		return nil, notFound("--from %q: no binding names group %s", s, u.Groups[0])
	default:
		if ns, name, ok := rbac.SplitServiceAccountUsername(u.Name); ok {
			if id, ok := g.Lookup(ServiceAccount, ns, name); ok {
				return []int32{id}, nil
			}
			return nil, notFound("--from %q: no ServiceAccount %s/%s in the input", s, ns, name)
		}
		if node, ok := strings.CutPrefix(u.Name, nodeUserPfx); ok {
			if id, ok := g.Lookup(Node, "", node); ok {
				return []int32{id}, nil
			}
		}
		if id, ok := g.Lookup(User, "", u.Name); ok {
			return []int32{id}, nil
		}
		return nil, notFound("--from %q: no binding names user %s (its only group is system:authenticated: try --from group:system:authenticated)", s, u.Name)
	}
}

// ParseTo resolves a --to value: cluster-admin, sa:NS/NAME, secret:NS/NAME, cloud:ROLE
// (an IRSA role ARN, gcp:GSA or azure:CLIENT-ID as annotated), node:NAME or group:NAME.
func (g *Graph) ParseTo(s string) (int32, error) {
	const forms = "want cluster-admin, sa:NS/NAME, secret:NS/NAME, cloud:ROLE, node:NAME or group:NAME"
	if s == "cluster-admin" || s == "" {
		return g.Sink, nil
	}
	prefix, rest, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("--to %q: %s", s, forms)
	}
	nsName := func(k Kind) (int32, error) {
		ns, name, ok := strings.Cut(rest, "/")
		if !ok || ns == "" || name == "" {
			return 0, fmt.Errorf("--to %q: want %s:NAMESPACE/NAME", s, prefix)
		}
		if id, ok := g.Lookup(k, ns, name); ok {
			return id, nil
		}
		return 0, notFound("--to %q: no %s %s/%s in the input", s, k, ns, name)
	}
	one := func(k Kind) (int32, error) {
		if id, ok := g.Lookup(k, "", rest); ok && rest != "" {
			return id, nil
		}
		return 0, notFound("--to %q: no %s %q in the graph", s, k, rest)
	}
	switch prefix {
	case "sa":
		return nsName(ServiceAccount)
	case "secret":
		return nsName(Secret)
	case "cloud":
		return one(CloudRole)
	case "node":
		return one(Node)
	case "group":
		return one(Group)
	}
	return 0, fmt.Errorf("--to %q: unknown form %q: %s", s, prefix+":", forms)
}
