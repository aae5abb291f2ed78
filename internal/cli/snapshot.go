package cli

import (
	"fmt"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

type snapshotOptions struct {
	input  *inputFlags
	output string
}

func newSnapshotCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &snapshotOptions{input: newInputFlags()}
	cmd := &cobra.Command{
		Use:   "snapshot -o FILE",
		Short: "Collect a cluster once into a file, to analyse anywhere offline",
		Long: `Collect every identity-related object of a cluster (read-only) into a versioned snapshot
file that kwid reads back with --snapshot. The file is gzip-compressed when its name ends in
.gz; "-o -" writes uncompressed JSON to stdout. Secret data is never collected unless
--include-secret-data is given. Files (-f) and the demo can be snapshotted too.`,
		Example: `  kwid snapshot --context prod -o prod.json.gz
  kwid scan --snapshot prod.json.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.output == "" {
				return usageErrorf("-o FILE is required (use -o - for stdout)")
			}
			in, err := o.input.load(cmd.Context(), g, streams, cmd.Flags())
			if err != nil {
				return err
			}
			if o.output == "-" {
				err = inventory.Save(streams.Out, in.snap, false)
			} else {
				err = inventory.SaveFile(o.output, in.snap)
			}
			if err != nil {
				return err
			}
			if o.output != "-" {
				fmt.Fprintf(streams.ErrOut, "wrote %s: %s\n", o.output, summarize(in.snap))
			}
			if len(in.errors) > 0 {
				return &exitError{code: ExitIncomplete}
			}
			return nil
		},
	}
	o.input.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "file to write (.gz: compressed), or - for stdout")
	return cmd
}

// summarize counts objects per kind and names kinds that were not collected.
func summarize(s *inventory.Snapshot) string {
	var parts, missing []string
	total := 0
	for _, k := range inventory.AllKinds {
		total += s.Count(k)
		if st := s.StatusOf(k); st.State == inventory.Forbidden || st.State == inventory.Failed {
			missing = append(missing, fmt.Sprintf("%s (%s)", k, st.State))
		}
	}
	parts = append(parts, fmt.Sprintf("%d objects", total))
	if len(missing) > 0 {
		parts = append(parts, "not collected: "+strings.Join(missing, ", "))
	}
	return strings.Join(parts, "; ")
}
