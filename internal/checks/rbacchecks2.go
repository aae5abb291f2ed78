package checks

// KW-RBAC-007 to KW-RBAC-015 (see rbacchecks.go for the shared machinery).

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// --- KW-RBAC-007 ---------------------------------------------------------------------

var rbacMastersCheck = register(&Check{
	ID:       "KW-RBAC-007",
	Title:    "Avoid system:masters",
	Severity: High,
	Reads:    append(slices.Clone(rbacKinds), inventory.ConfigMaps),
	Refs:     []string{"CIS Kubernetes 5.1.7", "CIS GKE 4.1.6"},
	Summary: "Members of group system:masters bypass RBAC: their access cannot be revoked by " +
		"editing a binding. High for (a) every binding that names Group system:masters, except the " +
		"built-in cluster-admin ClusterRoleBinding (label kubernetes.io/bootstrapping: " +
		"rbac-defaults); (b) on EKS, every IAM role or user that ConfigMap kube-system/aws-auth maps " +
		"to system:masters (one finding for the ConfigMap, naming each ARN). A malformed aws-auth " +
		"is reported as not assessed with the parse error. Client certificates and CSRs with " +
		"O=system:masters, and audit events from that group, are not in a Snapshot and are not " +
		"assessed here.",
	run: func(in *Input, r *run) {
		c := newRBACScan(in, r)
		if r.need("(a) bindings naming system:masters", inventory.RoleBindings, inventory.ClusterRoleBindings) {
			for _, b := range in.RBAC.Bindings() {
				if b.ClusterWide() && b.Name == rbacClusterAdmin && c.bindingLabels(b)[rbacBootstrapKey] == rbacBootstrapVal {
					continue // the API server's own break-glass binding
				}
				for i := range b.Subjects {
					s := &b.Subjects[i]
					if s.Kind != rbacv1.GroupKind || s.Name != rbac.GroupMasters {
						continue
					}
					r.add(Finding{
						Severity: High,
						Message: fmt.Sprintf("%s names Group system:masters (with %s %s): members of that group bypass RBAC, so credentials carrying it exist or are expected",
							rbacBindingName(b), b.RoleRef.Kind, b.RoleRef.Name),
						Object:   b.Ref(),
						Related:  []inventory.ObjectRef{{Kind: "Group", Name: rbac.GroupMasters}},
						Evidence: []string{fmt.Sprintf("%s subject %d: Group system:masters", rbacBindingName(b), i+1)},
						Remediation: "Give admins a named group bound to cluster-admin (revocable by deleting the binding), stop issuing system:masters credentials, then: " +
							rbacRevoke([]rbacBindingSubject{{b, s}}),
					})
					break
				}
			}
		}
		c.awsAuthMasters()
	},
})

// bindingLabels returns the labels of a binding's object.
func (c *rbacScan) bindingLabels(b *rbac.Binding) map[string]string {
	s := c.in.Snapshot
	if b.ClusterWide() {
		i, ok := slices.BinarySearchFunc(s.ClusterRoleBindings, b.Name, func(x rbacv1.ClusterRoleBinding, n string) int { return strings.Compare(x.Name, n) })
		if ok {
			return s.ClusterRoleBindings[i].Labels
		}
		return nil
	}
	// Snapshot slices are sorted by namespace, then name.
	i, ok := slices.BinarySearchFunc(s.RoleBindings, [2]string{b.Namespace, b.Name}, func(x rbacv1.RoleBinding, k [2]string) int {
		return cmp.Or(strings.Compare(x.Namespace, k[0]), strings.Compare(x.Name, k[1]))
	})
	if ok {
		return s.RoleBindings[i].Labels
	}
	return nil
}

// awsAuthMasters is KW-RBAC-007 (b): aws-auth entries that map IAM principals to
// system:masters.
func (c *rbacScan) awsAuthMasters() {
	const part = "(b) EKS aws-auth ConfigMap"
	s := c.in.Snapshot
	st := s.StatusOf(inventory.ConfigMaps)
	switch {
	case st.Readable():
	case st.State == inventory.Absent || st.State == "":
		// aws-auth exists only on EKS: its absence from the input of another cluster is no gap.
		if rbacLooksLikeEKS(s) {
			c.r.notAssessed(part, []string{st.Reason(inventory.ConfigMaps) + " (an EKS cluster keeps IAM mappings in kube-system/aws-auth)"})
		}
		return
	default:
		c.r.notAssessed(part, []string{st.Reason(inventory.ConfigMaps)})
		return
	}
	cm := s.ConfigMap(inventory.SystemNamespace, inventory.AWSAuthConfigMap)
	if cm == nil {
		return
	}
	mappings, errs := rbacParseAWSAuth(cm.Data)
	if len(errs) > 0 {
		var reasons []string
		for _, err := range errs {
			reasons = append(reasons, err.Error())
		}
		c.r.notAssessed(part, reasons)
	}
	var masters []rbacAWSAuthMapping
	for _, m := range mappings {
		if slices.Contains(m.Groups, rbac.GroupMasters) {
			masters = append(masters, m)
		}
	}
	if len(masters) == 0 {
		return
	}
	var who, ev []string
	for _, m := range masters {
		who = append(who, m.principal())
		ev = append(ev, fmt.Sprintf("%s entry %d: %s %s, username %q, groups %s", m.Key, m.Index, m.kind(), m.ARN, m.Username, strings.Join(m.Groups, ", ")))
		if m.Key == "mapUsers" {
			ev = append(ev, fmt.Sprintf("%s is an IAM user: its long-lived access keys are cluster-admin credentials that RBAC cannot revoke", m.ARN))
		}
	}
	c.r.add(Finding{
		Severity: High,
		Message: fmt.Sprintf("ConfigMap kube-system/aws-auth maps %d IAM principal(s) to group system:masters, which bypasses RBAC: %s",
			len(masters), strings.Join(who, ", ")),
		Object:   inventory.ObjectRef{Kind: inventory.ConfigMaps, Namespace: inventory.SystemNamespace, Name: inventory.AWSAuthConfigMap},
		Related:  []inventory.ObjectRef{{Kind: "Group", Name: rbac.GroupMasters}},
		Evidence: ev,
		Remediation: "Map these principals to a named group bound to cluster-admin by a ClusterRoleBinding (or move to EKS access entries " +
			"with AmazonEKSClusterAdminPolicy for a break-glass role only), then remove system:masters from their groups: kubectl edit configmap aws-auth -n kube-system",
	})
}

// rbacLooksLikeEKS reports whether a Snapshot comes from an EKS cluster.
func rbacLooksLikeEKS(s *inventory.Snapshot) bool {
	if strings.Contains(s.Cluster.Server, ".eks.amazonaws.com") || strings.Contains(s.Cluster.OIDCIssuer, "oidc.eks.") {
		return true
	}
	for i := range s.Nodes {
		for k := range s.Nodes[i].Labels {
			if strings.HasPrefix(k, "eks.amazonaws.com/") {
				return true
			}
		}
	}
	for i := range s.ClusterRoleBindings {
		if strings.HasPrefix(s.ClusterRoleBindings[i].Name, "eks:") {
			return true
		}
	}
	return false
}

// rbacAWSAuthMapping is one entry of aws-auth mapRoles or mapUsers.
type rbacAWSAuthMapping struct {
	Key   string // mapRoles or mapUsers
	Index int    // 1-based
	// ARN is rolearn (mapRoles) or userarn (mapUsers).
	ARN      string
	Username string
	Groups   []string
}

func (m rbacAWSAuthMapping) kind() string {
	if m.Key == "mapUsers" {
		return "IAM user"
	}
	return "IAM role"
}

// principal names the IAM principal briefly: "IAM role PlatformAdmins (arn...)".
func (m rbacAWSAuthMapping) principal() string {
	name := m.ARN
	if i := strings.LastIndex(m.ARN, "/"); i >= 0 {
		name = m.ARN[i+1:]
	}
	return m.kind() + " " + name
}

// rbacParseAWSAuth reads the mapRoles and mapUsers keys of aws-auth: YAML lists of
// {rolearn|userarn, username, groups}. An unreadable key yields an error and no entries;
// the other key is still read.
func rbacParseAWSAuth(data map[string]string) ([]rbacAWSAuthMapping, []error) {
	ms, errs := cloud.ParseAWSAuth(data)
	out := make([]rbacAWSAuthMapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, rbacAWSAuthMapping{Key: m.Key, Index: m.Index, ARN: m.PrincipalARN, Username: m.Username, Groups: m.Groups})
	}
	return out, errs
}

// --- KW-RBAC-008 ---------------------------------------------------------------------

var rbacBindEscalateCheck = register(&Check{
	ID:       "KW-RBAC-008",
	Title:    "Limit bind, escalate and impersonate",
	Severity: Critical,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.8", "CIS EKS 4.1.8", "CIS GKE 4.1.7", "CIS AKS 4.1.7", "Kubernetes RBAC good practices"},
	Summary: "One finding per subject and verb: bind or escalate on Roles/ClusterRoles, impersonate " +
		"on users, groups, ServiceAccounts, uids or userextras. Each lets the subject grant itself " +
		"rights it does not hold. Critical cluster-wide or in a privileged namespace, high within " +
		"one namespace; one step lower when the verb cannot be used alone today (bind without a " +
		"right to write bindings, escalate without a right to write roles, impersonation of uids " +
		"or userextras only); medium when limited by resourceNames, unless the names include " +
		"cluster-admin, admin or system:masters (critical).",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		roleAsks := func(verb string) []rbacAsk {
			return []rbacAsk{
				{req: rbac.Request{Verb: verb, APIGroup: rbacGroup, Resource: "roles"}, named: true},
				// bind on clusterroles is checked in the new binding's namespace, so a
				// RoleBinding grants it there; escalate on clusterroles is cluster-scoped.
				{req: rbac.Request{Verb: verb, APIGroup: rbacGroup, Resource: "clusterroles"}, named: true, cluster: verb == "escalate"},
			}
		}
		impersonate := []rbacAsk{
			{req: rbac.Request{Verb: "impersonate", Resource: "users"}, named: true, cluster: true},
			{req: rbac.Request{Verb: "impersonate", Resource: "groups"}, named: true, cluster: true},
			{req: rbac.Request{Verb: "impersonate", Resource: "serviceaccounts"}, named: true},
			{req: rbac.Request{Verb: "impersonate", APIGroup: "authentication.k8s.io", Resource: "uids"}, named: true, cluster: true},
			{req: rbac.Request{Verb: "impersonate", APIGroup: "authentication.k8s.io", Resource: "userextras", Subresource: "*"}, named: true, cluster: true},
		}
		writeBindings := rbacWriteAsks("rolebindings", "clusterrolebindings")
		writeRoles := rbacWriteAsks("roles", "clusterroles")
		parts := []struct {
			verb      string
			asks      []rbacAsk
			companion []rbacAsk
			effect    string
			needs     string
		}{
			{"bind", roleAsks("bind"), writeBindings, "can bind any role it names to anyone, itself included", "right to create or update bindings"},
			{"escalate", roleAsks("escalate"), writeRoles, "can write any permission into roles, beyond its own", "right to create or update roles"},
			{"impersonate", impersonate, nil, "can act as other users, groups or ServiceAccounts", ""},
		}
		for _, p := range parts {
			var companion rbacBySubject
			if p.companion != nil {
				companion = rbacHeldBySubject(in, p.companion)
			}
			for _, h := range rbacHolders(in, p.asks) {
				broad := h.only(rbacAnyName)
				var sev Severity
				var msg string
				if len(broad.hits) > 0 {
					h = broad
					sev = High
					if h.ClusterWide() || h.inPrivileged(in.Config) {
						sev = Critical
					}
					msg = fmt.Sprintf("%s can %s %s %s: it %s", rbacName(h.Subject), p.verb, rbacAskTargets(h, p.asks), h.Scope(), p.effect)
				} else {
					names := h.names()
					sev = Medium
					if slices.ContainsFunc(names, func(n string) bool {
						return n == rbacClusterAdmin || n == "admin" || n == rbac.GroupMasters
					}) {
						sev = Critical
					}
					msg = fmt.Sprintf("%s can %s %s named %s %s: it %s, limited to these names", rbacName(h.Subject), p.verb, rbacAskTargets(h, p.asks), strings.Join(names, ", "), h.Scope(), p.effect)
				}
				f := c.finding(h, sev, msg, fmt.Sprintf("Remove %s from the role, or limit it with resourceNames to what the subject must manage.", p.verb))
				switch {
				case companion != nil && !rbacHasCompanion(h, companion):
					f.Severity = max(Medium, f.Severity-1)
					f.Evidence = append(f.Evidence, fmt.Sprintf("%s has no %s in the same scope, so %s is not usable alone today", rbacName(h.Subject), p.needs, p.verb))
				case p.verb == "impersonate" && !h.has(0, 1, 2):
					f.Severity = max(Low, f.Severity-1)
					f.Evidence = append(f.Evidence, "only uids or userextras: impersonating them requires impersonating a user too")
				}
				r.add(f)
			}
		}
	},
})

// rbacWriteAsks are create, update and patch on a namespaced and a cluster-scoped resource
// of the RBAC group.
func rbacWriteAsks(namespaced, clusterScoped string) []rbacAsk {
	var out []rbacAsk
	for _, v := range []string{"create", "update", "patch"} {
		out = append(out,
			rbacAsk{req: rbac.Request{Verb: v, APIGroup: rbacGroup, Resource: namespaced}, named: v != "create"},
			rbacAsk{req: rbac.Request{Verb: v, APIGroup: rbacGroup, Resource: clusterScoped}, named: v != "create", cluster: true})
	}
	return out
}

// rbacHasCompanion reports whether the subject's effective rights (its groups included)
// hold a companion ask where one of its hits applies (anywhere, for a cluster-wide hit).
// A companion limited by resourceNames counts: editing one existing binding is enough.
func rbacHasCompanion(h rbacHeld, companion rbacBySubject) bool {
	clusterWide, namespaces := h.ClusterWide(), h.Namespaces()
	for _, part := range companion.parts(h.Subject) {
		for _, hit := range part.hits {
			if ns := hit.grant.Namespace(); ns == "" || clusterWide || slices.Contains(namespaces, ns) {
				return true
			}
		}
	}
	return false
}

// rbacAskTargets names the resources of the asks a holder holds: "users, groups".
func rbacAskTargets(h rbacHeld, asks []rbacAsk) string {
	var out []string
	for i, a := range asks {
		if h.has(i) {
			res := a.req.Resource
			if a.req.Subresource != "" {
				res += "/" + a.req.Subresource
			}
			if !slices.Contains(out, res) {
				out = append(out, res)
			}
		}
	}
	return strings.Join(out, ", ")
}

// --- KW-RBAC-009 ---------------------------------------------------------------------

var rbacPVCheck = register(&Check{
	ID:       "KW-RBAC-009",
	Title:    "Minimize PersistentVolume creation",
	Severity: High,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.9", "CIS EKS 4.1.9", "CIS AKS 4.1.8", "Kubernetes RBAC good practices"},
	Summary: "One finding per subject that can create PersistentVolumes: a hostPath volume gives the " +
		"pod that claims it the node's filesystem (kubelet credentials, other pods' tokens). High; " +
		"critical when the subject can also create Pods and PersistentVolumeClaims in one namespace " +
		"(the whole path). Volume provisioners are expected and allowlisted: ServiceAccounts whose " +
		"workloads run a *provisioner image (CSI external-provisioner and the like), and subjects " +
		"that hold the right only through ClusterRole system:persistent-volume-provisioner.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		asks := []rbacAsk{{req: rbac.Request{Verb: "create", Resource: "persistentvolumes"}, cluster: true}}
		var mount rbacBySubject // create pods (0) and PersistentVolumeClaims (1)
		for _, h := range rbacHolders(in, asks) {
			if mount == nil {
				mount = rbacHeldBySubject(in, []rbacAsk{
					{req: rbac.Request{Verb: "create", Resource: "pods"}},
					{req: rbac.Request{Verb: "create", Resource: "persistentvolumeclaims"}},
				})
			}
			sev := High
			eff := mount.effective(h.Subject)
			chain := ""
			if rbacOverlap(eff.where(0), eff.where(1)) {
				sev = Critical
				chain = ", and Pods and PersistentVolumeClaims that mount them"
			}
			msg := fmt.Sprintf("%s can create PersistentVolumes%s (a hostPath volume exposes a node's filesystem)", rbacName(h.Subject), chain)
			f := c.finding(h, sev, msg, "Remove create on persistentvolumes; workloads should request storage through PersistentVolumeClaims and a StorageClass.")
			if why := c.provisioner(h); why != "" && !in.Config.NoDefaultAllowlist {
				r.res.Allowlisted = append(r.res.Allowlisted, Allowlisted{Check: r.check.ID, Object: f.Object, Reason: why})
				continue
			}
			r.add(f)
		}
	},
})

// provisioner says why a subject is a volume provisioner, or "".
func (c *rbacScan) provisioner(h rbacHeld) string {
	if !slices.ContainsFunc(h.Grants, func(g rbac.Grant) bool {
		return g.Binding.RoleRef.Kind != "ClusterRole" || g.Binding.RoleRef.Name != "system:persistent-volume-provisioner"
	}) {
		return "holds the right through the built-in ClusterRole system:persistent-volume-provisioner"
	}
	if h.Subject.Kind != inventory.ServiceAccounts {
		return ""
	}
	for _, im := range c.workloads().images[[2]string{h.Subject.Namespace, h.Subject.Name}] {
		repo := im.image
		if i := strings.LastIndex(repo, "/"); i >= 0 {
			repo = repo[i+1:]
		}
		repo, _, _ = strings.Cut(repo, "@")
		repo, _, _ = strings.Cut(repo, ":")
		if strings.Contains(repo, "provisioner") {
			return fmt.Sprintf("volume provisioner: %s runs %s", im.ref, im.image)
		}
	}
	return ""
}

// --- KW-RBAC-010 ---------------------------------------------------------------------

var rbacNodeProxyCheck = register(&Check{
	ID:       "KW-RBAC-010",
	Title:    "Minimize nodes/proxy",
	Severity: Critical,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.10", "CIS EKS 4.1.10", "CIS AKS 4.1.9", "Kubernetes RBAC good practices"},
	Summary: "One finding per subject with get, create or * on nodes/proxy: the kubelet API runs " +
		"commands in any pod of the node, past audit logging and admission. get is enough " +
		"(websocket exec arrives as GET). Critical on every node (nodes are cluster-scoped, so only " +
		"a ClusterRoleBinding grants it); high when limited to nodes named by resourceNames.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		var asks []rbacAsk
		for _, v := range []string{"get", "create"} {
			asks = append(asks, rbacAsk{req: rbac.Request{Verb: v, Resource: "nodes", Subresource: "proxy"}, named: true, cluster: true})
		}
		for _, h := range rbacHolders(in, asks) {
			verbs := rbacAskVerbs(h, asks)
			advice := "Use the kubelet's read-only subresources (nodes/metrics, nodes/stats, nodes/log) instead of nodes/proxy."
			if broad := h.only(rbacAnyName); len(broad.hits) > 0 {
				msg := fmt.Sprintf("%s can %s nodes/proxy on every node (runs commands in any pod through the kubelet, bypassing audit and admission)", rbacName(h.Subject), verbs)
				r.add(c.finding(broad, Critical, msg, advice))
				continue
			}
			msg := fmt.Sprintf("%s can %s nodes/proxy on nodes %s (runs commands in their pods through the kubelet)", rbacName(h.Subject), verbs, strings.Join(h.names(), ", "))
			r.add(c.finding(h, High, msg, advice))
		}
	},
})

// rbacAskVerbs names the verbs of the asks a holder holds: "get, create".
func rbacAskVerbs(h rbacHeld, asks []rbacAsk) string {
	var out []string
	for i, a := range asks {
		if h.has(i) && !slices.Contains(out, a.req.Verb) {
			out = append(out, a.req.Verb)
		}
	}
	return strings.Join(out, ", ")
}

// --- KW-RBAC-011 ---------------------------------------------------------------------

const rbacCertGroup = "certificates.k8s.io"

var rbacCSRCheck = register(&Check{
	ID:       "KW-RBAC-011",
	Title:    "Minimize CSR approval",
	Severity: Critical,
	Reads:    rbacKinds,
	Refs:     []string{"CIS Kubernetes 5.1.11", "CIS AKS 4.1.10"},
	Summary: "Issuing a client certificate for any user or group (system:masters included) takes " +
		"three rights: (1) update or patch certificatesigningrequests/approval, (2) approve on " +
		"signers covering kubernetes.io/kube-apiserver-client (resourceNames empty, or listing it or " +
		"kubernetes.io/*), (3) create certificatesigningrequests. Judged on each subject's " +
		"effective rights, its groups included. Critical with all three; high with (1) and (2) " +
		"(approves CSRs that others create); medium with (3) and one of (1), (2) (one right away). " +
		"A single part is not reported. A CSR's name is chosen by its creator, so (1) limited by " +
		"resourceNames still counts.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		csr := func(verb, sub string) rbac.Request {
			return rbac.Request{Verb: verb, APIGroup: rbacCertGroup, Resource: "certificatesigningrequests", Subresource: sub}
		}
		signer := func(name string) rbac.Request {
			return rbac.Request{Verb: "approve", APIGroup: rbacCertGroup, Resource: "signers", Name: name}
		}
		asks := []rbacAsk{
			{req: csr("update", "approval"), named: true, cluster: true},
			{req: csr("patch", "approval"), named: true, cluster: true},
			{req: signer("kubernetes.io/kube-apiserver-client"), cluster: true},
			{req: signer("kubernetes.io/*"), cluster: true},
			{req: csr("create", ""), cluster: true},
		}
		partNames := []string{"(1) update/patch certificatesigningrequests/approval", "(2) approve on signer kubernetes.io/kube-apiserver-client", "(3) create certificatesigningrequests"}
		partOf := []int{0, 0, 1, 1, 2}
		var all rbacBySubject
		for _, h := range rbacHolders(in, asks[:4]) {
			// The subject's effective rights, groups included, for all three parts.
			if all == nil {
				all = rbacHeldBySubject(in, asks)
			}
			eff := all.effective(h.Subject)
			var held [3]bool
			for _, hit := range eff.hits {
				held[partOf[hit.ask]] = true
			}
			var have, lack []string
			for i, ok := range held {
				if ok {
					have = append(have, partNames[i])
				} else {
					lack = append(lack, partNames[i])
				}
			}
			var sev Severity
			var msg string
			switch {
			case held[0] && held[1] && held[2]:
				sev = Critical
				msg = fmt.Sprintf("%s can create, approve and so obtain client certificates for any user or group, system:masters included", rbacName(h.Subject))
			case held[0] && held[1]:
				sev = High
				msg = fmt.Sprintf("%s can approve kube-apiserver-client CSRs that others create: a certificate for any user or group, system:masters included", rbacName(h.Subject))
			case held[2]:
				sev = Medium
				msg = fmt.Sprintf("%s holds two of the three rights to issue itself any client certificate (lacks %s)", rbacName(h.Subject), strings.Join(lack, "; "))
			default:
				continue
			}
			f := c.finding(eff, sev, msg, "Approve CSRs with a dedicated approver limited by resourceNames to the signers it serves (never kubernetes.io/kube-apiserver-client), and keep create on CSRs away from it.")
			f.Evidence = append(f.Evidence, "holds: "+strings.Join(have, "; "))
			if len(lack) > 0 {
				f.Evidence = append(f.Evidence, "lacks: "+strings.Join(lack, "; "))
			}
			r.add(f)
		}
	},
})

// --- KW-RBAC-012 ---------------------------------------------------------------------

var rbacWebhookCheck = register(&Check{
	ID:       "KW-RBAC-012",
	Title:    "Minimize webhook configuration access",
	Severity: High,
	Reads:    append(slices.Clone(rbacKinds), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.12", "CIS EKS 4.1.11", "CIS AKS 4.1.11"},
	Summary: "One finding per subject that can create, update or patch Validating or " +
		"MutatingWebhookConfigurations (high: it can send every admitted object, Secrets " +
		"included, to a server of its choice, and mutate pods), or only delete them or only update " +
		"named ones (medium: it can switch admission controls off, or repoint those webhooks). " +
		"Webhook configurations are cluster-scoped: only ClusterRoleBindings grant these rights.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		var asks []rbacAsk
		const adm = "admissionregistration.k8s.io"
		for _, res := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
			for _, v := range []string{"create", "update", "patch", "delete", "deletecollection"} {
				asks = append(asks, rbacAsk{req: rbac.Request{Verb: v, APIGroup: adm, Resource: res}, named: v != "create" && v != "deletecollection", cluster: true})
			}
		}
		write := func(hit rbacHit) bool {
			v := asks[hit.ask].req.Verb
			return v == "create" || v == "update" || v == "patch"
		}
		for _, h := range rbacHolders(in, asks) {
			w := h.only(write)
			broadWrite := w.only(rbacAnyName)
			targets := func(x rbacHeld) string { return rbacAskTargets(x, asks) }
			switch {
			case len(broadWrite.hits) > 0:
				msg := fmt.Sprintf("%s can %s %s (sends every admitted object to a server of its choice, or mutates pods)", rbacName(h.Subject), rbacAskVerbs(broadWrite, asks), targets(broadWrite))
				r.add(c.finding(broadWrite, High, msg, "Limit update/patch to the webhook configurations the subject manages with resourceNames, and remove create."))
			case len(w.hits) > 0:
				msg := fmt.Sprintf("%s can %s the named %s %s (repoints those webhooks)", rbacName(h.Subject), rbacAskVerbs(w, asks), targets(w), strings.Join(w.names(), ", "))
				r.add(c.finding(w, Medium, msg, "Check that the subject must manage these webhook configurations."))
			default:
				msg := fmt.Sprintf("%s can %s %s (switches admission controls off)", rbacName(h.Subject), rbacAskVerbs(h, asks), targets(h))
				r.add(c.finding(h, Medium, msg, "Remove delete on webhook configurations."))
			}
		}
	},
})

// --- KW-RBAC-013 ---------------------------------------------------------------------

var rbacTokenRequestCheck = register(&Check{
	ID:       "KW-RBAC-013",
	Title:    "Minimize ServiceAccount token creation",
	Severity: Critical,
	Reads:    append(append(slices.Clone(rbacKinds), inventory.ServiceAccounts), workloadKinds...),
	Refs:     []string{"CIS Kubernetes 5.1.13", "CIS EKS 4.1.12", "CIS AKS 4.1.12"},
	Summary: "One finding per subject that can create serviceaccounts/token (TokenRequest): a " +
		"token for, and so the rights of, any ServiceAccount in scope. Critical cluster-wide or in a " +
		"privileged namespace, else high. The request names the ServiceAccount, so resourceNames " +
		"limit it: then the severity follows the named ServiceAccounts' privilege tier (critical, " +
		"high, else low), and a subject naming only itself is not reported.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		asks := []rbacAsk{{req: rbac.Request{Verb: "create", Resource: "serviceaccounts", Subresource: "token"}, named: true}}
		advice := "Remove create on serviceaccounts/token, or limit it with resourceNames to the ServiceAccounts the subject must mint tokens for."
		for _, h := range rbacHolders(in, asks) {
			if broad := h.only(rbacAnyName); len(broad.hits) > 0 {
				sev := High
				if broad.ClusterWide() || broad.inPrivileged(in.Config) {
					sev = Critical
				}
				msg := fmt.Sprintf("%s can create tokens for any ServiceAccount %s (acts as each of them)", rbacName(h.Subject), broad.Scope())
				r.add(c.finding(broad, sev, msg, advice))
				continue
			}
			// Named ServiceAccounts: rate them, skipping the subject itself.
			sev, found := Low, false
			var targets, ev []string
			for _, hit := range h.hits {
				for _, name := range hit.names {
					for _, ns := range c.saNamespaces(hit.grant.Namespace(), name) {
						if h.Subject.Kind == inventory.ServiceAccounts && h.Subject.Namespace == ns && h.Subject.Name == name {
							continue
						}
						found = true
						t := ns + "/" + name
						if !slices.Contains(targets, t) {
							targets = append(targets, t)
						}
						tier, why := in.ServiceAccountTier(ns, name)
						switch {
						case tier == TierCritical:
							sev = Critical
						case tier == TierHigh && sev < High:
							sev = High
						}
						if tier >= TierHigh {
							ev = append(ev, fmt.Sprintf("ServiceAccount %s %s", t, why))
						}
					}
				}
			}
			if !found {
				continue
			}
			msg := fmt.Sprintf("%s can create tokens for ServiceAccount(s) %s (acts as them)", rbacName(h.Subject), strings.Join(targets, ", "))
			f := c.finding(h, sev, msg, advice)
			f.Evidence = append(f.Evidence, ev...)
			r.add(f)
		}
	},
})

// saNamespaces lists the namespaces where a ServiceAccount name can be targeted: the
// grant's namespace, or for a cluster-wide grant every namespace holding an SA of that name.
func (c *rbacScan) saNamespaces(grantNS, name string) []string {
	if grantNS != "" {
		return []string{grantNS}
	}
	var out []string
	for i := range c.in.Snapshot.ServiceAccounts {
		if sa := &c.in.Snapshot.ServiceAccounts[i]; sa.Name == name {
			out = append(out, sa.Namespace)
		}
	}
	return out
}

// --- KW-RBAC-014 ---------------------------------------------------------------------

var rbacBroadGroupCheck = register(&Check{
	ID:       "KW-RBAC-014",
	Title:    "No bindings to anonymous or broad groups",
	Severity: Critical,
	Reads:    append(append(slices.Clone(rbacKinds), inventory.ServiceAccounts), workloadKinds...),
	Refs:     []string{"CIS GKE 4.1.8", "CIS GKE 4.1.9", "CIS GKE 4.1.10", "Kubernetes RBAC good practices"},
	Summary: "One finding per binding that grants a role to everyone of a kind. Critical: User " +
		"system:anonymous, Group system:unauthenticated (except ClusterRole system:public-info-viewer; " +
		"system:service-account-issuer-discovery is KW-TOK-005's). Group system:authenticated (every " +
		"user and ServiceAccount; except system:basic-user, system:discovery, " +
		"system:public-info-viewer, system:service-account-issuer-discovery) and Group " +
		"system:serviceaccounts: high, critical when the role holds a dangerous right. Group " +
		"system:serviceaccounts:<ns> (every ServiceAccount of the namespace): the role's privilege " +
		"tier decides (critical, high, else medium). Roles granting nothing beyond discovery are " +
		"not reported.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		exempt := map[string][]string{
			rbac.GroupUnauthenticated: {"system:public-info-viewer", "system:service-account-issuer-discovery"},
			rbac.GroupAuthenticated:   {"system:basic-user", "system:discovery", "system:public-info-viewer", "system:service-account-issuer-discovery"},
		}
		for _, b := range in.RBAC.Bindings() {
			if b.RoleMissing {
				continue // grants nothing today: KW-RBAC-015
			}
			var grants []rbac.Grant
			sev := Info
			var who, ev []string
			var subjects []inventory.ObjectRef
			for i := range b.Subjects {
				s := &b.Subjects[i]
				name := s.Name
				var base Severity
				switch {
				case s.Kind == rbacv1.UserKind && name == rbac.UserAnonymous,
					s.Kind == rbacv1.GroupKind && name == rbac.GroupUnauthenticated:
					base = Critical
				case s.Kind == rbacv1.GroupKind && (name == rbac.GroupAuthenticated || name == rbac.GroupServiceAccounts || strings.HasPrefix(name, rbacSAGroupPrefix)):
					base = High
				default:
					continue
				}
				roleExempt := exempt[name]
				if name != rbac.GroupUnauthenticated && name != rbac.UserAnonymous {
					roleExempt = append(slices.Clone(roleExempt), discoveryRoles...)
				}
				if b.RoleRef.Kind == "ClusterRole" && slices.Contains(roleExempt, b.RoleRef.Name) {
					continue
				}
				var sg []rbac.Grant
				for j := range b.Rules {
					sg = append(sg, rbac.Grant{Binding: b, Subject: s, RuleIndex: j})
				}
				tier, why := TierOf(sg)
				if tier == TierNone {
					continue
				}
				switch {
				case base == Critical:
				case strings.HasPrefix(name, rbacSAGroupPrefix):
					base = map[Tier]Severity{TierLow: Medium, TierHigh: High, TierCritical: Critical}[tier]
				case tier >= TierHigh:
					base = Critical
				}
				if tier >= TierHigh && !b.ClusterWide() && in.Config.Privileged(b.Namespace) {
					base = Critical
				}
				sev = max(sev, base)
				grants = append(grants, sg...)
				ref, _ := subjectRef(s, b)
				subjects = append(subjects, ref)
				who = append(who, rbacName(ref))
				ev = append(ev, fmt.Sprintf("%s %s", rbacName(ref), why))
				if _, usage := c.usage(ref); len(usage) > 0 {
					ev = append(ev, usage...)
				}
			}
			if len(who) == 0 {
				continue
			}
			scope := rbacScope(b.Namespace)
			var pairs []rbacBindingSubject
			for _, g := range grants {
				pairs = append(pairs, rbacBindingSubject{g.Binding, g.Subject})
			}
			related := append([]inventory.ObjectRef{rbacRoleRef(b)}, subjects...)
			r.add(Finding{
				Severity: sev,
				Message: fmt.Sprintf("%s grants %s %s %s to %s: %s", rbacBindingName(b), b.RoleRef.Kind, b.RoleRef.Name, scope,
					strings.Join(who, ", "), rbacEveryone(subjects)),
				Object:      b.Ref(),
				Related:     related,
				Evidence:    ev,
				Remediation: "Bind a named group, or the ServiceAccounts that need the role, instead; then take the broad subjects out: " + rbacRevoke(pairs),
			})
		}
	},
})

// rbacRoleRef is the role a binding refers to, as an object ref.
func rbacRoleRef(b *rbac.Binding) inventory.ObjectRef {
	ref := inventory.ObjectRef{Kind: inventory.Kind(b.RoleRef.Kind), Name: b.RoleRef.Name}
	if b.RoleRef.Kind == "Role" {
		ref.Namespace = b.Namespace
	}
	return ref
}

// rbacEveryone says who the broad subjects stand for.
func rbacEveryone(subjects []inventory.ObjectRef) string {
	var out []string
	for _, s := range subjects {
		var w string
		switch {
		case s.Name == rbac.UserAnonymous || s.Name == rbac.GroupUnauthenticated:
			w = "anyone who can reach the API server, without credentials"
		case s.Name == rbac.GroupAuthenticated:
			w = "every authenticated user and every ServiceAccount token"
		case s.Name == rbac.GroupServiceAccounts:
			w = "every ServiceAccount token of every namespace"
		default:
			w = "every ServiceAccount token of namespace " + strings.TrimPrefix(s.Name, rbacSAGroupPrefix)
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return strings.Join(out, "; ") + " holds it"
}

// --- KW-RBAC-015 ---------------------------------------------------------------------

var rbacDanglingCheck = register(&Check{
	ID:       "KW-RBAC-015",
	Title:    "Dangling or squattable bindings",
	Severity: High,
	Reads:    append(slices.Clone(rbacKinds), inventory.ServiceAccounts, inventory.Namespaces),
	Refs:     []string{"Kubernetes RBAC good practices (periodic review)"},
	Summary: "One finding per binding that (a) names a ServiceAccount that does not exist (whoever " +
		"can create ServiceAccounts there, often every namespace editor, inherits the grant), or " +
		"(b) refers to a Role or ClusterRole that does not exist (whoever creates it decides what " +
		"the subjects get). Medium; high when the role is privileged (its rules hold a dangerous " +
		"right, see ServiceAccount tiers), and for a missing role when the binding is a " +
		"ClusterRoleBinding or in a privileged namespace. Built-in ClusterRoles (cluster-admin, admin, " +
		"edit, view, system:*) absent from manifest input are not missing, and built-in bindings " +
		"to absent ServiceAccounts are expected unless their role is privileged. Part (a) needs " +
		"ServiceAccounts; with a namespace-scoped collection, ServiceAccounts of other namespaces " +
		"are not judged.",
	run: func(in *Input, r *run) {
		if !r.need("", rbacKinds...) {
			return
		}
		c := newRBACScan(in, r)
		s := in.Snapshot
		checkSAs := r.need("(a) ServiceAccount subjects that do not exist", inventory.ServiceAccounts)
		nsKnown := s.Readable(inventory.Namespaces)
		for _, b := range in.RBAC.Bindings() {
			// The API server recreates its own bindings (autoupdate): deleting them is futile.
			bootstrap := c.bindingLabels(b)[rbacBootstrapKey] == rbacBootstrapVal
			sev := Info
			var ev, msgs []string
			var pairs []rbacBindingSubject
			related := []inventory.ObjectRef{rbacRoleRef(b)}
			if b.RoleMissing && !rbacBuiltinClusterRole(b) {
				sev = Medium
				if b.ClusterWide() || in.Config.Privileged(b.Namespace) {
					sev = High
				}
				msgs = append(msgs, fmt.Sprintf("refers to %s %s, which does not exist (whoever creates it decides what its subjects get)", b.RoleRef.Kind, b.RoleRef.Name))
				ev = append(ev, fmt.Sprintf("roleRef %s %s not found", b.RoleRef.Kind, b.RoleRef.Name))
				if hint := c.otherKind(b); hint != "" {
					ev = append(ev, hint)
				}
			}
			if checkSAs {
				var missing []string
				for i := range b.Subjects {
					ref, ok := subjectRef(&b.Subjects[i], b)
					if !ok || ref.Kind != inventory.ServiceAccounts {
						continue
					}
					if ns := s.Cluster.Namespace; ns != "" && ref.Namespace != ns {
						continue // not collected
					}
					if s.ServiceAccount(ref.Namespace, ref.Name) != nil {
						continue
					}
					missing = append(missing, ref.Namespace+"/"+ref.Name)
					pairs = append(pairs, rbacBindingSubject{b, &b.Subjects[i]})
					related = append(related, ref)
					line := fmt.Sprintf("ServiceAccount %s/%s not found", ref.Namespace, ref.Name)
					if nsKnown && !slices.ContainsFunc(s.Namespaces, func(n corev1.Namespace) bool { return n.Name == ref.Namespace }) {
						line += fmt.Sprintf("; namespace %s does not exist either (whoever can create namespaces can claim it)", ref.Namespace)
					}
					ev = append(ev, line)
				}
				if len(missing) > 0 {
					saSev := Medium
					var grants []rbac.Grant
					for _, p := range pairs {
						for j := range b.Rules {
							grants = append(grants, rbac.Grant{Binding: b, Subject: p.s, RuleIndex: j})
						}
					}
					tier, why := TierOf(grants)
					if tier >= TierHigh {
						saSev = High
						ev = append(ev, "the role is privileged: its subjects "+why)
					}
					// A built-in binding with harmless rights (system:kube-dns on EKS) is expected.
					if tier >= TierHigh || !bootstrap {
						sev = max(sev, saSev)
						msgs = append(msgs, fmt.Sprintf("grants %s %s to ServiceAccount(s) %s, which do not exist (whoever creates them inherits the grant)",
							b.RoleRef.Kind, b.RoleRef.Name, strings.Join(missing, ", ")))
					}
				}
			}
			if len(msgs) == 0 {
				continue
			}
			remedy := "Delete the stale binding: " + deleteCommand(b)
			if !b.RoleMissing && len(pairs) < len(b.Subjects) {
				remedy = "Take the missing ServiceAccounts out of the binding: " + rbacRevoke(pairs)
			}
			r.add(Finding{
				Severity:    sev,
				Message:     fmt.Sprintf("%s %s", rbacBindingName(b), strings.Join(msgs, ", and ")),
				Object:      b.Ref(),
				Related:     related,
				Evidence:    ev,
				Remediation: remedy,
			})
		}
	},
})

// rbacBuiltinClusterRole reports whether a binding refers to a ClusterRole the API server
// creates itself: absent from a manifest set, it still exists in every cluster.
func rbacBuiltinClusterRole(b *rbac.Binding) bool {
	n := b.RoleRef.Name
	return b.RoleRef.Kind == "ClusterRole" && (n == rbacClusterAdmin || n == "admin" || n == "edit" || n == "view" || strings.HasPrefix(n, "system:"))
}

// otherKind hints at a roleRef whose kind is likely wrong: a role of the same name exists
// with the other kind.
func (c *rbacScan) otherKind(b *rbac.Binding) string {
	s := c.in.Snapshot
	switch b.RoleRef.Kind {
	case "Role":
		if _, ok := c.in.RBAC.ClusterRoleRules(b.RoleRef.Name); ok {
			return fmt.Sprintf("a ClusterRole named %s exists: the roleRef kind may be wrong (roleRef cannot be edited; recreate the binding)", b.RoleRef.Name)
		}
	case "ClusterRole":
		for i := range s.Roles {
			if s.Roles[i].Name == b.RoleRef.Name && s.Roles[i].Namespace == b.Namespace {
				return fmt.Sprintf("a Role named %s exists in %s: the roleRef kind may be wrong (roleRef cannot be edited; recreate the binding)", b.RoleRef.Name, b.Namespace)
			}
		}
	}
	return ""
}
