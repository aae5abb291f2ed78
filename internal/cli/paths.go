package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func newPathsCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	in := newInputFlags()
	in.kube.Namespace = nil // -n is the number of paths here
	var from, to, output string
	var count int
	cmd := &cobra.Command{
		Use:   "paths [--from SUBJECT|pod:NS/NAME|namespace:NS] [--to cluster-admin|sa:NS/NAME|secret:NS/NAME|cloud:ROLE]",
		Short: "Escalation paths from identities to cluster-admin (or another target), each hop explained",
		Long: `Find shortest escalation paths through the identity graph: who can become whom by
chaining escalation primitives (create a pod as another ServiceAccount, read its token
Secret, exec into its pod, impersonate, bind a role, approve a CSR, write aws-auth, break
out to a node and take its pods' tokens...). Every hop names the primitive (P1-P17 of the
check catalog, see docs/paths.md) and its evidence: the binding, role and rule, or the
object.

--from: a subject (sa:NS/NAME, system:serviceaccount:NS:NAME, user:NAME, group:NAME),
pod:NS/NAME (an attacker in that pod), namespace:NS (each of its ServiceAccounts) or
node:NAME. Without --from: every identity that has a path and is not itself the target
(for cluster-admin: not itself an admin), shortest first.
--to: cluster-admin (default), sa:NS/NAME, secret:NS/NAME, cloud:ROLE (as annotated on a
ServiceAccount: an IRSA role ARN, gcp:GSA, azure:CLIENT-ID), node:NAME or group:NAME.
-n: how many paths: distinct paths for one --from identity (default 1), else at most N
identities (default all).`,
		Example: `  kwid paths --demo
  kwid paths --from sa:ci/deployer --demo -n 3
  kwid paths --from pod:web/frontend-7d9 --to secret:payments/stripe -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unexpected argument %q (see %s --help)", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, []string{"table", "json", "yaml"}); err != nil {
				return err
			}
			if count < 0 {
				return usageErrorf("-n must not be negative")
			}
			if err := checkPathForm("from", from, []string{"sa", "user", "group", "pod", "namespace", "node", "system"}, true); err != nil {
				return err
			}
			if err := checkPathForm("to", to, []string{"sa", "secret", "cloud", "node", "group"}, false); err != nil {
				return err
			}
			l, err := in.load(cmd.Context(), g, streams, cmd.Flags())
			if err != nil {
				return err
			}
			input := l.checksInput()
			paths, err := findPaths(input, from, to, count)
			if err != nil {
				return err
			}
			return writePaths(streams.Out, output, paths, input.Graph().Notes)
		},
	}
	in.addFlags(cmd.Flags())
	in.addCloudFlag(cmd.Flags())
	cmd.Flags().StringVar(&from, "from", "", "where paths start: SUBJECT, pod:NS/NAME, namespace:NS or node:NAME (default: every identity)")
	cmd.Flags().StringVar(&to, "to", "cluster-admin", "where paths end: cluster-admin, sa:NS/NAME, secret:NS/NAME, cloud:ROLE, node:NAME or group:NAME")
	cmd.Flags().IntVarP(&count, "count", "n", 0, "number of paths (distinct paths for one --from identity; default 1 there, else all)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

// checkPathForm rejects a --from/--to value of an unknown PREFIX: form before any input is
// read. Bare user names (no colon) are subjects.
func checkPathForm(flag, v string, forms []string, bare bool) error {
	if v == "" || flag == "to" && v == "cluster-admin" {
		return nil
	}
	prefix, _, ok := strings.Cut(v, ":")
	if !ok {
		if bare {
			return nil
		}
		return usageErrorf("--%s %q: want cluster-admin or one of %s:...", flag, v, strings.Join(forms, ":, "))
	}
	for _, f := range forms {
		if prefix == f {
			return nil
		}
	}
	return usageErrorf("--%s %q: unknown form %q (want one of %s)", flag, v, prefix+":", strings.Join(forms, ":, ")+":")
}

// findPaths resolves --from and --to and returns the paths asked for.
func findPaths(input *checks.Input, from, to string, count int) ([]graph.Path, error) {
	gr := input.Graph()
	target, err := gr.ParseTo(to)
	if err != nil {
		return nil, pathsInputError(err)
	}
	tree := input.AdminPaths()
	if target != gr.Sink {
		tree = gr.ShortestTo(target)
	}
	var paths []graph.Path
	switch {
	case from != "":
		sources, err := gr.ParseFrom(from)
		if err != nil {
			return nil, pathsInputError(err)
		}
		if len(sources) == 1 {
			return tree.Paths(sources[0], max(count, 1)), nil
		}
		for _, src := range sources {
			if p, ok := tree.Shortest(src); ok {
				paths = append(paths, p)
			}
		}
	case target == gr.Sink:
		for _, ap := range checks.AdminPathsOf(input) {
			paths = append(paths, ap.Path)
		}
	default:
		for _, k := range []graph.Kind{graph.ServiceAccount, graph.User, graph.Group} {
			for _, id := range gr.Nodes(k) {
				if id == target {
					continue
				}
				if p, ok := tree.Shortest(id); ok && p.Hops[0].Primitive != graph.MemberOf.String() {
					paths = append(paths, p)
				}
			}
		}
		sortPaths(paths)
	}
	if count > 0 && len(paths) > count {
		paths = paths[:count]
	}
	return paths, nil
}

func sortPaths(paths []graph.Path) {
	// Stable by length: the graph's node order (input order) breaks ties.
	slices.SortStableFunc(paths, func(a, b graph.Path) int { return cmp.Compare(len(a.Hops), len(b.Hops)) })
}

// pathsInputError: a well-formed value naming nothing is an error (exit 1); a malformed
// one is a usage error (exit 2).
func pathsInputError(err error) error {
	if errors.Is(err, graph.ErrNotFound) {
		return err
	}
	return usageErrorf("%v", err)
}

type pathsJSON struct {
	Paths []graph.Path `json:"paths"`
}

func writePaths(w io.Writer, format string, paths []graph.Path, notes []string) error {
	if paths == nil {
		paths = []graph.Path{}
	}
	switch format {
	case "json", "yaml":
		return encodeStructured(w, format, pathsJSON{Paths: paths})
	}
	if len(paths) == 0 {
		fmt.Fprintln(w, "No escalation path found.")
		return nil
	}
	for i, p := range paths {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Path %d: %s -> %s (%s)\n", i+1, p.From, p.To, hopCount(len(p.Hops)))
		writeHops(w, p, "  ")
	}
	for _, n := range notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	return nil
}

func writeHops(w io.Writer, p graph.Path, indent string) {
	for j, h := range p.Hops {
		fmt.Fprintf(w, "%s%d. [%s] %s -> %s\n", indent, j+1, h.Primitive, h.From, h.To)
		fmt.Fprintf(w, "%s   %s\n", indent, h.Evidence)
		if len(h.Via) > 0 {
			fmt.Fprintf(w, "%s   via %s\n", indent, strings.Join(h.Via, "; "))
		}
	}
}

func hopCount(n int) string {
	if n == 1 {
		return "1 hop"
	}
	return fmt.Sprintf("%d hops", n)
}
