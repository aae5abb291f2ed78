package cloud

import (
	"encoding/json"
	"fmt"
	"strings"
)

// FederatedCredential is a federated identity credential of an Azure user-assigned
// managed identity (`az identity federated-credential list`).
type FederatedCredential struct {
	Name      string   `json:"name"`
	ID        string   `json:"id"`
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Audiences []string `json:"audiences"`
	// ResourceGroup and Identity come from the credential's ID.
	ResourceGroup string `json:"resourceGroup"`
	Identity      string `json:"-"`
	Source        Source `json:"-"`
}

// AzureTokenAudience is the audience Azure AD expects of a federated token.
const AzureTokenAudience = "api://AzureADTokenExchange"

// ManagedIdentity is `az identity show` (or one item of `az identity list`).
type ManagedIdentity struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	ClientID    string `json:"clientId"`
	PrincipalID string `json:"principalId"`
	TenantID    string `json:"tenantId"`
	Source      Source `json:"-"`
}

// AKSCluster is `az aks show`.
type AKSCluster struct {
	Name, ID string
	// Issuer is oidcIssuerProfile.issuerUrl; WorkloadIdentity is
	// securityProfile.workloadIdentity.enabled.
	Issuer           string
	OIDCEnabled      bool
	WorkloadIdentity bool
	Source           Source
}

// Identity returns the managed identity holding a federated credential, or nil.
func (a *Azure) Identity(fc *FederatedCredential) *ManagedIdentity {
	for _, id := range a.Identities {
		if strings.EqualFold(id.Name, fc.Identity) && (fc.ResourceGroup == "" || strings.Contains(strings.ToLower(id.ID), "/resourcegroups/"+strings.ToLower(fc.ResourceGroup)+"/")) {
			return id
		}
	}
	return nil
}

// IdentityByClientID returns the managed identity with a client ID, or nil.
func (a *Azure) IdentityByClientID(clientID string) *ManagedIdentity {
	for _, id := range a.Identities {
		if strings.EqualFold(id.ClientID, clientID) {
			return id
		}
	}
	return nil
}

func decodeFederatedCredentials(raw json.RawMessage, src Source, list bool) ([]*FederatedCredential, error) {
	var fcs []*FederatedCredential
	if list {
		if err := json.Unmarshal(raw, &fcs); err != nil {
			return nil, err
		}
	} else {
		var fc FederatedCredential
		if err := json.Unmarshal(raw, &fc); err != nil {
			return nil, err
		}
		fcs = []*FederatedCredential{&fc}
	}
	for i, fc := range fcs {
		if fc == nil || fc.Issuer == "" || fc.Subject == "" {
			return nil, fmt.Errorf("federated credential %d has no issuer or subject", i+1)
		}
		fc.Source = src
		// .../userAssignedIdentities/NAME/federatedIdentityCredentials/FIC
		if _, rest, ok := strings.Cut(strings.ToLower(fc.ID), "/userassignedidentities/"); ok {
			start := len(fc.ID) - len(rest)
			name, _, _ := strings.Cut(fc.ID[start:], "/")
			fc.Identity = name
		}
	}
	return fcs, nil
}

func decodeIdentities(raw json.RawMessage, src Source, list bool) ([]*ManagedIdentity, error) {
	var ids []*ManagedIdentity
	if list {
		if err := json.Unmarshal(raw, &ids); err != nil {
			return nil, err
		}
	} else {
		var id ManagedIdentity
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, err
		}
		ids = []*ManagedIdentity{&id}
	}
	for i, id := range ids {
		if id == nil || id.ClientID == "" {
			return nil, fmt.Errorf("managed identity %d has no clientId", i+1)
		}
		id.Source = src
	}
	return ids, nil
}

func decodeAKS(raw json.RawMessage, src Source) (*AKSCluster, error) {
	var c struct {
		Name string `json:"name"`
		ID   string `json:"id"`
		OIDC *struct {
			Enabled bool   `json:"enabled"`
			Issuer  string `json:"issuerUrl"`
		} `json:"oidcIssuerProfile"`
		Security *struct {
			WI *struct {
				Enabled bool `json:"enabled"`
			} `json:"workloadIdentity"`
		} `json:"securityProfile"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	out := &AKSCluster{Name: c.Name, ID: c.ID, Source: src}
	if c.OIDC != nil {
		out.OIDCEnabled, out.Issuer = c.OIDC.Enabled, c.OIDC.Issuer
	}
	out.WorkloadIdentity = c.Security != nil && c.Security.WI != nil && c.Security.WI.Enabled
	return out, nil
}
