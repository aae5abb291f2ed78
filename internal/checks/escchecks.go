package checks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Escalation checks (catalog section 1B): one check per escalation primitive of section 2,
// judged on each subject's effective permissions, plus where powerful tokens sit (nodes,
// DaemonSets) and which pods run as kube-system controller ServiceAccounts.

// escAbility is one dangerous right an escalation check looks for.
type escAbility struct {
	what  string
	match func(*rbacv1.PolicyRule) bool
	// sev is the severity of holding the right in one ordinary namespace (or, for
	// cluster-scoped resources, at all); wide is the severity cluster-wide or in a
	// privileged namespace (zero: one step above sev).
	sev, wide Severity
	// cluster marks a cluster-scoped resource: only ClusterRoleBindings grant it.
	cluster bool
	// namespace, when set, counts only grants that apply in that namespace.
	namespace string
	// note is added to the evidence of holders of this right.
	note string
}

// escHolding is a subject holding some of the abilities of a check.
type escHolding struct {
	Holder
	held []*escAbility
	sev  Severity
}

func (h escHolding) whats() string {
	var out []string
	for _, a := range h.held {
		out = append(out, a.what)
	}
	return escJoinList(out)
}

func (h escHolding) holds(what string) bool {
	return slices.ContainsFunc(h.held, func(a *escAbility) bool { return a.what == what })
}

// escHoldings returns every subject holding one of the abilities, its grants filtered to
// those that confer an ability, and its severity.
func escHoldings(in *Input, abilities []escAbility) []escHolding {
	matchAny := func(rule *rbacv1.PolicyRule) bool {
		for i := range abilities {
			if abilities[i].match(rule) {
				return true
			}
		}
		return false
	}
	var out []escHolding
	for _, h := range in.Holders(matchAny) {
		eh := escHolding{Holder: Holder{Subject: h.Subject}}
		for _, g := range h.Grants {
			conferred := false
			for i := range abilities {
				a := &abilities[i]
				if !a.match(g.Rule()) || !escGrantApplies(a, g) {
					continue
				}
				conferred = true
				if !slices.Contains(eh.held, a) {
					eh.held = append(eh.held, a)
				}
				sev := a.sev
				if g.Binding.ClusterWide() || in.Config.Privileged(g.Namespace()) {
					sev = a.wide
					if sev == 0 {
						sev = escRaise(a.sev)
					}
				}
				eh.sev = max(eh.sev, sev)
			}
			if conferred {
				eh.Grants = append(eh.Grants, g)
			}
		}
		if len(eh.held) > 0 {
			// Report abilities in the order the check lists them.
			slices.SortStableFunc(eh.held, func(a, b *escAbility) int {
				return indexOfAbility(abilities, a) - indexOfAbility(abilities, b)
			})
			out = append(out, eh)
		}
	}
	return out
}

func indexOfAbility(abilities []escAbility, a *escAbility) int {
	for i := range abilities {
		if &abilities[i] == a {
			return i
		}
	}
	return len(abilities)
}

func escGrantApplies(a *escAbility, g rbac.Grant) bool {
	switch {
	case a.cluster:
		return g.Binding.ClusterWide()
	case a.namespace != "":
		return g.Binding.ClusterWide() || g.Namespace() == a.namespace
	}
	return true
}

func escRaise(s Severity) Severity { return min(s+1, Critical) }

// escCan matches rules allowing one of the verbs on group/resource[/subresource] for at
// least one object name: a rule limited by resourceNames still allows a named request
// (update, patch, delete, get, exec...) on the objects it names.
func escCan(group, resource, subresource string, verbs ...string) func(*rbacv1.PolicyRule) bool {
	return func(rule *rbacv1.PolicyRule) bool {
		r := *rule
		r.ResourceNames = nil
		for _, v := range verbs {
			if rbac.RuleAllows(&r, rbac.Request{Verb: v, APIGroup: group, Resource: resource, Subresource: subresource}) {
				return true
			}
		}
		return false
	}
}

// escFinding builds the common part of a finding about a subject: object, related
// bindings and roles, the grants as evidence, and the workloads that run as it.
func escFinding(in *Input, h escHolding, workloads map[[2]string][]inventory.ObjectRef) Finding {
	f := Finding{
		Severity: h.sev,
		Object:   h.Subject,
		Related:  h.Related(),
		Evidence: in.evidence(h.Holder),
	}
	for _, a := range h.held {
		if a.note != "" {
			f.Evidence = append(f.Evidence, a.note)
		}
	}
	if line := escWorkloadLine(h.Subject, workloads); line != "" {
		f.Evidence = append(f.Evidence, line)
	}
	return f
}

// escWorkloadsBySA maps namespace/ServiceAccount to the workloads (uncontrolled Pods and
// pod templates) that run as it; nil when no workload kind was collected.
func escWorkloadsBySA(in *Input) map[[2]string][]inventory.ObjectRef {
	collected := false
	for _, k := range workloadKinds {
		collected = collected || in.Snapshot.StatusOf(k).Readable()
	}
	if !collected {
		return nil
	}
	out := map[[2]string][]inventory.ObjectRef{}
	for _, w := range in.Workloads() {
		if w.Controlled {
			continue
		}
		key := [2]string{w.Ref.Namespace, w.ServiceAccountName()}
		out[key] = append(out[key], w.Ref)
	}
	return out
}

func escWorkloadLine(subject inventory.ObjectRef, workloads map[[2]string][]inventory.ObjectRef) string {
	if subject.Kind != inventory.ServiceAccounts || workloads == nil {
		return ""
	}
	refs := workloads[[2]string{subject.Namespace, subject.Name}]
	if len(refs) == 0 {
		return "no workload in the input runs as this ServiceAccount"
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return "runs as this ServiceAccount: " + escCapList(names, 5)
}

// escRemedy names, per binding, the command that drops the grant and the role to edit.
func escRemedy(h escHolding, what string) string {
	var parts []string
	seen := map[*rbac.Binding]bool{}
	for _, g := range h.Grants {
		b := g.Binding
		if seen[b] {
			continue
		}
		seen[b] = true
		switch {
		case escBuiltinRole(b.RoleRef):
			parts = append(parts, fmt.Sprintf("drop the grant (%s) and bind a narrower role: ClusterRole %s is built in and reconciled by the API server", deleteCommand(b), b.RoleRef.Name))
		case b.RoleRef.Kind == "Role":
			parts = append(parts, fmt.Sprintf("drop the grant (%s) or remove %s from Role %s (kubectl edit role %s -n %s)", deleteCommand(b), what, b.RoleRef.Name, b.RoleRef.Name, b.Namespace))
		default:
			parts = append(parts, fmt.Sprintf("drop the grant (%s) or remove %s from ClusterRole %s (kubectl edit clusterrole %s)", deleteCommand(b), what, b.RoleRef.Name, b.RoleRef.Name))
		}
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more binding(s)", len(parts)-3))
	}
	s := strings.Join(parts, "; ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// escBuiltinRole reports whether a role is one of the API server's bootstrap ClusterRoles,
// which should be unbound rather than edited.
func escBuiltinRole(ref rbacv1.RoleRef) bool {
	return ref.Kind == "ClusterRole" && (slices.Contains([]string{"cluster-admin", "admin", "edit", "view"}, ref.Name) || strings.HasPrefix(ref.Name, "system:"))
}

// escCapList joins names, keeping the first n and counting the rest.
func escCapList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// escJoinList joins "a", "a and b", "a, b and c".
func escJoinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// escRunHoldings is the shared body of the RBAC escalation checks.
func escRunHoldings(in *Input, r *run, abilities []escAbility, build func(h escHolding, f *Finding) bool) {
	if !r.partial("", rbacKinds...) {
		return
	}
	workloads := escWorkloadsBySA(in)
	for _, h := range escHoldings(in, abilities) {
		f := escFinding(in, h, workloads)
		if build(h, &f) {
			r.add(f)
		}
	}
}

var escSecretsCheck = register(&Check{
	ID:       "KW-ESC-001",
	Title:    "Can mint ServiceAccount tokens via Secrets",
	Severity: High,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"kwid escalation primitive P3", "Kubernetes docs: manually create a long-lived API token for a ServiceAccount", "Kubernetes RBAC good practices"},
	Summary: "Whoever can create Secrets in a namespace can create one of type kubernetes.io/service-account-token " +
		"annotated with any ServiceAccount of the namespace: the token controller fills it with a non-expiring " +
		"token for that ServiceAccount. update/patch (without resourceNames) count too. High; critical cluster-wide " +
		"or in a privileged namespace. Reading the minted token also needs get on Secrets or a pod that mounts it.",
	run: func(in *Input, r *run) {
		abilities := []escAbility{
			{what: "create Secrets", match: Allows(rbac.Request{Verb: "create", Resource: "secrets"}), sev: High},
			{what: "update or patch Secrets", match: Allows(rbac.Request{Verb: "update", Resource: "secrets"}, rbac.Request{Verb: "patch", Resource: "secrets"}), sev: High},
		}
		escRunHoldings(in, r, abilities, func(h escHolding, f *Finding) bool {
			f.Message = fmt.Sprintf("%s can %s %s: it can create a kubernetes.io/service-account-token Secret for any ServiceAccount there and obtain a non-expiring token", h.Subject, h.whats(), h.Scope())
			f.Remediation = escRemedy(h, "create/update/patch on secrets")
			return true
		})
	},
})

// escWebsocketCreate reports whether the server authorizes websocket exec/attach/
// port-forward as create (1.35+, AuthorizePodWebsocketUpgradeCreatePermission on by
// default); unknown versions are treated as older, where get suffices.
func escWebsocketCreate(version string) bool {
	major, minor, ok := escServerMinor(version)
	return ok && (major > 1 || minor >= 35)
}

// escServerMinor parses "v1.30.4-eks-a737599" into 1, 30.
func escServerMinor(version string) (major, minor int, ok bool) {
	v := strings.TrimPrefix(version, "v")
	maj, rest, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	end := strings.IndexFunc(rest, func(c rune) bool { return c < '0' || c > '9' })
	if end >= 0 {
		rest = rest[:end]
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(rest)
	return a, b, err1 == nil && err2 == nil
}

// KW-ESC-002 abilities.
const (
	escExec     = "exec into pods"
	escAttach   = "attach to pods"
	escWSExec   = "exec into pods over websocket (get pods/exec)"
	escWSAttach = "attach to pods over websocket (get pods/attach)"
	escForward  = "port-forward to pods"
)

var escPodsCheck = register(&Check{
	ID:       "KW-ESC-002",
	Title:    "Can run code in existing pods",
	Severity: High,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"kwid escalation primitives P6, P7, P8", "Kubernetes RBAC good practices"},
	Summary: "update/patch on pods (swap an image), create on pods/exec or pods/attach (get counts too: websocket " +
		"exec arrives as GET before 1.35; from 1.35 it needs create unless AuthorizePodWebsocketUpgradeCreatePermission " +
		"is off, so get alone is low there), update/patch on pods/ephemeralcontainers: code runs as the pod's " +
		"ServiceAccount with its token and mounted Secrets. pods/portforward reaches the pod's ports (medium). " +
		"High; critical cluster-wide or in a privileged namespace.",
	run: func(in *Input, r *run) {
		getSev, getNote := High, ""
		if escWebsocketCreate(in.Snapshot.Cluster.ServerVersion) {
			getSev = Low
			getNote = fmt.Sprintf("get on pods/exec or pods/attach only: the server (%s) authorizes websocket exec as create unless AuthorizePodWebsocketUpgradeCreatePermission is off", in.Snapshot.Cluster.ServerVersion)
		}
		abilities := []escAbility{
			{what: "update or patch pods", match: escCan("", "pods", "", "update", "patch"), sev: High},
			{what: escExec, match: escCan("", "pods", "exec", "create"), sev: High},
			{what: escAttach, match: escCan("", "pods", "attach", "create"), sev: High},
			{what: "add ephemeral containers", match: escCan("", "pods", "ephemeralcontainers", "update", "patch"), sev: High},
			{what: escWSExec, match: escCan("", "pods", "exec", "get"), sev: getSev, note: getNote},
			{what: escWSAttach, match: escCan("", "pods", "attach", "get"), sev: getSev, note: getNote},
			{what: escForward, match: escCan("", "pods", "portforward", "create", "get"), sev: Medium},
		}
		escRunHoldings(in, r, abilities, func(h escHolding, f *Finding) bool {
			// Exec or attach by create already says it: drop the websocket duplicates.
			h.held = slices.DeleteFunc(slices.Clone(h.held), func(a *escAbility) bool {
				return a.what == escWSExec && h.holds(escExec) || a.what == escWSAttach && h.holds(escAttach)
			})
			if getNote != "" && !h.holds(escWSExec) && !h.holds(escWSAttach) {
				f.Evidence = slices.DeleteFunc(f.Evidence, func(e string) bool { return e == getNote })
			}
			impact := "code runs as those pods' ServiceAccounts, with their tokens and mounted Secrets"
			if len(h.held) == 1 && h.holds(escForward) {
				impact = "it reaches their ports through the API server, past NetworkPolicies (admin and debug endpoints)"
			}
			f.Message = fmt.Sprintf("%s can %s %s: %s", h.Subject, h.whats(), h.Scope(), impact)
			f.Remediation = escRemedy(h, "update/patch on pods and create/get on pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers")
			return true
		})
	},
})

// escPSALabels are the Pod Security Admission labels of a namespace.
func escPSALabels(ns *corev1.Namespace) string {
	var out []string
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if v := ns.Labels["pod-security.kubernetes.io/"+mode]; v != "" {
			out = append(out, mode+"="+v)
		}
	}
	if len(out) == 0 {
		return "no pod-security labels"
	}
	return "pod-security " + strings.Join(out, ", ")
}

var escNamespacesCheck = register(&Check{
	ID:       "KW-ESC-003",
	Title:    "Can relabel namespaces (bypass Pod Security / NetworkPolicy)",
	Severity: Medium,
	Reads:    append([]inventory.Kind{inventory.Namespaces}, rbacKinds...),
	Refs:     []string{"kwid escalation primitive P16", "Kubernetes docs: Pod Security Admission (namespace labels)"},
	Summary: "patch/update on namespaces lets a subject change pod-security.kubernetes.io labels (run privileged " +
		"pods) and the labels NetworkPolicies select on. A RoleBinding granting it applies to the namespace object " +
		"of its own namespace (the API server gives a namespace request the namespace's name). Medium; high " +
		"cluster-wide or in a privileged namespace.",
	run: func(in *Input, r *run) {
		abilities := []escAbility{
			{what: "patch or update namespaces", match: escCan("", "namespaces", "", "patch", "update"), sev: Medium},
		}
		nsReadable := in.Snapshot.Readable(inventory.Namespaces)
		escRunHoldings(in, r, abilities, func(h escHolding, f *Finding) bool {
			if h.ClusterWide() {
				f.Message = fmt.Sprintf("%s can relabel every namespace: it can lift Pod Security enforcement (pod-security.kubernetes.io/enforce=privileged) and change the labels NetworkPolicies select on", h.Subject)
			} else {
				f.Message = fmt.Sprintf("%s can relabel namespace(s) %s (the RoleBinding covers the namespace object itself): it can lift Pod Security enforcement and change the labels NetworkPolicies select on", h.Subject, strings.Join(h.Namespaces(), ", "))
				if nsReadable {
					for _, name := range h.Namespaces() {
						for i := range in.Snapshot.Namespaces {
							if ns := &in.Snapshot.Namespaces[i]; ns.Name == name {
								f.Evidence = append(f.Evidence, fmt.Sprintf("namespace %s has %s", name, escPSALabels(ns)))
							}
						}
					}
				}
			}
			f.Remediation = escRemedy(h, "patch/update on namespaces")
			return true
		})
	},
})

// escEKS says whether the Snapshot is of an EKS cluster: true/false when known, and
// whether it is known.
func escEKS(s *inventory.Snapshot) (eks, known bool) {
	c := s.Cluster
	if strings.Contains(c.ServerVersion, "-eks-") || strings.Contains(c.Server, ".eks.amazonaws.com") || s.ConfigMap(inventory.SystemNamespace, inventory.AWSAuthConfigMap) != nil {
		return true, true
	}
	// A known non-EKS version with ConfigMaps read and no aws-auth: not EKS.
	return false, c.ServerVersion != "" && s.Readable(inventory.ConfigMaps)
}

var escAWSAuthCheck = register(&Check{
	ID:       "KW-ESC-004",
	Title:    "EKS: can rewrite aws-auth",
	Severity: Critical,
	Reads:    append([]inventory.Kind{inventory.ConfigMaps}, rbacKinds...),
	Refs:     []string{"kwid escalation primitive P17", "EKS best practices (IAM): the aws-auth ConfigMap", "CIS EKS 4.1.x"},
	Summary: "update/patch on ConfigMap kube-system/aws-auth (all ConfigMaps of kube-system, or resourceNames " +
		"including aws-auth), or delete plus create there, lets a subject map any IAM principal to system:masters. " +
		"Only meaningful on EKS with the CONFIG_MAP or API_AND_CONFIG_MAP authentication mode; critical on EKS, " +
		"high when the input does not say whether the cluster is EKS.",
	run: func(in *Input, r *run) {
		eks, known := escEKS(in.Snapshot)
		if known && !eks {
			return
		}
		aws := func(verb string) rbac.Request {
			return rbac.Request{Verb: verb, Resource: "configmaps", Namespace: inventory.SystemNamespace, Name: inventory.AWSAuthConfigMap}
		}
		abilities := []escAbility{
			{what: "update or patch ConfigMap kube-system/aws-auth", match: Allows(aws("update"), aws("patch")), sev: Critical, namespace: inventory.SystemNamespace},
			{what: "delete ConfigMap kube-system/aws-auth", match: Allows(aws("delete")), sev: Critical, namespace: inventory.SystemNamespace},
			{what: "create ConfigMaps in kube-system", match: Allows(rbac.Request{Verb: "create", Resource: "configmaps"}), sev: Critical, namespace: inventory.SystemNamespace},
		}
		escRunHoldings(in, r, abilities, func(h escHolding, f *Finding) bool {
			rewrite := h.holds(abilities[0].what)
			recreate := h.holds(abilities[1].what) && h.holds(abilities[2].what)
			if !rewrite && !recreate {
				return false
			}
			how := "rewrite"
			if !rewrite {
				how = "delete and re-create"
			}
			f.Message = fmt.Sprintf("%s can %s ConfigMap kube-system/aws-auth (%s): on EKS it can map any IAM role or user to system:masters (unless the cluster's authentication mode is API, access entries only)", h.Subject, how, h.whats())
			if !known {
				f.Severity = High
				f.Message += "; the input does not say whether this is an EKS cluster"
			}
			f.Related = append(f.Related, inventory.ObjectRef{Kind: inventory.ConfigMaps, Namespace: inventory.SystemNamespace, Name: inventory.AWSAuthConfigMap})
			f.Remediation = escRemedy(h, "update/patch/delete on configmaps in kube-system") +
				"; on EKS, move to access entries (aws eks update-cluster-config --access-config authenticationMode=API)"
			return true
		})
	},
})

var escStealPodsCheck = register(&Check{
	ID:       "KW-ESC-005",
	Title:    "Can steal powerful pods onto a node",
	Severity: High,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"kwid escalation primitive P18", "Kubernetes RBAC good practices"},
	Summary: "Deleting or evicting pods makes them reschedule; writing Nodes (taints, labels, cordon) or " +
		"nodes/status decides where. Together they pull powerful pods (and their tokens) onto a node the subject " +
		"controls. Node writes: high; pod delete/evict alone: medium in one namespace (it only moves pods), high " +
		"cluster-wide or in a privileged namespace; node writes plus cluster-wide pod delete/evict: critical.",
	run: func(in *Input, r *run) {
		abilities := []escAbility{
			{what: "delete pods", match: escCan("", "pods", "", "delete"), sev: Medium},
			{what: "evict pods", match: escCan("", "pods", "eviction", "create"), sev: Medium},
			{what: "update or patch Nodes", match: escCan("", "nodes", "", "update", "patch"), sev: High, wide: High, cluster: true},
			{what: "delete Nodes", match: escCan("", "nodes", "", "delete"), sev: High, wide: High, cluster: true},
			{what: "update or patch nodes/status", match: escCan("", "nodes", "status", "update", "patch"), sev: High, wide: High, cluster: true},
		}
		escRunHoldings(in, r, abilities, func(h escHolding, f *Finding) bool {
			nodes := h.holds(abilities[2].what) || h.holds(abilities[3].what) || h.holds(abilities[4].what)
			podsWide := false
			for _, g := range h.Grants {
				if g.Binding.ClusterWide() && (abilities[0].match(g.Rule()) || abilities[1].match(g.Rule())) {
					podsWide = true
				}
			}
			f.Message = fmt.Sprintf("%s can %s %s", h.Subject, h.whats(), h.Scope())
			switch {
			case nodes && podsWide:
				f.Severity = Critical
				f.Message += ": it can cordon or taint other nodes and evict pods so that powerful pods land on a node it controls"
			case nodes:
				f.Message += ": it can steer scheduling (taints, labels, cordon, node conditions) and, with pods deleted by their owners or disruptions, pull pods onto a node it controls"
			default:
				f.Message += ": it can force pods to reschedule (denial of service); with control of a node it can pull them there"
			}
			f.Remediation = escRemedy(h, "delete on pods, create on pods/eviction and update/patch/delete on nodes, nodes/status")
			return true
		})
	},
})

var escStatusCheck = register(&Check{
	ID:       "KW-ESC-006",
	Title:    "Status-subresource abuse",
	Severity: Medium,
	Reads:    slices.Clone(rbacKinds),
	Refs:     []string{"kwid escalation primitives P19-P21", "CVE-2020-8554"},
	Summary: "update/patch on nodes/status steers scheduling (medium); on services/status sets a LoadBalancer " +
		"ingress IP and intercepts traffic to it cluster-wide, CVE-2020-8554 (medium); on pods/status changes pod " +
		"conditions and IPs seen by endpoints (low). Raised one step cluster-wide or in a privileged namespace.",
	run: func(in *Input, r *run) {
		abilities := []escAbility{
			{what: "update or patch nodes/status", match: escCan("", "nodes", "status", "update", "patch"), sev: Medium, wide: Medium, cluster: true},
			{what: "update or patch services/status", match: escCan("", "services", "status", "update", "patch"), sev: Medium},
			{what: "update or patch pods/status", match: escCan("", "pods", "status", "update", "patch"), sev: Low},
		}
		escRunHoldings(in, r, abilities, func(h escHolding, f *Finding) bool {
			var impact []string
			if h.holds(abilities[0].what) {
				impact = append(impact, "fake node conditions, capacity and addresses to steer scheduling")
			}
			if h.holds(abilities[1].what) {
				impact = append(impact, "set a LoadBalancer ingress IP on a Service to intercept traffic to that IP (CVE-2020-8554)")
			}
			if h.holds(abilities[2].what) {
				impact = append(impact, "change pod conditions and IPs that Endpoints follow")
			}
			f.Message = fmt.Sprintf("%s can %s %s: it can %s", h.Subject, h.whats(), h.Scope(), escJoinList(impact))
			f.Remediation = escRemedy(h, "update/patch on */status subresources")
			return true
		})
	},
})

// escAPIToken says whether a pod spec carries a token the API server accepts: the
// automounted one (pod setting, else ServiceAccount setting, else true) or a projected
// serviceAccountToken without audience (the API server's own).
func escAPIToken(s *inventory.Snapshot, namespace string, spec *corev1.PodSpec) (bool, string) {
	sa := spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	switch {
	case spec.AutomountServiceAccountToken != nil:
		if *spec.AutomountServiceAccountToken {
			return true, "automounted token (pod sets automountServiceAccountToken: true)"
		}
	default:
		if o := s.ServiceAccount(namespace, sa); o == nil || o.AutomountServiceAccountToken == nil || *o.AutomountServiceAccountToken {
			return true, "automounted token"
		}
	}
	for _, v := range spec.Volumes {
		if v.Projected == nil || strings.HasPrefix(v.Name, "kube-api-access-") {
			continue
		}
		for _, src := range v.Projected.Sources {
			if t := src.ServiceAccountToken; t != nil && t.Audience == "" {
				return true, fmt.Sprintf("projected API token in volume %s", v.Name)
			}
		}
	}
	return false, ""
}

type escNodeToken struct {
	sa   inventory.ObjectRef
	tier Tier
	why  string
	pods []string
}

var escNodeTokensCheck = register(&Check{
	ID:       "KW-ESC-007",
	Title:    "Powerful tokens spread across nodes",
	Severity: High,
	Reads:    append([]inventory.Kind{inventory.Pods, inventory.Nodes, inventory.DaemonSets, inventory.ServiceAccounts}, rbacKinds...),
	Refs:     []string{"kwid catalog KW-ESC-007", "Kubernetes docs: ServiceAccount tokens (bound tokens)", "Kubernetes RBAC good practices"},
	Summary: "Whoever breaks out of any container on a node reads every token mounted on it. Per node, the ServiceAccounts " +
		"of running pods whose token the API server accepts, rated by their rights: a node holding a high or critical " +
		"token is reported (high). A DaemonSet whose ServiceAccount is high (high) or critical (critical) puts that " +
		"token on every node.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) || !r.need("", inventory.ServiceAccounts) {
			return
		}
		s := in.Snapshot
		if r.need("(a) tokens per node", inventory.Pods, inventory.Nodes) {
			byNode := map[string][]*escNodeToken{}
			for i := range s.Pods {
				p := &s.Pods[i]
				if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
					continue
				}
				if ok, _ := escAPIToken(s, p.Namespace, &p.Spec); !ok {
					continue
				}
				sa := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: p.Namespace, Name: escOr(p.Spec.ServiceAccountName, "default")}
				tier, why := in.ServiceAccountTier(sa.Namespace, sa.Name)
				if tier < TierHigh {
					continue
				}
				list := byNode[p.Spec.NodeName]
				idx := slices.IndexFunc(list, func(t *escNodeToken) bool { return t.sa == sa })
				if idx < 0 {
					list = append(list, &escNodeToken{sa: sa, tier: tier, why: why})
					byNode[p.Spec.NodeName] = list
					idx = len(list) - 1
				}
				list[idx].pods = append(list[idx].pods, p.Namespace+"/"+p.Name)
			}
			for i := range s.Nodes {
				n := &s.Nodes[i]
				tokens := byNode[n.Name]
				if len(tokens) == 0 {
					continue
				}
				slices.SortStableFunc(tokens, func(a, b *escNodeToken) int { return int(b.tier) - int(a.tier) })
				f := Finding{
					Severity: High,
					Object:   inventory.ObjectRef{Kind: inventory.Nodes, Name: n.Name},
				}
				crit := 0
				for _, t := range tokens {
					f.Related = append(f.Related, t.sa)
					f.Evidence = append(f.Evidence, fmt.Sprintf("%s token of %s via Pod %s: %s", t.tier, t.sa, escCapList(t.pods, 3), t.why))
					if t.tier == TierCritical {
						crit++
					}
				}
				f.Message = fmt.Sprintf("Node %s holds the API tokens of %d powerful ServiceAccount(s) (%d critical, highest: %s): escaping any container on it yields them", n.Name, len(tokens), crit, tokens[0].sa)
				f.Remediation = "Keep powerful tokens off shared nodes: set automountServiceAccountToken: false where the API is not called, cut the ServiceAccounts' rights (kwid access sa:NS/NAME), or isolate these pods on a dedicated node group (taints, tolerations and nodeSelector)"
				r.add(f)
			}
		}
		if r.need("(b) DaemonSets", inventory.DaemonSets) {
			for i := range s.DaemonSets {
				d := &s.DaemonSets[i]
				spec := &d.Spec.Template.Spec
				ok, how := escAPIToken(s, d.Namespace, spec)
				if !ok {
					continue
				}
				sa := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: d.Namespace, Name: escOr(spec.ServiceAccountName, "default")}
				tier, why := in.ServiceAccountTier(sa.Namespace, sa.Name)
				if tier < TierHigh {
					continue
				}
				ref := inventory.ObjectRef{Kind: inventory.DaemonSets, Namespace: d.Namespace, Name: d.Name}
				f := Finding{
					Severity: High,
					Message:  fmt.Sprintf("DaemonSet %s/%s puts the token of %s (%s rights) on every node it runs on: escaping any container on any such node yields it", d.Namespace, d.Name, sa, tier),
					Object:   ref,
					Related:  []inventory.ObjectRef{sa},
					Evidence: []string{how, fmt.Sprintf("%s %s", sa, why)},
					Remediation: fmt.Sprintf("Give the agent only the rights it needs (kwid access sa:%s/%s), or if it does not call the API: %s",
						sa.Namespace, sa.Name, automountRemedy(ref)),
				}
				if tier == TierCritical {
					f.Severity = Critical
				}
				r.add(f)
			}
		}
	},
})

func escOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// escControllerSAs are the ServiceAccounts kube-controller-manager's controllers
// run as (--use-service-account-credentials), in kube-system.
var escControllerSAs = []string{
	"attachdetach-controller", "bootstrap-signer", "certificate-controller", "clusterrole-aggregation-controller",
	"cronjob-controller", "daemon-set-controller", "deployment-controller", "disruption-controller",
	"endpoint-controller", "endpointslice-controller", "endpointslicemirroring-controller",
	"ephemeral-volume-controller", "expand-controller", "generic-garbage-collector", "horizontal-pod-autoscaler",
	"job-controller", "legacy-service-account-token-cleaner", "namespace-controller", "node-controller",
	"persistent-volume-binder", "pod-garbage-collector", "pv-protection-controller", "pvc-protection-controller",
	"replicaset-controller", "replication-controller", "resource-claim-controller", "resourcequota-controller",
	"root-ca-cert-publisher", "route-controller", "selinux-warning-controller", "service-account-controller",
	"service-cidrs-controller", "service-controller", "statefulset-controller", "token-cleaner",
	"ttl-after-finished-controller", "ttl-controller", "validatingadmissionpolicy-status-controller",
	"volumeattributesclass-protection-controller",
}

var escControllerSACheck = register(&Check{
	ID:       "KW-ESC-008",
	Title:    "Pods run as kube-system controller ServiceAccounts",
	Severity: Critical,
	Reads:    append(append([]inventory.Kind{inventory.ServiceAccounts}, rbacKinds...), workloadKinds...),
	Refs:     []string{"kwid catalog KW-ESC-008", "Kubernetes docs: controller roles (system:controller:*)"},
	Summary: "kube-controller-manager's controllers each run as a ServiceAccount of kube-system bound to a " +
		"system:controller:* role (generic-garbage-collector can delete anything, namespace-controller can delete " +
		"every namespace's content...). A pod running as one of them holds those rights for whoever gets into it. " +
		"Detected by name and by a binding to a system:controller:* role. Critical.",
	run: func(in *Input, r *run) {
		if !r.needWorkloads("") {
			return
		}
		controllerRoles := map[string][]string{} // kube-system SA -> system:controller:* roles bound
		if in.Snapshot.Readable(rbacKinds...) {
			for _, b := range in.RBAC.Bindings() {
				if !strings.HasPrefix(b.RoleRef.Name, "system:controller:") {
					continue
				}
				for i := range b.Subjects {
					if ref, ok := subjectRef(&b.Subjects[i], b); ok && ref.Kind == inventory.ServiceAccounts && ref.Namespace == inventory.SystemNamespace {
						role := b.RoleRef.Kind + " " + b.RoleRef.Name
						if !slices.Contains(controllerRoles[ref.Name], role) {
							controllerRoles[ref.Name] = append(controllerRoles[ref.Name], role)
						}
					}
				}
			}
		}
		for _, w := range in.Workloads() {
			if w.Controlled || w.Ref.Namespace != inventory.SystemNamespace {
				continue
			}
			name := w.ServiceAccountName()
			roles := controllerRoles[name]
			if !slices.Contains(escControllerSAs, name) && len(roles) == 0 {
				continue
			}
			sa := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: inventory.SystemNamespace, Name: name}
			f := Finding{
				Severity: Critical,
				Message:  fmt.Sprintf("%s runs as %s, a kube-controller-manager controller identity: whoever runs code in it acts as that controller", w.Ref, sa),
				Object:   w.Ref,
				Related:  []inventory.ObjectRef{sa},
				Evidence: []string{"serviceAccountName: " + name},
				Remediation: fmt.Sprintf("Create a dedicated ServiceAccount with only the rights %s needs and switch to it: %s",
					w.Ref, dedicatedSARemedy(w.Ref)),
			}
			if slices.Contains(escControllerSAs, name) {
				f.Evidence = append(f.Evidence, name+" is a kube-controller-manager controller ServiceAccount")
			}
			if len(roles) > 0 {
				f.Evidence = append(f.Evidence, "bound to "+strings.Join(roles, ", "))
			}
			if in.Snapshot.Readable(rbacKinds...) {
				if tier, why := in.ServiceAccountTier(sa.Namespace, sa.Name); tier > TierNone {
					f.Evidence = append(f.Evidence, fmt.Sprintf("%s rights: %s", tier, why))
				}
			}
			r.add(f)
		}
	},
})
