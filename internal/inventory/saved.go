package inventory

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// SnapshotAPIVersion versions the saved snapshot format. A reader refuses other versions.
const SnapshotAPIVersion = "kwid.dev/v1alpha1"

type savedSnapshot struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	*Snapshot
}

// Save writes a Snapshot as versioned JSON; gzip-compressed when compress is true.
func Save(w io.Writer, s *Snapshot, compress bool) error {
	var out io.Writer = w
	var zw *gzip.Writer
	if compress {
		zw = gzip.NewWriter(w)
		out = zw
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	if err := json.NewEncoder(bw).Encode(savedSnapshot{APIVersion: SnapshotAPIVersion, Kind: "Snapshot", Snapshot: s}); err != nil {
		return fmt.Errorf("encoding snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

// SaveFile writes a Snapshot to path, gzip-compressed when the name ends in ".gz".
func SaveFile(path string, s *Snapshot) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing snapshot: %w", err)
	}
	if err := Save(f, s, strings.HasSuffix(path, ".gz")); err != nil {
		f.Close()
		return fmt.Errorf("writing snapshot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing snapshot %s: %w", path, err)
	}
	return nil
}

// Load reads a saved Snapshot, gzip-compressed or not (detected from its content).
func Load(r io.Reader) (*Snapshot, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	saved := savedSnapshot{Snapshot: &Snapshot{}}
	if err := json.NewDecoder(br).Decode(&saved); err != nil {
		return nil, fmt.Errorf("not a kwid snapshot: %w", err)
	}
	if saved.Kind != "Snapshot" {
		return nil, fmt.Errorf("not a kwid snapshot (kind %q, want Snapshot; write one with `kwid snapshot -o FILE`)", saved.Kind)
	}
	if saved.APIVersion != SnapshotAPIVersion {
		return nil, fmt.Errorf("snapshot version %q is not supported (this kwid reads %s)", saved.APIVersion, SnapshotAPIVersion)
	}
	s := saved.Snapshot
	if s.Status == nil {
		s.Status = map[Kind]Status{}
	}
	s.Locations = map[ObjectRef]Location{}
	return s, nil
}

// LoadFile reads a saved Snapshot from path.
func LoadFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot: %w", err)
	}
	defer f.Close()
	s, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s: %w", path, err)
	}
	return s, nil
}
