package inventory

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const aliasBomb = `apiVersion: v1
kind: ConfigMap
metadata: {name: bomb, namespace: kube-system}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// TestLoadFilesBadInput: malformed YAML, a binary file, a 50 MB document and an alias bomb
// each give an error naming the file, and every good document still loads.
func TestLoadFilesBadInput(t *testing.T) {
	big := "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: big\n  namespace: a\n  annotations:\n    blob: " +
		strings.Repeat("x", 50<<20) + "\n"
	dir := writeFiles(t, map[string]string{
		"good.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: good, namespace: a}\n---\n" +
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: a}\nrules: []\n",
		"sub/malformed.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n" +
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p\n  namespace: a\n---\n" +
			"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: after, namespace: a}\n",
		"binary.yaml":    "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
		"big.yaml":       big,
		"bomb.yaml":      aliasBomb,
		"wrongtype.json": `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":7}}`,
		"notes.txt":      "not a manifest, ignored",
		"helm.yaml":      "---\n# Source: chart/templates/empty.yaml\n---\n# Source: chart/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: helm\n  namespace: a\n",
		"service.yaml":   "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\n",
	})
	s, errs, err := LoadFiles(context.Background(), []string{dir}, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantErrs := []struct{ file, text string }{
		{"big.yaml", "document larger than the 32 MiB limit"},
		{"binary.yaml", "binary data"},
		{"bomb.yaml", "alias"},
		{"sub/malformed.yaml", "document 2 (line 5): invalid YAML"},
		{"wrongtype.json", "cannot unmarshal number"},
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(wantErrs), errs)
	}
	for i, w := range wantErrs {
		msg := errs[i].Error()
		if !strings.HasPrefix(msg, filepath.Join(dir, w.file)) || !strings.Contains(msg, w.text) {
			t.Errorf("error %d = %q, want it to name %s and say %q", i, msg, w.file, w.text)
		}
	}
	var names []string
	for _, sa := range s.ServiceAccounts {
		names = append(names, sa.Name)
	}
	if diff := cmp.Diff([]string{"after", "good", "helm"}, names); diff != "" {
		t.Errorf("ServiceAccounts loaded (-want +got):\n%s", diff)
	}
	if len(s.Roles) != 1 || len(s.Namespaces) != 1 {
		t.Errorf("want 1 Role and 1 Namespace, got %d and %d", len(s.Roles), len(s.Namespaces))
	}
	if diff := cmp.Diff(map[string]int{"v1/Service": 1}, s.Cluster.Skipped); diff != "" {
		t.Errorf("skipped kinds (-want +got):\n%s", diff)
	}
	if got := s.Locations[ObjectRef{Kind: ServiceAccounts, Namespace: "a", Name: "after"}]; got.Document != 3 || got.Line != 10 {
		t.Errorf("location of ServiceAccount a/after = %+v, want document 3 line 10", got)
	}
}

func TestLoadFilesFormats(t *testing.T) {
	list := `{"apiVersion":"v1","items":[
	  {"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"one","namespace":"a","managedFields":[{"manager":"kubectl"}]}},
	  {"apiVersion":"v1","kind":"Secret","metadata":{"name":"tok","namespace":"a","annotations":{"kubernetes.io/service-account.name":"one","kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"token\":\"c2VjcmV0\"}}"}},"type":"kubernetes.io/service-account-token","data":{"token":"c2VjcmV0"}},
	  {"apiVersion":"v1","kind":"Secret","metadata":{"name":"opaque","namespace":"a"},"type":"Opaque","data":{"k":"dg=="}},
	  {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"aws-auth","namespace":"kube-system"},"data":{"mapRoles":"[]"}},
	  {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other","namespace":"kube-system"}}
	],"kind":"List","metadata":{"resourceVersion":""}}
	{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"two","namespace":"b"}}`
	yamlList := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: three, namespace: a}\n"
	dir := writeFiles(t, map[string]string{"list.json": list, "list.yaml": yamlList})

	tests := []struct {
		name       string
		opts       Options
		wantSAs    int
		wantSecret []string
		wantData   bool
	}{
		{name: "defaults keep token Secrets without data", wantSAs: 3, wantSecret: []string{"tok"}},
		{name: "secret data on keeps all", opts: Options{SecretData: true}, wantSAs: 3, wantSecret: []string{"opaque", "tok"}, wantData: true},
		{name: "namespace scope", opts: Options{Namespace: "b"}, wantSAs: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, errs, err := LoadFiles(context.Background(), []string{dir}, FileOptions{Options: tc.opts})
			if err != nil || len(errs) > 0 {
				t.Fatalf("LoadFiles: %v %v", err, errs)
			}
			if len(s.ServiceAccounts) != tc.wantSAs {
				t.Errorf("got %d ServiceAccounts, want %d", len(s.ServiceAccounts), tc.wantSAs)
			}
			var secrets []string
			for _, sec := range s.Secrets {
				secrets = append(secrets, sec.Name)
				if hasData := sec.Data != nil; hasData != tc.wantData {
					t.Errorf("Secret %s data kept = %v, want %v", sec.Name, hasData, tc.wantData)
				}
				if _, ok := sec.Annotations[LastAppliedAnnotation]; ok && !tc.wantData {
					t.Errorf("Secret %s kept its last-applied annotation (it holds the data)", sec.Name)
				}
			}
			if diff := cmp.Diff(tc.wantSecret, secrets); diff != "" {
				t.Errorf("Secrets (-want +got):\n%s", diff)
			}
			for _, sa := range s.ServiceAccounts {
				if sa.ManagedFields != nil || sa.Kind != "ServiceAccount" || sa.APIVersion != "v1" {
					t.Errorf("ServiceAccount %s not normalized: %+v", sa.Name, sa.TypeMeta)
				}
			}
			if tc.opts.Namespace == "" && (len(s.ConfigMaps) != 1 || s.ConfigMaps[0].Name != "aws-auth") {
				t.Errorf("want only the aws-auth ConfigMap, got %d", len(s.ConfigMaps))
			}
		})
	}
}

func TestLoadFilesStdinAndMissingPath(t *testing.T) {
	in := strings.NewReader("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, namespace: a}\n")
	s, errs, err := LoadFiles(context.Background(), []string{"-"}, FileOptions{Stdin: in})
	if err != nil || len(errs) > 0 || len(s.ServiceAccounts) != 1 {
		t.Fatalf("stdin: %v %v %d", err, errs, len(s.ServiceAccounts))
	}
	if s.StatusOf(ServiceAccounts).State != Collected || s.StatusOf(Pods).State != Absent {
		t.Errorf("status: ServiceAccount %v, Pod %v", s.StatusOf(ServiceAccounts), s.StatusOf(Pods))
	}
	_, _, err = LoadFiles(context.Background(), []string{"/nonexistent/kwid"}, FileOptions{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/kwid") {
		t.Errorf("missing path: error %v should name it", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s, err := LoadDemo(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, compress := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Save(&buf, s, compress); err != nil {
			t.Fatal(err)
		}
		got, err := Load(&buf)
		if err != nil {
			t.Fatal(err)
		}
		want := *s
		want.Locations = map[ObjectRef]Location{}
		if diff := cmp.Diff(&want, got, snapshotCmp); diff != "" {
			t.Errorf("compress=%v: round trip (-want +got):\n%s", compress, diff)
		}
	}
	// A truncated file is an error, not a smaller cluster.
	var buf bytes.Buffer
	if err := Save(&buf, s, false); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	cut := bytes.Join(lines[:len(lines)-3], []byte("\n"))
	if _, err := Load(bytes.NewReader(cut)); err == nil || !strings.Contains(err.Error(), "snapshot truncated") {
		t.Errorf("truncated snapshot: error %v", err)
	}
	for _, bad := range []string{`{"apiVersion":"kwid.dev/v9","kind":"Snapshot"}`, `{"kind":"Pod"}`, `garbage`,
		`{"apiVersion":"kwid.dev/v1alpha1","kind":"Snapshot","objects":1}` + "\n" + `{"kind":"Widget"}`,
		`{"apiVersion":"kwid.dev/v1alpha1","kind":"Snapshot","objects":1}` + "\n" + `{"kind":"Pod","metadata":{"name":7}}`} {
		if _, err := Load(strings.NewReader(bad)); err == nil {
			t.Errorf("Load(%q) should fail", bad)
		}
	}
}

func FuzzLoadFiles(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, namespace: a}\n---\nkind: List\nitems: []\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}`))
	f.Add([]byte("[{\"kind\":\"Namespace\",\"apiVersion\":\"v1\"}] {\"items\": null}"))
	f.Add([]byte(aliasBomb))
	f.Add([]byte("--- \n---\n- a\n- b\n---\n\"x\"\n"))
	f.Add([]byte(istioManifests))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _, err := LoadFiles(context.Background(), []string{"-"}, FileOptions{Stdin: bytes.NewReader(data), MaxDocumentSize: 1 << 20})
		if err != nil {
			t.Fatalf("only unreadable paths are errors, got %v", err)
		}
		if s == nil {
			t.Fatal("nil snapshot")
		}
	})
}

func TestSortObjects(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100} {
		var sas []corev1.ServiceAccount
		for i := range n {
			sas = append(sas, corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprint("ns", (i*7)%5), Name: fmt.Sprint("sa", (i*13)%n)}})
		}
		sortObjects(sas)
		for i := 1; i < len(sas); i++ {
			a, b := sas[i-1], sas[i]
			if a.Namespace > b.Namespace || a.Namespace == b.Namespace && a.Name > b.Name {
				t.Fatalf("n=%d: not sorted at %d: %s/%s > %s/%s", n, i, a.Namespace, a.Name, b.Namespace, b.Name)
			}
		}
		if len(sas) != n {
			t.Fatalf("lost objects")
		}
	}
}
