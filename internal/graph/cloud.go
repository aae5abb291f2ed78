package graph

import (
	"fmt"
	"strings"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
)

// BuildWithCloud is Build with the cloud side (kwid --cloud): a ServiceAccount maps to a
// cloud role when the cloud really lets its tokens assume it (the IAM trust admits it for
// this cluster's issuer, a Pod Identity association whose role trusts Pod Identity, a GSA
// IAM binding, an Azure federated credential), not because an annotation claims so; and
// IAM principals that EKS maps to Kubernetes users and groups (aws-auth, access entries
// and their access policies) lead from the cloud role into the cluster.
func BuildWithCloud(s *inventory.Snapshot, ix *rbac.Index, inv *cloud.Inventory) *Graph {
	return build(s, ix, inv)
}

// cloudDecides reports whether the cloud input knows the trust of an annotated identity,
// in which case the annotation alone is only a claim and makes no edge.
func (b *builder) cloudDecides(key, value string) bool {
	inv := b.cloud
	if inv == nil {
		return false
	}
	switch key {
	case cloud.IRSARoleAnnotation:
		return inv.AWS.Role(value) != nil && b.cluster.Issuer != ""
	case cloud.GKEAnnotation:
		if b.cluster.GKE == nil {
			return b.cluster.EKS != nil || b.cluster.AKS != nil // not GKE: nothing injects it
		}
		for _, p := range inv.GCP.Policies {
			if p.ServiceAccount && p.Resource == value {
				return true
			}
		}
	case cloud.AzureClientIDAnnot:
		return inv.Azure.IdentityByClientID(value) != nil && b.cluster.Issuer != ""
	}
	return false
}

// cloudEdges adds the mappings the cloud input decides, and the EKS authentication
// mappings.
func (b *builder) cloudEdges() {
	s := b.s
	sas := make([]cloud.ServiceAccount, 0, len(s.ServiceAccounts))
	for i := range s.ServiceAccounts {
		sa := &s.ServiceAccounts[i]
		sas = append(sas, cloud.ServiceAccount{Namespace: sa.Namespace, Name: sa.Name, Annotations: sa.Annotations})
	}
	if b.cloud != nil {
		for _, bd := range b.cloud.Bindings(b.cluster, sas) {
			from, ok := b.g.index[NodeInfo{Kind: ServiceAccount, Namespace: bd.Namespace, Name: bd.ServiceAccount}]
			if !ok {
				continue
			}
			note := fmt.Sprintf("%s/%s maps to cloud role %s (%s): %s", bd.Namespace, bd.ServiceAccount, bd.Identity, bd.Mechanism, bd.Evidence)
			if bd.Result == cloud.Maybe {
				note += " (if the undecided conditions hold)"
			}
			b.edge(Edge{From: from, To: b.node(NodeInfo{Kind: CloudRole, Name: bd.Identity}), Prim: MapsTo, action: bd.Mechanism, note: note})
		}
	}
	var mappings []cloud.AuthMapping
	if cm := s.ConfigMap(inventory.SystemNamespace, inventory.AWSAuthConfigMap); cm != nil {
		mappings, _ = cloud.ParseAWSAuth(cm.Data) // a malformed aws-auth is KW-RBAC-007's to report
	}
	mappings = append(mappings, b.cloud.AccessEntryMappings(b.cluster.EKS)...)
	for _, m := range mappings {
		if m.PrincipalARN != "" {
			b.authMapping(m)
		}
	}
}

// authMapping links an IAM principal to the Kubernetes identities EKS authenticates it
// as, and to what its access policies grant.
func (b *builder) authMapping(m cloud.AuthMapping) {
	from := b.node(NodeInfo{Kind: CloudRole, Name: m.PrincipalARN})
	where := m.From
	if m.From != "access entry" {
		where = "ConfigMap kube-system/" + m.From
	}
	if m.Username != "" && !strings.HasPrefix(m.Username, "system:node:") {
		b.edge(Edge{From: from, To: b.userNode(m.Username), Prim: EKSAuth,
			note: fmt.Sprintf("EKS authenticates IAM principal %s as user %s (%s)", m.PrincipalARN, m.Username, where)})
	}
	for _, g := range m.Groups {
		b.edge(Edge{From: from, To: b.groupNode(g), Prim: EKSAuth,
			note: fmt.Sprintf("EKS authenticates IAM principal %s with group %s (%s)", m.PrincipalARN, g, where)})
	}
	for _, p := range m.Policies {
		note := fmt.Sprintf("access entry of %s has access policy %s on %s", m.PrincipalARN, p.Name(), p.ScopeText())
		var kinds []Kind
		switch p.Name() {
		case cloud.ClusterAdminPolicy:
			if p.Scope.Type != "namespace" {
				b.edge(Edge{From: from, To: b.g.Sink, Prim: EKSAuth, note: note + " (cluster-admin)"})
				continue
			}
			kinds = []Kind{nsAdmin}
		case cloud.AdminPolicy:
			kinds = []Kind{nsAdmin}
		case cloud.EditPolicy:
			kinds = []Kind{runPod, anySecret}
		}
		namespaces := p.Scope.Namespaces
		if p.Scope.Type != "namespace" {
			namespaces = []string{"*"}
		}
		for _, k := range kinds {
			for _, ns := range namespaces {
				b.edge(Edge{From: from, To: b.inter(k, ns), Prim: EKSAuth, note: note})
			}
		}
	}
}
