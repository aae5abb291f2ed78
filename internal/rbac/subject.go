package rbac

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Well-known users and groups.
const (
	GroupMasters          = "system:masters"
	GroupAuthenticated    = "system:authenticated"
	GroupUnauthenticated  = "system:unauthenticated"
	GroupServiceAccounts  = "system:serviceaccounts"
	UserAnonymous         = "system:anonymous"
	serviceAccountPrefix  = "system:serviceaccount:"
	serviceAccountsPrefix = "system:serviceaccounts:"
)

// User is an authenticated identity as the authorizer sees it: a name and groups.
type User struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups,omitempty"`
}

// ServiceAccountUser is the user a ServiceAccount token authenticates as, with the groups
// the API server adds.
func ServiceAccountUser(namespace, name string) User {
	return User{
		Name:   ServiceAccountUsername(namespace, name),
		Groups: []string{GroupServiceAccounts, serviceAccountsPrefix + namespace, GroupAuthenticated},
	}
}

// ServiceAccountUsername is "system:serviceaccount:<ns>:<name>".
func ServiceAccountUsername(namespace, name string) string {
	return serviceAccountPrefix + namespace + ":" + name
}

// SplitServiceAccountUsername returns the namespace and name of a ServiceAccount username.
func SplitServiceAccountUsername(username string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(username, serviceAccountPrefix)
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	if !ok || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return namespace, name, true
}

// InGroup reports whether the user is in the group.
func (u User) InGroup(g string) bool { return slices.Contains(u.Groups, g) }

// String renders the user with its groups.
func (u User) String() string {
	if len(u.Groups) == 0 {
		return u.Name
	}
	return u.Name + " (groups " + strings.Join(u.Groups, ", ") + ")"
}

// ParseUser reads a subject as users type it: "system:serviceaccount:NS:NAME", "sa:NS/NAME",
// "user:NAME", "group:NAME" or a bare user name. extraGroups are added to users; a group
// subject is modelled as a user that is only in that group. Users other than ServiceAccounts
// and anonymous get system:authenticated, as the API server adds it.
func ParseUser(s string, extraGroups []string) (User, error) {
	var u User
	switch {
	case s == "":
		return User{}, fmt.Errorf("empty subject")
	case strings.HasPrefix(s, "sa:"):
		ns, name, ok := strings.Cut(strings.TrimPrefix(s, "sa:"), "/")
		if !ok || ns == "" || name == "" {
			return User{}, fmt.Errorf("subject %q: want sa:NAMESPACE/NAME", s)
		}
		u = ServiceAccountUser(ns, name)
	case strings.HasPrefix(s, serviceAccountPrefix):
		ns, name, ok := SplitServiceAccountUsername(s)
		if !ok {
			return User{}, fmt.Errorf("subject %q: want system:serviceaccount:NAMESPACE:NAME", s)
		}
		u = ServiceAccountUser(ns, name)
	case strings.HasPrefix(s, "group:"):
		g := strings.TrimPrefix(s, "group:")
		if g == "" {
			return User{}, fmt.Errorf("subject %q: want group:NAME", s)
		}
		// A group on its own: no user name can match a User subject.
		return User{Groups: append([]string{g}, extraGroups...)}, nil
	default:
		if !strings.HasPrefix(s, "user:") && strings.Contains(s, "/") {
			return User{}, fmt.Errorf("subject %q: for a ServiceAccount write sa:NAMESPACE/NAME (or user:%s for a user of that name)", s, s)
		}
		name := strings.TrimPrefix(s, "user:")
		if name == "" {
			return User{}, fmt.Errorf("subject %q: want user:NAME", s)
		}
		u = User{Name: name}
		if name == UserAnonymous {
			u.Groups = []string{GroupUnauthenticated}
		} else {
			u.Groups = []string{GroupAuthenticated}
		}
	}
	for _, g := range extraGroups {
		if !u.InGroup(g) {
			u.Groups = append(u.Groups, g)
		}
	}
	return u, nil
}

// appliesTo reports whether a binding subject names the user, resolving an empty
// ServiceAccount namespace to the binding's namespace (as the API server does).
func appliesTo(u User, s *rbacv1.Subject, bindingNamespace string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.Name != "" && u.Name == s.Name
	case rbacv1.GroupKind:
		return u.InGroup(s.Name)
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return ns != "" && u.Name == ServiceAccountUsername(ns, s.Name)
	}
	return false
}

// describeSubject names a binding subject like the API server's RBAC reason does.
func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return s.Kind + " " + strconv.Quote(s.Name+"/"+ns)
	}
	return s.Kind + " " + strconv.Quote(s.Name)
}
