package clusterstate_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/testcluster"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// TestFromSnapshotRoundTrip: a State made of a Snapshot gives that Snapshot back, and its
// indexes find workloads by ServiceAccount and bindings by subject and role.
func TestFromSnapshotRoundTrip(t *testing.T) {
	snap, err := inventory.LoadDemo(context.Background(), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := inventory.LoadDemo(context.Background(), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := clusterstate.FromSnapshot(snap)
	if !s.Synced() {
		t.Error("FromSnapshot: not synced")
	}
	got := s.Snapshot()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(inventory.Snapshot{}, "Locations"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Snapshot of FromSnapshot (-want +got):\n%s", diff)
	}
	counts := s.Counts()
	for _, k := range inventory.AllKinds {
		if counts[k] != want.Count(k) {
			t.Errorf("Counts[%s] = %d, want %d", k, counts[k], want.Count(k))
		}
	}

	// Every workload is found under its ServiceAccount, every binding under each subject
	// and under its role.
	for _, w := range want.Workloads() {
		key := w.Ref.Namespace + "/" + w.ServiceAccountName()
		if !containsRef(s.ByIndex(w.Ref.Kind, clusterstate.IndexServiceAccount, key), w.Ref) {
			t.Errorf("%s not indexed under ServiceAccount %s", w.Ref, key)
		}
	}
	for _, b := range want.RoleBindings {
		ref := inventory.ObjectRef{Kind: inventory.RoleBindings, Namespace: b.Namespace, Name: b.Name}
		if !containsRef(s.ByIndex(inventory.RoleBindings, clusterstate.IndexRoleRef, clusterstate.RoleRefKey(b.RoleRef.Kind, b.Namespace, b.RoleRef.Name)), ref) {
			t.Errorf("%s not indexed under its role", ref)
		}
		for _, sub := range b.Subjects {
			key := subjectKey(sub, b.Namespace)
			if !containsRef(s.ByIndex(inventory.RoleBindings, clusterstate.IndexSubject, key), ref) {
				t.Errorf("%s not indexed under subject %s", ref, key)
			}
		}
	}
	if got := s.Get(inventory.ServiceAccounts, want.ServiceAccounts[0].Namespace, want.ServiceAccounts[0].Name); got == nil {
		t.Errorf("Get(%s/%s) = nil", want.ServiceAccounts[0].Namespace, want.ServiceAccounts[0].Name)
	}
	if got := s.Get(inventory.ServiceAccounts, "no-such-ns", "x"); got != nil {
		t.Errorf("Get of a missing object = %v", got)
	}
}

func subjectKey(sub rbacv1.Subject, ns string) string {
	switch sub.Kind {
	case rbacv1.ServiceAccountKind:
		if sub.Namespace != "" {
			ns = sub.Namespace
		}
		return clusterstate.SubjectKey("User", rbac.ServiceAccountUsername(ns, sub.Name))
	case rbacv1.GroupKind:
		return clusterstate.SubjectKey("Group", sub.Name)
	}
	return clusterstate.SubjectKey("User", sub.Name)
}

func containsRef[T interface {
	GetNamespace() string
	GetName() string
}](objs []T, ref inventory.ObjectRef) bool {
	return slices.ContainsFunc(objs, func(o T) bool { return o.GetNamespace() == ref.Namespace && o.GetName() == ref.Name })
}
