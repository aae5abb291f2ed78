package inventory

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
)

//go:embed demo
var demoFS embed.FS

// Demo cluster metadata: an EKS cluster in us-east-1.
const (
	demoServerVersion = "v1.30.4-eks-a737599"
	demoIssuer        = "https://oidc.eks.us-east-1.amazonaws.com/id/5C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F"
)

// LoadDemo returns the realistic EKS-like cluster embedded in the binary. It is read
// through the same decoder as manifest files.
func LoadDemo(ctx context.Context, opts Options) (*Snapshot, error) {
	r := newFileReader(Cluster{
		Source:        "demo",
		Name:          "demo (embedded EKS cluster)",
		Server:        "https://5C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F.gr7.us-east-1.eks.amazonaws.com",
		ServerVersion: demoServerVersion,
		OIDCIssuer:    demoIssuer,
	}, FileOptions{Options: opts})
	err := fs.WalkDir(demoFS, "demo", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := demoFS.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r.stream(path, f)
		return nil
	})
	s := r.finish()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded demo: %w", err)
	}
	if len(r.errs) > 0 {
		return nil, fmt.Errorf("the embedded demo is broken: %w", r.errs[0])
	}
	return s, nil
}
