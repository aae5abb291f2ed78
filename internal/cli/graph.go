package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func newGraphCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	in := newInputFlags()
	var output string
	var adminOnly bool
	cmd := &cobra.Command{
		Use:   "graph -o dot|json",
		Short: "Print the identity graph (Graphviz dot or JSON)",
		Long: `Print the identity graph: identities (ServiceAccounts, users, groups, nodes, cloud
roles), pods, workloads and Secrets, the cluster-admin sink, the intermediate sets rights
point at ("any ServiceAccount of namespace NS"), and every edge with its primitive and
evidence. --admin-paths keeps only the nodes that have a path to cluster-admin, which is
what a drawing usually wants:  kwid graph --demo --admin-paths -o dot | dot -Tsvg > g.svg`,
		Example: `  kwid graph --demo --admin-paths -o dot
  kwid graph -f manifests/ -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unexpected argument %q (see %s --help)", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, []string{"dot", "json"}); err != nil {
				return err
			}
			l, err := in.load(cmd.Context(), g, streams, cmd.Flags())
			if err != nil {
				return err
			}
			input := l.checksInput()
			gr := input.Graph()
			keep := func(int32) bool { return true }
			if adminOnly {
				tree := input.AdminPaths()
				keep = func(id int32) bool { return tree.Dist(id) >= 0 }
			}
			if output == "dot" {
				return writeDot(streams.Out, gr, keep)
			}
			return encodeStructured(streams.Out, "json", graphJSON(gr, keep))
		},
	}
	in.addFlags(cmd.Flags())
	in.addCloudFlag(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "dot", "output format: dot or json")
	cmd.Flags().BoolVar(&adminOnly, "admin-paths", false, "only nodes with a path to cluster-admin")
	return cmd
}

type graphNodeJSON struct {
	ID int32 `json:"id"`
	graph.Ref
	Intermediate bool `json:"intermediate,omitempty"`
}

type graphEdgeJSON struct {
	From      int32  `json:"from"`
	To        int32  `json:"to"`
	Primitive string `json:"primitive"`
	Evidence  string `json:"evidence"`
}

type graphOut struct {
	Nodes []graphNodeJSON `json:"nodes"`
	Edges []graphEdgeJSON `json:"edges"`
}

func graphJSON(gr *graph.Graph, keep func(int32) bool) graphOut {
	out := graphOut{Nodes: []graphNodeJSON{}, Edges: []graphEdgeJSON{}}
	for id := int32(0); id < int32(gr.Len()); id++ {
		if !keep(id) {
			continue
		}
		n := gr.Node(id)
		out.Nodes = append(out.Nodes, graphNodeJSON{ID: id, Ref: n.Ref(), Intermediate: n.Kind.Intermediate()})
		for _, ei := range gr.Out(id) {
			e := gr.Edge(ei)
			if keep(e.To) {
				out.Edges = append(out.Edges, graphEdgeJSON{From: e.From, To: e.To, Primitive: e.Prim.String(), Evidence: gr.Evidence(ei)})
			}
		}
	}
	return out
}

var dotShapes = map[graph.Kind]string{
	graph.ServiceAccount: "ellipse", graph.User: "box", graph.Group: "box3d", graph.Node: "component",
	graph.Pod: "oval", graph.Workload: "oval", graph.Secret: "note", graph.CloudRole: "hexagon",
	graph.ClusterAdmin: "doubleoctagon",
}

func writeDot(w io.Writer, gr *graph.Graph, keep func(int32) bool) error {
	q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	fmt.Fprintln(w, "digraph kwid {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, `  node [fontname="Helvetica", fontsize=10];`)
	fmt.Fprintln(w, `  edge [fontname="Helvetica", fontsize=9];`)
	for id := int32(0); id < int32(gr.Len()); id++ {
		if !keep(id) {
			continue
		}
		n := gr.Node(id)
		shape, style := dotShapes[n.Kind], ""
		if n.Kind.Intermediate() {
			shape, style = "point", ", style=dashed"
		}
		if n.Kind == graph.ClusterAdmin {
			style = `, color=red, fontcolor=red`
		}
		fmt.Fprintf(w, "  n%d [label=%s, shape=%s%s];\n", id, q(n.Ref().String()), shape, style)
	}
	for id := int32(0); id < int32(gr.Len()); id++ {
		if !keep(id) {
			continue
		}
		for _, ei := range gr.Out(id) {
			e := gr.Edge(ei)
			if !keep(e.To) {
				continue
			}
			label := e.Prim.String()
			if e.Prim == graph.Expand {
				label = ""
			}
			fmt.Fprintf(w, "  n%d -> n%d [label=%s, tooltip=%s];\n", e.From, e.To, q(label), q(gr.Evidence(ei)))
		}
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}
