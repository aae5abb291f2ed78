package checks

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/token"
	corev1 "k8s.io/api/core/v1"
)

// Token checks (catalog section 1E, KW-TOK-002..005; KW-TOK-001 is in tokens.go).

// tokClock is the time token ages and expiries are judged against (tests fix it).
var tokClock = time.Now

// Legacy token tracking (KEP-2799): the API server labels token Secrets with the day they
// were last used, and the clean-up controller marks long-unused ones invalid.
const (
	tokLastUsedLabel     = "kubernetes.io/legacy-token-last-used"
	tokInvalidSinceLabel = "kubernetes.io/legacy-token-invalid-since"
	tokStaleAfter        = 90 * 24 * time.Hour
	tokLabelDate         = "2006-01-02"
)

var tokLegacyUsageCheck = register(&Check{
	ID:       "KW-TOK-002",
	Title:    "Legacy token used recently, or stale",
	Severity: Medium,
	Reads:    append([]inventory.Kind{inventory.Secrets, inventory.ConfigMaps}, rbacKinds...),
	Refs:     []string{"KEP-2799 reducing Secret-based ServiceAccount tokens", "Kubernetes docs: legacy ServiceAccount token tracking and clean-up"},
	Summary: "Reads the API server's tracking labels on Secret-based tokens. Used in the last 90 days " +
		"(kubernetes.io/legacy-token-last-used): something still authenticates with a non-expiring token, medium " +
		"(high for a powerful ServiceAccount); move it to a short-lived token. Not used for 90 days, never used since " +
		"tracking began (ConfigMap kube-system/kube-apiserver-legacy-service-account-token-tracking), or invalidated " +
		"(kubernetes.io/legacy-token-invalid-since): delete it, low (medium for a powerful ServiceAccount).",
	run: func(in *Input, r *run) {
		if !r.need("", inventory.Secrets) {
			return
		}
		s := in.Snapshot
		now := tokClock()
		rbacReadable := s.Readable(rbacKinds...)
		var trackingSince time.Time
		trackingKnown, trackingAsked := false, false
		tracking := func() (time.Time, bool) {
			if trackingAsked {
				return trackingSince, trackingKnown
			}
			trackingAsked = true
			const part = "(never-used tokens)"
			if !r.need(part, inventory.ConfigMaps) {
				return trackingSince, false
			}
			cm := s.ConfigMap(inventory.SystemNamespace, inventory.LegacyTokenTrackingConfigMap)
			if cm == nil {
				r.notAssessed(part, []string{"ConfigMap kube-system/" + inventory.LegacyTokenTrackingConfigMap + " not found: the API server does not track legacy token use (before Kubernetes 1.27, or LegacyServiceAccountTokenTracking off), so a token without a last-used label may still be in use"})
				return trackingSince, false
			}
			t, err := time.Parse(tokLabelDate, cm.Data["since"])
			if err != nil {
				r.notAssessed(part, []string{fmt.Sprintf("ConfigMap kube-system/%s has no valid since date (%q)", inventory.LegacyTokenTrackingConfigMap, cm.Data["since"])})
				return trackingSince, false
			}
			trackingSince, trackingKnown = t, true
			return t, true
		}
		for i := range s.Secrets {
			sec := &s.Secrets[i]
			if sec.Type != corev1.SecretTypeServiceAccountToken {
				continue
			}
			ref := inventory.ObjectRef{Kind: inventory.Secrets, Namespace: sec.Namespace, Name: sec.Name}
			saName := sec.Annotations[corev1.ServiceAccountNameKey]
			f := Finding{Object: ref, Remediation: fmt.Sprintf("kubectl delete secret %s -n %s", sec.Name, sec.Namespace)}
			powerful := false
			if saName != "" {
				saRef := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sec.Namespace, Name: saName}
				f.Related = []inventory.ObjectRef{saRef}
				if rbacReadable {
					tier, why := in.ServiceAccountTier(sec.Namespace, saName)
					powerful = tier >= TierHigh
					f.Evidence = append(f.Evidence, fmt.Sprintf("%s rights: %s", saRef, escOr(why, "none beyond discovery")))
				}
			}
			owner := "ServiceAccount " + escOr(saName, "(not annotated)")
			lastUsed, invalidSince := sec.Labels[tokLastUsedLabel], sec.Labels[tokInvalidSinceLabel]
			switch {
			case invalidSince != "":
				f.Severity = Low
				f.Message = fmt.Sprintf("Secret %s/%s (token of %s) was invalidated on %s after a long time unused; it no longer authenticates unless the label is removed, and waits for clean-up: delete it", sec.Namespace, sec.Name, owner, invalidSince)
				f.Evidence = append([]string{tokInvalidSinceLabel + ": " + invalidSince}, f.Evidence...)
				if lastUsed != "" {
					f.Evidence = append(f.Evidence, tokLastUsedLabel+": "+lastUsed)
				}
			case lastUsed != "":
				t, err := time.Parse(tokLabelDate, lastUsed)
				if err != nil {
					continue
				}
				days := int(now.Sub(t).Hours() / 24)
				f.Evidence = append([]string{fmt.Sprintf("%s: %s (%d days ago)", tokLastUsedLabel, lastUsed, days)}, f.Evidence...)
				if now.Sub(t) <= tokStaleAfter {
					f.Severity = Medium
					if powerful {
						f.Severity = High
					}
					f.Message = fmt.Sprintf("Secret %s/%s holds a non-expiring token of %s that was used %d days ago: a client still authenticates with it", sec.Namespace, sec.Name, owner, days)
					f.Remediation = fmt.Sprintf("Find the client (audit events annotated authentication.k8s.io/legacy-token, see KW-AUD-002), give it a short-lived token (kubectl create token %s -n %s, or a projected serviceAccountToken volume), then: kubectl delete secret %s -n %s",
						escOr(saName, "SERVICEACCOUNT"), sec.Namespace, sec.Name, sec.Namespace)
				} else {
					f.Severity = Low
					if powerful {
						f.Severity = Medium
					}
					f.Message = fmt.Sprintf("Secret %s/%s holds a non-expiring token of %s unused for %d days: delete it", sec.Namespace, sec.Name, owner, days)
				}
			default:
				since, ok := tracking()
				if !ok {
					continue
				}
				start := since
				if c := sec.CreationTimestamp.Time; c.After(start) {
					start = c
				}
				if now.Sub(start) <= tokStaleAfter {
					continue
				}
				f.Severity = Low
				if powerful {
					f.Severity = Medium
				}
				f.Message = fmt.Sprintf("Secret %s/%s holds a non-expiring token of %s never used since %s: delete it", sec.Namespace, sec.Name, owner, start.Format(tokLabelDate))
				f.Evidence = append([]string{fmt.Sprintf("no %s label; the API server has tracked legacy token use since %s (ConfigMap kube-system/%s)", tokLastUsedLabel, since.Format(tokLabelDate), inventory.LegacyTokenTrackingConfigMap)}, f.Evidence...)
			}
			r.add(f)
		}
	},
})

// JWT handling: kwid decodes tokens without verifying them, to say what they are, and
// never prints them.

const (
	tokMaxJWTsPerValue = 16
	tokMaxScannedValue = 4 << 20
)

// tokJWT is what a JWT says about itself (unverified).
type tokJWT struct {
	Size        int
	Fingerprint string // token.Token's: a prefix of the token's SHA-256
	Alg         string
	Issuer      string
	Subject     string
	Audience    []string
	Expiry      *time.Time
	IssuedAt    *time.Time
	// Namespace, ServiceAccount and ServiceAccountUID come from the kubernetes.io claims
	// (bound tokens), the legacy kubernetes.io/serviceaccount/* claims, or the subject.
	Namespace, ServiceAccount, ServiceAccountUID string
	// BoundTo is the object a bound token is tied to ("pod ns/name", "secret name"...).
	BoundTo string
	// Kubernetes is true when the token carries Kubernetes ServiceAccount claims.
	Kubernetes bool
}

// Describe identifies the token without revealing it.
func (j *tokJWT) Describe() string {
	return fmt.Sprintf("JWT, %d bytes, %s", j.Size, j.Fingerprint)
}

// Legacy reports whether the token is a Secret-based token (non-expiring).
func (j *tokJWT) Legacy() bool { return j.Issuer == token.LegacyIssuer }

// ServiceAccountToken reports whether the token is a Kubernetes ServiceAccount token: the
// legacy issuer, the cluster's issuer, or Kubernetes ServiceAccount claims.
func (j *tokJWT) ServiceAccountToken(clusterIssuer string) bool {
	return j.Issuer == token.LegacyIssuer || clusterIssuer != "" && j.Issuer == clusterIssuer || j.Kubernetes
}

// tokParseJWT decodes a compact JWS (header.payload.signature) without verifying it,
// with the decoder of kwid token inspect (so both show the same fingerprint).
func tokParseJWT(tok string) (*tokJWT, error) {
	t, err := token.Decode(tok)
	if err != nil {
		return nil, err
	}
	c := t.Claims
	j := &tokJWT{Size: t.Size, Fingerprint: t.Fingerprint, Alg: t.Header.Alg,
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, Expiry: c.Expiry, IssuedAt: c.IssuedAt}
	j.Namespace, j.ServiceAccount, j.ServiceAccountUID = t.ServiceAccount()
	j.Kubernetes = j.ServiceAccount != ""
	switch k := c.Kubernetes; {
	case k != nil && k.Pod != nil:
		j.BoundTo = "pod " + k.Namespace + "/" + k.Pod.Name
	case k != nil && k.Secret != nil:
		j.BoundTo = "secret " + k.Namespace + "/" + k.Secret.Name
	case k != nil && k.Node != nil:
		j.BoundTo = "node " + k.Node.Name
	case c.Legacy != nil && c.Legacy.SecretName != "":
		j.BoundTo = "secret " + c.Legacy.Namespace + "/" + c.Legacy.SecretName
	}
	return j, nil
}

// tokJWTPattern finds JWT-shaped strings: base64url JSON objects (which start "ey") for
// header and payload, then a signature.
var tokJWTPattern = regexp.MustCompile(`ey[A-Za-z0-9_-]{6,}\.ey[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*`)

// tokBase64Blob is a value that is entirely standard base64 (a token encoded once more).
var tokBase64Blob = regexp.MustCompile(`^[A-Za-z0-9+/]{40,}={0,2}$`)

// tokFindJWTs returns the JWTs found in a value, also inside one extra layer of base64.
func tokFindJWTs(value string) []*tokJWT {
	if len(value) > tokMaxScannedValue {
		value = value[:tokMaxScannedValue]
	}
	var out []*tokJWT
	seen := map[string]bool{}
	scan := func(text string) {
		for _, m := range tokJWTPattern.FindAllString(text, tokMaxJWTsPerValue) {
			if seen[m] {
				continue
			}
			seen[m] = true
			if j, err := tokParseJWT(m); err == nil {
				out = append(out, j)
			}
		}
	}
	scan(value)
	if len(out) == 0 {
		if text, ok := tokDecodeText(value); ok {
			scan(text)
		}
	}
	return out
}

// tokDecodeText decodes a value that is entirely standard base64 of printable text (a
// value encoded once more before being stored); random key material that happens to use
// the base64 alphabet decodes to binary and is not text.
func tokDecodeText(value string) (string, bool) {
	v := strings.TrimSpace(value)
	if !tokBase64Blob.MatchString(v) {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !utf8.Valid(b) {
		return "", false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return "", false
		}
	}
	return string(b), true
}

// tokFound is one ServiceAccount JWT found somewhere.
type tokFound struct {
	where string
	jwt   *tokJWT
	// local is set once the token is known to be of a ServiceAccount of this cluster.
	local bool
}

// tokJudge rates a found ServiceAccount token and describes it, one evidence line; local
// says whether the token is of a ServiceAccount of this cluster.
func tokJudge(in *Input, h tokFound, now time.Time) (sev Severity, line string, local bool) {
	j := h.jwt
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s; iss %s", h.where, j.Describe(), escOr(j.Issuer, "(none)"))
	if j.Subject != "" {
		b.WriteString("; sub " + j.Subject)
	}
	sev = High
	switch {
	case j.Expiry == nil:
		b.WriteString("; no exp: never expires")
	case j.Expiry.Before(now):
		sev = Low
		fmt.Fprintf(&b, "; expired %s", j.Expiry.Format(time.RFC3339))
	default:
		fmt.Fprintf(&b, "; expires %s", j.Expiry.Format(time.RFC3339))
	}
	switch {
	case j.BoundTo != "" && j.Legacy():
		b.WriteString("; issued for token Secret " + strings.TrimPrefix(j.BoundTo, "secret "))
	case j.BoundTo != "":
		b.WriteString("; bound to " + j.BoundTo)
	}
	if j.ServiceAccount != "" && j.Namespace != "" {
		sa := in.Snapshot.ServiceAccount(j.Namespace, j.ServiceAccount)
		issuer := in.Snapshot.Cluster.OIDCIssuer
		same := sa != nil && (j.ServiceAccountUID != "" && string(sa.UID) == j.ServiceAccountUID ||
			j.ServiceAccountUID == "" && issuer != "" && j.Issuer == issuer)
		switch {
		case same && in.Snapshot.Readable(rbacKinds...):
			tier, why := in.ServiceAccountTier(j.Namespace, j.ServiceAccount)
			fmt.Fprintf(&b, "; ServiceAccount %s/%s of this cluster, %s rights", j.Namespace, j.ServiceAccount, tier)
			if why != "" {
				b.WriteString(" (" + why + ")")
			}
			if tier == TierCritical && sev == High {
				sev = Critical
			}
		case same:
			fmt.Fprintf(&b, "; ServiceAccount %s/%s of this cluster", j.Namespace, j.ServiceAccount)
		case in.Snapshot.Readable(inventory.ServiceAccounts):
			fmt.Fprintf(&b, "; ServiceAccount %s/%s is not one of this cluster's (another cluster's token?)", j.Namespace, j.ServiceAccount)
		}
		local = same
	}
	return sev, b.String(), local
}

// tokRemedy says how to stop storing a token and revoke it.
func tokRemedy(hits []tokFound, store string) string {
	var revoke []string
	for _, h := range hits {
		j := h.jwt
		switch {
		case j.Legacy() && strings.HasPrefix(j.BoundTo, "secret "):
			ns, name, _ := strings.Cut(strings.TrimPrefix(j.BoundTo, "secret "), "/")
			where := " (in the cluster that issued it)"
			if h.local {
				where = ""
			}
			revoke = append(revoke, fmt.Sprintf("kubectl delete secret %s -n %s%s", name, ns, where))
		case j.Legacy():
			revoke = append(revoke, fmt.Sprintf("delete the token Secret of ServiceAccount %s/%s in the cluster that issued it", j.Namespace, j.ServiceAccount))
		case j.Expiry != nil:
			revoke = append(revoke, fmt.Sprintf("it expires %s; delete the object it is bound to (%s) to revoke it sooner", j.Expiry.Format(time.RFC3339), escOr(j.BoundTo, "or re-create the ServiceAccount")))
		}
	}
	out := store
	if len(revoke) > 0 {
		out += "; then revoke the stored token: " + strings.Join(slices.Compact(revoke), "; ")
	}
	return out
}

var tokStoredCheck = register(&Check{
	ID:       "KW-TOK-003",
	Title:    "ServiceAccount JWTs stored in env, ConfigMaps or Secrets",
	Severity: High,
	Reads:    append(append([]inventory.Kind{inventory.ConfigMaps, inventory.Secrets, inventory.ServiceAccounts}, rbacKinds...), workloadKinds...),
	Refs:     []string{"KEP-2799 reducing Secret-based ServiceAccount tokens", "Kubernetes docs: ServiceAccount tokens"},
	Summary: "Finds JWTs in container env values, ConfigMaps and Secret data (with --include-secret-data; Secrets of type " +
		"kubernetes.io/service-account-token are KW-TOK-001's) and decodes them without verification: a ServiceAccount " +
		"token has issuer kubernetes/serviceaccount or the cluster's issuer, or Kubernetes ServiceAccount claims. " +
		"Only kube-system/aws-auth and the legacy token tracking ConfigMap are collected, so other ConfigMaps are not " +
		"scanned. High; critical for a critical ServiceAccount of this cluster; low once expired. Tokens are shown " +
		"as a fingerprint, never in full.",
	run: func(in *Input, r *run) {
		s := in.Snapshot
		now := tokClock()
		report := func(ref inventory.ObjectRef, hits []tokFound, store string, extra ...string) {
			f := Finding{Object: ref}
			for i, h := range hits {
				sev, line, local := tokJudge(in, h, now)
				hits[i].local = local
				f.Severity = max(f.Severity, sev)
				f.Evidence = append(f.Evidence, line)
				if local {
					sa := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: h.jwt.Namespace, Name: h.jwt.ServiceAccount}
					if !slices.Contains(f.Related, sa) {
						f.Related = append(f.Related, sa)
					}
				}
			}
			var whose []string
			for _, h := range hits {
				w := "an unnamed ServiceAccount"
				if h.jwt.ServiceAccount != "" {
					w = h.jwt.Namespace + "/" + h.jwt.ServiceAccount
				}
				if !slices.Contains(whose, w) {
					whose = append(whose, w)
				}
			}
			f.Message = fmt.Sprintf("%s stores %d ServiceAccount token(s) (%s): whoever can read it can act as them", ref, len(hits), strings.Join(whose, ", "))
			if f.Severity == Low {
				f.Message = fmt.Sprintf("%s stores %d expired ServiceAccount token(s) (%s): remove them, and the habit of storing tokens", ref, len(hits), strings.Join(whose, ", "))
			}
			f.Evidence = append(f.Evidence, extra...)
			f.Remediation = tokRemedy(hits, store)
			r.add(f)
		}
		scan := func(where, value string, hits []tokFound) []tokFound {
			for _, j := range tokFindJWTs(value) {
				if j.ServiceAccountToken(s.Cluster.OIDCIssuer) {
					hits = append(hits, tokFound{where: where, jwt: j})
				}
			}
			return hits
		}
		if r.needWorkloads("(a) container environment") {
			for _, w := range in.Workloads() {
				if w.Controlled {
					continue
				}
				var hits []tokFound
				for _, c := range credContainers(w.Spec) {
					for _, e := range c.env {
						if e.Value != "" {
							hits = scan(fmt.Sprintf("container %s env %s", c.name, e.Name), e.Value, hits)
						}
					}
				}
				if len(hits) > 0 {
					report(w.Ref, hits, "Do not pass ServiceAccount tokens in env: mount a projected serviceAccountToken volume (short-lived, rotated by the kubelet) or let the pod use its own token")
				}
			}
		}
		if r.need("(b) ConfigMaps", inventory.ConfigMaps) {
			for i := range s.ConfigMaps {
				cm := &s.ConfigMaps[i]
				var hits []tokFound
				for _, k := range tokSortedKeys(cm.Data) {
					hits = scan("key "+k, cm.Data[k], hits)
				}
				for _, k := range tokSortedKeys(cm.BinaryData) {
					hits = scan("binary key "+k, string(cm.BinaryData[k]), hits)
				}
				if len(hits) > 0 {
					report(inventory.ObjectRef{Kind: inventory.ConfigMaps, Namespace: cm.Namespace, Name: cm.Name}, hits, "Remove the token from the ConfigMap (ConfigMaps are not meant for credentials)")
				}
			}
		}
		if r.need("(c) Secrets", inventory.Secrets) {
			if !s.Cluster.SecretData {
				r.notAssessed("(c) Secrets", []string{credSecretDataReason})
				return
			}
			for i := range s.Secrets {
				sec := &s.Secrets[i]
				if sec.Type == corev1.SecretTypeServiceAccountToken {
					continue // KW-TOK-001
				}
				var hits []tokFound
				for _, k := range tokSortedKeys(sec.Data) {
					hits = scan("key "+k, string(sec.Data[k]), hits)
				}
				for _, k := range tokSortedKeys(sec.StringData) {
					hits = scan("key "+k, sec.StringData[k], hits)
				}
				if len(hits) > 0 {
					ref := inventory.ObjectRef{Kind: inventory.Secrets, Namespace: sec.Namespace, Name: sec.Name}
					report(ref, hits, "Do not store ServiceAccount tokens: clients outside the cluster should request short-lived tokens (kubectl create token NAME -n NS --duration=1h) or use their platform's IAM authentication",
						credSecretReaders(in, sec.Namespace, sec.Name))
				}
			}
		}
	},
})

// credSecretDataReason is the not-assessed reason for checks that need Secret values.
const credSecretDataReason = "Secret data not collected (run with --include-secret-data)"

func tokSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Projected token lifetime limits.
const (
	tokMaxLifetime           = 86400
	tokDefaultExpiry         = 3600
	tokIRSAExpiryAnnotation  = "eks.amazonaws.com/token-expiration"
	tokIRSARoleAnnotation    = "eks.amazonaws.com/role-arn"
	tokAzureExpiryAnnotation = "azure.workload.identity/service-account-token-expiration"
	tokAzureClientAnnotation = "azure.workload.identity/client-id"
)

func tokSeconds(sec int64) string {
	switch {
	case sec == 86400:
		return "86400 s, 1 day"
	case sec%86400 == 0:
		return fmt.Sprintf("%d s, %d days", sec, sec/86400)
	case sec >= 86400:
		return fmt.Sprintf("%d s, %.1f days", sec, float64(sec)/86400)
	}
	return fmt.Sprintf("%d s", sec)
}

var tokLongLivedCheck = register(&Check{
	ID:       "KW-TOK-004",
	Title:    "Long-lived projected tokens",
	Severity: Medium,
	Reads:    append(append([]inventory.Kind{inventory.ServiceAccounts}, rbacKinds...), workloadKinds...),
	Refs:     []string{"Kubernetes docs: ServiceAccount token volume projection", "amazon-eks-pod-identity-webhook (eks.amazonaws.com/token-expiration)", "Azure Workload Identity (service-account-token-expiration)"},
	Summary: "Projected serviceAccountToken volumes with expirationSeconds above 86400 (medium), and custom ones without " +
		"audience (low): with no audience the token is accepted by the Kubernetes API itself, so whatever the pod hands " +
		"it to can replay it against the API server. The kube-api-access-* volume the API server injects (no audience, " +
		"3607 s) is the pod's own API token and is not reported (see KW-SA-002). Also IRSA " +
		"(eks.amazonaws.com/token-expiration) and Azure (azure.workload.identity/service-account-token-expiration) " +
		"expiration annotations above 86400. Raised one step when the ServiceAccount's rights are high or critical.",
	run: func(in *Input, r *run) {
		s := in.Snapshot
		rbacReadable := s.Readable(rbacKinds...)
		powerful := func(ns, sa string) (bool, string) {
			if !rbacReadable {
				return false, ""
			}
			tier, why := in.ServiceAccountTier(ns, sa)
			return tier >= TierHigh, fmt.Sprintf("ServiceAccount %s/%s has %s rights: %s", ns, sa, tier, why)
		}
		if r.needWorkloads("(a) projected token volumes") {
			for _, w := range in.Workloads() {
				if w.Controlled {
					continue
				}
				f := Finding{Object: w.Ref}
				for _, v := range w.Spec.Volumes {
					if v.Projected == nil || strings.HasPrefix(v.Name, "kube-api-access-") {
						continue
					}
					for _, src := range v.Projected.Sources {
						t := src.ServiceAccountToken
						if t == nil {
							continue
						}
						exp := int64(tokDefaultExpiry)
						if t.ExpirationSeconds != nil {
							exp = *t.ExpirationSeconds
						}
						if exp > tokMaxLifetime {
							f.Severity = max(f.Severity, Medium)
							f.Evidence = append(f.Evidence, fmt.Sprintf("volume %s: expirationSeconds %s (above %d)", v.Name, tokSeconds(exp), tokMaxLifetime))
						}
						if t.Audience == "" {
							f.Severity = max(f.Severity, Low)
							f.Evidence = append(f.Evidence, fmt.Sprintf("volume %s: no audience: the token is valid for the Kubernetes API (%s)", v.Name, tokSeconds(exp)))
						}
					}
				}
				if w.Annotations != nil {
					if sa := s.ServiceAccount(w.Ref.Namespace, w.ServiceAccountName()); sa != nil && sa.Annotations[tokIRSARoleAnnotation] != "" {
						if exp, err := strconv.ParseInt(w.Annotations[tokIRSAExpiryAnnotation], 10, 64); err == nil && exp > tokMaxLifetime {
							f.Severity = max(f.Severity, Medium)
							f.Evidence = append(f.Evidence, fmt.Sprintf("pod annotation %s: %s (IRSA token for %s)", tokIRSAExpiryAnnotation, tokSeconds(exp), sa.Annotations[tokIRSARoleAnnotation]))
						}
					}
					if exp, err := strconv.ParseInt(w.Annotations[tokAzureExpiryAnnotation], 10, 64); err == nil && exp > tokMaxLifetime {
						f.Severity = max(f.Severity, Medium)
						f.Evidence = append(f.Evidence, fmt.Sprintf("pod annotation %s: %s (the Azure webhook accepts 3600-86400)", tokAzureExpiryAnnotation, tokSeconds(exp)))
					}
				}
				if len(f.Evidence) == 0 {
					continue
				}
				saName := w.ServiceAccountName()
				f.Related = []inventory.ObjectRef{{Kind: inventory.ServiceAccounts, Namespace: w.Ref.Namespace, Name: saName}}
				if p, why := powerful(w.Ref.Namespace, saName); p {
					f.Severity = escRaise(f.Severity)
					f.Evidence = append(f.Evidence, why)
				}
				f.Message = fmt.Sprintf("%s mounts ServiceAccount tokens that live long or are valid for the Kubernetes API: a leaked copy stays usable", w.Ref)
				f.Remediation = fmt.Sprintf("In the pod template of %s, set expirationSeconds to 3600 (at most 86400) and an audience naming the consumer (e.g. vault) on each serviceAccountToken projection; the kubelet rotates the token at 80%% of its lifetime", w.Ref)
				r.add(f)
			}
		}
		if r.need("(b) ServiceAccount expiration annotations", inventory.ServiceAccounts) {
			for i := range s.ServiceAccounts {
				sa := &s.ServiceAccounts[i]
				ref := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sa.Namespace, Name: sa.Name}
				f := Finding{Object: ref}
				var patch []string
				if role := sa.Annotations[tokIRSARoleAnnotation]; role != "" {
					if exp, err := strconv.ParseInt(sa.Annotations[tokIRSAExpiryAnnotation], 10, 64); err == nil && exp > tokMaxLifetime {
						f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s (default 86400); IRSA role %s", tokIRSAExpiryAnnotation, tokSeconds(exp), role))
						patch = append(patch, fmt.Sprintf("kubectl annotate serviceaccount %s -n %s %s=86400 --overwrite", sa.Name, sa.Namespace, tokIRSAExpiryAnnotation))
					}
				}
				if sa.Annotations[tokAzureClientAnnotation] != "" {
					if exp, err := strconv.ParseInt(sa.Annotations[tokAzureExpiryAnnotation], 10, 64); err == nil && exp > tokMaxLifetime {
						f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s (the Azure webhook accepts 3600-86400)", tokAzureExpiryAnnotation, tokSeconds(exp)))
						patch = append(patch, fmt.Sprintf("kubectl annotate serviceaccount %s -n %s %s=3600 --overwrite", sa.Name, sa.Namespace, tokAzureExpiryAnnotation))
					}
				}
				if len(f.Evidence) == 0 {
					continue
				}
				f.Severity = Medium
				if p, why := powerful(sa.Namespace, sa.Name); p {
					f.Severity = High
					f.Evidence = append(f.Evidence, why)
				}
				f.Message = fmt.Sprintf("%s asks for cloud identity tokens that live longer than a day: a leaked token keeps its cloud role that long", ref)
				f.Remediation = strings.Join(patch, " && ") + " (then restart its pods so the webhook re-injects the volume)"
				r.add(f)
			}
		}
	},
})

var tokIssuerDiscoveryCheck = register(&Check{
	ID:       "KW-TOK-005",
	Title:    "Issuer discovery exposed to unauthenticated users",
	Severity: Low,
	Reads:    []inventory.Kind{inventory.ClusterRoles, inventory.ClusterRoleBindings},
	Refs:     []string{"Kubernetes docs: service account issuer discovery", "CIS GKE 4.1.x (bindings to system:unauthenticated)"},
	Summary: "A ClusterRoleBinding giving Group system:unauthenticated (or User system:anonymous) get on " +
		"/.well-known/openid-configuration or /openid/v1/jwks (usually ClusterRole system:service-account-issuer-discovery) " +
		"publishes the issuer's keys to anyone who reaches the API server. Only needed when an external relying party " +
		"fetches them from the API server itself (EKS and GKE host the discovery documents elsewhere): confirm intent. Low.",
	run: func(in *Input, r *run) {
		if !r.need("", inventory.ClusterRoles, inventory.ClusterRoleBindings) {
			return
		}
		match := Allows(rbac.Request{Verb: "get", Path: "/.well-known/openid-configuration"}, rbac.Request{Verb: "get", Path: "/openid/v1/jwks"})
		for _, h := range in.Holders(match) {
			anon := h.Subject.Kind == "Group" && h.Subject.Name == rbac.GroupUnauthenticated || h.Subject.Kind == "User" && h.Subject.Name == rbac.UserAnonymous
			if !anon {
				continue
			}
			h.Grants = slices.DeleteFunc(h.Grants, func(g rbac.Grant) bool { return !g.Binding.ClusterWide() })
			if len(h.Grants) == 0 {
				continue
			}
			var cmds []string
			for _, b := range tokBindingsOf(h.Grants) {
				cmds = append(cmds, fmt.Sprintf(`kubectl patch clusterrolebinding %s --type=json -p '[{"op":"remove","path":"/subjects/%d"}]'`, b.Name, tokSubjectIndex(b, h.Subject)))
			}
			r.add(Finding{
				Severity: Low,
				Message:  fmt.Sprintf("%s can read the ServiceAccount issuer discovery documents and signing keys: anyone who reaches the API server can, without credentials", h.Subject),
				Object:   h.Subject,
				Related:  h.Related(),
				Evidence: in.evidence(h),
				Remediation: "If no external party fetches the issuer keys from the API server, remove the subject: " + strings.Join(cmds, "; ") +
					" (check the index with kubectl get clusterrolebinding -o yaml first); if it is intended, allowlist it with the reason",
			})
		}
	},
})

// tokBindingsOf lists the bindings of grants, each once, in order.
func tokBindingsOf(grants []rbac.Grant) []*rbac.Binding {
	var out []*rbac.Binding
	for _, g := range grants {
		if !slices.Contains(out, g.Binding) {
			out = append(out, g.Binding)
		}
	}
	return out
}

// tokSubjectIndex is the index of the binding subject a holder names (0 when not found).
func tokSubjectIndex(b *rbac.Binding, subject inventory.ObjectRef) int {
	for i := range b.Subjects {
		if ref, ok := subjectRef(&b.Subjects[i], b); ok && ref == subject {
			return i
		}
	}
	return 0
}
