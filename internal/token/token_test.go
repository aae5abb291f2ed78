package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// Test keys, generated per run; never real.
var (
	keysOnce         sync.Once
	rsaKey, rsaOther *rsa.PrivateKey
	ecKey, ecKey384  *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaOther, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecKey384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		if err != nil {
			panic(err)
		}
	})
}

// sign makes a compact JWS of claims with key (kid may be empty).
func sign(t testing.TB, alg jose.SignatureAlgorithm, key crypto.Signer, kid string, claims any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forge builds a token with any header, signed with HMAC secret (or unsigned when nil).
func forge(t testing.TB, header, claims any, secret []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	if secret == nil {
		return input + "."
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func jwks(t testing.TB, keys ...jose.JSONWebKey) *KeySet {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func pub(key crypto.Signer, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: key.Public(), KeyID: kid, Use: "sig"}
}

var now = time.Date(2026, 10, 6, 12, 0, 0, 0, time.UTC)

func boundClaims(exp time.Time) map[string]any {
	return map[string]any{
		"iss": "https://kwid.test.local", "sub": "system:serviceaccount:shop:cart",
		"aud": []string{"sts.amazonaws.com"}, "iat": exp.Add(-time.Hour).Unix(), "nbf": exp.Add(-time.Hour).Unix(), "exp": exp.Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      "shop",
			"serviceaccount": map[string]any{"name": "cart", "uid": "sa-uid"},
			"pod":            map[string]any{"name": "cart-1", "uid": "pod-uid"},
			"warnafter":      exp.Add(-45 * time.Minute).Unix(),
		},
	}
}

func legacyClaims() map[string]any {
	return map[string]any{
		"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ci:deployer",
		"kubernetes.io/serviceaccount/namespace":            "ci",
		"kubernetes.io/serviceaccount/secret.name":          "deployer-token",
		"kubernetes.io/serviceaccount/service-account.name": "deployer",
		"kubernetes.io/serviceaccount/service-account.uid":  "sa-uid-2",
	}
}

// tamper changes one byte of the payload's JSON and re-encodes it, keeping the signature.
func tamper(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "cart")
	if i < 0 {
		i = strings.Index(string(b), "deployer")
	}
	b[i] = 'k' // cart -> kart, deployer -> keployer
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestVerify(t *testing.T) {
	testKeys(t)
	valid := boundClaims(now.Add(30 * time.Minute))
	rsaSet := jwks(t, pub(rsaKey, "rsa1"), pub(ecKey, "ec1"))
	hmacSecret, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())
	ecAsRSA := jose.JSONWebKey{Key: ecKey.Public(), KeyID: "rsa1"}
	cases := []struct {
		name   string
		tok    string
		keys   *KeySet
		status Status
		kid    string
		reason string
	}{
		{"RS256 by kid", sign(t, jose.RS256, rsaKey, "rsa1", valid), rsaSet, Verified, "rsa1", ""},
		{"ES256 by kid", sign(t, jose.ES256, ecKey, "ec1", valid), rsaSet, Verified, "ec1", ""},
		{"no kid: every fitting key tried", sign(t, jose.RS256, rsaKey, "", valid), rsaSet, Verified, "rsa1", ""},
		{"ES384 on a P-384 key", sign(t, jose.ES384, ecKey384, "ec384", valid), jwks(t, pub(ecKey384, "ec384")), Verified, "ec384", ""},
		{"tampered payload", tamper(t, sign(t, jose.RS256, rsaKey, "rsa1", valid)), rsaSet, Failed, "", `signature does not match key "rsa1": the token was modified`},
		{"tampered legacy payload", tamper(t, sign(t, jose.RS256, rsaKey, "rsa1", legacyClaims())), rsaSet, Failed, "", "modified after it was signed"},
		{"wrong key, same kid", sign(t, jose.RS256, rsaOther, "rsa1", valid), rsaSet, Failed, "", `signature does not match key "rsa1"`},
		{"wrong key, no kid", sign(t, jose.RS256, rsaOther, "", valid), rsaSet, Failed, "", "signature matches none of the 1 key(s) that fit alg RS256"},
		{"kid not in JWKS", sign(t, jose.RS256, rsaOther, "other", valid), rsaSet, Failed, "", `no key with kid "other" among the 2 key(s) of the JWKS (rsa1, ec1)`},
		{"alg none", forge(t, map[string]string{"alg": "none", "kid": "rsa1"}, valid, nil), rsaSet, Failed, "", `alg "none" is refused`},
		{"HS256 keyed with the RSA public key", forge(t, map[string]string{"alg": "HS256", "kid": "rsa1"}, valid, hmacSecret), rsaSet, Failed, "", `alg "HS256" is refused`},
		{"RS256 header, EC key under that kid", sign(t, jose.RS256, rsaKey, "rsa1", valid), jwks(t, ecAsRSA), Failed, "", `no key of the JWKS fits alg RS256: kid "rsa1": an EC key cannot verify RS256`},
		{"ES256 header, P-384 key", forge(t, map[string]string{"alg": "ES256", "kid": "ec384"}, valid, []byte("x")), jwks(t, pub(ecKey384, "ec384")), Failed, "", "curve P-384 does not fit ES256"},
		{"key for another alg", sign(t, jose.RS256, rsaKey, "rsa1", valid), jwks(t, jose.JSONWebKey{Key: rsaKey.Public(), KeyID: "rsa1", Algorithm: "PS256"}), Failed, "", "key is for alg PS256"},
		{"encryption key", sign(t, jose.RS256, rsaKey, "rsa1", valid), jwks(t, jose.JSONWebKey{Key: rsaKey.Public(), KeyID: "rsa1", Use: "enc"}), Failed, "", `key use "enc", not sig`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Decode(tc.tok)
			if err != nil {
				t.Fatal(err)
			}
			v := Verify(tok, tc.keys)
			if v.Status != tc.status || v.KeyID != tc.kid || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("got %+v, want status %s, kid %q, reason containing %q", v, tc.status, tc.kid, tc.reason)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	testKeys(t)
	keys := jwks(t, pub(rsaKey, "rsa1"))
	irsa := map[string]string{AnnotationIRSARole: "arn:aws:iam::111122223333:role/cart", AnnotationGCPAccount: "cart@p.iam.gserviceaccount.com"}
	objects := map[string]*Object{
		"ServiceAccount shop/cart":   {UID: "sa-uid", Annotations: irsa},
		"Pod shop/cart-1":            {UID: "pod-uid"},
		"ServiceAccount ci/deployer": {UID: "sa-uid-2"},
		"Secret ci/deployer-token":   {UID: "secret-uid"},
	}
	cluster := func(_ context.Context, kind, ns, name string) (*Object, error) {
		if o := objects[kind+" "+ns+"/"+name]; o != nil {
			return o, nil
		}
		return nil, ErrNotFound
	}
	recreated := func(ctx context.Context, kind, ns, name string) (*Object, error) {
		if kind == "Pod" {
			return &Object{UID: "new-uid"}, nil
		}
		return cluster(ctx, kind, ns, name)
	}
	type want struct {
		kind      Kind
		status    Status
		validity  string
		findings  []string
		objects   []string
		roles     []string
		noteParts []string
	}
	cases := []struct {
		name string
		tok  string
		opts Options
		want want
	}{
		{"bound, verified, with cloud roles", sign(t, jose.RS256, rsaKey, "rsa1", boundClaims(now.Add(30*time.Minute))),
			Options{Keys: keys, Lookup: cluster, LookupSource: "cluster test", ClusterIssuer: "https://kwid.test.local"},
			want{Bound, Verified, "valid", nil, []string{"ServiceAccount shop/cart exists", "Pod shop/cart-1 exists"},
				[]string{"aws IRSA arn:aws:iam::111122223333:role/cart sts.amazonaws.com true", "gcp GKE Workload Identity cart@p.iam.gserviceaccount.com PROJECT_ID.svc.id.goog false"},
				[]string{"past warnafter", "do not include the cluster's issuer"}}},
		{"expired beyond the leeway", sign(t, jose.RS256, rsaKey, "rsa1", boundClaims(now.Add(-2*time.Minute))),
			Options{Keys: keys}, want{Bound, Verified, "expired", []string{"expired 2m ago (exp 2026-10-06T11:58:00Z)"}, nil, nil, []string{"not looked up"}}},
		{"expired within the leeway", sign(t, jose.RS256, rsaKey, "rsa1", boundClaims(now.Add(-30*time.Second))),
			Options{Keys: keys}, want{Bound, Verified, "valid", nil, nil, nil, nil}},
		{"not yet valid", sign(t, jose.RS256, rsaKey, "rsa1", boundClaims(now.Add(2*time.Hour))),
			Options{Keys: keys}, want{Bound, Verified, "not yet valid", []string{"not valid before 2026-10-06T13:00:00Z", "issued in the future (iat 2026-10-06T13:00:00Z): clock skew or a forged token"}, nil, nil, nil}},
		{"tampered and unknown to the cluster", tamper(t, sign(t, jose.RS256, rsaKey, "rsa1", boundClaims(now.Add(time.Hour)))),
			Options{Keys: keys, Lookup: cluster, LookupSource: "cluster test"},
			want{Bound, Failed, "valid", []string{
				`signature: signature does not match key "rsa1": the token was modified after it was signed, or signed by another key`,
				"Pod shop/kart-1 missing: not in cluster test: the API server rejects tokens whose ServiceAccount or bound object was deleted"},
				[]string{"ServiceAccount shop/cart exists", "Pod shop/kart-1 missing"},
				[]string{"aws IRSA arn:aws:iam::111122223333:role/cart sts.amazonaws.com true", "gcp GKE Workload Identity cart@p.iam.gserviceaccount.com PROJECT_ID.svc.id.goog false"}, nil}},
		{"legacy Secret deleted", sign(t, jose.RS256, rsaKey, "rsa1", legacyClaims()),
			Options{Keys: keys, Lookup: func(ctx context.Context, kind, ns, name string) (*Object, error) {
				if kind == "Secret" {
					return nil, ErrNotFound
				}
				return cluster(ctx, kind, ns, name)
			}, LookupSource: "cluster test"},
			want{Legacy, Verified, "no expiry", []string{"Secret ci/deployer-token missing: not in cluster test: the API server rejects tokens whose ServiceAccount or bound object was deleted"},
				[]string{"ServiceAccount ci/deployer exists", "Secret ci/deployer-token missing"}, nil, nil}},
		{"bound pod re-created", sign(t, jose.RS256, rsaKey, "rsa1", boundClaims(now.Add(time.Hour))),
			Options{Keys: keys, Lookup: recreated, LookupSource: "cluster test"},
			want{Bound, Verified, "valid", []string{"Pod shop/cart-1 uid differs: cluster test has uid new-uid: the object was deleted and re-created, and the API server rejects the token"},
				[]string{"ServiceAccount shop/cart exists", "Pod shop/cart-1 uid differs"}, []string{"aws IRSA arn:aws:iam::111122223333:role/cart sts.amazonaws.com true", "gcp GKE Workload Identity cart@p.iam.gserviceaccount.com PROJECT_ID.svc.id.goog false"}, nil}},
		{"legacy, not verified", sign(t, jose.RS256, rsaKey, "rsa1", legacyClaims()),
			Options{NoKeysReason: "--no-verify", Lookup: cluster, LookupSource: "cluster test"},
			want{Legacy, NotVerified, "no expiry", nil, []string{"ServiceAccount ci/deployer exists", "Secret ci/deployer-token exists"}, nil, []string{"legacy Secret-based token"}}},
		{"legacy Secret invalidated", sign(t, jose.RS256, rsaKey, "rsa1", legacyClaims()),
			Options{Keys: keys, Lookup: func(ctx context.Context, kind, ns, name string) (*Object, error) {
				if kind == "Secret" {
					return &Object{Labels: map[string]string{LabelLegacyTokenInvalidSince: "2026-01-02"}}, nil
				}
				return cluster(ctx, kind, ns, name)
			}, LookupSource: "cluster test"},
			want{Legacy, Verified, "no expiry", []string{"Secret ci/deployer-token invalidated: label kubernetes.io/legacy-token-invalid-since=2026-01-02: the API server no longer accepts the token (unused for a year); delete the Secret"},
				[]string{"ServiceAccount ci/deployer exists", "Secret ci/deployer-token invalidated"}, nil, nil}},
		{"not a ServiceAccount token, plugged-in roles", sign(t, jose.RS256, rsaKey, "rsa1", map[string]any{"iss": "https://idp.example", "sub": "jane", "aud": "api://AzureADTokenExchange"}),
			Options{Keys: keys, Roles: func(sub string, aud []string) []CloudRole {
				return []CloudRole{{Cloud: "azure", Mechanism: "federated credential", Role: "client-" + sub, Audience: aud[0], AudienceOK: true}}
			}},
			want{Other, Verified, "no expiry", nil, nil, []string{"azure federated credential client-jane api://AzureADTokenExchange true"}, []string{"not a ServiceAccount token"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = now
			r, err := Inspect(context.Background(), tc.tok, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := want{kind: r.Kind, status: r.Signature.Status, validity: r.Validity.Status, findings: r.Findings}
			if len(got.findings) == 0 {
				got.findings = nil
			}
			for _, o := range r.Objects {
				got.objects = append(got.objects, o.Ref.String()+" "+o.Status)
			}
			for _, cr := range r.CloudRoles {
				got.roles = append(got.roles, strings.Join([]string{cr.Cloud, cr.Mechanism, cr.Role, cr.Audience, map[bool]string{true: "true", false: "false"}[cr.AudienceOK]}, " "))
			}
			notes := strings.Join(r.Notes, "\n")
			for _, p := range tc.want.noteParts {
				if !strings.Contains(notes, p) {
					t.Errorf("notes %q lack %q", notes, p)
				}
			}
			tc.want.noteParts = nil
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if r.Valid() != (len(tc.want.findings) == 0) {
				t.Errorf("Valid() = %v with findings %v", r.Valid(), r.Findings)
			}
			// The report never holds the token or any of its parts.
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			for i, part := range strings.Split(strings.TrimSpace(tc.tok), ".") {
				if len(part) > 8 && strings.Contains(string(out), part) {
					t.Errorf("the report contains part %d of the token", i)
				}
			}
		})
	}
}

func TestDecodeClaims(t *testing.T) {
	testKeys(t)
	tok, err := Decode("Bearer " + sign(t, jose.ES256, ecKey, "ec1", boundClaims(now)) + "\n")
	if err != nil {
		t.Fatal(err)
	}
	exp, iat, warn := now, now.Add(-time.Hour), now.Add(-45*time.Minute)
	want := Claims{
		Issuer: "https://kwid.test.local", Subject: "system:serviceaccount:shop:cart", Audience: []string{"sts.amazonaws.com"},
		Expiry: &exp, NotBefore: &iat, IssuedAt: &iat,
		Kubernetes: &KubernetesClaim{Namespace: "shop", ServiceAccount: &ObjectRef{Name: "cart", UID: "sa-uid"}, Pod: &ObjectRef{Name: "cart-1", UID: "pod-uid"}, WarnAfter: &warn},
	}
	if d := cmp.Diff(want, tok.Claims); d != "" {
		t.Errorf("claims (-want +got)\n%s", d)
	}
	if tok.Header != (Header{Alg: "ES256", Kid: "ec1", Typ: "JWT"}) {
		t.Errorf("header %+v", tok.Header)
	}
	if !strings.HasPrefix(tok.Fingerprint, "sha256:") || len(tok.Fingerprint) != len("sha256:")+12 {
		t.Errorf("fingerprint %q", tok.Fingerprint)
	}
	legacy, err := Decode(sign(t, jose.RS256, rsaKey, "", legacyClaims()))
	if err != nil {
		t.Fatal(err)
	}
	ns, name, uid := legacy.ServiceAccount()
	if legacy.Kind() != Legacy || ns != "ci" || name != "deployer" || uid != "sa-uid-2" || legacy.Claims.Legacy.SecretName != "deployer-token" {
		t.Errorf("legacy token: kind %s, %s/%s %s, claims %+v", legacy.Kind(), ns, name, uid, legacy.Claims.Legacy)
	}
}

func TestDecodeErrors(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	hdr := enc([]byte(`{"alg":"RS256"}`))
	cases := []struct{ name, tok, want string }{
		{"empty", "  \n", "empty token"},
		{"two parts", hdr + "." + enc([]byte(`{}`)), "not a JWT: 2 dot-separated parts, want 3"},
		{"JWE", "a.b.c.d.e", "an encrypted JWT (JWE, 5 parts)"},
		{"space inside", hdr + ". x.y", "unexpected character at byte"},
		{"bad base64 header", "!!!." + enc([]byte(`{}`)) + ".c2ln", "header: invalid base64url"},
		{"header not an object", enc([]byte(`[1]`)) + "." + enc([]byte(`{}`)) + ".c2ln", "header: not a JSON object"},
		{"header without alg", enc([]byte(`{"typ":"JWT"}`)) + "." + enc([]byte(`{}`)) + ".c2ln", `header: no "alg"`},
		{"payload not JSON", hdr + "." + enc([]byte(`{"iss":`)) + ".c2ln", "payload: invalid JSON"},
		{"payload a string", hdr + "." + enc([]byte(`"x"`)) + ".c2ln", "payload: not a JSON object"},
		{"exp a string", hdr + "." + enc([]byte(`{"exp":"tomorrow"}`)) + ".c2ln", `claim "exp": want a number of seconds`},
		{"exp absurd", hdr + "." + enc([]byte(`{"exp":1e300}`)) + ".c2ln", `claim "exp": 1e+300 is not a plausible time`},
		{"aud a number", hdr + "." + enc([]byte(`{"aud":7}`)) + ".c2ln", `claim "aud": want a string or an array of strings`},
		{"kubernetes.io a string", hdr + "." + enc([]byte(`{"kubernetes.io":"x"}`)) + ".c2ln", `claim "kubernetes.io": not a JSON object`},
		{"warnafter a string", hdr + "." + enc([]byte(`{"kubernetes.io":{"warnafter":"x"}}`)) + ".c2ln", `claim "kubernetes.io.warnafter": want a number`},
		{"bad base64 signature", hdr + "." + enc([]byte(`{}`)) + ".a", "signature: invalid base64url"},
		{"huge", strings.Repeat("a", MaxSize+1), "larger than 65536"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.tok)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	testKeys(t)
	priv, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey, KeyID: "with-private-part"}}})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ParseJWKS(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !ks.keys[0].IsPublic() {
		t.Error("the private part of a JWKS key was kept")
	}
	cases := []struct{ name, doc, want string }{
		{"not JSON", `keys`, "JWKS: not a JSON object"},
		{"no keys", `{"keys":[]}`, `JWKS: no "keys"`},
		{"bad key", `{"keys":[{"kty":"RSA","n":"!","e":"AQAB"}]}`, "JWKS key 0:"},
		{"symmetric key", `{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"h"}]}`, `JWKS key 0 (kid "h"): a symmetric (oct) key cannot verify`},
		{"huge", `{"keys":[` + strings.Repeat(" ", MaxJWKSSize) + `]}`, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJWKS([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
