package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Policy is an AWS IAM policy document (a role's trust policy or a permissions policy).
type Policy struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy. Principal and NotPrincipal are nil when absent
// (permissions policies have none).
type Statement struct {
	// Index is the statement's 1-based position in the document.
	Index                   int
	Sid                     string
	Effect                  string // Allow or Deny
	Principal, NotPrincipal *Principal
	Action, NotAction       []string
	Resource, NotResource   []string
	Conditions              []Condition
}

// Principal is a statement's Principal: "*" (All) or a map of principal types to values.
type Principal struct {
	All       bool
	AWS       []string
	Federated []string
	Service   []string
	Canonical []string
}

// Condition is one operator/key pair of a Condition block, with the operator split into
// its parts: ForAnyValue:StringLikeIfExists is Set "ForAnyValue", Op "StringLike",
// IfExists true.
type Condition struct {
	// Operator is the operator as written.
	Operator string
	Set      string // "", ForAnyValue or ForAllValues
	Op       string
	IfExists bool
	Key      string
	Values   []string
}

// String renders the condition as in the policy: StringEquals issuer:sub = [a b].
func (c Condition) String() string {
	v := strings.Join(c.Values, ", ")
	if len(c.Values) > 1 {
		v = "[" + v + "]"
	}
	return fmt.Sprintf("%s %s = %s", c.Operator, c.Key, v)
}

// maxPolicySize bounds a policy document (IAM's own limits are far below it).
const maxPolicySize = 1 << 20

// ParsePolicy reads a policy document in any form the AWS CLI and API print it: a JSON
// object, a JSON string holding the document, or the URL-encoded text of the raw IAM API.
func ParsePolicy(data []byte) (*Policy, error) {
	data = bytes.TrimSpace(data)
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("policy document of %d bytes is larger than %d", len(data), maxPolicySize)
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("policy document string: %w", err)
		}
		data = bytes.TrimSpace([]byte(s))
	}
	if len(data) > 0 && data[0] == '%' {
		s, err := url.QueryUnescape(string(data))
		if err != nil {
			return nil, fmt.Errorf("URL-encoded policy document: %w", err)
		}
		data = bytes.TrimSpace([]byte(s))
	}
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError("policy document", data, err)
	}
	p := &Policy{Version: raw.Version}
	var stmts []json.RawMessage
	switch first(raw.Statement) {
	case '[':
		if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
			return nil, fmt.Errorf("policy Statement: %w", err)
		}
	case '{':
		stmts = []json.RawMessage{raw.Statement}
	case 0:
		return nil, errors.New("policy document has no Statement")
	default:
		return nil, errors.New("policy Statement is neither an object nor a list")
	}
	for i, m := range stmts {
		s, err := parseStatement(m)
		if err != nil {
			return nil, fmt.Errorf("policy statement %d: %w", i+1, err)
		}
		s.Index = i + 1
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func first(b json.RawMessage) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return 0
	}
	return b[0]
}

func parseStatement(m json.RawMessage) (Statement, error) {
	var raw struct {
		Sid          string                                `json:"Sid"`
		Effect       string                                `json:"Effect"`
		Principal    json.RawMessage                       `json:"Principal"`
		NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
		Action       json.RawMessage                       `json:"Action"`
		NotAction    json.RawMessage                       `json:"NotAction"`
		Resource     json.RawMessage                       `json:"Resource"`
		NotResource  json.RawMessage                       `json:"NotResource"`
		Condition    map[string]map[string]json.RawMessage `json:"Condition"`
	}
	if err := json.Unmarshal(m, &raw); err != nil {
		return Statement{}, err
	}
	s := Statement{Sid: raw.Sid, Effect: raw.Effect}
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return s, fmt.Errorf("Effect %q: want Allow or Deny", raw.Effect)
	}
	var err error
	if s.Principal, err = parsePrincipal(raw.Principal); err != nil {
		return s, fmt.Errorf("Principal: %w", err)
	}
	if s.NotPrincipal, err = parsePrincipal(raw.NotPrincipal); err != nil {
		return s, fmt.Errorf("NotPrincipal: %w", err)
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]string
	}{{"Action", raw.Action, &s.Action}, {"NotAction", raw.NotAction, &s.NotAction}, {"Resource", raw.Resource, &s.Resource}, {"NotResource", raw.NotResource, &s.NotResource}} {
		if *f.dst, err = stringList(f.raw); err != nil {
			return s, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if s.Action == nil && s.NotAction == nil {
		return s, errors.New("no Action or NotAction")
	}
	ops := make([]string, 0, len(raw.Condition))
	for op := range raw.Condition {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		set, base, ifExists, err := splitOperator(op)
		if err != nil {
			return s, fmt.Errorf("Condition: %w", err)
		}
		keys := make([]string, 0, len(raw.Condition[op]))
		for k := range raw.Condition[op] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			vals, err := stringList(raw.Condition[op][k])
			if err != nil {
				return s, fmt.Errorf("Condition %s %s: %w", op, k, err)
			}
			s.Conditions = append(s.Conditions, Condition{Operator: op, Set: set, Op: base, IfExists: ifExists, Key: k, Values: vals})
		}
	}
	return s, nil
}

// stringList reads a string, a boolean, a number, or a list of them, as strings.
func stringList(m json.RawMessage) ([]string, error) {
	switch first(m) {
	case 0:
		return nil, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(m, &items); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			v, err := scalar(it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	v, err := scalar(m)
	if err != nil {
		return nil, err
	}
	return []string{v}, nil
}

func scalar(m json.RawMessage) (string, error) {
	m = bytes.TrimSpace(m)
	switch first(m) {
	case '"':
		var s string
		err := json.Unmarshal(m, &s)
		return s, err
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(m, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '{', '[', 0:
		return "", fmt.Errorf("want a string, a boolean or a number, got %.40s", string(m))
	}
	var n json.Number
	if err := json.Unmarshal(m, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

func parsePrincipal(m json.RawMessage) (*Principal, error) {
	switch first(m) {
	case 0:
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, err
		}
		if s != "*" {
			return nil, fmt.Errorf("%q: a string principal must be \"*\"", s)
		}
		return &Principal{All: true}, nil
	case '{':
	default:
		return nil, errors.New("want \"*\" or an object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(m, &raw); err != nil {
		return nil, err
	}
	p := &Principal{}
	for k, v := range raw {
		vals, err := stringList(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "AWS":
			p.AWS = vals
			if slices.Contains(vals, "*") {
				p.All = true
			}
		case "Federated":
			p.Federated = vals
		case "Service":
			p.Service = vals
		case "CanonicalUser":
			p.Canonical = vals
		default:
			return nil, fmt.Errorf("unknown principal type %q", k)
		}
	}
	return p, nil
}

// operators are the condition operators the evaluator knows (without IfExists and set
// prefixes).
var operators = []string{
	"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
	"StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike",
	"Bool", "Null",
	// Decided as "unknown" (the request context kwid models never holds these keys' values).
	"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
	"NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals",
	"DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
	"IpAddress", "NotIpAddress", "BinaryEquals",
}

func splitOperator(op string) (set, base string, ifExists bool, err error) {
	rest := op
	for _, p := range []string{"ForAnyValue:", "ForAllValues:"} {
		if r, ok := strings.CutPrefix(rest, p); ok {
			set, rest = strings.TrimSuffix(p, ":"), r
		}
	}
	if r, ok := strings.CutSuffix(rest, "IfExists"); ok && rest != "IfExists" {
		ifExists, rest = true, r
	}
	if !slices.Contains(operators, rest) {
		return "", "", false, fmt.Errorf("unknown operator %q", op)
	}
	if rest == "Null" && (ifExists || set != "") {
		return "", "", false, fmt.Errorf("operator %q: Null takes no prefix or IfExists", op)
	}
	return set, rest, ifExists, nil
}

// jsonError names where in a document a JSON syntax error is.
func jsonError(what string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Errorf("%s: invalid JSON at offset %d (line %d, column %d): %w", what, se.Offset, line, col, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := lineCol(data, te.Offset)
		return fmt.Errorf("%s: unexpected JSON %s at offset %d (line %d, column %d) for field %q", what, te.Value, te.Offset, line, col, te.Field)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
