package inventory

import (
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Istio's security API (security.istio.io). kwid decodes only the fields that matter to
// mesh identity into its own minimal types; it does not depend on istio.io modules.
const (
	IstioSecurityGroup = "security.istio.io"
	// IstioRootNamespace is Istio's default root namespace (meshConfig.rootNamespace):
	// policies there apply to the whole mesh.
	IstioRootNamespace = "istio-system"
)

// IstioSecurityVersions are the served versions kwid reads, preferred first.
var IstioSecurityVersions = []string{"v1", "v1beta1"}

// istioResources maps the Istio kinds to their REST resource names.
var istioResources = map[Kind]string{
	AuthorizationPolicies: "authorizationpolicies",
	PeerAuthentications:   "peerauthentications",
}

// IstioResource returns the GroupVersionResource of an Istio kind in a version.
func IstioResource(k Kind, version string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: IstioSecurityGroup, Version: version, Resource: istioResources[k]}
}

// IsIstioKind reports whether a kind is one of the security.istio.io kinds.
func (k Kind) IsIstioKind() bool { _, ok := istioResources[k]; return ok }

// WorkloadSelector is Istio's workload selector (spec.selector).
type WorkloadSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// AuthorizationPolicy is security.istio.io AuthorizationPolicy, reduced to what identity
// analysis reads.
type AuthorizationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AuthorizationPolicySpec `json:"spec"`
}

// AuthorizationPolicySpec is the spec of an AuthorizationPolicy.
type AuthorizationPolicySpec struct {
	Selector *WorkloadSelector `json:"selector,omitempty"`
	// Action is ALLOW (the default when empty), DENY, AUDIT or CUSTOM.
	Action string              `json:"action,omitempty"`
	Rules  []AuthorizationRule `json:"rules,omitempty"`
}

// EffectiveAction is the action with Istio's default (ALLOW) applied.
func (s AuthorizationPolicySpec) EffectiveAction() string {
	if s.Action == "" {
		return "ALLOW"
	}
	return strings.ToUpper(s.Action)
}

// AuthorizationRule is one rule: it matches when every from, to and when matches. To and
// When are kept as read (kwid only counts them).
type AuthorizationRule struct {
	From []RuleFrom       `json:"from,omitempty"`
	To   []map[string]any `json:"to,omitempty"`
	When []map[string]any `json:"when,omitempty"`
}

// RuleFrom is one rules[].from entry.
type RuleFrom struct {
	Source Source `json:"source"`
}

// Source is rules[].from[].source: the peer identity (principals and namespaces come from
// the peer's mTLS certificate), request principals (JWT) and IP blocks.
type Source struct {
	Principals           []string `json:"principals,omitempty"`
	NotPrincipals        []string `json:"notPrincipals,omitempty"`
	Namespaces           []string `json:"namespaces,omitempty"`
	NotNamespaces        []string `json:"notNamespaces,omitempty"`
	RequestPrincipals    []string `json:"requestPrincipals,omitempty"`
	NotRequestPrincipals []string `json:"notRequestPrincipals,omitempty"`
	IPBlocks             []string `json:"ipBlocks,omitempty"`
	NotIPBlocks          []string `json:"notIpBlocks,omitempty"`
}

// PeerAuthentication is security.istio.io PeerAuthentication, reduced to its mTLS modes.
type PeerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PeerAuthenticationSpec `json:"spec"`
}

// PeerAuthenticationSpec is the spec of a PeerAuthentication.
type PeerAuthenticationSpec struct {
	Selector *WorkloadSelector `json:"selector,omitempty"`
	MTLS     *MutualTLS        `json:"mtls,omitempty"`
	// PortLevelMTLS maps a container port number to its mode (workload-level policies only).
	PortLevelMTLS map[string]MutualTLS `json:"portLevelMtls,omitempty"`
}

// MutualTLS is a PeerAuthentication mTLS setting. Mode is UNSET (inherit), DISABLE,
// PERMISSIVE or STRICT.
type MutualTLS struct {
	Mode string `json:"mode,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (p *AuthorizationPolicy) DeepCopyObject() runtime.Object { return deepCopyJSON(p) }

// DeepCopyObject implements runtime.Object.
func (p *PeerAuthentication) DeepCopyObject() runtime.Object { return deepCopyJSON(p) }

// deepCopyJSON copies a small object through its JSON form (these objects have only
// JSON-safe fields).
func deepCopyJSON[T any, P interface {
	*T
	runtime.Object
}](in P) runtime.Object {
	if in == nil {
		return nil
	}
	out := P(new(T))
	data, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		panic(fmt.Sprintf("copying %T: %v", in, err)) // unreachable: the types round-trip
	}
	return out
}

// istioKindOf returns the Snapshot kind of an apiVersion/kind pair when it is a
// security.istio.io kind kwid reads (v1 or v1beta1), else "".
func istioKindOf(apiVersion, kind string) Kind {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok || group != IstioSecurityGroup || (version != "v1" && version != "v1beta1") {
		return ""
	}
	switch Kind(kind) {
	case AuthorizationPolicies, PeerAuthentications:
		return Kind(kind)
	}
	return ""
}

// decodeIstio decodes the JSON of a security.istio.io object into kwid's type for it.
func decodeIstio(k Kind, js []byte) (runtime.Object, error) {
	var obj runtime.Object
	switch k {
	case AuthorizationPolicies:
		obj = &AuthorizationPolicy{}
	case PeerAuthentications:
		obj = &PeerAuthentication{}
	default:
		return nil, fmt.Errorf("not an Istio security kind: %s", k)
	}
	if err := json.Unmarshal(js, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// FromUnstructured turns a security.istio.io object read through the dynamic client into
// kwid's type for it; other objects are returned unchanged.
func FromUnstructured(obj runtime.Object) (runtime.Object, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	k := istioKindOf(u.GetAPIVersion(), u.GetKind())
	if k == "" {
		return obj, nil
	}
	js, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	out, err := decodeIstio(k, js)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", k, u.GetNamespace(), u.GetName(), err)
	}
	return out, nil
}
