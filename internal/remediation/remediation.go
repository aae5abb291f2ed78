// Package remediation turns findings into files a user reviews and applies: fixed objects
// (ServiceAccounts, workloads, RoleBindings) laid out for `kubectl apply -f DIR` and
// `kubectl apply -k DIR`, a script of deletions, and a README saying what each file fixes
// and what could break. kwid never applies them itself.
//
// remediation reads a Snapshot and findings; it knows nothing about output formats.
package remediation

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Checks lists the checks kwid fix writes remediations for.
var Checks = []string{"KW-SA-001", "KW-SA-002", "KW-TOK-001",
	"KW-RBAC-002", "KW-RBAC-003", "KW-RBAC-004", "KW-RBAC-008", "KW-RBAC-009", "KW-RBAC-010",
	"KW-RBAC-011", "KW-RBAC-012", "KW-RBAC-013"}

// File is one file of the plan, relative to the output directory.
type File struct {
	Name    string
	Content []byte
}

// Plan is the remediation of a set of findings.
type Plan struct {
	// Objects are fixed or new objects, one file each.
	Objects []Object
	// Deletions are kubectl commands, run after the objects are applied.
	Deletions []Step
	// Manual are findings kwid cannot fix with a file (e.g. a bare Pod's ServiceAccount).
	Manual []Step
}

// Object is one object to apply and why.
type Object struct {
	File   string
	Object runtime.Object
	Fixes  []string // "KW-SA-001 ServiceAccount shop/default"
	Why    string
	Risk   string
}

// Step is a command or an action for a person, and why.
type Step struct {
	Command string
	Fixes   string
	Why     string
	// Deletes is the object a deletion removes.
	Deletes *inventory.ObjectRef
}

// Build plans the remediation of findings (of the checks in Checks; others are ignored).
func Build(s *inventory.Snapshot, findings []checks.Finding) (*Plan, error) {
	p := &planner{s: s, ix: rbac.NewIndex(s), objects: map[string]*Object{}, rebound: map[inventory.ObjectRef]bool{}}
	// Workloads first: dedicated ServiceAccounts decide what happens to default's bindings.
	slices.SortStableFunc(findings, func(a, b checks.Finding) int { return cmp.Compare(order(a), order(b)) })
	for _, f := range findings {
		if err := p.fix(f); err != nil {
			return nil, fmt.Errorf("%s %s: %w", f.Check, f.Object, err)
		}
	}
	plan := &Plan{Deletions: p.deletions, Manual: p.manual}
	for _, name := range slices.Sorted(maps.Keys(p.objects)) {
		plan.Objects = append(plan.Objects, *p.objects[name])
	}
	return plan, nil
}

// order sorts findings so that workloads are moved off default before default's bindings
// are handled.
func order(f checks.Finding) int {
	switch {
	case f.Check == "KW-SA-001" && f.Object.Kind != inventory.ServiceAccounts:
		return 0
	case f.Check == "KW-SA-001":
		return 1
	}
	return 2
}

type planner struct {
	s         *inventory.Snapshot
	ix        *rbac.Index
	objects   map[string]*Object
	deletions []Step
	manual    []Step
	// rebound are the bindings replaced by bindings to narrowed copies of their roles.
	rebound map[inventory.ObjectRef]bool
}

func (p *planner) fix(f checks.Finding) error {
	ref := f.Object
	label := f.Check + " " + ref.String()
	if spec, ok := narrowSpecs[f.Check]; ok {
		return p.narrow(f, spec, label)
	}
	switch f.Check {
	case "KW-SA-001":
		switch {
		case ref.Kind != inventory.ServiceAccounts:
			return p.dedicatedServiceAccount(ref, label)
		case len(f.Related) > 0 && isBinding(f.Related[0].Kind):
			return p.unbindDefault(ref.Namespace, f.Related[0], label)
		default:
			return p.disableAutomount(ref, label)
		}
	case "KW-SA-002":
		// Only a token that grants nothing can be dropped safely; a powerful one is needed
		// by the workload, and the fix is to narrow the ServiceAccount's rights.
		if len(f.Related) > 0 {
			sa := f.Related[0]
			if tier, why := checks.TierOf(p.ix.GrantsFor(rbac.ServiceAccountUser(sa.Namespace, sa.Name))); tier != checks.TierNone {
				p.manual = append(p.manual, Step{
					Command: fmt.Sprintf("narrow the rights of %s to what %s uses (kwid access sa:%s/%s shows them)", sa, ref, sa.Namespace, sa.Name),
					Fixes:   label,
					Why:     fmt.Sprintf("the workload presumably needs its token; its ServiceAccount %s", why),
				})
				return nil
			}
		}
		return p.workloadOptOut(ref, label)
	case "KW-TOK-001":
		p.deletions = append(p.deletions, Step{
			Deletes: &ref,
			Command: fmt.Sprintf("kubectl delete secret %s -n %s", ref.Name, ref.Namespace),
			Fixes:   label,
			Why:     "a non-expiring token; move its consumers to `kubectl create token` or a projected volume first (its last-used label says whether something still uses it)",
		})
	}
	return nil
}

func isBinding(k inventory.Kind) bool {
	return k == inventory.RoleBindings || k == inventory.ClusterRoleBindings
}

// disableAutomount sets automountServiceAccountToken: false on a ServiceAccount.
func (p *planner) disableAutomount(ref inventory.ObjectRef, label string) error {
	sa := p.s.ServiceAccount(ref.Namespace, ref.Name)
	if sa == nil {
		return fmt.Errorf("ServiceAccount not in the snapshot")
	}
	file := fmt.Sprintf("serviceaccount-%s-%s.yaml", ref.Namespace, ref.Name)
	o := p.object(file, func() runtime.Object { c := sa.DeepCopy(); clean(&c.ObjectMeta); return c })
	o.Object.(*corev1.ServiceAccount).AutomountServiceAccountToken = ptr(false)
	o.Fixes = append(o.Fixes, label)
	o.Why = "pods that do not opt in no longer get this ServiceAccount's token"
	o.Risk = "a pod running as this ServiceAccount that calls the API without setting automountServiceAccountToken: true loses its token at its next restart"
	return nil
}

// dedicatedServiceAccount moves a workload off the default ServiceAccount: a new
// ServiceAccount named after the workload, holding what default held through bindings
// that name it, and the workload pointed at it.
func (p *planner) dedicatedServiceAccount(ref inventory.ObjectRef, label string) error {
	if _, ok := p.workload(ref); !ok {
		return fmt.Errorf("workload not in the snapshot")
	}
	if ref.Kind == inventory.Pods || ref.Kind == inventory.Jobs {
		p.manual = append(p.manual, Step{
			Command: fmt.Sprintf("set spec.serviceAccountName in the manifest that creates %s", ref),
			Fixes:   label,
			Why:     "a Pod's (or Job's) ServiceAccount cannot be changed in place; recreate it from its manifest",
		})
		return nil
	}
	name := ref.Name
	granted := p.bindingsNaming(ref.Namespace, "default")
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ref.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "kwid-fix"}},
	}
	if len(granted) == 0 {
		sa.AutomountServiceAccountToken = ptr(false) // default held no rights: the token is not needed
	}
	saFile := fmt.Sprintf("serviceaccount-%s-%s.yaml", ref.Namespace, name)
	o := p.object(saFile, func() runtime.Object { return sa })
	o.Fixes = append(o.Fixes, label)
	o.Why = fmt.Sprintf("a dedicated ServiceAccount for %s", ref)
	if len(granted) == 0 {
		o.Risk = "none expected: the default ServiceAccount held no RBAC rights, so the new one does not mount a token"
	} else {
		o.Risk = "the new ServiceAccount receives the same roles as default had (see the rolebinding files); narrow them to what the workload uses (kwid usage --audit-log)"
	}
	for _, b := range granted {
		nb := &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name + "-" + b.RoleRef.Name, Namespace: ref.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "kwid-fix"}},
			RoleRef:    b.RoleRef,
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ref.Namespace}},
		}
		file := fmt.Sprintf("rolebinding-%s-%s.yaml", ref.Namespace, nb.Name)
		bo := p.object(file, func() runtime.Object { return nb })
		bo.Fixes = append(bo.Fixes, label)
		bo.Why = fmt.Sprintf("gives %s the %s %s that %s granted to default, in namespace %s only", name, b.RoleRef.Kind, b.RoleRef.Name, b.Ref(), ref.Namespace)
		bo.Risk = "none beyond what default already held (a ClusterRoleBinding's rights are narrowed to this namespace)"
	}
	wo := p.object(fmt.Sprintf("%s-%s-%s.yaml", strings.ToLower(string(ref.Kind)), ref.Namespace, ref.Name), func() runtime.Object { return p.cleanWorkload(ref) })
	spec := podSpec(wo.Object)
	spec.ServiceAccountName = name
	spec.DeprecatedServiceAccount = ""
	wo.Fixes = append(wo.Fixes, label)
	wo.Why = fmt.Sprintf("runs %s as ServiceAccount %s instead of default", ref, name)
	wo.Risk = "the workload rolls out new pods; applying this file replaces the spec with the snapshot's, so compare it with the live object first (kubectl diff -f FILE)"
	return nil
}

// unbindDefault removes the default ServiceAccount from a binding (deleting the binding
// when it names nobody else). Workloads moved off default keep the rights through their
// own bindings (dedicatedServiceAccount).
func (p *planner) unbindDefault(namespace string, bref inventory.ObjectRef, label string) error {
	var b *rbac.Binding
	for _, x := range p.ix.Bindings() {
		if x.Ref() == bref {
			b = x
		}
	}
	if b == nil {
		return fmt.Errorf("%s not in the snapshot", bref)
	}
	var keep []rbacv1.Subject
	for _, s := range b.Subjects {
		if !namesSA(s, b.Namespace, namespace, "default") {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		cmd := "kubectl delete clusterrolebinding " + b.Name
		if !b.ClusterWide() {
			cmd = fmt.Sprintf("kubectl delete rolebinding %s -n %s", b.Name, b.Namespace)
		}
		p.deletions = append(p.deletions, Step{Command: cmd, Fixes: label, Deletes: &bref,
			Why: fmt.Sprintf("%s names only the default ServiceAccount of %s; workloads moved to dedicated ServiceAccounts hold its role through their own bindings", bref, namespace)})
		return nil
	}
	file := fmt.Sprintf("%s-%s.yaml", strings.ToLower(string(bref.Kind)), strings.Trim(bref.Namespace+"-"+bref.Name, "-"))
	o := p.object(file, func() runtime.Object { return p.cleanBinding(bref) })
	setSubjects(o.Object, keep)
	o.Fixes = append(o.Fixes, label)
	o.Why = fmt.Sprintf("removes the default ServiceAccount of %s from %s; its other subjects keep their rights", namespace, bref)
	o.Risk = "pods still running as default in that namespace lose the role"
	return nil
}

// workloadOptOut sets automountServiceAccountToken: false in a workload's pod template.
func (p *planner) workloadOptOut(ref inventory.ObjectRef, label string) error {
	if ref.Kind == inventory.Pods || ref.Kind == inventory.Jobs {
		p.manual = append(p.manual, Step{
			Command: fmt.Sprintf("set automountServiceAccountToken: false in the manifest that creates %s", ref),
			Fixes:   label,
			Why:     "a Pod's spec cannot be changed in place; recreate it from its manifest",
		})
		return nil
	}
	if _, ok := p.workload(ref); !ok {
		return fmt.Errorf("workload not in the snapshot")
	}
	wo := p.object(fmt.Sprintf("%s-%s-%s.yaml", strings.ToLower(string(ref.Kind)), ref.Namespace, ref.Name), func() runtime.Object { return p.cleanWorkload(ref) })
	podSpec(wo.Object).AutomountServiceAccountToken = ptr(false)
	wo.Fixes = append(wo.Fixes, label)
	if wo.Why == "" {
		wo.Why = fmt.Sprintf("%s no longer mounts a ServiceAccount token", ref)
	} else {
		wo.Why += "; it no longer mounts a ServiceAccount token"
	}
	wo.Risk = "a container that calls the Kubernetes API (client-go in-cluster config, kubectl) fails without its token; check the image before applying"
	return nil
}

// bindingsNaming returns the bindings that name a ServiceAccount, as a ServiceAccount or as
// its User name.
func (p *planner) bindingsNaming(namespace, name string) []*rbac.Binding {
	var out []*rbac.Binding
	for _, b := range p.ix.Bindings() {
		if b.RoleMissing {
			continue
		}
		for _, s := range b.Subjects {
			if namesSA(s, b.Namespace, namespace, name) {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

func namesSA(s rbacv1.Subject, bindingNS, namespace, name string) bool {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return s.Name == name && cmp.Or(s.Namespace, bindingNS) == namespace
	case rbacv1.UserKind:
		return s.Name == rbac.ServiceAccountUsername(namespace, name)
	}
	return false
}

// object returns the planned object for a file, creating it with make the first time, so
// that several fixes to one object land in one file.
func (p *planner) object(file string, make func() runtime.Object) *Object {
	if o, ok := p.objects[file]; ok {
		return o
	}
	o := &Object{File: file, Object: make()}
	p.objects[file] = o
	return o
}

func (p *planner) workload(ref inventory.ObjectRef) (inventory.Workload, bool) {
	for _, w := range p.s.Workloads() {
		if w.Ref == ref {
			return w, true
		}
	}
	return inventory.Workload{}, false
}

// cleanWorkload returns a copy of a workload controller ready to apply: server-set metadata
// and status removed.
func (p *planner) cleanWorkload(ref inventory.ObjectRef) runtime.Object {
	var obj runtime.Object
	find := func(n int, at func(int) (metav1.Object, runtime.Object)) {
		for i := range n {
			m, o := at(i)
			if m.GetNamespace() == ref.Namespace && m.GetName() == ref.Name {
				obj = o.DeepCopyObject()
			}
		}
	}
	s := p.s
	switch ref.Kind {
	case inventory.Deployments:
		find(len(s.Deployments), func(i int) (metav1.Object, runtime.Object) { return &s.Deployments[i], &s.Deployments[i] })
	case inventory.StatefulSets:
		find(len(s.StatefulSets), func(i int) (metav1.Object, runtime.Object) { return &s.StatefulSets[i], &s.StatefulSets[i] })
	case inventory.DaemonSets:
		find(len(s.DaemonSets), func(i int) (metav1.Object, runtime.Object) { return &s.DaemonSets[i], &s.DaemonSets[i] })
	case inventory.ReplicaSets:
		find(len(s.ReplicaSets), func(i int) (metav1.Object, runtime.Object) { return &s.ReplicaSets[i], &s.ReplicaSets[i] })
	case inventory.CronJobs:
		find(len(s.CronJobs), func(i int) (metav1.Object, runtime.Object) { return &s.CronJobs[i], &s.CronJobs[i] })
	case inventory.ReplicationControllers:
		find(len(s.ReplicationControllers), func(i int) (metav1.Object, runtime.Object) {
			return &s.ReplicationControllers[i], &s.ReplicationControllers[i]
		})
	}
	m, _ := obj.(metav1.Object)
	clean(m)
	clearStatus(obj)
	return obj
}

func (p *planner) cleanBinding(ref inventory.ObjectRef) runtime.Object {
	for i := range p.s.RoleBindings {
		rb := &p.s.RoleBindings[i]
		if ref.Kind == inventory.RoleBindings && rb.Namespace == ref.Namespace && rb.Name == ref.Name {
			c := rb.DeepCopy()
			clean(&c.ObjectMeta)
			return c
		}
	}
	for i := range p.s.ClusterRoleBindings {
		crb := &p.s.ClusterRoleBindings[i]
		if ref.Kind == inventory.ClusterRoleBindings && crb.Name == ref.Name {
			c := crb.DeepCopy()
			clean(&c.ObjectMeta)
			return c
		}
	}
	return nil
}

func setSubjects(obj runtime.Object, subjects []rbacv1.Subject) {
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		b.Subjects = subjects
	case *rbacv1.ClusterRoleBinding:
		b.Subjects = subjects
	}
}

// clean drops the metadata the server sets, so the object applies as a manifest.
func clean(m metav1.Object) {
	m.SetUID("")
	m.SetResourceVersion("")
	m.SetGeneration(0)
	m.SetCreationTimestamp(metav1.Time{})
	m.SetManagedFields(nil)
	m.SetOwnerReferences(nil)
	a := m.GetAnnotations()
	delete(a, inventory.LastAppliedAnnotation)
	delete(a, "deployment.kubernetes.io/revision")
	if len(a) == 0 {
		a = nil
	}
	m.SetAnnotations(a)
}

// Files renders the plan: one YAML file per object, a Kustomization (named "Kustomization"
// so that `kubectl apply -f DIR` skips it), delete.sh and README.md.
func (p *Plan) Files() ([]File, error) {
	var files []File
	var resources []string
	for _, o := range p.Objects {
		y, err := manifest(o.Object)
		if err != nil {
			return nil, err
		}
		header := fmt.Sprintf("# kwid fix: %s\n# Fixes: %s\n", o.Why, strings.Join(o.Fixes, ", "))
		files = append(files, File{Name: o.File, Content: append([]byte(header), y...)})
		resources = append(resources, o.File)
	}
	var k strings.Builder
	k.WriteString("# kubectl apply -k DIR applies the same objects as kubectl apply -f DIR.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range resources {
		fmt.Fprintf(&k, "- %s\n", r)
	}
	if len(resources) == 0 {
		k.Reset()
		k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n")
	}
	files = append(files, File{Name: "Kustomization", Content: []byte(k.String())})

	var d strings.Builder
	d.WriteString("#!/bin/sh\n# kwid fix: deletions, to run after the objects are applied and reviewed.\nset -eu\n")
	for _, s := range p.Deletions {
		fmt.Fprintf(&d, "\n# %s\n# %s\n%s\n", s.Fixes, s.Why, s.Command)
	}
	files = append(files, File{Name: "delete.sh", Content: []byte(d.String())})
	files = append(files, File{Name: "README.md", Content: []byte(p.readme())})
	return files, nil
}

func (p *Plan) readme() string {
	var b strings.Builder
	b.WriteString("# kwid fix\n\nRemediation files written by `kwid fix`. kwid applies nothing: review each file, then\n\n")
	b.WriteString("```sh\nkubectl diff -f .      # what would change\nkubectl apply -f .     # or: kubectl apply -k .\nsh delete.sh           # deletions, once the above is applied\n```\n\n")
	if len(p.Objects) > 0 {
		b.WriteString("## Files\n\n| file | fixes | what it does | what could break |\n|---|---|---|---|\n")
		for _, o := range p.Objects {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", o.File, strings.Join(o.Fixes, "<br>"), o.Why, o.Risk)
		}
	}
	if len(p.Deletions) > 0 {
		b.WriteString("\n## Deletions (delete.sh)\n\n")
		for _, s := range p.Deletions {
			fmt.Fprintf(&b, "- `%s`: %s (%s)\n", s.Command, s.Why, s.Fixes)
		}
	}
	if len(p.Manual) > 0 {
		b.WriteString("\n## By hand\n\n")
		for _, s := range p.Manual {
			fmt.Fprintf(&b, "- %s: %s (%s)\n", s.Command, s.Why, s.Fixes)
		}
	}
	return b.String()
}

// manifest renders an object as YAML without the fields the server owns (status, an
// empty creationTimestamp).
func manifest(obj runtime.Object) ([]byte, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return yaml.Marshal(m)
}

func ptr[T any](v T) *T { return &v }
