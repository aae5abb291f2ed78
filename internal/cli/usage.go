package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/usage"
	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

type usageOptions struct {
	input     *inputFlags
	auditLogs []string
	subjects  []string
	output    string
}

func newUsageCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &usageOptions{input: newInputFlags()}
	o.input.kinds = rbacKinds
	cmd := &cobra.Command{
		Use:   "usage --audit-log FILE... [-f PATH... | --snapshot F | --demo | cluster flags]",
		Short: "Compare what identities used (audit logs) with what RBAC grants them",
		Long: `Read Kubernetes audit logs (audit.k8s.io/v1 Events as JSON lines, gzip or not, EKS
CloudWatch exports, - for stdin) in one pass, and report per identity: the permissions it used,
the granted rules no request used, the bindings never named as the allowing one, and the
ServiceAccounts of the cluster that made no request. RBAC comes from the cluster, files, a
snapshot or the demo, as for kwid scan.

Only allowed, completed requests count as used (stage ResponseComplete, or ResponseStarted for
watch; decision allow; status below 400), each auditID once; refused ones are listed as
attempted. Malformed lines are reported with file and line number and skipped.

Exit codes: 0 done, 1 error, 2 usage error, 4 some lines could not be read.`,
		Example: `  kwid usage --audit-log /var/log/kubernetes/audit.log
  kwid usage --audit-log audit-1.log.gz --audit-log audit-2.log.gz --snapshot cluster.json.gz -o json
  zcat audit.log.gz | kwid usage --audit-log - -f rbac/ --for sa:shop/orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, g, streams)
		},
	}
	o.input.addFlags(cmd.Flags())
	cmd.Flags().StringArrayVar(&o.auditLogs, "audit-log", nil, "audit log file (JSON lines, gzip detected); repeatable; - for stdin")
	cmd.Flags().StringArrayVar(&o.subjects, "for", nil, "only this identity (sa:NS/NAME, system:serviceaccount:NS:NAME, user:NAME); repeatable")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

// readAuditLogs reads the logs and reports malformed lines on stderr.
func readAuditLogs(paths []string, streams genericiooptions.IOStreams) (*usage.Report, error) {
	for _, p := range paths {
		if p == "-" && inputUsesStdin(paths) > 1 {
			return nil, usageErrorf("- (stdin) can be given once")
		}
	}
	rep, err := usage.ReadFiles(paths, streams.In)
	if err != nil {
		return nil, err
	}
	for i, p := range rep.Problems {
		if i == 20 {
			fmt.Fprintf(streams.ErrOut, "kwid: ... and %d more malformed lines\n", rep.Stats.Malformed-20)
			break
		}
		fmt.Fprintf(streams.ErrOut, "kwid: skipped %s\n", p)
	}
	if rep.Stats.Events == 0 {
		fmt.Fprintf(streams.ErrOut, "kwid: WARNING: no audit events in %s\n", strings.Join(paths, ", "))
	}
	return rep, nil
}

func inputUsesStdin(paths []string) int {
	n := 0
	for _, p := range paths {
		if p == "-" {
			n++
		}
	}
	return n
}

// subjectNames resolves --for values to usernames.
func subjectNames(values []string) (map[string]bool, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]bool{}
	for _, v := range values {
		u, err := rbac.ParseUser(v, nil)
		if err != nil || u.Name == "" {
			return nil, usageErrorf("--for %q: want sa:NS/NAME, system:serviceaccount:NS:NAME or user:NAME", v)
		}
		out[u.Name] = true
	}
	return out, nil
}

func (o *usageOptions) run(cmd *cobra.Command, g *globalOptions, streams genericiooptions.IOStreams) error {
	if err := oneOf("output", o.output, []string{"table", "json", "yaml"}); err != nil {
		return err
	}
	if len(o.auditLogs) == 0 {
		return usageErrorf("--audit-log FILE is required")
	}
	only, err := subjectNames(o.subjects)
	if err != nil {
		return err
	}
	rep, err := readAuditLogs(o.auditLogs, streams)
	if err != nil {
		return err
	}
	in, err := o.input.load(cmd.Context(), g, streams, cmd.Flags())
	if err != nil {
		return err
	}
	c := usage.Compare(rep, rbac.NewIndex(in.snap), in.snap)
	if only != nil {
		kept := c.Identities[:0]
		for _, iu := range c.Identities {
			if only[iu.User.Name] {
				kept = append(kept, iu)
			}
		}
		c.Identities = kept
		sas := c.UnusedServiceAccounts[:0]
		for _, sa := range c.UnusedServiceAccounts {
			if only[rbac.ServiceAccountUsername(sa.Namespace, sa.Name)] {
				sas = append(sas, sa)
			}
		}
		c.UnusedServiceAccounts = sas
	}
	switch o.output {
	case "json", "yaml":
		err = encodeStructured(streams.Out, o.output, c)
	default:
		err = writeUsageTable(streams.Out, c)
	}
	if err != nil {
		return fmt.Errorf("writing usage: %w", err)
	}
	if rep.Stats.Malformed > 0 || len(in.errors) > 0 {
		return &exitError{code: ExitIncomplete}
	}
	return nil
}

func writeUsageTable(w io.Writer, c *usage.Comparison) error {
	s := c.Stats
	fmt.Fprintf(w, "Audit logs: %d file(s), %d events: %d allowed, %d forbidden, %d failed, %d duplicates, %d malformed lines\n",
		s.Files, s.Events, s.Allowed, s.Forbidden, s.Failed, s.Duplicates, s.Malformed)
	if c.From != "" {
		fmt.Fprintf(w, "Window: %s .. %s\n", c.From, c.To)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tALLOWED\tFORBIDDEN\tUSED\tUNUSED RULES\tUNUSED BINDINGS\tLEGACY TOKEN")
	for _, iu := range c.Identities {
		used := 0
		for _, sr := range iu.UsedRules {
			used += len(sr.Rules)
		}
		unusedRules, unusedBindings := "-", "-"
		if iu.Assessed {
			unusedRules, unusedBindings = fmt.Sprint(len(iu.Unused)), fmt.Sprint(len(iu.UnusedBindings))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%d\n", iu.User.Name, iu.Allowed, iu.Forbidden, used, unusedRules, unusedBindings, iu.LegacyToken)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, iu := range c.Identities {
		if len(iu.Unused) == 0 && len(iu.UnusedBindings) == 0 && len(iu.Attempted) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", iu.User.Name)
		for _, sr := range iu.UsedRules {
			scope := "cluster-wide"
			if sr.Namespace != "" {
				scope = "in " + sr.Namespace
			}
			for _, r := range sr.Rules {
				fmt.Fprintf(w, "  used %s: %s\n", scope, ruleText(r))
			}
		}
		for _, u := range iu.Unused {
			if u.Partly {
				fmt.Fprintf(w, "  unused: %s (%s): never %s\n", u.Binding, u.Role, strings.Join(u.UnusedParts, ", "))
			} else {
				fmt.Fprintf(w, "  unused: %s (%s): %s\n", u.Binding, u.Role, ruleText(u.Rule))
			}
		}
		for _, b := range iu.UnusedBindings {
			fmt.Fprintf(w, "  binding never used: %s\n", b)
		}
		for _, a := range iu.Attempted {
			fmt.Fprintf(w, "  forbidden: %s (%d)\n", a.Request, a.Count)
		}
	}
	if len(c.UnusedServiceAccounts) > 0 {
		fmt.Fprintf(w, "\nServiceAccounts with no request in the window (%d):\n", len(c.UnusedServiceAccounts))
		for _, sa := range c.UnusedServiceAccounts {
			b := ""
			if len(sa.Bindings) > 0 {
				b = " (bound by " + strings.Join(sa.Bindings, ", ") + ")"
			}
			fmt.Fprintf(w, "  %s/%s%s\n", sa.Namespace, sa.Name, b)
		}
	}
	return nil
}

func ruleText(r rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 {
		return strings.Join(r.Verbs, ",") + " " + strings.Join(r.NonResourceURLs, ",")
	}
	var res []string
	for _, g := range r.APIGroups {
		for _, x := range r.Resources {
			name, sub, ok := strings.Cut(x, "/")
			if g != "" {
				name += "." + g
			}
			if ok {
				name += "/" + sub
			}
			res = append(res, name)
		}
	}
	s := strings.Join(r.Verbs, ",") + " " + strings.Join(res, ",")
	if len(r.ResourceNames) > 0 {
		s += " [" + strings.Join(r.ResourceNames, ",") + "]"
	}
	return s
}
