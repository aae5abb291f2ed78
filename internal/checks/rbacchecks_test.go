package checks

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// runRBAC runs one check on fixtures.
func runRBAC(t *testing.T, id string, s *inventory.Snapshot) *Result {
	t.Helper()
	c, err := Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return Run(NewInput(s), c)
}

// findingOf returns the finding of a check on an object, failing the test without one.
func findingOf(t *testing.T, res *Result, check, object string) Finding {
	t.Helper()
	for _, f := range res.Findings {
		if f.Check == check && f.Object.String() == object {
			return f
		}
	}
	t.Fatalf("no %s finding on %s in %v", check, object, got(res, check))
	return Finding{}
}

// TestRBACChecks: every KW-RBAC check on its fixture, positives and near misses (each
// fixture object says which it is and why).
func TestRBACChecks(t *testing.T) {
	tests := []struct {
		name  string
		check string
		file  string
		want  []string
	}{
		{
			// Near misses: a rule on apps/* only (star-apps), a namespaced wildcard Role
			// (ns-star), a Role named cluster-admin (fake-admin: roleRef kind matters).
			name: "001 cluster-admin and equivalents", check: "KW-RBAC-001", file: "rbac-admin.yaml",
			want: []string{
				"critical ServiceAccount apps/admin-bot",
				"critical ServiceAccount apps/equiv",           // User system:serviceaccount:apps:equiv, core group *
				"critical ServiceAccount kube-system/ks-admin", // RoleBinding in a privileged namespace
				"high User alice",
				"high ServiceAccount apps/ns-admin", // RoleBinding to cluster-admin: namespace admin, not cluster-wide
				"medium Group ops",
			},
		},
		{
			name: "001 binding to a cluster-admin role absent from manifests", check: "KW-RBAC-001", file: "rbac-manifest.yaml",
			want: []string{"critical ServiceAccount ci/deployer"},
		},
		{
			name: "002 secrets", check: "KW-RBAC-002", file: "rbac-secrets.yaml",
			want: []string{
				"critical ServiceAccount kube-system/ks-getter",         // get in a privileged namespace
				"critical ServiceAccount monitoring/kube-state-metrics", // list cluster-wide
				"high ServiceAccount apps/lister-live",                  // a running workload mounts its token
				"medium ServiceAccount apps/lister",                     // its workload opts out of the token
				"medium ServiceAccount apps/named-token",                // named, but the Secret is a token
				"medium ServiceAccount apps/rb-clusterrole",             // ClusterRole through a RoleBinding: one namespace
				"low ServiceAccount apps/named",                         // resourceNames only
			},
		},
		{
			// Near misses: cluster-admin, built-in system:* roles, pods/* (literal), the
			// aggregated role itself, the Role "scaler" bound where the ClusterRole is not.
			name: "003 wildcards", check: "KW-RBAC-003", file: "rbac-wildcards.yaml",
			want: []string{
				"high ClusterRole agg-source", // aggregated into a role bound to system:serviceaccounts:ops
				"high ClusterRole star-core",
				"medium ClusterRole debug",
				"medium ClusterRole metrics-prefix",
				"medium ClusterRole scaler", // */scale; the RoleBinding "scaler" refers to the Role
				"medium ClusterRole system:custom-agent",
				"medium Role apps/wildverbs", // bound to a group of people only
			},
		},
		{
			name: "004 pod creation", check: "KW-RBAC-004", file: "rbac-workloads.yaml",
			want: []string{
				"critical User dns-admin", // patch on a named Deployment in kube-system
				"high Group system:serviceaccounts:batch",
				"high ServiceAccount data/airflow",
				"high ServiceAccount data/pv-full",
			},
		},
		{
			// Near misses: imp-rb (users and groups are cluster-scoped: a RoleBinding grants
			// nothing). admin-bot is cluster-admin and holds every verb.
			name: "008 bind escalate impersonate", check: "KW-RBAC-008", file: "rbac-escalation.yaml",
			want: []string{
				"critical ServiceAccount apps/admin-bot",
				"critical ServiceAccount apps/admin-bot",
				"critical ServiceAccount apps/admin-bot",
				"critical ServiceAccount apps/imp",
				"critical ServiceAccount apps/imp-masters", // one name, but it is system:masters
				"critical ServiceAccount apps/rbac-admin",  // bind, with create on bindings
				"critical ServiceAccount apps/rbac-admin",  // escalate, with update on roles
				"high ServiceAccount apps/bind-only",       // bind without a right to write bindings
				"high ServiceAccount apps/sa-imp",          // ServiceAccounts of one namespace
				"medium ServiceAccount apps/imp-jane",      // one named user
			},
		},
		{
			name: "009 persistent volumes", check: "KW-RBAC-009", file: "rbac-workloads.yaml",
			want: []string{
				"critical ServiceAccount data/pv-full", // and Pods and PVCs in data
				"high ServiceAccount ci/static-pv",
			},
		},
		{
			// Near misses: proxy-rb (a RoleBinding never grants nodes), node-reader (nodes,
			// nodes/stats and the literal nodes/*).
			name: "010 nodes/proxy", check: "KW-RBAC-010", file: "rbac-escalation.yaml",
			want: []string{
				"critical ServiceAccount apps/admin-bot",
				"critical ServiceAccount monitoring/otel-agent", // get is enough
				"high ServiceAccount apps/node-debug",           // one node by name
			},
		},
		{
			name: "011 CSR approval", check: "KW-RBAC-011", file: "rbac-csr.yaml",
			want: []string{
				"critical ServiceAccount apps/csr-all",
				"critical ServiceAccount pki/issuer", // create through system:serviceaccounts:pki
				"high ServiceAccount apps/csr-approver",
				"high ServiceAccount apps/csr-domain", // kubernetes.io/* covers the signer
				"medium ServiceAccount apps/csr-own-signer",
			},
		},
		{
			name: "012 webhook configurations", check: "KW-RBAC-012", file: "rbac-escalation.yaml",
			want: []string{
				"high ServiceAccount apps/admin-bot",
				"high ServiceAccount apps/webhook-admin",
				"medium ServiceAccount apps/webhook-deleter",
				"medium ServiceAccount apps/webhook-named",
			},
		},
		{
			name: "013 token creation", check: "KW-RBAC-013", file: "rbac-escalation.yaml",
			want: []string{
				"critical ServiceAccount apps/admin-bot",
				"critical ServiceAccount apps/token-self", // names admin-bot
				"critical ServiceAccount kube-system/token-ks",
				"high ServiceAccount apps/token-all",
				"low ServiceAccount apps/token-quiet", // names only itself and an SA without rights
			},
		},
		{
			name: "007 bindings naming system:masters", check: "KW-RBAC-007", file: "rbac-bindings.yaml",
			want: []string{
				"high ClusterRoleBinding cluster-admin-legacy", // the built-in cluster-admin binding is not reported
				"high RoleBinding team/masters-readers",
			},
		},
		{
			// Near misses: the built-in discovery, public-info and issuer-discovery bindings.
			name: "014 broad groups", check: "KW-RBAC-014", file: "rbac-bindings.yaml",
			want: []string{
				"critical ClusterRoleBinding anonymous-view",
				"critical ClusterRoleBinding everyone-reads-secrets",
				"critical ClusterRoleBinding unauthenticated-view",
				"critical RoleBinding kube-system/ks-launch",
				"critical RoleBinding team/fake-discovery", // a Role named system:discovery is not the built-in one
				"high ClusterRoleBinding all-sas-view",
				"high ClusterRoleBinding cluster-readers",
				"high RoleBinding team/team-launch", // system:serviceaccounts:team expanded: pods in team
				"medium RoleBinding team/team-config",
			},
		},
		{
			// Near misses: team-edit (built-in ClusterRole absent from files), system:kube-dns
			// (built-in binding, harmless role).
			name: "015 dangling bindings", check: "KW-RBAC-015", file: "rbac-bindings.yaml",
			want: []string{
				"high ClusterRoleBinding operator",     // missing ClusterRole, cluster-wide
				"high RoleBinding team/ghost-launcher", // missing SA (named as a User), privileged role
				"medium RoleBinding team/cross-namespace",
				"medium RoleBinding team/ghost",
				"medium RoleBinding team/wrong-kind",
			},
		},
		{
			name: "015 built-in role absent from manifests", check: "KW-RBAC-015", file: "rbac-manifest.yaml",
			want: []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runRBAC(t, tc.check, load(t, "testdata/"+tc.file))
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRBACFindingDetails checks messages, evidence and remediation where they carry the
// semantics: resourceNames, group expansion, aggregation, pasteable commands.
func TestRBACFindingDetails(t *testing.T) {
	tests := []struct {
		name, check, file, object string
		message                   string   // substring of the message
		evidence                  []string // substrings, each in some evidence line
		remediation               string   // substring
	}{
		{
			name: "named secrets are low", check: "KW-RBAC-002", file: "rbac-secrets.yaml", object: "ServiceAccount apps/named",
			message: "can read only the named Secrets app-config in namespace apps",
		},
		{
			name: "list reveals contents", check: "KW-RBAC-002", file: "rbac-secrets.yaml", object: "ServiceAccount monitoring/kube-state-metrics",
			message:     "can list, watch Secrets cluster-wide (reads every Secret's data)",
			remediation: "kubectl delete clusterrolebinding monitoring-secrets",
		},
		{
			name: "running workload raises", check: "KW-RBAC-002", file: "rbac-secrets.yaml", object: "ServiceAccount apps/lister-live",
			evidence: []string{"1 running workload(s) run as ServiceAccount apps/lister-live (Deployment apps/lister-live): its token is mounted"},
			// The binding has two subjects: only this one is removed, guarded by a test.
			remediation: `kubectl patch rolebinding lister -n apps --type=json -p '[{"op":"test","path":"/subjects/1/name","value":"lister-live"},{"op":"remove","path":"/subjects/1"}]'`,
		},
		{
			name: "token secret by name", check: "KW-RBAC-002", file: "rbac-secrets.yaml", object: "ServiceAccount apps/named-token",
			evidence: []string{"Secret apps/builder-token holds a token of ServiceAccount builder"},
		},
		{
			name: "group of ServiceAccounts expanded", check: "KW-RBAC-004", file: "rbac-workloads.yaml", object: "Group system:serviceaccounts:batch",
			message:  "can create jobs in namespace batch",
			evidence: []string{"Group system:serviceaccounts:batch is every ServiceAccount of namespace batch (1 known: batch/runner); 1 running workload(s) run as them, 1 with a mounted token"},
		},
		{
			name: "cluster-admin from manifests", check: "KW-RBAC-001", file: "rbac-manifest.yaml", object: "ServiceAccount ci/deployer",
			evidence:    []string{"the ClusterRole is not in the input"},
			remediation: "kubectl delete clusterrolebinding deployer-admin",
		},
		{
			name: "user on a shared binding", check: "KW-RBAC-001", file: "rbac-admin.yaml", object: "User alice",
			message:     "User alice can do anything cluster-wide (ClusterRole cluster-admin via ClusterRoleBinding admin-bot)",
			remediation: `kubectl patch clusterrolebinding admin-bot --type=json -p '[{"op":"test","path":"/subjects/1/name","value":"alice"},{"op":"remove","path":"/subjects/1"}]'`,
		},
		{
			name: "pods/* is literal", check: "KW-RBAC-003", file: "rbac-wildcards.yaml", object: "ClusterRole debug",
			message:  "uses wildcards (verbs * on pods, pods/*), and no binding uses it",
			evidence: []string{`resource "pods/*" is not a wildcard for the API server`},
		},
		{
			name: "aggregated wildcard", check: "KW-RBAC-003", file: "rbac-wildcards.yaml", object: "ClusterRole agg-source",
			evidence: []string{"aggregated into ClusterRole agg"},
		},
		{
			name: "bind without companion", check: "KW-RBAC-008", file: "rbac-escalation.yaml", object: "ServiceAccount apps/bind-only",
			evidence: []string{"has no right to create or update bindings in the same scope"},
		},
		{
			name: "all three CSR rights through a group", check: "KW-RBAC-011", file: "rbac-csr.yaml", object: "ServiceAccount pki/issuer",
			evidence: []string{`ClusterRoleBinding "pki-create-csrs" of ClusterRole "csr-create" to Group "system:serviceaccounts:pki"`},
		},
		{
			name: "roleRef kind hint", check: "KW-RBAC-015", file: "rbac-bindings.yaml", object: "RoleBinding team/wrong-kind",
			evidence: []string{"a ClusterRole named view-lite exists"},
		},
		{
			name: "missing SA and namespace", check: "KW-RBAC-015", file: "rbac-bindings.yaml", object: "RoleBinding team/cross-namespace",
			evidence:    []string{"namespace gone does not exist either"},
			remediation: "kubectl delete rolebinding cross-namespace -n team",
		},
		{
			name: "missing SA among others", check: "KW-RBAC-015", file: "rbac-bindings.yaml", object: "RoleBinding team/ghost",
			remediation: `kubectl patch rolebinding ghost -n team --type=json -p '[{"op":"test","path":"/subjects/1/name","value":"ghost"},{"op":"remove","path":"/subjects/1"}]'`,
		},
		{
			name: "aws-auth names the principals", check: "KW-RBAC-007", file: "rbac-awsauth.yaml", object: "ConfigMap kube-system/aws-auth",
			message: "maps 2 IAM principal(s) to group system:masters, which bypasses RBAC: IAM role Admins, IAM user ci-bot",
			evidence: []string{
				"mapRoles entry 2: IAM role arn:aws:iam::111122223333:role/Admins",
				"mapUsers entry 1: IAM user arn:aws:iam::111122223333:user/ci-bot",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := findingOf(t, runRBAC(t, tc.check, load(t, "testdata/"+tc.file)), tc.check, tc.object)
			if !strings.Contains(f.Message, tc.message) {
				t.Errorf("message %q lacks %q", f.Message, tc.message)
			}
			for _, want := range tc.evidence {
				if !slices.ContainsFunc(f.Evidence, func(e string) bool { return strings.Contains(e, want) }) {
					t.Errorf("no evidence line contains %q:\n%s", want, strings.Join(f.Evidence, "\n"))
				}
			}
			if !strings.Contains(f.Remediation, tc.remediation) {
				t.Errorf("remediation %q lacks %q", f.Remediation, tc.remediation)
			}
			if len(f.References) == 0 || f.Message == "" || f.Remediation == "" {
				t.Errorf("incomplete finding: %+v", f)
			}
		})
	}
}

// TestRBACAWSAuth: aws-auth with system:masters, without, and malformed (the parse error is
// reported as not assessed; the readable key is still judged).
func TestRBACAWSAuth(t *testing.T) {
	tests := []struct {
		file string
		want []string
		na   []string // reasons of part (b)
	}{
		{"rbac-awsauth.yaml", []string{"high ConfigMap kube-system/aws-auth"}, nil},
		{"rbac-awsauth-clean.yaml", []string{}, nil},
		{"rbac-awsauth-malformed.yaml", []string{"high ConfigMap kube-system/aws-auth"},
			[]string{"(b) EKS aws-auth ConfigMap: kube-system/aws-auth mapRoles is not a list of mappings: error converting YAML to JSON: yaml: line 2: mapping values are not allowed in this context"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res := runRBAC(t, "KW-RBAC-007", load(t, "testdata/"+tc.file))
			if diff := cmp.Diff(tc.want, got(res, "KW-RBAC-007")); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			var na []string
			for _, n := range res.NotAssessed {
				if strings.HasPrefix(n.Reason, "(b)") {
					na = append(na, n.Reason)
				}
			}
			if diff := cmp.Diff(tc.na, na); diff != "" {
				t.Errorf("not assessed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRBACNotAssessed: a forbidden RBAC kind makes every RBAC check not assessed, never a
// pass; parts with their input still run.
func TestRBACNotAssessed(t *testing.T) {
	s := load(t, "testdata/rbac-bindings.yaml")
	s.Status[inventory.RoleBindings] = inventory.Status{State: inventory.Forbidden, Error: `rolebindings.rbac.authorization.k8s.io is forbidden`}
	s.Status[inventory.ServiceAccounts] = inventory.Status{State: inventory.Forbidden, Error: "forbidden"}
	var checks []*Check
	for _, c := range All() {
		if strings.HasPrefix(c.ID, "KW-RBAC-") {
			checks = append(checks, c)
		}
	}
	res := Run(NewInput(s), checks...)
	const rb = "RoleBinding could not be listed: forbidden (rolebindings.rbac.authorization.k8s.io is forbidden)"
	var want []NotAssessed
	for _, c := range checks {
		reason := rb
		if c.ID == "KW-RBAC-007" {
			reason = "(a) bindings naming system:masters: " + rb
		}
		want = append(want, NotAssessed{Check: c.ID, Reason: reason})
	}
	if diff := cmp.Diff(want, res.NotAssessed); diff != "" {
		t.Errorf("not assessed (-want +got):\n%s", diff)
	}
	if len(res.Findings) != 0 {
		t.Errorf("checks without their input reported findings: %v", res.Findings)
	}

	// ServiceAccounts alone unreadable: KW-RBAC-015 (b) still reports, (a) is not assessed.
	s = load(t, "testdata/rbac-bindings.yaml")
	s.Status[inventory.ServiceAccounts] = inventory.Status{State: inventory.Forbidden, Error: "forbidden"}
	res = runRBAC(t, "KW-RBAC-015", s)
	if diff := cmp.Diff([]string{"high ClusterRoleBinding operator", "medium RoleBinding team/wrong-kind"}, got(res, "KW-RBAC-015")); diff != "" {
		t.Errorf("KW-RBAC-015 (b) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]NotAssessed{{Check: "KW-RBAC-015", Reason: "(a) ServiceAccount subjects that do not exist: ServiceAccount could not be listed: forbidden (forbidden)"}}, res.NotAssessed); diff != "" {
		t.Errorf("KW-RBAC-015 not assessed (-want +got):\n%s", diff)
	}
}

// TestRBACNamespaceScope: with -n team, ServiceAccounts of other namespaces were not
// collected, so a binding naming one is not called dangling.
func TestRBACNamespaceScope(t *testing.T) {
	s, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/rbac-bindings.yaml"},
		inventory.FileOptions{Options: inventory.Options{Namespace: "team"}})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	res := runRBAC(t, "KW-RBAC-015", s)
	want := []string{
		"high ClusterRoleBinding operator",
		"high RoleBinding team/ghost-launcher",
		"medium RoleBinding team/ghost",
		"medium RoleBinding team/wrong-kind",
	}
	if diff := cmp.Diff(want, got(res, "KW-RBAC-015")); diff != "" {
		t.Errorf("KW-RBAC-015 in namespace team (-want +got):\n%s", diff)
	}
}

// TestRBACProvisioners: volume provisioners are allowlisted by KW-RBAC-009 itself (they
// are listed, with the reason), unless the default allowlist is off.
func TestRBACProvisioners(t *testing.T) {
	s := load(t, "testdata/rbac-workloads.yaml")
	res := runRBAC(t, "KW-RBAC-009", s)
	want := []Allowlisted{
		{Check: "KW-RBAC-009", Object: inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: "storage", Name: "efs-csi-controller"},
			Reason: "volume provisioner: Deployment storage/efs-csi-controller runs public.ecr.aws/eks-distro/kubernetes-csi/external-provisioner:v5.1.0-eks-1-31-5"},
		{Check: "KW-RBAC-009", Object: inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: "storage", Name: "nfs"},
			Reason: "holds the right through the built-in ClusterRole system:persistent-volume-provisioner"},
	}
	if diff := cmp.Diff(want, res.Allowlisted); diff != "" {
		t.Errorf("allowlisted (-want +got):\n%s", diff)
	}

	in := NewInput(s)
	in.Config.NoDefaultAllowlist = true
	c, _ := Lookup("KW-RBAC-009")
	res = Run(in, c)
	wantAll := []string{
		"critical ServiceAccount data/pv-full",
		"high ServiceAccount ci/static-pv",
		"high ServiceAccount storage/efs-csi-controller",
		"high ServiceAccount storage/nfs",
	}
	if diff := cmp.Diff(wantAll, got(res, "KW-RBAC-009")); diff != "" {
		t.Errorf("without the default allowlist (-want +got):\n%s", diff)
	}
}

// TestRBACCatalog: every RBAC check documents its severity logic and references.
func TestRBACCatalog(t *testing.T) {
	ids := []string{"KW-RBAC-001", "KW-RBAC-002", "KW-RBAC-003", "KW-RBAC-004", "KW-RBAC-007", "KW-RBAC-008",
		"KW-RBAC-009", "KW-RBAC-010", "KW-RBAC-011", "KW-RBAC-012", "KW-RBAC-013", "KW-RBAC-014", "KW-RBAC-015"}
	for _, id := range ids {
		c, err := Lookup(id)
		if err != nil {
			t.Error(err)
			continue
		}
		if c.Title == "" || len(c.Refs) == 0 || len(c.Reads) == 0 || !strings.Contains(strings.ToLower(c.Summary), "critical") && !strings.Contains(c.Summary, "High") && !strings.Contains(strings.ToLower(c.Summary), "high") {
			t.Errorf("%s: incomplete catalog entry: %+v", id, c)
		}
	}
}

// FuzzRBACParseAWSAuth: the aws-auth parser takes whatever a cluster holds; it must never
// panic, and every entry it returns comes from a list.
func FuzzRBACParseAWSAuth(f *testing.F) {
	f.Add("- rolearn: arn:aws:iam::1:role/x\n  username: x\n  groups: [system:masters]\n", "- userarn: arn:aws:iam::1:user/y\n  groups: [a]\n")
	f.Add("rolearn: x\n  username: y", "")
	f.Add("[]", "null")
	f.Add("- {rolearn: 1, groups: system:masters}", "- groups: [[x]]")
	f.Add("&a [*a]", "- !!binary aGVsbG8=")
	f.Add(strings.Repeat("- ", 100)+"x", "{")
	f.Fuzz(func(t *testing.T, roles, users string) {
		ms, errs := rbacParseAWSAuth(map[string]string{"mapRoles": roles, "mapUsers": users})
		for _, m := range ms {
			if m.Index < 1 || m.Key != "mapRoles" && m.Key != "mapUsers" {
				t.Errorf("bad mapping %+v", m)
			}
			_ = m.principal()
		}
		if len(errs) > 2 {
			t.Errorf("%d errors for 2 keys", len(errs))
		}
	})
}
