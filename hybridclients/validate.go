package hybridclients

import "time"

// Limits of the service (its API reference), checked before a request is sent.
const (
	MaxRedirectURIs           = 10
	MaxPostLogoutRedirectURIs = 10
	MinAccessTokenLifetime    = time.Minute
	MaxAccessTokenLifetime    = time.Hour
	// DefaultAccessTokenLifetime is used when CreateRequest.AccessTokenLifetime is zero.
	DefaultAccessTokenLifetime = time.Hour
)
