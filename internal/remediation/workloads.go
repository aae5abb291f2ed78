package remediation

import (
	"github.com/kwid-dev/kwid/internal/inventory"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// podSpec returns the pod template spec of a workload controller (an empty one for other
// objects, which the planner never passes).
func podSpec(obj runtime.Object) *corev1.PodSpec {
	if spec := inventory.PodSpecOf(obj); spec != nil {
		return spec
	}
	return &corev1.PodSpec{}
}

// clearStatus drops a controller's status: it is the server's, not the manifest's.
func clearStatus(obj runtime.Object) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Status = appsv1.DeploymentStatus{}
	case *appsv1.StatefulSet:
		o.Status = appsv1.StatefulSetStatus{}
	case *appsv1.DaemonSet:
		o.Status = appsv1.DaemonSetStatus{}
	case *appsv1.ReplicaSet:
		o.Status = appsv1.ReplicaSetStatus{}
	case *batchv1.CronJob:
		o.Status = batchv1.CronJobStatus{}
	case *corev1.ReplicationController:
		o.Status = corev1.ReplicationControllerStatus{}
	}
}
