package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// token is what an issued bearer token stands for.
type token struct {
	tenant  string // key(tenant id)
	role    Role
	expires time.Time

	// Set on a user's token from sign-in.
	subject  string
	clientID string
	scopes   []string
	origin   string // the authorization code it descends from, for revocation on reuse
}

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// issueLocked mints a token for a tenant and role; e.mu is held.
func (e *Emulator) issueLocked(tenantID string, role Role) (string, time.Duration) {
	tok := randomString(32)
	e.tokens[tok] = token{tenant: key(tenantID), role: role, expires: e.now().Add(e.opts.TokenLifetime)}
	return tok, e.opts.TokenLifetime
}

// AddIdentity registers a client-credential client in the tenant (creating the tenant if
// needed) with the role and one never-expiring secret, and returns its client id and secret
// value, usable at the token endpoint. It is not subject to MaxClients but counts toward it.
func (e *Emulator) AddIdentity(tenantID string, role Role) (clientID, clientSecret string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tenantLocked(tenantID)
	e.seq++
	c := &client{id: newGUID(), tenantID: t.id, role: role, seq: e.seq, name: "identity", enabled: true, lifetime: 3600}
	value := c.addSecret("initial", nil)
	t.cc[key(c.id)] = c
	e.identities[key(c.id)] = c
	e.knownSinceLocked(c)
	return c.id, value
}

// IssueToken returns a bearer token for a new identity of that role in the tenant, for
// tests that use a static token. The tenant need not exist (requests then get 404).
func (e *Emulator) IssueToken(tenantID string, role Role) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	tok, _ := e.issueLocked(tenantID, role)
	return tok
}

// RevokeTokens makes every token issued so far answer 401; later tokens work.
func (e *Emulator) RevokeTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.tokens)
}

// CheckSecret reports whether value would authenticate client clientID (hybrid or
// client-credential) of the tenant now: the client exists, one of its secrets has that
// value (compared by salted hash) and that secret has not expired (per Options.Now).
func (e *Emulator) CheckSecret(tenantID, clientID, value string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.anyClient(tenantID, clientID)
	return c != nil && c.authenticates(value, e.now())
}

// issuer is the issuer identifier for a request: the host the caller used, then /identity,
// as the service's discovery document says.
func issuer(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/identity"
}

// discovery answers the OpenID configuration; endpoints follow the host the caller used.
func discovery(r *http.Request) reply {
	base := issuer(r)
	return jsonReply(http.StatusOK, map[string]any{
		"issuer":                                base,
		"jwks_uri":                              base + "/.well-known/openid-configuration/jwks",
		"authorization_endpoint":                base + "/connect/authorize",
		"token_endpoint":                        base + "/connect/token",
		"userinfo_endpoint":                     base + "/connect/userinfo",
		"end_session_endpoint":                  base + "/connect/endsession",
		"scopes_supported":                      supportedScopes(),
		"claims_supported":                      []string{"sub", "name", "email", "auth_time", "amr", "idp"},
		"grant_types_supported":                 []string{"client_credentials", "authorization_code", "refresh_token"},
		"response_types_supported":              []string{"code", "code id_token", "code token", "code id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		"request_parameter_supported":           false,
		"frontchannel_logout_supported":         false,
	})
}

// oauthError is the token endpoint's error body, per RFC 6749 section 5.2.
func oauthError(code string) reply {
	return oauthErrorDesc(code, "")
}

// oauthErrorDesc is oauthError with an error_description (never a secret or token).
func oauthErrorDesc(code, desc string) reply {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	return jsonReply(http.StatusBadRequest, body).withHeader("Cache-Control", "no-store").withHeader("Pragma", "no-cache")
}

// token serves the token endpoint: client_credentials for client-credential clients,
// authorization_code and refresh_token for hybrid clients (signin.go). Credentials are
// accepted in the form body only (client_secret_post): a Basic header is refused, which
// proves the SDK sends them in the body.
func (e *Emulator) token(r *http.Request, body []byte) reply {
	if auth := r.Header.Get("Authorization"); len(auth) >= 6 && strings.EqualFold(auth[:6], "basic ") {
		return oauthErrorDesc("invalid_client", "Client credentials go in the form body (client_secret_post), not in an Authorization header.")
	}
	mt := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])
	if !strings.EqualFold(mt, "application/x-www-form-urlencoded") {
		return oauthError("invalid_request")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthError("invalid_request")
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	grant := form.Get("grant_type")
	c := e.identities[key(id)]
	if c == nil {
		return e.hybridToken(r, form, id, secret, grant)
	}
	if v := e.identityView(c); v == nil || !v.authenticates(secret, e.now()) {
		return oauthError("invalid_client")
	}
	switch grant {
	case "client_credentials":
	case "authorization_code", "refresh_token":
		return oauthError("unauthorized_client")
	default:
		return oauthError("unsupported_grant_type")
	}
	tok, life := e.issueLocked(c.tenantID, c.role)
	return jsonReply(http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(life / time.Second),
		"token_type":   "Bearer",
	}).withHeader("Cache-Control", "no-store")
}

// rolesAllowed says which roles may use each API route (API.md, "Roles").
func rolesAllowed(op Op, role Role) bool {
	switch role {
	case RoleAdmin:
		return true
	case RoleMember:
		return op == OpListClients || op == OpCountClients || op == OpGetClient || op == OpClientExists
	}
	return false
}

// authorize checks the bearer token, the tenant and the role, in that order; e.mu is held.
// It returns the tenant, or nil and the error reply.
func (e *Emulator) authorize(r *http.Request, tgt target) (*tenant, reply) {
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		return nil, errReply(http.StatusUnauthorized, "No bearer token was presented.")
	}
	tok, ok := e.tokens[strings.TrimSpace(auth[7:])]
	if !ok || !e.now().Before(tok.expires) {
		return nil, errReply(http.StatusUnauthorized, "The bearer token is unknown, expired or revoked.")
	}
	t := e.tenants[key(tgt.tenantID)]
	if t == nil {
		return nil, errReply(http.StatusNotFound, "The tenant does not exist.")
	}
	if tok.tenant != key(t.id) {
		return nil, errReply(http.StatusForbidden, "The token belongs to another tenant.")
	}
	if tok.subject != "" && !slices.Contains(tok.scopes, scopeAPI) {
		return nil, errReply(http.StatusForbidden, "The user's token was not granted the ocsapi scope.")
	}
	if !rolesAllowed(tgt.op, tok.role) {
		return nil, errReply(http.StatusForbidden, "The caller's role does not allow this operation.")
	}
	return t, reply{}
}
