// Package identity is the shared vocabulary of a Go SDK for the hybrid clients of a
// CONNECT data services tenant (formerly OSIsoft Cloud Services and AVEVA Data Hub) and
// their secrets: what a Tenant Administrator does in the portal's Security > Clients page,
// done from a Go program.
//
// The work is done by two packages built on this one:
//
//   - [github.com/ocs-go/identity/hybridclients]: list, count, get, check, create, update
//     and delete hybrid clients.
//   - [github.com/ocs-go/identity/secrets]: list, count, get, check, add, update, delete
//     and rotate the secrets of hybrid (and client-credential) clients, and report those
//     that have expired or soon will.
//
// [github.com/ocs-go/identity/hybridclients/hybridclientstest] runs a faithful in-memory
// fake of the service for your own tests.
//
// This package holds what they share:
//
//   - [Config]: the region ([RegionUSWest], [RegionEUWest], ...), the tenant, the
//     [Credentials] ([NewClientCredentials], [NewTokenSource] for a signed-in
//     administrator's token, [NewStaticToken]), retries, logging, OpenTelemetry tracing
//     and metrics (off unless providers are set) and limits. Making a client from a
//     Config never touches the network.
//   - [Secret]: every one-time secret value and every credential travels in a Secret,
//     which shows [REDACTED] wherever it is printed, logged or encoded; [Secret.Reveal]
//     returns the value, [Secret.WriteFile] stores it in a new 0600 file and
//     [Secret.ReplaceFile] puts it in place of an older value (a rotation).
//   - Errors as values: [*Error] for an answer of the service, matched by status with
//     errors.Is ([ErrNotFound], [ErrConflict], [ErrForbidden], ...); [*ValidationError]
//     for input refused before sending (all broken rules at once, [ErrInvalidInput]);
//     [*ResponseError] for an unusable success answer; [*ConnectionError] for no answer
//     ([ErrUnreachable]); [*AuthError] for a refusal of the token endpoint;
//     [*OutcomeError] ([ErrOutcomeUnknown]) when a call that creates something could not
//     be settled. See Errors below for their texts.
//
// Every call goes through one path: the request is validated, then sent by one retry
// loop (idempotent calls retried on connection errors, 408, 429 and 5xx, with jittered
// exponential backoff, a capped Retry-After, and no wait past the context's deadline;
// go-retryablehttp tells the connection errors no retry mends), each attempt taking an
// x/oauth2 token (cached and shared, refreshed before expiry, one fetch at a time, never
// sent to another host) and going out through the base transport. Responses are read with a size bound and always drained and closed.
//
// # Errors
//
// An error's text starts with the name of the package whose function or method you
// called, once: "hybridclients: GET /api/v1/Tenants/…/HybridClients/…: 404 Not Found: …",
// "secrets: limit of secrets per client reached: …", "identity: invalid TenantID: …" (the
// calls of this package: [Config.Validate], the credentials' Token, the [TokenEndpoint] a
// custom Credentials gets, [Secret.WriteFile] and [Secret.ReplaceFile]),
// "desired: clients.yaml: 3 broken rules" for desired state, "hybridclientstest: …" for
// the fake. What such an error holds prints without a prefix of its own: the typed errors
// (those above, and desired's FileError and StaleError) and the sentinels (desired.ErrStale
// too; errors.As gives "GET /api/…: 404 Not Found: …"), and an error that the call met in
// another package of the SDK (hybridclients.New validating the Config,
// hybridclients.ScanExpiry reading secrets). A request that breaks several rules prints
// one rule a line, the prefix on the first. Errors of your own functions pass through as
// they are: a failed Store of secrets.Client.Rotate ends a "secrets: …" message; the Err
// of a hybridclients.Each result is what your work function returned. A hybridclients.PanicError is a panic value, not
// a returned error, and names its package itself.
package identity
