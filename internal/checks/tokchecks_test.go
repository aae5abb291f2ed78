package checks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/token"
)

// tokFixedClock judges token ages against 2026-10-06 for the test.
func tokFixedClock(t *testing.T) {
	t.Helper()
	old := tokClock
	tokClock = func() time.Time { return time.Date(2026, 10, 6, 0, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { tokClock = old })
}

// loadSecretData loads fixtures as `--include-secret-data` does (or not).
func loadSecretData(t *testing.T, secretData bool, paths ...string) *inventory.Snapshot {
	t.Helper()
	s, errs, err := inventory.LoadFiles(context.Background(), paths, inventory.FileOptions{Options: inventory.Options{SecretData: secretData}})
	if err != nil || len(errs) > 0 {
		t.Fatalf("loading %v: %v %v", paths, err, errs)
	}
	return s
}

func notAssessedOf(res *Result, check string) []string {
	out := []string{}
	for _, n := range res.NotAssessed {
		if n.Check == check {
			out = append(out, n.Reason)
		}
	}
	return out
}

func TestLegacyTokenUsage(t *testing.T) {
	tokFixedClock(t)
	res := Run(NewInput(load(t, "testdata/tok-legacy.yaml")), tokLegacyUsageCheck)
	want := []string{
		"high Secret ci/deployer-token",   // used 6 days ago, critical ServiceAccount
		"medium Secret ci/builder-recent", // used 66 days ago
		"medium Secret ci/deployer-stale", // stale, but a critical ServiceAccount's
		"low Secret ci/builder-invalid",   // invalidated by the clean-up controller
		"low Secret ci/builder-stale",     // last used 642 days ago
		"low Secret ci/builder-unused",    // never used since tracking began
		// near miss: ci/builder-new (created 16 days ago, no use yet)
	}
	if diff := cmp.Diff(want, got(res, "KW-TOK-002")); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(res.NotAssessed) != 0 {
		t.Errorf("not assessed: %+v", res.NotAssessed)
	}
	f := escFind(t, res, "KW-TOK-002", "Secret ci/deployer-token")
	if f.Remediation != "Find the client (audit events annotated authentication.k8s.io/legacy-token, see KW-AUD-002), give it a short-lived token (kubectl create token deployer -n ci, or a projected serviceAccountToken volume), then: kubectl delete secret deployer-token -n ci" {
		t.Errorf("remediation: %s", f.Remediation)
	}
	if f.Evidence[0] != "kubernetes.io/legacy-token-last-used: 2026-09-30 (6 days ago)" {
		t.Errorf("evidence: %q", f.Evidence)
	}
}

// TestLegacyTokenNoTracking: without the tracking ConfigMap a token without a last-used
// label may still be in use: not assessed, never "unused".
func TestLegacyTokenNoTracking(t *testing.T) {
	tokFixedClock(t)
	s := load(t, "testdata/tok-legacy.yaml")
	s.ConfigMaps = nil
	res := Run(NewInput(s), tokLegacyUsageCheck)
	if slices.Contains(got(res, "KW-TOK-002"), "low Secret ci/builder-unused") {
		t.Error("a token without a last-used label is called unused though tracking is off")
	}
	want := []string{"(never-used tokens): ConfigMap kube-system/kube-apiserver-legacy-service-account-token-tracking not found: the API server does not track legacy token use (before Kubernetes 1.27, or LegacyServiceAccountTokenTracking off), so a token without a last-used label may still be in use"}
	if diff := cmp.Diff(want, notAssessedOf(res, "KW-TOK-002")); diff != "" {
		t.Errorf("not assessed (-want +got):\n%s", diff)
	}
	s.Status[inventory.ConfigMaps] = inventory.Status{State: inventory.Forbidden, Error: "forbidden"}
	res = Run(NewInput(s), tokLegacyUsageCheck)
	if diff := cmp.Diff([]string{"(never-used tokens): ConfigMap could not be listed: forbidden (forbidden)"}, notAssessedOf(res, "KW-TOK-002")); diff != "" {
		t.Errorf("not assessed (-want +got):\n%s", diff)
	}
}

const tokTestIssuer = "https://oidc.example.test/cluster"

func TestStoredTokens(t *testing.T) {
	tokFixedClock(t)
	for _, tc := range []struct {
		name        string
		secretData  bool
		want        []string
		notAssessed []string
	}{
		{
			name:       "with Secret data",
			secretData: true,
			want: []string{
				"critical Deployment app/exporter",    // legacy token of app/reporter (uid matches, cluster-admin)
				"high Secret app/double-encoded",      // bound token, base64 once more
				"high Secret app/remote-cluster",      // another cluster's legacy token in JSON
				"high ConfigMap kube-system/aws-auth", // a legacy token pasted into aws-auth
				"low Pod app/expired",                 // expired bound token in an init container
				// near misses: app/oidc-client (Google ID token), app/reader-token (a
				// token Secret: KW-TOK-001), app/plain
			},
			notAssessed: []string{},
		},
		{
			name: "without Secret data",
			want: []string{
				"critical Deployment app/exporter",
				"high ConfigMap kube-system/aws-auth",
				"low Pod app/expired",
			},
			notAssessed: []string{"(c) Secrets: Secret data not collected (run with --include-secret-data)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadSecretData(t, tc.secretData, "testdata/tok-stored.yaml")
			s.Cluster.OIDCIssuer = tokTestIssuer
			res := Run(NewInput(s), tokStoredCheck)
			if diff := cmp.Diff(tc.want, got(res, "KW-TOK-003")); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.notAssessed, notAssessedOf(res, "KW-TOK-003")); diff != "" {
				t.Errorf("not assessed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoredTokenEvidence(t *testing.T) {
	tokFixedClock(t)
	s := loadSecretData(t, true, "testdata/tok-stored.yaml")
	s.Cluster.OIDCIssuer = tokTestIssuer
	res := Run(NewInput(s), tokStoredCheck)
	remote := escFind(t, res, "KW-TOK-003", "Secret app/remote-cluster")
	tok := regexp.MustCompile(`^key config: JWT, \d+ bytes, sha256:[0-9a-f]{12}; iss kubernetes/serviceaccount; sub system:serviceaccount:kube-system:argocd-manager; no exp: never expires; issued for token Secret kube-system/argocd-manager-token-hzr7m; ServiceAccount kube-system/argocd-manager is not one of this cluster's \(another cluster's token\?\)$`)
	if len(remote.Evidence) != 2 || !tok.MatchString(remote.Evidence[0]) {
		t.Fatalf("evidence: %q", remote.Evidence)
	}
	if want := "2 subject(s) can read it (get/list/watch on Secrets in app): ServiceAccount app/reader, ServiceAccount app/reporter (cluster-wide)"; remote.Evidence[1] != want {
		t.Errorf("readers: %q, want %q", remote.Evidence[1], want)
	}
	if !strings.HasSuffix(remote.Remediation, "then revoke the stored token: kubectl delete secret argocd-manager-token-hzr7m -n kube-system (in the cluster that issued it)") {
		t.Errorf("remediation: %s", remote.Remediation)
	}
	exporter := escFind(t, res, "KW-TOK-003", "Deployment app/exporter")
	if !strings.Contains(exporter.Evidence[0], "ServiceAccount app/reporter of this cluster, critical rights") {
		t.Errorf("evidence: %q", exporter.Evidence)
	}
	if !strings.HasSuffix(exporter.Remediation, "then revoke the stored token: kubectl delete secret reporter-token-abcde -n app") {
		t.Errorf("remediation: %s", exporter.Remediation)
	}
}

// TestTokensNeverPrinted: no finding field holds a token, or its signature.
func TestTokensNeverPrinted(t *testing.T) {
	tokFixedClock(t)
	s := loadSecretData(t, true, "testdata/tok-stored.yaml")
	s.Cluster.OIDCIssuer = tokTestIssuer
	// Collect the tokens independently of the code under test: JWT-shaped strings in env
	// values, ConfigMap data and Secret data (also decoded once more).
	shape := regexp.MustCompile(`ey[A-Za-z0-9_-]+\.ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	var values []string
	for _, w := range s.Workloads() {
		for _, c := range credContainers(w.Spec) {
			for _, e := range c.env {
				values = append(values, e.Value)
			}
		}
	}
	for _, cm := range s.ConfigMaps {
		for _, v := range cm.Data {
			values = append(values, v)
		}
	}
	for _, sec := range s.Secrets {
		for _, v := range sec.Data {
			values = append(values, string(v))
			if b, err := base64.StdEncoding.DecodeString(string(v)); err == nil {
				values = append(values, string(b))
			}
		}
	}
	var tokens []string
	for _, v := range values {
		tokens = append(tokens, shape.FindAllString(v, -1)...)
	}
	if len(tokens) < 6 {
		t.Fatalf("found %d tokens in the fixture, want at least 6", len(tokens))
	}
	res := Run(NewInput(s))
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(string(out), tok) || strings.Contains(string(out), sig[:16]) {
			t.Errorf("token %d of the fixture appears in the findings", i)
		}
	}
}

func tokTestJWT(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc([]byte("signature-bytes"))
}

func TestTokParseJWT(t *testing.T) {
	exp := time.Unix(1900000000, 0).UTC()
	for _, tc := range []struct {
		name    string
		tok     string
		want    *tokJWT
		wantErr string
	}{
		{
			name: "legacy",
			tok: tokTestJWT(`{"alg":"RS256","kid":"k"}`, `{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"ns","kubernetes.io/serviceaccount/secret.name":"sa-token-x",`+
				`"kubernetes.io/serviceaccount/service-account.name":"sa","kubernetes.io/serviceaccount/service-account.uid":"u1","sub":"system:serviceaccount:ns:sa"}`),
			want: &tokJWT{Alg: "RS256", Issuer: "kubernetes/serviceaccount", Subject: "system:serviceaccount:ns:sa", Namespace: "ns", ServiceAccount: "sa", ServiceAccountUID: "u1", BoundTo: "secret ns/sa-token-x", Kubernetes: true},
		},
		{
			name: "bound to a pod, aud list",
			tok: tokTestJWT(`{"alg":"RS256"}`, `{"iss":"https://issuer","sub":"system:serviceaccount:ns:sa","aud":["a","b"],"exp":1900000000,`+
				`"kubernetes.io":{"namespace":"ns","serviceaccount":{"name":"sa","uid":"u2"},"pod":{"name":"p","uid":"u3"}}}`),
			want: &tokJWT{Alg: "RS256", Issuer: "https://issuer", Subject: "system:serviceaccount:ns:sa", Audience: []string{"a", "b"}, Expiry: &exp, Namespace: "ns", ServiceAccount: "sa", ServiceAccountUID: "u2", BoundTo: "pod ns/p", Kubernetes: true},
		},
		{
			name: "other issuer, aud string",
			tok:  tokTestJWT(`{"alg":"ES256"}`, `{"iss":"https://accounts.google.com","sub":"1234","aud":"client"}`),
			want: &tokJWT{Alg: "ES256", Issuer: "https://accounts.google.com", Subject: "1234", Audience: []string{"client"}},
		},
		{name: "nonsense dates", tok: tokTestJWT(`{"alg":"none"}`, `{"exp":1e300,"iat":-5}`), wantErr: `payload: claim "exp"`},
		{name: "date as text", tok: tokTestJWT(`{"alg":"RS256"}`, `{"exp":"soon"}`), wantErr: `payload: claim "exp"`},
		{name: "two segments", tok: "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0", wantErr: "not a JWT: 2 dot-separated parts, want 3"},
		{name: "JWE", tok: "a.b.c.d.e", wantErr: "an encrypted JWT (JWE, 5 parts)"},
		{name: "bad base64", tok: "e!J.eyJ9.x", wantErr: "header: invalid base64url"},
		{name: "header not JSON", tok: tokTestJWT(`alg`, `{}`), wantErr: "header: not a JSON object"},
		{name: "no alg", tok: tokTestJWT(`{"typ":"JWT"}`, `{}`), wantErr: `header: no "alg"`},
		{name: "payload array", tok: tokTestJWT(`{"alg":"RS256"}`, `[1]`), wantErr: "payload: not a JSON object"},
		{name: "payload null", tok: tokTestJWT(`{"alg":"RS256"}`, `null`), wantErr: "payload: not a JSON object"},
		{name: "too large", tok: strings.Repeat("a", token.MaxSize+1), wantErr: "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := tokParseJWT(tc.tok)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.Size != len(tc.tok) || !strings.HasPrefix(j.Fingerprint, "sha256:") {
				t.Errorf("size %d fingerprint %q", j.Size, j.Fingerprint)
			}
			j.Size, j.Fingerprint, j.IssuedAt = 0, "", nil
			if diff := cmp.Diff(tc.want, j); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokServiceAccountToken(t *testing.T) {
	for _, tc := range []struct {
		j    tokJWT
		want bool
	}{
		{tokJWT{Issuer: "kubernetes/serviceaccount"}, true},
		{tokJWT{Issuer: tokTestIssuer}, true},
		{tokJWT{Issuer: "https://elsewhere", Kubernetes: true}, true}, // another cluster's ServiceAccount
		{tokJWT{Issuer: "https://accounts.google.com"}, false},
		{tokJWT{}, false},
	} {
		if got := tc.j.ServiceAccountToken(tokTestIssuer); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.j, got, tc.want)
		}
	}
}

func TestLongLivedTokens(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/tok-projected.yaml")), tokLongLivedCheck)
	want := []string{
		"high Deployment app/powerful-long",    // 2 days, ServiceAccount can create pods
		"medium Deployment app/irsa-pod",       // pod annotation eks.amazonaws.com/token-expiration 129600
		"medium Deployment app/vault-long",     // audience vault, 7 days
		"medium ServiceAccount app/azure-long", // Azure expiration 90000
		"medium ServiceAccount app/irsa-long",  // IRSA expiration 172800
		"low StatefulSet app/api-token",        // custom projected token without audience
		// near misses: app/vault-ok (vault, 3600 s), Pod app/default-volume (kube-api-access),
		// app/irsa-ok (86400), app/no-role (no role-arn)
	}
	if diff := cmp.Diff(want, got(res, "KW-TOK-004")); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(res.NotAssessed) != 0 {
		t.Errorf("not assessed: %+v", res.NotAssessed)
	}
	sa := escFind(t, res, "KW-TOK-004", "ServiceAccount app/irsa-long")
	if sa.Remediation != "kubectl annotate serviceaccount irsa-long -n app eks.amazonaws.com/token-expiration=86400 --overwrite (then restart its pods so the webhook re-injects the volume)" {
		t.Errorf("remediation: %s", sa.Remediation)
	}
}

func TestIssuerDiscovery(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/tok-discovery.yaml")), tokIssuerDiscoveryCheck)
	// Near misses: the default binding to system:serviceaccounts, public-info-viewer, and a
	// RoleBinding (which never grants non-resource URLs).
	if diff := cmp.Diff([]string{"low Group system:unauthenticated"}, got(res, "KW-TOK-005")); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	f := escFind(t, res, "KW-TOK-005", "Group system:unauthenticated")
	if !strings.Contains(f.Remediation, `kubectl patch clusterrolebinding oidc-discovery-public --type=json -p '[{"op":"remove","path":"/subjects/1"}]'`) {
		t.Errorf("remediation: %s", f.Remediation)
	}
}

// FuzzTokParseJWT: the decoder never panics, and what it returns never contains the token.
func FuzzTokParseJWT(f *testing.F) {
	f.Add(tokTestJWT(`{"alg":"RS256"}`, `{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:a:b"}`))
	f.Add(tokTestJWT(`{"alg":"RS256"}`, `{"kubernetes.io":{"namespace":"a","serviceaccount":{"name":"b"},"node":{"name":"n"}},"aud":[1,2]}`))
	f.Add(tokTestJWT(`{"alg":1}`, `{"exp":"x"}`))
	f.Add("..")
	f.Add("eyJ.eyJ.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		j, err := tokParseJWT(tok)
		if err != nil {
			return
		}
		if j.Size != len(tok) {
			t.Errorf("size %d for %d bytes", j.Size, len(tok))
		}
		if fp := j.Describe(); len(tok) >= 16 && strings.Contains(fp, tok) {
			t.Errorf("fingerprint %q contains the token", fp)
		}
	})
}

// FuzzTokFindJWTs: scanning arbitrary values never panics and only returns parsed tokens.
func FuzzTokFindJWTs(f *testing.F) {
	tok := tokTestJWT(`{"alg":"RS256"}`, `{"iss":"kubernetes/serviceaccount"}`)
	f.Add("token: " + tok)
	f.Add(base64.StdEncoding.EncodeToString([]byte(`{"bearerToken":"` + tok + `"}`)))
	f.Add(strings.Repeat("eyJ", 100))
	f.Add("eyJhbGciOi.eyJpc3MiOi.sig eyJhbGciOi.eyJpc3MiOi.sig")
	f.Fuzz(func(t *testing.T, value string) {
		for _, j := range tokFindJWTs(value) {
			if j.Alg == "" || j.Size == 0 || j.Fingerprint == "" {
				t.Errorf("incomplete token info %+v", j)
			}
		}
	})
}
