package cli_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kwid-dev/kwid/internal/testcluster"
	"github.com/kwid-dev/kwid/internal/token"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestLiveTokenInspect: tokens minted by the real API server (TokenRequest) and by its token
// controller (a legacy token Secret) verify against the keys the cluster publishes through
// OIDC discovery; a token with one payload byte changed, and a token whose ServiceAccount
// is gone, are rejected by kwid as by the API server (TokenReview).
func TestLiveTokenInspect(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-token")
	ctx := context.Background()
	sas := c.Client.CoreV1().ServiceAccounts(ns)
	for _, name := range []string{"minted", "gone"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{token.AnnotationIRSARole: "arn:aws:iam::111122223333:role/" + name}}}
		if _, err := sas.Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mint := func(name string, audiences ...string) string {
		t.Helper()
		exp := int64(600)
		tr, err := sas.CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &exp}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	// apiServerAccepts asks the API server itself (TokenReview) whether it accepts tok.
	apiServerAccepts := func(tok string) bool {
		t.Helper()
		tr, err := c.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tok}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Authenticated
	}
	dir := t.TempDir()
	inspect := func(name, tok string, extra ...string) (*token.Report, string, int) {
		t.Helper()
		file := filepath.Join(dir, name)
		writeFile(t, file, tok+"\n")
		args := append([]string{"token", "inspect", "--kubeconfig", c.Kubeconfig, "--token-file", file}, extra...)
		stdout, stderr, code := kwid(t, args...)
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(stdout+stderr, sig) || strings.Contains(stdout+stderr, tok[:strings.Index(tok, ".")]) {
			t.Fatalf("%s: kwid printed part of the token", name)
		}
		if code == 1 || code == 2 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		if len(extra) > 0 {
			return nil, stdout, code
		}
		// The same again as JSON, for the details.
		stdout, stderr, code2 := kwid(t, append(args, "-o", "json")...)
		if code2 != code {
			t.Fatalf("%s: exit %d with -o json, %d without: %s", name, code2, code, stderr)
		}
		var r token.Report
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stdout)
		}
		return &r, stdout, code
	}

	// A bound token for the Kubernetes API, and one for AWS STS.
	tok := mint("minted")
	if !apiServerAccepts(tok) {
		t.Fatal("the API server rejects the token it minted")
	}
	r, _, code := inspect("bound.jwt", tok)
	if code != 0 || r.Signature.Status != token.Verified || r.Kind != token.Bound || r.Claims.Issuer != "https://kwid.test.local" ||
		r.Claims.Subject != "system:serviceaccount:"+ns+":minted" || r.Validity.Status != "valid" || len(r.Findings) != 0 {
		t.Fatalf("bound token: exit %d, %+v", code, r)
	}
	if len(r.Objects) != 1 || r.Objects[0].Status != "exists" || r.Objects[0].Detail != "uid matches" {
		t.Errorf("bound token: objects %+v, want the ServiceAccount with its uid", r.Objects)
	}
	if len(r.CloudRoles) != 1 || r.CloudRoles[0].Role != "arn:aws:iam::111122223333:role/minted" || r.CloudRoles[0].AudienceOK {
		t.Errorf("API token: cloud roles %+v, want the IRSA role without the STS audience", r.CloudRoles)
	}
	r, _, _ = inspect("sts.jwt", mint("minted", "sts.amazonaws.com"))
	if len(r.CloudRoles) != 1 || !r.CloudRoles[0].AudienceOK || r.Signature.Status != token.Verified {
		t.Errorf("STS token: signature %+v, cloud roles %+v, want the IRSA role with its audience", r.Signature, r.CloudRoles)
	}
	_, table, _ := inspect("bound.jwt", tok, "-o", "table")
	for _, want := range []string{"Signature:       verified (RS256, key " + r.Header.Kid + " from cluster ", "Result: valid"} {
		if !strings.Contains(table, want) {
			t.Errorf("table output lacks %q:\n%s", want, table)
		}
	}

	// One payload byte changed and re-encoded.
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(payload), "minted")
	payload[i] = 'p' // "pinted"
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	tampered := strings.Join(parts, ".")
	if apiServerAccepts(tampered) {
		t.Fatal("the API server accepts the modified token")
	}
	_, table, code = inspect("tampered.jwt", tampered, "-o", "table")
	if code != 3 || !strings.Contains(table, `Signature:       FAILED: signature does not match key "`+r.Header.Kid+`": the token was modified after it was signed`) ||
		!strings.Contains(table, "Result: INVALID") {
		t.Errorf("modified token: exit %d, want 3 and the signature failure:\n%s", code, table)
	}

	// A token whose ServiceAccount was deleted: a good signature, still rejected.
	goneTok := mint("gone")
	if err := sas.Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the API server to reject the deleted ServiceAccount's token", func() bool { return !apiServerAccepts(goneTok) })
	r, _, code = inspect("gone.jwt", goneTok)
	if code != 3 || r.Signature.Status != token.Verified || len(r.Findings) != 1 || !strings.Contains(r.Findings[0], "ServiceAccount "+ns+"/gone missing") {
		t.Errorf("deleted ServiceAccount: exit %d, signature %s, findings %q", code, r.Signature.Status, r.Findings)
	}

	// A legacy token Secret, filled by the token controller.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "minted-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "minted"}}, Type: corev1.SecretTypeServiceAccountToken}
	if _, err := c.Client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var legacy string
	waitFor(t, "the legacy token Secret to be filled", func() bool {
		s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, "minted-token", metav1.GetOptions{})
		legacy = string(s.Data[corev1.ServiceAccountTokenKey])
		return err == nil && legacy != ""
	})
	if !apiServerAccepts(legacy) {
		t.Fatal("the API server rejects the legacy token")
	}
	r, _, code = inspect("legacy.jwt", legacy)
	if code != 0 || r.Kind != token.Legacy || r.Signature.Status != token.Verified || r.Claims.Issuer != token.LegacyIssuer || r.Validity.Status != "no expiry" {
		t.Fatalf("legacy token: exit %d, %+v", code, r)
	}
	if len(r.Objects) != 2 || r.Objects[1].Ref.String() != "Secret "+ns+"/minted-token" || r.Objects[1].Status != "exists" {
		t.Errorf("legacy token: objects %+v, want its ServiceAccount and Secret", r.Objects)
	}
	_, table, _ = inspect("legacy.jwt", legacy, "-o", "table")
	if !strings.Contains(table, "Kind:            legacy ServiceAccount token") {
		t.Errorf("legacy token not reported as legacy:\n%s", table)
	}
}
