// Package cli is kwid's command line: one file per command, each binding its flags into a
// struct and calling the library packages. It owns exit codes, logging and output streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Exit codes (documented in docs/cli.md).
const (
	ExitOK = 0
	// ExitError: kwid could not do what was asked (bad input, unreachable cluster...).
	ExitError = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
	// ExitFindings: findings at or above --fail-on.
	ExitFindings = 3
	// ExitIncomplete: some input documents could not be read; results cover the rest.
	ExitIncomplete = 4
)

// exitError carries an exit code; its message (if any) is printed once by Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// Main runs kwid with the process's arguments and streams and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	return ExitCode(Run(ctx, streams, os.Args[1:]), streams.ErrOut)
}

// ExitCode prints an error once and maps it to an exit code.
func ExitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "kwid: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "kwid: %v\n", err)
	return ExitError
}

// Run executes one kwid command line. Tests call it directly.
func Run(ctx context.Context, streams genericiooptions.IOStreams, args []string) error {
	root, g := newRoot(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if perr := g.profile.stop(); err == nil && perr != nil {
		err = perr
	}
	return err
}

type globalOptions struct {
	verbose bool
	logger  *slog.Logger
	profile profiler
}

func newRoot(streams genericiooptions.IOStreams) (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "kwid",
		Short: "Kubernetes workload identity: who can act as what, and how to cut it down",
		Long: `kwid audits how ServiceAccounts, their tokens, RBAC and the cloud identities mapped to
them are used in a Kubernetes cluster, from a live cluster, manifest files, a saved snapshot,
or the embedded demo cluster.

Try it without a cluster:  kwid scan --demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			g.logger = slog.New(slog.NewTextHandler(streams.ErrOut, &slog.HandlerOptions{Level: level}))
			return g.profile.start()
		},
	}
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug messages to stderr")
	g.profile.addFlags(root)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(
		newScanCommand(g, streams),
		newSnapshotCommand(g, streams),
		newCanCommand(g, streams),
		newWhoCanCommand(g, streams),
		newAccessCommand(g, streams),
		newFixCommand(g, streams),
		newDiffCommand(g, streams),
		newPathsCommand(g, streams),
		newExplainCommand(g, streams),
		newGraphCommand(g, streams),
		newUsageCommand(g, streams),
		newGenerateCommand(g, streams),
		newChecksCommand(streams),
		newPolicyCommand(streams),
		newControllerCommand(g, streams),
		newWebhookCommand(g, streams),
		newVersionCommand(streams),
		newTokenCommand(g, streams),
	)
	return root, g
}
