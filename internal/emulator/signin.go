package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Lifetimes the API reference does not document; IdentityServer's defaults.
const (
	// CodeLifetime is how long an authorization code can be redeemed.
	CodeLifetime = 5 * time.Minute
	// IDTokenLifetime is the lifetime of ID tokens.
	IDTokenLifetime = 5 * time.Minute
	// RefreshTokenLifetime is the absolute lifetime of a refresh token and its successors.
	RefreshTokenLifetime = 30 * 24 * time.Hour
)

// Scopes of the sign-in plane.
const (
	scopeOpenID  = "openid"
	scopeProfile = "profile"
	scopeEmail   = "email"
	scopeAPI     = "ocsapi"
	scopeOffline = "offline_access"
)

func supportedScopes() []string {
	return []string{scopeOpenID, scopeProfile, scopeEmail, scopeAPI, scopeOffline}
}

// authCode is an issued authorization code and everything it is bound to.
type authCode struct {
	clientID    string // key(client id)
	tenant      string // tenant id
	redirectURI string
	challenge   string
	nonce       string
	scopes      []string
	subject     string
	authTime    time.Time
	expires     time.Time
	used        bool
}

// refreshGrant is a live refresh token. Each use replaces it (IdentityServer's default
// RefreshTokenUsage OneTimeOnly) keeping the original absolute expiry.
type refreshGrant struct {
	clientID string // key(client id)
	tenant   string
	subject  string
	scopes   []string
	authTime time.Time
	expires  time.Time
	origin   string // the code it descends from
}

// authzRequest is a validated authorization request.
type authzRequest struct {
	client       *clientView
	tenant       *tenant
	redirectURI  string
	responseType []string // the values of response_type, sorted: code, id_token, token
	responseMode string   // query, fragment or form_post
	scopes       []string
	state        string
	nonce        string
	challenge    string
	raw          url.Values
}

func (a *authzRequest) wants(rt string) bool { return slices.Contains(a.responseType, rt) }

// authzFailure is a refused authorization request: shown on an error page (page true:
// the client or its redirect URI cannot be trusted) or sent back to the redirect URI.
type authzFailure struct {
	page        bool
	code, desc  string
	redirectURI string
	mode        string
	state       string
}

// authzParams reads the parameters of an authorization request: the query of a GET, the
// form body of a POST (OpenID Connect Core 3.1.2.1 requires both).
func authzParams(r *http.Request, body []byte) (url.Values, error) {
	if r.Method == http.MethodPost {
		return url.ParseQuery(string(body))
	}
	return r.URL.Query(), nil
}

// single returns the one value of a parameter; more than one is an error (RFC 6749 3.1).
func single(q url.Values, name string) (string, bool) {
	vs := q[name]
	if len(vs) > 1 {
		return "", false
	}
	if len(vs) == 0 {
		return "", true
	}
	return vs[0], true
}

// validateAuthz checks an authorization request in IdentityServer's order. Errors about
// the client or the redirect URI go to an error page, never to a redirect; the rest go
// back to the (registered) redirect URI.
func (e *Emulator) validateAuthz(q url.Values) (*authzRequest, *authzFailure) {
	page := func(code, desc string) (*authzRequest, *authzFailure) {
		return nil, &authzFailure{page: true, code: code, desc: desc}
	}
	clientID, ok1 := single(q, "client_id")
	redirectURI, ok2 := single(q, "redirect_uri")
	if !ok1 || !ok2 {
		return page("invalid_request", "client_id and redirect_uri may each be given only once.")
	}
	if clientID == "" {
		return page("invalid_request", "client_id is missing.")
	}
	c := e.signinClient(clientID)
	if c == nil || !c.enabled {
		return page("unauthorized_client", "Unknown client or client not enabled: "+clientID)
	}
	if redirectURI == "" {
		return page("invalid_request", "redirect_uri is missing.")
	}
	if !slices.Contains(c.redirect, redirectURI) {
		return page("unauthorized_client", "Invalid redirect_uri: "+redirectURI+" is not one of the client's RedirectUris (matched exactly).")
	}
	t := e.tenants[key(c.tenant)]
	if t == nil {
		return page("unauthorized_client", "The client's tenant does not exist.")
	}

	a := &authzRequest{client: c, tenant: t, redirectURI: redirectURI, responseMode: "query", raw: q}
	a.state, _ = single(q, "state")
	fail := func(code, desc string) (*authzRequest, *authzFailure) {
		return nil, &authzFailure{code: code, desc: desc, redirectURI: redirectURI, mode: a.responseMode, state: a.state}
	}
	for _, name := range []string{"response_type", "response_mode", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "acr_values", "prompt"} {
		if _, ok := single(q, name); !ok {
			return fail("invalid_request", name+" may be given only once.")
		}
	}

	rt := strings.Fields(q.Get("response_type"))
	slices.Sort(rt)
	a.responseType = slices.Compact(rt)
	switch strings.Join(a.responseType, " ") {
	case "code":
	case "code id_token", "code token", "code id_token token":
		a.responseMode = "fragment"
	case "":
		return fail("invalid_request", "response_type is missing.")
	default:
		return fail("unsupported_response_type", "response_type must be code, \"code id_token\", \"code token\" or \"code id_token token\".")
	}
	switch mode := q.Get("response_mode"); mode {
	case "":
	case "query":
		if len(a.responseType) > 1 {
			return fail("invalid_request", "response_mode query may not carry tokens; use fragment or form_post.")
		}
	case "fragment", "form_post":
		a.responseMode = mode
	default:
		return fail("invalid_request", "response_mode must be query, fragment or form_post.")
	}
	if a.wants("token") && !c.browser {
		return fail("unauthorized_client", "The client may not receive access tokens via the browser (AllowAccessTokensViaBrowser is false).")
	}

	a.scopes = slices.Compact(sortedFields(q.Get("scope")))
	if !slices.Contains(a.scopes, scopeOpenID) {
		return fail("invalid_scope", "scope must include openid.")
	}
	for _, s := range a.scopes {
		if !slices.Contains(supportedScopes(), s) {
			return fail("invalid_scope", "Unknown scope: "+s)
		}
	}
	if slices.Contains(a.scopes, scopeOffline) && !c.offline {
		return fail("invalid_scope", "offline_access is not allowed: the client's AllowOfflineAccess is false.")
	}

	a.nonce = q.Get("nonce")
	if a.wants("id_token") && a.nonce == "" {
		return fail("invalid_request", "nonce is required when response_type includes id_token.")
	}
	if len(a.nonce) > 300 {
		return fail("invalid_request", "nonce is longer than 300 characters.")
	}

	a.challenge = q.Get("code_challenge")
	if a.challenge == "" {
		return fail("invalid_request", "code_challenge is required (PKCE).")
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		return fail("invalid_request", "code_challenge_method must be S256 (plain is not supported); got "+fmt.Sprintf("%q", m)+".")
	}
	if !pkceString(a.challenge) {
		return fail("invalid_request", "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~].")
	}

	for _, acr := range strings.Fields(q.Get("acr_values")) {
		if tid, ok := strings.CutPrefix(acr, "tenant:"); ok && !strings.EqualFold(tid, c.tenant) {
			return fail("invalid_request", "acr_values names tenant "+tid+", but the client belongs to another tenant.")
		}
	}
	if slices.Contains(strings.Fields(q.Get("prompt")), "none") {
		return fail("login_required", "prompt=none: the emulator keeps no sign-in session, so the user must sign in.")
	}
	return a, nil
}

func sortedFields(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return f
}

// pkceString reports whether s is a valid code_verifier or S256 code_challenge
// (RFC 7636 4.1: 43 to 128 unreserved characters).
func pkceString(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// failureReply renders a refused authorization request.
func (e *Emulator) failureReply(f *authzFailure) reply {
	if f.page {
		return e.errorPage(f.code, f.desc)
	}
	p := url.Values{"error": {f.code}}
	if f.desc != "" {
		p.Set("error_description", f.desc)
	}
	if f.state != "" {
		p.Set("state", f.state)
	}
	return e.respond(f.redirectURI, f.mode, p)
}

// respond sends authorization response parameters to the redirect URI in a response mode.
func (e *Emulator) respond(redirectURI, mode string, p url.Values) reply {
	if mode == "form_post" {
		return e.formPostPage(redirectURI, p)
	}
	u, err := url.Parse(redirectURI)
	if err != nil { // registered URIs are not checked on create; do not redirect to a broken one
		return e.errorPage("invalid_request", "The registered redirect_uri cannot be parsed.")
	}
	if mode == "fragment" {
		u.Fragment = ""
		u.RawFragment = ""
		return redirect(u.String() + "#" + p.Encode())
	}
	q := u.Query()
	for k, vs := range p {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return redirect(u.String())
}

func redirect(location string) reply {
	return reply{status: http.StatusFound, header: http.Header{}}.withHeader("Location", location).withHeader("Cache-Control", "no-store")
}

// authorizeEndpoint serves GET and POST /identity/connect/authorize: the sign-in page.
func (e *Emulator) authorizeEndpoint(r *http.Request, body []byte) reply {
	q, err := authzParams(r, body)
	if err != nil {
		return e.errorPage("invalid_request", "The authorization request cannot be parsed.")
	}
	a, f := e.validateAuthz(q)
	if f != nil {
		return e.failureReply(f)
	}
	return e.signInPage(a, "")
}

// signIn serves the sign-in page's form: the authorization request (re-validated, since
// the form is in the user's hands and the client may have changed), the user and the
// action.
func (e *Emulator) signIn(r *http.Request, body []byte) reply {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return e.errorPage("invalid_request", "The sign-in form cannot be parsed.")
	}
	q, err := url.ParseQuery(form.Get("request"))
	if err != nil {
		return e.errorPage("invalid_request", "The sign-in form carries no valid authorization request.")
	}
	a, f := e.validateAuthz(q)
	if f != nil {
		return e.failureReply(f)
	}
	if form.Get("action") == "cancel" {
		return e.failureReply(&authzFailure{code: "access_denied", desc: "The user cancelled the sign-in.", redirectURI: a.redirectURI, mode: a.responseMode, state: a.state})
	}
	var u *User
	if typed := strings.TrimSpace(form.Get("username")); typed != "" {
		u = a.tenant.findUser(typed)
		if u == nil {
			return e.signInPage(a, "No test user is named "+typed+".")
		}
	} else if u = a.tenant.user(form.Get("user")); u == nil {
		return e.signInPage(a, "Choose a test user.")
	}
	return e.issueAuthz(r, a, u)
}

// issueAuthz issues the code (and, for hybrid response types, an ID token and an access
// token) and sends them to the redirect URI.
func (e *Emulator) issueAuthz(r *http.Request, a *authzRequest, u *User) reply {
	now := e.now()
	code := randomString(32)
	e.pruneCodes(now)
	e.codes[code] = &authCode{
		clientID: key(a.client.id), tenant: a.client.tenant, redirectURI: a.redirectURI,
		challenge: a.challenge, nonce: a.nonce, scopes: slices.Clone(a.scopes), subject: u.Subject,
		authTime: now, expires: now.Add(CodeLifetime),
	}
	p := url.Values{"code": {code}, "scope": {strings.Join(a.scopes, " ")}}
	if a.state != "" {
		p.Set("state", a.state)
	}
	var accessToken string
	if a.wants("token") {
		var life time.Duration
		accessToken, life = e.issueUserToken(a.client, u, a.scopes, code)
		p.Set("access_token", accessToken)
		p.Set("token_type", "Bearer")
		p.Set("expires_in", fmt.Sprint(int(life/time.Second)))
	}
	if a.wants("id_token") {
		p.Set("id_token", e.idToken(r, a.client.id, u, a.nonce, now, map[string]any{
			"c_hash": halfHash(code), "at_hash": optionalHash(accessToken),
		}))
	}
	return e.respond(a.redirectURI, a.responseMode, p)
}

func optionalHash(v string) any {
	if v == "" {
		return nil
	}
	return halfHash(v)
}

// pruneCodes forgets codes that can no longer be redeemed.
func (e *Emulator) pruneCodes(now time.Time) {
	for k, c := range e.codes {
		if !now.Before(c.expires) {
			delete(e.codes, k)
		}
	}
}

// issueUserToken mints an access token for a signed-in user, valid for the client's
// AccessTokenLifetime; it also works on the management API with the user's Role when
// the ocsapi scope was granted.
func (e *Emulator) issueUserToken(c *clientView, u *User, scopes []string, origin string) (string, time.Duration) {
	life := time.Duration(c.lifetime) * time.Second
	tok := randomString(32)
	e.tokens[tok] = token{
		tenant: key(c.tenant), role: u.Role, expires: e.now().Add(life),
		subject: u.Subject, clientID: key(c.id), scopes: slices.Clone(scopes), origin: origin,
	}
	return tok, life
}

// idToken signs an ID token for the user. Profile claims (name, email, the user's Claims)
// are always included, as the service's sample expects the name in the ID token.
func (e *Emulator) idToken(r *http.Request, clientID string, u *User, nonce string, authTime time.Time, extra map[string]any) string {
	now := e.now()
	claims := map[string]any{}
	for k, v := range u.Claims {
		claims[k] = v
	}
	for k, v := range extra {
		if v != nil {
			claims[k] = v
		}
	}
	claims["iss"] = issuer(r)
	claims["aud"] = clientID
	claims["sub"] = u.Subject
	claims["iat"] = unix(now)
	claims["nbf"] = unix(now)
	claims["exp"] = unix(now.Add(IDTokenLifetime))
	claims["auth_time"] = unix(authTime)
	claims["amr"] = []string{"pwd"}
	claims["idp"] = "local"
	claims["name"] = u.Name
	if u.Email != "" {
		claims["email"] = u.Email
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return e.signingKey().sign(claims)
}

// hybridToken serves the token endpoint for a client that is not a client-credential
// client: the hybrid client as the sign-in plane sees it must exist, be enabled and
// accept the secret; then the grant decides.
func (e *Emulator) hybridToken(r *http.Request, form url.Values, id, secret, grant string) reply {
	c := e.signinClient(id)
	if c == nil || !c.enabled || !c.authenticates(secret, e.now()) {
		return oauthError("invalid_client")
	}
	switch grant {
	case "authorization_code":
		return e.codeGrant(r, c, form)
	case "refresh_token":
		return e.refreshGrant(r, c, form)
	case "client_credentials":
		return oauthError("unauthorized_client")
	}
	return oauthError("unsupported_grant_type")
}

// codeGrant redeems an authorization code. A code is removed on its first redemption
// attempt, as IdentityServer does, so a failed attempt (wrong verifier) burns it too; a
// second redemption of a used code also revokes the tokens issued from it (RFC 6749 4.1.2).
func (e *Emulator) codeGrant(r *http.Request, c *clientView, form url.Values) reply {
	code := form.Get("code")
	if code == "" {
		return oauthErrorDesc("invalid_request", "code is missing.")
	}
	ac := e.codes[code]
	now := e.now()
	switch {
	case ac == nil || !now.Before(ac.expires):
		return oauthErrorDesc("invalid_grant", "The code is unknown or expired.")
	case ac.clientID != key(c.id):
		return oauthErrorDesc("invalid_grant", "The code was issued to another client.")
	case ac.used:
		e.revokeOrigin(code)
		return oauthErrorDesc("invalid_grant", "The code was already used; the tokens issued from it are revoked.")
	}
	ac.used = true
	if form.Get("redirect_uri") != ac.redirectURI {
		return oauthErrorDesc("invalid_grant", "redirect_uri differs from the authorization request's.")
	}
	verifier := form.Get("code_verifier")
	if !pkceString(verifier) {
		return oauthErrorDesc("invalid_grant", "code_verifier is missing or not 43 to 128 unreserved characters.")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1 {
		return oauthErrorDesc("invalid_grant", "code_verifier does not match the code_challenge (S256).")
	}
	t := e.tenants[key(ac.tenant)]
	var u *User
	if t != nil {
		u = t.user(ac.subject)
	}
	if u == nil {
		return oauthErrorDesc("invalid_grant", "The user no longer exists.")
	}
	return e.grantTokens(r, c, u, ac.scopes, ac.nonce, ac.authTime, now.Add(RefreshTokenLifetime), code)
}

// grantTokens answers a successful code or refresh grant. A refresh token is issued only
// when offline_access was granted and the client (as sign-in sees it now) still allows it,
// unless the emulator withholds refresh tokens (the scope is still granted then, as a
// service that does not support them for hybrid clients would answer).
func (e *Emulator) grantTokens(r *http.Request, c *clientView, u *User, scopes []string, nonce string, authTime, refreshExpires time.Time, origin string) reply {
	access, life := e.issueUserToken(c, u, scopes, origin)
	out := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(life / time.Second),
		"scope":        strings.Join(scopes, " "),
		"id_token":     e.idToken(r, c.id, u, nonce, authTime, map[string]any{"at_hash": halfHash(access)}),
	}
	if slices.Contains(scopes, scopeOffline) && c.offline && !e.opts.WithholdRefreshTokens {
		rt := randomString(32)
		e.refresh[rt] = &refreshGrant{
			clientID: key(c.id), tenant: c.tenant, subject: u.Subject, scopes: slices.Clone(scopes),
			authTime: authTime, expires: refreshExpires, origin: origin,
		}
		out["refresh_token"] = rt
	}
	return jsonReply(http.StatusOK, out).withHeader("Cache-Control", "no-store").withHeader("Pragma", "no-cache")
}

// revokeOrigin revokes every token descending from an authorization code.
func (e *Emulator) revokeOrigin(code string) {
	for k, t := range e.tokens {
		if t.origin == code {
			delete(e.tokens, k)
		}
	}
	for k, g := range e.refresh {
		if g.origin == code {
			delete(e.refresh, k)
		}
	}
}

// refreshGrant redeems a refresh token (one time only: the answer carries its successor).
func (e *Emulator) refreshGrant(r *http.Request, c *clientView, form url.Values) reply {
	rt := form.Get("refresh_token")
	if rt == "" {
		return oauthErrorDesc("invalid_request", "refresh_token is missing.")
	}
	g := e.refresh[rt]
	now := e.now()
	switch {
	case g == nil || !now.Before(g.expires):
		delete(e.refresh, rt)
		return oauthErrorDesc("invalid_grant", "The refresh token is unknown, used or expired.")
	case g.clientID != key(c.id):
		return oauthErrorDesc("invalid_grant", "The refresh token was issued to another client.")
	case !c.offline:
		return oauthErrorDesc("invalid_grant", "The client no longer allows refresh tokens (AllowOfflineAccess is false).")
	}
	scopes := g.scopes
	if s := form.Get("scope"); s != "" {
		scopes = slices.Compact(sortedFields(s))
		for _, x := range scopes {
			if !slices.Contains(g.scopes, x) {
				return oauthErrorDesc("invalid_scope", "scope asks for more than was granted: "+x)
			}
		}
	}
	t := e.tenants[key(g.tenant)]
	var u *User
	if t != nil {
		u = t.user(g.subject)
	}
	if u == nil {
		return oauthErrorDesc("invalid_grant", "The user no longer exists.")
	}
	delete(e.refresh, rt)
	return e.grantTokens(r, c, u, scopes, "", g.authTime, g.expires, g.origin)
}

// userinfo serves the UserInfo endpoint for a user's access token (Bearer header).
func (e *Emulator) userinfo(r *http.Request) reply {
	invalid := func(desc string) reply {
		return jsonReply(http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": desc}).
			withHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		return jsonReply(http.StatusUnauthorized, map[string]string{"error": "invalid_request"}).withHeader("WWW-Authenticate", "Bearer")
	}
	tok, ok := e.tokens[strings.TrimSpace(auth[7:])]
	if !ok || !e.now().Before(tok.expires) {
		return invalid("The access token is unknown, expired or revoked.")
	}
	if tok.subject == "" || !slices.Contains(tok.scopes, scopeOpenID) {
		return jsonReply(http.StatusForbidden, map[string]string{"error": "insufficient_scope"}).
			withHeader("WWW-Authenticate", `Bearer error="insufficient_scope"`)
	}
	var u *User
	if t := e.tenants[tok.tenant]; t != nil {
		u = t.user(tok.subject)
	}
	if u == nil {
		return invalid("The user no longer exists.")
	}
	out := map[string]any{}
	for k, v := range u.Claims {
		out[k] = v
	}
	out["sub"] = u.Subject
	out["name"] = u.Name
	if u.Email != "" {
		out["email"] = u.Email
	}
	return jsonReply(http.StatusOK, out).withHeader("Cache-Control", "no-store")
}

// endSession serves RP-Initiated Logout. The emulator keeps no session, so there is
// nothing to end. It redirects to post_logout_redirect_uri as IdentityServer4 does: only
// when id_token_hint is an ID token this server issued to a client that is known, enabled
// and lists that URI exactly. IdentityServer4 reads the client from the hint alone, so
// client_id without a hint never redirects (an application that logs out so is stranded on
// the service's signed-out page); a client_id that contradicts the hint is refused too, as
// OpenID Connect RP-Initiated Logout 1.0 asks. Otherwise it shows the signed-out page,
// naming why it did not redirect.
func (e *Emulator) endSession(r *http.Request, body []byte) reply {
	q, err := authzParams(r, body)
	if err != nil {
		return e.signedOutPage("invalid_request", "The logout request cannot be parsed.")
	}
	hint, target, clientID := q.Get("id_token_hint"), q.Get("post_logout_redirect_uri"), q.Get("client_id")
	var aud string
	if hint != "" {
		aud, _, err = e.signingKey().verifyHint(hint, issuer(r))
		if err != nil {
			return e.signedOutPage("invalid_request", "id_token_hint is not an ID token this server issued.")
		}
		if clientID != "" && !strings.EqualFold(clientID, aud) {
			return e.signedOutPage("invalid_request", "client_id does not match the audience of id_token_hint.")
		}
	}
	if target == "" {
		return e.signedOutPage("", "")
	}
	if aud == "" {
		return e.signedOutPage("invalid_request", "post_logout_redirect_uri is honoured only with an id_token_hint (the ID token of the sign-in); client_id alone does not identify the client.")
	}
	c := e.signinClient(aud)
	if c == nil || !c.enabled {
		return e.signedOutPage("unauthorized_client", "Unknown client or client not enabled: "+aud)
	}
	if !slices.Contains(c.logout, target) {
		return e.signedOutPage("invalid_request", "post_logout_redirect_uri "+target+" is not one of the client's PostLogoutRedirectUris (matched exactly).")
	}
	p := url.Values{}
	if s := q.Get("state"); s != "" {
		p.Set("state", s)
	}
	return e.respond(target, "query", p)
}
