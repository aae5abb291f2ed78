package admission

import (
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// Bounds on the neighbourhood of one object, so that a request about a popular role or
// ServiceAccount stays cheap. They only bound evidence about other objects (how many pods
// run as a subject); findings about the object under review do not depend on them.
const (
	maxWorkloadsPerServiceAccount = 16
	maxServiceAccountsPerGroup    = 64
	maxBindingsPerRole            = 128
)

// The subject keys of the groups every ServiceAccount is in.
var (
	broadServiceAccounts = clusterstate.SubjectKey("Group", rbac.GroupServiceAccounts)
	broadAuthenticated   = clusterstate.SubjectKey("Group", rbac.GroupAuthenticated)
)

// workloadKinds are the kinds with a pod spec.
var workloadKinds = []inventory.Kind{
	inventory.Pods, inventory.Deployments, inventory.StatefulSets, inventory.DaemonSets,
	inventory.ReplicaSets, inventory.Jobs, inventory.CronJobs, inventory.ReplicationControllers,
}

// neighbourhood assembles the small Snapshot one admission decision reads: the object as
// it would be after the request, and the cluster objects the checks consult about it.
type neighbourhood struct {
	st   *clusterstate.State
	b    *inventory.Builder
	seen map[inventory.ObjectRef]bool
}

// neighbourhoods keeps the memory of finished decisions' neighbourhoods for the next ones:
// a decision's garbage is what makes the GC run, and the GC is the latency tail.
var neighbourhoods sync.Pool

// newNeighbourhood returns an empty neighbourhood; release it once its Snapshot, and
// everything that points into it, is no longer used.
func newNeighbourhood(st *clusterstate.State, secretData bool) *neighbourhood {
	// The cache's objects are trimmed and shared by concurrent requests: the Builder must
	// not touch them, only its copies.
	opts := inventory.Options{Namespace: st.Namespace(), SecretData: secretData, Shared: true}
	n, _ := neighbourhoods.Get().(*neighbourhood)
	if n == nil {
		n = &neighbourhood{b: inventory.NewBuilder(st.Cluster(), opts), seen: make(map[inventory.ObjectRef]bool, 64)}
	} else {
		n.b.Reset(st.Cluster(), opts)
		clear(n.seen)
	}
	n.st = st
	for _, k := range inventory.AllKinds {
		n.b.SetStatus(k, st.Status(k))
	}
	return n
}

func (n *neighbourhood) release() {
	n.st = nil
	neighbourhoods.Put(n)
}

// add adds an object once; the first version added of an object wins, so the object under
// review, added first, hides the cluster's current version.
func (n *neighbourhood) add(k inventory.Kind, obj clusterstate.Object) bool {
	if obj == nil {
		return false
	}
	ref := inventory.ObjectRef{Kind: k, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	if n.seen[ref] {
		return false
	}
	n.seen[ref] = true
	n.b.Add(obj, nil)
	return true
}

func (n *neighbourhood) get(k inventory.Kind, namespace, name string) {
	ref := inventory.ObjectRef{Kind: k, Namespace: namespace, Name: name}
	if k == inventory.Namespaces {
		ref.Namespace = ""
	}
	if n.seen[ref] {
		return
	}
	n.add(k, n.st.Get(k, ref.Namespace, name))
}

// common adds what every decision may read: the object's namespace and the ConfigMaps a
// Snapshot keeps (two at most).
func (n *neighbourhood) common(namespace string) {
	if namespace != "" {
		n.get(inventory.Namespaces, "", namespace)
	}
	for _, o := range n.st.List(inventory.ConfigMaps, inventory.SystemNamespace) {
		n.add(inventory.ConfigMaps, o)
	}
}

// workload: a pod spec running as a ServiceAccount reads the ServiceAccount, its token
// Secrets, the RBAC it holds (for its privilege tier) and the node the pod runs on.
func (n *neighbourhood) workload(namespace, serviceAccount, nodeName string) {
	n.serviceAccount(namespace, serviceAccount, false)
	if nodeName != "" {
		n.get(inventory.Nodes, "", nodeName)
	}
}

// serviceAccount adds a ServiceAccount, its token Secrets and the bindings that grant to it
// (directly or through its groups) with their roles; with workloads, also the pods and
// templates that run as it.
func (n *neighbourhood) serviceAccount(namespace, name string, workloads bool) {
	n.get(inventory.ServiceAccounts, namespace, name)
	key := namespace + "/" + name
	for _, o := range n.st.ByIndex(inventory.Secrets, clusterstate.IndexServiceAccount, key) {
		n.add(inventory.Secrets, o)
	}
	u := rbac.ServiceAccountUser(namespace, name)
	keys := []string{clusterstate.SubjectKey("User", u.Name)}
	for _, g := range u.Groups {
		keys = append(keys, clusterstate.SubjectKey("Group", g))
	}
	for _, k := range []inventory.Kind{inventory.RoleBindings, inventory.ClusterRoleBindings} {
		for _, key := range keys {
			broad := key == broadServiceAccounts || key == broadAuthenticated
			for _, o := range n.st.ByIndex(k, clusterstate.IndexSubject, key) {
				// Groups every ServiceAccount is in: their ClusterRoleBindings and
				// their RoleBindings in this namespace count; RoleBindings elsewhere
				// are many, the same for every request, and reported on themselves.
				if broad && k == inventory.RoleBindings && o.GetNamespace() != namespace {
					continue
				}
				if n.add(k, o) {
					n.role(o)
				}
			}
		}
	}
	if workloads {
		n.workloadsOf(namespace, name)
	}
}

func (n *neighbourhood) workloadsOf(namespace, serviceAccount string) {
	key := namespace + "/" + serviceAccount
	left := maxWorkloadsPerServiceAccount
	for _, k := range workloadKinds {
		for _, o := range n.st.ByIndex(k, clusterstate.IndexServiceAccount, key) {
			if left == 0 {
				return
			}
			if n.add(k, o) {
				left--
			}
		}
	}
}

// role adds the role a binding references.
func (n *neighbourhood) role(binding runtime.Object) {
	switch b := binding.(type) {
	case *rbacv1.RoleBinding:
		if b.RoleRef.Kind == "Role" {
			n.get(inventory.Roles, b.Namespace, b.RoleRef.Name)
		} else {
			n.get(inventory.ClusterRoles, "", b.RoleRef.Name)
		}
	case *rbacv1.ClusterRoleBinding:
		n.get(inventory.ClusterRoles, "", b.RoleRef.Name)
	}
}

// subjects adds the subjects of a binding that are ServiceAccounts (named, or the
// ServiceAccounts of a namespace group), with the workloads that run as them when asked.
func (n *neighbourhood) subjects(bindingNamespace string, subjects []rbacv1.Subject, workloads bool) {
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNamespace
			}
			n.get(inventory.Namespaces, "", ns)
			n.get(inventory.ServiceAccounts, ns, s.Name)
			if workloads {
				n.workloadsOf(ns, s.Name)
			}
		case rbacv1.GroupKind:
			ns, ok := serviceAccountsGroupNamespace(s.Name)
			if !ok {
				continue
			}
			n.get(inventory.Namespaces, "", ns)
			for i, o := range n.st.List(inventory.ServiceAccounts, ns) {
				if i == maxServiceAccountsPerGroup {
					break
				}
				n.add(inventory.ServiceAccounts, o)
				if workloads {
					n.workloadsOf(ns, o.GetName())
				}
			}
		}
	}
}

// serviceAccountsGroupNamespace returns N for the group system:serviceaccounts:N.
func serviceAccountsGroupNamespace(group string) (string, bool) {
	ns, ok := strings.CutPrefix(group, "system:serviceaccounts:")
	return ns, ok && ns != ""
}

// bindingsOfRole adds the bindings that reference a role (at most maxBindingsPerRole), with
// their ServiceAccount subjects (not their workloads: a popular role has many).
func (n *neighbourhood) bindingsOfRole(kind, namespace, name string) {
	key := clusterstate.RoleRefKey(kind, namespace, name)
	left := maxBindingsPerRole
	for _, k := range []inventory.Kind{inventory.RoleBindings, inventory.ClusterRoleBindings} {
		for _, o := range n.st.ByIndex(k, clusterstate.IndexRoleRef, key) {
			if left == 0 {
				return
			}
			if !n.add(k, o) {
				continue
			}
			left--
			switch b := o.(type) {
			case *rbacv1.RoleBinding:
				n.subjects(b.Namespace, b.Subjects, false)
			case *rbacv1.ClusterRoleBinding:
				n.subjects("", b.Subjects, false)
			}
		}
	}
}

func (n *neighbourhood) build() *inventory.Snapshot { return n.b.Build() }
