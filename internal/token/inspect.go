package token

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Leeway is the clock skew allowed when checking exp, nbf and iat: one minute, as the API
// server's ServiceAccount token authenticator allows.
const Leeway = time.Minute

// Object is what a Lookup finds about an object a token names.
type Object struct {
	UID         string
	Labels      map[string]string
	Annotations map[string]string
}

// LabelLegacyTokenInvalidSince marks a legacy token Secret the API server no longer accepts
// (set by the legacy token cleaner after a year without use).
const LabelLegacyTokenInvalidSince = "kubernetes.io/legacy-token-invalid-since"

// ErrNotFound is returned by a Lookup when the object does not exist.
var ErrNotFound = errors.New("not found")

// Lookup reads a ServiceAccount, Pod, Secret or Node (kind as written) from a cluster or a
// snapshot; ErrNotFound when it does not exist, another error when it could not be read.
type Lookup func(ctx context.Context, kind, namespace, name string) (*Object, error)

// Options are what Inspect checks a token against; every field is optional.
type Options struct {
	// Now is the time validity is judged at (time.Now when zero).
	Now time.Time
	// Keys verify the signature; nil: the signature is not verified.
	Keys *KeySet
	// KeySource says where Keys come from.
	KeySource string
	// NoKeysReason says why there are no keys (with Keys nil).
	NoKeysReason string
	// ClusterIssuer is the cluster's ServiceAccount issuer, when known.
	ClusterIssuer string
	// Lookup reads the objects the token names; LookupSource says from where.
	Lookup       Lookup
	LookupSource string
	// Roles adds cloud roles to those of the ServiceAccount's annotations.
	Roles RoleFinder
}

// Report explains a token. It holds no part of the token but its fingerprint.
type Report struct {
	Fingerprint    string       `json:"fingerprint"`
	Size           int          `json:"size"`
	Header         Header       `json:"header"`
	Kind           Kind         `json:"kind"`
	Claims         Claims       `json:"claims"`
	ServiceAccount *Ref         `json:"serviceAccount,omitempty"`
	BoundObject    *Ref         `json:"boundObject,omitempty"`
	Signature      Verification `json:"signature"`
	Validity       Validity     `json:"validity"`
	// Objects are the checks of the objects the token names against the cluster or snapshot.
	Objects    []ObjectCheck `json:"objects,omitempty"`
	CloudRoles []CloudRole   `json:"cloudRoles"`
	// Findings are the reasons the token is not valid (empty when it is).
	Findings []string `json:"findings"`
	Notes    []string `json:"notes,omitempty"`
}

// Ref names a Kubernetes object.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

func (r Ref) String() string {
	if r.Namespace != "" {
		return r.Kind + " " + r.Namespace + "/" + r.Name
	}
	return r.Kind + " " + r.Name
}

// Validity is the token's time validity at Now.
type Validity struct {
	// Status is valid, expired, not yet valid or no expiry.
	Status string `json:"status"`
	Now    string `json:"now"`
	// Remaining is the time left before exp ("56m"), Expired the time since ("3d").
	Remaining string `json:"remaining,omitempty"`
	Expired   string `json:"expired,omitempty"`
	// Age says when the token was issued: "3m ago" ("in 3m" when iat is in the future).
	Age string `json:"age,omitempty"`
	// Lifetime is exp - iat.
	Lifetime      string `json:"lifetime,omitempty"`
	LeewaySeconds int    `json:"leewaySeconds"`
	PastWarnAfter bool   `json:"pastWarnAfter,omitempty"`
}

// ObjectCheck is one object the token names, as found in the cluster or snapshot.
type ObjectCheck struct {
	Ref
	// Status is exists, missing, uid differs, invalidated (a legacy token's Secret) or unknown.
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Valid reports whether nothing is wrong with the token.
func (r *Report) Valid() bool { return len(r.Findings) == 0 }

// Inspect decodes a token and explains it. Its error is for a token that cannot be decoded;
// everything wrong with a decodable token is a Finding.
func Inspect(ctx context.Context, raw string, opts Options) (*Report, error) {
	t, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := t.Claims
	r := &Report{Fingerprint: t.Fingerprint, Size: t.Size, Header: t.Header, Kind: t.Kind(), Claims: c, CloudRoles: []CloudRole{}, Findings: []string{}}
	if ns, name, uid := t.ServiceAccount(); name != "" {
		r.ServiceAccount = &Ref{Kind: "ServiceAccount", Namespace: ns, Name: name, UID: uid}
	}
	r.BoundObject = boundObject(t)

	switch r.Kind {
	case Other:
		r.Notes = append(r.Notes, "no Kubernetes ServiceAccount claims: not a ServiceAccount token")
	case Legacy:
		r.Notes = append(r.Notes, "legacy Secret-based token: it never expires and is valid as long as its Secret exists; prefer short-lived tokens (TokenRequest, projected volumes) and delete the Secret")
	}

	// Signature.
	switch {
	case opts.Keys != nil:
		r.Signature = Verify(t, opts.Keys)
		r.Signature.Source = opts.KeySource
		if r.Signature.Status == Failed {
			r.Findings = append(r.Findings, "signature: "+r.Signature.Reason)
		}
	default:
		r.Signature = Verification{Status: NotVerified, Reason: cmp.Or(opts.NoKeysReason, "no JWKS given")}
	}

	// Time.
	r.Validity = validity(t, now)
	switch r.Validity.Status {
	case "expired":
		r.Findings = append(r.Findings, fmt.Sprintf("expired %s ago (exp %s)", r.Validity.Expired, c.Expiry.Format(time.RFC3339)))
	case "not yet valid":
		r.Findings = append(r.Findings, fmt.Sprintf("not valid before %s", c.NotBefore.Format(time.RFC3339)))
	}
	if c.IssuedAt != nil && c.IssuedAt.After(now.Add(Leeway)) {
		r.Findings = append(r.Findings, fmt.Sprintf("issued in the future (iat %s): clock skew or a forged token", c.IssuedAt.Format(time.RFC3339)))
	}
	if r.Validity.PastWarnAfter {
		r.Notes = append(r.Notes, fmt.Sprintf("past warnafter (%s): the API server accepts it until exp but logs its use as stale; the kubelet should have replaced it", c.Kubernetes.WarnAfter.Format(time.RFC3339)))
	}

	// Issuer and audiences.
	if opts.ClusterIssuer != "" && c.Issuer != opts.ClusterIssuer && c.Issuer != LegacyIssuer {
		r.Notes = append(r.Notes, fmt.Sprintf("issuer %q is not the cluster's (%q): the API server only accepts it if it is one of its --service-account-issuer values", c.Issuer, opts.ClusterIssuer))
	}
	if opts.ClusterIssuer != "" && r.Kind == Bound && len(c.Audience) > 0 && !slices.Contains(c.Audience, opts.ClusterIssuer) {
		r.Notes = append(r.Notes, fmt.Sprintf("audiences %v do not include the cluster's issuer: unless the API server's --api-audiences list one of them, the token is meant for another consumer, not the Kubernetes API", c.Audience))
	}

	// The objects it names.
	var annotations map[string]string
	if opts.Lookup != nil {
		var sa *Object
		r.Objects, sa = checkObjects(ctx, r, opts)
		if sa != nil {
			annotations = sa.Annotations
		}
		for _, o := range r.Objects {
			if o.Status == "missing" || o.Status == "uid differs" || o.Status == "invalidated" {
				r.Findings = append(r.Findings, fmt.Sprintf("%s %s: %s", o.Ref, o.Status, o.Detail))
			}
		}
	} else if r.ServiceAccount != nil {
		r.Notes = append(r.Notes, "no cluster or snapshot: the ServiceAccount, the object the token is bound to and their cloud role annotations were not looked up")
	}

	// Cloud roles.
	r.CloudRoles = append(r.CloudRoles, AnnotationRoles(annotations)(c.Subject, c.Audience)...)
	if opts.Roles != nil {
		r.CloudRoles = append(r.CloudRoles, opts.Roles(c.Subject, c.Audience)...)
	}
	if slices.Contains(c.Audience, AudiencePodIdentity) {
		r.Notes = append(r.Notes, "audience pods.eks.amazonaws.com: an EKS Pod Identity token; its role comes from the cluster's pod identity associations (cloud side), not from annotations")
	}
	return r, nil
}

func boundObject(t *Token) *Ref {
	c := t.Claims
	switch {
	case c.Kubernetes != nil && c.Kubernetes.Pod != nil:
		return &Ref{Kind: "Pod", Namespace: c.Kubernetes.Namespace, Name: c.Kubernetes.Pod.Name, UID: c.Kubernetes.Pod.UID}
	case c.Kubernetes != nil && c.Kubernetes.Secret != nil:
		return &Ref{Kind: "Secret", Namespace: c.Kubernetes.Namespace, Name: c.Kubernetes.Secret.Name, UID: c.Kubernetes.Secret.UID}
	case c.Kubernetes != nil && c.Kubernetes.Node != nil:
		return &Ref{Kind: "Node", Name: c.Kubernetes.Node.Name, UID: c.Kubernetes.Node.UID}
	case c.Legacy != nil && c.Legacy.SecretName != "":
		return &Ref{Kind: "Secret", Namespace: c.Legacy.Namespace, Name: c.Legacy.SecretName}
	}
	return nil
}

func validity(t *Token, now time.Time) Validity {
	c := t.Claims
	v := Validity{Status: "valid", Now: now.UTC().Format(time.RFC3339), LeewaySeconds: int(Leeway / time.Second)}
	if c.Expiry != nil && c.IssuedAt != nil && !c.Expiry.Before(*c.IssuedAt) {
		v.Lifetime = duration.HumanDuration(c.Expiry.Sub(*c.IssuedAt))
	}
	switch {
	case c.IssuedAt != nil && c.IssuedAt.After(now):
		v.Age = "in " + duration.HumanDuration(c.IssuedAt.Sub(now))
	case c.IssuedAt != nil:
		v.Age = duration.HumanDuration(now.Sub(*c.IssuedAt)) + " ago"
	}
	switch {
	case c.Expiry == nil:
		v.Status = "no expiry"
	case now.After(c.Expiry.Add(Leeway)):
		v.Status = "expired"
		v.Expired = duration.HumanDuration(now.Sub(*c.Expiry))
	default:
		v.Remaining = duration.HumanDuration(c.Expiry.Sub(now))
	}
	if c.NotBefore != nil && now.Add(Leeway).Before(*c.NotBefore) && v.Status != "expired" {
		v.Status = "not yet valid"
	}
	if c.Kubernetes != nil && c.Kubernetes.WarnAfter != nil && now.After(*c.Kubernetes.WarnAfter) && v.Status != "expired" {
		v.PastWarnAfter = true
	}
	return v
}

// checkObjects looks up the ServiceAccount and the bound object, as the API server does
// when it authenticates the token: they must exist with the UIDs in the token.
func checkObjects(ctx context.Context, r *Report, opts Options) ([]ObjectCheck, *Object) {
	var out []ObjectCheck
	var saObj *Object
	for _, ref := range []*Ref{r.ServiceAccount, r.BoundObject} {
		if ref == nil || ref.Name == "" {
			continue
		}
		oc := ObjectCheck{Ref: *ref}
		obj, err := opts.Lookup(ctx, ref.Kind, ref.Namespace, ref.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			oc.Status = "missing"
			oc.Detail = fmt.Sprintf("not in %s: the API server rejects tokens whose ServiceAccount or bound object was deleted", opts.LookupSource)
		case err != nil:
			oc.Status = "unknown"
			oc.Detail = err.Error()
		case ref.UID != "" && obj.UID != "" && obj.UID != ref.UID:
			oc.Status = "uid differs"
			oc.Detail = fmt.Sprintf("%s has uid %s: the object was deleted and re-created, and the API server rejects the token", opts.LookupSource, obj.UID)
		case ref.Kind == "Secret" && r.Kind == Legacy && obj.Labels[LabelLegacyTokenInvalidSince] != "":
			oc.Status = "invalidated"
			oc.Detail = fmt.Sprintf("label %s=%s: the API server no longer accepts the token (unused for a year); delete the Secret", LabelLegacyTokenInvalidSince, obj.Labels[LabelLegacyTokenInvalidSince])
		default:
			oc.Status = "exists"
			if ref.UID != "" && obj.UID == ref.UID {
				oc.Detail = "uid matches"
			}
		}
		if ref == r.ServiceAccount && oc.Status == "exists" {
			saObj = obj
		}
		out = append(out, oc)
	}
	return out, saObj
}
