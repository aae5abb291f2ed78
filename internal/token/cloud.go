package token

import (
	"slices"
	"strings"
)

// CloudRole is a cloud identity a token could be exchanged for.
type CloudRole struct {
	// Cloud is aws, gcp or azure.
	Cloud string `json:"cloud"`
	// Mechanism is IRSA, EKS Pod Identity, GKE Workload Identity or Azure Workload Identity.
	Mechanism string `json:"mechanism"`
	// Role is the IAM role ARN, the Google service account e-mail or the Azure client ID.
	Role string `json:"role"`
	// From says what maps the token's subject to the role.
	From string `json:"from"`
	// Audience is the audience the cloud's token exchange expects.
	Audience string `json:"audience"`
	// AudienceOK is true when the token carries that audience.
	AudienceOK bool `json:"audienceOK"`
}

// RoleFinder returns the cloud roles a token with this subject and these audiences could
// be exchanged for. A trust-policy evaluator plugs in here.
type RoleFinder func(subject string, audiences []string) []CloudRole

// ServiceAccount annotations that map a ServiceAccount to a cloud identity.
const (
	AnnotationIRSARole     = "eks.amazonaws.com/role-arn"
	AnnotationIRSAAudience = "eks.amazonaws.com/audience"
	AnnotationGCPAccount   = "iam.gke.io/gcp-service-account"
	AnnotationAzureClient  = "azure.workload.identity/client-id"
)

// Audiences the clouds' token exchanges expect.
const (
	AudienceSTS         = "sts.amazonaws.com"
	AudiencePodIdentity = "pods.eks.amazonaws.com"
	AudienceAzure       = "api://AzureADTokenExchange"
	AudienceGKEPool     = "PROJECT_ID.svc.id.goog"
)

// AnnotationRoles is the RoleFinder of a ServiceAccount's annotations: IRSA
// (eks.amazonaws.com/role-arn, audience sts.amazonaws.com unless eks.amazonaws.com/audience
// says otherwise), GKE Workload Identity (iam.gke.io/gcp-service-account, audience the
// cluster's workload pool PROJECT_ID.svc.id.goog) and Azure Workload Identity
// (azure.workload.identity/client-id, audience api://AzureADTokenExchange). The subject is
// not consulted: annotations name the roles of the ServiceAccount they are on; whether the
// role trusts that subject is for the cloud side to say.
func AnnotationRoles(annotations map[string]string) RoleFinder {
	return func(_ string, audiences []string) []CloudRole {
		var out []CloudRole
		if arn := annotations[AnnotationIRSARole]; arn != "" {
			aud := annotations[AnnotationIRSAAudience]
			if aud == "" {
				aud = AudienceSTS
			}
			out = append(out, CloudRole{Cloud: "aws", Mechanism: "IRSA", Role: arn, From: "ServiceAccount annotation " + AnnotationIRSARole,
				Audience: aud, AudienceOK: slices.Contains(audiences, aud)})
		}
		if gsa := annotations[AnnotationGCPAccount]; gsa != "" {
			out = append(out, CloudRole{Cloud: "gcp", Mechanism: "GKE Workload Identity", Role: gsa, From: "ServiceAccount annotation " + AnnotationGCPAccount,
				Audience: AudienceGKEPool, AudienceOK: slices.ContainsFunc(audiences, func(a string) bool { return strings.HasSuffix(a, ".svc.id.goog") })})
		}
		if id := annotations[AnnotationAzureClient]; id != "" {
			out = append(out, CloudRole{Cloud: "azure", Mechanism: "Azure Workload Identity", Role: id, From: "ServiceAccount annotation " + AnnotationAzureClient,
				Audience: AudienceAzure, AudienceOK: slices.Contains(audiences, AudienceAzure)})
		}
		return out
	}
}
