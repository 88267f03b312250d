// Package idserver is the SDK's one road to the identity server of a Resource: OpenID
// discovery, the token requests of every grant (client credentials, authorization code
// with PKCE, refresh), the mapping of their answers to the identity package's errors, the
// one constructor of every *http.Client of the SDK (NewClient), and the rule that tells a
// request that never left (NeverSent, ConnectionError). The credentials reach it through
// identity.TokenEndpoint, which the transport fills with a Road; hybridclients.SignIn
// holds a Road; the transport's retry layer builds its connection errors here too. A rule
// added here holds for every caller; a rule written in a copy is one day missing.
//
// Every request to the identity server obeys these rules:
//
//   - It is sent by an *http.Client from NewClient, built on the Transport and Timeout of
//     Config.HTTPClient and nothing else of it (not its CheckRedirect, not its Jar): it
//     never follows a redirect and keeps no cookie. A 3xx answer is an
//     *identity.AuthError (ErrUnauthorized) that names where it pointed by origin only:
//     the client secret, a code, a verifier or a refresh token goes to the endpoint named,
//     or nowhere.
//   - It carries no bearer token. The client secret travels in the form body of a POST to
//     the token endpoint only (AuthStyleInParams, set here whatever the caller's
//     oauth2.Config says), never in a URL or a header.
//   - Discovery reads {resource}/identity/.well-known/openid-configuration up to a bound.
//     The issuer (required by sign-in) must be {resource}/identity, and every endpoint the
//     document names must be on the resource's origin, without user info or fragment;
//     origins are compared normalised (scheme and host in lower case, the default port
//     dropped). A token endpoint elsewhere is used only when the caller names it
//     (ClientCredentialsOptions.TokenURL).
//   - Answers become typed errors: a 4xx of the token endpoint an *identity.AuthError with
//     the OAuth2 error and description (invalid_client also says which client was refused
//     and what to check, never the secret); any other status an *identity.Error; an unusable
//     success an *identity.ResponseError; no answer an *identity.ConnectionError
//     (ErrUnreachable), Sent unless no connection was opened. No error holds the form, the
//     secret or a token. Bodies are read with a bound and closed.
//   - Discovery and client-credentials requests are retried after connection errors and
//     5xx (never after a 4xx), by the retry policy the transport supplies. An
//     authorization code is good for one try and a refresh token may be single-use, so
//     those grants are sent once.
package idserver
