package cli

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// explainActAsLimit caps the "who can act as it" list.
const explainActAsLimit = 20

func newExplainCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	in := newInputFlags()
	in.queryNamespace = true
	var output string
	cmd := &cobra.Command{
		Use:   "explain sa NS/NAME | pod NS/NAME | user NAME | group NAME",
		Short: "Identity card: workloads, tokens, rights, cloud roles, who can act as it, blast radius, findings",
		Long: `Explain one identity: the workloads that run as it and whether they mount its token, its
tokens (projected, legacy Secrets), its effective RBAC rights by scope, the cloud roles it
maps to, who can act as it (with the shortest path of each), its own path to cluster-admin,
what it can reach (blast radius) and the findings about it.`,
		Example: `  kwid explain sa kube-system/aws-node --demo
  kwid explain pod payments/api-5c8d --snapshot cluster.json.gz -o json
  kwid explain user jane@example.com`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("want KIND NAME: sa NS/NAME, pod NS/NAME, user NAME or group NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("output", output, []string{"table", "json", "yaml"}); err != nil {
				return err
			}
			kind, name := strings.ToLower(args[0]), args[1]
			var from string
			switch kind {
			case "sa", "serviceaccount", "serviceaccounts":
				from = "sa:" + name
			case "pod", "pods":
				from = "pod:" + name
			case "user":
				from = "user:" + name
			case "group":
				from = "group:" + name
			default:
				return usageErrorf("unknown kind %q: want sa, pod, user or group", args[0])
			}
			if (strings.HasPrefix(from, "sa:") || strings.HasPrefix(from, "pod:")) && !strings.Contains(name, "/") {
				return usageErrorf("%s %q: want NAMESPACE/NAME", kind, name)
			}
			l, err := in.load(cmd.Context(), g, streams, cmd.Flags())
			if err != nil {
				return err
			}
			input := l.checksInput()
			ids, err := input.Graph().ParseFrom(from)
			if err != nil {
				return pathsInputError(err)
			}
			card := explain(input, ids[0])
			if output != "table" {
				return encodeStructured(streams.Out, output, card)
			}
			return writeCard(streams.Out, card)
		},
	}
	in.addFlags(cmd.Flags())
	in.addCloudFlag(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

type explainCard struct {
	Identity           graph.Ref         `json:"identity"`
	User               *rbac.User        `json:"user,omitempty"`
	Pod                *explainPod       `json:"pod,omitempty"`
	Workloads          []explainWorkload `json:"workloads"`
	Tokens             explainTokens     `json:"tokens"`
	CloudRoles         []string          `json:"cloudRoles"`
	Admin              bool              `json:"admin"`
	Rights             []explainScope    `json:"rights"`
	PathToClusterAdmin *graph.Path       `json:"pathToClusterAdmin,omitempty"`
	WhoCanActAsIt      []graph.Path      `json:"whoCanActAsIt"`
	WhoCanActAsItTotal int               `json:"whoCanActAsItTotal"`
	BlastRadius        explainBlast      `json:"blastRadius"`
	Findings           []checks.Finding  `json:"findings"`
	Notes              []string          `json:"notes,omitempty"`
	serviceAccountRef  *inventory.ObjectRef
	identityObjectRef  inventory.ObjectRef
}

type explainPod struct {
	ServiceAccount string `json:"serviceAccount"`
	Node           string `json:"node,omitempty"`
	TokenMounted   bool   `json:"tokenMounted"`
	Token          string `json:"token,omitempty"`
}

type explainWorkload struct {
	Kind         string `json:"kind"`
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	TokenMounted bool   `json:"tokenMounted"`
	Token        string `json:"token,omitempty"`
	Node         string `json:"node,omitempty"`
}

type explainTokens struct {
	// Projected are the workloads that carry an API token of the ServiceAccount.
	Projected int             `json:"projected"`
	Legacy    []explainSecret `json:"legacySecrets"`
}

type explainSecret struct {
	Name     string `json:"name"`
	LastUsed string `json:"lastUsed,omitempty"`
}

type explainScope struct {
	Scope    string       `json:"scope"`
	Bindings []objectName `json:"bindings"`
	Rules    []string     `json:"rules"`
}

type explainBlast struct {
	ClusterAdmin    bool        `json:"clusterAdmin"`
	ServiceAccounts int         `json:"serviceAccounts"`
	Secrets         int         `json:"secrets"`
	Pods            int         `json:"pods"`
	Nodes           int         `json:"nodes"`
	CloudRoles      []string    `json:"cloudRoles"`
	Sample          []graph.Ref `json:"sampleServiceAccounts,omitempty"`
}

func explain(input *checks.Input, id int32) *explainCard {
	gr := input.Graph()
	s := input.Snapshot
	n := gr.Node(id)
	card := &explainCard{Identity: n.Ref(), Workloads: []explainWorkload{}, CloudRoles: []string{}, Rights: []explainScope{},
		WhoCanActAsIt: []graph.Path{}, Findings: []checks.Finding{}, Notes: gr.Notes, identityObjectRef: n.ObjectRef()}
	card.Tokens.Legacy = []explainSecret{}
	card.BlastRadius.CloudRoles = []string{}

	// The identity whose rights count: a pod's ServiceAccount.
	ident := id
	if n.Kind == graph.Pod {
		p := findPod(s, n.Namespace, n.Name)
		sa := cmp.Or(p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount, "default")
		ok, why := graph.APIToken(s, p.Namespace, &p.Spec)
		card.Pod = &explainPod{ServiceAccount: sa, Node: p.Spec.NodeName, TokenMounted: ok, Token: why}
		if saID, found := gr.Lookup(graph.ServiceAccount, n.Namespace, sa); found {
			ident = saID
		}
	}
	in := gr.Node(ident)
	if in.Kind == graph.ServiceAccount || in.Kind == graph.User || in.Kind == graph.Group || in.Kind == graph.Node {
		u := gr.User(ident)
		card.User = &u
		card.Admin = graph.IsAdmin(input.RBAC, u)
		for _, sc := range input.RBAC.Access(u, "") {
			es := explainScope{Scope: cmp.Or(sc.Namespace, "cluster"), Bindings: []objectName{}, Rules: []string{}}
			for _, b := range sc.Bindings {
				es.Bindings = append(es.Bindings, objectName{Kind: b.Kind, Namespace: b.Namespace, Name: b.Name})
			}
			for i := range sc.Rules {
				es.Rules = append(es.Rules, rbac.DescribeRule(&sc.Rules[i]))
			}
			card.Rights = append(card.Rights, es)
		}
	}
	if in.Kind == graph.ServiceAccount {
		ref := inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: in.Namespace, Name: in.Name}
		card.serviceAccountRef = &ref
		for _, w := range input.Workloads() {
			if w.Ref.Namespace != in.Namespace || w.ServiceAccountName() != in.Name || w.Controlled {
				continue
			}
			ok, why := graph.APIToken(s, w.Ref.Namespace, w.Spec)
			card.Workloads = append(card.Workloads, explainWorkload{Kind: string(w.Ref.Kind), Namespace: w.Ref.Namespace, Name: w.Ref.Name, TokenMounted: ok, Token: why, Node: w.Spec.NodeName})
			if ok {
				card.Tokens.Projected++
			}
		}
		for i := range s.Secrets {
			sec := &s.Secrets[i]
			if sec.Namespace == in.Namespace && sec.Type == corev1.SecretTypeServiceAccountToken && sec.Annotations[corev1.ServiceAccountNameKey] == in.Name {
				card.Tokens.Legacy = append(card.Tokens.Legacy, explainSecret{Name: sec.Name, LastUsed: sec.Labels["kubernetes.io/legacy-token-last-used"]})
			}
		}
		for _, ei := range gr.Out(ident) {
			if e := gr.Edge(ei); e.Prim == graph.MapsTo {
				card.CloudRoles = append(card.CloudRoles, gr.Node(e.To).Name)
			}
		}
	}
	if !card.Admin {
		if p, ok := input.AdminPaths().Shortest(id); ok {
			card.PathToClusterAdmin = &p
		}
	}
	// Who can act as it: identities with a path to it, shortest first (admins can act as
	// anyone and are left out).
	tree := gr.ShortestTo(ident)
	var acts []graph.Path
	for _, k := range []graph.Kind{graph.ServiceAccount, graph.User, graph.Group} {
		for _, other := range gr.Nodes(k) {
			if other == ident || tree.Dist(other) < 0 {
				continue
			}
			on := gr.Node(other)
			if k == graph.Group && on.Name == rbac.GroupMasters || gr.Admin(other) {
				continue
			}
			p, _ := tree.Shortest(other)
			if p.Hops[0].Primitive == graph.MemberOf.String() {
				continue
			}
			acts = append(acts, p)
		}
	}
	slices.SortStableFunc(acts, func(a, b graph.Path) int { return cmp.Compare(len(a.Hops), len(b.Hops)) })
	card.WhoCanActAsItTotal = len(acts)
	card.WhoCanActAsIt = append(card.WhoCanActAsIt, acts[:min(len(acts), explainActAsLimit)]...)
	// Blast radius.
	for _, r := range gr.Reachable(id) {
		rn := gr.Node(r)
		switch rn.Kind {
		case graph.ClusterAdmin:
			card.BlastRadius.ClusterAdmin = true
		case graph.ServiceAccount:
			card.BlastRadius.ServiceAccounts++
			if len(card.BlastRadius.Sample) < 10 {
				card.BlastRadius.Sample = append(card.BlastRadius.Sample, rn.Ref())
			}
		case graph.Secret:
			card.BlastRadius.Secrets++
		case graph.Pod:
			card.BlastRadius.Pods++
		case graph.Node:
			card.BlastRadius.Nodes++
		case graph.CloudRole:
			card.BlastRadius.CloudRoles = append(card.BlastRadius.CloudRoles, rn.Name)
		}
	}
	// Findings about it (or its ServiceAccount, for a pod).
	refs := []inventory.ObjectRef{card.identityObjectRef}
	if card.Pod != nil {
		refs = append(refs, gr.Node(ident).ObjectRef())
	}
	for _, f := range checks.Run(input).Findings {
		if slices.Contains(refs, f.Object) || slices.ContainsFunc(f.Related, func(r inventory.ObjectRef) bool { return slices.Contains(refs, r) }) {
			card.Findings = append(card.Findings, f)
		}
	}
	return card
}

func findPod(s *inventory.Snapshot, namespace, name string) *corev1.Pod {
	for i := range s.Pods {
		if s.Pods[i].Namespace == namespace && s.Pods[i].Name == name {
			return &s.Pods[i]
		}
	}
	return &corev1.Pod{}
}

func writeCard(w io.Writer, c *explainCard) error {
	fmt.Fprintf(w, "%s\n", c.Identity)
	if c.User != nil {
		fmt.Fprintf(w, "  authenticates as: %s\n", c.User)
	}
	if c.Pod != nil {
		mounted := "no API token mounted"
		if c.Pod.TokenMounted {
			mounted = "token mounted: " + c.Pod.Token
		}
		fmt.Fprintf(w, "  runs as ServiceAccount %s on node %s (%s)\n", c.Pod.ServiceAccount, cmp.Or(c.Pod.Node, "-"), mounted)
	}
	if c.serviceAccountRef != nil {
		fmt.Fprintf(w, "\nWorkloads (%d):\n", len(c.Workloads))
		for _, wl := range c.Workloads {
			mounted := "no token"
			if wl.TokenMounted {
				mounted = "token: " + wl.Token
			}
			fmt.Fprintf(w, "  %s %s/%s (%s)\n", wl.Kind, wl.Namespace, wl.Name, mounted)
		}
		fmt.Fprintf(w, "\nTokens: %d workload(s) carry an API token; %d legacy token Secret(s)\n", c.Tokens.Projected, len(c.Tokens.Legacy))
		for _, l := range c.Tokens.Legacy {
			fmt.Fprintf(w, "  Secret %s (last used: %s)\n", l.Name, cmp.Or(l.LastUsed, "unknown"))
		}
		if len(c.CloudRoles) > 0 {
			fmt.Fprintf(w, "\nCloud roles: %s\n", strings.Join(c.CloudRoles, ", "))
		}
	}
	fmt.Fprintf(w, "\nRights")
	if c.Admin {
		fmt.Fprintf(w, " (cluster-admin equivalent)")
	}
	fmt.Fprintln(w, ":")
	if len(c.Rights) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, sc := range c.Rights {
		var bs []string
		for _, b := range sc.Bindings {
			bs = append(bs, b.Kind+" "+qualified(b))
		}
		fmt.Fprintf(w, "  %s (through %s):\n", sc.Scope, strings.Join(bs, ", "))
		for _, r := range sc.Rules {
			fmt.Fprintf(w, "    %s\n", r)
		}
	}
	fmt.Fprintln(w, "\nPath to cluster-admin:")
	switch {
	case c.Admin:
		fmt.Fprintln(w, "  it is cluster-admin")
	case c.PathToClusterAdmin == nil:
		fmt.Fprintln(w, "  none")
	default:
		writeHops(w, *c.PathToClusterAdmin, "  ")
	}
	fmt.Fprintf(w, "\nWho can act as it (%d, admins left out):\n", c.WhoCanActAsItTotal)
	if len(c.WhoCanActAsIt) == 0 {
		fmt.Fprintln(w, "  nobody")
	}
	for _, p := range c.WhoCanActAsIt {
		var prims []string
		for _, h := range p.Hops {
			prims = append(prims, h.Primitive)
		}
		fmt.Fprintf(w, "  %s (%s: %s)\n", p.From, hopCount(len(p.Hops)), strings.Join(prims, " -> "))
	}
	if c.WhoCanActAsItTotal > len(c.WhoCanActAsIt) {
		fmt.Fprintf(w, "  ... and %d more (kwid paths --to sa:NS/NAME lists them)\n", c.WhoCanActAsItTotal-len(c.WhoCanActAsIt))
	}
	b := c.BlastRadius
	fmt.Fprintf(w, "\nBlast radius: cluster-admin %s; %d ServiceAccounts, %d Secrets, %d pods, %d nodes, %d cloud roles reachable\n",
		explainYesNo(b.ClusterAdmin), b.ServiceAccounts, b.Secrets, b.Pods, b.Nodes, len(b.CloudRoles))
	fmt.Fprintf(w, "\nFindings (%d):\n", len(c.Findings))
	for _, f := range c.Findings {
		fmt.Fprintf(w, "  %s %s %s: %s\n", strings.ToUpper(f.Severity.String()), f.Check, f.Object, f.Message)
	}
	return nil
}

func explainYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
