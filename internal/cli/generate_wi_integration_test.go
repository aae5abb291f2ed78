package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kwid-dev/kwid/internal/testcluster"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestLiveGenerateWorkloadIdentity: with no --issuer and no --cloud, the IRSA trust is
// written for the live cluster's OIDC issuer (read through discovery); the generated
// ServiceAccount is accepted by the API server as written; and kwid scan of the generated
// files is clean.
func TestLiveGenerateWorkloadIdentity(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-wigen")
	dir := t.TempDir()
	stdout, stderr, code := kwid(t, "generate", "workload-identity", "--kubeconfig", c.Kubeconfig, "--sa", ns+"/orders",
		"--aws-role", "live-orders", "--account", "111122223333", "--cluster-name", "live", "--output-dir", dir)
	if code != 0 {
		t.Fatalf("generate: exit %d: %s%s", code, stdout, stderr)
	}
	role, err := os.ReadFile(filepath.Join(dir, "cloud/aws/iam/roles/live-orders/get-role.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"Federated": "arn:aws:iam::111122223333:oidc-provider/kwid.test.local"`,
		`"kwid.test.local:sub": "system:serviceaccount:` + ns + `:orders"`,
		`"kwid.test.local:aud": "sts.amazonaws.com"`,
	} {
		if !strings.Contains(string(role), want) {
			t.Errorf("trust of the generated role lacks %s:\n%s", want, role)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "serviceaccount.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sa corev1.ServiceAccount
	if err := yaml.UnmarshalStrict(data, &sa); err != nil {
		t.Fatalf("serviceaccount.yaml: %v", err)
	}
	got, err := c.Client.CoreV1().ServiceAccounts(ns).Create(context.Background(), &sa, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the API server refuses the generated ServiceAccount: %v", err)
	}
	if got.AutomountServiceAccountToken == nil || *got.AutomountServiceAccountToken || got.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::111122223333:role/live-orders" {
		t.Errorf("stored ServiceAccount: automount %v, annotations %v", got.AutomountServiceAccountToken, got.Annotations)
	}
	stdout, stderr, code = kwid(t, "scan", "-f", filepath.Join(dir, "serviceaccount.yaml"), "--cloud", filepath.Join(dir, "cloud"))
	// The only finding is about the cluster description built from flags (no accessConfig:
	// KW-EKS-001, see docs/cloud.md), none about the generated identity.
	if code != 0 || strings.Contains(stdout, "role/live-orders") || strings.Contains(stdout, "ServiceAccount "+ns+"/orders") ||
		!strings.Contains(stdout, "\n1 findings") || !strings.Contains(stdout, "KW-EKS-001") {
		t.Errorf("scan of the generated files: exit %d:\n%s%s", code, stdout, stderr)
	}
}
