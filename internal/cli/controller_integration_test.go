package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kwid-dev/kwid/internal/cli"
	"github.com/kwid-dev/kwid/internal/testcluster"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

const podWithKeys = `
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - name: app
    image: registry.example/app:1
    env:
    - {name: AWS_ACCESS_KEY_ID, value: AKIA2JQZX7KDR4MBNW5T}
    - {name: AWS_SECRET_ACCESS_KEY, value: h4Vq9Zt2mXo8LrP1cW6yKe3BnJ0sGdF7uTaQ5iRz}
`

const podClean = `
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - name: app
    image: registry.example/app:1
`

// TestControllerLive: kwid controller, elected leader through a Lease, writes a
// PolicyReport for a violating pod, rewrites it when the pod is fixed, and /metrics and
// /readyz follow.
func TestControllerLive(t *testing.T) {
	c := testcluster.Start(t)
	c.ApplyCRDs(t, "../../deploy/crds/policyreports.yaml", false, testcluster.PolicyReportCRDs...)
	ns := c.Namespace(t, "kwid-ctrl")
	c.Kubectl(t, podWithKeys, "apply", "-n", ns, "-f", "-")

	metrics, health := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var logs bytes.Buffer
	go func() {
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: &logs}
		done <- cli.ExitCode(cli.Run(ctx, streams, []string{"controller", "--kubeconfig", c.Kubeconfig,
			"--metrics-addr", metrics, "--health-addr", health, "--debounce", "300ms", "--max-delay", "2s",
			"--leader-elect", "--leader-election-namespace", ns}), &logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("kwid controller exited %d: %s", code, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("kwid controller did not stop")
		}
		c.Kubectl(t, "", "delete", "clusterpolicyreport", "kwid", "--ignore-not-found")
	})

	report := func() string {
		// Listing (rather than getting "kwid") does not fail while the report does not exist.
		return c.Kubectl(t, "", "get", "policyreports", "-n", ns, "-o", "jsonpath={.items[*].results[*].policy}")
	}
	waitFor(t, "a PolicyReport in "+ns+" with KW-CRED-001 on pod app", func() bool { return strings.Contains(report(), "KW-CRED-001") })
	if got := get(t, "http://"+health+"/readyz"); !strings.Contains(got, "ok") {
		t.Errorf("/readyz: %q", got)
	}
	body := get(t, "http://"+metrics+"/metrics")
	if want := fmt.Sprintf(`kwid_findings{check="KW-CRED-001",namespace=%q,severity="high"} 1`, ns); !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s:\n%s", want, grepLines(body, "kwid_findings"))
	}
	if !strings.Contains(body, `kwid_objects_watched{kind="Pod"}`) || !strings.Contains(body, `kwid_evaluations_total{result="ok"}`) {
		t.Errorf("/metrics lacks the watched objects or the evaluations:\n%s", grepLines(body, "kwid_"))
	}
	lease, err := c.Client.CoordinationV1().Leases(ns).Get(context.Background(), "kwid-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("no leader Lease in %s: %v %+v", ns, err, lease)
	}

	// Fix the pod (env is immutable: replace it); the report follows.
	c.Kubectl(t, "", "delete", "pod", "app", "-n", ns, "--wait=false", "--grace-period=0", "--force")
	c.Kubectl(t, podClean, "apply", "-n", ns, "-f", "-")
	waitFor(t, "the KW-CRED-001 result gone from the report of "+ns, func() bool {
		r := report()
		return !strings.Contains(r, "KW-CRED-001")
	})
	waitFor(t, "the KW-CRED-001 series gone from /metrics", func() bool {
		return !strings.Contains(get(t, "http://"+metrics+"/metrics"), fmt.Sprintf(`kwid_findings{check="KW-CRED-001",namespace=%q`, ns))
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
