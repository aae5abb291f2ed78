package graph

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	rbacv1 "k8s.io/api/rbac/v1"
)

// req builds a request without a name.
func req(verb, group, resource, sub string) rbac.Request {
	return rbac.Request{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub}
}

// nameless reports whether a rule allows a request without a name (create, list, watch):
// no resourceNames, or "" among them.
func nameless(rule *rbacv1.PolicyRule, r rbac.Request) bool { return rbac.RuleAllows(rule, r) }

// named reports whether a rule allows a named request for every name (all), else which of
// its resourceNames it allows.
func named(rule *rbacv1.PolicyRule, r rbac.Request) (all bool, names []string) {
	if len(rule.ResourceNames) == 0 {
		return rbac.RuleAllows(rule, r), nil
	}
	for _, n := range rule.ResourceNames {
		if n == "" {
			continue
		}
		r.Name = n
		if rbac.RuleAllows(rule, r) {
			names = append(names, n)
		}
	}
	return false, names
}

// someName reports whether a rule allows a named request for at least one name.
func someName(rule *rbacv1.PolicyRule, r rbac.Request) bool {
	all, names := named(rule, r)
	return all || len(names) > 0
}

// target is where one rule leads.
type target struct {
	to     int32
	prim   Primitive
	action string
	// late edges go after every other rights edge: on a tie, a path prefers the others
	// (reading Secrets now over receiving them when they are next written).
	late bool
}

func scopeText(namespace string) string {
	if namespace == "*" {
		return "in every namespace"
	}
	return "in namespace " + namespace
}

var controllers = []struct{ group, resource string }{
	{"", "replicationcontrollers"}, {"apps", "deployments"}, {"apps", "daemonsets"},
	{"apps", "statefulsets"}, {"apps", "replicasets"}, {"batch", "jobs"}, {"batch", "cronjobs"},
}

// runsPods says how a rule lets its holder run a pod of its choosing (P5), or "".
func runsPods(rule *rbacv1.PolicyRule) string {
	if nameless(rule, req("create", "", "pods", "")) {
		return "create pods"
	}
	for _, c := range controllers {
		switch {
		case nameless(rule, req("create", c.group, c.resource, "")):
			return "create " + c.resource
		case someName(rule, req("update", c.group, c.resource, "")), someName(rule, req("patch", c.group, c.resource, "")):
			return "update/patch " + c.resource + " (set any serviceAccountName)"
		}
	}
	return ""
}

// ruleScope is a rule bound in a scope (a namespace, or cluster-wide).
type ruleScope struct {
	rule      *rbacv1.PolicyRule
	namespace string
	cluster   bool
}

// ruleGrants is what a rule grants in a scope: its primitives, and whether it is part of
// a combined one.
type ruleGrants struct {
	targets []target
	part    bool
}

// ruleTargets are the single-rule primitives a rule grants in a binding's scope.
func (b *builder) ruleTargets(bd *rbac.Binding, rule *rbacv1.PolicyRule) []target {
	cw := bd.ClusterWide()
	ns := bd.Namespace
	scope := ns
	if cw {
		scope = "*"
	}
	var out []target
	add := func(to int32, p Primitive, action string) { out = append(out, target{to: to, prim: p, action: action}) }

	// P1: everything.
	if isP1(rule) {
		if cw {
			add(b.g.Sink, P1, "all verbs on all resources cluster-wide (cluster-admin)")
		} else {
			add(b.inter(nsAdmin, ns), P1, "all verbs on all resources "+scopeText(ns))
		}
		return out
	}
	// P2: read Secrets.
	if nameless(rule, req("list", "", "secrets", "")) || nameless(rule, req("watch", "", "secrets", "")) {
		add(b.inter(anySecret, scope), P2, "list/watch Secrets "+scopeText(scope))
	} else if all, names := named(rule, req("get", "", "secrets", "")); all {
		add(b.inter(anySecret, scope), P2, "get Secrets "+scopeText(scope))
	} else {
		for _, id := range b.namedIn(Secret, scope, names, b.secretByNm) {
			add(id, P2, "get Secret "+b.g.nodes[id].Namespace+"/"+b.g.nodes[id].Name)
		}
	}
	// P4: TokenRequest.
	if all, names := named(rule, req("create", "", "serviceaccounts", "token")); all {
		add(b.inter(anySA, scope), P4, "create serviceaccounts/token "+scopeText(scope))
	} else {
		for _, id := range b.namedIn(ServiceAccount, scope, names, b.saByName) {
			add(id, P4, "create serviceaccounts/token for "+b.g.nodes[id].Namespace+"/"+b.g.nodes[id].Name)
		}
	}
	// P5: workload creation.
	if p5 := runsPods(rule); p5 != "" {
		add(b.inter(runPod, scope), P5, p5+" "+scopeText(scope))
	}
	// P6-P8: code in running pods.
	pods := []struct {
		p         Primitive
		verb, sub string
	}{
		{P6, "update", ""}, {P6, "patch", ""},
		{P7, "create", "exec"}, {P7, "create", "attach"},
		{P8, "update", "ephemeralcontainers"}, {P8, "patch", "ephemeralcontainers"},
	}
	if b.wsGet {
		pods = append(pods, struct {
			p         Primitive
			verb, sub string
		}{P7, "get", "exec"}, struct {
			p         Primitive
			verb, sub string
		}{P7, "get", "attach"})
	}
	for _, pr := range pods {
		what := pr.verb + " pods"
		if pr.sub != "" {
			what += "/" + pr.sub
		}
		all, names := named(rule, req(pr.verb, "", "pods", pr.sub))
		if all {
			add(b.inter(anyPod, scope), pr.p, what+" "+scopeText(scope))
			break
		}
		if len(names) > 0 && !cw {
			for _, n := range names {
				if id, ok := b.g.index[NodeInfo{Kind: Pod, Namespace: ns, Name: n}]; ok {
					add(id, pr.p, what+" "+ns+"/"+n)
				}
			}
			break
		}
	}
	if cw {
		// P9: kubelet proxy.
		for _, verb := range []string{"get", "create"} {
			all, names := named(rule, req(verb, "", "nodes", "proxy"))
			if all {
				add(b.inter(anyPod, "*"), P9, verb+" nodes/proxy on every node (exec in any pod through the kubelet)")
				break
			}
			for _, n := range names {
				add(b.node(NodeInfo{Kind: nodePods, Name: n}), P9, verb+" nodes/proxy on node "+n)
			}
			if len(names) > 0 {
				break
			}
		}
		// P13: impersonate users.
		if all, names := named(rule, req("impersonate", "", "users", "")); all {
			add(b.inter(anyUser, ""), P13, "impersonate any user")
		} else {
			for _, n := range names {
				if _, _, ok := rbac.SplitServiceAccountUsername(n); ok || strings.HasPrefix(n, nodeUserPfx) {
					continue // a ServiceAccount username needs impersonate on serviceaccounts; a node needs group system:nodes
				}
				add(b.userNode(n), P13, "impersonate user "+n)
			}
		}
		// P15: mutating webhooks rewrite any new pod, including its serviceAccountName.
		if nameless(rule, req("create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "")) ||
			someName(rule, req("update", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "")) ||
			someName(rule, req("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "")) {
			add(b.inter(anySA, "*"), P15, "write mutatingwebhookconfigurations (rewrite any new pod: image, serviceAccountName)")
		}
		// P15: a validating webhook receives every object it matches as it is admitted,
		// Secrets included with their data: those created or updated, legacy token Secrets
		// when their token is written and when the API server relabels them on use
		// (kubernetes.io/legacy-token-last-used, daily).
		if nameless(rule, req("create", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "")) ||
			someName(rule, req("update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "")) ||
			someName(rule, req("patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "")) {
			add(b.inter(anySecret, "*"), P15, "write validatingwebhookconfigurations (receive every Secret as it is written, with its data: token Secrets when filled and when the API server relabels them on use)")
			out[len(out)-1].late = true
		}
	}
	// P13: impersonate ServiceAccounts (namespaced).
	if all, names := named(rule, req("impersonate", "", "serviceaccounts", "")); all {
		add(b.inter(anySA, scope), P13, "impersonate serviceaccounts "+scopeText(scope))
	} else {
		for _, id := range b.namedIn(ServiceAccount, scope, names, b.saByName) {
			add(id, P13, "impersonate serviceaccount "+b.g.nodes[id].Namespace+"/"+b.g.nodes[id].Name)
		}
	}
	// P17: EKS aws-auth maps IAM principals to system:masters.
	if b.awsAuth && (cw || ns == inventory.SystemNamespace) {
		for _, verb := range []string{"update", "patch"} {
			r := req(verb, "", "configmaps", "")
			r.Name = inventory.AWSAuthConfigMap
			if rbac.RuleAllows(rule, r) {
				add(b.groupNode(groupMasters), P17, verb+" ConfigMap kube-system/aws-auth (map an IAM principal to system:masters)")
				break
			}
		}
	}
	return out
}

// namedIn resolves names to existing nodes in a scope ("*": any namespace).
func (b *builder) namedIn(k Kind, scope string, names []string, byName map[string][]int32) []int32 {
	var out []int32
	for _, n := range names {
		if scope != "*" {
			if id, ok := b.g.index[NodeInfo{Kind: k, Namespace: scope, Name: n}]; ok {
				out = append(out, id)
			}
			continue
		}
		out = append(out, byName[n]...)
	}
	return out
}

// combinedPart reports whether a rule grants a part of a primitive that needs several
// rights together (P3, P10, P11, P12, P13 groups, P14, P16, P18, P23); its holder is then
// judged on all its rights.
func combinedPart(rule *rbacv1.PolicyRule) bool {
	return nameless(rule, req("create", "", "secrets", "")) ||
		someName(rule, req("bind", rbacGroup, "clusterroles", "")) ||
		someName(rule, req("escalate", rbacGroup, "clusterroles", "")) ||
		someName(rule, req("escalate", rbacGroup, "roles", "")) ||
		someName(rule, req("impersonate", "", "groups", "")) ||
		someName(rule, req("approve", certGroup, "signers", "")) ||
		someName(rule, req("bind", rbacGroup, "roles", "")) ||
		nameless(rule, req("create", "", "persistentvolumes", "")) ||
		someName(rule, req("patch", "", "namespaces", "")) || someName(rule, req("update", "", "namespaces", "")) ||
		someName(rule, req("patch", "", "nodes", "")) || someName(rule, req("update", "", "nodes", ""))
}

func (b *builder) rights() {
	var late []Edge
	defer func() { b.g.edges = append(b.g.edges, late...) }()
	for _, bd := range b.ix.Bindings() {
		if len(bd.Rules) == 0 {
			continue
		}
		subjects := make([]int32, len(bd.Subjects))
		for i := range bd.Subjects {
			subjects[i] = b.subjectNode(&bd.Subjects[i], bd)
		}
		for ri := range bd.Rules {
			rule := &bd.Rules[ri]
			// Bindings of one role share its rules: what a rule grants in one scope is
			// worked out once (ruleTargets depends on nothing else).
			key := ruleScope{rule, bd.Namespace, bd.ClusterWide()}
			m, ok := b.ruleMemo[key]
			if !ok {
				m = ruleGrants{b.ruleTargets(bd, rule), combinedPart(rule)}
				b.ruleMemo[key] = m
			}
			targets, part := m.targets, m.part
			for si, from := range subjects {
				if from < 0 {
					continue
				}
				for _, t := range targets {
					if t.to == from {
						continue
					}
					e := Edge{From: from, To: t.to, Prim: t.prim, binding: bd, subject: int32(si), rule: int32(ri), action: t.action}
					if t.late {
						late = append(late, e)
						continue
					}
					b.edge(e)
				}
				if part {
					b.candidates[from] = b.userOf(from)
					if n := b.g.nodes[from]; n.Kind == Group {
						switch {
						case n.Name == rbac.GroupServiceAccounts || n.Name == rbac.GroupAuthenticated:
							b.saGroupNS["*"] = true
						case strings.HasPrefix(n.Name, saGroupPfx):
							b.saGroupNS[strings.TrimPrefix(n.Name, saGroupPfx)] = true
						}
					}
				}
			}
		}
	}
}

// subjectNode is the node of a binding subject, or -1.
func (b *builder) subjectNode(s *rbacv1.Subject, bd *rbac.Binding) int32 {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := cmp.Or(s.Namespace, bd.Namespace)
		if ns == "" {
			return -1
		}
		return b.saNode(ns, s.Name)
	case rbacv1.UserKind:
		return b.userNode(s.Name)
	case rbacv1.GroupKind:
		return b.groupNode(s.Name)
	}
	return -1
}

// held is where a right is held: everywhere (all) or in some namespaces, with the first
// grant of each as evidence.
type held struct {
	all   *rbac.Grant
	in    map[string]rbac.Grant
	order []string
}

// addIn records a grant as holding the right in one namespace ("*": everywhere), whatever
// the binding's scope (a ClusterRoleBinding limited by resourceNames to some namespaces).
func (h *held) addIn(ns string, g rbac.Grant) {
	if ns == "*" {
		if h.all == nil {
			gg := g
			h.all = &gg
		}
		return
	}
	if h.in == nil {
		h.in = map[string]rbac.Grant{}
	}
	if _, ok := h.in[ns]; !ok {
		h.in[ns] = g
		h.order = append(h.order, ns)
	}
}

// nsObjects are the namespace objects a grant lets its holder patch or update ("*": every
// one). A RoleBinding can grant it on its own namespace only: the API server gives a request
// on a namespace object the namespace's name as both namespace and name.
func nsObjects(g rbac.Grant) []string {
	r := g.Rule()
	var out []string
	for _, verb := range []string{"patch", "update"} {
		q := req(verb, "", "namespaces", "")
		if !g.Binding.ClusterWide() {
			q.Name = g.Namespace()
			if rbac.RuleAllows(r, q) {
				return []string{g.Namespace()}
			}
			continue
		}
		all, names := named(r, q)
		if all {
			return []string{"*"}
		}
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func (h *held) add(g rbac.Grant) {
	if g.Binding.ClusterWide() {
		h.addIn("*", g)
		return
	}
	h.addIn(g.Namespace(), g)
}

// The parts of the combined primitives.
const (
	cAdmin = iota
	cCreateSecrets
	cReadSecrets
	cBind
	cCreateCRB
	cCreateRB
	cEscalate
	cImpGroups
	cImpUsers
	cSigner
	cCreateCSR
	cApproveCSR
	cRunPod     // P5 in a namespace
	cCreatePV   // P10
	cPatchNS    // P16: patch or update the namespace object (scoped by its name, see nsObjects)
	cNodeWrite  // P18: update or patch every node
	cDeletePods // P18: delete or evict any pod
	cBindRole   // P23: bind on some Role or ClusterRole
	cEditBind   // P23: update or patch some RoleBinding or ClusterRoleBinding
	nParts
)

// partMatchers match a rule granting a part; clusterWide says how the rule is bound.
func (b *builder) partMatchers() [nParts]func(r *rbacv1.PolicyRule, clusterWide bool) bool {
	return [nParts]func(*rbacv1.PolicyRule, bool) bool{
		cAdmin:         func(r *rbacv1.PolicyRule, _ bool) bool { return isP1(r) },
		cCreateSecrets: func(r *rbacv1.PolicyRule, _ bool) bool { return nameless(r, req("create", "", "secrets", "")) },
		cReadSecrets: func(r *rbacv1.PolicyRule, _ bool) bool {
			// get under a name one chooses, list, watch, or mount it in a pod
			return someName(r, req("get", "", "secrets", "")) || nameless(r, req("list", "", "secrets", "")) ||
				nameless(r, req("watch", "", "secrets", "")) || nameless(r, req("create", "", "pods", ""))
		},
		cBind: func(r *rbacv1.PolicyRule, _ bool) bool {
			all, names := named(r, req("bind", rbacGroup, "clusterroles", ""))
			return all && len(b.adminRoles) > 0 || slices.ContainsFunc(names, func(n string) bool { return b.adminRoles[n] })
		},
		cCreateCRB: func(r *rbacv1.PolicyRule, cw bool) bool {
			return cw && nameless(r, req("create", rbacGroup, "clusterrolebindings", ""))
		},
		cCreateRB: func(r *rbacv1.PolicyRule, _ bool) bool {
			return nameless(r, req("create", rbacGroup, "rolebindings", ""))
		},
		cEscalate: func(r *rbacv1.PolicyRule, _ bool) bool {
			return someName(r, req("escalate", rbacGroup, "clusterroles", "")) || someName(r, req("escalate", rbacGroup, "roles", ""))
		},
		cImpGroups: func(r *rbacv1.PolicyRule, cw bool) bool {
			return cw && someName(r, req("impersonate", "", "groups", ""))
		},
		cImpUsers: func(r *rbacv1.PolicyRule, cw bool) bool {
			return cw && someName(r, req("impersonate", "", "users", "")) || someName(r, req("impersonate", "", "serviceaccounts", ""))
		},
		cSigner: func(r *rbacv1.PolicyRule, cw bool) bool {
			all, names := named(r, req("approve", certGroup, "signers", ""))
			return cw && (all || slices.Contains(names, clientSigner) || slices.Contains(names, "kubernetes.io/*"))
		},
		cCreateCSR: func(r *rbacv1.PolicyRule, cw bool) bool {
			return cw && nameless(r, req("create", certGroup, "certificatesigningrequests", ""))
		},
		cApproveCSR: func(r *rbacv1.PolicyRule, cw bool) bool {
			return cw && (someName(r, req("update", certGroup, "certificatesigningrequests", "approval")) ||
				someName(r, req("patch", certGroup, "certificatesigningrequests", "approval")))
		},
		cRunPod: func(r *rbacv1.PolicyRule, _ bool) bool { return runsPods(r) != "" },
		cCreatePV: func(r *rbacv1.PolicyRule, cw bool) bool {
			return cw && nameless(r, req("create", "", "persistentvolumes", ""))
		},
		cPatchNS: func(*rbacv1.PolicyRule, bool) bool { return false }, // see partsOf
		cNodeWrite: func(r *rbacv1.PolicyRule, cw bool) bool {
			// cordon or taint every other node: no resourceNames
			return cw && (rbac.RuleAllows(r, req("patch", "", "nodes", "")) || rbac.RuleAllows(r, req("update", "", "nodes", "")))
		},
		cDeletePods: func(r *rbacv1.PolicyRule, _ bool) bool {
			all, _ := named(r, req("delete", "", "pods", ""))
			evict, _ := named(r, req("create", "", "pods", "eviction"))
			return all || evict
		},
		cBindRole: func(r *rbacv1.PolicyRule, _ bool) bool {
			return someName(r, req("bind", rbacGroup, "roles", "")) || someName(r, req("bind", rbacGroup, "clusterroles", ""))
		},
		cEditBind: func(r *rbacv1.PolicyRule, cw bool) bool {
			return someName(r, req("patch", rbacGroup, "rolebindings", "")) || someName(r, req("update", rbacGroup, "rolebindings", "")) ||
				cw && (someName(r, req("patch", rbacGroup, "clusterrolebindings", "")) || someName(r, req("update", rbacGroup, "clusterrolebindings", "")))
		},
	}
}

type partKey struct {
	rule *rbacv1.PolicyRule
	cw   bool
}

// parts are where one set of grants (a user's own, or a group's) holds each part.
type parts struct {
	h      [nParts]held
	grants []rbac.Grant // kept when escalate or impersonate groups is held (rare)
}

func (b *builder) partsOf(grants []rbac.Grant) *parts {
	p := &parts{}
	for _, g := range grants {
		// Bindings of one role share its rules: match each rule once per scope kind.
		key := partKey{g.Rule(), g.Binding.ClusterWide()}
		mask, ok := b.partCache[key]
		if !ok {
			for c, m := range b.matchers {
				if m(key.rule, key.cw) {
					mask |= 1 << c
				}
			}
			b.partCache[key] = mask
		}
		for c := range nParts {
			if mask&(1<<c) != 0 {
				p.h[c].add(g)
			}
		}
		for _, ns := range nsObjects(g) {
			p.h[cPatchNS].addIn(ns, g)
		}
	}
	if p.h[cEscalate].all != nil || len(p.h[cEscalate].in) > 0 || p.h[cImpGroups].all != nil ||
		(p.h[cBindRole].all != nil || len(p.h[cBindRole].in) > 0) {
		p.grants = grants
	}
	return p
}

// view is a user's parts: its own and its groups'.
type view []*parts

func (v view) at(c int, ns string) (rbac.Grant, bool) {
	for _, p := range v {
		if p.h[c].all != nil {
			return *p.h[c].all, true
		}
	}
	if ns == "*" {
		return rbac.Grant{}, false
	}
	for _, p := range v {
		if g, ok := p.h[c].in[ns]; ok {
			return g, true
		}
	}
	return rbac.Grant{}, false
}

func (v view) any(c int) bool {
	for _, p := range v {
		if p.h[c].all != nil || len(p.h[c].in) > 0 {
			return true
		}
	}
	return false
}

// both lists the scopes where two parts are held together: "*" when both are held
// everywhere, else namespaces.
func (v view) both(c1, c2 int) []string {
	if _, ok := v.at(c1, "*"); ok {
		if _, ok := v.at(c2, "*"); ok {
			return []string{"*"}
		}
	}
	seen := map[string]bool{}
	var out []string
	try := func(ns string) {
		if seen[ns] {
			return
		}
		seen[ns] = true
		_, ok1 := v.at(c1, ns)
		_, ok2 := v.at(c2, ns)
		if ok1 && ok2 {
			out = append(out, ns)
		}
	}
	for _, c := range []int{c1, c2} {
		for _, p := range v {
			for _, ns := range p.h[c].order {
				try(ns)
			}
		}
	}
	return out
}

func (v view) grants() []rbac.Grant {
	var out []rbac.Grant
	for _, p := range v {
		if p.grants == nil {
			continue
		}
		out = append(out, p.grants...)
	}
	return out
}

func grantLine(g rbac.Grant) string {
	return strings.TrimPrefix(g.Reason(), "RBAC: allowed by ") + ", rule " + rbac.DescribeRule(g.Rule())
}

// viewOf returns a user's parts: its own bindings' and each group's (cached).
func (b *builder) viewOf(u rbac.User) view {
	var v view
	if u.Name != "" {
		v = append(v, b.partsOf(b.ix.GrantsForUserName(u.Name)))
	}
	for _, grp := range u.Groups {
		p, ok := b.groupParts[grp]
		if !ok {
			p = b.partsOf(b.ix.GrantsForGroup(grp))
			b.groupParts[grp] = p
		}
		v = append(v, p)
	}
	return v
}

// combined adds the primitives that need several rights held together, judged on each
// candidate's effective rights (its own bindings and its groups').
func (b *builder) combined() {
	b.matchers = b.partMatchers()
	b.groupParts = map[string]*parts{}
	b.partCache = map[partKey]uint32{}
	ids := make([]int32, 0, len(b.candidates))
	for id := range b.candidates {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b.combinedFor(id, b.candidates[id])
	}
	// The three groups of every ServiceAccount of a namespace may only hold a combined
	// right together: judge them as one anonymous member.
	var nss []string
	if b.saGroupNS["*"] {
		nss = b.namespaces
	} else {
		for _, ns := range b.namespaces {
			if b.saGroupNS[ns] {
				nss = append(nss, ns)
			}
		}
	}
	for _, ns := range nss {
		if len(b.sasByNS[ns]) == 0 {
			continue
		}
		u := rbac.User{Groups: []string{rbac.GroupServiceAccounts, saGroupPfx + ns, rbac.GroupAuthenticated}}
		b.combinedFor(b.groupNode(saGroupPfx+ns), u)
	}
}

func (b *builder) combinedFor(from int32, u rbac.User) {
	if u.InGroup(groupMasters) {
		return
	}
	v := b.viewOf(u)
	// Rights already everything in a scope (P1) make the combined ones moot there.
	if _, ok := v.at(cAdmin, "*"); ok {
		return
	}
	notAdmin := func(ns string) bool { _, ok := v.at(cAdmin, ns); return !ok }
	gained := map[int32]bool{}
	add := func(to int32, p Primitive, note string, gs ...rbac.Grant) {
		if to == from {
			return
		}
		gained[to] = true
		e := Edge{From: from, To: to, Prim: p, note: note}
		for _, g := range gs {
			if !slices.Contains(e.bindings, g.Binding) {
				e.bindings = append(e.bindings, g.Binding)
			}
		}
		b.edge(e)
	}
	// P3: create a token Secret and read it back.
	if v.any(cCreateSecrets) {
		for _, ns := range v.both(cCreateSecrets, cReadSecrets) {
			if !notAdmin(ns) {
				continue
			}
			c, _ := v.at(cCreateSecrets, ns)
			r, _ := v.at(cReadSecrets, ns)
			add(b.inter(anySA, ns), P3, fmt.Sprintf("create Secrets %s (%s) and read them back (%s): a kubernetes.io/service-account-token Secret is filled with a token of the ServiceAccount it names", scopeText(ns), grantLine(c), grantLine(r)), c, r)
		}
	}
	// P12: bind a powerful role and create the binding.
	if v.any(cBind) {
		bind, okB := v.at(cBind, "*")
		crb, okC := v.at(cCreateCRB, "*")
		if okB && okC {
			add(b.g.Sink, P12, fmt.Sprintf("bind a cluster-admin-equivalent ClusterRole (%s) and create ClusterRoleBindings (%s)", grantLine(bind), grantLine(crb)), bind, crb)
		} else {
			for _, ns := range v.both(cBind, cCreateRB) {
				if !notAdmin(ns) {
					continue
				}
				g1, _ := v.at(cBind, ns)
				g2, _ := v.at(cCreateRB, ns)
				add(b.inter(nsAdmin, ns), P12, fmt.Sprintf("bind a cluster-admin-equivalent ClusterRole (%s) in a RoleBinding it may create %s (%s)", grantLine(g1), scopeText(ns), grantLine(g2)), g1, g2)
			}
		}
	}
	// P11: escalate, and update a role the user holds.
	if v.any(cEscalate) {
		grants := v.grants()
		if u.Name != "" && v[0].grants == nil {
			grants = append(grants, b.ix.GrantsForUserName(u.Name)...)
		}
		b.escalate(grants, notAdmin, add)
	}
	// P13: impersonate groups (with some user or ServiceAccount to impersonate).
	if _, ok := v.at(cImpGroups, "*"); ok && v.any(cImpUsers) {
		var ug rbac.Grant
		for _, p := range v {
			if h := p.h[cImpUsers]; h.all != nil {
				ug = *h.all
				break
			} else if len(h.order) > 0 {
				ug = h.in[h.order[0]]
			}
		}
		for _, g := range v.grants() {
			if !g.Binding.ClusterWide() {
				continue
			}
			all, names := named(g.Rule(), req("impersonate", "", "groups", ""))
			if all {
				names = []string{groupMasters}
			}
			for _, n := range names {
				add(b.groupNode(n), P13, fmt.Sprintf("impersonate group %s (%s) together with a user (%s)", n, grantLine(g), grantLine(ug)), g, ug)
			}
		}
	}
	// P14: issue and approve a client certificate for any user and group.
	signer, ok1 := v.at(cSigner, "*")
	csr, ok2 := v.at(cCreateCSR, "*")
	appr, ok3 := v.at(cApproveCSR, "*")
	if ok1 && ok2 && ok3 {
		add(b.groupNode(groupMasters), P14, fmt.Sprintf("create a CSR (%s), approve it (%s) for signer %s (%s): a client certificate with O=system:masters", grantLine(csr), grantLine(appr), clientSigner, grantLine(signer)), csr, appr, signer)
	}
	// P10, P16, P18: ways to a node, and pods pulled onto one.
	b.nodePrimitives(from, v)
	// P23: add itself to an existing binding of a role it may bind.
	if v.any(cBindRole) && v.any(cEditBind) && !gained[b.g.Sink] {
		b.editBindings(from, u, notAdmin, func(ns string) bool {
			id, ok := b.g.index[NodeInfo{Kind: nsAdmin, Namespace: ns}]
			return ok && gained[id]
		})
	}
}

// escalate adds P11: escalate on a role the user holds, and update or patch it.
func (b *builder) escalate(grants []rbac.Grant, notAdmin func(string) bool, add func(int32, Primitive, string, ...rbac.Grant)) {
	// Only a grant of escalate on roles or clusterroles (for some name) can lead anywhere:
	// most subjects have none, and then their grants need not be searched pair by pair.
	var escalators []rbac.Grant
	for _, g := range grants {
		esc, ok := b.escalates[g.Rule()]
		if !ok {
			esc = someName(g.Rule(), req("escalate", rbacGroup, "roles", "")) || someName(g.Rule(), req("escalate", rbacGroup, "clusterroles", ""))
			b.escalates[g.Rule()] = esc
		}
		if esc {
			escalators = append(escalators, g)
		}
	}
	if len(escalators) == 0 {
		return
	}
	find := func(grants []rbac.Grant, ref rbacv1.RoleRef, res, where string, verbs ...string) (rbac.Grant, bool) {
		for _, g := range grants {
			if ref.Kind == "ClusterRole" && !g.Binding.ClusterWide() || where != "*" && !g.Binding.ClusterWide() && g.Namespace() != where {
				continue
			}
			for _, verb := range verbs {
				q := req(verb, rbacGroup, res, "")
				q.Name = ref.Name
				if rbac.RuleAllows(g.Rule(), q) {
					return g, true
				}
			}
		}
		return rbac.Grant{}, false
	}
	for _, g := range grants {
		ref := g.Binding.RoleRef
		res, where := "clusterroles", "*"
		switch {
		case ref.Kind == "Role":
			res, where = "roles", g.Namespace()
		case ref.Kind != "ClusterRole" || !g.Binding.ClusterWide():
			continue // editing a ClusterRole bound in one namespace needs cluster rights too; not modelled
		}
		e, ok1 := find(escalators, ref, res, where, "escalate")
		u, ok2 := find(grants, ref, res, where, "update", "patch")
		if !ok1 || !ok2 || !notAdmin(where) {
			continue
		}
		to := b.g.Sink
		if where != "*" {
			to = b.inter(nsAdmin, where)
		}
		add(to, P11, fmt.Sprintf("escalate and update %s %s, which it holds through %s (%s; %s): it can write any permission into it", ref.Kind, ref.Name, g.Binding.Ref(), grantLine(e), grantLine(u)), g, e, u)
		return
	}
}
