package graph

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A pod breaks out to its node through host PID, a hostPath volume, or a privileged
// container, init containers included; other security contexts do not.
func TestEscape(t *testing.T) {
	yes, no := true, false
	priv := func(name string, p *bool) corev1.Container {
		return corev1.Container{Name: name, SecurityContext: &corev1.SecurityContext{Privileged: p}}
	}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"nothing", corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}, priv("d", &no), priv("e", nil)}}, ""},
		{"hostPID", corev1.PodSpec{HostPID: true}, "hostPID"},
		{"hostPath", corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}}, "hostPath volume v (/)"},
		{"privileged container", corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}, priv("p", &yes)}}, "privileged container p"},
		{"privileged init container first", corev1.PodSpec{InitContainers: []corev1.Container{priv("i", &yes)}, Containers: []corev1.Container{priv("p", &yes)}}, "privileged container i"},
	} {
		if got := escape(&tc.spec); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
