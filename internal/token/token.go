// Package token decodes, verifies and explains Kubernetes ServiceAccount tokens (JWTs):
// legacy Secret-based tokens and bound tokens from the TokenRequest API. It verifies
// signatures against a JSON Web Key Set (a file, or the cluster's OIDC discovery endpoints)
// and says which cloud roles a token could be exchanged for.
//
// It never returns the token or its signature in anything meant for output: a token is
// named by its Fingerprint. It knows nothing about output formats or command lines.
package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxSize is the largest token accepted. ServiceAccount tokens are 1-2 KiB.
const MaxSize = 64 << 10

// LegacyIssuer is the issuer of Secret-based ServiceAccount tokens.
const LegacyIssuer = "kubernetes/serviceaccount"

const legacyPrefix = "kubernetes.io/serviceaccount/"

// Token is a decoded, not yet verified, JWT.
type Token struct {
	Header Header
	Claims Claims
	// Size is the token's length in bytes.
	Size int
	// Fingerprint names the token without revealing it: "sha256:" and the first 12 hex
	// digits of the SHA-256 of the token.
	Fingerprint string

	raw     string // never printed
	payload []byte
}

// Header is the JOSE header of a token.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

// Claims are the claims Kubernetes puts in ServiceAccount tokens.
type Claims struct {
	Issuer    string     `json:"iss,omitempty"`
	Subject   string     `json:"sub,omitempty"`
	Audience  []string   `json:"aud,omitempty"`
	Expiry    *time.Time `json:"exp,omitempty"`
	NotBefore *time.Time `json:"nbf,omitempty"`
	IssuedAt  *time.Time `json:"iat,omitempty"`
	ID        string     `json:"jti,omitempty"`
	// Kubernetes is the "kubernetes.io" claim of bound tokens.
	Kubernetes *KubernetesClaim `json:"kubernetes.io,omitempty"`
	// Legacy holds the kubernetes.io/serviceaccount/* claims of Secret-based tokens.
	Legacy *LegacyClaims `json:"legacy,omitempty"`
}

// KubernetesClaim is the "kubernetes.io" claim of a bound token.
type KubernetesClaim struct {
	Namespace      string     `json:"namespace,omitempty"`
	ServiceAccount *ObjectRef `json:"serviceaccount,omitempty"`
	Pod            *ObjectRef `json:"pod,omitempty"`
	Secret         *ObjectRef `json:"secret,omitempty"`
	Node           *ObjectRef `json:"node,omitempty"`
	WarnAfter      *time.Time `json:"warnafter,omitempty"`
}

// ObjectRef names an object in a claim.
type ObjectRef struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
}

// LegacyClaims are the claims of a Secret-based token.
type LegacyClaims struct {
	Namespace          string `json:"namespace,omitempty"`
	SecretName         string `json:"secretName,omitempty"`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	ServiceAccountUID  string `json:"serviceAccountUID,omitempty"`
}

// Kind is what sort of token a Token is.
type Kind string

const (
	// Bound tokens come from the TokenRequest API (projected volumes, kubectl create token).
	Bound Kind = "bound"
	// Legacy tokens live in Secrets of type kubernetes.io/service-account-token and never expire.
	Legacy Kind = "legacy"
	// Other tokens carry no Kubernetes ServiceAccount claims.
	Other Kind = "other"
)

// Kind says whether the token is bound, legacy or not a ServiceAccount token.
func (t *Token) Kind() Kind {
	switch {
	case t.Claims.Issuer == LegacyIssuer || t.Claims.Legacy != nil:
		return Legacy
	case t.Claims.Kubernetes != nil && t.Claims.Kubernetes.ServiceAccount != nil:
		return Bound
	}
	return Other
}

// ServiceAccount returns the namespace, name and UID of the token's ServiceAccount, from
// the Kubernetes claims or else the subject.
func (t *Token) ServiceAccount() (namespace, name, uid string) {
	c := t.Claims
	switch {
	case c.Kubernetes != nil && c.Kubernetes.ServiceAccount != nil:
		return c.Kubernetes.Namespace, c.Kubernetes.ServiceAccount.Name, c.Kubernetes.ServiceAccount.UID
	case c.Legacy != nil && c.Legacy.ServiceAccountName != "":
		return c.Legacy.Namespace, c.Legacy.ServiceAccountName, c.Legacy.ServiceAccountUID
	}
	if rest, ok := strings.CutPrefix(c.Subject, "system:serviceaccount:"); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok && ns != "" && name != "" && !strings.Contains(name, ":") {
			return ns, name, ""
		}
	}
	return "", "", ""
}

// Decode parses a compact JWS without verifying it. Surrounding whitespace and a "Bearer "
// prefix are ignored. Errors say which part is wrong and never quote the token.
func Decode(raw string) (*Token, error) {
	raw = strings.TrimSpace(raw)
	if after, ok := strings.CutPrefix(raw, "Bearer "); ok {
		raw = strings.TrimSpace(after)
	}
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("token of %d bytes is larger than %d: not a ServiceAccount token", len(raw), MaxSize)
	}
	if raw == "" {
		return nil, errors.New("empty token")
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r > '~' }); i >= 0 {
		return nil, fmt.Errorf("not a JWT: unexpected character at byte %d (a JWT is three base64url parts joined by dots)", i)
	}
	parts := strings.Split(raw, ".")
	switch len(parts) {
	case 3:
	case 5:
		return nil, errors.New("an encrypted JWT (JWE, 5 parts), not a signed ServiceAccount token")
	default:
		return nil, fmt.Errorf("not a JWT: %d dot-separated parts, want 3 (header.payload.signature)", len(parts))
	}
	t := &Token{Size: len(raw), raw: raw}
	sum := sha256.Sum256([]byte(raw))
	t.Fingerprint = "sha256:" + hex.EncodeToString(sum[:6])

	hb, err := decodePart(parts[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := decodeObject(hb, &t.Header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if t.Header.Alg == "" {
		return nil, errors.New(`header: no "alg"`)
	}
	if t.payload, err = decodePart(parts[1]); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if err := decodeClaims(t.payload, &t.Claims); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	// An empty signature is decoded (alg "none" says so) and refused by Verify.
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return nil, fmt.Errorf("signature: invalid base64url: %w", err)
	}
	return t, nil
}

func decodePart(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64url: %w", err)
	}
	return b, nil
}

// decodeObject unmarshals a JSON object; anything else is an error.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return nil
}

func decodeClaims(payload []byte, c *Claims) error {
	var m map[string]json.RawMessage
	if err := decodeObject(payload, &m); err != nil {
		return err
	}
	var errs []error
	str := func(name string, dst *string) {
		if raw, ok := m[name]; ok && json.Unmarshal(raw, dst) != nil {
			errs = append(errs, fmt.Errorf("claim %q: want a string", name))
		}
	}
	date := func(name string, raw json.RawMessage, dst **time.Time) {
		if raw == nil || string(bytes.TrimSpace(raw)) == "null" {
			return
		}
		t, err := numericDate(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("claim %q: %w", name, err))
		}
		*dst = t
	}
	str("iss", &c.Issuer)
	str("sub", &c.Subject)
	str("jti", &c.ID)
	if raw, ok := m["aud"]; ok {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			c.Audience = []string{one}
		} else if json.Unmarshal(raw, &c.Audience) != nil {
			errs = append(errs, errors.New(`claim "aud": want a string or an array of strings`))
		}
	}
	date("exp", m["exp"], &c.Expiry)
	date("nbf", m["nbf"], &c.NotBefore)
	date("iat", m["iat"], &c.IssuedAt)

	if raw, ok := m["kubernetes.io"]; ok {
		var k struct {
			KubernetesClaim
			WarnAfter json.RawMessage `json:"warnafter"` // shadows KubernetesClaim.WarnAfter
		}
		if err := decodeObject(raw, &k); err != nil {
			errs = append(errs, fmt.Errorf(`claim "kubernetes.io": %w`, err))
		} else {
			c.Kubernetes = &k.KubernetesClaim
			date("kubernetes.io.warnafter", k.WarnAfter, &c.Kubernetes.WarnAfter)
		}
	}
	var l LegacyClaims
	for name, dst := range map[string]*string{
		"namespace": &l.Namespace, "secret.name": &l.SecretName,
		"service-account.name": &l.ServiceAccountName, "service-account.uid": &l.ServiceAccountUID,
	} {
		str(legacyPrefix+name, dst)
	}
	if l != (LegacyClaims{}) {
		c.Legacy = &l
	}
	return errors.Join(errs...)
}

// numericDate reads a JWT NumericDate: seconds since the epoch.
func numericDate(raw json.RawMessage) (*time.Time, error) {
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, errors.New("want a number of seconds since 1970 (NumericDate)")
	}
	if math.IsNaN(n) || n < 0 || n > 1<<40 {
		return nil, fmt.Errorf("%v is not a plausible time", n)
	}
	t := time.Unix(int64(n), 0).UTC()
	return &t, nil
}
