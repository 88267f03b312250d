package secrets

import (
	"time"

	"github.com/ocs-go/identity"
)

// ClientSecret describes a secret as the service lists it. It has no field that could hold the
// secret's value: the service never returns a value after the secret was created.
type ClientSecret struct {
	ID          int    // the secret's id, unique within its client
	Description string // what the secret is for
	// Expiry is ExpiresAt(the expiration time) or NeverExpires().
	Expiry Expiry
}

// Expired reports whether the secret no longer works at the time at.
func (m ClientSecret) Expired(at time.Time) bool { return m.Expiry.Expired(at) }

// ExpiresBefore reports whether the secret expires (or has expired) before t. A secret that
// never expires does not.
func (m ClientSecret) ExpiresBefore(t time.Time) bool {
	at, ok := m.Expiry.when(t)
	return ok && !m.Expiry.Never() && at.Before(t)
}

// Added is a secret just created, with its value: the only time the service returns it.
// Hand Value to where it belongs (Value.WriteFile for a new file, Value.ReplaceFile in
// place of an older value, a vault) before you lose it; it prints as [REDACTED].
type Added struct {
	ClientSecret
	Value identity.Secret
}
