package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/remediation"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func newFixCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	in := newInputFlags()
	var out string
	var only []string
	var config string
	cmd := &cobra.Command{
		Use:   "fix [source flags] -o DIR",
		Short: "Write the remediation of findings as files to review and apply (kwid applies nothing)",
		Long: `Scan (like kwid scan) and write, for the findings kwid knows how to fix, files a user reviews
and applies:

  - ServiceAccounts with automountServiceAccountToken: false (KW-SA-001 default ServiceAccounts);
  - a dedicated ServiceAccount for each workload running as default, the workload pointed at
    it, and RoleBindings giving it what default held in that namespace (KW-SA-001);
  - bindings with the default ServiceAccount removed, or their deletion (KW-SA-001);
  - workloads with automountServiceAccountToken: false in their pod template (KW-SA-002);
  - deletion commands for legacy token Secrets (KW-TOK-001).

DIR gets one YAML file per object (kubectl apply -f DIR), a Kustomization listing them
(kubectl apply -k DIR), delete.sh with the deletions, and README.md saying what each file
fixes and what could break. Objects are written from the snapshot: compare with the live
objects first (kubectl diff -f DIR).`,
		Example: `  kwid fix --context prod -o fixes/ && kubectl diff -f fixes/
  kwid fix -f manifests/ --checks KW-SA-002 -o fixes/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErrorf("-o DIR is required")
			}
			for _, id := range only {
				if !slices.Contains(remediation.Checks, id) {
					return usageErrorf("--checks: kwid fix writes remediations for %s, not %q", strings.Join(remediation.Checks, ", "), id)
				}
			}
			if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
				return fmt.Errorf("output directory %s is not empty; choose a new one so old fixes are not mixed in", out)
			}
			cfg, err := loadConfig(config)
			if err != nil {
				return err
			}
			l, err := in.load(cmd.Context(), g, streams, cmd.Flags())
			if err != nil {
				return err
			}
			input := l.checksInput()
			input.Config = cfg
			var selected []*checks.Check
			for _, id := range remediation.Checks {
				if len(only) == 0 || slices.Contains(only, id) {
					c, err := checks.Lookup(id)
					if err != nil {
						return err
					}
					selected = append(selected, c)
				}
			}
			res := checks.Run(input, selected...)
			plan, err := remediation.Build(l.snap, res.Findings)
			if err != nil {
				return fmt.Errorf("planning fixes: %w", err)
			}
			files, err := plan.Files()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("writing fixes: %w", err)
			}
			for _, f := range files {
				mode := os.FileMode(0o644)
				if strings.HasSuffix(f.Name, ".sh") {
					mode = 0o755
				}
				if err := os.WriteFile(filepath.Join(out, f.Name), f.Content, mode); err != nil {
					return fmt.Errorf("writing fixes: %w", err)
				}
			}
			fmt.Fprintf(streams.ErrOut, "wrote %s: %d objects to apply, %d deletions, %d changes by hand, for %d findings (see %s)\n",
				out, len(plan.Objects), len(plan.Deletions), len(plan.Manual), len(res.Findings), filepath.Join(out, "README.md"))
			return nil
		},
	}
	in.addFlags(cmd.Flags())
	in.addCloudFlag(cmd.Flags())
	cmd.Flags().StringVarP(&out, "output", "o", "", "directory to write (must be new or empty)")
	cmd.Flags().StringSliceVar(&only, "checks", nil, "only these checks (comma-separated): "+strings.Join(remediation.Checks, ", "))
	cmd.Flags().StringVar(&config, "config", "", "check configuration, as for kwid scan")
	return cmd
}
