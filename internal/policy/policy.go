// Package policy exports kwid's single-object checks as native admission policies, so that
// clusters can enforce them without running kwid: Kubernetes ValidatingAdmissionPolicies
// (CEL, admissionregistration.k8s.io/v1) with their bindings, and Kyverno ClusterPolicies
// using the same CEL expressions.
//
// policy knows the checks only by ID and meaning; it reads no Snapshot.
package policy

import (
	"fmt"
	"io"
	"strings"

	"github.com/kwid-dev/kwid/internal/report"
)

// Rule is one single-object check as CEL: the object is allowed when every expression holds.
type Rule struct {
	Name  string // policy name suffix
	Check string
	Title string
	// Resources the rule applies to, by API group.
	Groups    []string
	Versions  []string
	Resources []string
	// Variables are CEL definitions usable as variables.NAME in expressions.
	Variables []Variable
	// Validations: each expression must be true; message explains a violation.
	Validations []Validation
}

// Variable is a named CEL expression.
type Variable struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// Validation is one CEL condition that must hold.
type Validation struct {
	Expression string `json:"expression"`
	Message    string `json:"message"`
}

// everyContainer says that a predicate over c holds for every container and init container
// of the pod spec held in variables.spec.
func everyContainer(pred string) string {
	return `variables.spec.containers.all(c, ` + pred + `) && (!has(variables.spec.initContainers) || variables.spec.initContainers.all(c, ` + pred + `))`
}

// podShapes are where a pod spec lives in each kind that carries one.
var podShapes = []struct {
	name, group, version string
	resources            []string
	spec                 string
}{
	{"pods", "", "v1", []string{"pods"}, "object.spec"},
	{"workloads", "apps", "v1", []string{"deployments", "statefulsets", "daemonsets", "replicasets"}, "object.spec.template.spec"},
	{"jobs", "batch", "v1", []string{"jobs"}, "object.spec.template.spec"},
	{"cronjobs", "batch", "v1", []string{"cronjobs"}, "object.spec.jobTemplate.spec.template.spec"},
	{"replicationcontrollers", "", "v1", []string{"replicationcontrollers"}, "object.spec.template.spec"},
}

// Rules are the checks that judge one object on its own, as CEL.
func Rules() []Rule {
	var out []Rule
	for _, shape := range podShapes {
		spec := []Variable{{Name: "spec", Expression: shape.spec}}
		out = append(out,
			Rule{
				Name: "default-serviceaccount-" + shape.name, Check: "KW-SA-001",
				Title:  "workloads run with a dedicated ServiceAccount, not default",
				Groups: []string{shape.group}, Versions: []string{shape.version}, Resources: shape.resources,
				Variables: spec,
				Validations: []Validation{{
					Expression: `has(variables.spec.serviceAccountName) && variables.spec.serviceAccountName != "" && variables.spec.serviceAccountName != "default"`,
					Message:    "KW-SA-001: runs as the default ServiceAccount; set spec.serviceAccountName to a dedicated ServiceAccount",
				}},
			},
			Rule{
				Name: "static-aws-keys-" + shape.name, Check: "KW-CRED-001",
				Title:  "no static AWS keys in container environment",
				Groups: []string{shape.group}, Versions: []string{shape.version}, Resources: shape.resources,
				Variables: spec,
				Validations: []Validation{{
					Expression: everyContainer(`!has(c.env) || c.env.all(e, !has(e.value) || !(e.name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] || e.value.matches("^(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}$")) || e.value.endsWith("EXAMPLE"))`),
					Message:    "KW-CRED-001: a container sets AWS keys as literal environment values; use IRSA or EKS Pod Identity",
				}},
			},
			Rule{
				Name: "long-lived-tokens-" + shape.name, Check: "KW-TOK-004",
				Title:  "projected ServiceAccount tokens live at most a day",
				Groups: []string{shape.group}, Versions: []string{shape.version}, Resources: shape.resources,
				Variables: spec,
				Validations: []Validation{{
					Expression: `!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.projected) || !has(v.projected.sources) || v.projected.sources.all(s, !has(s.serviceAccountToken) || !has(s.serviceAccountToken.expirationSeconds) || s.serviceAccountToken.expirationSeconds <= 86400))`,
					Message:    "KW-TOK-004: a projected ServiceAccount token lives longer than 86400 seconds",
				}},
			},
		)
	}
	rbacGroup := []string{"rbac.authorization.k8s.io"}
	out = append(out,
		Rule{
			Name: "rbac-wildcards", Check: "KW-RBAC-003",
			Title:  "no wildcards in Roles and ClusterRoles",
			Groups: rbacGroup, Versions: []string{"v1"}, Resources: []string{"roles", "clusterroles"},
			Validations: []Validation{{
				Expression: `object.metadata.name == "cluster-admin" || object.metadata.name.startsWith("system:") || !has(object.rules) || object.rules.all(r,
  !(has(r.verbs) && "*" in r.verbs) && !(has(r.apiGroups) && "*" in r.apiGroups) &&
  !(has(r.resources) && r.resources.exists(x, x == "*" || x.startsWith("*/"))) &&
  !(has(r.nonResourceURLs) && "*" in r.nonResourceURLs))`,
				Message: "KW-RBAC-003: a rule uses a wildcard (*) in verbs, apiGroups, resources or nonResourceURLs; name them",
			}},
		},
		Rule{
			Name: "bindings-broad-groups", Check: "KW-RBAC-014",
			Title:  "no bindings to anonymous or to every authenticated user",
			Groups: rbacGroup, Versions: []string{"v1"}, Resources: []string{"rolebindings", "clusterrolebindings"},
			Validations: []Validation{{
				Expression: `object.roleRef.name in ["system:basic-user", "system:discovery", "system:public-info-viewer"] || !has(object.subjects) || object.subjects.all(s,
  !(s.kind == "User" && s.name == "system:anonymous") &&
  !(s.kind == "Group" && s.name in ["system:unauthenticated", "system:authenticated"]))`,
				Message: "KW-RBAC-014: binds a role to system:anonymous, system:unauthenticated or system:authenticated; bind named groups",
			}},
		},
		Rule{
			Name: "bindings-default-serviceaccount", Check: "KW-SA-001",
			Title:  "no roles bound to default ServiceAccounts",
			Groups: rbacGroup, Versions: []string{"v1"}, Resources: []string{"rolebindings", "clusterrolebindings"},
			Validations: []Validation{{
				Expression: `!has(object.subjects) || object.subjects.all(s, !(s.kind == "ServiceAccount" && s.name == "default"))`,
				Message:    "KW-SA-001: binds a role to a default ServiceAccount, which every pod of its namespace runs as unless told otherwise; bind a dedicated ServiceAccount",
			}},
		},
		Rule{
			Name: "bindings-system-masters", Check: "KW-RBAC-007",
			Title:  "no bindings naming group system:masters",
			Groups: rbacGroup, Versions: []string{"v1"}, Resources: []string{"rolebindings", "clusterrolebindings"},
			Validations: []Validation{{
				Expression: `!has(object.subjects) || object.subjects.all(s, !(s.kind == "Group" && s.name == "system:masters"))`,
				Message:    "KW-RBAC-007: names group system:masters, which bypasses RBAC; bind a revocable group to cluster-admin instead",
			}},
		},
	)
	return out
}

// Options shape the exported policies.
type Options struct {
	// Action is deny, warn or audit.
	Action string
	// ExcludeNamespaces are not enforced (kube-system by default).
	ExcludeNamespaces []string
}

const prefix = "kwid-"

// WriteVAP writes ValidatingAdmissionPolicies and their bindings as multi-document YAML.
func WriteVAP(w io.Writer, opts Options) error {
	actions := map[string][]string{"deny": {"Deny"}, "warn": {"Warn"}, "audit": {"Audit"}}[opts.Action]
	if actions == nil {
		return fmt.Errorf("action %q: want deny, warn or audit", opts.Action)
	}
	var docs []any
	for _, r := range Rules() {
		name := prefix + r.Name
		docs = append(docs, map[string]any{
			"apiVersion": "admissionregistration.k8s.io/v1",
			"kind":       "ValidatingAdmissionPolicy",
			"metadata":   map[string]any{"name": name, "labels": labels(r), "annotations": map[string]string{"kwid.dev/title": r.Title}},
			"spec": map[string]any{
				"failurePolicy": "Fail",
				"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
					"apiGroups": r.Groups, "apiVersions": r.Versions, "operations": []string{"CREATE", "UPDATE"}, "resources": r.Resources,
				}}},
				"variables":   r.Variables,
				"validations": r.Validations,
			},
		}, map[string]any{
			"apiVersion": "admissionregistration.k8s.io/v1",
			"kind":       "ValidatingAdmissionPolicyBinding",
			"metadata":   map[string]any{"name": name, "labels": labels(r)},
			"spec": map[string]any{
				"policyName":        name,
				"validationActions": actions,
				"matchResources":    namespaceExclusion(opts.ExcludeNamespaces),
			},
		})
	}
	return report.WriteYAML(w, docs...)
}

// WriteKyverno writes Kyverno ClusterPolicies with the same CEL expressions.
func WriteKyverno(w io.Writer, opts Options) error {
	action := map[string]string{"deny": "Enforce", "warn": "Audit", "audit": "Audit"}[opts.Action]
	if action == "" {
		return fmt.Errorf("action %q: want deny, warn or audit", opts.Action)
	}
	var docs []any
	for _, r := range Rules() {
		var kinds []string
		for _, res := range r.Resources {
			kinds = append(kinds, kindOf(res))
		}
		exprs := make([]map[string]string, 0, len(r.Validations))
		for _, v := range r.Validations {
			exprs = append(exprs, map[string]string{"expression": v.Expression, "message": v.Message})
		}
		cel := map[string]any{"expressions": exprs}
		if len(r.Variables) > 0 {
			cel["variables"] = r.Variables
		}
		match := map[string]any{"any": []any{map[string]any{"resources": map[string]any{"kinds": kinds, "operations": []string{"CREATE", "UPDATE"}}}}}
		rule := map[string]any{"name": r.Name, "match": match, "validate": map[string]any{"cel": cel}}
		if len(opts.ExcludeNamespaces) > 0 {
			rule["exclude"] = map[string]any{"any": []any{map[string]any{"resources": map[string]any{"namespaces": opts.ExcludeNamespaces}}}}
		}
		docs = append(docs, map[string]any{
			"apiVersion": "kyverno.io/v1",
			"kind":       "ClusterPolicy",
			"metadata": map[string]any{"name": prefix + r.Name, "labels": labels(r), "annotations": map[string]string{
				"policies.kyverno.io/title": r.Title, "policies.kyverno.io/category": "kwid " + r.Check,
			}},
			"spec": map[string]any{"validationFailureAction": action, "background": true, "rules": []any{rule}},
		})
	}
	return report.WriteYAML(w, docs...)
}

func labels(r Rule) map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": "kwid", "kwid.dev/check": r.Check}
}

func namespaceExclusion(namespaces []string) map[string]any {
	if len(namespaces) == 0 {
		return map[string]any{}
	}
	return map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{map[string]any{
		"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": namespaces,
	}}}}
}

// kindOf maps a resource plural to its kind, for Kyverno.
func kindOf(resource string) string {
	k := map[string]string{
		"pods": "Pod", "deployments": "Deployment", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet",
		"replicasets": "ReplicaSet", "jobs": "Job", "cronjobs": "CronJob", "replicationcontrollers": "ReplicationController",
		"roles": "Role", "clusterroles": "ClusterRole", "rolebindings": "RoleBinding", "clusterrolebindings": "ClusterRoleBinding",
	}[resource]
	if k == "" {
		k = strings.TrimSuffix(resource, "s")
	}
	return k
}
