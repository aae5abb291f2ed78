package cloud

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"sigs.k8s.io/yaml"
)

// AuthMapping is how EKS authenticates an IAM principal: the Kubernetes username and
// groups it gets (ConfigMap kube-system/aws-auth or an access entry) and, for access
// entries, the access policies EKS authorizes it with besides RBAC.
type AuthMapping struct {
	PrincipalARN string
	Username     string
	Groups       []string
	Policies     []AccessPolicy
	// From says where the mapping is: "aws-auth mapRoles entry 3" or "access entry";
	// Key (mapRoles or mapUsers) and Index (1-based) locate an aws-auth entry.
	From   string
	Key    string
	Index  int
	Source Source
}

// Access policies of EKS access entries.
const (
	ClusterAdminPolicy = "AmazonEKSClusterAdminPolicy"
	AdminPolicy        = "AmazonEKSAdminPolicy"
	EditPolicy         = "AmazonEKSEditPolicy"
)

// IsNode reports whether the mapping is a node role (username system:node:...).
func (m AuthMapping) IsNode() bool { return strings.HasPrefix(m.Username, "system:node:") }

// ParseAWSAuth reads the mapRoles and mapUsers keys of ConfigMap kube-system/aws-auth:
// YAML lists of {rolearn|userarn, username, groups}. An unreadable key yields an error
// naming it and no entries; the other key is still read. Entries without an ARN are kept
// (PrincipalARN "").
func ParseAWSAuth(data map[string]string) ([]AuthMapping, []error) {
	roles, users := data["mapRoles"], data["mapUsers"]
	if p := lastAWSAuth.Load(); p != nil && p.roles == roles && p.users == users {
		return slices.Clone(p.out), p.errs
	}
	out, errs := parseAWSAuth(data)
	lastAWSAuth.Store(&awsAuthParse{roles: roles, users: users, out: slices.Clone(out), errs: errs})
	return out, errs
}

// lastAWSAuth is the last aws-auth parsed: the webhook decides every request with the same
// ConfigMap, and a scan reads it from several checks. Callers get their own slice; the
// mappings' Groups are shared and read-only.
var lastAWSAuth atomic.Pointer[awsAuthParse]

type awsAuthParse struct {
	roles, users string
	out          []AuthMapping
	errs         []error
}

func parseAWSAuth(data map[string]string) ([]AuthMapping, []error) {
	var out []AuthMapping
	var errs []error
	for _, key := range []string{"mapRoles", "mapUsers"} {
		raw := data[key]
		if strings.TrimSpace(raw) == "" {
			continue
		}
		var entries []struct {
			RoleARN  string   `json:"rolearn"`
			UserARN  string   `json:"userarn"`
			Username string   `json:"username"`
			Groups   []string `json:"groups"`
		}
		if err := yaml.Unmarshal([]byte(raw), &entries); err != nil {
			errs = append(errs, fmt.Errorf("kube-system/aws-auth %s is not a list of mappings: %w", key, err))
			continue
		}
		for i, e := range entries {
			arn := e.RoleARN
			if key == "mapUsers" {
				arn = e.UserARN
			}
			out = append(out, AuthMapping{PrincipalARN: arn, Username: e.Username, Groups: e.Groups, Key: key, Index: i + 1,
				From: fmt.Sprintf("aws-auth %s entry %d", key, i+1)})
		}
	}
	return out, errs
}

// AccessEntryMappings are the access entries of an EKS cluster (entries without a
// cluster name, from list-access-entries, count as the cluster's when it is the only
// one).
func (inv *Inventory) AccessEntryMappings(c *EKSCluster) []AuthMapping {
	if inv == nil || c == nil {
		return nil
	}
	var out []AuthMapping
	for _, e := range inv.AWS.AccessEntries {
		if e.ClusterName != c.Name && (e.ClusterName != "" || len(inv.AWS.Clusters) > 1) {
			continue
		}
		if e.Type != "" && e.Type != "STANDARD" && !strings.HasPrefix(e.Type, "EC2") {
			continue
		}
		user := e.Username
		if user == "" {
			user = defaultEntryUsername(e.PrincipalARN)
		}
		out = append(out, AuthMapping{PrincipalARN: e.PrincipalARN, Username: user, Groups: e.Groups, Policies: e.Policies, From: "access entry", Source: e.Source})
	}
	return out
}

// defaultEntryUsername is the username EKS gives an access entry that sets none.
func defaultEntryUsername(arn string) string {
	if strings.Contains(arn, ":role/") {
		return "arn:aws:sts::" + AccountOf(arn) + ":assumed-role/" + lastSegment(arn) + "/{{SessionName}}"
	}
	return arn
}
