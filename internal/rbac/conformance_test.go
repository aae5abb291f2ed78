package rbac_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/testcluster"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

type conformanceCase struct {
	name string
	user rbac.User
	req  rbac.Request
	want bool
	// reason, when set, is the API server's RBAC reason for an allowed request.
	reason string
}

func sa(ns, name string) rbac.User { return rbac.ServiceAccountUser(ns, name) }
func user(name string) rbac.User {
	return rbac.User{Name: name, Groups: []string{rbac.GroupAuthenticated}}
}

// conformanceCases: one or more cases per pitfall of rbac-semantics.md, on
// testdata/conformance.yaml. The same table is checked against the API server.
var conformanceCases = []conformanceCase{
	// RoleBinding -> ClusterRole is namespaced, never cluster-wide.
	{name: "rolebinding to clusterrole applies in its namespace", user: sa("kwid-conf-a", "app"),
		req: rbac.Request{Verb: "get", Resource: "secrets", Namespace: "kwid-conf-a", Name: "x"}, want: true,
		reason: `RBAC: allowed by RoleBinding "app-secret-reader/kwid-conf-a" of ClusterRole "kwid-conf-secret-reader" to ServiceAccount "app/kwid-conf-a"`},
	{name: "rolebinding to clusterrole not in another namespace", user: sa("kwid-conf-a", "app"),
		req: rbac.Request{Verb: "get", Resource: "secrets", Namespace: "kwid-conf-b", Name: "x"}},
	{name: "rolebinding to clusterrole not across all namespaces", user: sa("kwid-conf-a", "app"),
		req: rbac.Request{Verb: "list", Resource: "secrets"}},
	{name: "rolebinding to clusterrole never grants cluster-scoped resources", user: sa("kwid-conf-a", "app"),
		req: rbac.Request{Verb: "get", Resource: "nodes", Name: "n1"}},
	// roleRef kind, not just name.
	{name: "roleRef Role is the Role", user: user("rita"),
		req: rbac.Request{Verb: "get", Resource: "pods", Namespace: "kwid-conf-a", Name: "p"}, want: true,
		reason: `RBAC: allowed by RoleBinding "same-name/kwid-conf-a" of Role "kwid-conf-same-name" to User "rita"`},
	{name: "roleRef Role is not the same-named ClusterRole", user: user("rita"),
		req: rbac.Request{Verb: "delete", Resource: "configmaps", Namespace: "kwid-conf-a", Name: "c"}},
	// resourceNames.
	{name: "resourceNames allow the named object", user: user("nina"),
		req: rbac.Request{Verb: "get", Resource: "secrets", Namespace: "kwid-conf-a", Name: "db-creds"}, want: true},
	{name: "resourceNames deny other objects", user: user("nina"),
		req: rbac.Request{Verb: "get", Resource: "secrets", Namespace: "kwid-conf-a", Name: "other"}},
	{name: "resourceNames deny list", user: user("nina"),
		req: rbac.Request{Verb: "list", Resource: "secrets", Namespace: "kwid-conf-a"}},
	{name: "resourceNames never restrict create: denied", user: user("nina"),
		req: rbac.Request{Verb: "create", Resource: "configmaps", Namespace: "kwid-conf-a"}},
	{name: "resourceNames allow update of the named object", user: user("nina"),
		req: rbac.Request{Verb: "update", Resource: "configmaps", Namespace: "kwid-conf-a", Name: "settings"}, want: true},
	{name: `resourceNames [""] allow requests without a name`, user: user("nina"),
		req: rbac.Request{Verb: "list", Resource: "endpoints", Namespace: "kwid-conf-a"}, want: true},
	{name: `resourceNames [""] deny named requests`, user: user("nina"),
		req: rbac.Request{Verb: "list", Resource: "endpoints", Namespace: "kwid-conf-a", Name: "x"}},
	// Subresources.
	{name: "*/scale matches deployments/scale", user: user("sam"),
		req: rbac.Request{Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "scale", Namespace: "kwid-conf-a", Name: "d"}, want: true},
	{name: "*/scale does not match the resource", user: user("sam"),
		req: rbac.Request{Verb: "update", APIGroup: "apps", Resource: "deployments", Namespace: "kwid-conf-a", Name: "d"}},
	{name: "pods/* is literal, not a pattern", user: user("sam"),
		req: rbac.Request{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "kwid-conf-a", Name: "p"}},
	{name: "pods does not cover pods/exec", user: user("sam"),
		req: rbac.Request{Verb: "get", Resource: "pods", Subresource: "log", Namespace: "kwid-conf-a", Name: "p"}},
	{name: "get nodes/proxy granted as written", user: user("sam"),
		req: rbac.Request{Verb: "get", Resource: "nodes", Subresource: "proxy", Name: "n1"}, want: true},
	// Non-resource URLs.
	{name: "nonResourceURL prefix matches below it", user: user("uma"),
		req: rbac.Request{Verb: "get", Path: "/kwid-logs/kube.log"}, want: true,
		reason: `RBAC: allowed by ClusterRoleBinding "kwid-conf-urls" of ClusterRole "kwid-conf-urls" to User "uma"`},
	{name: "nonResourceURL prefix does not match its stem", user: user("uma"),
		req: rbac.Request{Verb: "get", Path: "/kwid-logs"}},
	{name: "nonResourceURL exact", user: user("uma"),
		req: rbac.Request{Verb: "get", Path: "/kwid-health"}, want: true},
	{name: "nonResourceURL exact is not a prefix", user: user("uma"),
		req: rbac.Request{Verb: "get", Path: "/kwid-health/deep"}},
	{name: "nonResourceURL through a RoleBinding grants nothing", user: user("ned"),
		req: rbac.Request{Verb: "get", Path: "/kwid-health"}},
	// Groups.
	{name: "system:serviceaccounts:<ns> covers that namespace's SAs", user: sa("kwid-conf-b", "anything"),
		req: rbac.Request{Verb: "create", Resource: "events", Namespace: "kwid-conf-b"}, want: true,
		reason: `RBAC: allowed by RoleBinding "all-sa-of-b/kwid-conf-b" of ClusterRole "kwid-conf-events" to Group "system:serviceaccounts:kwid-conf-b"`},
	{name: "system:serviceaccounts:<ns> does not cover other namespaces", user: sa("kwid-conf-a", "app"),
		req: rbac.Request{Verb: "create", Resource: "events", Namespace: "kwid-conf-b"}},
	{name: "system:serviceaccounts covers every SA", user: sa("kwid-conf-a", "app"),
		req: rbac.Request{Verb: "list", Resource: "podtemplates", Namespace: "kwid-conf-a"}, want: true},
	{name: "system:serviceaccounts does not cover users", user: user("rita"),
		req: rbac.Request{Verb: "list", Resource: "podtemplates", Namespace: "kwid-conf-a"}},
	{name: "system:authenticated covers users", user: user("zed"),
		req: rbac.Request{Verb: "list", APIGroup: "storage.k8s.io", Resource: "storageclasses"}, want: true},
	{name: "system:authenticated covers ServiceAccounts", user: sa("kwid-conf-b", "worker"),
		req: rbac.Request{Verb: "list", APIGroup: "storage.k8s.io", Resource: "storageclasses"}, want: true},
	{name: "system:masters bypasses RBAC", user: rbac.User{Name: "root", Groups: []string{rbac.GroupMasters, rbac.GroupAuthenticated}},
		req: rbac.Request{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"}, want: true},
	// A User subject named system:serviceaccount:ns:name is that ServiceAccount.
	{name: "User subject naming a ServiceAccount", user: sa("kwid-conf-b", "worker"),
		req: rbac.Request{Verb: "delete", Resource: "configmaps", Namespace: "kwid-conf-b", Name: "c"}, want: true,
		reason: `RBAC: allowed by RoleBinding "sa-as-user/kwid-conf-b" of ClusterRole "kwid-conf-same-name" to User "system:serviceaccount:kwid-conf-b:worker"`},
	// Missing role.
	{name: "binding to a missing role grants nothing", user: user("dana"),
		req: rbac.Request{Verb: "get", Resource: "pods", Namespace: "kwid-conf-a", Name: "p"}},
	// Aggregation computed offline, filled live.
	{name: "aggregated ClusterRole holds its parts' rules", user: user("agnes"),
		req: rbac.Request{Verb: "patch", APIGroup: "batch", Resource: "cronjobs", Namespace: "kwid-conf-a", Name: "c"}, want: true},
	// Wildcards in one namespace.
	{name: "wildcard Role covers any resource in its namespace", user: user("walt"),
		req: rbac.Request{Verb: "impersonate", APIGroup: "example.com", Resource: "widgets", Subresource: "status", Namespace: "kwid-conf-b", Name: "w"}, want: true},
	{name: "wildcard Role stays in its namespace", user: user("walt"),
		req: rbac.Request{Verb: "get", Resource: "pods", Namespace: "kwid-conf-a", Name: "p"}},
	{name: "wildcard Role does not grant cluster-scoped resources", user: user("walt"),
		req: rbac.Request{Verb: "get", Resource: "namespaces", Name: "kwid-conf-b"}},
}

func checkCases(t *testing.T, ix *rbac.Index, source string) {
	for _, tc := range conformanceCases {
		t.Run(tc.name, func(t *testing.T) {
			d := ix.Authorize(tc.user, tc.req)
			if d.Allowed != tc.want {
				t.Fatalf("%s: %s %s: allowed=%v, want %v (%s)", source, tc.user.Name, tc.req, d.Allowed, tc.want, d.Reason)
			}
			if tc.reason != "" && d.Reason != tc.reason {
				t.Errorf("%s: reason\n got %s\nwant %s", source, d.Reason, tc.reason)
			}
		})
	}
}

func TestConformanceOffline(t *testing.T) {
	s, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/conformance.yaml"}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	ix := rbac.NewIndex(s)
	if !ix.Aggregated("kwid-conf-aggregate") {
		t.Error("kwid-conf-aggregate should be reported as computed from its aggregationRule")
	}
	checkCases(t, ix, "offline")
}

// TestConformanceLive checks every case against the API server's SubjectAccessReview, and
// kwid's answer on a live snapshot of the same cluster against it too.
func TestConformanceLive(t *testing.T) {
	c := testcluster.Start(t)
	c.Kubectl(t, readFile(t, "testdata/conformance.yaml"), "apply", "-f", "-")
	ctx := context.Background()
	// The aggregation controller fills the aggregated role shortly after it is created.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		out := c.Kubectl(t, "", "get", "clusterrole", "kwid-conf-aggregate", "-o", "jsonpath={.rules[*].resources}")
		if strings.Contains(out, "cronjobs") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("aggregated ClusterRole never filled")
		}
	}
	s, err := inventory.LoadLive(ctx, c.Config, inventory.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ix := rbac.NewIndex(s)
	if ix.Aggregated("kwid-conf-aggregate") {
		t.Error("a live aggregated ClusterRole is filled and must be taken as given")
	}
	for _, tc := range conformanceCases {
		t.Run(tc.name, func(t *testing.T) {
			allowed, reason := subjectAccessReview(t, c, tc.user, tc.req)
			if allowed != tc.want {
				t.Fatalf("API server: %s %s: allowed=%v, the table says %v (%s)", tc.user.Name, tc.req, allowed, tc.want, reason)
			}
			if tc.reason != "" && reason != tc.reason {
				t.Errorf("API server reason %q, the table says %q", reason, tc.reason)
			}
			d := ix.Authorize(tc.user, tc.req)
			if d.Allowed != allowed {
				t.Errorf("live snapshot: kwid allowed=%v, API server %v (%s / %s)", d.Allowed, allowed, d.Reason, reason)
			}
		})
	}
}

func subjectAccessReview(t *testing.T, c *testcluster.Cluster, u rbac.User, r rbac.Request) (bool, string) {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: u.Name, Groups: u.Groups}}
	if r.IsResource() {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Verb: r.Verb, Group: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource,
			Namespace: r.Namespace, Name: r.Name,
		}
	} else {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: r.Verb, Path: r.Path}
	}
	out, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return out.Status.Allowed, out.Status.Reason
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
