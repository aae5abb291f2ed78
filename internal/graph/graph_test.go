package graph_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// build loads testdata/base.yaml plus extra manifests through the file source.
func build(t *testing.T, extra string) (*graph.Graph, *inventory.Snapshot) {
	t.Helper()
	paths := []string{"testdata/base.yaml"}
	if extra != "" {
		p := filepath.Join(t.TempDir(), "extra.yaml")
		if err := os.WriteFile(p, []byte(extra), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	s, errs, err := inventory.LoadFiles(context.Background(), paths, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading: %v %v", err, errs)
	}
	return graph.Build(s, rbac.NewIndex(s)), s
}

// hops renders a path as "PRIMITIVE>TARGET" per hop.
func hops(p graph.Path) []string {
	var out []string
	for _, h := range p.Hops {
		out = append(out, h.Primitive+">"+h.To.String())
	}
	return out
}

// adminPath builds the fixture and returns the shortest path from a --from value to
// cluster-admin with its hops (nil: none); every hop must have evidence.
func adminPath(t *testing.T, extra, fromArg string) (graph.Path, []string) {
	t.Helper()
	g, _ := build(t, extra)
	from, err := g.ParseFrom(fromArg)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := g.ShortestTo(g.Sink).Shortest(from[0])
	if !ok {
		return p, nil
	}
	for _, h := range p.Hops {
		if h.Evidence == "" {
			t.Errorf("hop %s -> %s has no evidence", h.From, h.To)
		}
	}
	return p, hops(p)
}

// role grants rules to SA attack/me: a Role+RoleBinding in ns, or a ClusterRole+
// ClusterRoleBinding when ns is "".
func role(ns, rules string) string {
	if ns == "" {
		return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: me-role}
rules:
` + rules + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: me-binding}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: me-role}
subjects: [{kind: ServiceAccount, name: me, namespace: attack}]
`
	}
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: me-role, namespace: ` + ns + `}
rules:
` + rules + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: me-binding, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: me-role}
subjects: [{kind: ServiceAccount, name: me, namespace: attack}]
`
}

const (
	toAdmin   = "P1>ClusterAdmin cluster-admin"
	toMasters = "system:masters>ClusterAdmin cluster-admin"
	viaAdmin  = "P1>ClusterAdmin cluster-admin"
	adminSA   = "ServiceAccount prod/admin"
)

// TestPrimitives: for every primitive, a minimal cluster where it is the only way up
// (the path is found, hop by hop) and a near miss where it is not.
func TestPrimitives(t *testing.T) {
	tests := []struct {
		name  string
		from  string
		extra string
		want  []string // nil: no path
	}{
		{"P1 RoleBinding to cluster-admin in prod", "sa:attack/me",
			`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: me-admin, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: me, namespace: attack}]`,
			[]string{"P1>" + adminSA, viaAdmin}},
		// (Namespace admin through a RoleBinding to cluster-admin is not a near miss: it may
		// patch its own namespace object, P16 in primitives_test.go.)
		{"P1 near miss: every verb on every resource of apps and batch only, where no SA is privileged", "sa:attack/me",
			role("sandbox", `- {apiGroups: [apps, batch], resources: ["*"], verbs: ["*"]}`), nil},
		{"P2 list secrets", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [list]}`),
			[]string{"P2>Secret prod/admin-token", "holds-token>" + adminSA, viaAdmin}},
		{"P2 get by resourceName of the token Secret", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [admin-token]}`),
			[]string{"P2>Secret prod/admin-token", "holds-token>" + adminSA, viaAdmin}},
		{"P2 near miss: get by resourceName of a non-token Secret", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [plain]}`), nil},
		{"P2 near miss: list by resourceName (a list has no name)", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [list], resourceNames: [admin-token]}`), nil},
		{"P3 create and get secrets", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [create]}
- {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [mine]}`),
			[]string{"P3>" + adminSA, viaAdmin}},
		{"P3 create and list allowed by resourceNames [\"\"]", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [create, list], resourceNames: [""]}`),
			[]string{"P3>" + adminSA, viaAdmin}},
		{"P3 near miss: resourceNames [\"\"] allows create but no get (a get has a name)", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [create, get], resourceNames: [""]}`), nil},
		{"P3 near miss: create without any way to read", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [create]}`), nil},
		{"P3 near miss: create limited by resourceNames", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [secrets], verbs: [create, get], resourceNames: [mine]}`), nil},
		{"P3 near miss: namespace without a privileged SA", "sa:attack/me", role("sandbox", `- {apiGroups: [""], resources: [secrets], verbs: [create, get]}`), nil},
		{"P4 TokenRequest", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}`),
			[]string{"P4>" + adminSA, viaAdmin}},
		{"P4 TokenRequest named", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create], resourceNames: [admin]}`),
			[]string{"P4>" + adminSA, viaAdmin}},
		{"P4 near miss: named for another SA", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create], resourceNames: [app]}`), nil},
		{"P5 create pods", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [pods], verbs: [create]}`),
			[]string{"P5>" + adminSA, viaAdmin}},
		{"P5 patch deployments", "sa:attack/me", role("prod", `- {apiGroups: [apps], resources: [deployments], verbs: [patch]}`),
			[]string{"P5>" + adminSA, viaAdmin}},
		{"P5 near miss: create pods where no SA is privileged", "sa:attack/me", role("sandbox", `- {apiGroups: [""], resources: [pods], verbs: [create]}`), nil},
		{"P5 near miss: create pods/exec is not create pods", "sa:attack/me", role("sandbox", `- {apiGroups: [""], resources: [pods/log], verbs: [create]}`), nil},
		{"P6 patch pods", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [pods], verbs: [patch]}`),
			[]string{"P6>Pod prod/admin-pod", "runs-as>" + adminSA, viaAdmin}},
		{"P6 near miss: patch pods where none is privileged", "sa:attack/me", role("sandbox", `- {apiGroups: [""], resources: [pods], verbs: [patch]}`), nil},
		{"P7 exec", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [pods/exec], verbs: [create]}`),
			[]string{"P7>Pod prod/admin-pod", "runs-as>" + adminSA, viaAdmin}},
		{"P7 exec by websocket get (server version unknown: before 1.35)", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [pods/exec], verbs: [get], resourceNames: [admin-pod]}`),
			[]string{"P7>Pod prod/admin-pod", "runs-as>" + adminSA, viaAdmin}},
		{"P7 near miss: pods/* is not a pattern", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: ["pods/*"], verbs: [create]}`), nil},
		{"P7 near miss: exec on another pod", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [pods/exec], verbs: [create], resourceNames: [app-pod]}`), nil},
		{"P8 ephemeral containers", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [pods/ephemeralcontainers], verbs: [patch]}`),
			[]string{"P8>Pod prod/admin-pod", "runs-as>" + adminSA, viaAdmin}},
		{"P9 nodes/proxy on n1", "sa:attack/me", role("", `- {apiGroups: [""], resources: [nodes/proxy], verbs: [get], resourceNames: [n1]}`),
			[]string{"P9>Pod prod/admin-pod", "runs-as>" + adminSA, viaAdmin}},
		{"P9 near miss: nodes/proxy on n2", "sa:attack/me", role("", `- {apiGroups: [""], resources: [nodes/proxy], verbs: [get], resourceNames: [n2]}`), nil},
		{"P9 near miss: a RoleBinding cannot grant nodes/proxy", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [nodes/proxy], verbs: [get]}`), nil},
		{"P11 escalate a held ClusterRole", "sa:attack/me", role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate, update], resourceNames: [me-role]}`),
			[]string{"P11>ClusterAdmin cluster-admin"}},
		{"P11 near miss: escalate without update", "sa:attack/me", role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}`), nil},
		{"P12 bind cluster-admin and create ClusterRoleBindings", "sa:attack/me", role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}`),
			[]string{"P12>ClusterAdmin cluster-admin"}},
		{"P12 in a namespace: bind and create RoleBindings in prod", "sa:attack/me", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: binder}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: me-binder, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: binder}
subjects: [{kind: ServiceAccount, name: me, namespace: attack}]`,
			[]string{"P12>" + adminSA, viaAdmin}},
		{"P12 near miss: bind without create", "sa:attack/me", role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}`), nil},
		{"P12 near miss: bind a harmless role only", "sa:attack/me", role("", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [view]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}`), nil},
		{"P13 impersonate user alice", "sa:attack/me", role("", `- {apiGroups: [""], resources: [users], verbs: [impersonate], resourceNames: [alice]}`),
			[]string{"P13>User alice", viaAdmin}},
		{"P13 impersonate group system:masters", "sa:attack/me", role("", `- {apiGroups: [""], resources: [groups], verbs: [impersonate], resourceNames: [system:masters]}
- {apiGroups: [""], resources: [users], verbs: [impersonate], resourceNames: [nobody]}`),
			[]string{"P13>Group system:masters", toMasters}},
		{"P13 impersonate serviceaccounts in prod", "sa:attack/me", role("prod", `- {apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]}`),
			[]string{"P13>" + adminSA, viaAdmin}},
		{"P13 near miss: groups without any user to impersonate", "sa:attack/me", role("", `- {apiGroups: [""], resources: [groups], verbs: [impersonate]}`), nil},
		{"P13 near miss: impersonate another user", "sa:attack/me", role("", `- {apiGroups: [""], resources: [users], verbs: [impersonate], resourceNames: [bob]}`), nil},
		{"P14 CSR create, approve, client signer", "sa:attack/me", role("", `- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [create]}
- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}
- {apiGroups: [certificates.k8s.io], resources: [signers], verbs: [approve], resourceNames: [kubernetes.io/kube-apiserver-client]}`),
			[]string{"P14>Group system:masters", toMasters}},
		{"P14 near miss: kubelet-serving signer only", "sa:attack/me", role("", `- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [create]}
- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}
- {apiGroups: [certificates.k8s.io], resources: [signers], verbs: [approve], resourceNames: [kubernetes.io/kubelet-serving]}`), nil},
		{"P15 mutating webhooks", "sa:attack/me", role("", `- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create]}`),
			[]string{"P15>" + adminSA, viaAdmin}},
		{"P15 near miss: delete webhooks only (disables controls, reads nothing)", "sa:attack/me", role("", `- {apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations], verbs: [delete, get, list]}`), nil},
		{"P17 aws-auth", "sa:attack/me", awsAuth + role("kube-system", `- {apiGroups: [""], resources: [configmaps], verbs: [patch], resourceNames: [aws-auth]}`),
			[]string{"P17>Group system:masters", toMasters}},
		{"P17 near miss: another ConfigMap", "sa:attack/me", awsAuth + role("kube-system", `- {apiGroups: [""], resources: [configmaps], verbs: [patch], resourceNames: [coredns]}`), nil},
		{"node: privileged pod breaks out and takes the tokens of its node's pods", "pod:edge/priv", "",
			[]string{"node-escape>Node n1", "node-token>" + adminSA, viaAdmin}},
		{"node near miss: privileged pod on a node without powerful pods", "pod:edge/priv-n2", "", nil},
		{"node near miss: unprivileged pod next to a powerful one", "pod:sandbox/web", "", nil},
		{"group membership: rights of system:serviceaccounts:attack", "sa:attack/me", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: all-sa, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:serviceaccounts:attack", apiGroup: rbac.authorization.k8s.io}]`,
			[]string{"member-of>Group system:serviceaccounts:attack", "P1>" + adminSA, viaAdmin}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := adminPath(t, tc.extra, tc.from)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("path (-want +got):\n%s", diff)
			}
		})
	}
}

const awsAuth = `apiVersion: v1
kind: ConfigMap
metadata: {name: aws-auth, namespace: kube-system}
data: {mapRoles: "[]"}
---
`

func TestEvidenceNamesBindingAndRule(t *testing.T) {
	g, _ := build(t, role("prod", `- {apiGroups: [""], resources: [pods], verbs: [create]}`))
	from, _ := g.ParseFrom("sa:attack/me")
	p, ok := g.ShortestTo(g.Sink).Shortest(from[0])
	if !ok {
		t.Fatal("no path")
	}
	ev := p.Hops[0].Evidence
	for _, want := range []string{`RoleBinding "me-binding/prod"`, `Role "me-role"`, "verbs=create", "create pods in namespace prod"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence %q lacks %q", ev, want)
		}
	}
	if diff := cmp.Diff([]string{"any ServiceAccount of namespace prod"}, p.Hops[0].Via[1:]); diff != "" {
		t.Errorf("via (-want +got):\n%s", diff)
	}
}

func TestSeveralPaths(t *testing.T) {
	g, _ := build(t, role("prod", `- {apiGroups: [""], resources: [pods], verbs: [create]}
- {apiGroups: [""], resources: [secrets], verbs: [list]}`))
	from, _ := g.ParseFrom("sa:attack/me")
	paths := g.ShortestTo(g.Sink).Paths(from[0], 5)
	var got [][]string
	for _, p := range paths {
		got = append(got, hops(p))
	}
	want := [][]string{
		{"P5>" + adminSA, viaAdmin},
		{"P2>Secret prod/admin-token", "holds-token>" + adminSA, viaAdmin},
		{"P5>Secret prod/admin-token", "holds-token>" + adminSA, viaAdmin}, // a new pod mounts it
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	g, _ := build(t, "")
	for _, tc := range []struct{ from, want string }{
		{"pods:x/y", `unknown form "pods:"`},
		{"pod:x", "want pod:NAMESPACE/NAME"},
		{"namespace:none", "no ServiceAccount in namespace none"},
		{"sa:prod/ghost", "no ServiceAccount prod/ghost"},
		{"prod/admin", "sa:NAMESPACE/NAME"},
	} {
		_, err := g.ParseFrom(tc.from)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFrom(%q) = %v, want error containing %q", tc.from, err, tc.want)
		}
	}
	for _, tc := range []struct{ to, want string }{
		{"admin", "want cluster-admin"},
		{"secret:prod/ghost", "no Secret prod/ghost"},
		{"role:x", `unknown form "role:"`},
	} {
		_, err := g.ParseTo(tc.to)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTo(%q) = %v, want error containing %q", tc.to, err, tc.want)
		}
	}
}

// TestAdminMatchesAuthorizer: Graph.Admin, read off the graph, agrees with the RBAC
// authorizer for every identity of the demo cluster.
func TestAdminMatchesAuthorizer(t *testing.T) {
	s, err := inventory.LoadDemo(context.Background(), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ix := rbac.NewIndex(s)
	g := graph.Build(s, ix)
	admins := 0
	for _, k := range []graph.Kind{graph.ServiceAccount, graph.User, graph.Group, graph.Node} {
		for _, id := range g.Nodes(k) {
			want := graph.IsAdmin(ix, g.User(id))
			if got := g.Admin(id); got != want {
				t.Errorf("%s: Admin = %v, authorizer says %v", g.Node(id).Ref(), got, want)
			}
			if want {
				admins++
			}
		}
	}
	if admins == 0 {
		t.Error("the demo has no admin identity")
	}
}
