package cloud

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// GKECluster is `gcloud container clusters describe --format=json`.
type GKECluster struct {
	Name, Location, SelfLink, Endpoint string
	Project                            string
	// WorkloadPool is workloadIdentityConfig.workloadPool ("" when Workload Identity is
	// off).
	WorkloadPool string
	NodePools    []GKENodePool
	LegacyABAC   bool
	Source       Source
}

// Issuer is the cluster's ServiceAccount token issuer.
func (c *GKECluster) Issuer() string {
	if c.Project == "" || c.Location == "" {
		return ""
	}
	return "https://container.googleapis.com/v1/projects/" + c.Project + "/locations/" + c.Location + "/clusters/" + c.Name
}

// GKENodePool is one node pool and its metadata mode (GKE_METADATA exposes only the
// Workload Identity metadata server to pods).
type GKENodePool struct {
	Name, MetadataMode, ServiceAccount string
}

// IAMPolicy is a Google Cloud IAM policy (`gcloud iam service-accounts get-iam-policy`
// or `gcloud projects get-iam-policy`, --format=json).
type IAMPolicy struct {
	// Resource is the GSA email for a service account's policy, else "projects/ID".
	Resource string
	// ServiceAccount reports whether the policy is a service account's (its bindings
	// grant rights on that one GSA) rather than a project's.
	ServiceAccount bool
	Bindings       []IAMBinding
	Source         Source
}

// IAMBinding is one role binding of an IAM policy.
type IAMBinding struct {
	Role      string   `json:"role"`
	Members   []string `json:"members"`
	Condition *struct {
		Title      string `json:"title"`
		Expression string `json:"expression"`
	} `json:"condition"`
}

// WorkloadIdentityUser is the role that lets a Kubernetes identity act as a GSA.
const WorkloadIdentityUser = "roles/iam.workloadIdentityUser"

// KSAMember is a Workload Identity member of an IAM binding, decoded.
type KSAMember struct {
	Member string
	// Pool is the workload identity pool (PROJECT.svc.id.goog).
	Pool string
	// Namespace and Name are the Kubernetes ServiceAccount; Name is "" for a whole
	// namespace, and both are "" for every identity of the pool.
	Namespace, Name string
	// Other names another principalSet form (a cluster, an attribute): broad.
	Other string
}

var (
	ksaMemberRE   = regexp.MustCompile(`^serviceAccount:([^\[\]]+\.svc\.id\.goog)\[([^/\]]+)/([^\]]+)\]$`)
	principalRE   = regexp.MustCompile(`^principal://iam\.googleapis\.com/projects/[^/]+/locations/global/workloadIdentityPools/([^/]+)/subject/ns/([^/]+)/sa/([^/]+)$`)
	principalSeRE = regexp.MustCompile(`^principalSet://iam\.googleapis\.com/projects/[^/]+/locations/global/workloadIdentityPools/([^/]+)(/.*)?$`)
)

// ParseKSAMember reads an IAM member that names Kubernetes identities of a workload pool:
// serviceAccount:POOL[NS/KSA], principal://.../subject/ns/NS/sa/KSA or
// principalSet://.../namespace/NS (and other principalSets).
func ParseKSAMember(m string) (KSAMember, bool) {
	if s := ksaMemberRE.FindStringSubmatch(m); s != nil {
		return KSAMember{Member: m, Pool: s[1], Namespace: s[2], Name: s[3]}, true
	}
	if s := principalRE.FindStringSubmatch(m); s != nil {
		return KSAMember{Member: m, Pool: s[1], Namespace: s[2], Name: s[3]}, true
	}
	if s := principalSeRE.FindStringSubmatch(m); s != nil && strings.HasSuffix(s[1], ".svc.id.goog") {
		out := KSAMember{Member: m, Pool: s[1]}
		switch rest := s[2]; {
		case strings.HasPrefix(rest, "/namespace/"):
			out.Namespace = strings.TrimPrefix(rest, "/namespace/")
		case rest == "/*":
		default:
			out.Other = strings.TrimPrefix(rest, "/")
		}
		return out, true
	}
	return KSAMember{}, false
}

// Scope says what a member covers: "ServiceAccount ns/name", "every ServiceAccount of
// namespace ns", "every identity of pool P" or the principalSet attribute.
func (m KSAMember) Scope() string {
	switch {
	case m.Name != "":
		return "ServiceAccount " + m.Namespace + "/" + m.Name
	case m.Namespace != "":
		return "every ServiceAccount of namespace " + m.Namespace + " in every cluster of pool " + m.Pool
	case m.Other != "":
		return m.Other + " of pool " + m.Pool
	}
	return "every identity of pool " + m.Pool
}

var gsaEmailRE = regexp.MustCompile(`[A-Za-z0-9._-]+@[A-Za-z0-9.-]+\.iam\.gserviceaccount\.com`)

func decodeGKECluster(raw json.RawMessage, src Source) (*GKECluster, error) {
	var c struct {
		Name     string `json:"name"`
		Location string `json:"location"`
		Zone     string `json:"zone"`
		SelfLink string `json:"selfLink"`
		Endpoint string `json:"endpoint"`
		WI       *struct {
			Pool string `json:"workloadPool"`
		} `json:"workloadIdentityConfig"`
		NodePools []struct {
			Name   string `json:"name"`
			Config struct {
				SA       string `json:"serviceAccount"`
				Metadata *struct {
					Mode string `json:"mode"`
				} `json:"workloadMetadataConfig"`
			} `json:"config"`
		} `json:"nodePools"`
		LegacyAbac *struct {
			Enabled bool `json:"enabled"`
		} `json:"legacyAbac"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Name == "" {
		return nil, fmt.Errorf("GKE cluster has no name")
	}
	out := &GKECluster{Name: c.Name, Location: c.Location, SelfLink: c.SelfLink, Endpoint: c.Endpoint, Source: src}
	if out.Location == "" {
		out.Location = c.Zone
	}
	if _, rest, ok := strings.Cut(c.SelfLink, "/projects/"); ok {
		out.Project, _, _ = strings.Cut(rest, "/")
	}
	if c.WI != nil {
		out.WorkloadPool = c.WI.Pool
		if out.Project == "" {
			out.Project = strings.TrimSuffix(c.WI.Pool, ".svc.id.goog")
		}
	}
	out.LegacyABAC = c.LegacyAbac != nil && c.LegacyAbac.Enabled
	for _, np := range c.NodePools {
		p := GKENodePool{Name: np.Name, ServiceAccount: np.Config.SA}
		if np.Config.Metadata != nil {
			p.MetadataMode = np.Config.Metadata.Mode
		}
		out.NodePools = append(out.NodePools, p)
	}
	return out, nil
}

// decodeIAMPolicy reads an IAM policy; the resource it belongs to is not in the output,
// so it comes from the file's path: a GSA email names a service account's policy,
// anything else is a project's, named by the file.
func decodeIAMPolicy(raw json.RawMessage, src Source) (*IAMPolicy, error) {
	var p struct {
		Bindings []IAMBinding `json:"bindings"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	out := &IAMPolicy{Bindings: p.Bindings, Source: src}
	if email := gsaEmailRE.FindAllString(src.File, -1); len(email) > 0 {
		out.Resource, out.ServiceAccount = strings.TrimSuffix(email[len(email)-1], ".json"), true
		out.Source.Shape = "gcloud iam service-accounts get-iam-policy"
	} else {
		name := strings.TrimSuffix(lastSegment(strings.ReplaceAll(src.File, "\\", "/")), ".json")
		for _, p := range []string{"project-iam-policy-", "project-", "projects-"} {
			name = strings.TrimPrefix(name, p)
		}
		out.Resource = "projects/" + name
		out.Source.Shape = "gcloud projects get-iam-policy"
	}
	return out, nil
}

// WIGrant is one roles/iam.workloadIdentityUser grant to Kubernetes identities.
type WIGrant struct {
	Policy  *IAMPolicy
	Binding IAMBinding
	Member  KSAMember
}

// WorkloadIdentityGrants lists every roles/iam.workloadIdentityUser member of the input's
// IAM policies that names Kubernetes identities of a workload pool.
func (inv *Inventory) WorkloadIdentityGrants() []WIGrant {
	if inv == nil {
		return nil
	}
	var out []WIGrant
	for _, p := range inv.GCP.Policies {
		for _, b := range p.Bindings {
			if b.Role != WorkloadIdentityUser {
				continue
			}
			for _, m := range b.Members {
				if km, ok := ParseKSAMember(m); ok {
					out = append(out, WIGrant{Policy: p, Binding: b, Member: km})
				}
			}
		}
	}
	return out
}
