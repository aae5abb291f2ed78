package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/token"
)

// cloudRoleFinder lists the cloud identities the --cloud input grants a token's subject, as
// the cloud side decides it: IAM roles whose trust admits the subject (and one of the
// token's audiences) for the cluster's issuer, evaluated statement by statement; Pod
// Identity associations whose role trusts Pod Identity for it; GSA bindings for the
// cluster's workload pool; Azure federated credentials for the issuer.
func cloudRoleFinder(inv *cloud.Inventory, server, issuer string) token.RoleFinder {
	return func(sub string, audiences []string) []token.CloudRole {
		ns, name, ok := cloud.SplitSubject(sub)
		if !ok || inv.Empty() {
			return nil
		}
		c := inv.ClusterFor(server, issuer)
		var out []token.CloudRole
		for _, b := range inv.Bindings(c, []cloud.ServiceAccount{{Namespace: ns, Name: name}}) {
			cr := token.CloudRole{Mechanism: b.Mechanism, Role: b.Identity, From: "--cloud " + b.Source.File + ": " + b.Evidence}
			if b.Result == cloud.Maybe {
				cr.From += " (if the undecided conditions hold)"
			}
			switch b.Mechanism {
			case cloud.MechIRSA:
				cr.Cloud, cr.Audience = "aws", cloud.STSAudience
				// The trust decides which audience it takes: the first of the token's it admits.
				if role := inv.AWS.Role(b.Identity); role != nil {
					for _, aud := range audiences {
						if role.AssumeWithWebIdentity(c.Issuer, sub, aud).Result != cloud.No {
							cr.Audience, cr.AudienceOK = aud, true
							break
						}
					}
				}
			case cloud.MechPodIdentity:
				cr.Cloud, cr.Audience = "aws", token.AudiencePodIdentity
				cr.AudienceOK = slices.Contains(audiences, cr.Audience)
			case cloud.MechGKE:
				cr.Cloud, cr.Role = "gcp", strings.TrimPrefix(b.Identity, "gcp:")
				cr.Audience = token.AudienceGKEPool
				if c.GKE != nil {
					cr.Audience = c.GKE.WorkloadPool
				}
				cr.AudienceOK = slices.Contains(audiences, cr.Audience)
			case cloud.MechAzure:
				cr.Cloud, cr.Role = "azure", strings.TrimPrefix(b.Identity, "azure:")
				cr.Audience = cloud.AzureTokenAudience
				cr.AudienceOK = slices.Contains(audiences, cr.Audience)
			default:
				continue
			}
			out = append(out, cr)
		}
		return out
	}
}

// cloudIssuerNote says which issuer the cloud roles were evaluated for.
func cloudIssuerNote(inv *cloud.Inventory, server, issuer string) string {
	c := inv.ClusterFor(server, issuer)
	if c.Issuer == "" {
		return "cloud roles: the cluster's issuer is unknown (no matching cluster in --cloud, and none read): IAM trusts were not evaluated"
	}
	return fmt.Sprintf("cloud roles from --cloud are evaluated for issuer %s", c.Issuer)
}
