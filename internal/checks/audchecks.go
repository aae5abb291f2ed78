package checks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/kwid-dev/kwid/internal/usage"
	rbacv1 "k8s.io/api/rbac/v1"
)

// The KW-AUD checks read what audit logs say identities did (Input.Usage, from kwid scan
// --audit-log). Without logs they are not assessed. Bootstrap bindings (named system:*) and
// non-ServiceAccount system users are the control plane's own and are not reported.

const noAuditLog = "no audit log given (--audit-log)"

// needUsage records the check as not assessed without audit logs.
func (r *run) needUsage() bool {
	if r.in.Usage == nil {
		r.notAssessed("", []string{noAuditLog})
		return false
	}
	return true
}

// identityRef is the object a finding about an identity is about.
func identityRef(id *usage.Identity) inventory.ObjectRef {
	if id.ServiceAccount != nil {
		return inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: id.ServiceAccount[0], Name: id.ServiceAccount[1]}
	}
	return inventory.ObjectRef{Kind: "User", Name: id.User.Name}
}

// controlPlaneUser: system users that are not ServiceAccounts (kube-controller-manager,
// kube-scheduler, nodes, the API server itself) and ServiceAccounts of kube-system.
func controlPlaneUser(id *usage.Identity) bool {
	if id.ServiceAccount != nil {
		return id.ServiceAccount[0] == "kube-system"
	}
	return strings.HasPrefix(id.User.Name, "system:")
}

func window(rep *usage.Report) string {
	if rep.From == "" {
		return "in the audit logs"
	}
	return fmt.Sprintf("between %s and %s", rep.From, rep.To)
}

func generateCommand(id *usage.Identity) string {
	subject := "user:" + id.User.Name
	if id.ServiceAccount != nil {
		subject = "sa:" + id.ServiceAccount[0] + "/" + id.ServiceAccount[1]
	}
	return fmt.Sprintf("kwid generate role --from-audit-log AUDIT_LOG --for %s (review, apply, then remove the broader bindings)", subject)
}

var audUnusedCheck = register(&Check{
	ID:       "KW-AUD-001",
	Title:    "Unused granted permissions",
	Severity: Low,
	Reads:    append([]inventory.Kind{inventory.ServiceAccounts}, rbacKinds...),
	Refs:     []string{"CIS Kubernetes 5.1 (least privilege)", "RBAC good practices: least privilege"},
	Summary: "Rules granted to an identity that no request in the audit window used, bindings never " +
		"named as the allowing binding, and ServiceAccounts with bindings that made no request at all. " +
		"Needs --audit-log; judge the window's length before dropping rights.",
	run: func(in *Input, r *run) {
		if !r.needUsage() || !r.need("", rbacKinds...) {
			return
		}
		rep := in.Usage
		cmpr := usage.Compare(rep, in.RBAC, in.Snapshot)
		for i := range cmpr.Identities {
			iu := &cmpr.Identities[i]
			id := iu.Identity()
			if controlPlaneUser(id) {
				continue
			}
			var evidence []string
			whole := 0
			for _, u := range iu.Unused {
				if strings.Contains(u.Binding, " system:") {
					continue
				}
				if u.Partly {
					evidence = append(evidence, fmt.Sprintf("%s (%s): used, but never %s", u.Binding, u.Role, strings.Join(u.UnusedParts, ", ")))
					continue
				}
				whole++
				evidence = append(evidence, fmt.Sprintf("%s (%s): rule %s never used", u.Binding, u.Role, ruleString(u.Rule)))
			}
			var bindings []string
			for _, b := range iu.UnusedBindings {
				if !strings.Contains(b, " system:") {
					bindings = append(bindings, b)
				}
			}
			if len(evidence) == 0 && len(bindings) == 0 {
				continue
			}
			sev := Low
			if len(bindings) > 0 || whole > 0 {
				sev = Medium
			}
			if len(bindings) > 0 {
				evidence = append([]string{"bindings never named as the allowing one: " + strings.Join(bindings, ", ")}, evidence...)
			}
			if len(evidence) > 12 {
				evidence = append(evidence[:12], fmt.Sprintf("... and %d more", len(evidence)-12))
			}
			r.add(Finding{
				Severity:    sev,
				Message:     fmt.Sprintf("%s holds permissions it did not use %s (%d allowed requests)", id.User.Name, window(rep), iu.Allowed),
				Object:      identityRef(id),
				Evidence:    evidence,
				Remediation: generateCommand(id),
			})
		}
		for _, sa := range cmpr.UnusedServiceAccounts {
			var bindings []string
			for _, b := range sa.Bindings {
				if !strings.Contains(b, " system:") {
					bindings = append(bindings, b)
				}
			}
			if len(bindings) == 0 || sa.Namespace == "kube-system" {
				continue
			}
			r.add(Finding{
				Severity: Medium,
				Message:  fmt.Sprintf("ServiceAccount %s/%s made no request %s, yet holds %s", sa.Namespace, sa.Name, window(rep), strings.Join(bindings, ", ")),
				Object:   inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sa.Namespace, Name: sa.Name},
				Evidence: []string{"no audit event from " + rbac.ServiceAccountUsername(sa.Namespace, sa.Name)},
				Remediation: fmt.Sprintf("If nothing runs as it, delete it (kubectl delete serviceaccount %s -n %s) and its bindings; otherwise confirm over a longer window",
					sa.Name, sa.Namespace),
			})
		}
	},
})

func ruleString(r rbacv1.PolicyRule) string {
	if len(r.NonResourceURLs) > 0 {
		return fmt.Sprintf("%s %s", strings.Join(r.Verbs, ","), strings.Join(r.NonResourceURLs, ","))
	}
	s := fmt.Sprintf("%s %s (apiGroups %q)", strings.Join(r.Verbs, ","), strings.Join(r.Resources, ","), r.APIGroups)
	if len(r.ResourceNames) > 0 {
		s += " names " + strings.Join(r.ResourceNames, ",")
	}
	return s
}

var audLegacyTokenCheck = register(&Check{
	ID:       "KW-AUD-002",
	Title:    "Legacy ServiceAccount token in use",
	Severity: Medium,
	Refs:     []string{"KEP-2799: reducing Secret-based ServiceAccount tokens"},
	Summary: "Requests authenticated with a Secret-based (non-expiring) ServiceAccount token, as the " +
		"authentication.k8s.io/legacy-token* audit annotations record. Needs --audit-log.",
	run: func(in *Input, r *run) {
		if !r.needUsage() {
			return
		}
		for _, id := range in.Usage.SortedIdentities() {
			if id.LegacyToken == 0 {
				continue
			}
			r.add(Finding{
				Severity: Medium,
				Message:  fmt.Sprintf("%s made %d requests with a legacy Secret-based token %s", id.User.Name, id.LegacyToken, window(in.Usage)),
				Object:   identityRef(id),
				Evidence: []string{id.LegacyTokenDetail, "last seen " + id.LastSeen},
				Remediation: "Move the client to a bound token (projected volume or kubectl create token), then delete the " +
					"kubernetes.io/service-account-token Secret",
			})
		}
	},
})

var audOffPodCheck = register(&Check{
	ID:       "KW-AUD-003",
	Title:    "ServiceAccount token used off-pod or replayed",
	Severity: Medium,
	Reads:    []inventory.Kind{inventory.Pods},
	Refs:     []string{"Kubernetes docs: bound service account tokens (credential-id, pod-name extras)"},
	Summary: "ServiceAccount requests whose token is bound to no pod (taken out of the cluster, or " +
		"minted by TokenRequest), one credential used from several source IPs, or tokens of pods that " +
		"no longer exist. kube-system is left out (controllers use TokenRequest). Needs --audit-log.",
	run: func(in *Input, r *run) {
		if !r.needUsage() {
			return
		}
		podsKnown := in.Snapshot.Readable(inventory.Pods) && in.Snapshot.StatusOf(inventory.Pods).State == inventory.Collected
		for _, id := range in.Usage.SortedIdentities() {
			if id.ServiceAccount == nil || controlPlaneUser(id) {
				continue
			}
			ns := id.ServiceAccount[0]
			if id.OffPod > 0 && id.LegacyToken < id.OffPod {
				r.add(Finding{
					Severity:    Medium,
					Message:     fmt.Sprintf("%s made %d requests with a token bound to no pod %s", id.User.Name, id.OffPod-id.LegacyToken, window(in.Usage)),
					Object:      identityRef(id),
					Evidence:    []string{"no " + usage.ExtraPodName + " in the user's extras", "e.g. " + id.OffPodSample},
					Remediation: "Find who requests tokens for this ServiceAccount (create serviceaccounts/token in the audit log) and stop handing them out of the cluster",
				})
			}
			creds := make([]string, 0, len(id.Credentials))
			for c := range id.Credentials {
				creds = append(creds, c)
			}
			sort.Strings(creds)
			for _, c := range creds {
				ips := id.Credentials[c]
				if len(ips) < 2 {
					continue
				}
				var list []string
				for ip := range ips {
					list = append(list, ip)
				}
				sort.Strings(list)
				r.add(Finding{
					Severity:    High,
					Message:     fmt.Sprintf("one token of %s was used from %d source IPs: it may have been copied and replayed", id.User.Name, len(ips)),
					Object:      identityRef(id),
					Evidence:    []string{"credential " + fingerprint(c) + " from " + strings.Join(list, ", ")},
					Remediation: "Rotate the token (delete the pod or Secret it came from) and find where it was copied",
				})
			}
			if !podsKnown {
				continue
			}
			var gone []string
			for p := range id.Pods {
				if !podExists(in.Snapshot, ns, p) {
					gone = append(gone, p)
				}
			}
			if len(gone) > 0 {
				slices.Sort(gone)
				r.add(Finding{
					Severity:    Low,
					Message:     fmt.Sprintf("%s used tokens of pods that no longer exist: %s", id.User.Name, strings.Join(gone, ", ")),
					Object:      identityRef(id),
					Evidence:    []string{"pod-name extras naming pods absent from the snapshot (deleted since, or a token kept after its pod)"},
					Remediation: "If the pods were deleted before the requests, the tokens were kept: rotate the ServiceAccount's tokens",
				})
			}
		}
	},
})

func podExists(s *inventory.Snapshot, ns, name string) bool {
	for i := range s.Pods {
		if s.Pods[i].Namespace == ns && s.Pods[i].Name == name {
			return true
		}
	}
	return false
}

// fingerprint shows a credential identifier without the identifier itself.
func fingerprint(s string) string {
	kind, _, _ := strings.Cut(s, "=")
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%s#%08x", kind, h)
}

var audSelfReviewCheck = register(&Check{
	ID:       "KW-AUD-004",
	Title:    "ServiceAccount or node enumerating its own permissions",
	Severity: Low,
	Refs:     []string{"MITRE ATT&CK for containers: permission discovery"},
	Summary: "create selfsubjectaccessreviews or selfsubjectrulesreviews by a ServiceAccount or a node: " +
		"workloads seldom ask what they may do; an intruder with a stolen token does. Needs --audit-log.",
	run: func(in *Input, r *run) {
		if !r.needUsage() {
			return
		}
		for _, id := range in.Usage.SortedIdentities() {
			if id.ServiceAccount == nil && !strings.HasPrefix(id.User.Name, "system:node:") {
				continue
			}
			n, sample := 0, ""
			for _, u := range append(id.Used(), id.Attempted()...) {
				if u.Request.APIGroup == "authorization.k8s.io" && u.Request.Verb == "create" &&
					(u.Request.Resource == "selfsubjectaccessreviews" || u.Request.Resource == "selfsubjectrulesreviews") {
					n += u.Count
					sample = u.Sample
				}
			}
			if n == 0 {
				continue
			}
			r.add(Finding{
				Severity:    Low,
				Message:     fmt.Sprintf("%s asked %d times what it is allowed to do %s", id.User.Name, n, window(in.Usage)),
				Object:      identityRef(id),
				Evidence:    []string{"e.g. " + sample},
				Remediation: "Confirm the workload does this by design (some operators do); otherwise investigate the token's use",
			})
		}
	},
})

// escalationPrimitive names a request that exercises an escalation primitive (or "").
func escalationPrimitive(id *usage.Identity, q rbac.Request) string {
	switch {
	case q.Verb == "impersonate":
		return "impersonation"
	case q.Resource == "serviceaccounts" && q.Subresource == "token" && q.Verb == "create":
		if id.ServiceAccount != nil && q.Namespace == id.ServiceAccount[0] && q.Name == id.ServiceAccount[1] {
			return ""
		}
		return "token request for another ServiceAccount"
	case q.Resource == "pods" && (q.Subresource == "exec" || q.Subresource == "attach" || q.Subresource == "portforward") && q.APIGroup == "":
		return "pods/" + q.Subresource
	case q.Resource == "nodes" && q.Subresource == "proxy":
		return "nodes/proxy"
	case q.Resource == "namespaces" && q.Subresource == "" && (q.Verb == "patch" || q.Verb == "update"):
		return "namespace modification"
	case q.APIGroup == "rbac.authorization.k8s.io" && (q.Resource == "rolebindings" || q.Resource == "clusterrolebindings") && (q.Verb == "create" || q.Verb == "update" || q.Verb == "patch"):
		return "binding " + q.Verb
	case q.APIGroup == "rbac.authorization.k8s.io" && (q.Verb == "bind" || q.Verb == "escalate"):
		return q.Verb
	case q.APIGroup == "certificates.k8s.io" && q.Resource == "certificatesigningrequests" && q.Subresource == "approval":
		return "CSR approval"
	}
	return ""
}

var audEscalationCheck = register(&Check{
	ID:       "KW-AUD-005",
	Title:    "Escalation primitives exercised or attempted",
	Severity: Medium,
	Refs:     []string{"kwid escalation primitives P4, P7, P9, P12, P13, P14, P16"},
	Summary: "Impersonation, token requests for another ServiceAccount, pods/exec|attach|portforward, " +
		"nodes/proxy, namespace changes, binding writes, bind/escalate, CSR approval: used (medium) " +
		"or refused (high: probing). Control-plane users are left out. Needs --audit-log.",
	run: func(in *Input, r *run) {
		if !r.needUsage() {
			return
		}
		for _, id := range in.Usage.SortedIdentities() {
			if controlPlaneUser(id) {
				continue
			}
			report := func(uses []*usage.Use, refused bool) {
				var ev []string
				n := 0
				for _, u := range uses {
					if p := escalationPrimitive(id, u.Request); p != "" {
						n += u.Count
						ev = append(ev, fmt.Sprintf("%s: %s (%d), e.g. %s", p, u.Request, u.Count, u.Sample))
					}
				}
				if n == 0 {
					return
				}
				f := Finding{Severity: Medium, Object: identityRef(id), Evidence: ev,
					Message:     fmt.Sprintf("%s exercised escalation primitives %d times %s", id.User.Name, n, window(in.Usage)),
					Remediation: "Confirm each use is expected; remove the rights that are not needed (kwid generate role)"}
				if refused {
					f.Severity = High
					f.Message = fmt.Sprintf("%s was refused escalation primitives %d times %s: probing for rights it lacks", id.User.Name, n, window(in.Usage))
					f.Remediation = "Investigate the token's holder: a workload rarely asks for rights it was never given"
				}
				r.add(f)
			}
			report(id.Used(), false)
			report(id.Attempted(), true)
		}
	},
})

var audStaleTokenCheck = register(&Check{
	ID:       "KW-AUD-006",
	Title:    "Stale bound tokens in use",
	Severity: Medium,
	Refs:     []string{"Kubernetes docs: bound service account token volume (stale-token annotation)"},
	Summary: "Requests with a bound token past its refresh time (annotation authentication.k8s.io/stale-token): " +
		"the client does not reload its token file and will break when extended expiry is off. Needs --audit-log.",
	run: func(in *Input, r *run) {
		if !r.needUsage() {
			return
		}
		for _, id := range in.Usage.SortedIdentities() {
			if id.StaleToken == 0 {
				continue
			}
			r.add(Finding{
				Severity:    Medium,
				Message:     fmt.Sprintf("%s made %d requests with a stale bound token %s", id.User.Name, id.StaleToken, window(in.Usage)),
				Object:      identityRef(id),
				Evidence:    []string{id.StaleTokenDetail},
				Remediation: "Upgrade the client library so that it re-reads the projected token file",
			})
		}
	},
})

var _ = []*Check{audUnusedCheck, audLegacyTokenCheck, audOffPodCheck, audSelfReviewCheck, audEscalationCheck, audStaleTokenCheck}
