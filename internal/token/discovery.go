package token

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Paths of the API server's ServiceAccount issuer discovery endpoints.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/openid/v1/jwks"
)

// Discovery is what a cluster publishes about its ServiceAccount token issuer.
type Discovery struct {
	// Issuer and JWKSURI come from the OpenID configuration; empty when it was not readable.
	Issuer  string
	JWKSURI string
	Keys    *KeySet
	// Note says what could not be read, when something could not.
	Note string
}

// FetchDiscovery reads the issuer from /.well-known/openid-configuration and the keys from
// /openid/v1/jwks through the API server's authenticated REST client. The keys are always
// read from the API server's own endpoint, whatever jwks_uri says (managed clusters publish
// a copy elsewhere). An unreadable configuration is a Note; unreadable keys are an error.
func FetchDiscovery(ctx context.Context, c rest.Interface) (*Discovery, error) {
	d := &Discovery{}
	raw, err := c.Get().AbsPath(DiscoveryPath).DoRaw(ctx)
	if err == nil {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			d.Note = fmt.Sprintf("reading %s: %v", DiscoveryPath, err)
		}
		d.Issuer, d.JWKSURI = doc.Issuer, doc.JWKSURI
	} else {
		d.Note = fmt.Sprintf("reading %s: %v", DiscoveryPath, err)
	}
	raw, err = c.Get().AbsPath(JWKSPath).DoRaw(ctx)
	if err != nil {
		hint := ""
		if apierrors.IsForbidden(err) {
			hint = " (needs get on the non-resource URL " + JWKSPath + ", e.g. ClusterRole system:service-account-issuer-discovery; or pass --jwks FILE)"
		}
		return nil, fmt.Errorf("reading the cluster's JWKS %s: %w%s", JWKSPath, err, hint)
	}
	if d.Keys, err = ParseJWKS(raw); err != nil {
		return nil, fmt.Errorf("the cluster's %s: %w", JWKSPath, err)
	}
	return d, nil
}

// LiveLookup is the Lookup of a live cluster. It reads object metadata only (through the
// metadata API), so no Secret data reaches kwid.
func LiveLookup(md metadata.Interface) Lookup {
	return func(ctx context.Context, kind, namespace, name string) (*Object, error) {
		var gvr schema.GroupVersionResource
		switch kind {
		case "ServiceAccount":
			gvr = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
		case "Pod":
			gvr = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
		case "Secret":
			gvr = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
		case "Node":
			gvr = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
		default:
			return nil, fmt.Errorf("unknown kind %q", kind)
		}
		var m *metav1.PartialObjectMetadata
		var err error
		if namespace != "" {
			m, err = md.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		} else {
			m, err = md.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		}
		switch {
		case apierrors.IsNotFound(err):
			return nil, ErrNotFound
		case err != nil:
			return nil, fmt.Errorf("reading %s %s: %w", kind, name, err)
		}
		return &Object{UID: string(m.UID), Labels: m.Labels, Annotations: m.Annotations}, nil
	}
}
