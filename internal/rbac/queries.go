package rbac

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// Query is one entry of an expectations file: who, what, and optionally what must happen.
type Query struct {
	Subject string   `json:"subject"`
	Groups  []string `json:"groups,omitempty"`
	Verb    string   `json:"verb"`
	// APIGroup may be omitted for built-in resources, whose group is known.
	APIGroup       *string `json:"apiGroup,omitempty"`
	Resource       string  `json:"resource,omitempty"`
	Subresource    string  `json:"subresource,omitempty"`
	Namespace      string  `json:"namespace,omitempty"`
	Name           string  `json:"name,omitempty"`
	NonResourceURL string  `json:"nonResourceURL,omitempty"`
	// Expect is "allow", "deny" or empty (just answer).
	Expect string `json:"expect,omitempty"`
}

// Resolve turns a query into the user and request it asks about.
func (q Query) Resolve() (User, Request, error) {
	u, err := ParseUser(q.Subject, q.Groups)
	if err != nil {
		return User{}, Request{}, err
	}
	switch q.Expect {
	case "", "allow", "deny":
	default:
		return User{}, Request{}, fmt.Errorf("expect %q: want allow or deny", q.Expect)
	}
	if q.NonResourceURL != "" {
		if q.Resource != "" {
			return User{}, Request{}, fmt.Errorf("give either resource or nonResourceURL, not both")
		}
		if q.NonResourceURL[0] != '/' {
			return User{}, Request{}, fmt.Errorf("nonResourceURL %q must start with /", q.NonResourceURL)
		}
		r, err := ParseRequest(q.Verb, q.NonResourceURL, "", "")
		return u, r, err
	}
	if q.Resource == "" {
		return User{}, Request{}, fmt.Errorf("give resource or nonResourceURL")
	}
	res := q.Resource
	if q.APIGroup != nil && *q.APIGroup != "" {
		res += "." + *q.APIGroup
	}
	if q.Subresource != "" {
		res += "/" + q.Subresource
	}
	r, err := ParseRequest(q.Verb, res, q.Name, q.Namespace)
	if err != nil {
		return User{}, Request{}, err
	}
	if q.APIGroup != nil && *q.APIGroup == "" {
		r.APIGroup = ""
	}
	return u, r, nil
}

// ParseQueries reads an expectations file: a YAML or JSON list of queries. Each entry is
// checked; the error names the first bad entry (1-based) and its subject.
func ParseQueries(data []byte) ([]Query, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, fmt.Errorf("no queries: want a list of {subject, verb, resource|nonResourceURL, ...}")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("want a list of queries: %w", err)
	}
	out := make([]Query, 0, len(raw))
	for i, r := range raw {
		var q Query
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if _, _, err := q.Resolve(); err != nil {
			return nil, fmt.Errorf("entry %d (subject %q): %w", i+1, q.Subject, err)
		}
		out = append(out, q)
	}
	return out, nil
}
