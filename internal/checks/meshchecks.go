package checks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// Service mesh identity (Istio). An Istio peer identity is the SPIFFE ID of the caller's
// ServiceAccount, written in AuthorizationPolicies as "<trust-domain>/ns/<ns>/sa/<sa>";
// source.namespaces is derived from the same certificate. Both exist only for mTLS
// traffic: PeerAuthentication decides whether a workload also accepts plaintext.

const (
	meshRefAuthz    = "Istio: Authorization Policy reference (source.principals, source.namespaces)"
	meshRefPractice = "Istio: Security Best Practices (safer authorization policy patterns, mutual TLS)"
	meshRefPeer     = "Istio: PeerAuthentication reference (mtls.mode, portLevelMtls)"
)

// needMesh is need for the Istio kinds with "silent when absent": a cluster (or input)
// without Istio has no mesh to check; a kind that could not be read is not assessed.
// It reports whether the check should run.
func (r *run) needMesh(part string, kinds ...inventory.Kind) bool {
	var failed []string
	absent := false
	for _, k := range kinds {
		switch st := r.in.Snapshot.StatusOf(k); st.State {
		case inventory.Collected:
		case inventory.Absent, "":
			absent = true
		default:
			failed = append(failed, st.Reason(k))
		}
	}
	if len(failed) > 0 {
		r.notAssessed(part, failed)
		return false
	}
	return !absent
}

// istioMatch is Istio's string match for principals and namespaces: exact, "*", a
// "prefix*" or a "*suffix".
func istioMatch(pattern, s string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(s, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(s, pattern[:len(pattern)-1])
	}
	return s == pattern
}

// meshTarget is what one principal pattern names: one namespace, and one ServiceAccount
// (Name), a name prefix (Prefix, Name empty) or any ServiceAccount of the namespace
// (both empty).
type meshTarget struct {
	Namespace, Name, Prefix string
	anyName                 bool
}

// parsePrincipal reads an Istio principal pattern ("td/ns/NS/sa/NAME", with an optional
// "spiffe://", "*" instead of the trust domain part or a "*" at the end). It reports false
// for patterns that do not pin one namespace ("*", "*/sa/x", "td/ns/prod-*").
func parsePrincipal(p string) (meshTarget, bool) {
	p = strings.TrimPrefix(p, "spiffe://")
	if p == "*" || p == "" {
		return meshTarget{}, false
	}
	rest := p
	if strings.HasPrefix(p, "*") {
		// "*/ns/NS/sa/NAME" or "*ns/NS/sa/NAME": any trust domain.
		i := strings.Index(p, "ns/")
		if i < 0 {
			return meshTarget{}, false
		}
		// What precedes "ns/" is the end of a trust domain and its "/" ("*.local/ns/..."),
		// or nothing ("*ns/..."); anything else matches no principal Istio issues.
		if pre := p[1:i]; pre != "" && (!strings.HasSuffix(pre, "/") || strings.Count(pre, "/") > 1) {
			return meshTarget{}, false
		}
		rest = p[i:]
	} else {
		i := strings.Index(p, "/ns/")
		if i <= 0 || strings.Contains(p[:i], "/") { // no trust domain, or not one
			return meshTarget{}, false
		}
		rest = p[i+1:]
	}
	parts := strings.SplitN(rest, "/", 4) // ns, NS, sa, NAME
	if len(parts) < 2 || parts[0] != "ns" || parts[1] == "" || strings.Contains(parts[1], "*") {
		return meshTarget{}, false
	}
	t := meshTarget{Namespace: parts[1]}
	if len(parts) == 2 || len(parts) == 3 {
		return meshTarget{}, false // "td/ns/NS" or "td/ns/NS/sa": not a full principal
	}
	if parts[2] != "sa" {
		return meshTarget{}, false
	}
	name := parts[3]
	switch {
	case strings.HasSuffix(p, "*") && strings.HasPrefix(p, "*"):
		return meshTarget{}, false // Istio has no infix patterns
	case strings.HasSuffix(name, "*"):
		t.Prefix = strings.TrimSuffix(name, "*")
		t.anyName = t.Prefix == ""
		if strings.ContainsAny(t.Prefix, "*/") {
			return meshTarget{}, false
		}
	case name == "" || strings.ContainsAny(name, "*/"):
		return meshTarget{}, false
	default:
		t.Name = name
	}
	return t, true
}

// existing returns the ServiceAccounts of the Snapshot that a target matches.
func (t meshTarget) existing(s *inventory.Snapshot) []string {
	if t.Name != "" {
		if s.ServiceAccount(t.Namespace, t.Name) != nil {
			return []string{t.Name}
		}
		return nil
	}
	var out []string
	for i := range s.ServiceAccounts {
		sa := &s.ServiceAccounts[i]
		if sa.Namespace == t.Namespace && strings.HasPrefix(sa.Name, t.Prefix) {
			out = append(out, sa.Name)
		}
	}
	return out
}

func namespaceExists(s *inventory.Snapshot, ns string) bool {
	for i := range s.Namespaces {
		if s.Namespaces[i].Name == ns {
			return true
		}
	}
	return false
}

// namespaceCreators says who can create namespaces.
func namespaceCreators(in *Input) string {
	var who []string
	for _, h := range in.Holders(Allows(rbac.Request{Verb: "create", Resource: "namespaces"})) {
		if h.ClusterWide() {
			who = append(who, h.Subject.String())
		}
	}
	if len(who) == 0 {
		return "no RBAC subject can create namespaces (system:masters aside)"
	}
	if len(who) > 6 {
		who = append(who[:6], fmt.Sprintf("and %d more", len(who)-6))
	}
	return "can create namespaces: " + strings.Join(who, ", ")
}

func policyRef(p *inventory.AuthorizationPolicy) inventory.ObjectRef {
	return inventory.ObjectRef{Kind: inventory.AuthorizationPolicies, Namespace: p.Namespace, Name: p.Name}
}

// policyScope describes which workloads a policy applies to.
func policyScope(ns string, sel *inventory.WorkloadSelector) string {
	switch {
	case sel != nil && len(sel.MatchLabels) > 0:
		return fmt.Sprintf("workloads labelled %s in %s", labelString(sel.MatchLabels), ns)
	case ns == inventory.IstioRootNamespace:
		return "the whole mesh (root namespace " + ns + ")"
	}
	return "every workload in " + ns
}

func labelString(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// --- KW-MESH-001 ------------------------------------------------------------------------

var meshSquatCheck = register(&Check{
	ID:       "KW-MESH-001",
	Title:    "Istio AuthorizationPolicy names a ServiceAccount that does not exist",
	Severity: High,
	Reads:    []inventory.Kind{inventory.AuthorizationPolicies, inventory.ServiceAccounts, inventory.Namespaces},
	Refs:     []string{meshRefAuthz, "kwid reference 3: service mesh identity"},
	Summary: "An ALLOW, DENY or CUSTOM AuthorizationPolicy whose source.principals (\"<trust-domain>/ns/NS/sa/NAME\", " +
		"with Istio's \"*\" prefix and suffix patterns) or source.namespaces name a ServiceAccount or namespace that does not " +
		"exist: whoever can create that ServiceAccount in NS (or the namespace) gets the mesh identity the policy trusts. " +
		"High for ALLOW (the squatter gets the access); medium for DENY and CUSTOM (the rule protects against no caller that " +
		"exists). Every trust domain is taken as this cluster's.",
	run: func(in *Input, r *run) {
		if !r.needMesh("", inventory.AuthorizationPolicies) || !r.need("", inventory.ServiceAccounts) {
			return
		}
		s := in.Snapshot
		nsKnown := s.Readable(inventory.Namespaces)
		scope := s.Cluster.Namespace
		for i := range s.AuthorizationPolicies {
			p := &s.AuthorizationPolicies[i]
			action := p.Spec.EffectiveAction()
			sev := Medium
			switch action {
			case "ALLOW":
				sev = High
			case "DENY", "CUSTOM":
			default:
				continue // AUDIT only logs
			}
			var ev []string
			var related []inventory.ObjectRef
			seen := map[string]bool{}
			for ri, rule := range p.Spec.Rules {
				for _, from := range rule.From {
					for _, pr := range from.Source.Principals {
						t, ok := parsePrincipal(pr)
						if !ok || seen[pr] || scope != "" && t.Namespace != scope {
							continue
						}
						seen[pr] = true
						nsMissing := nsKnown && !namespaceExists(s, t.Namespace)
						if !nsMissing && (t.anyName || len(t.existing(s)) > 0) {
							continue
						}
						what := fmt.Sprintf("ServiceAccount %s/%s", t.Namespace, t.Name)
						if t.Name == "" {
							what = fmt.Sprintf("ServiceAccounts %s/%s*", t.Namespace, t.Prefix)
						}
						why := "no such ServiceAccount"
						who := creators(in, t.Namespace)
						if nsMissing {
							why = "namespace " + t.Namespace + " does not exist"
							who = namespaceCreators(in)
						}
						ev = append(ev, fmt.Sprintf("rules[%d] principal %q names %s: %s (%s)", ri, pr, what, why, who))
						if t.Name != "" {
							related = append(related, saRef(t.Namespace, t.Name))
						}
					}
					if !nsKnown {
						continue
					}
					for _, ns := range from.Source.Namespaces {
						if strings.Contains(ns, "*") || seen["ns:"+ns] || scope != "" {
							continue
						}
						seen["ns:"+ns] = true
						if !namespaceExists(s, ns) {
							ev = append(ev, fmt.Sprintf("rules[%d] source namespace %q does not exist: every ServiceAccount of a namespace created with that name matches (%s)", ri, ns, namespaceCreators(in)))
							related = append(related, inventory.ObjectRef{Kind: inventory.Namespaces, Name: ns})
						}
					}
				}
			}
			if len(ev) == 0 {
				continue
			}
			msg := fmt.Sprintf("%s policy %s/%s trusts mesh identities that no ServiceAccount holds: whoever creates them gets the access it grants", action, p.Namespace, p.Name)
			if action != "ALLOW" {
				msg = fmt.Sprintf("%s policy %s/%s matches mesh identities that no ServiceAccount holds: it protects against no caller that exists (and a squatter gets whatever %s does for them)", action, p.Namespace, p.Name, strings.ToLower(action))
			}
			ev = append(ev, "applies to "+policyScope(p.Namespace, p.Spec.Selector))
			r.add(Finding{
				Severity:    sev,
				Message:     msg,
				Object:      policyRef(p),
				Related:     related,
				Evidence:    ev,
				Remediation: fmt.Sprintf("kubectl edit authorizationpolicies.security.istio.io -n %s %s  # remove the principals and namespaces above, or create the ServiceAccounts they mean", p.Namespace, p.Name),
			})
		}
	},
})

// --- KW-MESH-002 ------------------------------------------------------------------------

// peerMode is the effective mTLS mode for (part of) a policy's workloads, and why.
type peerMode struct {
	mode string // STRICT, PERMISSIVE or DISABLE
	why  string
	ref  *inventory.ObjectRef
}

func weakMode(m string) bool { return m == "PERMISSIVE" || m == "DISABLE" }

func modeOf(m *inventory.MutualTLS) string {
	if m == nil {
		return ""
	}
	switch mode := strings.ToUpper(m.Mode); mode {
	case "", "UNSET":
		return ""
	default:
		return mode
	}
}

func peerRef(p *inventory.PeerAuthentication) *inventory.ObjectRef {
	return &inventory.ObjectRef{Kind: inventory.PeerAuthentications, Namespace: p.Namespace, Name: p.Name}
}

// selectorsOverlap reports whether some workload can carry both label sets (no key with two
// different values). A nil selector selects every workload.
func selectorsOverlap(a, b *inventory.WorkloadSelector) bool {
	if a == nil || b == nil {
		return true
	}
	for k, v := range a.MatchLabels {
		if w, ok := b.MatchLabels[k]; ok && w != v {
			return false
		}
	}
	return true
}

// selectorCovers reports whether every workload selected by sel is selected by by.
func selectorCovers(by, sel *inventory.WorkloadSelector) bool {
	if by == nil || len(by.MatchLabels) == 0 {
		return true
	}
	if sel == nil {
		return false
	}
	for k, v := range by.MatchLabels {
		if sel.MatchLabels[k] != v {
			return false
		}
	}
	return true
}

// peerModes returns the weak mTLS modes that apply to some of the workloads an
// AuthorizationPolicy in ns with selector sel applies to, following Istio's precedence:
// a workload-level PeerAuthentication (selector) over the namespace-level one over the
// mesh-level one (root namespace), UNSET inheriting from the level above, and
// PERMISSIVE when nothing is set. portLevelMtls overrides a workload's mode on a port.
func peerModes(s *inventory.Snapshot, ns string, sel *inventory.WorkloadSelector) []peerMode {
	var mesh, nsLevel *inventory.PeerAuthentication
	for i := range s.PeerAuthentications {
		pa := &s.PeerAuthentications[i]
		if pa.Spec.Selector != nil && len(pa.Spec.Selector.MatchLabels) > 0 {
			continue
		}
		if pa.Namespace == inventory.IstioRootNamespace && mesh == nil {
			mesh = pa
		}
		if pa.Namespace == ns && nsLevel == nil {
			nsLevel = pa
		}
	}
	inherited := peerMode{mode: "PERMISSIVE", why: "no PeerAuthentication sets a mode: Istio's default is PERMISSIVE"}
	if m := modeOf(meshSpec(mesh)); m != "" {
		inherited = peerMode{mode: m, why: fmt.Sprintf("mesh-wide PeerAuthentication %s/%s: %s", mesh.Namespace, mesh.Name, m), ref: peerRef(mesh)}
	}
	if m := modeOf(meshSpec(nsLevel)); m != "" && ns != inventory.IstioRootNamespace {
		inherited = peerMode{mode: m, why: fmt.Sprintf("namespace PeerAuthentication %s/%s: %s", nsLevel.Namespace, nsLevel.Name, m), ref: peerRef(nsLevel)}
	}
	var out []peerMode
	covered := false // a workload-level policy sets a strong mode for every selected workload
	for i := range s.PeerAuthentications {
		pa := &s.PeerAuthentications[i]
		if pa.Spec.Selector == nil || len(pa.Spec.Selector.MatchLabels) == 0 {
			continue
		}
		if ns != inventory.IstioRootNamespace && pa.Namespace != ns || !selectorsOverlap(pa.Spec.Selector, sel) {
			continue
		}
		where := fmt.Sprintf("PeerAuthentication %s/%s (workloads %s)", pa.Namespace, pa.Name, labelString(pa.Spec.Selector.MatchLabels))
		m := modeOf(pa.Spec.MTLS)
		eff, how := m, where+": "+m
		if m == "" {
			eff, how = inherited.mode, where+" inherits "+inherited.mode
		}
		if weakMode(eff) {
			out = append(out, peerMode{mode: eff, why: how, ref: peerRef(pa)})
		} else if pa.Namespace == ns && selectorCovers(pa.Spec.Selector, sel) && len(pa.Spec.PortLevelMTLS) == 0 {
			covered = true
		}
		for _, port := range slices.Sorted(maps.Keys(pa.Spec.PortLevelMTLS)) {
			pm := pa.Spec.PortLevelMTLS[port]
			if pmode := modeOf(&pm); weakMode(pmode) {
				out = append(out, peerMode{mode: pmode, why: fmt.Sprintf("%s: port %s %s", where, port, pmode), ref: peerRef(pa)})
			}
		}
	}
	if ns == inventory.IstioRootNamespace {
		// A mesh-wide authorization policy applies in every namespace.
		for i := range s.PeerAuthentications {
			pa := &s.PeerAuthentications[i]
			if pa.Namespace == ns || pa.Spec.Selector != nil && len(pa.Spec.Selector.MatchLabels) > 0 {
				continue
			}
			if m := modeOf(pa.Spec.MTLS); weakMode(m) {
				out = append(out, peerMode{mode: m, why: fmt.Sprintf("namespace PeerAuthentication %s/%s: %s", pa.Namespace, pa.Name, m), ref: peerRef(pa)})
			}
		}
	}
	if weakMode(inherited.mode) && !covered {
		out = append([]peerMode{inherited}, out...)
	}
	return out
}

func meshSpec(pa *inventory.PeerAuthentication) *inventory.MutualTLS {
	if pa == nil {
		return nil
	}
	return pa.Spec.MTLS
}

// identityMatches classifies how a policy's rules use the peer identity: positive
// (principals, namespaces) or negative (notPrincipals, notNamespaces) matches.
func identityMatches(p *inventory.AuthorizationPolicy) (positive, negative []string) {
	for ri, rule := range p.Spec.Rules {
		for _, from := range rule.From {
			src := from.Source
			if len(src.Principals) > 0 {
				positive = append(positive, fmt.Sprintf("rules[%d] principals %s", ri, strings.Join(src.Principals, ", ")))
			}
			if len(src.Namespaces) > 0 {
				positive = append(positive, fmt.Sprintf("rules[%d] namespaces %s", ri, strings.Join(src.Namespaces, ", ")))
			}
			if len(src.NotPrincipals) > 0 {
				negative = append(negative, fmt.Sprintf("rules[%d] notPrincipals %s", ri, strings.Join(src.NotPrincipals, ", ")))
			}
			if len(src.NotNamespaces) > 0 {
				negative = append(negative, fmt.Sprintf("rules[%d] notNamespaces %s", ri, strings.Join(src.NotNamespaces, ", ")))
			}
		}
	}
	return positive, negative
}

var meshPermissiveCheck = register(&Check{
	ID:       "KW-MESH-002",
	Title:    "Istio policy relies on peer identity where plaintext is accepted",
	Severity: High,
	Reads:    []inventory.Kind{inventory.AuthorizationPolicies, inventory.PeerAuthentications},
	Refs:     []string{meshRefPractice, meshRefPeer, meshRefAuthz},
	Summary: "An AuthorizationPolicy matches callers by peer identity (source.principals, namespaces, or their not- forms) " +
		"on workloads whose PeerAuthentication (workload, namespace or mesh level, or a portLevelMtls entry; PERMISSIVE when " +
		"none is set) is PERMISSIVE or DISABLE. A plaintext request carries no peer identity, so it matches no positive and " +
		"every negative identity match: an ALLOW rule with notPrincipals/notNamespaces admits it (high), a DENY or CUSTOM rule " +
		"with principals/namespaces does not stop it (medium), an ALLOW by principals still refuses it but only because of the " +
		"policy (low: require STRICT). DENY with notPrincipals is Istio's recommended guard and is not reported.",
	run: func(in *Input, r *run) {
		if !r.needMesh("", inventory.AuthorizationPolicies) {
			return
		}
		s := in.Snapshot
		if st := s.StatusOf(inventory.PeerAuthentications); !st.Readable() {
			// Without PeerAuthentications the mode cannot be known (files that hold only the
			// authorization policies, or a refused list).
			for i := range s.AuthorizationPolicies {
				if pos, neg := identityMatches(&s.AuthorizationPolicies[i]); len(pos)+len(neg) > 0 {
					r.notAssessed("", []string{st.Reason(inventory.PeerAuthentications)})
					return
				}
			}
			return
		}
		for i := range s.AuthorizationPolicies {
			p := &s.AuthorizationPolicies[i]
			if s.Cluster.Namespace != "" && p.Namespace != s.Cluster.Namespace && p.Namespace != inventory.IstioRootNamespace {
				continue
			}
			action := p.Spec.EffectiveAction()
			pos, neg := identityMatches(p)
			var sev Severity
			var relied []string
			var effect string
			switch {
			case action == "ALLOW" && len(neg) > 0:
				sev, relied = High, neg
				effect = "a plaintext caller has no principal or namespace, so it matches these negative matches and the ALLOW rule admits it"
			case (action == "DENY" || action == "CUSTOM") && len(pos) > 0:
				sev, relied = Medium, pos
				effect = fmt.Sprintf("a plaintext caller has no principal or namespace, so it matches none of them and the %s rule does not apply to it: it is not stopped", action)
			case action == "ALLOW" && len(pos) > 0:
				sev, relied = Low, pos
				effect = "a plaintext caller matches none of them and is refused by this rule, but the workload accepts plaintext: any rule without a source match, or another ALLOW policy, lets it in unauthenticated"
			default:
				continue
			}
			modes := peerModes(s, p.Namespace, p.Spec.Selector)
			if len(modes) == 0 {
				continue
			}
			ev := append([]string{}, relied...)
			var related []inventory.ObjectRef
			for _, m := range modes {
				ev = append(ev, "mTLS "+m.why)
				if m.ref != nil {
					related = append(related, *m.ref)
				}
			}
			ev = append(ev, effect, "applies to "+policyScope(p.Namespace, p.Spec.Selector))
			fix := fmt.Sprintf("kubectl apply -f - <<EOF\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: %s}\nspec:\n  mtls: {mode: STRICT}\nEOF", p.Namespace)
			if action != "ALLOW" {
				fix += "\n# or deny callers without a peer identity: a DENY rule with from.source.notPrincipals: [\"*\"]"
			}
			r.add(Finding{
				Severity:    sev,
				Message:     fmt.Sprintf("%s policy %s/%s relies on peer identity, but %s mTLS lets plaintext callers in without one", action, p.Namespace, p.Name, modes[0].mode),
				Object:      policyRef(p),
				Related:     related,
				Evidence:    ev,
				Remediation: fix,
			})
		}
	},
})
