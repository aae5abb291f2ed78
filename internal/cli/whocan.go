package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func newWhoCanCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	in := newInputFlags()
	in.kinds, in.queryNamespace = rbacKinds, true
	var output string
	var anyNamespace bool
	cmd := &cobra.Command{
		Use:   "who-can VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME] | who-can VERB /URL",
		Short: "List every subject allowed a request, through which binding; groups expanded to ServiceAccounts",
		Long: `List every subject (User, Group, ServiceAccount) that RBAC allows a request, with the
binding and role that allow it. Groups such as system:serviceaccounts:NS,
system:serviceaccounts and system:authenticated are also expanded to the existing
ServiceAccounts they cover. Members of system:masters are always allowed (RBAC is bypassed).

Without -n the question is cluster-wide (cluster-scoped resources, or all namespaces at
once); --any-namespace asks "in at least one namespace" and counts every RoleBinding.`,
		Example: `  kwid who-can get secrets -n kube-system --demo
  kwid who-can create pods/exec --any-namespace --demo
  kwid who-can impersonate users
  kwid who-can get /metrics -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return usageErrorf("want VERB RESOURCE [NAME] (see kwid who-can --help)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, []string{"table", "json", "yaml"}); err != nil {
				return err
			}
			namespace, name := "", ""
			if cmd.Flags().Changed("namespace") {
				namespace = *in.kube.Namespace
			}
			if len(args) == 3 {
				name = args[2]
			}
			req, err := rbac.ParseRequest(args[0], args[1], name, namespace)
			if err != nil {
				return usageErrorf("%v", err)
			}
			if anyNamespace && namespace != "" {
				return usageErrorf("use -n or --any-namespace, not both")
			}
			l, err := in.load(cmd.Context(), g, streams, cmd.Flags())
			if err != nil {
				return err
			}
			sas := make([]inventory.ObjectRef, 0, len(l.snap.ServiceAccounts))
			for _, sa := range l.snap.ServiceAccounts {
				sas = append(sas, inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sa.Namespace, Name: sa.Name})
			}
			res := rbac.NewIndex(l.snap).WhoCan(req, anyNamespace, sas)
			return writeWhoCan(streams.Out, output, res)
		},
	}
	in.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	cmd.Flags().BoolVar(&anyNamespace, "any-namespace", false, "allowed in at least one namespace (every RoleBinding counts)")
	return cmd
}

type whoCanJSON struct {
	Request         rbac.Request         `json:"request"`
	Subjects        []whoCanSubject      `json:"subjects"`
	ServiceAccounts []whoCanExpandedJSON `json:"serviceAccounts"`
}

type whoCanSubject struct {
	Kind      string     `json:"kind"`
	Namespace string     `json:"namespace,omitempty"`
	Name      string     `json:"name"`
	Binding   objectName `json:"binding"`
	Role      objectName `json:"role"`
	// Scope is "cluster" or the namespace the binding grants in.
	Scope string `json:"scope"`
}

type whoCanExpandedJSON struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Via       string `json:"via"`
}

func writeWhoCan(w io.Writer, format string, res *rbac.WhoCanResult) error {
	out := whoCanJSON{Request: res.Request, Subjects: []whoCanSubject{}, ServiceAccounts: []whoCanExpandedJSON{}}
	for _, a := range res.Subjects {
		b := a.Grant.Binding
		s := whoCanSubject{
			Kind: a.Subject.Kind, Namespace: a.Subject.Namespace, Name: a.Subject.Name,
			Binding: objectName{Kind: b.Kind, Namespace: b.Namespace, Name: b.Name},
			Role:    objectName{Kind: b.RoleRef.Kind, Name: b.RoleRef.Name},
			Scope:   "cluster",
		}
		if b.RoleRef.Kind == "Role" {
			s.Role.Namespace = b.Namespace
		}
		if a.Namespace != "" {
			s.Scope = a.Namespace
		}
		out.Subjects = append(out.Subjects, s)
	}
	for _, e := range res.ServiceAccounts {
		out.ServiceAccounts = append(out.ServiceAccounts, whoCanExpandedJSON(e))
	}
	if format == "json" || format == "yaml" {
		return encodeStructured(w, format, out)
	}
	fmt.Fprintf(w, "Who can %s (group system:masters always can):\n\n", res.Request)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tSCOPE\tVIA")
	for _, s := range out.Subjects {
		name := s.Name
		if s.Namespace != "" {
			name = s.Namespace + "/" + s.Name
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s %s -> %s %s\n", s.Kind, name, s.Scope, s.Binding.Kind, qualified(s.Binding), s.Role.Kind, s.Role.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(out.ServiceAccounts) > 0 {
		fmt.Fprintf(w, "\n%d more ServiceAccounts through groups:\n", len(out.ServiceAccounts))
		var via []string
		for _, e := range out.ServiceAccounts {
			via = append(via, fmt.Sprintf("  %s/%s (%s)", e.Namespace, e.Name, e.Via))
		}
		fmt.Fprintln(w, strings.Join(via, "\n"))
	}
	return nil
}

func qualified(o objectName) string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}
