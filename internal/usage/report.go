package usage

import (
	"cmp"
	"slices"

	"github.com/kwid-dev/kwid/internal/rbac"
)

// Report is what a set of audit logs says every identity did.
type Report struct {
	Files    []string  `json:"files"`
	Stats    Stats     `json:"stats"`
	Problems []Problem `json:"problems,omitempty"`
	// From and To bound the window the logs cover (stageTimestamp of the counted events).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Identities by username (the impersonated user when there was one).
	Identities map[string]*Identity `json:"-"`
	// Bindings counts how often each binding was named as the allowing one.
	Bindings map[string]int `json:"-"`
}

// Identity is one user's activity.
type Identity struct {
	User rbac.User `json:"user"`
	// ServiceAccount is set for ServiceAccount users: namespace and name.
	ServiceAccount *[2]string `json:"-"`
	Events         int        `json:"events"`
	Allowed        int        `json:"allowed"`
	Forbidden      int        `json:"forbidden"`
	Failed         int        `json:"failed"`
	LastSeen       string     `json:"lastSeen,omitempty"`
	// Bindings counts the bindings named as allowing this identity's requests.
	Bindings map[string]int `json:"bindings,omitempty"`
	// Pods counts requests per pod the token was bound to (capped).
	Pods map[string]int `json:"pods,omitempty"`
	// OffPod counts ServiceAccount requests with a token bound to no pod.
	OffPod       int    `json:"offPod,omitempty"`
	OffPodSample string `json:"offPodSample,omitempty"`
	// Credentials maps a credential ID to the source IPs it was used from (capped).
	Credentials       map[string]map[string]bool `json:"-"`
	LegacyToken       int                        `json:"legacyToken,omitempty"`
	LegacyTokenDetail string                     `json:"legacyTokenDetail,omitempty"`
	StaleToken        int                        `json:"staleToken,omitempty"`
	StaleTokenDetail  string                     `json:"staleTokenDetail,omitempty"`

	used, attempted useSet
}

func newIdentity(u *UserInfo) *Identity {
	id := &Identity{
		User:        rbac.User{Name: u.Username, Groups: slices.Clone(u.Groups)},
		Bindings:    map[string]int{},
		Pods:        map[string]int{},
		Credentials: map[string]map[string]bool{},
		used:        useSet{},
		attempted:   useSet{},
	}
	if ns, name, ok := rbac.SplitServiceAccountUsername(u.Username); ok {
		id.ServiceAccount = &[2]string{ns, name}
		id.User = rbac.ServiceAccountUser(ns, name)
	}
	return id
}

// Use is one permission used (or attempted): a request without its name, how often, on
// which names.
type Use struct {
	Request rbac.Request `json:"request"`
	Count   int          `json:"count"`
	// Unnamed counts the requests that named no object.
	Unnamed int `json:"unnamed,omitempty"`
	// Names are the objects named (at most MaxNames); ManyNames when there were more.
	Names     []string `json:"names,omitempty"`
	ManyNames bool     `json:"manyNames,omitempty"`
	// Sample is one such request, as "verb requestURI".
	Sample string `json:"sample"`
	// ByDefault is true when every use was allowed by a default discovery binding
	// (system:discovery, system:basic-user, system:public-info-viewer), which every cluster
	// grants to every authenticated user.
	ByDefault bool `json:"byDefault,omitempty"`
}

type useSet map[rbac.Request]*Use

var defaultBindings = map[string]bool{
	"ClusterRoleBinding system:discovery":          true,
	"ClusterRoleBinding system:basic-user":         true,
	"ClusterRoleBinding system:public-info-viewer": true,
}

func (s useSet) add(r rbac.Request, e *Event, binding string) {
	name := r.Name
	r.Name = ""
	u := s[r]
	if u == nil {
		u = &Use{Request: r, Sample: sample(e), ByDefault: true}
		s[r] = u
	}
	u.Count++
	u.ByDefault = u.ByDefault && defaultBindings[binding]
	switch {
	case name == "":
		u.Unnamed++
	case u.ManyNames:
	default:
		i, found := slices.BinarySearch(u.Names, name)
		switch {
		case found:
		case len(u.Names) >= MaxNames:
			u.ManyNames, u.Names = true, nil
		default:
			u.Names = slices.Insert(u.Names, i, name)
		}
	}
}

func (s useSet) sorted() []*Use {
	out := make([]*Use, 0, len(s))
	for _, u := range s {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *Use) int { return compareRequests(a.Request, b.Request) })
	return out
}

func compareRequests(a, b rbac.Request) int {
	return cmp.Or(
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.APIGroup, b.APIGroup),
		cmp.Compare(a.Resource, b.Resource),
		cmp.Compare(a.Subresource, b.Subresource),
		cmp.Compare(a.Verb, b.Verb),
	)
}

// Used returns the permissions the identity used (allowed, completed), sorted.
func (id *Identity) Used() []*Use { return id.used.sorted() }

// Attempted returns the permissions the identity was refused, sorted.
func (id *Identity) Attempted() []*Use { return id.attempted.sorted() }

// Requests expands a use into authorizer requests: one per name seen, and one without a
// name when some request named none (or more names were seen than kept).
func (u *Use) Requests() []rbac.Request {
	var out []rbac.Request
	if u.Unnamed > 0 || u.ManyNames {
		out = append(out, u.Request)
	}
	for _, n := range u.Names {
		r := u.Request
		r.Name = n
		out = append(out, r)
	}
	return out
}

// SortedIdentities returns the identities by username.
func (r *Report) SortedIdentities() []*Identity {
	out := make([]*Identity, 0, len(r.Identities))
	for _, id := range r.Identities {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b *Identity) int { return cmp.Compare(a.User.Name, b.User.Name) })
	return out
}
