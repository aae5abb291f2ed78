package cloud

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Role is an IAM role: `aws iam get-role`, with its attached and inline policies when
// their outputs were given too.
type Role struct {
	Name, ARN, Path string
	// Trust is the AssumeRolePolicyDocument.
	Trust               *Policy
	PermissionsBoundary string
	// Attached are the managed policies (`aws iam list-attached-role-policies`);
	// AttachedKnown says that output was given.
	Attached      []AttachedPolicy
	AttachedKnown bool
	// Inline are the role's inline policies (`aws iam get-role-policy`).
	Inline []InlinePolicy
	Source Source
}

// Account is the role's AWS account ID.
func (r *Role) Account() string { return AccountOf(r.ARN) }

// AttachedPolicy is one managed policy attached to a role.
type AttachedPolicy struct {
	Name string `json:"PolicyName"`
	ARN  string `json:"PolicyArn"`
}

// InlinePolicy is one inline policy of a role.
type InlinePolicy struct {
	Name     string
	Document *Policy
	Source   Source
}

// ManagedPolicy is a managed policy's default version document (`aws iam
// get-policy-version`).
type ManagedPolicy struct {
	ARN, Name, VersionID string
	Document             *Policy
	Source               Source
}

// EKSCluster is `aws eks describe-cluster`.
type EKSCluster struct {
	Name, ARN, Endpoint, Version string
	// Issuer is identity.oidc.issuer.
	Issuer string
	// AuthenticationMode is accessConfig.authenticationMode; "" when the output has no
	// accessConfig (clusters older than access entries use the ConfigMap).
	AuthenticationMode string
	// BootstrapCreatorAdmin is accessConfig.bootstrapClusterCreatorAdminPermissions.
	BootstrapCreatorAdmin *bool
	Source                Source
}

// Account is the cluster's AWS account ID.
func (c *EKSCluster) Account() string { return AccountOf(c.ARN) }

// PodIdentityAssociation is an EKS Pod Identity association.
type PodIdentityAssociation struct {
	ClusterName    string `json:"clusterName"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	RoleARN        string `json:"roleArn"`
	// TargetRoleARN is the role in another account the association chains to.
	TargetRoleARN      string `json:"targetRoleArn"`
	ExternalID         string `json:"externalId"`
	AssociationARN     string `json:"associationArn"`
	AssociationID      string `json:"associationId"`
	DisableSessionTags bool   `json:"disableSessionTags"`
	// Described: from describe-pod-identity-association (the list output has no role).
	Described bool   `json:"-"`
	Source    Source `json:"-"`
}

// AccessEntry is an EKS access entry with its associated access policies.
type AccessEntry struct {
	ClusterName  string   `json:"clusterName"`
	PrincipalARN string   `json:"principalArn"`
	Username     string   `json:"username"`
	Groups       []string `json:"kubernetesGroups"`
	Type         string   `json:"type"`
	// Described: from describe-access-entry (list-access-entries names only principals).
	Described bool `json:"-"`
	// Policies are from list-associated-access-policies; PoliciesKnown says it was given.
	Policies      []AccessPolicy `json:"-"`
	PoliciesKnown bool           `json:"-"`
	Source        Source         `json:"-"`
}

// AccessPolicy is an access policy associated with an access entry.
type AccessPolicy struct {
	ARN   string `json:"policyArn"`
	Scope struct {
		Type       string   `json:"type"`
		Namespaces []string `json:"namespaces"`
	} `json:"accessScope"`
}

// Name is the policy's name (AmazonEKSClusterAdminPolicy).
func (p AccessPolicy) Name() string { return lastSegment(p.ARN) }

// ScopeText says where the policy applies.
func (p AccessPolicy) ScopeText() string {
	if p.Scope.Type == "namespace" {
		return "namespaces " + strings.Join(p.Scope.Namespaces, ", ")
	}
	return "the cluster"
}

// LaunchTemplateVersion is one version of an EC2 launch template (`aws ec2
// describe-launch-template-versions`) with its instance metadata options.
type LaunchTemplateVersion struct {
	ID, Name string
	Version  int64
	Default  bool
	// HTTPTokens is MetadataOptions.HttpTokens ("" when not set); HopLimit is
	// HttpPutResponseHopLimit (0 when not set).
	HTTPTokens   string
	HTTPEndpoint string
	HopLimit     int
	Source       Source
}

// AccountOf returns the account ID of an ARN, or "".
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

func lastSegment(s string) string {
	if i := strings.LastIndexAny(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// IssuerHost is an issuer URL without its scheme and trailing slash: the OIDC provider's
// name in IAM and the prefix of its condition keys.
func IssuerHost(issuer string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(issuer, "https://"), "http://")
	return strings.TrimSuffix(h, "/")
}

// OIDCProviderARN is the IAM OIDC provider of an issuer in an account.
func OIDCProviderARN(account, issuer string) string {
	return "arn:aws:iam::" + account + ":oidc-provider/" + IssuerHost(issuer)
}

// ProviderIssuer returns the issuer host of an OIDC provider ARN, or "".
func ProviderIssuer(providerARN string) string {
	_, host, ok := strings.Cut(providerARN, ":oidc-provider/")
	if !ok {
		return ""
	}
	return host
}

// --- decoding of the AWS CLI's outputs ------------------------------------------------

func decodeRole(raw json.RawMessage, src Source) (*Role, error) {
	var r struct {
		RoleName                 string          `json:"RoleName"`
		Arn                      string          `json:"Arn"`
		Path                     string          `json:"Path"`
		AssumeRolePolicyDocument json.RawMessage `json:"AssumeRolePolicyDocument"`
		PermissionsBoundary      *struct {
			Arn string `json:"PermissionsBoundaryArn"`
		} `json:"PermissionsBoundary"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	if r.Arn == "" || r.RoleName == "" {
		return nil, fmt.Errorf("Role has no Arn or RoleName")
	}
	role := &Role{Name: r.RoleName, ARN: r.Arn, Path: r.Path, Source: src}
	if r.PermissionsBoundary != nil {
		role.PermissionsBoundary = r.PermissionsBoundary.Arn
	}
	if first(r.AssumeRolePolicyDocument) == 0 {
		return nil, fmt.Errorf("role %s has no AssumeRolePolicyDocument", r.RoleName)
	}
	trust, err := ParsePolicy(r.AssumeRolePolicyDocument)
	if err != nil {
		return nil, fmt.Errorf("role %s AssumeRolePolicyDocument: %w", r.RoleName, err)
	}
	role.Trust = trust
	return role, nil
}

func decodeCluster(raw json.RawMessage, src Source) (*EKSCluster, error) {
	var c struct {
		Name     string `json:"name"`
		Arn      string `json:"arn"`
		Endpoint string `json:"endpoint"`
		Version  string `json:"version"`
		Identity struct {
			OIDC struct {
				Issuer string `json:"issuer"`
			} `json:"oidc"`
		} `json:"identity"`
		AccessConfig *struct {
			Bootstrap *bool  `json:"bootstrapClusterCreatorAdminPermissions"`
			Mode      string `json:"authenticationMode"`
		} `json:"accessConfig"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Name == "" {
		return nil, fmt.Errorf("cluster has no name")
	}
	out := &EKSCluster{Name: c.Name, ARN: c.Arn, Endpoint: c.Endpoint, Version: c.Version, Issuer: c.Identity.OIDC.Issuer, Source: src}
	if c.AccessConfig != nil {
		out.AuthenticationMode, out.BootstrapCreatorAdmin = c.AccessConfig.Mode, c.AccessConfig.Bootstrap
	}
	return out, nil
}

func decodeLaunchTemplates(raw json.RawMessage, src Source) ([]*LaunchTemplateVersion, error) {
	var vs []struct {
		ID             string `json:"LaunchTemplateId"`
		Name           string `json:"LaunchTemplateName"`
		Version        int64  `json:"VersionNumber"`
		Default        bool   `json:"DefaultVersion"`
		LaunchTemplate struct {
			MetadataOptions struct {
				HTTPTokens   string `json:"HttpTokens"`
				HTTPEndpoint string `json:"HttpEndpoint"`
				HopLimit     int    `json:"HttpPutResponseHopLimit"`
			} `json:"MetadataOptions"`
		} `json:"LaunchTemplateData"`
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		return nil, err
	}
	var out []*LaunchTemplateVersion
	for _, v := range vs {
		m := v.LaunchTemplate.MetadataOptions
		out = append(out, &LaunchTemplateVersion{ID: v.ID, Name: v.Name, Version: v.Version, Default: v.Default,
			HTTPTokens: m.HTTPTokens, HTTPEndpoint: m.HTTPEndpoint, HopLimit: m.HopLimit, Source: src})
	}
	return out, nil
}
