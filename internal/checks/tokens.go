package checks

import (
	"fmt"

	"github.com/kwid-dev/kwid/internal/inventory"
	corev1 "k8s.io/api/core/v1"
)

var legacyTokenCheck = register(&Check{
	ID:       "KW-TOK-001",
	Title:    "Legacy Secret-based ServiceAccount tokens present",
	Severity: Medium,
	Reads:    append([]inventory.Kind{inventory.Secrets, inventory.ServiceAccounts}, rbacKinds...),
	Refs:     []string{"KEP-2799 reducing Secret-based ServiceAccount tokens", "CIS Kubernetes 5.1.6"},
	Summary: "Secrets of type kubernetes.io/service-account-token hold tokens that never expire. " +
		"Medium; high when the ServiceAccount's rights are high or critical.",
	run: func(in *Input, r *run) {
		if !r.need("", inventory.Secrets) {
			return
		}
		rbacReadable := in.Snapshot.Readable(rbacKinds...)
		for i := range in.Snapshot.Secrets {
			sec := &in.Snapshot.Secrets[i]
			if sec.Type != corev1.SecretTypeServiceAccountToken {
				continue
			}
			saName := sec.Annotations[corev1.ServiceAccountNameKey]
			f := Finding{
				Severity: Medium,
				Object:   inventory.ObjectRef{Kind: inventory.Secrets, Namespace: sec.Namespace, Name: sec.Name},
				Evidence: []string{"type: " + string(sec.Type)},
				Remediation: fmt.Sprintf("Move consumers to short-lived tokens (kubectl create token %s -n %s, or a projected volume), then: kubectl delete secret %s -n %s",
					saName, sec.Namespace, sec.Name, sec.Namespace),
			}
			f.Message = fmt.Sprintf("Secret %s/%s holds a non-expiring token for ServiceAccount %s", sec.Namespace, sec.Name, saName)
			if saName != "" {
				saRef := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sec.Namespace, Name: saName}
				f.Related = []inventory.ObjectRef{saRef}
				f.Evidence = append(f.Evidence, corev1.ServiceAccountNameKey+": "+saName)
				if rbacReadable {
					if tier, why := in.ServiceAccountTier(sec.Namespace, saName); tier >= TierHigh {
						f.Severity = High
						f.Evidence = append(f.Evidence, fmt.Sprintf("%s %s", saRef, why))
					}
				}
			}
			if used := sec.Labels["kubernetes.io/legacy-token-last-used"]; used != "" {
				f.Evidence = append(f.Evidence, "last used "+used)
			}
			if inv := sec.Labels["kubernetes.io/legacy-token-invalid-since"]; inv != "" {
				f.Evidence = append(f.Evidence, "invalid since "+inv)
			}
			r.add(f)
		}
	},
})
