package cli

import (
	"encoding/json"
	"io"

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
