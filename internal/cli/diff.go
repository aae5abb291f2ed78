package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/drift"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/report"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// diffFormats are the output formats of kwid diff.
var diffFormats = []string{"table", "json", "markdown", "sarif"}

// contextPrefix marks a side that is a live cluster: context:NAME.
const contextPrefix = "context:"

type diffOptions struct {
	output     string
	failOnNew  string
	config     string
	kubeconfig string
	maxDocMiB  int
	// cloud applies to both sides; oldCloud and newCloud to one (docs/cloud.md).
	cloud, oldCloud, newCloud []string
}

func newDiffCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &diffOptions{maxDocMiB: inventory.DefaultMaxDocumentSize >> 20}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show what changed between two points in time: findings, permissions, cloud mappings",
		Long: `Compare two states of a cluster and report what the change introduces: findings added,
fixed or changed in severity, the effective permissions each ServiceAccount, User and Group
gained or lost (compacted rules by scope), ServiceAccount cloud mappings added, removed or
changed (IRSA, GKE and Azure Workload Identity), and the RBAC objects behind them.

Each side is one of:
  a saved snapshot file     written by kwid snapshot (detected from its header)
  manifests                 a directory (recursive) or a YAML/JSON file, e.g. rendered charts
  context:NAME              a live cluster: that context of the kubeconfig
  -                         manifests on stdin (one side only)

A kind absent from a side's input counts as none on that side; a kind that could not be read
(forbidden, error) is reported as not assessed.

Exit codes: 0 nothing introduced at or above --fail-on-new (or no --fail-on-new), 1 error,
2 usage error, 3 a finding added or raised to at least --fail-on-new, 4 some input documents
could not be read.`,
		Example: `  kwid diff before.json.gz after.json.gz
  kwid diff context:prod prod-last-week.json.gz -o markdown
  kwid diff rendered-main/ rendered-pr/ --fail-on-new high -o sarif > new-findings.sarif`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("want two sides, OLD and NEW (see kwid diff --help)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), g, streams, args[0], args[1])
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: "+strings.Join(diffFormats, ", "))
	cmd.Flags().StringVar(&o.failOnNew, "fail-on-new", "", "exit 3 when a finding at or above this severity is added or raised to it (critical, high, medium, low, info); existing findings never fail")
	cmd.Flags().StringVar(&o.config, "config", "", "YAML file tuning the checks on both sides (see kwid scan --config)")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for context:NAME sides (default: KUBECONFIG or ~/.kube/config)")
	cmd.Flags().IntVar(&o.maxDocMiB, "max-document-size", o.maxDocMiB, "largest YAML document read from files, in MiB")
	cmd.Flags().StringArrayVar(&o.cloud, "cloud", nil, "cloud CLI JSON (file or directory, see docs/cloud.md) for both sides; repeatable")
	cmd.Flags().StringArrayVar(&o.oldCloud, "old-cloud", nil, "cloud CLI JSON for OLD only (with --cloud: added to it); repeatable")
	cmd.Flags().StringArrayVar(&o.newCloud, "new-cloud", nil, "cloud CLI JSON for NEW only (with --cloud: added to it); repeatable")
	return cmd
}

// loadCloud reads one side's cloud input (nil when none is given).
func (o *diffOptions) loadCloud(label string, side []string) (*cloud.Inventory, error) {
	paths := append(slices.Clone(o.cloud), side...)
	if len(paths) == 0 {
		return nil, nil
	}
	inv, err := cloud.Load(paths)
	if err != nil {
		return nil, fmt.Errorf("%s cloud input: %w", label, err)
	}
	return inv, nil
}

func (o *diffOptions) run(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams, oldArg, newArg string) error {
	if err := oneOf("output", o.output, diffFormats); err != nil {
		return err
	}
	var failOn checks.Severity
	if o.failOnNew != "" {
		var err error
		if failOn, err = checks.ParseSeverity(o.failOnNew); err != nil {
			return usageErrorf("--fail-on-new: %v", err)
		}
	}
	if oldArg == "-" && newArg == "-" {
		return usageErrorf("only one side can be read from stdin")
	}
	if o.maxDocMiB <= 0 {
		return usageErrorf("--max-document-size must be positive")
	}
	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}

	// Fail on a side that is not there before scanning the other one.
	for _, side := range []struct{ label, arg string }{{"OLD", oldArg}, {"NEW", newArg}} {
		if side.arg == "-" || strings.HasPrefix(side.arg, contextPrefix) {
			continue
		}
		if _, err := os.Stat(side.arg); err != nil {
			return sideError(side.label, side.arg, err)
		}
	}
	// The cloud side is small and its errors are the user's to fix first.
	oldCloud, err := o.loadCloud("OLD", o.oldCloud)
	if err != nil {
		return err
	}
	newCloud, err := o.loadCloud("NEW", o.newCloud)
	if err != nil {
		return err
	}
	var old, new *drift.Side
	var inputErrors int
	var mu sync.Mutex
	scan := func(ctx context.Context, label, arg string) (*drift.Side, error) {
		l, err := o.loadSide(ctx, g, streams, label, arg)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		inputErrors += len(l.errors)
		mu.Unlock()
		c := oldCloud
		if label == "NEW" {
			c = newCloud
		}
		return drift.NewSideWithCloud(drift.AbsentAsEmpty(l.snap), cfg, c), nil
	}
	if strings.HasPrefix(oldArg, contextPrefix) || strings.HasPrefix(newArg, contextPrefix) {
		// A live side waits on the network: collect both at once.
		eg, ectx := errgroup.WithContext(ctx)
		eg.Go(func() (err error) { old, err = scan(ectx, "OLD", oldArg); return err })
		eg.Go(func() (err error) { new, err = scan(ectx, "NEW", newArg); return err })
		if err := eg.Wait(); err != nil {
			return err
		}
	} else {
		// Files and snapshots: one side after the other, so that only one full Snapshot
		// is in memory at a time (a Side keeps only what the comparison reads); on a
		// saved XL cluster this is as fast as both at once.
		var err error
		if old, err = scan(ctx, "OLD", oldArg); err != nil {
			return err
		}
		if new, err = scan(ctx, "NEW", newArg); err != nil {
			return err
		}
	}

	res := drift.CompareSides(old, new)
	res.KwidVersion = kwidVersion()
	if err := writeDiff(streams.Out, o.output, res, new.Snapshot()); err != nil {
		return fmt.Errorf("writing %s diff: %w", o.output, err)
	}
	switch {
	case o.failOnNew != "" && len(res.Introduced(failOn)) > 0:
		return &exitError{code: ExitFindings}
	case inputErrors > 0:
		return &exitError{code: ExitIncomplete}
	}
	return nil
}

// loadSide reads one side: context:NAME, a saved snapshot, or manifests. Errors name the
// side and what it is.
func (o *diffOptions) loadSide(ctx context.Context, g *globalOptions, streams genericiooptions.IOStreams, label, arg string) (*loaded, error) {
	if arg == "" {
		return nil, usageErrorf("%s: empty side (want a snapshot file, a manifest file or directory, or context:NAME)", label)
	}
	if name, ok := strings.CutPrefix(arg, contextPrefix); ok {
		if name == "" {
			return nil, usageErrorf("%s %q: want context:NAME (a context of the kubeconfig)", label, arg)
		}
		in := &inputFlags{kube: genericclioptions.NewConfigFlags(true)}
		in.kube.Context = &name
		if o.kubeconfig != "" {
			in.kube.KubeConfig = &o.kubeconfig
		}
		l, err := in.loadLive(ctx, g, streams, inventory.Options{})
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", label, arg, err)
		}
		return l, nil
	}
	if arg != "-" {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, sideError(label, arg, err)
		}
		if !st.IsDir() {
			saved, err := isSavedSnapshot(arg)
			if err != nil {
				return nil, sideError(label, arg, err)
			}
			if saved {
				s, err := inventory.LoadFile(arg)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", label, err) // names the snapshot file
				}
				return &loaded{snap: s}, nil
			}
		}
	}
	s, errs, err := inventory.LoadFiles(ctx, []string{arg}, inventory.FileOptions{
		MaxDocumentSize: o.maxDocMiB << 20, Stdin: streams.In, Logger: g.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", label, arg, err)
	}
	for _, e := range errs {
		fmt.Fprintf(streams.ErrOut, "kwid: %s: skipped %v\n", label, e)
	}
	return &loaded{snap: s, errors: errs}, nil
}

// sideError names the side and its path; an *os.PathError's own path is dropped.
func sideError(label, arg string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == arg {
		err = pe.Err
	}
	return fmt.Errorf("reading %s %s: %w", label, arg, err)
}

// isSavedSnapshot reports whether a file is a kwid snapshot: gzip-compressed (manifests
// never are), or JSON lines starting with the snapshot header.
func isSavedSnapshot(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return true, nil
	}
	head, _ := br.Peek(64)
	return bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte(`{"apiVersion":"kwid.dev/`)), nil
}

func writeDiff(w io.Writer, format string, r *drift.Result, newSnap *inventory.Snapshot) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	case "sarif":
		// The added findings only: what a pull request introduces, for code scanning.
		res := &checks.Result{Findings: r.Findings.Added, NotAssessed: []checks.NotAssessed{}, Allowlisted: []checks.Allowlisted{}, Suppressed: []checks.Suppressed{}}
		scan := report.NewScan(newSnap, res, nil)
		scan.KwidVersion = r.KwidVersion
		return report.WriteSARIF(w, scan, checks.All(), r.KwidVersion)
	case "markdown":
		return writeDiffMarkdown(w, r)
	}
	return writeDiffTable(w, r)
}

// sideName names a side for people: its source and name.
func sideName(c inventory.Cluster) string {
	if c.Name == "" {
		return c.Source
	}
	return c.Source + " " + c.Name
}

func diffSummary(r *drift.Result) string {
	s := r.Summary
	return fmt.Sprintf("%d findings added, %d fixed, %d changed in severity; %d identities with changed permissions; %d escalation paths changed; %d cloud mappings changed; %d RBAC objects changed",
		s.FindingsAdded, s.FindingsFixed, s.FindingsChanged, s.Identities, s.Paths, s.CloudMappings, s.Objects)
}

func writeDiffTable(w io.Writer, r *drift.Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "OLD: %s\nNEW: %s\n", sideName(r.Old), sideName(r.New))
	section := func(title string, n int, rows func(tw *tabwriter.Writer)) {
		if n == 0 {
			return
		}
		fmt.Fprintf(bw, "\n%s (%d)\n", title, n)
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		rows(tw)
		tw.Flush()
	}
	section("Findings added", len(r.Findings.Added), func(tw *tabwriter.Writer) {
		for _, f := range r.Findings.Added {
			fmt.Fprintf(tw, "  + %s\t%s\t%s\t%s\n", strings.ToUpper(f.Severity.String()), f.Check, f.Object, f.Message)
		}
	})
	section("Findings changed in severity", len(r.Findings.Changed), func(tw *tabwriter.Writer) {
		for _, c := range r.Findings.Changed {
			fmt.Fprintf(tw, "  ~ %s (was %s)\t%s\t%s\t%s\n", strings.ToUpper(c.Severity.String()), c.OldSeverity, c.Check, c.Object, c.Message)
		}
	})
	section("Findings fixed", len(r.Findings.Fixed), func(tw *tabwriter.Writer) {
		for _, f := range r.Findings.Fixed {
			fmt.Fprintf(tw, "  - %s\t%s\t%s\t%s\n", strings.ToUpper(f.Severity.String()), f.Check, f.Object, f.Message)
		}
	})
	section("Effective permissions gained (+) and lost (-)", len(r.Identities), func(tw *tabwriter.Writer) {
		for _, id := range r.Identities {
			name := id.Identity.String()
			if id.ServiceAccounts > 0 {
				name += fmt.Sprintf(" (%d ServiceAccounts)", id.ServiceAccounts)
			}
			for _, l := range permissionLines(id) {
				fmt.Fprintf(tw, "  %s\t%s\n", name, l)
				name = ""
			}
		}
	})
	section("Escalation paths gained (+) and lost (-), to cluster-admin and to cloud roles", len(r.Paths), func(tw *tabwriter.Writer) {
		for _, p := range r.Paths {
			sign := map[drift.Change]string{drift.Added: "+", drift.Removed: "-"}[p.Change]
			fmt.Fprintf(tw, "  %s %s -> %s\n", sign, p.From, p.To)
			for _, step := range p.Steps {
				fmt.Fprintf(tw, "      %s\n", step)
			}
		}
	})
	section("Cloud mappings", len(r.CloudMappings), func(tw *tabwriter.Writer) {
		for _, m := range r.CloudMappings {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", m.ServiceAccount, m.Change, m.Annotation, cloudValue(m))
		}
	})
	section("RBAC objects", len(r.Objects), func(tw *tabwriter.Writer) {
		for _, o := range r.Objects {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Change, o.Object, objectDetail(o))
		}
	})
	var oneSided []drift.NotAssessed
	for _, n := range r.NotAssessed {
		if n.Side != "both" {
			oneSided = append(oneSided, n)
		}
	}
	if len(oneSided) > 0 {
		fmt.Fprintln(bw, "\nNot assessed on one side only (its findings may show as added or fixed):")
		for _, n := range oneSided {
			fmt.Fprintf(bw, "  %s: %s: %s\n", strings.ToUpper(n.Side), n.Check, n.Reason)
		}
	}
	if r.Empty() {
		fmt.Fprintln(bw, "\nNo change.")
	} else {
		fmt.Fprintf(bw, "\n%s.\n", diffSummary(r))
	}
	return bw.Flush()
}

// permissionLines renders an identity's gained and lost rules, one per line.
func permissionLines(id drift.IdentityChange) []string {
	var out []string
	for _, part := range []struct {
		sign   string
		scopes []drift.Scope
	}{{"+", id.Gained}, {"-", id.Lost}} {
		for _, s := range part.scopes {
			for _, r := range s.Rules {
				out = append(out, fmt.Sprintf("%s %s\t%s", part.sign, scopeName(s.Namespace), ruleString(r)))
			}
		}
	}
	return out
}

func scopeName(ns string) string {
	if ns == "" {
		return "cluster-wide"
	}
	return "namespace " + ns
}

// ruleString renders a rule like kubectl auth can-i: verbs, then resources (with their
// group) and names, or non-resource URLs.
func ruleString(r rbacv1.PolicyRule) string {
	verbs := strings.Join(r.Verbs, ",")
	if len(r.NonResourceURLs) > 0 {
		return verbs + " " + strings.Join(r.NonResourceURLs, ",")
	}
	var res []string
	for _, g := range r.APIGroups {
		for _, x := range r.Resources {
			if g != "" {
				x += "." + g
			}
			res = append(res, x)
		}
	}
	s := verbs + " " + strings.Join(res, ",")
	if len(r.ResourceNames) > 0 {
		s += " [" + strings.Join(r.ResourceNames, ",") + "]"
	}
	return s
}

func cloudValue(m drift.CloudMappingChange) string {
	switch m.Change {
	case drift.Added:
		return m.New
	case drift.Removed:
		return m.Old
	}
	return m.Old + " -> " + m.New
}

func subjectString(s rbacv1.Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind && s.Namespace != "" {
		return s.Kind + " " + s.Namespace + "/" + s.Name
	}
	return s.Kind + " " + s.Name
}

func objectDetail(o drift.ObjectChange) string {
	var parts []string
	if o.RoleRef != nil {
		ref := o.RoleRef.Kind + " " + o.RoleRef.Name
		if o.OldRoleRef != nil {
			ref = o.OldRoleRef.Kind + " " + o.OldRoleRef.Name + " -> " + ref
		}
		parts = append(parts, "role "+ref)
	}
	for _, s := range o.SubjectsAdded {
		parts = append(parts, "+"+subjectString(s))
	}
	for _, s := range o.SubjectsRemoved {
		parts = append(parts, "-"+subjectString(s))
	}
	for _, r := range o.RulesAdded {
		parts = append(parts, "+"+ruleString(r))
	}
	for _, r := range o.RulesRemoved {
		parts = append(parts, "-"+ruleString(r))
	}
	return strings.Join(parts, "; ")
}

// writeDiffMarkdown renders a diff for a pull-request comment.
func writeDiffMarkdown(w io.Writer, r *drift.Result) error {
	var b strings.Builder
	s := r.Summary
	fmt.Fprintf(&b, "### kwid diff: %d findings added, %d fixed, %d changed in severity\n\n", s.FindingsAdded, s.FindingsFixed, s.FindingsChanged)
	fmt.Fprintf(&b, "From %s to %s: %s.\n\n", md(sideName(r.Old)), md(sideName(r.New)), diffSummary(r))
	if s.FindingsAdded+s.FindingsFixed+s.FindingsChanged > 0 {
		b.WriteString("| Change | Severity | Check | Object | Finding |\n|---|---|---|---|---|\n")
		for _, f := range r.Findings.Added {
			fmt.Fprintf(&b, "| added | **%s** | %s | `%s` | %s |\n", f.Severity, f.Check, f.Object, md(f.Message))
		}
		for _, c := range r.Findings.Changed {
			verb := "lowered"
			if c.Raised() {
				verb = "raised"
			}
			fmt.Fprintf(&b, "| %s | **%s** (was %s) | %s | `%s` | %s |\n", verb, c.Severity, c.OldSeverity, c.Check, c.Object, md(c.Message))
		}
		for _, f := range r.Findings.Fixed {
			fmt.Fprintf(&b, "| fixed | ~~%s~~ | %s | `%s` | %s |\n", f.Severity, f.Check, f.Object, md(f.Message))
		}
		b.WriteString("\n")
	}
	if len(r.Identities) > 0 {
		b.WriteString("#### Effective permissions\n\n| Identity | | Scope | Rule |\n|---|---|---|---|\n")
		for _, id := range r.Identities {
			name := "`" + id.Identity.String() + "`"
			if id.ServiceAccounts > 0 {
				name += fmt.Sprintf(" (%d ServiceAccounts)", id.ServiceAccounts)
			}
			for _, part := range []struct {
				label  string
				scopes []drift.Scope
			}{{"gained", id.Gained}, {"lost", id.Lost}} {
				for _, sc := range part.scopes {
					for _, rule := range sc.Rules {
						fmt.Fprintf(&b, "| %s | %s | %s | `%s` |\n", name, part.label, scopeName(sc.Namespace), md(ruleString(rule)))
					}
				}
			}
		}
		b.WriteString("\n")
	}
	if len(r.Paths) > 0 {
		b.WriteString("#### Escalation paths\n\n| Identity | Change | To | Path |\n|---|---|---|---|\n")
		for _, p := range r.Paths {
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", p.From, map[drift.Change]string{drift.Added: "gained", drift.Removed: "lost"}[p.Change], p.To, md(strings.Join(p.Steps, "<br>")))
		}
		b.WriteString("\n")
	}
	if len(r.CloudMappings) > 0 {
		b.WriteString("#### Cloud mappings\n\n| ServiceAccount | Change | Annotation | Value |\n|---|---|---|---|\n")
		for _, m := range r.CloudMappings {
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", m.ServiceAccount, m.Change, m.Annotation, md(cloudValue(m)))
		}
		b.WriteString("\n")
	}
	if len(r.Objects) > 0 {
		fmt.Fprintf(&b, "<details><summary>%d RBAC objects changed</summary>\n\n", len(r.Objects))
		for _, o := range r.Objects {
			fmt.Fprintf(&b, "- %s `%s`: %s\n", o.Change, o.Object, md(objectDetail(o)))
		}
		b.WriteString("\n</details>\n")
	}
	if r.Empty() {
		b.WriteString("No change.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// md keeps text inside one Markdown table cell.
func md(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "<", "&lt;")
}
