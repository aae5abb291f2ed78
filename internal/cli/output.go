package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/kwid-dev/kwid/internal/checks"
	"sigs.k8s.io/yaml"
)

// encodeStructured writes v as indented JSON, or as YAML when format is "yaml": the
// machine-readable output of every command.
func encodeStructured(w io.Writer, format string, v any) error {
	if format == "yaml" {
		y, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// loadConfig reads a --config file (the defaults when path is empty).
func loadConfig(path string) (*checks.Config, error) {
	if path == "" {
		return checks.DefaultConfig(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := checks.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	return cfg, nil
}
