package checks

import (
	"fmt"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

var rbacKinds = []inventory.Kind{inventory.Roles, inventory.ClusterRoles, inventory.RoleBindings, inventory.ClusterRoleBindings}

var defaultServiceAccountCheck = register(&Check{
	ID:       "KW-SA-001",
	Title:    "Default ServiceAccounts not actively used",
	Severity: Medium,
	Reads:    append([]inventory.Kind{inventory.ServiceAccounts, inventory.RoleBindings, inventory.ClusterRoleBindings}, workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.5", "CIS EKS 4.1.5", "CIS GKE 4.1.4", "CIS AKS 4.1.5", "EKS best practices: prefer dedicated EKS ServiceAccounts"},
	Summary: "Every namespace's `default` ServiceAccount should have automountServiceAccountToken: false, " +
		"no workload should run as it, and no binding should grant it anything.",
	run: func(in *Input, r *run) {
		s := in.Snapshot
		if r.need("(a) automount on default ServiceAccounts", inventory.ServiceAccounts) {
			for i := range s.ServiceAccounts {
				sa := &s.ServiceAccounts[i]
				if sa.Name != "default" || sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken {
					continue
				}
				r.add(Finding{
					Severity:    Medium,
					Message:     fmt.Sprintf("ServiceAccount %s/default does not set automountServiceAccountToken: false; every pod that does not opt out gets its token", sa.Namespace),
					Object:      inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sa.Namespace, Name: sa.Name},
					Evidence:    []string{"automountServiceAccountToken: " + boolField(sa.AutomountServiceAccountToken)},
					Remediation: fmt.Sprintf(`kubectl patch serviceaccount default -n %s -p '{"automountServiceAccountToken": false}'`, sa.Namespace),
				})
			}
		}
		if r.needWorkloads("(b) workloads running as default") {
			for _, w := range in.Workloads() {
				if w.Controlled || w.ServiceAccountName() != "default" {
					continue
				}
				how := "serviceAccountName is not set"
				if w.Spec.ServiceAccountName == "default" {
					how = "serviceAccountName: default"
				}
				r.add(Finding{
					Severity:    Medium,
					Message:     fmt.Sprintf("%s runs as the default ServiceAccount of %s (%s)", w.Ref, w.Ref.Namespace, how),
					Object:      w.Ref,
					Related:     []inventory.ObjectRef{{Kind: inventory.ServiceAccounts, Namespace: w.Ref.Namespace, Name: "default"}},
					Evidence:    []string{how},
					Remediation: dedicatedSARemedy(w.Ref),
				})
			}
		}
		if r.partial("(c) bindings naming default ServiceAccounts", inventory.RoleBindings, inventory.ClusterRoleBindings) {
			for _, b := range in.RBAC.Bindings() {
				for i := range b.Subjects {
					ns, ok := namesDefaultSA(&b.Subjects[i], b.Namespace)
					if !ok {
						continue
					}
					scope := "in namespace " + b.Namespace
					if b.ClusterWide() {
						scope = "cluster-wide"
					}
					r.add(Finding{
						Severity: High,
						Message:  fmt.Sprintf("%s grants %s %s %s to the default ServiceAccount of %s: every pod in %s that runs as default holds it", b.Ref(), b.RoleRef.Kind, b.RoleRef.Name, scope, ns, ns),
						Object:   inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: ns, Name: "default"},
						Related:  []inventory.ObjectRef{b.Ref()},
						Evidence: []string{fmt.Sprintf("%s roleRef %s %s, subject %s %s", b.Ref(), b.RoleRef.Kind, b.RoleRef.Name, b.Subjects[i].Kind, b.Subjects[i].Name)},
						Remediation: fmt.Sprintf("Bind %s %s to a dedicated ServiceAccount instead, then: %s",
							b.RoleRef.Kind, b.RoleRef.Name, deleteCommand(b)),
					})
					break
				}
			}
		}
	},
})

// namesDefaultSA reports whether a binding subject is a namespace's default ServiceAccount.
func namesDefaultSA(s *rbacv1.Subject, bindingNamespace string) (string, bool) {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return ns, s.Name == "default" && ns != ""
	case rbacv1.UserKind:
		ns, name, ok := rbac.SplitServiceAccountUsername(s.Name)
		return ns, ok && name == "default"
	}
	return "", false
}

var tokenMountCheck = register(&Check{
	ID:       "KW-SA-002",
	Title:    "ServiceAccount tokens mounted only where necessary",
	Severity: Low,
	Reads:    append(append([]inventory.Kind{inventory.ServiceAccounts}, rbacKinds...), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.6", "CIS EKS 4.1.6", "CIS GKE 4.1.5", "CIS AKS 4.1.6"},
	Summary: "A pod gets its ServiceAccount token unless the pod or the ServiceAccount sets " +
		"automountServiceAccountToken: false. Flagged when the ServiceAccount has no API rights " +
		"beyond discovery (the token is not needed: low), and raised when its rights are high " +
		"(medium) or critical (high): code execution in the pod then yields them.",
	run: func(in *Input, r *run) {
		if !r.needWorkloads("") || !r.need("", inventory.ServiceAccounts) || !r.need("", rbacKinds...) {
			return
		}
		s := in.Snapshot
		for _, w := range in.Workloads() {
			if w.Controlled {
				continue
			}
			saName := w.ServiceAccountName()
			sa := s.ServiceAccount(w.Ref.Namespace, saName)
			mounted, why := true, "neither the pod nor the ServiceAccount sets automountServiceAccountToken"
			switch {
			case w.Spec.AutomountServiceAccountToken != nil:
				mounted = *w.Spec.AutomountServiceAccountToken
				why = "the pod sets automountServiceAccountToken: true"
			case sa != nil && sa.AutomountServiceAccountToken != nil:
				mounted = *sa.AutomountServiceAccountToken
				why = fmt.Sprintf("ServiceAccount %s sets automountServiceAccountToken: true", saName)
			}
			if !mounted {
				continue
			}
			tier, tierWhy := in.ServiceAccountTier(w.Ref.Namespace, saName)
			saRef := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: w.Ref.Namespace, Name: saName}
			f := Finding{
				Object:      w.Ref,
				Related:     []inventory.ObjectRef{saRef},
				Evidence:    []string{why},
				Remediation: automountRemedy(w.Ref),
			}
			switch tier {
			case TierNone:
				f.Severity = Low
				f.Message = fmt.Sprintf("%s mounts the token of %s, which has no API rights beyond discovery: the token is not needed", w.Ref, saRef)
			case TierHigh:
				f.Severity = Medium
				f.Message = fmt.Sprintf("%s mounts the token of %s, which %s: code execution in the pod yields those rights", w.Ref, saRef, tierWhy)
			case TierCritical:
				f.Severity = High
				f.Message = fmt.Sprintf("%s mounts the token of %s, which %s: code execution in the pod yields those rights", w.Ref, saRef, tierWhy)
			default:
				continue
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s privilege tier: %s", saRef, tier))
			r.add(f)
		}
	},
})

func boolField(b *bool) string {
	if b == nil {
		return "not set (defaults to true)"
	}
	return fmt.Sprint(*b)
}

// kubectlResource is the resource name kubectl takes for a workload kind.
func kubectlResource(k inventory.Kind) string {
	switch k {
	case inventory.Pods:
		return "pod"
	case inventory.Deployments:
		return "deployment"
	case inventory.StatefulSets:
		return "statefulset"
	case inventory.DaemonSets:
		return "daemonset"
	case inventory.ReplicaSets:
		return "replicaset"
	case inventory.Jobs:
		return "job"
	case inventory.CronJobs:
		return "cronjob"
	case inventory.ReplicationControllers:
		return "replicationcontroller"
	}
	return string(k)
}

func dedicatedSARemedy(ref inventory.ObjectRef) string {
	name := ref.Name
	if ref.Kind == inventory.Pods || ref.Kind == inventory.Jobs {
		return fmt.Sprintf("Create a dedicated ServiceAccount (kubectl create serviceaccount %s -n %s) and set spec.serviceAccountName in the manifest that creates %s", name, ref.Namespace, ref)
	}
	return fmt.Sprintf("kubectl create serviceaccount %s -n %s && kubectl set serviceaccount %s/%s %s -n %s",
		name, ref.Namespace, kubectlResource(ref.Kind), name, name, ref.Namespace)
}

func automountRemedy(ref inventory.ObjectRef) string {
	switch ref.Kind {
	case inventory.Pods, inventory.Jobs:
		return fmt.Sprintf("Set automountServiceAccountToken: false in the pod spec of the manifest that creates %s", ref)
	case inventory.CronJobs:
		return fmt.Sprintf(`kubectl patch cronjob %s -n %s -p '{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"automountServiceAccountToken":false}}}}}}'`, ref.Name, ref.Namespace)
	}
	return fmt.Sprintf(`kubectl patch %s %s -n %s -p '{"spec":{"template":{"spec":{"automountServiceAccountToken":false}}}}'`, kubectlResource(ref.Kind), ref.Name, ref.Namespace)
}

func deleteCommand(b *rbac.Binding) string {
	if b.ClusterWide() {
		return "kubectl delete clusterrolebinding " + b.Name
	}
	return fmt.Sprintf("kubectl delete rolebinding %s -n %s", b.Name, b.Namespace)
}
