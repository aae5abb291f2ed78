package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// MaxFileSize bounds one input file.
const MaxFileSize = 64 << 20

// Load reads --cloud inputs: files (whatever their name) and directories (every *.json
// file below them). Each file is recognised by its shape as the output of one supported
// command (docs/cloud.md). A file that is not valid JSON, or whose shape matches no
// supported command, is an error naming the file; every such error is returned, joined.
func Load(paths []string) (*Inventory, error) {
	l := newLoader()
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading cloud input: %w", err)
		}
		if !st.IsDir() {
			l.readFile(p)
			continue
		}
		err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(name), ".json") {
				l.readFile(name)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading cloud input %s: %w", p, err)
		}
	}
	return l.finish()
}

// LoadFS reads every *.json file of a file system under root (the embedded demo).
func LoadFS(fsys fs.FS, root string) (*Inventory, error) {
	l := newLoader()
	err := fs.WalkDir(fsys, root, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".json" {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		l.add(name, data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading cloud input %s: %w", root, err)
	}
	return l.finish()
}

// Parse reads one file's content (name is only used in messages and to tell which
// resource an IAM policy belongs to).
func Parse(name string, data []byte) (*Inventory, error) {
	l := newLoader()
	l.add(name, data)
	return l.finish()
}

type loader struct {
	inv  *Inventory
	errs []error
	// Outputs that do not name their object, resolved against the others at the end.
	attached []pendingAttached
	versions []pendingVersion
	policies []pendingPolicy // get-policy: names the policy of a get-policy-version nearby
	assocs   []*PodIdentityAssociation
	entries  []*AccessEntry
	assigned []assignedPolicies
}

type pendingAttached struct {
	src      Source
	policies []AttachedPolicy
}

type pendingVersion struct {
	src       Source
	versionID string
	doc       *Policy
}

type pendingPolicy struct {
	src       Source
	arn, name string
}

type assignedPolicies struct {
	src                    Source
	clusterName, principal string
	policies               []AccessPolicy
}

func newLoader() *loader { return &loader{inv: &Inventory{}} }

func (l *loader) readFile(name string) {
	f, err := os.Open(name)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("reading cloud input: %w", err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("reading cloud input %s: %w", name, err))
		return
	}
	if len(data) > MaxFileSize {
		l.errs = append(l.errs, fmt.Errorf("cloud input %s: larger than %d MiB", name, MaxFileSize>>20))
		return
	}
	l.add(name, data)
}

// shapes are the supported outputs: the top-level key that identifies each (docs/cloud.md
// lists the command for each).
const (
	shapeGetRole        = "aws iam get-role"
	shapeAttached       = "aws iam list-attached-role-policies"
	shapeRolePolicy     = "aws iam get-role-policy"
	shapePolicyVersion  = "aws iam get-policy-version"
	shapeGetPolicy      = "aws iam get-policy"
	shapeCluster        = "aws eks describe-cluster"
	shapeAssocList      = "aws eks list-pod-identity-associations"
	shapeAssoc          = "aws eks describe-pod-identity-association"
	shapeEntryList      = "aws eks list-access-entries"
	shapeEntry          = "aws eks describe-access-entry"
	shapeEntryPolicies  = "aws eks list-associated-access-policies"
	shapeLaunchTemplate = "aws ec2 describe-launch-template-versions"
	shapeGKE            = "gcloud container clusters describe"
	shapeIAMPolicy      = "gcloud get-iam-policy"
	shapeFICList        = "az identity federated-credential list"
	shapeFIC            = "az identity federated-credential show"
	shapeIdentity       = "az identity show"
	shapeIdentityList   = "az identity list"
	shapeAKS            = "az aks show"
	shapeEmpty          = "empty list"
)

func (l *loader) add(name string, data []byte) {
	if err := l.decode(name, data); err != nil {
		l.errs = append(l.errs, fmt.Errorf("cloud input %s: %w", name, err))
	}
}

func (l *loader) decode(name string, data []byte) error {
	data = bytes.TrimPrefix(bytes.TrimSpace(data), []byte("\xef\xbb\xbf"))
	if len(data) == 0 {
		return errors.New("empty file (want the JSON output of a supported command, see docs/cloud.md)")
	}
	if !json.Valid(data) {
		var v any
		return jsonError("not valid JSON", data, json.Unmarshal(data, &v))
	}
	src := Source{File: name}
	inv := l.inv
	if data[0] == '[' {
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return jsonError("a JSON list of objects", data, err)
		}
		switch {
		case len(items) == 0:
			src.Shape = shapeEmpty
		case has(items[0], "subject", "issuer"):
			src.Shape = shapeFICList
			fcs, err := decodeFederatedCredentials(data, src, true)
			if err != nil {
				return fmt.Errorf("%s output: %w", src.Shape, err)
			}
			inv.Azure.Credentials = append(inv.Azure.Credentials, fcs...)
		case has(items[0], "clientId", "principalId"):
			src.Shape = shapeIdentityList
			ids, err := decodeIdentities(data, src, true)
			if err != nil {
				return fmt.Errorf("%s output: %w", src.Shape, err)
			}
			inv.Azure.Identities = append(inv.Azure.Identities, ids...)
		default:
			return unknownShape(items[0], "a list whose items have")
		}
		inv.Files = append(inv.Files, src)
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return jsonError("a JSON object", data, err)
	}
	err := l.decodeObject(top, data, &src)
	if err != nil {
		if src.Shape != "" {
			return fmt.Errorf("%s output: %w", src.Shape, err)
		}
		return err
	}
	inv.Files = append(inv.Files, src)
	return nil
}

func (l *loader) decodeObject(top map[string]json.RawMessage, data []byte, src *Source) error {
	inv := l.inv
	switch {
	case has(top, "Role"):
		src.Shape = shapeGetRole
		r, err := decodeRole(top["Role"], *src)
		if err != nil {
			return err
		}
		inv.AWS.Roles = append(inv.AWS.Roles, r)
	case has(top, "AttachedPolicies"):
		src.Shape = shapeAttached
		var ps []AttachedPolicy
		if err := json.Unmarshal(top["AttachedPolicies"], &ps); err != nil {
			return jsonError("AttachedPolicies", data, err)
		}
		l.attached = append(l.attached, pendingAttached{src: *src, policies: ps})
	case has(top, "RoleName", "PolicyName", "PolicyDocument"):
		src.Shape = shapeRolePolicy
		var rp struct{ RoleName, PolicyName string }
		if err := json.Unmarshal(data, &rp); err != nil {
			return jsonError("get-role-policy", data, err)
		}
		doc, err := ParsePolicy(top["PolicyDocument"])
		if err != nil {
			return fmt.Errorf("inline policy %s of role %s: %w", rp.PolicyName, rp.RoleName, err)
		}
		l.versions = append(l.versions, pendingVersion{src: *src, versionID: "inline:" + rp.RoleName + "/" + rp.PolicyName, doc: doc})
	case has(top, "PolicyVersion"):
		src.Shape = shapePolicyVersion
		var pv struct {
			Document  json.RawMessage `json:"Document"`
			VersionID string          `json:"VersionId"`
		}
		if err := json.Unmarshal(top["PolicyVersion"], &pv); err != nil {
			return jsonError("PolicyVersion", data, err)
		}
		doc, err := ParsePolicy(pv.Document)
		if err != nil {
			return fmt.Errorf("PolicyVersion Document: %w", err)
		}
		l.versions = append(l.versions, pendingVersion{src: *src, versionID: pv.VersionID, doc: doc})
	case has(top, "Policy"):
		src.Shape = shapeGetPolicy
		var p struct {
			Name string `json:"PolicyName"`
			ARN  string `json:"Arn"`
		}
		if err := json.Unmarshal(top["Policy"], &p); err != nil {
			return jsonError("Policy", data, err)
		}
		l.policies = append(l.policies, pendingPolicy{src: *src, arn: p.ARN, name: p.Name})
	case has(top, "cluster"):
		src.Shape = shapeCluster
		c, err := decodeCluster(top["cluster"], *src)
		if err != nil {
			return err
		}
		inv.AWS.Clusters = append(inv.AWS.Clusters, c)
	case has(top, "associations"):
		src.Shape = shapeAssocList
		var as []*PodIdentityAssociation
		if err := json.Unmarshal(top["associations"], &as); err != nil {
			return jsonError("associations", data, err)
		}
		for _, a := range as {
			if a == nil {
				return errors.New("null association")
			}
			a.Source = *src
			l.assocs = append(l.assocs, a)
		}
	case has(top, "association"):
		src.Shape = shapeAssoc
		var a PodIdentityAssociation
		if err := json.Unmarshal(top["association"], &a); err != nil {
			return jsonError("association", data, err)
		}
		a.Source, a.Described = *src, true
		l.assocs = append(l.assocs, &a)
	case has(top, "accessEntries"):
		src.Shape = shapeEntryList
		var arns []string
		if err := json.Unmarshal(top["accessEntries"], &arns); err != nil {
			return jsonError("accessEntries", data, err)
		}
		for _, arn := range arns {
			l.entries = append(l.entries, &AccessEntry{PrincipalARN: arn, Source: *src})
		}
	case has(top, "accessEntry"):
		src.Shape = shapeEntry
		var e AccessEntry
		if err := json.Unmarshal(top["accessEntry"], &e); err != nil {
			return jsonError("accessEntry", data, err)
		}
		e.Source, e.Described = *src, true
		l.entries = append(l.entries, &e)
	case has(top, "associatedAccessPolicies"):
		src.Shape = shapeEntryPolicies
		var ap struct {
			Cluster   string         `json:"clusterName"`
			Principal string         `json:"principalArn"`
			Policies  []AccessPolicy `json:"associatedAccessPolicies"`
		}
		if err := json.Unmarshal(data, &ap); err != nil {
			return jsonError("list-associated-access-policies", data, err)
		}
		if ap.Principal == "" {
			return errors.New("no principalArn")
		}
		l.assigned = append(l.assigned, assignedPolicies{src: *src, clusterName: ap.Cluster, principal: ap.Principal, policies: ap.Policies})
	case has(top, "LaunchTemplateVersions"):
		src.Shape = shapeLaunchTemplate
		vs, err := decodeLaunchTemplates(top["LaunchTemplateVersions"], *src)
		if err != nil {
			return jsonError("LaunchTemplateVersions", data, err)
		}
		inv.AWS.LaunchTemplates = append(inv.AWS.LaunchTemplates, vs...)
	case has(top, "nodePools"), has(top, "workloadIdentityConfig"), has(top, "currentMasterVersion"):
		src.Shape = shapeGKE
		c, err := decodeGKECluster(data, *src)
		if err != nil {
			return err
		}
		inv.GCP.Clusters = append(inv.GCP.Clusters, c)
	case has(top, "bindings"), has(top, "etag") && len(top) <= 4:
		src.Shape = shapeIAMPolicy
		p, err := decodeIAMPolicy(data, *src)
		if err != nil {
			return jsonError("IAM policy", data, err)
		}
		src.Shape = p.Source.Shape
		inv.GCP.Policies = append(inv.GCP.Policies, p)
	case has(top, "oidcIssuerProfile"), strings.Contains(string(top["type"]), "Microsoft.ContainerService/ManagedClusters"):
		src.Shape = shapeAKS
		c, err := decodeAKS(data, *src)
		if err != nil {
			return err
		}
		inv.Azure.Clusters = append(inv.Azure.Clusters, c)
	case has(top, "subject", "issuer"):
		src.Shape = shapeFIC
		fcs, err := decodeFederatedCredentials(data, *src, false)
		if err != nil {
			return err
		}
		inv.Azure.Credentials = append(inv.Azure.Credentials, fcs...)
	case has(top, "clientId", "principalId"):
		src.Shape = shapeIdentity
		ids, err := decodeIdentities(data, *src, false)
		if err != nil {
			return err
		}
		inv.Azure.Identities = append(inv.Azure.Identities, ids...)
	default:
		return unknownShape(top, "an object with")
	}
	return nil
}

func has(m map[string]json.RawMessage, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

func unknownShape(m map[string]json.RawMessage, what string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 8 {
		keys = append(keys[:8], "...")
	}
	return fmt.Errorf("not the output of a supported command (%s keys %s); see docs/cloud.md for the accepted commands", what, strings.Join(keys, ", "))
}

// finish links the outputs that do not name their object to the ones that do.
func (l *loader) finish() (*Inventory, error) {
	inv := l.inv
	dirOf := func(s Source) string { return path.Dir(filepath.ToSlash(s.File)) }
	baseOf := func(s Source) string { return path.Base(filepath.ToSlash(s.File)) }

	// list-attached-role-policies: the role whose get-role output is in the same
	// directory (the only one there), else the role whose name the file's name contains.
	for _, a := range l.attached {
		r := l.roleFor(a.src, dirOf, baseOf)
		if r == nil {
			l.errs = append(l.errs, fmt.Errorf("cloud input %s: %s output does not name its role: put it in a directory with that role's get-role output only, or name the file after the role", a.src.File, shapeAttached))
			continue
		}
		r.Attached, r.AttachedKnown = append(r.Attached, a.policies...), true
	}
	// get-role-policy names its role; get-policy-version names nothing: the get-policy
	// output in the same directory, else the attached policy whose name the file's name
	// contains.
	for _, v := range l.versions {
		if role, name, ok := strings.Cut(strings.TrimPrefix(v.versionID, "inline:"), "/"); ok && strings.HasPrefix(v.versionID, "inline:") {
			r := inv.AWS.Role(role)
			if r == nil {
				l.errs = append(l.errs, fmt.Errorf("cloud input %s: inline policy %s of role %s, whose get-role output is not in the input", v.src.File, name, role))
				continue
			}
			r.Inline = append(r.Inline, InlinePolicy{Name: name, Document: v.doc, Source: v.src})
			continue
		}
		arn, name := l.policyFor(v.src, dirOf, baseOf)
		if arn == "" {
			l.errs = append(l.errs, fmt.Errorf("cloud input %s: %s output does not name its policy: put it in a directory with that policy's get-policy output only, or name the file after the policy", v.src.File, shapePolicyVersion))
			continue
		}
		inv.AWS.Policies = append(inv.AWS.Policies, &ManagedPolicy{ARN: arn, Name: name, VersionID: v.versionID, Document: v.doc, Source: v.src})
	}
	// Pod Identity associations: one per association ID, the described form first.
	byID := map[string]*PodIdentityAssociation{}
	for _, a := range l.assocs {
		key := a.AssociationID + "|" + a.AssociationARN
		if a.AssociationID == "" && a.AssociationARN == "" {
			key = a.ClusterName + "/" + a.Namespace + "/" + a.ServiceAccount
		}
		if old, ok := byID[key]; ok && (old.Described || !a.Described) {
			continue
		}
		byID[key] = a
	}
	for _, a := range byID {
		inv.AWS.Associations = append(inv.AWS.Associations, a)
	}
	// Access entries: one per principal (and cluster), the described form first, with
	// their associated access policies.
	entries := map[string]*AccessEntry{}
	var order []string
	for _, e := range l.entries {
		key := e.PrincipalARN
		old, ok := entries[key]
		if !ok {
			order = append(order, key)
		}
		if ok && (old.Described || !e.Described) {
			continue
		}
		entries[key] = e
	}
	for _, ap := range l.assigned {
		e := entries[ap.principal]
		if e == nil {
			e = &AccessEntry{PrincipalARN: ap.principal, ClusterName: ap.clusterName, Source: ap.src}
			entries[ap.principal] = e
			order = append(order, ap.principal)
		}
		if e.ClusterName == "" {
			e.ClusterName = ap.clusterName
		}
		e.Policies, e.PoliciesKnown = append(e.Policies, ap.policies...), true
	}
	for _, k := range order {
		inv.AWS.AccessEntries = append(inv.AWS.AccessEntries, entries[k])
	}
	inv.Files = dedupeSources(inv.Files)
	inv.sort()
	if len(l.errs) > 0 {
		return inv, errors.Join(l.errs...)
	}
	return inv, nil
}

func appendOnce(list []Source, s Source) []Source {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func dedupeSources(list []Source) []Source {
	var out []Source
	for _, s := range list {
		out = appendOnce(out, s)
	}
	slices.SortStableFunc(out, func(a, b Source) int { return strings.Compare(a.File, b.File) })
	return out
}

func (l *loader) roleFor(src Source, dirOf, baseOf func(Source) string) *Role {
	var inDir []*Role
	for _, r := range l.inv.AWS.Roles {
		if dirOf(r.Source) == dirOf(src) {
			inDir = append(inDir, r)
		}
	}
	if len(inDir) == 1 {
		return inDir[0]
	}
	var best *Role
	for _, r := range l.inv.AWS.Roles {
		if strings.Contains(baseOf(src), r.Name) && (best == nil || len(r.Name) > len(best.Name)) {
			best = r
		}
	}
	return best
}

func (l *loader) policyFor(src Source, dirOf, baseOf func(Source) string) (arn, name string) {
	var inDir []pendingPolicy
	for _, p := range l.policies {
		if dirOf(p.src) == dirOf(src) {
			inDir = append(inDir, p)
		}
	}
	if len(inDir) == 1 {
		return inDir[0].arn, inDir[0].name
	}
	for _, p := range l.policies {
		if strings.Contains(baseOf(src), p.name) && len(p.name) > len(name) {
			arn, name = p.arn, p.name
		}
	}
	for _, a := range l.attached {
		for _, p := range a.policies {
			if strings.Contains(baseOf(src), p.Name) && len(p.Name) > len(name) {
				arn, name = p.ARN, p.Name
			}
		}
	}
	return arn, name
}
