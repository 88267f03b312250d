package hybridclients

import (
	"time"

	"github.com/ocs-go/identity/secrets"
)

// HybridClient is a hybrid client of the tenant, as the service returns it. Go names are
// used here; the wire names (PascalCase, AllowOfflineAccess, ...) are the SDK's business.
type HybridClient struct {
	ID      string
	Name    string
	Enabled bool
	// AccessTokenLifetime is how long the client's access tokens live (60 s to 1 h).
	AccessTokenLifetime time.Duration
	Tags                []string
	// RedirectURIs are matched exactly at sign-in; a "*" is not a pattern. The SDK sends
	// only the web and native app URIs that CreateRequest.RedirectURIs describes (https,
	// loopback or other http, private-use schemes such as com.example.app:/cb); what the
	// service returns is shown as it is.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	ClientURI              string
	LogoURI                string
	// AllowRefreshTokens lets the client request refresh tokens with the offline_access
	// scope: the portal's "Allow Refresh Token" (the service's AllowOfflineAccess).
	AllowRefreshTokens          bool
	AllowAccessTokensViaBrowser bool
}

// Created is the result of Create: the new client and its first secret, whose value the
// service shows this once. Store Secret.Value (Secret.Value.WriteFile, a vault) before
// anything else; it prints as [REDACTED].
type Created struct {
	Client HybridClient
	Secret secrets.Added
}

// wireClient is HybridClient on the wire. Every property is nullable.
type wireClient struct {
	ID                          *string  `json:"Id,omitempty"`
	Name                        *string  `json:"Name,omitempty"`
	Enabled                     *bool    `json:"Enabled,omitempty"`
	AccessTokenLifetime         *int32   `json:"AccessTokenLifetime,omitempty"`
	Tags                        []string `json:"Tags,omitzero"`
	RedirectURIs                []string `json:"RedirectUris,omitzero"`
	PostLogoutRedirectURIs      []string `json:"PostLogoutRedirectUris,omitzero"`
	ClientURI                   *string  `json:"ClientUri,omitempty"`
	LogoURI                     *string  `json:"LogoUri,omitempty"`
	AllowOfflineAccess          *bool    `json:"AllowOfflineAccess,omitempty"`
	AllowAccessTokensViaBrowser *bool    `json:"AllowAccessTokensViaBrowser,omitempty"`
}

// wireCreate is HybridClientCreate: the client plus its first secret's settings.
type wireCreate struct {
	wireClient
	SecretDescription    string     `json:"SecretDescription,omitempty"`
	SecretExpirationDate *time.Time `json:"SecretExpirationDate"` // null: never expires
}

// wireCreated is HybridClientCreateResponse.
type wireCreated struct {
	Secret         *string    `json:"Secret"`
	ID             *int32     `json:"Id"`
	Description    *string    `json:"Description"`
	ExpirationDate *time.Time `json:"ExpirationDate"`
	Client         wireClient `json:"Client"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (w wireClient) toClient() HybridClient {
	return HybridClient{
		ID:                          deref(w.ID),
		Name:                        deref(w.Name),
		Enabled:                     deref(w.Enabled),
		AccessTokenLifetime:         time.Duration(deref(w.AccessTokenLifetime)) * time.Second,
		Tags:                        w.Tags,
		RedirectURIs:                w.RedirectURIs,
		PostLogoutRedirectURIs:      w.PostLogoutRedirectURIs,
		ClientURI:                   deref(w.ClientURI),
		LogoURI:                     deref(w.LogoURI),
		AllowRefreshTokens:          deref(w.AllowOfflineAccess),
		AllowAccessTokensViaBrowser: deref(w.AllowAccessTokensViaBrowser),
	}
}
