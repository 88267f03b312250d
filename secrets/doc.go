// Package secrets manages the secrets of a tenant's hybrid clients, or of its
// client-credential clients (the same routes, chosen with Kind when the Client is made):
// list, count, get, check, add, update, delete, rotate, and check expiry.
//
// Every operation needs the Tenant Administrator role, and takes the client's id, a GUID
// (another string is refused before anything is sent, as by package hybridclients). Read results carry metadata only
// (id, description, expiry): the service shows a secret's value once, in the answer of the
// add, and Add returns it as an identity.Secret that prints as [REDACTED].
//
// An Expiry is a future time (ExpiresAt, ExpiresIn) or the explicit NeverExpires; a past
// or zero time is refused before anything is sent, and the zero Expiry of a new secret
// means one year from now, as in the portal. On the wire it becomes the service's
// Expires/Expiration pair.
//
// Rotate replaces a secret safely, in the order add, store, prove, retire: the old secrets
// are retired only once the caller's Store function has kept the new value and the
// identity server accepts it (asked with a token request that signs nobody in), however
// long the service takes to spread it. A Policy says when a client is due for rotation
// (its newest working secret expires soon, or is old) and how it is rotated, for a
// program on a schedule; hybridclients.PlanRotations and ApplyRotations run one across a
// tenant. CheckExpiry and Classify report secrets that have
// expired or expire soon, for a program or a cron job to warn before an application is
// locked out. Secret changes can take up to an hour to reach sign-in.
package secrets
