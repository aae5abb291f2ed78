package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/report"
	"github.com/kwid-dev/kwid/internal/rules"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

type scanOptions struct {
	input      *inputFlags
	outputs    []string
	outputFile string
	failOn     string
	config     string
	baseline   string
	writeBase  string
	rules      string
	auditLogs  []string
}

func newScanCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &scanOptions{input: newInputFlags()}
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Run the identity checks and report findings",
		Long: `Run kwid's checks on a live cluster (the current kubeconfig context), manifest files,
a saved snapshot or the embedded demo cluster, and report the findings.

A check whose input could not be read (a 403 on a kind, a kind missing from the files) is
listed as "not assessed", never as a pass.

Exit codes: 0 no finding at or above --fail-on (or no --fail-on), 1 error, 2 usage error,
3 findings at or above --fail-on, 4 some input documents could not be read.`,
		Example: `  kwid scan --demo
  kwid scan --context prod -o json | jq '.findings[] | select(.severity=="critical")'
  kwid scan -f manifests/ --fail-on high
  helm template my-chart | kwid scan -f -
  kwid scan --snapshot cluster.json.gz -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, g, streams)
		},
	}
	o.input.multiCluster = true
	o.input.addFlags(cmd.Flags())
	o.input.addCloudFlag(cmd.Flags())
	cmd.Flags().StringArrayVarP(&o.outputs, "output", "o", []string{"table"}, "output format: "+strings.Join(report.Formats, ", ")+"; FORMAT=FILE writes to a file; repeatable")
	cmd.Flags().StringVar(&o.outputFile, "output-file", "", "write the report to this file instead of stdout")
	cmd.Flags().StringVar(&o.config, "config", "", "YAML file tuning the checks: privileged namespaces, allowlist, severity overrides, disabled checks")
	cmd.Flags().StringVar(&o.rules, "rules", "", "directory (or file) of custom rules in CEL, run with the catalog (see docs/rules.md)")
	cmd.Flags().StringVar(&o.baseline, "baseline", "", "YAML file of accepted findings (check, object, reason, optional expires); expired entries are reported loudly")
	cmd.Flags().StringVar(&o.writeBase, "write-baseline", "", "write a baseline accepting the current findings to this file (fill in the reasons)")
	cmd.Flags().StringArrayVar(&o.auditLogs, "audit-log", nil, "audit log file for the KW-AUD checks (JSON lines, gzip detected); repeatable; - for stdin")
	cmd.Flags().StringVar(&o.failOn, "fail-on", "", "exit 3 when a finding is at or above this severity (critical, high, medium, low, info)")
	return cmd
}

// output is one requested rendering: a format and where it goes ("" = stdout).
type output struct{ format, file string }

// parseOutputs reads -o values: FORMAT or FORMAT=FILE; at most one goes to stdout
// (or to --output-file).
func parseOutputs(values []string, outputFile string) ([]output, error) {
	var outs []output
	toStdout := 0
	for _, v := range values {
		format, file, _ := strings.Cut(v, "=")
		if err := oneOf("output", format, report.Formats); err != nil {
			return nil, err
		}
		if file == "" {
			file = outputFile
			toStdout++
		}
		outs = append(outs, output{format: format, file: file})
	}
	if toStdout > 1 {
		return nil, usageErrorf("only one -o can go to stdout; give the others a file: -o FORMAT=FILE")
	}
	return outs, nil
}

func (o *scanOptions) run(cmd *cobra.Command, g *globalOptions, streams genericiooptions.IOStreams) error {
	outs, err := parseOutputs(o.outputs, o.outputFile)
	if err != nil {
		return err
	}
	var failOn checks.Severity
	if o.failOn != "" {
		var err error
		if failOn, err = checks.ParseSeverity(o.failOn); err != nil {
			return usageErrorf("--fail-on: %v", err)
		}
	}
	// Custom rules compile before any scan work: a broken rule fails fast.
	var custom *rules.Set
	if o.rules != "" {
		var err error
		if custom, err = rules.LoadDir(o.rules); err != nil {
			return err
		}
	}
	var base *checks.Baseline
	if o.baseline != "" {
		data, err := os.ReadFile(o.baseline)
		if err != nil {
			return fmt.Errorf("reading baseline: %w", err)
		}
		if base, err = checks.ParseBaseline(data); err != nil {
			return fmt.Errorf("reading baseline %s: %w", o.baseline, err)
		}
	}
	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	if multi, err := o.input.multi(); err != nil {
		return err
	} else if multi {
		return o.runMulti(cmd, g, streams, outs, failOn, custom, base, cfg)
	}
	start := time.Now()
	in, err := o.input.load(cmd.Context(), g, streams, cmd.Flags())
	if err != nil {
		return err
	}
	g.logger.Debug("input read", "took", time.Since(start).Round(time.Millisecond))
	boundHeap(g.logger)
	input := in.checksInput()
	input.Config = cfg
	if len(o.auditLogs) > 0 {
		if input.Usage, err = readAuditLogs(o.auditLogs, streams); err != nil {
			return err
		}
	}
	all := checks.All()
	if custom != nil {
		all = append(all, custom.Checks()...)
	}
	start = time.Now()
	res := checks.Run(input, all...)
	g.logger.Debug("checks ran", "checks", len(all), "findings", len(res.Findings), "took", time.Since(start).Round(time.Millisecond))
	if custom != nil {
		if errs := custom.Errors(); len(errs) > 0 {
			return fmt.Errorf("custom rules failed: %w", errors.Join(errs...))
		}
	}
	var baseRep *checks.BaselineReport
	if base != nil {
		rep := base.Apply(res, time.Now())
		baseRep = &rep
		for _, e := range rep.Expired {
			fmt.Fprintf(streams.ErrOut, "kwid: WARNING: baseline entry expired on %s, its findings are reported again: %s %s (%s)\n", e.Expires, e.Check, e.Object, e.Reason)
		}
		for _, e := range rep.Unused {
			fmt.Fprintf(streams.ErrOut, "kwid: baseline entry matches no finding (fixed? remove it): %s %s\n", e.Check, e.Object)
		}
	}
	scan := report.NewScan(in.snap, res, in.errors)
	// Nothing below reads the input (keep it so): the Snapshot and the checks' memos are
	// collected while the reports are written, and the GC marks the findings alone.
	incomplete := len(in.errors) > 0
	scan.KwidVersion = kwidVersion()
	scan.Baseline = baseRep
	if o.writeBase != "" {
		if err := writeBaselineFile(o.writeBase, res.Findings); err != nil {
			return err
		}
		fmt.Fprintf(streams.ErrOut, "wrote %s: %d accepted findings; give each a reason\n", o.writeBase, len(res.Findings))
	}

	for _, out := range outs {
		start = time.Now()
		if err := writeReport(streams.Out, out, scan); err != nil {
			return err
		}
		g.logger.Debug("report written", "format", out.format, "took", time.Since(start).Round(time.Millisecond))
	}
	switch {
	case o.failOn != "" && scan.AtOrAbove(failOn):
		return &exitError{code: ExitFindings}
	case incomplete:
		return &exitError{code: ExitIncomplete}
	}
	return nil
}

func writeBaselineFile(path string, findings []checks.Finding) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing baseline: %w", err)
	}
	if err := checks.WriteBaseline(f, findings); err != nil {
		f.Close()
		return fmt.Errorf("writing baseline %s: %w", path, err)
	}
	return f.Close()
}

func writeReport(stdout io.Writer, out output, scan *report.Scan) error {
	if out.file == "" {
		if out.format == "table" && isTerminal(stdout) && os.Getenv("NO_COLOR") == "" {
			return report.WriteTable(stdout, scan, true)
		}
		if err := report.Write(stdout, out.format, scan); err != nil {
			return fmt.Errorf("writing %s report: %w", out.format, err)
		}
		return nil
	}
	f, err := os.Create(out.file)
	if err != nil {
		return fmt.Errorf("writing %s report: %w", out.format, err)
	}
	if err := report.Write(f, out.format, scan); err != nil {
		f.Close()
		return fmt.Errorf("writing %s report to %s: %w", out.format, out.file, err)
	}
	return f.Close()
}
