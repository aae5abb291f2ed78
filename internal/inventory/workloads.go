package inventory

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Workload is one pod spec in a Snapshot: a Pod, or the pod template of a controller.
type Workload struct {
	Ref ObjectRef
	// Labels and Annotations are the pod's, or the pod template's.
	Labels      map[string]string
	Annotations map[string]string
	Spec        *corev1.PodSpec
	// Controlled is true for a Pod or ReplicaSet whose controller is in the Snapshot: its
	// template is already reported through the controller.
	Controlled bool
}

// ServiceAccountName is the ServiceAccount the pod runs as ("default" when unset).
func (w Workload) ServiceAccountName() string {
	if w.Spec.ServiceAccountName != "" {
		return w.Spec.ServiceAccountName
	}
	if w.Spec.DeprecatedServiceAccount != "" {
		return w.Spec.DeprecatedServiceAccount
	}
	return "default"
}

// Workloads returns every Pod and pod template of the Snapshot, controllers first.
func (s *Snapshot) Workloads() []Workload { return s.workloads(true) }

// Templates returns the pod templates of the Snapshot's controllers: Workloads without the
// Pods.
func (s *Snapshot) Templates() []Workload { return s.workloads(false) }

func (s *Snapshot) workloads(pods bool) []Workload {
	nControllers := len(s.Deployments) + len(s.StatefulSets) + len(s.DaemonSets) + len(s.CronJobs) +
		len(s.ReplicationControllers) + len(s.ReplicaSets) + len(s.Jobs)
	controllers := make(map[ObjectRef]bool, nControllers)
	n := nControllers
	if pods {
		n += len(s.Pods)
	}
	out := make([]Workload, 0, n)
	add := func(k Kind, m *metav1.ObjectMeta, t *corev1.PodTemplateSpec) {
		ref := ObjectRef{Kind: k, Namespace: m.Namespace, Name: m.Name}
		controllers[ref] = true
		out = append(out, Workload{Ref: ref, Labels: t.Labels, Annotations: t.Annotations, Spec: &t.Spec})
	}
	for i := range s.Deployments {
		add(Deployments, &s.Deployments[i].ObjectMeta, &s.Deployments[i].Spec.Template)
	}
	for i := range s.StatefulSets {
		add(StatefulSets, &s.StatefulSets[i].ObjectMeta, &s.StatefulSets[i].Spec.Template)
	}
	for i := range s.DaemonSets {
		add(DaemonSets, &s.DaemonSets[i].ObjectMeta, &s.DaemonSets[i].Spec.Template)
	}
	for i := range s.CronJobs {
		c := &s.CronJobs[i]
		add(CronJobs, &c.ObjectMeta, &c.Spec.JobTemplate.Spec.Template)
	}
	for i := range s.ReplicationControllers {
		if t := s.ReplicationControllers[i].Spec.Template; t != nil {
			add(ReplicationControllers, &s.ReplicationControllers[i].ObjectMeta, t)
		}
	}
	// ReplicaSets and Jobs are often owned by a Deployment or CronJob listed above.
	for i := range s.ReplicaSets {
		r := &s.ReplicaSets[i]
		add(ReplicaSets, &r.ObjectMeta, &r.Spec.Template)
		out[len(out)-1].Controlled = controlledBy(controllers, r.Namespace, r.OwnerReferences)
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		add(Jobs, &j.ObjectMeta, &j.Spec.Template)
		out[len(out)-1].Controlled = controlledBy(controllers, j.Namespace, j.OwnerReferences)
	}
	if !pods {
		return out
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		out = append(out, Workload{
			Ref:         ObjectRef{Kind: Pods, Namespace: p.Namespace, Name: p.Name},
			Labels:      p.Labels,
			Annotations: p.Annotations,
			Spec:        &p.Spec,
			Controlled:  controlledBy(controllers, p.Namespace, p.OwnerReferences),
		})
	}
	return out
}

func controlledBy(controllers map[ObjectRef]bool, namespace string, owners []metav1.OwnerReference) bool {
	for _, o := range owners {
		if o.Controller != nil && *o.Controller && controllers[ObjectRef{Kind: Kind(o.Kind), Namespace: namespace, Name: o.Name}] {
			return true
		}
	}
	return false
}

// PodSpecOf returns the pod spec of a workload object (a Pod or a controller's template),
// or nil for other objects.
func PodSpecOf(obj runtime.Object) *corev1.PodSpec {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.Spec
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			return &o.Spec.Template.Spec
		}
	}
	return nil
}
