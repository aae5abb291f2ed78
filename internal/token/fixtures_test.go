package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rogpeppe/go-internal/txtar"
)

// scriptArchive is the CLI script whose token and JWKS files this test generates.
const scriptArchive = "../cli/testdata/script/token.txtar"

// TestScriptFixtures checks that the tokens in the CLI script are what their names say
// against its JWKS files. UPDATE_GOLDEN=1 regenerates them with fresh test keys (only the
// public keys are written; the private ones are discarded).
func TestScriptFixtures(t *testing.T) {
	data, err := os.ReadFile(scriptArchive)
	if err != nil {
		t.Fatal(err)
	}
	ar := txtar.Parse(data)
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		set := func(name, content string) {
			for i := range ar.Files {
				if ar.Files[i].Name == name {
					ar.Files[i].Data = []byte(content + "\n")
					return
				}
			}
			ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(content + "\n")})
		}
		for name, content := range generateFixtures(t) {
			set(name, content)
		}
		if err := os.WriteFile(scriptArchive, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}
	keySet := func(name string) *KeySet {
		ks, err := ParseJWKS([]byte(files[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return ks
	}
	cases := []struct {
		token, jwks, kind string
		status            Status
		validity          string
	}{
		{"bound.jwt", "jwks.json", "bound", Verified, "valid"},
		{"ec.jwt", "jwks.json", "bound", Verified, "valid"},
		{"legacy.jwt", "jwks.json", "legacy", Verified, "no expiry"},
		{"expired.jwt", "jwks.json", "bound", Verified, "expired"},
		{"tampered.jwt", "jwks.json", "bound", Failed, "valid"},
		{"none.jwt", "jwks.json", "bound", Failed, "valid"},
		{"bound.jwt", "other-jwks.json", "bound", Failed, "valid"},
	}
	for _, tc := range cases {
		t.Run(tc.token+" with "+tc.jwks, func(t *testing.T) {
			r, err := Inspect(context.Background(), files[tc.token], Options{Keys: keySet(tc.jwks)})
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Kind) != tc.kind || r.Signature.Status != tc.status || r.Validity.Status != tc.validity {
				t.Errorf("kind %s, signature %s (%s), validity %s; want %s, %s, %s (UPDATE_GOLDEN=1 regenerates the fixtures)",
					r.Kind, r.Signature.Status, r.Signature.Reason, r.Validity.Status, tc.kind, tc.status, tc.validity)
			}
		})
	}
}

func generateFixtures(t *testing.T) map[string]string {
	rsaK, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherK, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecK, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(keys ...jose.JSONWebKey) string {
		b, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: keys}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const rsaKid, ecKid = "kwid-test-rsa", "kwid-test-ec"
	issued := time.Now().UTC().Truncate(time.Hour)
	farExpiry := time.Date(2126, 1, 1, 0, 0, 0, 0, time.UTC)
	claims := func(iat, exp time.Time) map[string]any {
		return map[string]any{
			"iss": "https://kwid.test.local", "sub": "system:serviceaccount:shop:cart",
			"aud": []string{"sts.amazonaws.com"}, "iat": iat.Unix(), "nbf": iat.Unix(), "exp": exp.Unix(),
			"jti": "4f1c7d5e-test",
			"kubernetes.io": map[string]any{
				"namespace":      "shop",
				"serviceaccount": map[string]any{"name": "cart", "uid": "6d1c1f0e-0000-4000-8000-000000000001"},
				"pod":            map[string]any{"name": "cart-7d9f", "uid": "6d1c1f0e-0000-4000-8000-000000000002"},
			},
		}
	}
	bound := sign(t, jose.RS256, rsaK, rsaKid, claims(issued, farExpiry))
	legacy := legacyClaims()
	legacy["sub"], legacy["kubernetes.io/serviceaccount/namespace"] = "system:serviceaccount:shop:cart", "shop"
	legacy["kubernetes.io/serviceaccount/service-account.name"], legacy["kubernetes.io/serviceaccount/secret.name"] = "cart", "cart-token"
	return map[string]string{
		"jwks.json":       doc(pub(rsaK, rsaKid), pub(ecK, ecKid)),
		"other-jwks.json": doc(pub(otherK, rsaKid)),
		"bound.jwt":       bound,
		"ec.jwt":          sign(t, jose.ES256, ecK, ecKid, claims(issued, farExpiry)),
		"legacy.jwt":      sign(t, jose.RS256, rsaK, rsaKid, legacy),
		"expired.jwt":     sign(t, jose.RS256, rsaK, rsaKid, claims(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC))),
		"tampered.jwt":    tamper(t, bound),
		"none.jwt":        forge(t, map[string]string{"alg": "none", "kid": rsaKid}, claims(issued, farExpiry), nil),
	}
}
