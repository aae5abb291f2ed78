package drift_test

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/drift"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/synthetic"
	"golang.org/x/sync/errgroup"
	rbacv1 "k8s.io/api/rbac/v1"
)

// BenchmarkDiff compares two saved snapshots of a generated cluster that differ by 1% of
// their bindings (a third removed, a third given one more subject, a third added), the
// whole of `kwid diff OLD NEW` but rendering, next to one scan of OLD (the whole of
// `kwid scan --snapshot` but rendering). The target: diff under 2x scan.
func BenchmarkDiff(b *testing.B) {
	for _, size := range []string{"L", "XL"} {
		b.Run(size, func(b *testing.B) {
			oldPath, newPath := benchSnapshots(b, size)
			b.Run("scan", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s, err := inventory.LoadFile(oldPath)
					if err != nil {
						b.Fatal(err)
					}
					if res := checks.Run(checks.NewInput(s)); len(res.Findings) == 0 {
						b.Fatal("no findings")
					}
				}
			})
			// The CLI's way: each side loaded and scanned on its own goroutine.
			b.Run("diff", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var old, new *drift.Side
					var g errgroup.Group
					g.Go(func() (err error) { old, err = side(oldPath); return err })
					g.Go(func() (err error) { new, err = side(newPath); return err })
					if err := g.Wait(); err != nil {
						b.Fatal(err)
					}
					report(b, drift.CompareSides(old, new))
				}
			})
			// One side after the other: one full Snapshot in memory at a time.
			b.Run("diff-sequential", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					old, err := side(oldPath)
					if err != nil {
						b.Fatal(err)
					}
					new, err := side(newPath)
					if err != nil {
						b.Fatal(err)
					}
					report(b, drift.CompareSides(old, new))
				}
			})
		})
	}
}

func side(path string) (*drift.Side, error) {
	s, err := inventory.LoadFile(path)
	if err != nil {
		return nil, err
	}
	return drift.NewSide(drift.AbsentAsEmpty(s), nil), nil
}

func report(b *testing.B, r *drift.Result) {
	if len(r.Objects) == 0 || len(r.Identities) == 0 {
		b.Fatalf("nothing changed: %+v", r.Summary)
	}
	b.ReportMetric(float64(len(r.Objects)), "objects")
	b.ReportMetric(float64(len(r.Identities)), "identities")
	b.ReportMetric(float64(r.Summary.FindingsAdded+r.Summary.FindingsFixed+r.Summary.FindingsChanged), "findings")
}

// benchSnapshots returns the saved snapshot of a generated cluster and of the same cluster
// with 1% of its bindings changed, generating them once into KWID_BENCH_DIR (or TMPDIR).
func benchSnapshots(b *testing.B, size string) (string, string) {
	b.Helper()
	dir := os.Getenv("KWID_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	oldPath := filepath.Join(dir, "kwid-bench-"+size+"-seed1.json.gz")
	newPath := filepath.Join(dir, "kwid-bench-"+size+"-seed1-drift1pct.json.gz")
	if _, err := os.Stat(oldPath); err != nil {
		sz, _ := synthetic.SizeByName(size)
		s, err := synthetic.Snapshot(sz, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := inventory.SaveFile(oldPath, s); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := os.Stat(newPath); err == nil {
		return oldPath, newPath
	}
	s, err := inventory.LoadFile(oldPath)
	if err != nil {
		b.Fatal(err)
	}
	if err := inventory.SaveFile(newPath, changeBindings(s)); err != nil {
		b.Fatal(err)
	}
	return oldPath, newPath
}

// changeBindings changes one binding in a hundred: removes a third of those, adds a
// subject to a third, and adds a copy of the last third under a new name with another
// subject.
func changeBindings(s *inventory.Snapshot) *inventory.Snapshot {
	cp := *s
	var rbs []rbacv1.RoleBinding
	for i, rb := range s.RoleBindings {
		if i%100 != 0 {
			rbs = append(rbs, rb)
			continue
		}
		sub := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: rb.Namespace, Name: fmt.Sprintf("drift-%d", i)}
		switch (i / 100) % 3 {
		case 0: // removed
		case 1:
			rb.Subjects = append(slices.Clone(rb.Subjects), sub)
			rbs = append(rbs, rb)
		case 2:
			added := *rb.DeepCopy()
			added.Name += "-drift"
			added.Subjects = []rbacv1.Subject{sub}
			rbs = append(rbs, rb, added)
		}
	}
	slices.SortFunc(rbs, func(a, b rbacv1.RoleBinding) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	cp.RoleBindings = rbs
	var crbs []rbacv1.ClusterRoleBinding
	for i, crb := range s.ClusterRoleBindings {
		if i%100 == 50 {
			continue // removed
		}
		crbs = append(crbs, crb)
	}
	cp.ClusterRoleBindings = crbs
	return &cp
}
