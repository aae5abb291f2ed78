package token

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithms are the signature algorithms Kubernetes signs ServiceAccount tokens with (RSA
// keys: RS256; ECDSA keys: ES256, ES384 or ES512 by curve). Anything else, "none" and
// HMAC included, is refused.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.ES384, jose.ES512}

// MaxJWKSSize is the largest JWKS document read.
const MaxJWKSSize = 1 << 20

// KeySet is a parsed JSON Web Key Set holding public signing keys.
type KeySet struct {
	keys []jose.JSONWebKey
}

// Len is the number of keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// KeyIDs lists the keys' IDs ("(no kid)" for a key without one).
func (ks *KeySet) KeyIDs() []string {
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = cmp.Or(k.KeyID, "(no kid)")
	}
	return ids
}

// ParseJWKS reads a JWKS document ({"keys": [...]}) such as /openid/v1/jwks serves. Private
// key material is dropped; keys of unsupported types are an error naming the key.
func ParseJWKS(data []byte) (*KeySet, error) {
	if len(data) > MaxJWKSSize {
		return nil, fmt.Errorf("JWKS of %d bytes is larger than %d", len(data), MaxJWKSSize)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := decodeObject(data, &doc); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	if len(doc.Keys) == 0 {
		return nil, errors.New(`JWKS: no "keys"`)
	}
	ks := &KeySet{}
	for i, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, *rsa.PrivateKey, *ecdsa.PrivateKey:
		case []byte:
			return nil, fmt.Errorf("JWKS key %d (kid %q): a symmetric (oct) key cannot verify a ServiceAccount token (want RSA or EC)", i, k.KeyID)
		default:
			return nil, fmt.Errorf("JWKS key %d (kid %q): a %T key cannot verify a ServiceAccount token (want RSA or EC)", i, k.KeyID, k.Key)
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		if !k.Valid() {
			return nil, fmt.Errorf("JWKS key %d (kid %q): not a valid public key", i, k.KeyID)
		}
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

// Status is the outcome of signature verification.
type Status string

const (
	Verified    Status = "verified"
	Failed      Status = "failed"
	NotVerified Status = "not verified"
)

// Verification says whether and how a token's signature was verified.
type Verification struct {
	Status Status `json:"status"`
	// KeyID is the kid of the key that verified the signature.
	KeyID string `json:"keyID,omitempty"`
	// Source says where the keys came from (a file, a cluster's JWKS endpoint).
	Source string `json:"source,omitempty"`
	// Reason explains a failure or why nothing was verified.
	Reason string `json:"reason,omitempty"`
}

// Verify checks the token's signature against the key set: the algorithm must be one of
// Algorithms, the key is chosen by kid (every key when the token names none), and the key's
// type, curve, "use" and "alg" must fit the token's algorithm (no algorithm confusion).
func Verify(t *Token, ks *KeySet) Verification {
	fail := func(format string, args ...any) Verification {
		return Verification{Status: Failed, Reason: fmt.Sprintf(format, args...)}
	}
	alg := jose.SignatureAlgorithm(t.Header.Alg)
	if !slices.Contains(Algorithms, alg) {
		return fail("alg %q is refused: Kubernetes signs ServiceAccount tokens with RS256, ES256, ES384 or ES512", t.Header.Alg)
	}
	candidates := ks.keys
	if t.Header.Kid != "" {
		candidates = nil
		for _, k := range ks.keys {
			if k.KeyID == t.Header.Kid {
				candidates = append(candidates, k)
			}
		}
		if len(candidates) == 0 {
			return fail("no key with kid %q among the %d key(s) of the JWKS (%s): signed by another cluster, or by a key no longer published", t.Header.Kid, ks.Len(), strings.Join(ks.KeyIDs(), ", "))
		}
	}
	jws, err := jose.ParseSignedCompact(t.raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return fail("malformed signed token: %v", err)
	}
	var unfit []string
	for _, k := range candidates {
		if why := keyFits(k, alg); why != "" {
			unfit = append(unfit, fmt.Sprintf("kid %q: %s", k.KeyID, why))
			continue
		}
		payload, err := jws.Verify(k.Key)
		if err != nil {
			continue
		}
		if !bytes.Equal(payload, t.payload) {
			return fail("the verified payload differs from the decoded one (malformed token)")
		}
		return Verification{Status: Verified, KeyID: k.KeyID}
	}
	if len(unfit) == len(candidates) {
		return fail("no key of the JWKS fits alg %s: %s", alg, strings.Join(unfit, "; "))
	}
	tried := len(candidates) - len(unfit)
	if t.Header.Kid != "" {
		return fail("signature does not match key %q: the token was modified after it was signed, or signed by another key", t.Header.Kid)
	}
	return fail("signature matches none of the %d key(s) that fit alg %s: the token was modified after it was signed, or signed by another key", tried, alg)
}

// keyFits says why a key cannot verify alg ("" when it can).
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) string {
	if k.Use != "" && k.Use != "sig" {
		return fmt.Sprintf("key use %q, not sig", k.Use)
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return fmt.Sprintf("key is for alg %s", k.Algorithm)
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if alg != jose.RS256 {
			return fmt.Sprintf("an RSA key cannot verify %s", alg)
		}
	case *ecdsa.PublicKey:
		want := map[jose.SignatureAlgorithm]elliptic.Curve{jose.ES256: elliptic.P256(), jose.ES384: elliptic.P384(), jose.ES512: elliptic.P521()}[alg]
		if want == nil {
			return fmt.Sprintf("an EC key cannot verify %s", alg)
		}
		if pub.Curve != want {
			return fmt.Sprintf("curve %s does not fit %s", pub.Curve.Params().Name, alg)
		}
	default:
		return fmt.Sprintf("%T key", k.Key)
	}
	return ""
}
