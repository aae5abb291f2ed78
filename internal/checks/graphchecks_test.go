package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
)

func TestAdminPathCheck(t *testing.T) {
	c, err := Lookup("KW-ESC-009")
	if err != nil {
		t.Fatal(err)
	}
	res := Run(NewInput(load(t, "testdata/graph-paths.yaml")), c)
	want := []string{
		"critical Group devs",                         // exec into prod/admin-pod
		"critical Group system:serviceaccounts:batch", // its members (batch/job1) create pods in prod
		"critical ServiceAccount ci/builder",          // create pods in prod -> prod/admin
		"critical ServiceAccount ci/deployer",         // create deployments in prod -> prod/admin
		"critical ServiceAccount web/frontend",        // list Secrets in ci -> builder's token -> P5
		// not reported: prod/admin (is admin), web/viewer (near miss: configmaps only),
		// batch/job1 (through its group), kube-system/replicaset-controller (allowlisted)
	}
	if diff := cmp.Diff(want, got(res, "KW-ESC-009")); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Allowlisted{{Check: "KW-ESC-009", Object: res.Allowlisted[0].Object, Reason: res.Allowlisted[0].Reason}}, res.Allowlisted); diff != "" || res.Allowlisted[0].Object.Name != "replicaset-controller" {
		t.Errorf("allowlisted: %v", res.Allowlisted)
	}
	// Ranking: shortest first, then by pods holding the token (builder: 2, deployer: 1).
	ranks := map[string]string{}
	for _, f := range res.Findings {
		ranks[f.Object.String()] = f.Evidence[0]
	}
	wantRanks := map[string]string{
		"ServiceAccount ci/builder":          "rank 1 of 6",
		"ServiceAccount ci/deployer":         "rank 2 of 6",
		"ServiceAccount web/frontend":        "rank 6 of 6",
		"Group devs":                         "rank 5 of 6",
		"Group system:serviceaccounts:batch": "rank 4 of 6",
	}
	for obj, w := range wantRanks {
		if !strings.HasPrefix(ranks[obj], w) {
			t.Errorf("%s: evidence %q, want %q...", obj, ranks[obj], w)
		}
	}
	for _, f := range res.Findings {
		if f.Object.Name == "frontend" {
			wantHops := []string{"[P2] ServiceAccount web/frontend -> Secret ci/builder-token", "[holds-token]", "[P5] ServiceAccount ci/builder -> ServiceAccount prod/admin", "[P1] ServiceAccount prod/admin -> ClusterAdmin"}
			for i, h := range wantHops {
				if !strings.Contains(f.Evidence[i+1], h) {
					t.Errorf("hop %d: %q lacks %q", i+1, f.Evidence[i+1], h)
				}
			}
			if !strings.Contains(f.Remediation, "kubectl delete rolebinding frontend -n ci") {
				t.Errorf("remediation %q", f.Remediation)
			}
		}
	}
}

func TestParseHopLine(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/graph-paths.yaml")))
	var got [][3]string
	for _, f := range res.Findings {
		if f.Check != "KW-ESC-009" || f.Object.Name != "frontend" {
			continue
		}
		for _, line := range f.Evidence[1:] {
			p, from, to, ok := ParseHopLine(line)
			if !ok {
				t.Fatalf("cannot parse %q", line)
			}
			got = append(got, [3]string{p, from, to})
		}
	}
	want := [][3]string{
		{"P2", "ServiceAccount web/frontend", "Secret ci/builder-token"},
		{"holds-token", "Secret ci/builder-token", "ServiceAccount ci/builder"},
		{"P5", "ServiceAccount ci/builder", "ServiceAccount prod/admin"},
		{"P1", "ServiceAccount prod/admin", "ClusterAdmin cluster-admin"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hops (-want +got):\n%s", diff)
	}
	if _, _, _, ok := ParseHopLine("rank 1 of 2"); ok {
		t.Error("parsed a rank line")
	}
}

// TestWholeGraphMarksGraphChecks: exactly the checks that build the identity graph are
// marked WholeGraph (kwid webhook relies on the mark to leave them to the controller).
func TestWholeGraphMarksGraphChecks(t *testing.T) {
	s, err := inventory.LoadDemo(context.Background(), inventory.Options{SecretData: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cloud.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	for _, check := range All() {
		in := NewInput(s)
		in.Cloud = c
		Run(in, check)
		if built := in.graph.g != nil; built != check.WholeGraph {
			t.Errorf("%s: builds the graph %v, marked WholeGraph %v", check.ID, built, check.WholeGraph)
		}
	}
}
