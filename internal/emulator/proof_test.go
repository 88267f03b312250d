package emulator

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// The token endpoint authenticates the client before it looks at the grant, as
// IdentityServer does (API.md): a token request with a grant that cannot succeed answers
// invalid_client while the secret is not accepted, and another error once it is. That is
// how a rotation proves a new secret without signing anyone in; a new secret is not
// accepted until the propagation delay has passed on the emulator's clock.

// probe is a token request for a hybrid client with an authorization code that cannot
// exist.
func (a *app) probe(secret string) tokenResponse {
	a.h.t.Helper()
	return a.h.tokenRequest(url.Values{
		"grant_type": {"authorization_code"}, "code": {"no-such-code-" + randomString(16)},
		"redirect_uri": {"https://rotation-proof.invalid/"}, "code_verifier": {randomString(32)},
		"client_id": {a.id}, "client_secret": {secret},
	})
}

func TestTokenEndpointAuthenticatesTheHybridClientBeforeTheGrant(t *testing.T) {
	const delay = time.Hour
	h := newHarness(t, Options{PropagationDelay: delay, TokenLifetime: 24 * time.Hour})
	a := h.newApp(nil)
	h.clock.Add(delay)
	a.probe(a.secret).fails(t, "invalid_grant") // the client authenticated; the code is unknown
	a.probe(a.secret+"x").fails(t, "invalid_client")

	added := decode[map[string]any](t, h.do(http.MethodPost, h.api("/HybridClients/"+a.id+"/Secrets"), h.admin,
		map[string]any{"Expires": false}).want(t, http.StatusCreated))
	fresh := added["Secret"].(string)
	a.probe(fresh).fails(t, "invalid_client")
	h.clock.Add(delay - time.Second)
	a.probe(fresh).fails(t, "invalid_client")
	h.clock.Add(time.Second)
	a.probe(fresh).fails(t, "invalid_grant")

	// A client-credentials grant for a hybrid client: authenticated first, then refused.
	cc := h.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {a.id}, "client_secret": {fresh}})
	cc.fails(t, "unauthorized_client")
	a.update(map[string]any{"Enabled": false})
	a.probe(fresh).fails(t, "invalid_client") // a disabled client authenticates with nothing
}

func TestClientCredentialSecretsPropagateToTheTokenEndpoint(t *testing.T) {
	const delay = time.Hour
	h := newHarness(t, Options{PropagationDelay: delay, TokenLifetime: 24 * time.Hour})
	id, first := h.e.AddIdentity(h.tenant, RoleAdmin)
	grant := func(secret string) tokenResponse {
		return h.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	}
	grant(first).ok(t) // an identity added outside the API works at once

	base := h.api("/ClientCredentialClients/" + id + "/Secrets")
	second := decode[secretBody](t, h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": false}).want(t, http.StatusCreated))
	grant(second.Secret).fails(t, "invalid_client")
	h.clock.Add(delay - time.Second)
	grant(second.Secret).fails(t, "invalid_client")
	// Authenticated before the grant: a wrong grant with the old secret is not invalid_client.
	h.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {id}, "client_secret": {first}}).
		fails(t, "unauthorized_client")
	h.clock.Add(time.Second)
	grant(second.Secret).ok(t)

	// What a change takes away applies at once.
	h.do(http.MethodDelete, base+"/1", h.admin, nil).want(t, http.StatusNoContent)
	grant(first).fails(t, "invalid_client")
	grant(second.Secret).ok(t)
}
