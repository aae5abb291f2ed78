package checks

import (
	"fmt"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	corev1 "k8s.io/api/core/v1"
)

// Workload identity checks that the Snapshot alone can decide (catalog 1C/1D): which
// ServiceAccounts map to cloud identities and whether their pods really get them. Checks
// that need the clouds' own JSON (trust policies, Pod Identity associations) are not here.

const (
	irsaRoleAnnotation   = "eks.amazonaws.com/role-arn"
	azureClientIDAnno    = "azure.workload.identity/client-id"
	azureUseLabel        = "azure.workload.identity/use"
	kube2iamRoleAnno     = "iam.amazonaws.com/role"
	kube2iamAllowedAnno  = "iam.amazonaws.com/allowed-roles"
	kiamPermittedAnno    = "iam.amazonaws.com/permitted"
	podIdentityEnv       = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	irsaRoleEnv          = "AWS_ROLE_ARN"
	wiRefEKSBestPractice = "EKS best practices (IAM): use IRSA or EKS Pod Identity"
)

var wiAWSNodeCheck = register(&Check{
	ID:       "KW-EKS-006",
	Title:    "aws-node should use IRSA",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.ServiceAccounts},
	Refs:     []string{wiRefEKSBestPractice, "Amazon VPC CNI: configure the plugin to use IRSA"},
	Summary: "The VPC CNI's ServiceAccount kube-system/aws-node without an IRSA role-arn annotation makes the " +
		"CNI use the node's instance role, which then needs AmazonEKS_CNI_Policy: every pod that reaches the " +
		"node's credentials gets ENI rights. Only reported when kube-system/aws-node exists (EKS).",
	run: func(in *Input, r *run) {
		if !r.need("", inventory.ServiceAccounts) {
			return
		}
		sa := in.Snapshot.ServiceAccount(inventory.SystemNamespace, "aws-node")
		if sa == nil || sa.Annotations[irsaRoleAnnotation] != "" {
			return
		}
		r.add(Finding{
			Severity: Medium,
			Message:  "ServiceAccount kube-system/aws-node has no IRSA role: the VPC CNI runs on the node's instance role",
			Object:   inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: inventory.SystemNamespace, Name: "aws-node"},
			Evidence: []string{"no " + irsaRoleAnnotation + " annotation"},
			Remediation: "Create an IAM role with AmazonEKS_CNI_Policy trusted for system:serviceaccount:kube-system:aws-node, then: " +
				"kubectl annotate serviceaccount aws-node -n kube-system " + irsaRoleAnnotation + "=arn:aws:iam::ACCOUNT:role/ROLE " +
				"(or set it through the vpc-cni add-on's serviceAccountRoleArn) and remove the policy from the node role",
		})
	},
})

var wiAzureLabelCheck = register(&Check{
	ID:       "KW-WI-AZ-001",
	Title:    "Azure Workload Identity annotation without the pod label",
	Severity: Medium,
	Reads:    append([]inventory.Kind{inventory.ServiceAccounts}, workloadKinds...),
	Refs:     []string{"Azure Workload Identity: pods need the label azure.workload.identity/use: \"true\""},
	Summary: "A ServiceAccount annotated with azure.workload.identity/client-id only gives pods the Azure identity " +
		"when the pods carry the label azure.workload.identity/use: \"true\"; without it nothing is injected and " +
		"the workload falls back to other credentials.",
	run: func(in *Input, r *run) {
		if !r.need("", inventory.ServiceAccounts) || !r.needWorkloads("") {
			return
		}
		for _, w := range in.Workloads() {
			if w.Controlled {
				continue
			}
			sa := in.Snapshot.ServiceAccount(w.Ref.Namespace, w.ServiceAccountName())
			if sa == nil || sa.Annotations[azureClientIDAnno] == "" || w.Labels[azureUseLabel] == "true" {
				continue
			}
			r.add(Finding{
				Severity: Medium,
				Message: fmt.Sprintf("%s runs as %s/%s, mapped to Azure client %s, but its pods lack the label %s: \"true\": no Azure identity is injected",
					w.Ref, sa.Namespace, sa.Name, sa.Annotations[azureClientIDAnno], azureUseLabel),
				Object:      w.Ref,
				Related:     []inventory.ObjectRef{{Kind: inventory.ServiceAccounts, Namespace: sa.Namespace, Name: sa.Name}},
				Evidence:    []string{azureClientIDAnno + ": " + sa.Annotations[azureClientIDAnno], "pod label " + azureUseLabel + " missing"},
				Remediation: fmt.Sprintf(`set the pod template label %s: "true" in the manifest of %s`, azureUseLabel, w.Ref),
			})
		}
	},
})

var wiKube2iamCheck = register(&Check{
	ID:       "KW-WI-AWS-009",
	Title:    "kube2iam / kiam in use or unrestricted",
	Severity: Medium,
	Reads:    append([]inventory.Kind{inventory.Namespaces}, workloadKinds...),
	Refs:     []string{wiRefEKSBestPractice, "kube2iam and kiam are superseded by IRSA and EKS Pod Identity"},
	Summary: "Pods annotated iam.amazonaws.com/role get AWS credentials from a node-level broker (kube2iam, kiam) " +
		"that runs with the node's rights (medium). A namespace that allows every role (kube2iam " +
		"iam.amazonaws.com/allowed-roles containing \"*\", kiam iam.amazonaws.com/permitted \".*\") lets any pod " +
		"there assume any role the broker can (high).",
	run: func(in *Input, r *run) {
		if r.partial("(a) namespaces allowing every role", inventory.Namespaces) {
			for i := range in.Snapshot.Namespaces {
				ns := &in.Snapshot.Namespaces[i]
				allowed, permitted := ns.Annotations[kube2iamAllowedAnno], ns.Annotations[kiamPermittedAnno]
				open := strings.Contains(allowed, `"*"`) || permitted == ".*" || permitted == "*"
				if !open {
					continue
				}
				ev := kube2iamAllowedAnno + ": " + allowed
				if permitted != "" {
					ev = kiamPermittedAnno + ": " + permitted
				}
				r.add(Finding{
					Severity:    High,
					Message:     fmt.Sprintf("namespace %s lets its pods assume any IAM role through kube2iam/kiam", ns.Name),
					Object:      inventory.ObjectRef{Kind: inventory.Namespaces, Name: ns.Name},
					Evidence:    []string{ev},
					Remediation: fmt.Sprintf("list the roles allowed: kubectl annotate namespace %s --overwrite %s='[\"arn:aws:iam::ACCOUNT:role/NAME\"]', then move the workloads to IRSA or Pod Identity", ns.Name, kube2iamAllowedAnno),
				})
			}
		}
		if r.needWorkloads("(b) pods using kube2iam/kiam") {
			for _, w := range in.Workloads() {
				if w.Controlled || w.Annotations[kube2iamRoleAnno] == "" {
					continue
				}
				r.add(Finding{
					Severity:    Medium,
					Message:     fmt.Sprintf("%s gets AWS role %s from a node-level broker (kube2iam/kiam) instead of IRSA or Pod Identity", w.Ref, w.Annotations[kube2iamRoleAnno]),
					Object:      w.Ref,
					Evidence:    []string{kube2iamRoleAnno + ": " + w.Annotations[kube2iamRoleAnno]},
					Remediation: fmt.Sprintf("give %s a dedicated ServiceAccount annotated %s (or an EKS Pod Identity association) and remove the %s annotation", w.Ref, irsaRoleAnnotation, kube2iamRoleAnno),
				})
			}
		}
	},
})

var wiDedicatedCheck = register(&Check{
	ID:       "KW-EKS-004",
	Title:    "Prefer dedicated EKS ServiceAccounts (IRSA / Pod Identity)",
	Severity: Medium,
	Reads:    append([]inventory.Kind{inventory.ServiceAccounts}, workloadKinds...),
	Refs:     []string{"CIS EKS 5.2.1 (prefer using dedicated EKS Service Accounts)", wiRefEKSBestPractice},
	Summary: "A workload that talks to AWS (AWS_* environment, e.g. a region, profile or static keys) but whose " +
		"ServiceAccount has no IRSA role and whose pods show no EKS Pod Identity injection falls back to the " +
		"node's instance role or to static keys. Pod Identity associations live in AWS: without cloud input kwid " +
		"sees only their injected environment on running pods.",
	run: func(in *Input, r *run) {
		if !r.need("", inventory.ServiceAccounts) || !r.needWorkloads("") {
			return
		}
		for _, w := range in.Workloads() {
			// kube2iam/kiam pods are KW-WI-AWS-009's; the VPC CNI is KW-EKS-006's; the Pod
			// Identity agent itself runs on the node role by design.
			if w.Controlled || w.Annotations[kube2iamRoleAnno] != "" || w.Ref.Namespace == inventory.SystemNamespace &&
				(w.Ref.Name == "aws-node" || w.Ref.Name == "eks-pod-identity-agent") {
				continue
			}
			uses, injected := awsEnv(w.Spec)
			if uses == "" || injected {
				continue
			}
			sa := in.Snapshot.ServiceAccount(w.Ref.Namespace, w.ServiceAccountName())
			if sa != nil && sa.Annotations[irsaRoleAnnotation] != "" {
				continue
			}
			r.add(Finding{
				Severity: Medium,
				Message: fmt.Sprintf("%s uses AWS (%s) but ServiceAccount %s/%s has no IRSA role and no Pod Identity is injected: it falls back to the node role or static keys",
					w.Ref, uses, w.Ref.Namespace, w.ServiceAccountName()),
				Object:      w.Ref,
				Related:     []inventory.ObjectRef{{Kind: inventory.ServiceAccounts, Namespace: w.Ref.Namespace, Name: w.ServiceAccountName()}},
				Evidence:    []string{"environment " + uses},
				Remediation: fmt.Sprintf("run %s as a dedicated ServiceAccount mapped to an IAM role (annotation %s, or an EKS Pod Identity association)", w.Ref, irsaRoleAnnotation),
			})
		}
	},
})

// awsEnv names an AWS_* variable a pod spec sets (not one injected by IRSA or Pod Identity)
// and reports whether IRSA or Pod Identity credentials are injected.
func awsEnv(spec *corev1.PodSpec) (uses string, injected bool) {
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, e := range c.Env {
			switch {
			case e.Name == podIdentityEnv || e.Name == irsaRoleEnv:
				injected = true
			case e.Name == "AWS_WEB_IDENTITY_TOKEN_FILE" || e.Name == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" || e.Name == "AWS_STS_REGIONAL_ENDPOINTS":
			case strings.HasPrefix(e.Name, "AWS_") && uses == "":
				uses = e.Name
			}
		}
	}
	return uses, injected
}
