package checks

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWorkloadIdentityChecks(t *testing.T) {
	res := Run(NewInput(load(t, "testdata/wi-workloads.yaml")), wiAWSNodeCheck, wiAzureLabelCheck, wiKube2iamCheck, wiDedicatedCheck)
	tests := []struct {
		check string
		want  []string
	}{
		{"KW-EKS-006", []string{"medium ServiceAccount kube-system/aws-node"}},
		{"KW-WI-AZ-001", []string{"medium Deployment app/azure-unlabelled"}},
		{"KW-WI-AWS-009", []string{"high Namespace open", "medium Deployment app/kube2iam-user"}},
		{"KW-EKS-004", []string{"medium Deployment app/s3-no-irsa"}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, got(res, tc.check)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
