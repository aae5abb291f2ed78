package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/rbac"
)

// This file holds the combined primitives that lead to a node (P10, P16), that pull pods
// onto a node (P18) and that edit existing bindings (P23). Like the others in rights.go
// they are judged on a candidate's effective rights (its own bindings and its groups').

// combinedEdge adds an edge whose evidence is a note, with the bindings of its grants and
// any further bindings (the edited binding of P23).
func (b *builder) combinedEdge(from, to int32, p Primitive, note string, extra []*rbac.Binding, gs ...rbac.Grant) {
	if from == to {
		return
	}
	e := Edge{From: from, To: to, Prim: p, note: note}
	for _, g := range gs {
		if !slices.Contains(e.bindings, g.Binding) {
			e.bindings = append(e.bindings, g.Binding)
		}
	}
	for _, bd := range extra {
		if !slices.Contains(e.bindings, bd) {
			e.bindings = append(e.bindings, bd)
		}
	}
	b.edge(e)
}

// openIn is a namespace of a scope ("*": every namespace) that admits privileged pods, or "".
func (b *builder) openIn(scope string) string {
	if scope != "*" {
		if b.psaOpen[scope] {
			return scope
		}
		return ""
	}
	for _, ns := range b.namespaces {
		if b.psaOpen[ns] {
			return ns
		}
	}
	return ""
}

// nodePrimitives adds P10 and P16 (a way to a node that Pod Security would otherwise stop)
// and P18 (a node that acts as the candidate pulls rescheduled pods onto itself).
//
// P18 starts at a node: whoever controls some node and holds the candidate's rights (a
// token on that node) pulls pods there. A candidate that reaches nodes through a new pod
// (P5, P10, P16) reaches every node, the pods' current ones included, so P18 adds nothing
// to it; and one that holds the rights elsewhere needs control of a node as well, two
// conditions a path cannot join (not modelled).
func (b *builder) nodePrimitives(from int32, v view) {
	if len(b.podsByNode) == 0 {
		return
	}
	run := v.both(cRunPod, cRunPod)
	// ctl: the candidate reaches every node by its own rights.
	ctl := slices.ContainsFunc(run, func(ns string) bool { return b.openIn(ns) != "" })
	anyNodeID := func() int32 { return b.inter(anyNode, "") }
	// P10: a hostPath PersistentVolume used by a new pod where Pod Security refuses
	// privileged pods and hostPath volumes (where it admits them, P5 already reaches the
	// node). Neither baseline nor restricted looks at a PersistentVolume's source.
	if pv, ok := v.at(cCreatePV, "*"); ok && !ctl && len(run) > 0 {
		ns := run[0]
		where := ns
		if ns == "*" {
			where = b.namespaces[0] // every namespace is closed (no ctl)
		}
		g, _ := v.at(cRunPod, ns)
		b.combinedEdge(from, anyNodeID(), P10, fmt.Sprintf("create PersistentVolumes (%s) and pods in namespace %s (%s), which enforces Pod Security %s: a new pod claims a hostPath PersistentVolume (a PersistentVolumeClaim or generic ephemeral volume naming it, which Pod Security admits) and mounts the node's filesystem: as root under baseline (kubelet credentials), as a non-root user of group 0 under restricted (the kubelet's pod directories and the token files in them are readable by group 0)", grantLine(pv), where, grantLine(g), b.psaLevel[where]), nil, pv, g)
		ctl = true
	}
	// P16: relabel a namespace where the candidate runs pods to lift Pod Security.
	if !ctl && v.any(cPatchNS) {
		// One namespace where both hold is enough (the first, as evidence).
		if both := v.both(cPatchNS, cRunPod); len(both) > 0 {
			ns := both[0]
			where := ns
			if ns == "*" {
				where = b.namespaces[0] // every namespace is closed (no ctl)
			}
			gp, _ := v.at(cPatchNS, ns)
			gr, _ := v.at(cRunPod, ns)
			b.combinedEdge(from, anyNodeID(), P16, fmt.Sprintf("patch namespace %s (%s), which enforces Pod Security %s, to set pod-security.kubernetes.io/enforce=privileged, then create a privileged pod there (%s)", where, grantLine(gp), b.psaLevel[where], grantLine(gr)), nil, gp, gr)
		}
	}
	// P18: cordon or taint the other nodes, delete or evict pods: their replacements land on
	// the node that acts as the candidate.
	nw, ok := v.at(cNodeWrite, "*")
	if !ok || !v.any(cDeletePods) {
		return
	}
	nodes := b.nodesActingAs(from)
	if len(nodes) == 0 {
		return
	}
	for _, ns := range v.both(cDeletePods, cDeletePods) {
		if ns == "*" && len(b.movedByNS) == 0 || ns != "*" && len(b.movedByNS[ns]) == 0 {
			continue
		}
		dg, _ := v.at(cDeletePods, ns)
		to := b.inter(movedPods, ns)
		what := fmt.Sprintf("cordon or taint the other nodes (%s) and delete or evict the pods of ReplicaSets, StatefulSets and Jobs %s (%s): their replacements are scheduled onto", grantLine(nw), scopeText(ns), grantLine(dg))
		for _, n := range nodes {
			if b.stolen == nil {
				b.stolen = map[[2]int32]bool{}
			}
			if b.stolen[[2]int32{n, to}] {
				continue
			}
			b.stolen[[2]int32{n, to}] = true
			who := b.g.nodes[from].Ref().String()
			if n == from {
				who = "it"
			}
			b.combinedEdge(n, to, P18, fmt.Sprintf("node %s acts as %s (a token it holds, or its own groups), which can %s node %s itself, which then holds their tokens", b.g.nodes[n].Name, who, what, b.g.nodes[n].Name), nil, nw, dg)
		}
	}
}

// nodesActingAs are the nodes that hold the rights of an identity: the node itself, the
// nodes running a pod with a token of a ServiceAccount, every node for groups every node or
// every such ServiceAccount is in.
func (b *builder) nodesActingAs(id int32) []int32 {
	n := b.g.nodes[id]
	switch n.Kind {
	case Node:
		return []int32{id}
	case ServiceAccount:
		return b.tokenNodes[id]
	case Group:
		var sas []int32
		switch {
		case n.Name == groupNodes || n.Name == rbac.GroupAuthenticated:
			var out []int32
			for i := range b.g.nodes {
				if b.g.nodes[i].Kind == Node {
					out = append(out, int32(i))
				}
			}
			return out
		case n.Name == rbac.GroupServiceAccounts:
			for sa := range b.tokenNodes {
				sas = append(sas, sa)
			}
		case strings.HasPrefix(n.Name, saGroupPfx):
			sas = b.sasByNS[strings.TrimPrefix(n.Name, saGroupPfx)]
		}
		var out []int32
		for _, sa := range sas {
			out = append(out, b.tokenNodes[sa]...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return nil
}

// bindingsIn returns the bindings of a namespace ("": the ClusterRoleBindings).
func (b *builder) bindingsIn(ns string) []*rbac.Binding {
	if b.bindingsNS == nil {
		b.bindingsNS = map[string][]*rbac.Binding{}
		for _, bd := range b.ix.Bindings() {
			b.bindingsNS[bd.Namespace] = append(b.bindingsNS[bd.Namespace], bd)
		}
	}
	return b.bindingsNS[ns]
}

// allowedAt finds a grant allowing a request on an object of a binding's scope: a
// ClusterRoleBinding's object needs a cluster-wide grant, a RoleBinding's one cluster-wide
// or in its namespace.
func allowedAt(grants []rbac.Grant, at *rbac.Binding, q rbac.Request) (rbac.Grant, bool) {
	for _, g := range grants {
		if !g.Binding.ClusterWide() && (at.ClusterWide() || g.Namespace() != at.Namespace) {
			continue
		}
		if rbac.RuleAllows(g.Rule(), q) {
			return g, true
		}
	}
	return rbac.Grant{}, false
}

// editBindings adds P23: add oneself as a subject of an existing binding. The API server
// checks a binding update like a creation (unless only garbage-collection fields change):
// the editor must hold every rule of the role at the binding's scope, or bind on the role.
// Holding the rules gains nothing, so an edge needs bind on the binding's role and patch
// (or update, with get to read the binding first) on the binding itself.
// nsGained says whether the candidate already gained every namespaced right of a namespace.
func (b *builder) editBindings(from int32, u rbac.User, notAdmin, nsGained func(string) bool) {
	grants := b.ix.GrantsFor(u)
	var edit, bind []rbac.Grant
	held := map[*rbac.Binding]bool{}
	scan := []string{}
	wide := false
	for _, g := range grants {
		held[g.Binding] = true
		mask := b.partCache[partKey{g.Rule(), g.Binding.ClusterWide()}]
		if mask&(1<<cBindRole) != 0 {
			bind = append(bind, g)
		}
		if mask&(1<<cEditBind) != 0 {
			edit = append(edit, g)
			if g.Binding.ClusterWide() {
				wide = true
			} else if !slices.Contains(scan, g.Namespace()) {
				scan = append(scan, g.Namespace())
			}
		}
	}
	if len(edit) == 0 {
		return
	}
	var targets []*rbac.Binding
	if wide {
		targets = b.ix.Bindings()
	} else {
		for _, ns := range scan {
			targets = append(targets, b.bindingsIn(ns)...)
		}
	}
	for _, bd := range targets {
		if held[bd] || len(bd.Rules) == 0 || !bd.ClusterWide() && (!notAdmin(bd.Namespace) || nsGained(bd.Namespace)) {
			continue
		}
		res, roles := "rolebindings", "roles"
		if bd.ClusterWide() {
			res = "clusterrolebindings"
		}
		if bd.RoleRef.Kind == "ClusterRole" {
			roles = "clusterroles"
		}
		q := func(verb, resource, name string) rbac.Request {
			r := req(verb, rbacGroup, resource, "")
			r.Name, r.Namespace = name, bd.Namespace
			return r
		}
		bg, ok := allowedAt(bind, bd, q("bind", roles, bd.RoleRef.Name))
		if !ok {
			continue
		}
		eg, ok := allowedAt(edit, bd, q("patch", res, bd.Name))
		how := "patch"
		var extra []rbac.Grant
		if !ok {
			if eg, ok = allowedAt(edit, bd, q("update", res, bd.Name)); !ok {
				continue
			}
			gg, ok := allowedAt(grants, bd, q("get", res, bd.Name))
			if !ok {
				continue // update replaces the whole object: it needs the binding read first
			}
			how, extra = "get and update", []rbac.Grant{gg}
		}
		gs := append([]rbac.Grant{eg, bg}, extra...)
		lines := make([]string, len(gs))
		for i, g := range gs {
			lines[i] = grantLine(g)
		}
		ref := bd.Kind + " " + bd.Name
		if !bd.ClusterWide() {
			ref = bd.Kind + " " + bd.Namespace + "/" + bd.Name
		}
		for ri := range bd.Rules {
			for _, t := range b.ruleTargets(bd, &bd.Rules[ri]) {
				note := fmt.Sprintf("%s %s to add itself as a subject, with bind on %s %s so that the API server's escalation check passes (%s): it gets %s", how, ref, bd.RoleRef.Kind, bd.RoleRef.Name, strings.Join(lines, "; "), t.action)
				b.combinedEdge(from, t.to, P23, note, []*rbac.Binding{bd}, gs...)
			}
		}
	}
}
