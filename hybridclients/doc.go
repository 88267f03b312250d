// Package hybridclients manages the hybrid clients of a CONNECT data services tenant:
// the clients that native and server-side web applications use to sign users in.
//
// Make a [Client] from an [identity.Config] with [New], then:
//
//   - [Client.Create] does what the portal's Add Client does: it checks the request
//     locally (redirect URIs, token lifetime, ids), creates the client with its first
//     secret (expiring in one year unless you choose otherwise) and returns the secret's
//     value once, as an [identity.Secret] that never prints itself.
//   - [Client.List], [Client.All] (an iter.Seq2 that pages lazily), [Client.Count],
//     [Client.Get] and [Client.Exists] read; [Client.Update] changes only what you set;
//     [Client.Delete] removes.
//   - [Client.Secrets] manages the clients' secrets (package secrets).
//   - [Client.SignIn] (or [DiscoverSignIn], for an application without management
//     credentials) signs users in with a client: a ready *oauth2.Config with PKCE, the
//     tenant, refresh and logout, refusing unregistered URIs before a browser sees them.
//   - [ScanExpiry] checks the secrets of every client of the tenant, and [Each]
//     does any per-client work across it, with a bounded number of workers that slow
//     down by themselves when the service throttles, yielding results as they complete.
//   - Package desired (hybridclients/desired) manages the tenant's clients as code: a
//     desired-state file planned against the tenant and applied, with secret values
//     never in a file.
//
// A native (desktop or mobile) app registers its redirect URIs as RFC 8252 (OAuth 2.0 for
// Native Apps) describes: its private-use scheme, named after a domain it owns in reverse
// order (com.example.app:/oauth2redirect), a loopback address with the port it listens on
// (http://127.0.0.1:8400/callback), or a claimed https URL. It signs users in with
// [Client.SignIn] as a web app does; PKCE is always on, which keeps a code that another
// app catches useless, as a secret shipped inside an app is not secret.
// [CreateRequest].RedirectURIs lists what is accepted and what is refused.
//
// Client ids are GUIDs, as the service makes them: every method that takes one (and the
// IDs filters of List and Count) refuses any other string with an *identity.ValidationError
// before sending anything, with the rule that CreateRequest.ID follows.
//
// Reading needs the Tenant Member role; writing needs Tenant Administrator.
package hybridclients
