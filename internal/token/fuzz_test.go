package token

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzInspect: any input either fails to decode with an error, or is inspected (and
// verified against a key set) without a panic, and the report never contains the token.
func FuzzInspect(f *testing.F) {
	testKeys(f)
	valid := sign(f, jose.RS256, rsaKey, "rsa1", boundClaims(now.Add(time.Hour)))
	for _, seed := range []string{
		valid,
		tamper(f, valid),
		sign(f, jose.ES256, ecKey, "ec1", legacyClaims()),
		forge(f, map[string]string{"alg": "none"}, boundClaims(now), nil),
		forge(f, map[string]string{"alg": "HS256", "kid": "rsa1"}, map[string]any{"exp": "x", "aud": 3}, []byte("k")),
		"Bearer " + valid,
		"eyJhbGciOiJSUzI1NiJ9.eyJrdWJlcm5ldGVzLmlvIjpudWxsfQ.",
		"a.b.c", "...", "", "e30.e30.", "e30.W10.e30",
	} {
		f.Add(seed)
	}
	keys := jwks(f, pub(rsaKey, "rsa1"), pub(ecKey, "ec1"))
	lookup := func(context.Context, string, string, string) (*Object, error) { return nil, ErrNotFound }
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := Inspect(context.Background(), raw, Options{Now: now, Keys: keys, Lookup: lookup, LookupSource: "fuzz"})
		if err != nil {
			if r != nil {
				t.Fatal("a report with an error")
			}
			return
		}
		if r.Signature.Status == Verified && !strings.Contains(raw, ".") {
			t.Fatal("verified without a signature")
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		trimmed := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), "Bearer "))
		if len(trimmed) > 16 && strings.Contains(string(out), trimmed) {
			t.Fatal("the report contains the token")
		}
	})
}

// FuzzParseJWKS: any document is a key set or an error, never a panic.
func FuzzParseJWKS(f *testing.F) {
	testKeys(f)
	for _, keys := range [][]jose.JSONWebKey{{pub(rsaKey, "rsa1"), pub(ecKey, "ec1")}, {{Key: rsaKey, KeyID: "private"}}} {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{"keys":[]}`, `{"keys":[{"kty":"oct","k":"AA"}]}`, `{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParseJWKS(data)
		if err == nil && ks.Len() == 0 {
			t.Fatal("an empty key set without an error")
		}
		if err == nil {
			for _, k := range ks.keys {
				if !k.IsPublic() {
					t.Fatal("private key material kept")
				}
			}
		}
	})
}
