package checks

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// Graph checks (catalog 1B KW-ESC-009): escalation paths that compose several primitives.

// graphMemo holds the identity graph of an Input and its shortest paths to cluster-admin,
// built once for every check and command that needs them.
type graphMemo struct {
	once  sync.Once
	g     *graph.Graph
	admin *graph.Tree
}

// Graph returns the identity graph of the Input (built once).
func (in *Input) Graph() *graph.Graph {
	in.graph.once.Do(func() {
		in.graph.g = graph.BuildWithCloud(in.Snapshot, in.RBAC, in.Cloud)
		in.graph.admin = in.graph.g.ShortestTo(in.graph.g.Sink)
	})
	return in.graph.g
}

// AdminPaths returns the shortest paths of every node to cluster-admin (computed once).
func (in *Input) AdminPaths() *graph.Tree {
	in.Graph()
	return in.graph.admin
}

// AdminPath is one identity's shortest path to cluster-admin, with how many running pods
// hold its token (and so could start the path).
type AdminPath struct {
	Identity int32
	Path     graph.Path
	Pods     int
}

// AdminPaths lists every identity (ServiceAccount, User, Group) that is not itself an
// admin and has a path to cluster-admin, shortest first, then by the number of pods that
// could start it. An identity whose path starts by membership of a group is left to that
// group's entry.
func AdminPathsOf(in *Input) []AdminPath {
	g, tree := in.Graph(), in.AdminPaths()
	podsOf := func(id int32) int {
		n := 0
		for _, ei := range g.In(id) {
			e := g.Edge(ei)
			if e.Prim == graph.RunsAs && g.Node(e.From).Kind == graph.Pod {
				n++
			}
		}
		return n
	}
	saKnown := in.Snapshot.Readable(inventory.ServiceAccounts)
	var out []AdminPath
	for _, k := range []graph.Kind{graph.ServiceAccount, graph.User, graph.Group} {
		for _, id := range g.Nodes(k) {
			if tree.Dist(id) < 0 {
				continue
			}
			n := g.Node(id)
			if k == graph.ServiceAccount && saKnown && in.Snapshot.ServiceAccount(n.Namespace, n.Name) == nil {
				continue // a binding names it but it does not exist (KW-RBAC-015)
			}
			if g.Admin(id) || k == graph.Group && n.Name == rbac.GroupMasters {
				continue
			}
			p, _ := tree.Shortest(id)
			if len(p.Hops) > 0 && p.Hops[0].Primitive == graph.MemberOf.String() {
				continue
			}
			ap := AdminPath{Identity: id, Path: p}
			if k == graph.Group {
				for _, ei := range g.In(id) {
					if e := g.Edge(ei); e.Prim == graph.MemberOf && g.Node(e.From).Kind == graph.ServiceAccount {
						ap.Pods += podsOf(e.From)
					}
				}
			} else {
				ap.Pods = podsOf(id)
			}
			out = append(out, ap)
		}
	}
	slices.SortStableFunc(out, func(a, b AdminPath) int {
		return cmp.Or(cmp.Compare(len(a.Path.Hops), len(b.Path.Hops)), cmp.Compare(b.Pods, a.Pods))
	})
	return out
}

// HopLines renders a path's hops, one line each.
func HopLines(p graph.Path) []string {
	out := make([]string, 0, len(p.Hops))
	for i, h := range p.Hops {
		line := fmt.Sprintf("hop %d [%s] %s -> %s: %s", i+1, h.Primitive, h.From, h.To, h.Evidence)
		if len(h.Via) > 0 {
			line += " (via " + strings.Join(h.Via, "; ") + ")"
		}
		out = append(out, line)
	}
	return out
}

// ParseHopLine reads back a line of HopLines: the hop's primitive and the two nodes
// ("ServiceAccount ns/name", "ClusterAdmin cluster-admin"...). Renderers use it to draw
// the paths of KW-ESC-009 findings.
func ParseHopLine(line string) (primitive, from, to string, ok bool) {
	rest, found := strings.CutPrefix(line, "hop ")
	if !found {
		return "", "", "", false
	}
	_, rest, found = strings.Cut(rest, " [")
	if !found {
		return "", "", "", false
	}
	primitive, rest, found = strings.Cut(rest, "] ")
	if !found {
		return "", "", "", false
	}
	from, rest, found = strings.Cut(rest, " -> ")
	if !found {
		return "", "", "", false
	}
	to, _, found = strings.Cut(rest, ": ")
	return primitive, from, to, found && from != "" && to != ""
}

var graphAdminPathCheck = register(&Check{
	ID:         "KW-ESC-009",
	Title:      "Multi-hop path to cluster-admin",
	Severity:   Critical,
	WholeGraph: true,
	Reads:      append(append([]inventory.Kind{inventory.ServiceAccounts, inventory.Secrets, inventory.Nodes, inventory.ConfigMaps}, rbacKinds...), workloadKinds...),
	Refs:       []string{"kwid escalation primitives P1-P17 (composition)", "Kubernetes RBAC good practices"},
	Summary: "Every identity (ServiceAccount, user, group) that is not itself an admin but can become cluster-admin " +
		"by chaining escalation primitives: create a pod as a powerful ServiceAccount, read its token Secret, exec into " +
		"its pod, impersonate, bind, approve a CSR, write aws-auth, break out to a node and take the tokens of its pods. " +
		"Ranked by path length, then by how many running pods hold the identity's token (a compromise of any of them " +
		"starts the path). Critical; evidence is the path, hop by hop (kwid paths --from shows it too).",
	run: func(in *Input, r *run) {
		if !r.partial("", rbacKinds...) {
			return
		}
		var missing []string
		for _, k := range []inventory.Kind{inventory.ServiceAccounts, inventory.Pods, inventory.Secrets, inventory.Nodes} {
			if st := in.Snapshot.StatusOf(k); st.State == inventory.Forbidden || st.State == inventory.Failed {
				missing = append(missing, st.Reason(k))
			}
		}
		if len(missing) > 0 {
			r.notAssessed("paths through unreadable kinds", missing)
		}
		g := in.Graph()
		paths := AdminPathsOf(in)
		for rank, ap := range paths {
			n := g.Node(ap.Identity)
			p := ap.Path
			var prims []string
			for _, h := range p.Hops {
				prims = append(prims, h.Primitive)
			}
			f := Finding{
				Severity: Critical,
				Object:   n.ObjectRef(),
				Message: fmt.Sprintf("%s can become cluster-admin in %d hop(s) (%s); %d running pod(s) hold its token", n.Ref(),
					len(p.Hops), strings.Join(prims, " -> "), ap.Pods),
				Evidence: append([]string{fmt.Sprintf("rank %d of %d (by path length, then pods that could start it)", rank+1, len(paths))}, HopLines(p)...),
			}
			var first string
			for i, h := range p.Hops {
				for _, ei := range h.Edges() {
					for _, b := range g.Bindings(ei) {
						f.Related = appendRef(f.Related, b.Ref())
						role := inventory.ObjectRef{Kind: inventory.Kind(b.RoleRef.Kind), Name: b.RoleRef.Name}
						if b.RoleRef.Kind == "Role" {
							role.Namespace = b.Namespace
						}
						f.Related = appendRef(f.Related, role)
						if first == "" && i < len(p.Hops)-1 {
							first = deleteCommand(b)
						}
					}
				}
			}
			if first != "" {
				f.Remediation = fmt.Sprintf("Cut the path at its first grant (%s), or remove the right from the role; then re-run kwid paths --from %s", first, fromArg(n))
			} else {
				f.Remediation = fmt.Sprintf("Cut the path at its weakest hop (see kwid paths --from %s); the last hop is the target's own cluster-admin grant", fromArg(n))
			}
			r.add(f)
		}
	},
})

func appendRef(refs []inventory.ObjectRef, r inventory.ObjectRef) []inventory.ObjectRef {
	if slices.Contains(refs, r) {
		return refs
	}
	return append(refs, r)
}

// fromArg is how kwid paths --from names an identity.
func fromArg(n graph.NodeInfo) string {
	switch n.Kind {
	case graph.ServiceAccount:
		return "sa:" + n.Namespace + "/" + n.Name
	case graph.Group:
		return "group:" + n.Name
	}
	return "user:" + n.Name
}
