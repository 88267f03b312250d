// Package secrets manages the secrets of a tenant's hybrid clients ([New]), or of its
// client-credential clients ([NewForClientCredentialClients]: the service's same routes
// under /ClientCredentialClients): list, count, get, check, add, update, delete, rotate,
// and check expiry.
//
// Every operation needs the Tenant Administrator role, and takes the client's id, a GUID
// (another string is refused before anything is sent, as by package hybridclients). Read
// results carry metadata only (id, description, expiry): the service shows a secret's
// value once, in the answer of the add, and Add returns it as an identity.Secret that
// prints as [REDACTED].
//
// An Expiry is a future time (ExpiresAt, ExpiresIn) or the explicit NeverExpires; a past
// or zero time is refused before anything is sent, and the zero Expiry of a new secret
// means one year from now, as in the portal.
//
// Rotate replaces a secret safely, in the order add, prove, store, retire: the new value
// goes to the caller's Store function only once the identity server accepts it (asked
// with a token request that signs nobody in), however long the service takes to spread
// it, and the old secrets are retired only after Store has kept it; a new secret never
// accepted is deleted again, its value never stored, the old secrets untouched. A Policy says when a client is due for rotation
// (its newest working secret expires soon, or is old) and how it is rotated, for a
// program on a schedule; hybridclients.PlanRotations and ApplyRotations run one across a
// tenant. CheckExpiry and Classify report secrets that have expired or expire soon, for a
// program or a cron job to warn before an application is locked out. Secret changes can
// take up to an hour to reach sign-in.
//
// # How Add settles a lost answer
//
// The service's add is not idempotent, and the value of a secret whose answer was lost is
// gone for good: such a secret must be found and deleted, and a look-alike that someone
// else added meanwhile must never be. Besides the description, the only thing a caller
// chooses that the service stores and returns is the expiry, to the second, so the expiry
// is the marker. Add cuts the asked expiry to whole seconds and moves it a random 1 to
// 3600 seconds earlier: at most a tenth of the secret's lifetime, and not at all for a
// secret that lives less than ten minutes. It avoids the expiry of every secret the client
// has, and the markers of this Client's other adds to the client still in flight.
//
// After a lost answer (a dropped connection, a timeout, a 5xx, an answer without the
// value), Add lists the client's secrets again (an unusable listing is tried again while
// attempts and ctx allow) and looks for the new secrets with its description and marker:
//
//   - none: the request did nothing; Add tries again;
//   - exactly one: it is this call's and nobody holds its value; Add deletes it and tries
//     again;
//   - no proof (a never-expiring secret, or one too short-lived for a marker, with a
//     look-alike: same description and expiry; or several secrets with the marker): Add
//     deletes nothing and stops.
//
// When that listing still fails, one more look (tried again after transient failures for
// at most 10 s, past ctx if need be) only names what may be left; nothing is deleted on
// its strength. Secrets that others added without this call's marker are never touched.
//
// The one limit: two look-alike adds (same client, description and asked expiry) from
// different Clients or processes, in flight at once, pick the same marker with a chance of
// 1 in the spread (up to 3600); if one of them then loses its answer without having acted,
// it takes the other's secret for its own. Through one Client, two adds never share a
// marker. Rotate adds its new secret the same way, and hybridclients.Client.Create marks
// the first secret of a client alike.
package secrets
