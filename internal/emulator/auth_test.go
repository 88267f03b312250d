package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDiscovery(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.do(http.MethodGet, "/identity/.well-known/openid-configuration", "", nil).want(t, http.StatusOK)
	d := decode[map[string]any](t, r)
	if got, want := d["token_endpoint"], h.srv.URL+"/identity/connect/token"; got != want {
		t.Errorf("token_endpoint %v, want %v", got, want)
	}
	if got, want := d["issuer"], h.srv.URL+"/identity"; got != want {
		t.Errorf("issuer %v, want %v", got, want)
	}
	h.do(http.MethodPost, "/identity/.well-known/openid-configuration", "", nil).want(t, http.StatusMethodNotAllowed)
}

// postToken posts a token request; form nil sends no body.
func (h *harness) postToken(form url.Values, mutate func(*http.Request)) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/identity/connect/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if mutate != nil {
		mutate(req)
	}
	res, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func TestTokenEndpoint(t *testing.T) {
	h := newHarness(t, Options{TokenLifetime: 20 * time.Minute})
	id, secret := h.e.AddIdentity(h.tenant, RoleAdmin)
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vs := range good {
			f[key] = vs
		}
		f.Set(k, v)
		return f
	}
	hybrid := h.create(newClient("web", nil))

	tests := []struct {
		name      string
		form      url.Values
		mutate    func(*http.Request)
		wantError string
	}{
		{"form body", good, nil, ""},
		{"basic header refused", url.Values{"grant_type": {"client_credentials"}}, func(r *http.Request) { r.SetBasicAuth(id, secret) }, "invalid_client"},
		{"basic header refused even with form", good, func(r *http.Request) { r.SetBasicAuth(id, secret) }, "invalid_client"},
		{"wrong secret", with("client_secret", secret+"x"), nil, "invalid_client"},
		{"empty secret", with("client_secret", ""), nil, "invalid_client"},
		{"unknown client", with("client_id", newGUID()), nil, "invalid_client"},
		{"other grant", with("grant_type", "password"), nil, "unsupported_grant_type"},
		{"hybrid client", url.Values{"grant_type": {"client_credentials"}, "client_id": {hybrid.Client.ID}, "client_secret": {hybrid.Secret}}, nil, "unauthorized_client"},
		{"credentials in query", url.Values{}, func(r *http.Request) { r.URL.RawQuery = good.Encode() }, "invalid_client"},
		{"json body", good, func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.postToken(tc.form, tc.mutate)
			if tc.wantError != "" {
				if status != http.StatusBadRequest || body["error"] != tc.wantError {
					t.Fatalf("got %d %v, want 400 %s", status, body, tc.wantError)
				}
				return
			}
			if status != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"] != float64(1200) {
				t.Fatalf("got %d %v", status, body)
			}
			tok, _ := body["access_token"].(string)
			h.do(http.MethodGet, h.api("/HybridClients"), tok, nil).want(t, http.StatusOK)
		})
	}
	h.do(http.MethodGet, "/identity/connect/token", "", nil).want(t, http.StatusMethodNotAllowed)
	if got := h.e.Stats().TokenRequests; got != len(tests) {
		t.Errorf("TokenRequests %d, want %d", got, len(tests))
	}
}

func TestTokenRoleFollowsIdentity(t *testing.T) {
	h := newHarness(t, Options{})
	id, secret := h.e.AddIdentity(h.tenant, RoleMember)
	_, body := h.postToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, nil)
	tok := body["access_token"].(string)
	h.do(http.MethodGet, h.api("/HybridClients"), tok, nil).want(t, http.StatusOK)
	h.do(http.MethodPost, h.api("/HybridClients"), tok, newClient("x", nil)).want(t, http.StatusForbidden)
}

func TestTokenRevokedAndExpired(t *testing.T) {
	h := newHarness(t, Options{TokenLifetime: time.Minute})
	list := h.api("/HybridClients")
	h.do(http.MethodGet, list, h.admin, nil).want(t, http.StatusOK)
	h.e.RevokeTokens()
	errorBody(t, h.do(http.MethodGet, list, h.admin, nil).want(t, http.StatusUnauthorized))
	fresh := h.e.IssueToken(h.tenant, RoleAdmin)
	h.do(http.MethodGet, list, fresh, nil).want(t, http.StatusOK)
	h.clock.Add(time.Minute)
	r := h.do(http.MethodGet, list, fresh, nil).want(t, http.StatusUnauthorized)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

// opCase is one request per API route, against a client with one secret (id 1).
type opCase struct {
	op     Op
	method string
	path   string // relative to the tenant; {c} is the client id
	body   any
	ok     int
}

func opCases() []opCase {
	upd := map[string]any{"Name": "renamed"}
	sec := map[string]any{"Expires": false}
	return []opCase{
		{OpListClients, http.MethodGet, "/HybridClients", nil, http.StatusOK},
		{OpCountClients, http.MethodHead, "/HybridClients", nil, http.StatusOK},
		{OpCreateClient, http.MethodPost, "/HybridClients", newClient("new", nil), http.StatusCreated},
		{OpGetClient, http.MethodGet, "/HybridClients/{c}", nil, http.StatusOK},
		{OpClientExists, http.MethodHead, "/HybridClients/{c}", nil, http.StatusOK},
		{OpUpdateClient, http.MethodPut, "/HybridClients/{c}", upd, http.StatusOK},
		{OpDeleteClient, http.MethodDelete, "/HybridClients/{c}", nil, http.StatusNoContent},
		{OpListSecrets, http.MethodGet, "/HybridClients/{c}/Secrets", nil, http.StatusOK},
		{OpCountSecrets, http.MethodHead, "/HybridClients/{c}/Secrets", nil, http.StatusOK},
		{OpAddSecret, http.MethodPost, "/HybridClients/{c}/Secrets", sec, http.StatusCreated},
		{OpGetSecret, http.MethodGet, "/HybridClients/{c}/Secrets/1", nil, http.StatusOK},
		{OpSecretExists, http.MethodHead, "/HybridClients/{c}/Secrets/1", nil, http.StatusOK},
		{OpUpdateSecret, http.MethodPut, "/HybridClients/{c}/Secrets/1", sec, http.StatusOK},
		{OpDeleteSecret, http.MethodDelete, "/HybridClients/{c}/Secrets/1", nil, http.StatusNoContent},
	}
}

func TestAuthorization(t *testing.T) {
	memberMay := map[Op]bool{OpListClients: true, OpCountClients: true, OpGetClient: true, OpClientExists: true}
	for _, oc := range opCases() {
		t.Run(string(oc.op), func(t *testing.T) {
			h := newHarness(t, Options{})
			c := h.create(newClient("target", nil)).Client.ID
			path := h.api(strings.ReplaceAll(oc.path, "{c}", c))
			other := h.e.AddTenant()
			otherTok := h.e.IssueToken(other, RoleAdmin)
			before := h.e.Stats().Requests[oc.op]

			check := func(name, token, p string, want int) {
				t.Helper()
				r := h.do(oc.method, p, token, oc.body)
				if r.status != want {
					t.Fatalf("%s: status %d, want %d (%s)", name, r.status, want, r.body)
				}
				if oc.method == http.MethodHead && len(r.body) != 0 {
					t.Fatalf("%s: HEAD answered a body", name)
				}
				if r.status >= 400 && oc.method != http.MethodHead {
					errorBody(t, r)
				}
			}
			check("no token", "", path, http.StatusUnauthorized)
			check("unknown token", "nope", path, http.StatusUnauthorized)
			check("unknown tenant", h.admin, strings.Replace(path, h.tenant, newGUID(), 1), http.StatusNotFound)
			check("other tenant's token", otherTok, path, http.StatusForbidden)
			check("no role", h.none, path, http.StatusForbidden)
			if memberMay[oc.op] {
				check("member", h.member, path, oc.ok)
			} else {
				check("member", h.member, path, http.StatusForbidden)
			}
			check("admin", h.admin, path, oc.ok)
			if got := h.e.Stats().Requests[oc.op] - before; got != 7 {
				t.Errorf("Stats.Requests[%s] grew by %d, want 7", oc.op, got)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.create(newClient("a", nil)).Client.ID
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, "/API/V1/tenants/" + h.tenant + "/hybridCLIENTS/" + strings.ToUpper(c), http.StatusOK, ""},
		{http.MethodGet, h.api("/HybridClients/"), http.StatusOK, ""},
		{http.MethodGet, h.api("/Nope"), http.StatusNotFound, ""},
		{http.MethodGet, "/api/v2/Tenants/" + h.tenant + "/HybridClients", http.StatusNotFound, ""},
		{http.MethodGet, h.api("/HybridClients/" + c + "/Secrets/abc"), http.StatusNotFound, ""},
		{http.MethodGet, h.api("/HybridClients/" + c + "/Secrets/99999999999"), http.StatusNotFound, ""},
		{http.MethodGet, h.api("/ClientCredentialClients/" + c), http.StatusNotFound, ""},
		{http.MethodPatch, h.api("/HybridClients/" + c), http.StatusMethodNotAllowed, "GET, HEAD, PUT, DELETE"},
		{http.MethodDelete, h.api("/HybridClients"), http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{http.MethodPost, h.api("/HybridClients/" + c + "/Secrets/1"), http.StatusMethodNotAllowed, "GET, HEAD, PUT, DELETE"},
	}
	for _, tc := range tests {
		r := h.do(tc.method, tc.path, h.admin, nil)
		if r.status != tc.want || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.want, tc.allow)
		}
		if r.status >= 400 {
			errorBody(t, r)
		}
	}
}
