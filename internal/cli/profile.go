package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// profiler writes a Go pprof profile of one kwid run (--profile, as kubectl's): how
// performance figures in docs/performance.md are explained.
type profiler struct {
	kind   string
	output string
	cpu    *os.File
}

func (p *profiler) addFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&p.kind, "profile", "none", "write a Go pprof profile of this run: none, cpu or heap (after the command)")
	cmd.PersistentFlags().StringVar(&p.output, "profile-output", "profile.pprof", "file the --profile profile is written to")
}

// start begins a CPU profile; the heap profile is written by stop.
func (p *profiler) start() error {
	switch p.kind {
	case "none", "heap":
		return nil
	case "cpu":
		f, err := os.Create(p.output)
		if err != nil {
			return fmt.Errorf("--profile-output: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		p.cpu = f
		return nil
	}
	return usageErrorf("--profile %q: want none, cpu or heap", p.kind)
}

// stop ends the CPU profile or writes the heap profile.
func (p *profiler) stop() error {
	switch {
	case p.cpu != nil:
		pprof.StopCPUProfile()
		err := p.cpu.Close()
		p.cpu = nil
		return err
	case p.kind == "heap":
		f, err := os.Create(p.output)
		if err != nil {
			return fmt.Errorf("--profile-output: %w", err)
		}
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return fmt.Errorf("writing the heap profile: %w", err)
		}
		return f.Close()
	}
	return nil
}
