// Package testcluster gives integration tests a real Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager) started by hack/controlplane.sh, never a fake.
//
// A test calls Start. The control plane is, in order of preference:
//   - the one described by KWID_TEST_KUBECONFIG (and KWID_TEST_KUBECTL), as hack/test.sh
//     and CI provide, shared by every test package;
//   - one started for this test binary when KWID_INTEGRATION=1 (stopped by Main);
//   - none: the test is skipped with a message saying how to run it.
package testcluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a running control plane.
type Cluster struct {
	Kubeconfig string
	KubectlBin string
	AuditLog   string
	Config     *rest.Config
	Client     kubernetes.Interface
}

var (
	once     sync.Once
	shared   *Cluster
	startErr error
	ownedDir string
)

const skipMessage = "integration test: needs a real control plane. Run hack/test.sh, or set KWID_INTEGRATION=1 " +
	"(builds kube-apiserver from Go modules on first use, ~10 min, then cached), or point KWID_TEST_KUBECONFIG " +
	"and KWID_TEST_KUBECTL at one started with hack/controlplane.sh start DIR"

// Start returns the shared control plane, or skips the test when none is configured.
func Start(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() { shared, startErr = start() })
	if startErr != nil {
		t.Fatalf("starting control plane: %v", startErr)
	}
	if shared == nil {
		t.Skip(skipMessage)
	}
	return shared
}

func start() (*Cluster, error) {
	kubeconfig, kubectl, audit := os.Getenv("KWID_TEST_KUBECONFIG"), os.Getenv("KWID_TEST_KUBECTL"), os.Getenv("KWID_TEST_AUDIT_LOG")
	if kubeconfig == "" {
		if os.Getenv("KWID_INTEGRATION") != "1" {
			return nil, nil
		}
		dir, err := os.MkdirTemp("", "kwid-controlplane-")
		if err != nil {
			return nil, err
		}
		ownedDir = dir
		cmd := exec.Command(script(), "start", dir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			stopOwned()
			return nil, fmt.Errorf("hack/controlplane.sh start: %w", err)
		}
		kubeconfig, kubectl, audit = filepath.Join(dir, "kubeconfig"), "", filepath.Join(dir, "audit.log")
	}
	if kubectl == "" {
		out, err := exec.Command(script(), "bin").Output()
		if err != nil {
			return nil, fmt.Errorf("locating kubectl: %w", err)
		}
		kubectl = filepath.Join(strings.TrimSpace(string(out)), "kubectl")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{Kubeconfig: kubeconfig, KubectlBin: kubectl, AuditLog: audit, Config: cfg, Client: cs}, nil
}

// script is the path of hack/controlplane.sh in this repository.
func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "hack", "controlplane.sh")
}

func stopOwned() {
	if ownedDir == "" {
		return
	}
	_ = exec.Command(script(), "stop", ownedDir).Run()
	_ = os.RemoveAll(ownedDir)
	ownedDir = ""
}

// Main runs a test binary's tests and stops a control plane this binary started. Call it
// from TestMain: os.Exit(testcluster.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	stopOwned()
	return code
}

// Kubectl runs kubectl against the cluster with stdin and returns stdout; it fails the test
// on error.
func (c *Cluster) Kubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(c.KubectlBin, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// Namespace creates a namespace with a unique name and deletes it when the test ends.
func (c *Cluster) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, os.Getpid()%100000)
	for i := 0; ; i++ {
		candidate := name
		if i > 0 {
			candidate = fmt.Sprintf("%s-%d", name, i)
		}
		cmd := exec.Command(c.KubectlBin, "--kubeconfig", c.Kubeconfig, "create", "namespace", candidate)
		if out, err := cmd.CombinedOutput(); err != nil {
			if strings.Contains(string(out), "AlreadyExists") && i < 20 {
				continue
			}
			t.Fatalf("creating namespace: %v: %s", err, out)
		}
		name = candidate
		break
	}
	t.Cleanup(func() {
		_ = exec.Command(c.KubectlBin, "--kubeconfig", c.Kubeconfig, "delete", "namespace", name, "--wait=false").Run()
	})
	return name
}

// ApplyCRDs applies CustomResourceDefinitions from a file (relative to the test's package)
// and waits until the named ones are established. With remove, they are deleted when the
// test ends (CRDs other tests share, like kwid's PolicyReports, are kept).
func (c *Cluster) ApplyCRDs(t testing.TB, file string, remove bool, names ...string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c.Kubectl(t, string(data), "apply", "-f", "-")
	if remove {
		t.Cleanup(func() { c.Kubectl(t, string(data), "delete", "--wait=true", "--ignore-not-found", "-f", "-") })
	}
	args := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, n := range names {
		args = append(args, "crd/"+n)
	}
	c.Kubectl(t, "", args...)
}

// PolicyReportCRDs are the names of the CRDs in deploy/crds/policyreports.yaml.
var PolicyReportCRDs = []string{"policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"}
