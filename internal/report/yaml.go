package report

import (
	"io"

	"sigs.k8s.io/yaml"
)

// WriteYAML writes values as YAML documents (through their JSON form, so field names are
// the JSON contract's), separated by "---".
func WriteYAML(w io.Writer, docs ...any) error {
	for i, d := range docs {
		y, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(y); err != nil {
			return err
		}
	}
	return nil
}
