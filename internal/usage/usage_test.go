package usage

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

func readFixture(t *testing.T) *Report {
	t.Helper()
	rep, err := ReadFiles([]string{"testdata/audit.log"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestReadFixture(t *testing.T) {
	rep := readFixture(t)
	wantStats := Stats{Files: 1, Lines: 17, Events: 15, Malformed: 2, Duplicates: 1, OtherStages: 1, Allowed: 10, Forbidden: 2, Failed: 1}
	if diff := cmp.Diff(wantStats, rep.Stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	wantProblems := []Problem{
		{File: "testdata/audit.log", Line: 7, Error: "not JSON"},
		{File: "testdata/audit.log", Line: 17, Error: "malformed JSON at byte 80: unexpected end of JSON input"},
	}
	if diff := cmp.Diff(wantProblems, rep.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	used := func(user string) []string {
		var out []string
		for _, u := range rep.Identities[user].Used() {
			out = append(out, u.Request.String()+" names="+strings.Join(u.Names, ","))
		}
		return out
	}
	tests := []struct {
		user string
		want []string
	}{
		{"system:serviceaccount:shop:web", []string{
			"get nodes names=n1",
			"get /apis names=",
			"get /healthz names=",
			"get configmaps -n shop names=settings", // twice, one name; the 404 is not used
			"create events -n shop names=",          // create carries no name for the authorizer
			"get pods -n shop names=web-1",          // impersonated by alice
			"watch pods -n shop names=",             // ResponseStarted and ResponseComplete: once
		}},
		{"alice", []string{"impersonate groups names=system:authenticated,system:serviceaccounts,system:serviceaccounts:shop", "impersonate serviceaccounts -n shop names=web"}},
		{"system:serviceaccount:shop:legacy", []string{"create selfsubjectrulesreviews.authorization.k8s.io names=", "get services -n shop names="}},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, used(tc.user)); diff != "" {
				t.Errorf("used (-want +got):\n%s", diff)
			}
		})
	}
	web := rep.Identities["system:serviceaccount:shop:web"]
	if diff := cmp.Diff(map[string]int{"RoleBinding shop/web": 5, "ClusterRoleBinding web-nodes": 2, "ClusterRoleBinding system:discovery": 1}, web.Bindings); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	if web.Pods["web-1"] != 7 || web.OffPod != 0 || len(web.Credentials["JTI=abc"]) != 2 {
		t.Errorf("pods %v off-pod %d credentials %v", web.Pods, web.OffPod, web.Credentials)
	}
	if l := rep.Identities["system:serviceaccount:shop:legacy"]; l.LegacyToken != 1 || l.Forbidden != 1 {
		t.Errorf("legacy: %d legacy-token requests, %d forbidden", l.LegacyToken, l.Forbidden)
	}
}

// TestGzipStdinAndDedupe: gzip is detected by magic, and the same log read twice counts once.
func TestGzipStdinAndDedupe(t *testing.T) {
	data, err := os.ReadFile("testdata/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	a := NewAggregator()
	if err := a.Read("-", bytes.NewReader(gz.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := a.ReadFile("testdata/audit.log", nil); err != nil {
		t.Fatal(err)
	}
	if got := a.Report().Stats; got.Allowed != 10 || got.Duplicates != 1+14 || got.Malformed != 4 {
		t.Errorf("stats %+v", got)
	}
	if _, err := ReadFiles([]string{"testdata/nope.log"}, nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseReason(t *testing.T) {
	tests := []struct {
		reason string
		want   Binding
		ok     bool
	}{
		{`RBAC: allowed by RoleBinding "web/shop" of Role "web" to ServiceAccount "web/shop"`, Binding{Kind: "RoleBinding", Namespace: "shop", Name: "web"}, true},
		{`RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"`, Binding{Kind: "ClusterRoleBinding", Name: "system:discovery"}, true},
		{"", Binding{}, false},
		{`RBAC: allowed by RoleBinding "noslash" of Role "x"`, Binding{}, false},
		{`allowed by Something "x"`, Binding{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			got, ok := ParseReason(tc.reason)
			if diff := cmp.Diff(tc.want, got); diff != "" || ok != tc.ok {
				t.Errorf("ParseReason = %v (-want +got):\n%s", ok, diff)
			}
		})
	}
}

func TestDecodeLineEKS(t *testing.T) {
	ev := `{"auditID":"a","stage":"ResponseComplete","verb":"get","requestURI":"/healthz","user":{"username":"u"}}`
	tests := []struct{ name, line string }{
		{"plain", ev},
		{"cloudwatch message", `{"timestamp":1,"message":` + quote(ev) + `}`},
		{"subscription", `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":` + quote(ev) + `}]}`},
		{"text export", `2024-05-01T10:00:00.000Z ` + ev},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := DecodeLine([]byte(tc.line))
			if err != nil || len(evs) != 1 || evs[0].Request() != (rbac.Request{Verb: "get", Path: "/healthz"}) {
				t.Errorf("DecodeLine: %v %+v", err, evs)
			}
		})
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func TestCompare(t *testing.T) {
	s, errs, err := inventory.LoadFiles(context.Background(), []string{"testdata/rbac.yaml"}, inventory.FileOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	c := Compare(readFixture(t), rbac.NewIndex(s), s)
	var got []string
	for _, iu := range c.Identities {
		for _, u := range iu.Unused {
			got = append(got, iu.User.Name+" "+u.Binding+" partly="+strings.Join(u.UnusedParts, ","))
		}
		for _, b := range iu.UnusedBindings {
			got = append(got, iu.User.Name+" binding "+b)
		}
	}
	for _, sa := range c.UnusedServiceAccounts {
		got = append(got, "never seen "+sa.Namespace+"/"+sa.Name+" "+strings.Join(sa.Bindings, ","))
	}
	want := []string{
		"system:serviceaccount:shop:legacy RoleBinding shop/legacy partly=list services",
		"system:serviceaccount:shop:web ClusterRoleBinding web-nodes partly=list nodes",
		"system:serviceaccount:shop:web RoleBinding shop/web partly=list pods,delete pods",
		"system:serviceaccount:shop:web RoleBinding shop/web partly=",
		"never seen shop/idle RoleBinding shop/idle",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unused (-want +got):\n%s", diff)
	}
}

func TestGenerateValid(t *testing.T) {
	rep := readFixture(t)
	for _, id := range rep.SortedIdentities() {
		for _, g := range Generate(id) {
			if err := g.Validate(); err != nil {
				t.Errorf("%s: %v", id.User.Name, err)
			}
			for _, r := range g.Rules {
				if len(r.ResourceNames) > 0 && (contains(r.Verbs, "create") || contains(r.Verbs, "list") || contains(r.Verbs, "watch")) {
					t.Errorf("%s: resourceNames with %v", id.User.Name, r.Verbs)
				}
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// FuzzDecodeLine: the decoder never panics, and what it accepts converts to a request.
func FuzzDecodeLine(f *testing.F) {
	data, _ := os.ReadFile("testdata/audit.log")
	for _, l := range bytes.Split(data, []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"message":"{\"auditID\":1}"}`))
	f.Add([]byte(`{"logEvents":[{"message":""}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		evs, err := DecodeLine(line)
		if err != nil && len(evs) > 0 {
			t.Fatal("events with an error")
		}
		a := NewAggregator()
		for i := range evs {
			_ = evs[i].Request()
			ParseReason(evs[i].Annotations[AnnotationReason])
			a.Add(&evs[i])
		}
		for _, id := range a.Report().Identities {
			for _, g := range Generate(id) {
				_ = g.Validate()
			}
		}
	})
}
