package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func newAccessCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	in := newInputFlags()
	in.kinds, in.queryNamespace = rbacKinds, true
	var output string
	var groups []string
	var matrix bool
	cmd := &cobra.Command{
		Use:   "access SUBJECT",
		Short: "Show a subject's effective rules, merged and compacted, or as a resource-by-verb matrix",
		Long: `Show every rule a subject holds, through every binding that names it or one of its
groups, by scope (cluster-wide, then each namespace), merged and compacted. With -n, only
the rules that apply in that namespace. --matrix shows a resource-by-verb matrix instead
(yes, no, or "names" when only some resourceNames are allowed).

SUBJECT forms are those of kwid can.`,
		Example: `  kwid access sa:kube-system/aws-node --demo
  kwid access user:jane --group dev -n payments --matrix`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("want one SUBJECT (see kwid access --help)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, []string{"table", "json", "yaml"}); err != nil {
				return err
			}
			u, err := rbac.ParseUser(args[0], groups)
			if err != nil {
				return usageErrorf("%v", err)
			}
			namespace := ""
			if cmd.Flags().Changed("namespace") {
				namespace = *in.kube.Namespace
			}
			l, err := in.load(cmd.Context(), g, streams, cmd.Flags())
			if err != nil {
				return err
			}
			scopes := rbac.NewIndex(l.snap).Access(u, namespace)
			return writeAccess(streams.Out, output, u, scopes, matrix)
		},
	}
	in.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	cmd.Flags().StringArrayVar(&groups, "group", nil, "add a group to the subject (repeatable)")
	cmd.Flags().BoolVar(&matrix, "matrix", false, "show a resource-by-verb matrix")
	return cmd
}

type accessScopeJSON struct {
	Scope    string              `json:"scope"`
	Bindings []objectName        `json:"bindings"`
	Rules    []rbacv1.PolicyRule `json:"rules"`
	Matrix   []matrixRowJSON     `json:"matrix,omitempty"`
}

type matrixRowJSON struct {
	APIGroup string               `json:"apiGroup"`
	Resource string               `json:"resource"`
	Verbs    map[string]rbac.Cell `json:"verbs"`
}

func writeAccess(w io.Writer, format string, u rbac.User, scopes []rbac.ScopedRules, matrix bool) error {
	out := struct {
		User   rbac.User         `json:"user"`
		Scopes []accessScopeJSON `json:"scopes"`
	}{User: u, Scopes: []accessScopeJSON{}}
	for _, s := range scopes {
		js := accessScopeJSON{Scope: "cluster", Rules: s.Rules}
		if s.Namespace != "" {
			js.Scope = s.Namespace
		}
		for _, b := range s.Bindings {
			js.Bindings = append(js.Bindings, objectName{Kind: b.Kind, Namespace: b.Namespace, Name: b.Name})
		}
		if matrix {
			for _, row := range rbac.Matrix(s.Rules) {
				mr := matrixRowJSON{APIGroup: row.APIGroup, Resource: row.Resource, Verbs: map[string]rbac.Cell{}}
				for i, v := range rbac.MatrixVerbs {
					mr.Verbs[v] = row.Cells[i]
				}
				js.Matrix = append(js.Matrix, mr)
			}
		}
		out.Scopes = append(out.Scopes, js)
	}
	if format == "json" || format == "yaml" {
		return encodeStructured(w, format, out)
	}
	if u.InGroup(rbac.GroupMasters) {
		fmt.Fprintf(w, "%s is in group system:masters: RBAC is bypassed, everything is allowed.\n", u)
		return nil
	}
	if len(out.Scopes) == 0 {
		fmt.Fprintf(w, "%s holds no RBAC rules.\n", u)
		return nil
	}
	for i, s := range out.Scopes {
		if i > 0 {
			fmt.Fprintln(w)
		}
		var via []string
		for _, b := range s.Bindings {
			via = append(via, b.Kind+" "+qualified(b))
		}
		title := "Cluster-wide"
		if s.Scope != "cluster" {
			title = "Namespace " + s.Scope
		}
		fmt.Fprintf(w, "%s (through %s):\n", title, strings.Join(via, ", "))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if matrix {
			fmt.Fprintf(tw, "  RESOURCE\t%s\n", strings.ToUpper(strings.Join(rbac.MatrixVerbs, "\t")))
			for _, row := range s.Matrix {
				name := row.Resource
				if row.APIGroup != "" {
					name += "." + row.APIGroup
				}
				cells := make([]string, 0, len(rbac.MatrixVerbs))
				for _, v := range rbac.MatrixVerbs {
					cells = append(cells, string(row.Verbs[v]))
				}
				fmt.Fprintf(tw, "  %s\t%s\n", name, strings.Join(cells, "\t"))
			}
		} else {
			fmt.Fprintln(tw, "  APIGROUPS\tRESOURCES\tNAMES\tNON-RESOURCE URLS\tVERBS")
			for _, r := range s.Rules {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", list(quoteEmpty(r.APIGroups)), list(r.Resources), list(r.ResourceNames), list(r.NonResourceURLs), list(r.Verbs))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func list(v []string) string {
	if len(v) == 0 {
		return "-"
	}
	return strings.Join(v, ",")
}
