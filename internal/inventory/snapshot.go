// Package inventory holds kwid's Snapshot, the typed, read-only view of everything
// identity-related in a cluster, and the sources that produce it: a live cluster, manifest
// files, a saved snapshot file and the embedded demo cluster. Every source yields the same
// Snapshot, so analysis never knows where its input came from.
//
// inventory knows nothing about checks, RBAC evaluation or output formats.
package inventory

import (
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Kind names one kind of object a Snapshot holds, as its Kubernetes kind.
type Kind string

// The kinds a Snapshot holds.
const (
	Namespaces                      Kind = "Namespace"
	ServiceAccounts                 Kind = "ServiceAccount"
	Secrets                         Kind = "Secret"
	Pods                            Kind = "Pod"
	Deployments                     Kind = "Deployment"
	StatefulSets                    Kind = "StatefulSet"
	DaemonSets                      Kind = "DaemonSet"
	ReplicaSets                     Kind = "ReplicaSet"
	Jobs                            Kind = "Job"
	CronJobs                        Kind = "CronJob"
	ReplicationControllers          Kind = "ReplicationController"
	Roles                           Kind = "Role"
	ClusterRoles                    Kind = "ClusterRole"
	RoleBindings                    Kind = "RoleBinding"
	ClusterRoleBindings             Kind = "ClusterRoleBinding"
	ConfigMaps                      Kind = "ConfigMap"
	Nodes                           Kind = "Node"
	ValidatingWebhookConfigurations Kind = "ValidatingWebhookConfiguration"
	MutatingWebhookConfigurations   Kind = "MutatingWebhookConfiguration"
	// Istio security.istio.io kinds (v1 or v1beta1), absent where Istio is not installed.
	AuthorizationPolicies Kind = "AuthorizationPolicy"
	PeerAuthentications   Kind = "PeerAuthentication"
)

// AllKinds lists every kind a Snapshot holds, in a stable order.
var AllKinds = []Kind{
	Namespaces, ServiceAccounts, Secrets, Pods,
	Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, ReplicationControllers,
	Roles, ClusterRoles, RoleBindings, ClusterRoleBindings,
	ConfigMaps, Nodes, ValidatingWebhookConfigurations, MutatingWebhookConfigurations,
	AuthorizationPolicies, PeerAuthentications,
}

// Namespaced reports whether objects of the kind live in a namespace.
func (k Kind) Namespaced() bool {
	switch k {
	case Namespaces, ClusterRoles, ClusterRoleBindings, Nodes,
		ValidatingWebhookConfigurations, MutatingWebhookConfigurations:
		return false
	}
	return true
}

// The ConfigMaps that matter to identity; no other ConfigMap is kept.
const (
	AWSAuthConfigMap             = "aws-auth"
	LegacyTokenTrackingConfigMap = "kube-apiserver-legacy-service-account-token-tracking"
	SystemNamespace              = "kube-system"
)

// KeptConfigMap reports whether a ConfigMap is one a Snapshot keeps.
func KeptConfigMap(namespace, name string) bool {
	return namespace == SystemNamespace && (name == AWSAuthConfigMap || name == LegacyTokenTrackingConfigMap)
}

// State says whether a kind could be read.
type State string

const (
	// Collected: every object of the kind in scope is in the Snapshot.
	Collected State = "collected"
	// Forbidden: the API server refused to list the kind (403).
	Forbidden State = "forbidden"
	// Failed: the kind could not be read for another reason (the error says why).
	Failed State = "error"
	// Absent: the input did not contain the kind (files) or the server does not serve it.
	Absent State = "absent"
)

// Status is how one kind was collected.
type Status struct {
	State State `json:"state"`
	// Error is the API error for Forbidden and Failed.
	Error string `json:"error,omitempty"`
	// Scope notes a deliberate restriction, e.g. only ServiceAccount token Secrets.
	Scope string `json:"scope,omitempty"`
}

// Readable reports whether the kind's objects can be trusted to be complete.
func (s Status) Readable() bool { return s.State == Collected }

// Reason is a one-line explanation for reports of why a kind is not usable.
func (s Status) Reason(k Kind) string {
	switch s.State {
	case Collected:
		return string(k) + " collected"
	case Forbidden:
		return fmt.Sprintf("%s could not be listed: forbidden (%s)", k, s.Error)
	case Failed:
		return fmt.Sprintf("%s could not be listed: %s", k, s.Error)
	case Absent, "":
		return fmt.Sprintf("%s not present in the input", k)
	}
	return fmt.Sprintf("%s: %s", k, s.State)
}

// Cluster is metadata about where a Snapshot came from.
type Cluster struct {
	// Source is "live", "files", "snapshot" or "demo".
	Source string `json:"source"`
	// Name is the kubeconfig context, the file list, or "demo".
	Name          string `json:"name,omitempty"`
	Server        string `json:"server,omitempty"`
	ServerVersion string `json:"serverVersion,omitempty"`
	OIDCIssuer    string `json:"oidcIssuer,omitempty"`
	// Namespace is set when collection was limited to one namespace.
	Namespace string `json:"namespace,omitempty"`
	// SecretData is true when Secret data was collected (opt-in).
	SecretData bool `json:"secretData,omitempty"`
	// Skipped counts input objects of kinds kwid does not use, by "apiVersion/kind".
	Skipped map[string]int `json:"skipped,omitempty"`
}

// Location is where an object came from in file input.
type Location struct {
	File string `json:"file"`
	// Document is the 1-based index of the YAML/JSON document in the file.
	Document int `json:"document"`
	// Line is the 1-based line where the document starts (0 when unknown).
	Line int `json:"line,omitempty"`
}

// ObjectRef names one object of a Snapshot.
type ObjectRef struct {
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return string(r.Kind) + " " + r.Name
	}
	return string(r.Kind) + " " + r.Namespace + "/" + r.Name
}

// Snapshot is a typed view of a cluster's identity-related objects. Build one with a
// Builder; once built it must be treated as read-only (it is shared by all analyses).
// Objects in each slice are sorted by namespace and name.
type Snapshot struct {
	Cluster Cluster         `json:"cluster"`
	Status  map[Kind]Status `json:"status"`
	// Locations maps objects read from files to where they were read.
	Locations map[ObjectRef]Location `json:"-"`

	Namespaces                      []corev1.Namespace                                       `json:"namespaces,omitempty"`
	ServiceAccounts                 []corev1.ServiceAccount                                  `json:"serviceAccounts,omitempty"`
	Secrets                         []corev1.Secret                                          `json:"secrets,omitempty"`
	Pods                            []corev1.Pod                                             `json:"pods,omitempty"`
	Deployments                     []appsv1.Deployment                                      `json:"deployments,omitempty"`
	StatefulSets                    []appsv1.StatefulSet                                     `json:"statefulSets,omitempty"`
	DaemonSets                      []appsv1.DaemonSet                                       `json:"daemonSets,omitempty"`
	ReplicaSets                     []appsv1.ReplicaSet                                      `json:"replicaSets,omitempty"`
	Jobs                            []batchv1.Job                                            `json:"jobs,omitempty"`
	CronJobs                        []batchv1.CronJob                                        `json:"cronJobs,omitempty"`
	ReplicationControllers          []corev1.ReplicationController                           `json:"replicationControllers,omitempty"`
	Roles                           []rbacv1.Role                                            `json:"roles,omitempty"`
	ClusterRoles                    []rbacv1.ClusterRole                                     `json:"clusterRoles,omitempty"`
	RoleBindings                    []rbacv1.RoleBinding                                     `json:"roleBindings,omitempty"`
	ClusterRoleBindings             []rbacv1.ClusterRoleBinding                              `json:"clusterRoleBindings,omitempty"`
	ConfigMaps                      []corev1.ConfigMap                                       `json:"configMaps,omitempty"`
	Nodes                           []corev1.Node                                            `json:"nodes,omitempty"`
	ValidatingWebhookConfigurations []admissionregistrationv1.ValidatingWebhookConfiguration `json:"validatingWebhookConfigurations,omitempty"`
	MutatingWebhookConfigurations   []admissionregistrationv1.MutatingWebhookConfiguration   `json:"mutatingWebhookConfigurations,omitempty"`
	AuthorizationPolicies           []AuthorizationPolicy                                    `json:"authorizationPolicies,omitempty"`
	PeerAuthentications             []PeerAuthentication                                     `json:"peerAuthentications,omitempty"`
}

// StatusOf returns the collection status of a kind (Absent when unknown).
func (s *Snapshot) StatusOf(k Kind) Status {
	if st, ok := s.Status[k]; ok {
		return st
	}
	return Status{State: Absent}
}

// Readable reports whether every given kind was fully collected.
func (s *Snapshot) Readable(kinds ...Kind) bool {
	for _, k := range kinds {
		if !s.StatusOf(k).Readable() {
			return false
		}
	}
	return true
}

// Unreadable returns one reason per given kind that was not fully collected.
func (s *Snapshot) Unreadable(kinds ...Kind) []string {
	var out []string
	for _, k := range kinds {
		if st := s.StatusOf(k); !st.Readable() {
			out = append(out, st.Reason(k))
		}
	}
	return out
}

// Count returns how many objects of a kind the Snapshot holds.
func (s *Snapshot) Count(k Kind) int {
	switch k {
	case Namespaces:
		return len(s.Namespaces)
	case ServiceAccounts:
		return len(s.ServiceAccounts)
	case Secrets:
		return len(s.Secrets)
	case Pods:
		return len(s.Pods)
	case Deployments:
		return len(s.Deployments)
	case StatefulSets:
		return len(s.StatefulSets)
	case DaemonSets:
		return len(s.DaemonSets)
	case ReplicaSets:
		return len(s.ReplicaSets)
	case Jobs:
		return len(s.Jobs)
	case CronJobs:
		return len(s.CronJobs)
	case ReplicationControllers:
		return len(s.ReplicationControllers)
	case Roles:
		return len(s.Roles)
	case ClusterRoles:
		return len(s.ClusterRoles)
	case RoleBindings:
		return len(s.RoleBindings)
	case ClusterRoleBindings:
		return len(s.ClusterRoleBindings)
	case ConfigMaps:
		return len(s.ConfigMaps)
	case Nodes:
		return len(s.Nodes)
	case ValidatingWebhookConfigurations:
		return len(s.ValidatingWebhookConfigurations)
	case MutatingWebhookConfigurations:
		return len(s.MutatingWebhookConfigurations)
	case AuthorizationPolicies:
		return len(s.AuthorizationPolicies)
	case PeerAuthentications:
		return len(s.PeerAuthentications)
	}
	return 0
}

// ServiceAccount returns the named ServiceAccount, or nil.
func (s *Snapshot) ServiceAccount(namespace, name string) *corev1.ServiceAccount {
	i, ok := slices.BinarySearchFunc(s.ServiceAccounts, [2]string{namespace, name}, func(sa corev1.ServiceAccount, key [2]string) int {
		if c := strings.Compare(sa.Namespace, key[0]); c != 0 {
			return c
		}
		return strings.Compare(sa.Name, key[1])
	})
	if !ok {
		return nil
	}
	return &s.ServiceAccounts[i]
}

// ConfigMap returns the named kept ConfigMap, or nil.
func (s *Snapshot) ConfigMap(namespace, name string) *corev1.ConfigMap {
	for i := range s.ConfigMaps {
		if s.ConfigMaps[i].Namespace == namespace && s.ConfigMaps[i].Name == name {
			return &s.ConfigMaps[i]
		}
	}
	return nil
}
