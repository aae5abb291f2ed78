package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

type canOptions struct {
	input  *inputFlags
	groups []string
	file   string
	output string
}

func newCanCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &canOptions{input: newInputFlags()}
	o.input.kinds, o.input.queryNamespace = rbacKinds, true
	cmd := &cobra.Command{
		Use:   "can SUBJECT VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME] | can SUBJECT VERB /URL | can --file EXPECTATIONS",
		Short: "Decide whether a subject may do something, and say which binding, role and rule allow it",
		Long: `Answer an RBAC question exactly as the API server's authorizer would, with its reason.

SUBJECT is system:serviceaccount:NS:NAME, sa:NS/NAME, user:NAME (or a bare user name) or
group:NAME; --group adds groups to a user. Users get system:authenticated and ServiceAccounts
their implicit groups, as the API server adds them. Without -n the question is cluster-wide
(cluster-scoped resources, or all namespaces at once).

--file EXPECTATIONS answers a YAML or JSON list of queries
({subject, groups, verb, apiGroup, resource, subresource, namespace, name, nonResourceURL,
expect: allow|deny}) in order; with expect it is an RBAC test suite for CI.

Exit codes: 0 allowed (or every expectation met), 3 denied (or an expectation broken),
1 error, 2 usage error.`,
		Example: `  kwid can sa:orders/default get secrets -n orders --demo
  kwid can system:serviceaccount:ci:deployer create deployments.apps -n prod
  kwid can user:jane --group oncall delete pods/exec -n kube-system
  kwid can user:jane get /healthz
  kwid can --file rbac-expectations.yaml -f manifests/ -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, g, streams, args)
		},
	}
	o.input.addFlags(cmd.Flags())
	cmd.Flags().StringArrayVar(&o.groups, "group", nil, "add a group to the subject (repeatable)")
	cmd.Flags().StringVar(&o.file, "file", "", "YAML or JSON list of queries to answer (- for stdin)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

// answer is one query's result; its JSON is the contract of `kwid can -o json`.
type answer struct {
	Subject string             `json:"subject"`
	User    rbac.User          `json:"user"`
	Request rbac.Request       `json:"request"`
	Allowed bool               `json:"allowed"`
	Reason  string             `json:"reason"`
	Binding *objectName        `json:"binding,omitempty"`
	Role    *objectName        `json:"role,omitempty"`
	Rule    *rbacv1.PolicyRule `json:"rule,omitempty"`
	// RoleAggregated: the role's rules were computed from its aggregationRule.
	RoleAggregated bool   `json:"roleAggregated,omitempty"`
	Expect         string `json:"expect,omitempty"`
	// OK is false when an expectation is not met.
	OK *bool `json:"ok,omitempty"`
}

type objectName struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (o *canOptions) run(cmd *cobra.Command, g *globalOptions, streams genericiooptions.IOStreams, args []string) error {
	if err := oneOf("output", o.output, []string{"table", "json", "yaml"}); err != nil {
		return err
	}
	namespace := ""
	if cmd.Flags().Changed("namespace") {
		namespace = *o.input.kube.Namespace
	}
	var queries []rbac.Query
	switch {
	case o.file != "" && len(args) > 0:
		return usageErrorf("give a query as arguments or --file, not both")
	case o.file != "":
		data, err := readInput(o.file, streams.In)
		if err != nil {
			return err
		}
		if queries, err = rbac.ParseQueries(data); err != nil {
			return fmt.Errorf("reading %s: %w", o.file, err)
		}
	case len(args) < 3 || len(args) > 4:
		return usageErrorf("want SUBJECT VERB RESOURCE [NAME] or --file EXPECTATIONS (see kwid can --help)")
	default:
		q := rbac.Query{Subject: args[0], Groups: o.groups, Verb: args[1], Namespace: namespace}
		if len(args) == 4 {
			q.Name = args[3]
		}
		if strings.HasPrefix(args[2], "/") {
			q.NonResourceURL = args[2]
		} else {
			q.Resource = args[2]
		}
		if _, _, err := q.Resolve(); err != nil {
			return usageErrorf("%v", err)
		}
		queries = []rbac.Query{q}
	}

	in, err := o.input.load(cmd.Context(), g, streams, cmd.Flags())
	if err != nil {
		return err
	}
	ix := rbac.NewIndex(in.snap)
	answers := make([]answer, 0, len(queries))
	failed := 0
	for _, q := range queries {
		u, r, _ := q.Resolve() // validated above
		d := ix.Authorize(u, r)
		a := answer{Subject: q.Subject, User: u, Request: r, Allowed: d.Allowed, Reason: d.Reason, Expect: q.Expect}
		if d.Grant != nil {
			b := d.Grant.Binding
			a.Binding = &objectName{Kind: b.Kind, Namespace: b.Namespace, Name: b.Name}
			a.Role = &objectName{Kind: b.RoleRef.Kind, Name: b.RoleRef.Name}
			if b.RoleRef.Kind == "Role" {
				a.Role.Namespace = b.Namespace
			}
			a.Rule = d.Grant.Rule()
			a.RoleAggregated = b.RoleAggregated
		}
		if q.Expect != "" {
			ok := (q.Expect == "allow") == d.Allowed
			a.OK = &ok
			if !ok {
				failed++
			}
		} else if o.file == "" && !d.Allowed {
			failed++
		}
		answers = append(answers, a)
	}
	if err := writeAnswers(streams.Out, o.output, answers, o.file != ""); err != nil {
		return err
	}
	if failed > 0 {
		if o.file != "" {
			fmt.Fprintf(streams.ErrOut, "%d of %d expectations not met\n", failed, len(answers))
		}
		return &exitError{code: ExitFindings}
	}
	return nil
}

func writeAnswers(w io.Writer, format string, answers []answer, list bool) error {
	var v any = answers
	if !list {
		v = answers[0]
	}
	if format == "json" || format == "yaml" {
		return encodeStructured(w, format, v)
	}
	for i, a := range answers {
		if list {
			mark := ""
			if a.OK != nil && !*a.OK {
				mark = fmt.Sprintf("  EXPECTED %s", strings.ToUpper(a.Expect))
			}
			fmt.Fprintf(w, "%d. %s %s: %s%s\n   %s\n", i+1, a.Subject, a.Request, yesNo(a.Allowed), mark, a.Reason)
			continue
		}
		fmt.Fprintln(w, yesNo(a.Allowed))
		fmt.Fprintln(w, a.Reason)
		if a.Rule != nil {
			fmt.Fprintf(w, "rule: %s\n", rbac.DescribeRule(a.Rule))
			if a.RoleAggregated {
				fmt.Fprintf(w, "(%s %s: rules computed from its aggregationRule)\n", a.Role.Kind, a.Role.Name)
			}
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func quoteEmpty(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = s
		if s == "" {
			out[i] = `""`
		}
	}
	return out
}

// readInput reads a file, or stdin for "-".
func readInput(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading queries: %w", err)
	}
	return data, nil
}
