package cloud

import (
	"slices"
	"strings"
)

// Tri is a three-valued answer: a condition on a key kwid does not model (a source IP, a
// time) can be neither proved nor refuted offline.
type Tri int8

// Answers, weakest first.
const (
	No Tri = iota
	Maybe
	Yes
)

func (t Tri) String() string { return [...]string{"no", "maybe", "yes"}[t] }

func and(a, b Tri) Tri { return min(a, b) }

// Caller is the principal making a request: Type is Federated, Service or AWS.
type Caller struct {
	Type, ID string
}

// Request is what a policy is evaluated against: an action by a caller with a request
// context. Context keys are matched case-insensitively (as IAM does); a key missing from
// Context is absent when Modelled says kwid knows the request would not carry it, and
// unknown otherwise.
type Request struct {
	Action  string
	Caller  Caller
	Context map[string][]string
	// Modelled reports whether a key absent from Context is known to be absent.
	Modelled func(key string) bool
}

// Decision is a policy's answer to a request and the statements that gave it.
type Decision struct {
	Result Tri
	// Allow and Deny are the statements (1-based) that apply with a condition that holds
	// (or may hold).
	Allow, Deny []int
	// Unknown lists the condition keys that could not be decided.
	Unknown []string
}

// Evaluate decides a request as IAM does within one policy: an explicit Deny wins, else
// an Allow is needed. Resources are not compared (a trust policy's resource is its role).
func (p *Policy) Evaluate(req Request) Decision {
	ctx := make(map[string][]string, len(req.Context))
	for k, v := range req.Context {
		ctx[strings.ToLower(k)] = v
	}
	var d Decision
	allow, deny := No, No
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.appliesTo(req.Caller) || !s.coversAction(req.Action) {
			continue
		}
		c := Yes
		for _, cond := range s.Conditions {
			r := cond.eval(ctx, req.Modelled)
			if r == Maybe && !slices.Contains(d.Unknown, cond.Key) {
				d.Unknown = append(d.Unknown, cond.Key)
			}
			c = and(c, r)
		}
		if c == No {
			continue
		}
		if s.Effect == "Deny" {
			d.Deny = append(d.Deny, s.Index)
			deny = max(deny, c)
		} else {
			d.Allow = append(d.Allow, s.Index)
			allow = max(allow, c)
		}
	}
	switch {
	case deny == Yes:
		d.Result = No
	case deny == Maybe:
		d.Result = min(allow, Maybe)
	default:
		d.Result = allow
	}
	return d
}

// appliesTo reports whether a statement's Principal (or NotPrincipal) names the caller.
// A statement without either (a permissions policy) applies to its holder.
func (s *Statement) appliesTo(c Caller) bool {
	switch {
	case s.Principal != nil:
		return s.Principal.names(c)
	case s.NotPrincipal != nil:
		return !s.NotPrincipal.names(c)
	}
	return true
}

func (p *Principal) names(c Caller) bool {
	if p.All {
		return true
	}
	var list []string
	switch c.Type {
	case "Federated":
		list = p.Federated
	case "Service":
		list = p.Service
	case "AWS":
		list = p.AWS
	}
	return slices.Contains(list, c.ID)
}

// coversAction reports whether Action (or NotAction) covers an action, wildcards and
// case-insensitively.
func (s *Statement) coversAction(action string) bool {
	if s.NotAction != nil {
		return !anyGlob(s.NotAction, action, true)
	}
	return anyGlob(s.Action, action, true)
}

// Covers is coversAction for callers: whether the statement's actions include action.
func (s *Statement) Covers(action string) bool { return s.coversAction(action) }

func anyGlob(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if Glob(p, v, fold) {
			return true
		}
	}
	return false
}

// Glob matches IAM wildcards: * is any run of characters, ? one character.
func Glob(pattern, v string, fold bool) bool {
	if fold {
		pattern, v = strings.ToLower(pattern), strings.ToLower(v)
	}
	p, s := 0, 0
	star, mark := -1, 0
	for s < len(v) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == v[s]):
			p++
			s++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, s
			p++
		case star >= 0:
			p = star + 1
			mark++
			s = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// HasWildcard reports whether a value uses IAM wildcards.
func HasWildcard(v string) bool { return strings.ContainsAny(v, "*?") }

func negated(op string) bool {
	return strings.Contains(op, "Not")
}

// eval decides one condition against a context whose keys are lowercased.
func (c Condition) eval(ctx map[string][]string, modelled func(string) bool) Tri {
	vals, present := ctx[strings.ToLower(c.Key)]
	if !present {
		if modelled == nil || !modelled(c.Key) {
			return Maybe
		}
		switch {
		case c.Op == "Null":
			return triOf(len(c.Values) > 0 && strings.EqualFold(c.Values[0], "true"))
		case c.IfExists, c.Set == "ForAllValues":
			return Yes
		case c.Set == "ForAnyValue":
			return No
		}
		return triOf(negated(c.Op))
	}
	if c.Op == "Null" {
		return triOf(len(c.Values) > 0 && strings.EqualFold(c.Values[0], "false"))
	}
	match, ok := c.matcher(ctx)
	if !ok {
		return Maybe
	}
	neg := negated(c.Op)
	switch c.Set {
	case "ForAllValues":
		for _, v := range vals {
			if match(v) == neg {
				return No
			}
		}
		return Yes
	default: // single-valued and ForAnyValue: some value of the key satisfies the operator
		for _, v := range vals {
			if match(v) != neg {
				return Yes
			}
		}
		if neg && c.Set == "" {
			// A negated operator holds only when no value matches: checked above as
			// "every value fails to match".
			return triOf(len(vals) == 0)
		}
		return No
	}
}

// matcher returns whether one context value matches any of the condition's values, or
// false when the operator is not decided offline (numbers, dates, addresses) or a policy
// variable cannot be resolved.
func (c Condition) matcher(ctx map[string][]string) (func(string) bool, bool) {
	vals := make([]string, 0, len(c.Values))
	for _, v := range c.Values {
		r, ok := substitute(v, ctx)
		if !ok {
			return nil, false
		}
		vals = append(vals, r)
	}
	var one func(p, v string) bool
	switch strings.TrimPrefix(strings.TrimPrefix(c.Op, "String"), "Arn") {
	case "Equals", "NotEquals":
		if strings.HasPrefix(c.Op, "Arn") {
			one = func(p, v string) bool { return Glob(p, v, false) }
		} else {
			one = func(p, v string) bool { return p == v }
		}
	case "EqualsIgnoreCase", "NotEqualsIgnoreCase":
		one = strings.EqualFold
	case "Like", "NotLike":
		one = func(p, v string) bool { return Glob(p, v, false) }
	case "Bool":
		one = strings.EqualFold
	default:
		return nil, false
	}
	return func(v string) bool {
		for _, p := range vals {
			if one(p, v) {
				return true
			}
		}
		return false
	}, true
}

// substitute resolves policy variables ${key} from the context; ${*}, ${?} and ${$} are
// the literal characters.
func substitute(v string, ctx map[string][]string) (string, bool) {
	if !strings.Contains(v, "${") {
		return v, true
	}
	var b strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			return b.String(), true
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			b.WriteString(v)
			return b.String(), true
		}
		b.WriteString(v[:i])
		key := v[i+2 : i+j]
		switch key {
		case "*", "?", "$":
			b.WriteString(key)
		default:
			name, def, hasDef := strings.Cut(key, ", '")
			if vals := ctx[strings.ToLower(strings.TrimSpace(name))]; len(vals) == 1 {
				b.WriteString(vals[0])
			} else if hasDef {
				b.WriteString(strings.TrimSuffix(def, "'"))
			} else {
				return "", false
			}
		}
		v = v[i+j+1:]
	}
}

func triOf(b bool) Tri {
	if b {
		return Yes
	}
	return No
}
