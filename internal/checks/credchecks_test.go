package checks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestCredentialChecks(t *testing.T) {
	tests := []struct {
		check       string
		secretData  bool
		want        []string
		notAssessed []string
	}{
		{"KW-CRED-001", false, []string{
			"high Deployment app/static-aws",    // literal key ID and secret key
			"high Pod app/session",              // literal session token
			"medium Deployment app/from-secret", // secretKeyRef by name: the reference
			"medium Deployment app/uploader",    // secretKeyRef filling AWS_SECRET_ACCESS_KEY
			"low Deployment app/optional-ref",   // optional reference, Secret unknown
			// near misses: app/doc-example (AWS documentation keys), app/var-ref ($(VAR), changeme)
		}, []string{"(b) Secret data: Secret data not collected (run with --include-secret-data)"}},
		{"KW-CRED-001", true, []string{
			"high Deployment app/static-aws",
			"high Pod app/session",
			"high Secret app/aws-credfile",  // a credentials file
			"high Secret app/aws-creds",     // key ID and secret key
			"high Secret app/uploader-keys", // known by the variable it fills
			"medium Deployment app/from-secret",
			"medium Deployment app/uploader",
			// near misses: app/optional-ref (the optional Secret does not exist), Secret
			// app/placeholder-aws
		}, []string{}},
		{"KW-CRED-002", false, []string{
			"medium Deployment app/gcs-sync", // GOOGLE_APPLICATION_CREDENTIALS from a Secret volume
			"medium Deployment app/maps",     // AIza API key
			"medium Deployment app/wif",      // from a Secret whose content is unknown
			"low Deployment app/baked",       // a key file in the image
			// near miss: app/wif-cm (a ConfigMap: credential configuration)
		}, []string{"(b) Secret data: Secret data not collected (run with --include-secret-data)"}},
		{"KW-CRED-002", true, []string{
			"high Secret app/gcp-key",
			"medium Deployment app/gcs-sync",
			"medium Deployment app/maps",
			"low Deployment app/baked",
			// near miss: app/wif (external_account: no secret)
		}, []string{}},
		{"KW-CRED-003", false, []string{
			"high Deployment app/arm",         // ARM_CLIENT_SECRET by name
			"high Deployment app/azure-sp",    // client secret by shape
			"medium Deployment app/azure-ref", // secretKeyRef
			// near miss: app/azure-placeholder
		}, []string{"(b) Secret data: Secret data not collected (run with --include-secret-data)"}},
		{"KW-CRED-003", true, []string{
			"high Deployment app/arm",
			"high Deployment app/azure-sp",
			"high Secret app/azure-sp",
			"high Secret kube-system/azure-json", // azure.json aadClientSecret
			"medium Deployment app/azure-ref",
			// near miss: Secret app/oauth (not Azure's)
		}, []string{}},
	}
	for _, tc := range tests {
		name := tc.check + " without Secret data"
		if tc.secretData {
			name = tc.check + " with Secret data"
		}
		t.Run(name, func(t *testing.T) {
			c, err := Lookup(tc.check)
			if err != nil {
				t.Fatal(err)
			}
			res := Run(NewInput(loadSecretData(t, tc.secretData, "testdata/cred-workloads.yaml")), c)
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.notAssessed, notAssessedOf(res, tc.check)); diff != "" {
				t.Errorf("not assessed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCredentialReaders: each credential finding says who can read it.
func TestCredentialReaders(t *testing.T) {
	res := Run(NewInput(loadSecretData(t, true, "testdata/cred-workloads.yaml")), credAWSCheck)
	sec := escFind(t, res, "KW-CRED-001", "Secret app/aws-creds")
	want := []string{
		"key access-key-id: AWS access key ID …7N2D, long-term (AKIA)",
		"key secret-access-key: AWS secret access key (40 chars, sha256 31b16e2b)",
		// get limited to aws-creds, and list cluster-wide; app/other-reader's get names
		// another Secret.
		"2 subject(s) can read it (get/list/watch on Secrets in app): ServiceAccount app/from-secret, ServiceAccount ops/backup (cluster-wide)",
		"read by Deployment app/from-secret (container app env AWS_ACCESS_KEY_ID), Deployment app/from-secret (container app env AWS_SECRET_ACCESS_KEY)",
	}
	if diff := cmp.Diff(want, sec.Evidence); diff != "" {
		t.Errorf("evidence (-want +got):\n%s", diff)
	}
	env := escFind(t, res, "KW-CRED-001", "Deployment app/static-aws")
	if last := env.Evidence[len(env.Evidence)-1]; last != "no RBAC subject holds get/list/watch on pods or deployments.apps in app (system:masters aside) (the env is part of the pod spec)" {
		t.Errorf("readers of the pod spec: %q", last)
	}
	if !strings.Contains(env.Remediation, "kwid generate workload-identity --sa app/static-aws --aws-role ROLE") || !strings.Contains(env.Remediation, "key ID ending 7N2D") {
		t.Errorf("remediation: %s", env.Remediation)
	}
}

// credFixtureSecrets are the secret values of cred-workloads.yaml.
var credFixtureSecrets = []string{
	"AKIAQ3EGRTXWZK5B7N2D",
	"kWx9/FixtureSecretKey+NotReal0000AbCdEfG",
	"FwoGZXIvYXdzEDoaDKwidFixtureSessionTokenNotReal1234567890abcdefghIJKLMN",
	"ASIAY2TESTFIXTUREZZQ",
	"Zz9y/FixtureCredFileSecret+NotReal000011",
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCkwidFixturePrivateKeyNotReal",
	"AIzaSyD-kwidFixtureApiKeyNotReal_012345",
	"Ab38Q~kwidFixtureClientSecretValue.0000",
	"kwid.fixture.arm.secret.value.zz",
	"Yy8x/FixtureUploaderSecret+NotReal000022",
	"Cd47Q~kwidFixtureAzureJsonSecretVal.111",
}

// TestCredentialsNeverPrinted: no finding field holds a secret value or 12 characters of one.
func TestCredentialsNeverPrinted(t *testing.T) {
	for _, secretData := range []bool{false, true} {
		res := Run(NewInput(loadSecretData(t, secretData, "testdata/cred-workloads.yaml")))
		out, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range credFixtureSecrets {
			for i := 0; i+12 <= len(v); i++ {
				if strings.Contains(string(out), v[i:i+12]) {
					t.Errorf("secretData=%v: characters %d-%d of a %d-character secret appear in the findings", secretData, i, i+12, len(v))
					break
				}
			}
		}
	}
}

func TestCredPlaceholder(t *testing.T) {
	for v, want := range map[string]bool{
		"":                     true,
		"short":                true,
		"AKIAIOSFODNN7EXAMPLE": true,
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": true,
		"$(FROM_FILE)":         true,
		"${AWS_SECRET}":        true,
		"{{ .Values.key }}":    true,
		"<your-secret-here>":   true,
		"changeme":             true,
		"MinioAdmin":           true,
		"xxxxxxxxxxxxxxxx":     true,
		"****************":     true,
		"AKIAQ3EGRTXWZK5B7N2D": false,
		"kwidDemo/0nlyFakeSecretAccessKey+NOTREAL": false,
	} {
		if got := credPlaceholder(v); got != want {
			t.Errorf("credPlaceholder(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestCredScan(t *testing.T) {
	for _, tc := range []struct {
		scan        func(string, string) []credHit
		name, value string
		want        []string
	}{
		{credScanAWS, "AWS_ACCESS_KEY_ID", "AKIAQ3EGRTXWZK5B7N2D", []string{"AWS access key ID …7N2D, long-term (AKIA)"}},
		{credScanAWS, "SOMETHING", "prefix AKIAQ3EGRTXWZK5B7N2D suffix", []string{"AWS access key ID …7N2D, long-term (AKIA)"}},
		{credScanAWS, "SOMETHING", "XAKIAQ3EGRTXWZK5B7N2D", nil},        // no word boundary
		{credScanAWS, "AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", nil}, // documentation example
		{credScanAWS, "aws-access-key-id", "minio-user-key-01", []string{"AWS access key ID not in AWS format (17 chars, sha256 ef586117)"}},
		{credScanAWS, "AWS_REGION", "us-east-1", nil},
		{credScanGCP, "KEY", `{"type":"external_account","audience":"x"}`, nil},
		{credScanGCP, "KEY", `{"type":"authorized_user","client_id":"764086051850-abc.apps.googleusercontent.com","refresh_token":"1//0gFixture"}`, []string{"GCP user refresh token for client ….com (12 chars, sha256 2ed37040)"}},
		{credScanGCP, "KEY", "AIzaSyD-kwidFixtureApiKeyNotReal_01234", nil}, // 34 characters after AIza
		{credScanAzure, "AZURE_CLIENT_SECRET", "<set-me>", nil},
		{credScanAzure, "CLIENT_SECRET", "kwid-fixture-oauth-client-secret", nil},
		{credScanAzure, "config", `{"aadClientSecret":"plain-but-long-secret"}`, []string{"Azure client secret in JSON field aadClientSecret (21 chars, sha256 5381c623)"}},
	} {
		var whats []string
		for _, h := range tc.scan(tc.name, tc.value) {
			whats = append(whats, h.what)
		}
		if diff := cmp.Diff(tc.want, whats); diff != "" {
			t.Errorf("scan(%q, %q) (-want +got):\n%s", tc.name, tc.value, diff)
		}
	}
}

func TestCredMountedFile(t *testing.T) {
	spec := &corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "key", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gcp", Items: []corev1.KeyToPath{{Key: "sa.json", Path: "key.json"}}}}},
		{Name: "whole", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "all"}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}},
	}}
	c := credContainer{mounts: []corev1.VolumeMount{
		{Name: "key", MountPath: "/var/secrets/google"},
		{Name: "whole", MountPath: "/var/secrets"},
		{Name: "whole", MountPath: "/etc/one.json", SubPath: "one.json"},
		{Name: "cfg", MountPath: "/etc/gcp/"},
	}}
	for _, tc := range []struct{ file, secret, key, source string }{
		{"/var/secrets/google/key.json", "gcp", "sa.json", "Secret volume key"}, // longest mount, items mapping
		{"/var/secrets/other.json", "all", "other.json", "Secret volume whole"},
		{"/etc/one.json", "all", "one.json", "Secret volume whole"}, // subPath
		{"/etc/gcp/config.json", "", "", "ConfigMap volume cfg"},
		{"/app/key.json", "", "", "no volume mount (a file in the image?)"},
	} {
		secret, key, source := credMountedFile(spec, c, tc.file)
		if secret != tc.secret || key != tc.key || source != tc.source {
			t.Errorf("%s: %q %q %q, want %q %q %q", tc.file, secret, key, source, tc.secret, tc.key, tc.source)
		}
	}
}

// FuzzCredScan: the credential scanners never panic and never echo a scanned value.
func FuzzCredScan(f *testing.F) {
	f.Add("AWS_SECRET_ACCESS_KEY", "kWx9/FixtureSecretKey+NotReal0000AbCdEfG")
	f.Add("X", "[default]\naws_access_key_id = ASIAY2TESTFIXTUREZZQ\naws_secret_access_key = Zz9y/FixtureCredFileSecret+NotReal000011\n")
	f.Add("key.json", `{"type":"service_account","private_key_id":"0123456789abcdef","private_key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n","client_email":"a@b.iam.gserviceaccount.com"}`)
	f.Add("AZURE_CLIENT_SECRET", "Ab38Q~kwidFixtureClientSecretValue.0000")
	f.Add("azure.json", `{"aadClientSecret":"x","nested":{"aadClientSecret":1}}`)
	f.Add("MAPS", "AIzaSyD-kwidFixtureApiKeyNotReal_012345")
	f.Add("V", "S2l3aWQgZml4dHVyZSB2YWx1ZSBlbmNvZGVkIG9uY2UgbW9yZQ==")
	f.Fuzz(func(t *testing.T, name, value string) {
		for _, p := range []*credProvider{credAWS, credGCP, credAzure} {
			for _, h := range credScanValue(p, name, value) {
				if h.what == "" || h.sev == Info {
					t.Errorf("%s: incomplete hit %+v", p.cloud, h)
				}
				if v := strings.TrimSpace(value); len(v) >= 12 && strings.Contains(h.what+h.id, v) {
					t.Errorf("%s: hit %q echoes the value", p.cloud, h.what)
				}
			}
		}
	})
}
