package graph_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Fixtures for P10, P15 (validating webhooks), P16, P18 and P23, on top of testdata/base.yaml.
const (
	nsBuild = `apiVersion: v1
kind: Namespace
metadata: {name: build, labels: {pod-security.kubernetes.io/enforce: baseline}}
---
`
	nsLab = `apiVersion: v1
kind: Namespace
metadata: {name: lab, labels: {pod-security.kubernetes.io/enforce: privileged}}
---
`
	// api-7d9 is a pod of a ReplicaSet running as prod/admin on n1: deleted, it comes back
	// wherever the scheduler puts it.
	rsPod = `apiVersion: v1
kind: Pod
metadata:
  name: api-7d9
  namespace: prod
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9, uid: u1, controller: true}]
spec:
  serviceAccountName: admin
  nodeName: n1
  containers: [{name: c, image: api:1}]
status: {phase: Running}
---
`
	dsPod = `apiVersion: v1
kind: Pod
metadata:
  name: agent-x1
  namespace: prod
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: u2, controller: true}]
spec:
  serviceAccountName: admin
  nodeName: n1
  containers: [{name: c, image: agent:1}]
status: {phase: Running}
---
`
	// ops is a RoleBinding of cluster-admin in prod to someone else; readers one of a
	// harmless role.
	opsBinding = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ops, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
---
`
	viaNode1 = "node-token>" + adminSA
)

// stealer grants edge/default (the ServiceAccount of the privileged pod edge/priv-n2 on
// n2) the rules cluster-wide.
func stealer(rules string) string {
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: stealer}
rules:
` + rules + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: stealer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: stealer}
subjects: [{kind: ServiceAccount, name: default, namespace: edge}]
---
`
}

// TestMorePrimitives: P10, P15 (validating webhooks), P16, P18 and P23, each where it is
// the only way up and in near misses; evidence names the grants.
func TestMorePrimitives(t *testing.T) {
	tests := []struct {
		name, from, extra string
		want              []string // nil: no path
		evidence          []string // in the first hop's evidence
	}{
		// P10: hostPath PersistentVolume.
		{name: "P10 create PVs and pods in a baseline namespace", from: "sa:attack/me",
			extra:    nsBuild + role("", `- {apiGroups: [""], resources: [persistentvolumes], verbs: [create]}`) + "---\n" + role("build", `- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			want:     []string{"P10>Node n1", viaNode1, viaAdmin},
			evidence: []string{`ClusterRoleBinding "me-binding"`, `RoleBinding "me-binding/build"`, "hostPath PersistentVolume", "pods in namespace build", "which enforces Pod Security baseline"}},
		{name: "P10 with a Deployment instead of a pod", from: "sa:attack/me",
			extra: nsBuild + role("", `- {apiGroups: [""], resources: [persistentvolumes], verbs: [create]}`) + "---\n" + role("build", `- {apiGroups: [apps], resources: [deployments], verbs: [create]}`),
			want:  []string{"P10>Node n1", viaNode1, viaAdmin}},
		{name: "P10 near miss: create PVs without a way to use them in a pod", from: "sa:attack/me",
			extra: nsBuild + role("", `- {apiGroups: [""], resources: [persistentvolumes, persistentvolumeclaims], verbs: [create]}`)},
		{name: "P10 in a restricted namespace (non-root in group 0 reads the pods' tokens)", from: "sa:attack/me",
			extra:    role("", `- {apiGroups: [""], resources: [persistentvolumes], verbs: [create]}`) + "---\n" + role("sandbox", `- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			want:     []string{"P10>Node n1", viaNode1, viaAdmin},
			evidence: []string{"which enforces Pod Security restricted", "group 0"}},
		{name: "P10 not needed: the namespace admits privileged pods (P5 breaks out)", from: "sa:attack/me",
			extra: nsLab + role("", `- {apiGroups: [""], resources: [persistentvolumes], verbs: [create]}`) + "---\n" + role("lab", `- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			want:  []string{"P5>Node n1", viaNode1, viaAdmin}},
		{name: "P10 near miss: a RoleBinding cannot grant PersistentVolumes (cluster-scoped)", from: "sa:attack/me",
			extra: nsBuild + role("build", `- {apiGroups: [""], resources: [persistentvolumes, pods], verbs: [create]}`)},

		// P15: validating webhooks receive Secrets as they are written.
		{name: "P15 create validating webhooks", from: "sa:attack/me",
			extra:    role("", `- {apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [create]}`),
			want:     []string{"P15>Secret prod/admin-token", "holds-token>" + adminSA, viaAdmin},
			evidence: []string{"write validatingwebhookconfigurations", `ClusterRoleBinding "me-binding"`}},
		{name: "P15 patch one existing validating webhook", from: "sa:attack/me",
			extra: role("", `- {apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [patch], resourceNames: [policy]}`),
			want:  []string{"P15>Secret prod/admin-token", "holds-token>" + adminSA, viaAdmin}},
		{name: "P15 near miss: a RoleBinding cannot grant webhook configurations", from: "sa:attack/me",
			extra: role("prod", `- {apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [create]}`)},

		// P16: relabel a namespace to lift Pod Security.
		{name: "P16 namespace admin (RoleBinding to cluster-admin) in a restricted namespace relabels it", from: "sa:attack/me",
			extra: `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: me-admin, namespace: sandbox}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: me, namespace: attack}]`,
			want:     []string{"P16>Node n1", viaNode1, viaAdmin},
			evidence: []string{"patch namespace sandbox", "enforces Pod Security restricted", `RoleBinding "me-admin/sandbox"`}},
		{name: "P16 Role with patch namespaces and create pods", from: "sa:attack/me",
			extra: role("sandbox", `- {apiGroups: [""], resources: [namespaces], verbs: [patch]}
- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			want: []string{"P16>Node n1", viaNode1, viaAdmin}},
		{name: "P16 ClusterRoleBinding limited by resourceNames to that namespace", from: "sa:attack/me",
			extra: role("", `- {apiGroups: [""], resources: [namespaces], verbs: [update], resourceNames: [sandbox]}`) + "---\n" + role("sandbox", `- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			want:  []string{"P16>Node n1", viaNode1, viaAdmin}},
		{name: "P16 Role limited by resourceNames to its own namespace", from: "sa:attack/me",
			extra: role("sandbox", `- {apiGroups: [""], resources: [namespaces], verbs: [patch], resourceNames: [sandbox]}
- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			want: []string{"P16>Node n1", viaNode1, viaAdmin}},
		{name: "P16 near miss: relabel without creating pods", from: "sa:attack/me",
			extra: role("sandbox", `- {apiGroups: [""], resources: [namespaces], verbs: [patch, update]}`)},
		{name: "P16 near miss: relabel another namespace than the pods'", from: "sa:attack/me",
			extra: role("", `- {apiGroups: [""], resources: [namespaces], verbs: [patch], resourceNames: [attack]}`) + "---\n" + role("sandbox", `- {apiGroups: [""], resources: [pods], verbs: [create]}`)},
		{name: "P16 near miss: a RoleBinding covers only its own namespace object", from: "sa:attack/me",
			extra: role("sandbox", `- {apiGroups: [""], resources: [namespaces], verbs: [patch], resourceNames: [attack]}
- {apiGroups: [""], resources: [pods], verbs: [create]}`)},
		{name: "P16 not needed: Pod Security does not stop privileged pods there (P5 breaks out)", from: "sa:attack/me",
			extra: nsLab + role("lab", `- {apiGroups: [""], resources: [namespaces], verbs: [patch]}
- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			want: []string{"P5>Node n1", viaNode1, viaAdmin}},

		// P18: a node whose token can cordon nodes and delete pods pulls them onto itself.
		{name: "P18 privileged pod on n2 whose ServiceAccount may patch nodes and delete pods", from: "pod:edge/priv-n2",
			extra: rsPod + stealer(`- {apiGroups: [""], resources: [nodes], verbs: [patch]}
- {apiGroups: [""], resources: [pods], verbs: [delete]}`),
			want:     []string{"node-escape>Node n2", "P18>Pod prod/api-7d9", "runs-as>" + adminSA, viaAdmin},
			evidence: []string{"privileged container c"}},
		{name: "P18 with eviction", from: "node:n2",
			extra: rsPod + stealer(`- {apiGroups: [""], resources: [nodes], verbs: [update]}
- {apiGroups: [""], resources: [pods/eviction], verbs: [create]}`),
			want:     []string{"P18>Pod prod/api-7d9", "runs-as>" + adminSA, viaAdmin},
			evidence: []string{"node n2 acts as ServiceAccount edge/default", `ClusterRoleBinding "stealer"`, "cordon or taint the other nodes"}},
		{name: "P18 near miss: DaemonSet pods come back on their own node", from: "pod:edge/priv-n2",
			extra: dsPod + stealer(`- {apiGroups: [""], resources: [nodes], verbs: [patch]}
- {apiGroups: [""], resources: [pods], verbs: [delete]}`)},
		{name: "P18 near miss: delete pods without writing nodes", from: "pod:edge/priv-n2",
			extra: rsPod + stealer(`- {apiGroups: [""], resources: [pods], verbs: [delete]}`)},
		{name: "P18 near miss: patch only the node it has (cannot cordon the others)", from: "pod:edge/priv-n2",
			extra: rsPod + stealer(`- {apiGroups: [""], resources: [nodes], verbs: [patch], resourceNames: [n2]}
- {apiGroups: [""], resources: [pods], verbs: [delete]}`)},
		{name: "P18 near miss: the ServiceAccount's token alone controls no node", from: "sa:edge/default",
			extra: rsPod + stealer(`- {apiGroups: [""], resources: [nodes], verbs: [patch]}
- {apiGroups: [""], resources: [pods], verbs: [delete]}`)},

		// P23: add oneself to an existing binding.
		{name: "P23 patch a ClusterRoleBinding of cluster-admin, with bind on it", from: "sa:attack/me",
			extra: role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [patch], resourceNames: [alice-admin]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}`),
			want:     []string{"P23>ClusterAdmin cluster-admin"},
			evidence: []string{"patch ClusterRoleBinding alice-admin", "bind on ClusterRole cluster-admin", "all verbs on all resources cluster-wide"}},
		{name: "P23 get and update a RoleBinding of cluster-admin in prod", from: "sa:attack/me",
			extra: opsBinding + role("prod", `- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [get, update], resourceNames: [ops]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}`),
			want:     []string{"P23>" + adminSA, viaAdmin},
			evidence: []string{"get and update RoleBinding prod/ops"}},
		{name: "P23 near miss: patch without bind (the escalation check refuses the update)", from: "sa:attack/me",
			extra: role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings, rolebindings], verbs: [get, patch, update]}`)},
		{name: "P23 near miss: bind on another role than the binding's", from: "sa:attack/me",
			extra: role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [patch], resourceNames: [alice-admin]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [view]}`)},
		{name: "P23 near miss: bind granted in another namespace than the binding's", from: "sa:attack/me",
			extra: opsBinding + role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [patch], resourceNames: [ops]}`) + "---\n" +
				role("sandbox", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}`)},
		{name: "P23 near miss: update without get", from: "sa:attack/me",
			extra: role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [update], resourceNames: [alice-admin]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}`)},
		{name: "P23 near miss: patch limited by resourceNames to a binding of a harmless role", from: "sa:attack/me",
			extra: opsBinding + role("prod", `- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [get, patch], resourceNames: [readers]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}`)},
		{name: "P23 near miss: bind on cluster-admin but patch on bindings of another namespace", from: "sa:attack/me",
			extra: opsBinding + role("sandbox", `- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [patch]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, got := adminPath(t, tc.extra, tc.from)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("path (-want +got):\n%s", diff)
			}
			for _, want := range tc.evidence {
				if !strings.Contains(p.Hops[0].Evidence, want) {
					t.Errorf("evidence %q lacks %q", p.Hops[0].Evidence, want)
				}
			}
		})
	}
}
