package checks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/inventory"
)

func TestEscalationChecks(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/esc-rbac.yaml")))
	tests := []struct {
		check string
		want  []string
	}{
		{"KW-ESC-001", []string{
			"critical Group team-x",                 // patch secrets cluster-wide
			"critical ServiceAccount app/ks-minter", // create secrets in kube-system (RoleBinding to a ClusterRole)
			"high ServiceAccount app/minter",        // create secrets in app
			// near miss: app/named-updater (update/patch/create limited by resourceNames)
		}},
		{"KW-ESC-002", []string{
			"critical User alice",                 // patch pods/ephemeralcontainers cluster-wide
			"high ServiceAccount app/execer",      // create pods/exec
			"high ServiceAccount app/getexec",     // get pods/exec: websocket exec before 1.35
			"medium ServiceAccount app/forwarder", // create pods/portforward
			// near misses: app/star-sub (pods/* is not a pattern)
		}},
		{"KW-ESC-003", []string{
			"high ServiceAccount app/platform",    // patch namespaces cluster-wide
			"medium ServiceAccount app/relabeler", // RoleBinding: its own namespace object
			// near miss: app/ns-reader
		}},
		{"KW-ESC-004", []string{
			"critical ServiceAccount platform/iam-sync",  // update with resourceNames [aws-auth]
			"critical ServiceAccount platform/recreator", // delete + create in kube-system
			// near misses: platform/dns-tuner (resourceNames [coredns]), app/cm-editor (other
			// namespace), platform/cm-deleter (delete alone)
		}},
		{"KW-ESC-005", []string{
			"critical ServiceAccount ops/drainer", // patch nodes + evict pods cluster-wide
			"medium ServiceAccount app/deleter",   // delete pods in one namespace
			// near miss: app/rb-noder (a RoleBinding cannot grant Nodes)
		}},
		{"KW-ESC-006", []string{
			"high ServiceAccount ops/lb",    // services/status cluster-wide
			"low ServiceAccount app/status", // pods/status in one namespace
			// near miss: app/status-reader
		}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	for _, n := range res.NotAssessed {
		if strings.HasPrefix(n.Check, "KW-ESC-00") && n.Check != "KW-ESC-007" {
			t.Errorf("unexpected not assessed: %+v", n)
		}
	}
}

// escFind returns the finding of a check about an object.
func escFind(t *testing.T, res *Result, check, object string) Finding {
	t.Helper()
	for _, f := range res.Findings {
		if f.Check == check && f.Object.String() == object {
			return f
		}
	}
	t.Fatalf("no %s finding on %s in %v", check, object, got(res, check))
	return Finding{}
}

func TestEscalationEvidence(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/esc-rbac.yaml")))
	f := escFind(t, res, "KW-ESC-002", "ServiceAccount app/execer")
	want := Finding{
		Check:    "KW-ESC-002",
		Severity: High,
		Title:    "Can run code in existing pods",
		Message:  "ServiceAccount app/execer can exec into pods in namespace app: code runs as those pods' ServiceAccounts, with their tokens and mounted Secrets",
		Object:   inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: "app", Name: "execer"},
		Related: []inventory.ObjectRef{
			{Kind: inventory.RoleBindings, Namespace: "app", Name: "execer"},
			{Kind: inventory.Roles, Namespace: "app", Name: "pod-exec"},
		},
		Evidence: []string{
			`RoleBinding "execer/app" of Role "pod-exec" to ServiceAccount "execer/app": verbs=create apiGroups="" resources=pods/exec`,
			"runs as this ServiceAccount: Deployment app/exec-bot",
		},
		Remediation: "Drop the grant (kubectl delete rolebinding execer -n app) or remove update/patch on pods and create/get on pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers from Role pod-exec (kubectl edit role pod-exec -n app)",
	}
	f.References, f.Location = nil, nil
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("finding (-want +got):\n%s", diff)
	}
	ns := escFind(t, res, "KW-ESC-003", "ServiceAccount app/relabeler")
	if !slices.Contains(ns.Evidence, "namespace app has pod-security enforce=restricted") {
		t.Errorf("KW-ESC-003 evidence lacks the namespace's pod-security labels: %q", ns.Evidence)
	}
	aws := escFind(t, res, "KW-ESC-004", "ServiceAccount platform/iam-sync")
	if !slices.Contains(aws.Related, inventory.ObjectRef{Kind: inventory.ConfigMaps, Namespace: "kube-system", Name: "aws-auth"}) {
		t.Errorf("KW-ESC-004 related lacks the aws-auth ConfigMap: %v", aws.Related)
	}
}

// TestEscWebsocketExec: from 1.35 websocket exec is authorized as create, so get pods/exec
// alone is low.
func TestEscWebsocketExec(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"", []string{"critical User alice", "high ServiceAccount app/execer", "high ServiceAccount app/getexec", "medium ServiceAccount app/forwarder"}},
		{"v1.34.2-eks-113cf36", []string{"critical User alice", "high ServiceAccount app/execer", "high ServiceAccount app/getexec", "medium ServiceAccount app/forwarder"}},
		{"v1.35.0", []string{"critical User alice", "high ServiceAccount app/execer", "medium ServiceAccount app/forwarder", "low ServiceAccount app/getexec"}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := load(t, "testdata/esc-rbac.yaml")
			s.Cluster.ServerVersion = tc.version
			if diff := cmp.Diff(tc.want, got(Run(NewInput(s), escPodsCheck), "KW-ESC-002")); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEscServerMinor(t *testing.T) {
	for _, tc := range []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"v1.30.4-eks-a737599", 1, 30, true},
		{"v1.35.0", 1, 35, true},
		{"1.29", 1, 29, true},
		{"v1.31+", 1, 31, true},
		{"", 0, 0, false},
		{"v1", 0, 0, false},
		{"vx.y", 0, 0, false},
	} {
		major, minor, ok := escServerMinor(tc.in)
		if major != tc.major || minor != tc.minor || ok != tc.ok {
			t.Errorf("escServerMinor(%q) = %d, %d, %v; want %d, %d, %v", tc.in, major, minor, ok, tc.major, tc.minor, tc.ok)
		}
	}
}

// TestEscAWSAuthEKS: aws-auth matters on EKS only; when the input does not say, the finding
// is high rather than critical.
func TestEscAWSAuthEKS(t *testing.T) {
	both := func(sev string) []string {
		return []string{sev + " ServiceAccount platform/iam-sync", sev + " ServiceAccount platform/recreator"}
	}
	for _, tc := range []struct {
		name    string
		keepCM  bool
		version string
		want    []string
	}{
		{"aws-auth present", true, "", both("critical")},
		{"EKS version", false, "v1.30.4-eks-a737599", both("critical")},
		{"unknown", false, "", both("high")},
		{"not EKS", false, "v1.30.1", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := load(t, "testdata/esc-rbac.yaml")
			if !tc.keepCM {
				s.ConfigMaps = nil
			}
			s.Cluster.ServerVersion = tc.version
			if diff := cmp.Diff(tc.want, got(Run(NewInput(s), escAWSAuthCheck), "KW-ESC-004")); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEscNodeChecks(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/esc-nodes.yaml")))
	tests := []struct {
		check string
		want  []string
	}{
		{"KW-ESC-007", []string{
			"critical DaemonSet mon/agent", // critical token on every node
			"high Node node-a",             // mon/agent and app/worker
			"high Node node-b",             // mon/agent and app/projected (projected API token)
			"high DaemonSet app/ds-worker", // high token on every node
			// near misses: node-c (a finished pod, a ServiceAccount without rights),
			// DaemonSets mon/quiet (no rights) and app/ds-optout (automount off),
			// app/optout-1 (token not mounted)
		}},
		{"KW-ESC-008", []string{
			"critical CronJob kube-system/stale-pod-cleanup",    // generic-garbage-collector, by name
			"critical Deployment kube-system/custom-controller", // bound to system:controller:job-controller
			// near misses: kube-system/coredns, app/lookalike (another namespace's SA)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	node := escFind(t, res, "KW-ESC-007", "Node node-b")
	for _, want := range []string{"critical token of ServiceAccount mon/agent via Pod mon/agent-b", "high token of ServiceAccount app/projected via Pod app/projected-1"} {
		if !slices.ContainsFunc(node.Evidence, func(e string) bool { return strings.HasPrefix(e, want) }) {
			t.Errorf("node-b evidence lacks %q: %q", want, node.Evidence)
		}
	}
}

// TestEscNotAssessed: a kind that could not be read is reported, and what could be judged
// still is.
func TestEscNotAssessed(t *testing.T) {
	forbid := func(s *inventory.Snapshot, k inventory.Kind) {
		s.Status[k] = inventory.Status{State: inventory.Forbidden, Error: "forbidden"}
	}
	s := load(t, "testdata/esc-nodes.yaml")
	forbid(s, inventory.Nodes)
	res := Run(NewInput(s), escNodeTokensCheck)
	if diff := cmp.Diff([]NotAssessed{{Check: "KW-ESC-007", Reason: "(a) tokens per node: Node could not be listed: forbidden (forbidden)"}}, res.NotAssessed); diff != "" {
		t.Errorf("not assessed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"critical DaemonSet mon/agent", "high DaemonSet app/ds-worker"}, got(res, "KW-ESC-007")); diff != "" {
		t.Errorf("DaemonSets are still judged (-want +got):\n%s", diff)
	}

	s = load(t, "testdata/esc-rbac.yaml")
	forbid(s, inventory.ClusterRoleBindings)
	s.ClusterRoleBindings = nil
	res = Run(NewInput(s), escSecretsCheck)
	if diff := cmp.Diff([]NotAssessed{{Check: "KW-ESC-001", Reason: "ClusterRoleBinding could not be listed: forbidden (forbidden)"}}, res.NotAssessed); diff != "" {
		t.Errorf("not assessed (-want +got):\n%s", diff)
	}
	// Findings through RoleBindings still hold.
	if diff := cmp.Diff([]string{"critical ServiceAccount app/ks-minter", "high ServiceAccount app/minter"}, got(res, "KW-ESC-001")); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}

	s = load(t, "testdata/esc-nodes.yaml")
	forbid(s, inventory.CronJobs)
	res = Run(NewInput(s), escControllerSACheck)
	if len(res.NotAssessed) != 1 || !strings.Contains(res.NotAssessed[0].Reason, "CronJob could not be listed") {
		t.Errorf("KW-ESC-008 without CronJobs: not assessed = %+v", res.NotAssessed)
	}
}

// TestEscAllowlist: system subjects are allowlisted by default, not reported.
func TestEscAllowlist(t *testing.T) {
	s := load(t, "testdata/esc-rbac.yaml")
	in := NewInput(s)
	in.Config.Allowlist = []AllowEntry{{Check: "KW-ESC-00*", Kind: "ServiceAccount", Namespace: "ops", Reason: "platform team"}}
	res := Run(in)
	for _, f := range res.Findings {
		if f.Object.Namespace == "ops" && strings.HasPrefix(f.Check, "KW-ESC") {
			t.Errorf("allowlisted subject reported: %s %s", f.Check, f.Object)
		}
	}
	var allowed []string
	for _, a := range res.Allowlisted {
		if strings.HasPrefix(a.Check, "KW-ESC") {
			allowed = append(allowed, fmt.Sprintf("%s %s", a.Check, a.Object))
		}
	}
	if diff := cmp.Diff([]string{"KW-ESC-005 ServiceAccount ops/drainer", "KW-ESC-006 ServiceAccount ops/lb"}, allowed); diff != "" {
		t.Errorf("allowlisted (-want +got):\n%s", diff)
	}
}
