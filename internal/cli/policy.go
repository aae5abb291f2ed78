package cli

import (
	"github.com/kwid-dev/kwid/internal/policy"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func newPolicyCommand(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Native admission policies for the checks that judge one object",
	}
	var format, action string
	var exclude []string
	export := &cobra.Command{
		Use:   "export --format vap|kyverno",
		Short: "Write ValidatingAdmissionPolicies (or Kyverno ClusterPolicies) for single-object checks",
		Long: `Write the checks that judge one object on its own as native admission policies, so that a
cluster enforces them without running kwid:

  KW-SA-001   workloads (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
              CronJobs, ReplicationControllers) run with a dedicated ServiceAccount
  KW-CRED-001 no static AWS keys as literal container environment values
  KW-TOK-004  projected ServiceAccount tokens live at most 86400 s
  KW-RBAC-003 no wildcards in Roles and ClusterRoles (cluster-admin and system: roles exempt)
  KW-RBAC-007 no bindings naming group system:masters
  KW-RBAC-014 no bindings to system:anonymous, system:unauthenticated, system:authenticated
              (discovery roles exempt)

--format vap writes admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies and bindings
(Kubernetes 1.30+); --format kyverno writes Kyverno ClusterPolicies with the same CEL.
Checks that need the rest of the cluster (effective permissions, paths) are enforced by
kwid's own webhook instead.`,
		Example: `  kwid policy export --format vap | kubectl apply -f -
  kwid policy export --format vap --action warn --exclude-namespace kube-system --exclude-namespace monitoring
  kwid policy export --format kyverno > kwid-policies.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("format", format, []string{"vap", "kyverno"}); err != nil {
				return err
			}
			if err := oneOf("action", action, []string{"deny", "warn", "audit"}); err != nil {
				return err
			}
			opts := policy.Options{Action: action, ExcludeNamespaces: exclude}
			if format == "kyverno" {
				return policy.WriteKyverno(streams.Out, opts)
			}
			return policy.WriteVAP(streams.Out, opts)
		},
	}
	export.Flags().StringVar(&format, "format", "", "vap (ValidatingAdmissionPolicy) or kyverno (ClusterPolicy)")
	export.Flags().StringVar(&action, "action", "deny", "deny, warn (admission warnings) or audit")
	export.Flags().StringArrayVar(&exclude, "exclude-namespace", []string{"kube-system"}, "namespaces not enforced (repeatable; default kube-system)")
	cmd.AddCommand(export)
	return cmd
}
