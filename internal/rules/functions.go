package rules

import (
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"
	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/graph"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// Cloud identity annotations of a ServiceAccount, in the order cloudRoleOf reads them.
var cloudAnnotations = []string{
	"eks.amazonaws.com/role-arn",
	"iam.gke.io/gcp-service-account",
	"azure.workload.identity/client-id",
}

// newEnv declares `object`, the CEL string extensions and kwid's functions:
//
//	can(subject, verb, resource, namespace) bool     the RBAC decision, as kwid can
//	whoCan(verb, resource, namespace) list(string)   subjects allowed ("sa:NS/NAME", "user:N", "group:G")
//	serviceAccountOf(object) string                  "NS/NAME" a Pod or workload runs as
//	cloudRoleOf(serviceAccount) string               its IRSA role ARN, GCP or Azure identity, or ""
//	pathsToClusterAdmin(subject) list(string)        the hops of its shortest escalation path ([] if none)
func newEnv(st *state) (*cel.Env, error) {
	fail := func(err error) ref.Val { return types.NewErr("%v", err) }
	str := func(v ref.Val) string { s, _ := v.Value().(string); return s }
	return cel.NewEnv(
		ext.Strings(), // join, split, lowerAscii... as in Kubernetes' CEL
		cel.Variable("object", cel.MapType(cel.StringType, cel.DynType)),
		cel.Function("can",
			cel.Overload("can_string_string_string_string",
				[]*cel.Type{cel.StringType, cel.StringType, cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					in, err := st.must()
					if err != nil {
						return fail(err)
					}
					u, err := rbac.ParseUser(str(args[0]), nil)
					if err != nil {
						return fail(err)
					}
					req, err := rbac.ParseRequest(str(args[1]), str(args[2]), "", str(args[3]))
					if err != nil {
						return fail(err)
					}
					return types.Bool(in.RBAC.Authorize(u, req).Allowed)
				}))),
		cel.Function("whoCan",
			cel.Overload("whoCan_string_string_string",
				[]*cel.Type{cel.StringType, cel.StringType, cel.StringType}, cel.ListType(cel.StringType),
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					in, err := st.must()
					if err != nil {
						return fail(err)
					}
					req, err := rbac.ParseRequest(str(args[0]), str(args[1]), "", str(args[2]))
					if err != nil {
						return fail(err)
					}
					var sas []inventory.ObjectRef
					for _, sa := range in.Snapshot.ServiceAccounts {
						sas = append(sas, inventory.ObjectRef{Kind: inventory.ServiceAccounts, Namespace: sa.Namespace, Name: sa.Name})
					}
					res := in.RBAC.WhoCan(req, false, sas)
					var out []string
					seen := map[string]bool{}
					addOnce := func(s string) {
						if !seen[s] {
							seen[s] = true
							out = append(out, s)
						}
					}
					for _, a := range res.Subjects {
						switch a.Subject.Kind {
						case "ServiceAccount":
							addOnce("sa:" + a.Subject.Namespace + "/" + a.Subject.Name)
						case "User":
							if ns, name, ok := rbac.SplitServiceAccountUsername(a.Subject.Name); ok {
								addOnce("sa:" + ns + "/" + name)
							} else {
								addOnce("user:" + a.Subject.Name)
							}
						case "Group":
							addOnce("group:" + a.Subject.Name)
						}
					}
					for _, e := range res.ServiceAccounts {
						addOnce("sa:" + e.Namespace + "/" + e.Name)
					}
					return types.NewStringList(types.DefaultTypeAdapter, out)
				}))),
		cel.Function("serviceAccountOf",
			cel.Overload("serviceAccountOf_map", []*cel.Type{cel.MapType(cel.StringType, cel.DynType)}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					m, ok := v.(traits.Mapper)
					if !ok {
						return fail(fmt.Errorf("serviceAccountOf: want an object"))
					}
					ns := lookup(m, "metadata", "namespace")
					for _, path := range [][]string{
						{"spec", "serviceAccountName"},
						{"spec", "template", "spec", "serviceAccountName"},
						{"spec", "jobTemplate", "spec", "template", "spec", "serviceAccountName"},
					} {
						if sa := lookup(m, path...); sa != "" {
							return types.String(ns + "/" + sa)
						}
					}
					return types.String(ns + "/default")
				}))),
		cel.Function("pathsToClusterAdmin",
			cel.Overload("pathsToClusterAdmin_string", []*cel.Type{cel.StringType}, cel.ListType(cel.StringType),
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					in, err := st.must()
					if err != nil {
						return fail(err)
					}
					hops, err := adminPath(in, str(v))
					if err != nil {
						return fail(err)
					}
					return types.NewStringList(types.DefaultTypeAdapter, hops)
				}))),
		cel.Function("cloudRoleOf",
			cel.Overload("cloudRoleOf_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					in, err := st.must()
					if err != nil {
						return fail(err)
					}
					ns, name, ok := strings.Cut(str(v), "/")
					if !ok {
						return fail(fmt.Errorf("cloudRoleOf: want NAMESPACE/NAME, got %q", str(v)))
					}
					sa := in.Snapshot.ServiceAccount(ns, name)
					if sa == nil {
						return types.String("")
					}
					for _, a := range cloudAnnotations {
						if v := sa.Annotations[a]; v != "" {
							return types.String(v)
						}
					}
					return types.String("")
				})),
			cel.Overload("cloudRoleOf_map", []*cel.Type{cel.MapType(cel.StringType, cel.DynType)}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					m, ok := v.(traits.Mapper)
					if !ok {
						return fail(fmt.Errorf("cloudRoleOf: want a ServiceAccount"))
					}
					for _, a := range cloudAnnotations {
						if s := lookup(m, "metadata", "annotations", a); s != "" {
							return types.String(s)
						}
					}
					return types.String("")
				}))),
	)
}

// lookup follows keys through nested CEL maps and returns the string found, or "".
func lookup(m traits.Mapper, keys ...string) string {
	var cur ref.Val = m
	for _, k := range keys {
		mm, ok := cur.(traits.Mapper)
		if !ok {
			return ""
		}
		v, found := mm.Find(types.String(k))
		if !found {
			return ""
		}
		cur = v
	}
	s, _ := cur.Value().(string)
	return s
}

// adminPath renders the shortest path of a subject to cluster-admin as one line per hop
// (bounded: the graph's shortest path, built once per scan). A subject that is not in the
// graph has no path.
func adminPath(in *checks.Input, subject string) ([]string, error) {
	kind, ns, name, err := graphSubject(subject)
	if err != nil {
		return nil, err
	}
	g := in.Graph()
	id, ok := g.Lookup(kind, ns, name)
	if !ok {
		return []string{}, nil
	}
	p, ok := in.AdminPaths().Shortest(id)
	if !ok {
		return []string{}, nil
	}
	out := make([]string, 0, len(p.Hops))
	for _, h := range p.Hops {
		out = append(out, fmt.Sprintf("%s -[%s]-> %s", h.From, h.Primitive, h.To))
	}
	return out, nil
}

// graphSubject reads a subject as kwid can takes it, as a graph node.
func graphSubject(s string) (graph.Kind, string, string, error) {
	u, err := rbac.ParseUser(s, nil)
	if err != nil {
		return 0, "", "", err
	}
	if ns, name, ok := rbac.SplitServiceAccountUsername(u.Name); ok {
		return graph.ServiceAccount, ns, name, nil
	}
	if u.Name == "" && len(u.Groups) > 0 {
		return graph.Group, "", u.Groups[0], nil
	}
	return graph.User, "", u.Name, nil
}
