// Package usage holds what audit logs say identities did: it streams audit.k8s.io/v1 Events
// (JSON lines, gzip, EKS CloudWatch export records) in one pass with bounded memory,
// aggregates the allowed and the forbidden requests per identity, compares them with what
// RBAC grants (used vs granted) and derives least-privilege roles from them.
//
// usage knows the audit Event format and RBAC semantics (through package rbac); it must not
// know about checks, findings, output formats or the command line.
package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kwid-dev/kwid/internal/rbac"
)

// Event is the part of an audit.k8s.io/v1 Event kwid reads (Metadata level is enough).
type Event struct {
	AuditID          string            `json:"auditID"`
	Stage            string            `json:"stage"`
	RequestURI       string            `json:"requestURI"`
	Verb             string            `json:"verb"`
	User             UserInfo          `json:"user"`
	ImpersonatedUser *UserInfo         `json:"impersonatedUser,omitempty"`
	SourceIPs        []string          `json:"sourceIPs,omitempty"`
	ObjectRef        *ObjectRef        `json:"objectRef,omitempty"`
	ResponseStatus   *Status           `json:"responseStatus,omitempty"`
	StageTimestamp   string            `json:"stageTimestamp,omitempty"`
	Annotations      map[string]string `json:"annotations,omitempty"`
}

// UserInfo is an authenticated user as the audit event records it.
type UserInfo struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups,omitempty"`
	Extra    Extra    `json:"extra,omitzero"`
}

// Extra holds the authentication extras kwid reads (decoded as fields, not a map: cheaper).
type Extra struct {
	PodName      []string `json:"authentication.kubernetes.io/pod-name,omitempty"`
	CredentialID []string `json:"authentication.kubernetes.io/credential-id,omitempty"`
}

// ObjectRef is what a resource request was about.
type ObjectRef struct {
	Resource    string `json:"resource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	APIGroup    string `json:"apiGroup,omitempty"`
	Subresource string `json:"subresource,omitempty"`
}

// Status is the response status of an event.
type Status struct {
	Code int `json:"code"`
}

// Annotations and user extras kwid reads.
const (
	AnnotationDecision    = "authorization.k8s.io/decision"
	AnnotationReason      = "authorization.k8s.io/reason"
	AnnotationLegacyToken = "authentication.k8s.io/legacy-token"
	AnnotationStaleToken  = "authentication.k8s.io/stale-token"
	ExtraPodName          = "authentication.kubernetes.io/pod-name"
	ExtraCredentialID     = "authentication.kubernetes.io/credential-id"
)

// line is one input line: an audit Event, or an EKS CloudWatch record that wraps one (or
// several) in a "message" string.
type line struct {
	Event
	Kind      string  `json:"kind"`
	Message   *string `json:"message"`
	LogEvents []struct {
		Message string `json:"message"`
	} `json:"logEvents"`
}

var errNotEvent = errors.New("not an audit.k8s.io/v1 Event (no auditID or stage)")

// DecodeLine decodes one input line into the audit events it holds: a plain Event line, an
// EKS CloudWatch record whose "message" is the event JSON (also with a leading timestamp, as
// CloudWatch text exports write it), or a CloudWatch subscription record with "logEvents".
func DecodeLine(data []byte) ([]Event, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] != '{' {
		// "2024-05-01T10:00:00.000Z {...}": a CloudWatch text export.
		i := bytes.IndexByte(data, '{')
		if i < 0 {
			return nil, errors.New("not JSON")
		}
		data = data[i:]
	}
	if stage, ok := skippedStage(data); ok {
		// Cheap path: a stage that never counts needs no full decode.
		return []Event{{Stage: stage, AuditID: "-", Verb: "-"}}, nil
	}
	var l line
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, jsonError(err)
	}
	switch {
	case l.AuditID != "" || l.Stage != "":
		if err := l.Event.validate(); err != nil {
			return nil, err
		}
		return []Event{l.Event}, nil
	case l.Message != nil:
		ev, err := decodeEvent(*l.Message)
		if err != nil {
			return nil, fmt.Errorf("message: %w", err)
		}
		return []Event{ev}, nil
	case l.LogEvents != nil:
		out := make([]Event, 0, len(l.LogEvents))
		for i, le := range l.LogEvents {
			ev, err := decodeEvent(le.Message)
			if err != nil {
				return nil, fmt.Errorf("logEvents[%d].message: %w", i, err)
			}
			out = append(out, ev)
		}
		return out, nil
	}
	return nil, errNotEvent
}

var (
	stageRequestReceived = []byte(`"stage":"RequestReceived"`)
	stageResponseStarted = []byte(`"stage":"ResponseStarted"`)
	verbWatch            = []byte(`"verb":"watch"`)
)

// skippedStage recognizes, without decoding, a well-formed event line of a stage that does
// not count (RequestReceived; ResponseStarted of anything but a watch). Only whole lines
// ({...}) qualify, so truncated lines are still decoded and reported.
func skippedStage(data []byte) (string, bool) {
	var stage string
	switch {
	case bytes.Contains(data, stageRequestReceived):
		stage = "RequestReceived"
	case bytes.Contains(data, stageResponseStarted) && !bytes.Contains(data, verbWatch):
		stage = "ResponseStarted"
	default:
		return "", false
	}
	if data[0] != '{' || data[len(data)-1] != '}' {
		return "", false // truncated: decode it to report it
	}
	return stage, true
}

func decodeEvent(s string) (Event, error) {
	var ev Event
	if err := json.Unmarshal([]byte(s), &ev); err != nil {
		return Event{}, jsonError(err)
	}
	return ev, ev.validate()
}

func (e *Event) validate() error {
	if e.AuditID == "" || e.Stage == "" {
		return errNotEvent
	}
	if e.Verb == "" {
		return errors.New("audit event without verb")
	}
	return nil
}

// jsonError shortens encoding/json's messages to what a user needs.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
	}
	if err.Error() == "unexpected end of JSON input" {
		return errors.New("truncated JSON (unexpected end of input)")
	}
	return err
}

// Identity is the user the request was authorized as: the impersonated user when there is
// one.
func (e *Event) Identity() *UserInfo {
	if e.ImpersonatedUser != nil && e.ImpersonatedUser.Username != "" {
		return e.ImpersonatedUser
	}
	return &e.User
}

// Request converts the event to the attributes the authorizer decided on. A create of a
// top-level resource carries no name for the authorizer (the name is in the body), even when
// the audit record names the created object.
func (e *Event) Request() rbac.Request {
	if e.ObjectRef == nil || e.ObjectRef.Resource == "" {
		path, _, _ := strings.Cut(e.RequestURI, "?")
		if path == "" {
			path = "/"
		}
		return rbac.Request{Verb: strings.ToLower(e.Verb), Path: path}
	}
	o := e.ObjectRef
	r := rbac.Request{Verb: e.Verb, APIGroup: o.APIGroup, Resource: o.Resource, Subresource: o.Subresource, Namespace: o.Namespace, Name: o.Name}
	if r.Verb == "create" && r.Subresource == "" {
		r.Name = ""
	}
	return r
}

// Binding is a binding named in an authorization reason.
type Binding struct {
	Kind      string `json:"kind"` // RoleBinding or ClusterRoleBinding
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (b Binding) String() string {
	if b.Namespace != "" {
		return b.Kind + " " + b.Namespace + "/" + b.Name
	}
	return b.Kind + " " + b.Name
}

// ParseReason reads the binding out of an RBAC authorization reason:
// `RBAC: allowed by RoleBinding "name/ns" of ClusterRole "x" to ServiceAccount "sa/ns"`.
func ParseReason(reason string) (Binding, bool) {
	_, rest, ok := strings.Cut(reason, "allowed by ")
	if !ok {
		return Binding{}, false
	}
	kind, rest, ok := strings.Cut(rest, " ")
	if !ok || (kind != "RoleBinding" && kind != "ClusterRoleBinding") || len(rest) < 2 || rest[0] != '"' {
		return Binding{}, false
	}
	quoted, _, ok := strings.Cut(rest[1:], `"`)
	if !ok || quoted == "" {
		return Binding{}, false
	}
	b := Binding{Kind: kind, Name: quoted}
	if kind == "RoleBinding" {
		i := strings.LastIndexByte(quoted, '/')
		if i <= 0 || i == len(quoted)-1 {
			return Binding{}, false
		}
		b.Name, b.Namespace = quoted[:i], quoted[i+1:]
	}
	return b, true
}
