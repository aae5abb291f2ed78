package rbac_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/synthetic"
)

var (
	xlOnce sync.Once
	xlSnap *inventory.Snapshot
)

func xl(b *testing.B) *inventory.Snapshot {
	b.Helper()
	xlOnce.Do(func() {
		s, err := synthetic.Snapshot(synthetic.XL, 1)
		if err != nil {
			b.Fatal(err)
		}
		xlSnap = s
	})
	return xlSnap
}

func BenchmarkIndexBuild(b *testing.B) {
	s := xl(b)
	b.ReportAllocs()
	for b.Loop() {
		rbac.NewIndex(s)
	}
}

// BenchmarkCan: one decision for a ServiceAccount of a busy namespace.
func BenchmarkCan(b *testing.B) {
	s := xl(b)
	ix := rbac.NewIndex(s)
	sa := s.ServiceAccounts[len(s.ServiceAccounts)/2]
	u := rbac.ServiceAccountUser(sa.Namespace, sa.Name)
	req := rbac.Request{Verb: "get", Resource: "secrets", Namespace: sa.Namespace, Name: "x"}
	b.ReportAllocs()
	for b.Loop() {
		ix.Authorize(u, req)
	}
}

func BenchmarkWhoCan(b *testing.B) {
	s := xl(b)
	ix := rbac.NewIndex(s)
	sas := make([]inventory.ObjectRef, 0, len(s.ServiceAccounts))
	for _, sa := range s.ServiceAccounts {
		sas = append(sas, inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sa.Namespace, Name: sa.Name})
	}
	ns := s.ServiceAccounts[len(s.ServiceAccounts)/2].Namespace
	for _, tc := range []struct {
		name string
		req  rbac.Request
		any  bool
	}{
		{"common/get-pods-in-namespace", rbac.Request{Verb: "get", Resource: "pods", Namespace: ns}, false},
		{"common/list-pods-any-namespace", rbac.Request{Verb: "list", Resource: "pods"}, true},
		{"rare/impersonate-users", rbac.Request{Verb: "impersonate", Resource: "users"}, false},
		{"rare/escalate-clusterroles", rbac.Request{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ix.WhoCan(tc.req, tc.any, sas)
			}
		})
	}
}

// BenchmarkAccess: the effective rules of the subject named by the most bindings.
func BenchmarkAccess(b *testing.B) {
	s := xl(b)
	ix := rbac.NewIndex(s)
	// The User or Group named by the most RoleBindings, as kwid access takes it.
	count := map[string]int{}
	best, bestN := "", 0
	for _, rb := range s.RoleBindings {
		for _, sub := range rb.Subjects {
			if sub.Kind != "Group" && sub.Kind != "User" {
				continue
			}
			key := strings.ToLower(sub.Kind) + ":" + sub.Name
			if count[key]++; count[key] > bestN {
				best, bestN = key, count[key]
			}
		}
	}
	u, err := rbac.ParseUser(best, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("subject %s in %d RoleBindings", best, bestN)
	b.ReportAllocs()
	for b.Loop() {
		ix.Access(u, "")
	}
}
