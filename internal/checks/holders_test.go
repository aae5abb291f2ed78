package checks

import (
	"cmp"
	"reflect"
	"slices"
	"testing"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/synthetic"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// holdersByDefinition is Holders as its comment defines it, without its shortcuts: every
// binding in the index's order, every rule the match accepts, every subject that names
// someone, grouped by subject and ordered by kind, namespace and name.
func holdersByDefinition(in *Input, match func(*rbacv1.PolicyRule) bool) []Holder {
	byRef := map[inventory.ObjectRef]*Holder{}
	for _, b := range in.RBAC.Bindings() {
		for i := range b.Rules {
			if !match(&b.Rules[i]) {
				continue
			}
			for j := range b.Subjects {
				ref, ok := subjectRef(&b.Subjects[j], b)
				if !ok {
					continue
				}
				if byRef[ref] == nil {
					byRef[ref] = &Holder{Subject: ref}
				}
				byRef[ref].Grants = append(byRef[ref].Grants, rbac.Grant{Binding: b, Subject: &b.Subjects[j], RuleIndex: i})
			}
		}
	}
	var out []Holder
	for _, h := range byRef {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b Holder) int {
		return cmp.Or(cmp.Compare(a.Subject.Kind, b.Subject.Kind), cmp.Compare(a.Subject.Namespace, b.Subject.Namespace), cmp.Compare(a.Subject.Name, b.Subject.Name))
	})
	return out
}

// Holders (role groups, subject numbers) gives exactly what its definition gives, for
// requests that match many rules, a few, or none, on a generated cluster with every kind of
// subject and binding.
func TestHoldersAsDefined(t *testing.T) {
	b := inventory.NewBuilder(inventory.Cluster{Name: "s"}, inventory.Options{})
	if err := synthetic.Generate(synthetic.S, 3, func(o runtime.Object) error { b.Add(o, nil); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range inventory.AllKinds {
		b.SetStatus(k, inventory.Status{State: inventory.Collected})
	}
	in := NewInput(b.Build())
	for name, match := range map[string]func(*rbacv1.PolicyRule) bool{
		"get secrets":       Allows(rbac.Request{Verb: "get", Resource: "secrets"}),
		"create pods":       Allows(rbac.Request{Verb: "create", Resource: "pods"}),
		"impersonate users": Allows(rbac.Request{Verb: "impersonate", Resource: "users"}),
		"any rule":          func(*rbacv1.PolicyRule) bool { return true },
		"no rule":           func(*rbacv1.PolicyRule) bool { return false },
	} {
		got, want := in.Holders(match), holdersByDefinition(in, match)
		if name != "no rule" && len(want) == 0 {
			t.Errorf("%s: no holders at all: the cluster does not test it", name)
		}
		if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: %d holders, want %d", name, len(got), len(want))
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("first difference at %d: %v (%d grants), want %v (%d grants)", i, got[i].Subject, len(got[i].Grants), want[i].Subject, len(want[i].Grants))
					break
				}
			}
		}
	}
}
