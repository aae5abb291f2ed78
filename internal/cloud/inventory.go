// Package cloud is kwid's offline view of the cloud side of workload identity: the JSON
// that the AWS, gcloud and az command lines print (IAM roles and their trust policies,
// EKS clusters, Pod Identity associations and access entries, GKE clusters and IAM
// policies, Azure federated credentials and AKS clusters), each file recognised by its
// shape, and an IAM policy evaluator that answers which Kubernetes subjects of which
// cluster issuer can assume a role.
//
// cloud knows nothing about checks, the identity graph or output formats, and never talks
// to a cloud API.
package cloud

import (
	"cmp"
	"slices"
)

// Source is where an object was read: the file and what it was recognised as.
type Source struct {
	File string `json:"file"`
	// Shape is the command whose output the file is, e.g. "aws iam get-role".
	Shape string `json:"shape"`
}

// Inventory is everything read from --cloud input.
type Inventory struct {
	AWS   AWS
	GCP   GCP
	Azure Azure
	// Files are the files read, in order, with the command each was recognised as.
	Files []Source
}

// AWS is the AWS side: IAM roles and policies, EKS clusters and their identity objects.
type AWS struct {
	Roles    []*Role
	Policies []*ManagedPolicy
	Clusters []*EKSCluster
	// Associations are EKS Pod Identity associations (describe output has the role; list
	// output does not).
	Associations    []*PodIdentityAssociation
	AccessEntries   []*AccessEntry
	LaunchTemplates []*LaunchTemplateVersion
}

// Empty reports whether no AWS object was read.
func (a *AWS) Empty() bool {
	return len(a.Roles) == 0 && len(a.Clusters) == 0 && len(a.Associations) == 0 && len(a.AccessEntries) == 0 && len(a.LaunchTemplates) == 0
}

// Role returns the IAM role with an ARN (or name), or nil.
func (a *AWS) Role(arnOrName string) *Role {
	for _, r := range a.Roles {
		if r.ARN == arnOrName || r.Name == arnOrName {
			return r
		}
	}
	return nil
}

// Policy returns the managed policy with an ARN, or nil.
func (a *AWS) Policy(arn string) *ManagedPolicy {
	for _, p := range a.Policies {
		if p.ARN == arn {
			return p
		}
	}
	return nil
}

// Cluster returns the EKS cluster with a name or ARN, or nil.
func (a *AWS) Cluster(nameOrARN string) *EKSCluster {
	for _, c := range a.Clusters {
		if c.Name == nameOrARN || c.ARN == nameOrARN {
			return c
		}
	}
	return nil
}

// GCP is the Google Cloud side.
type GCP struct {
	Clusters []*GKECluster
	// Policies are IAM policies of service accounts and of projects (or folders,
	// organizations).
	Policies []*IAMPolicy
}

// Empty reports whether no GCP object was read.
func (g *GCP) Empty() bool { return len(g.Clusters) == 0 && len(g.Policies) == 0 }

// Azure is the Azure side.
type Azure struct {
	Credentials []*FederatedCredential
	Identities  []*ManagedIdentity
	Clusters    []*AKSCluster
}

// Empty reports whether no Azure object was read.
func (a *Azure) Empty() bool {
	return len(a.Credentials) == 0 && len(a.Identities) == 0 && len(a.Clusters) == 0
}

// Empty reports whether the inventory holds nothing.
func (inv *Inventory) Empty() bool {
	return inv == nil || inv.AWS.Empty() && inv.GCP.Empty() && inv.Azure.Empty()
}

// sort puts every list in a stable order (by identifier), so output does not depend on
// file order.
func (inv *Inventory) sort() {
	slices.SortStableFunc(inv.AWS.Roles, func(a, b *Role) int { return cmp.Compare(a.ARN, b.ARN) })
	slices.SortStableFunc(inv.AWS.Policies, func(a, b *ManagedPolicy) int { return cmp.Compare(a.ARN, b.ARN) })
	slices.SortStableFunc(inv.AWS.Clusters, func(a, b *EKSCluster) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(inv.AWS.Associations, func(a, b *PodIdentityAssociation) int {
		return cmp.Or(cmp.Compare(a.ClusterName, b.ClusterName), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.ServiceAccount, b.ServiceAccount), cmp.Compare(a.AssociationID, b.AssociationID))
	})
	slices.SortStableFunc(inv.AWS.AccessEntries, func(a, b *AccessEntry) int {
		return cmp.Or(cmp.Compare(a.ClusterName, b.ClusterName), cmp.Compare(a.PrincipalARN, b.PrincipalARN))
	})
	slices.SortStableFunc(inv.GCP.Clusters, func(a, b *GKECluster) int { return cmp.Compare(a.SelfLink+a.Name, b.SelfLink+b.Name) })
	slices.SortStableFunc(inv.GCP.Policies, func(a, b *IAMPolicy) int { return cmp.Compare(a.Resource, b.Resource) })
	slices.SortStableFunc(inv.Azure.Credentials, func(a, b *FederatedCredential) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortStableFunc(inv.Azure.Identities, func(a, b *ManagedIdentity) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortStableFunc(inv.Azure.Clusters, func(a, b *AKSCluster) int { return cmp.Compare(a.ID, b.ID) })
}
