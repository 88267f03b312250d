package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// secretBody is ClientSecret / ClientSecretResponse as the tests read it.
type secretBody struct {
	ID          int32 `json:"Id"`
	Description string
	Expires     bool
	Expiration  *time.Time
	Secret      string
}

func TestSecretsLifecycle(t *testing.T) {
	h := newHarness(t, Options{})
	cr := h.create(newClient("web", map[string]any{"SecretDescription": "one"}))
	base := h.api("/HybridClients/" + cr.Client.ID + "/Secrets")
	exp := "2027-11-25T19:00:00Z"

	r := h.do(http.MethodPost, base, h.admin, map[string]any{"Description": "two", "Expiration": exp}).want(t, http.StatusCreated)
	raw := jsonMap(t, r)
	for _, k := range []string{"Id", "Description", "Expires", "Expiration", "Secret"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("ClientSecretResponse lacks %s: %s", k, r.body)
		}
	}
	added := decode[secretBody](t, r)
	if added.ID != 2 || !added.Expires || added.Expiration.Format(time.RFC3339) != exp || added.Description != "two" || len(added.Secret) < 43 {
		t.Fatalf("added %+v", added)
	}
	if added.Secret == cr.Secret || !h.e.CheckSecret(h.tenant, cr.Client.ID, added.Secret) {
		t.Fatal("the added secret's value does not authenticate, or repeats the first")
	}

	r = h.do(http.MethodGet, base, h.admin, nil).want(t, http.StatusOK)
	if strings.Contains(string(r.body), `"Secret"`) || r.header.Get("Total-Count") != "2" {
		t.Fatalf("list %s Total-Count %s", r.body, r.header.Get("Total-Count"))
	}
	if got := decode[[]secretBody](t, r); len(got) != 2 || got[0].ID != 1 || got[0].Expires || got[0].Expiration != nil || got[0].Description != "one" {
		t.Fatalf("list %+v", got)
	}
	if got := decode[[]secretBody](t, h.do(http.MethodGet, base+"?skip=1&count=1", h.admin, nil)); len(got) != 1 || got[0].ID != 2 {
		t.Fatalf("page %+v", got)
	}
	errorBody(t, h.do(http.MethodGet, base+"?count=0", h.admin, nil).want(t, http.StatusBadRequest))
	if c := h.do(http.MethodHead, base, h.admin, nil).want(t, http.StatusOK); c.header.Get("Total-Count") != "2" || len(c.body) != 0 {
		t.Fatalf("HEAD count %v %q", c.header, c.body)
	}

	r = h.do(http.MethodGet, base+"/2", h.admin, nil).want(t, http.StatusOK)
	if _, ok := jsonMap(t, r)["Secret"]; ok {
		t.Fatal("get returned a value")
	}
	h.do(http.MethodHead, base+"/2", h.admin, nil).want(t, http.StatusOK)
	got := decode[secretBody](t, h.do(http.MethodPut, base+"/2", h.admin, map[string]any{"Description": "renamed"}).want(t, http.StatusOK))
	if got.Description != "renamed" || !got.Expires || got.Expiration.Format(time.RFC3339) != exp || got.Secret != "" {
		t.Fatalf("update %+v", got)
	}

	h.do(http.MethodDelete, base+"/1", h.admin, nil).want(t, http.StatusNoContent)
	if h.e.CheckSecret(h.tenant, cr.Client.ID, cr.Secret) {
		t.Error("a deleted secret still authenticates")
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete} {
		h.do(m, base+"/1", h.admin, map[string]any{"Description": "x"}).want(t, http.StatusNotFound)
	}
	// Ids are never reused.
	third := decode[secretBody](t, h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": false}).want(t, http.StatusCreated))
	if third.ID != 3 || third.Expires || third.Expiration != nil {
		t.Fatalf("third %+v", third)
	}
	h.do(http.MethodDelete, base+"/3", h.admin, nil).want(t, http.StatusNoContent)
	if next := decode[secretBody](t, h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": false})); next.ID != 4 {
		t.Fatalf("id after deleting the newest is %d, want 4", next.ID)
	}
	if ids := h.e.SecretIDs(h.tenant, cr.Client.ID); !slices.Equal(ids, []int{2, 4}) {
		t.Fatalf("SecretIDs %v", ids)
	}
	if ids := h.e.Clients(h.tenant)[0].SecretIDs; !slices.Equal(ids, []int{2, 4}) {
		t.Fatalf("ClientInfo.SecretIDs %v", ids)
	}
}

func TestSecretsNotFound(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.create(newClient("web", nil)).Client.ID
	for _, p := range []string{
		"/HybridClients/" + newGUID() + "/Secrets",
		"/HybridClients/" + newGUID() + "/Secrets/1",
		"/HybridClients/" + c + "/Secrets/2",
		"/HybridClients/" + c + "/Secrets/0",
		"/HybridClients/" + c + "/Secrets/x",
		"/ClientCredentialClients/" + c + "/Secrets", // a hybrid id is not a client-credential client
	} {
		errorBody(t, h.do(http.MethodGet, h.api(p), h.admin, nil).want(t, http.StatusNotFound))
	}
}

func TestSecretExpiresRulesOnAdd(t *testing.T) {
	exp := "2027-01-01T00:00:00Z"
	tests := []struct {
		name    string
		body    any
		status  int
		expires bool
	}{
		{"both null", map[string]any{}, 400, false},
		{"true, no expiration", map[string]any{"Expires": true}, 400, false},
		{"false with expiration", map[string]any{"Expires": false, "Expiration": exp}, 400, false},
		{"false, no expiration", map[string]any{"Expires": false, "Expiration": nil}, 201, false},
		{"true with expiration", map[string]any{"Expires": true, "Expiration": exp}, 201, true},
		{"null with expiration", map[string]any{"Expiration": exp}, 201, true},
		{"offset accepted", map[string]any{"Expiration": "2027-01-01T09:00:00+09:00"}, 201, true},
		{"miscased properties are unknown", map[string]any{"expires": false}, 400, false},
		{"malformed", `{"Expires":`, 400, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			c := h.create(newClient("web", nil)).Client.ID
			r := h.do(http.MethodPost, h.api("/HybridClients/"+c+"/Secrets"), h.admin, tc.body).want(t, tc.status)
			if tc.status != 201 {
				errorBody(t, r)
				return
			}
			s := decode[secretBody](t, r)
			if s.Expires != tc.expires || (s.Expiration != nil) != tc.expires || (tc.expires && s.Expiration.UTC().Format(time.RFC3339) != exp) {
				t.Fatalf("secret %+v", s)
			}
		})
	}
}

func TestSecretExpiresRulesOnUpdate(t *testing.T) {
	exp, later := "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"
	tests := []struct {
		name     string
		start    map[string]any // add body
		update   any
		status   int
		wantExp  string // "" means never expires
		wantDesc string
	}{
		{"expiring, nothing", map[string]any{"Expiration": exp}, map[string]any{}, 200, exp, "d"},
		{"expiring, nulls", map[string]any{"Expiration": exp}, map[string]any{"Expires": nil, "Expiration": nil, "Description": nil}, 200, exp, "d"},
		{"expiring, new date", map[string]any{"Expiration": exp}, map[string]any{"Expiration": later}, 200, later, "d"},
		{"expiring, true keeps date", map[string]any{"Expiration": exp}, map[string]any{"Expires": true}, 200, exp, "d"},
		{"expiring, false makes permanent", map[string]any{"Expiration": exp}, map[string]any{"Expires": false}, 200, "", "d"},
		{"false with expiration", map[string]any{"Expiration": exp}, map[string]any{"Expires": false, "Expiration": later}, 400, exp, "d"},
		{"never, true without date", map[string]any{"Expires": false}, map[string]any{"Expires": true}, 400, "", "d"},
		{"never, date", map[string]any{"Expires": false}, map[string]any{"Expires": true, "Expiration": later}, 200, later, "d"},
		{"never, description", map[string]any{"Expires": false}, map[string]any{"Description": "new"}, 200, "", "new"},
		{"malformed", map[string]any{"Expires": false}, `[1]`, 400, "", "d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			c := h.create(newClient("web", nil)).Client.ID
			base := h.api("/HybridClients/" + c + "/Secrets")
			tc.start["Description"] = "d"
			h.do(http.MethodPost, base, h.admin, tc.start).want(t, http.StatusCreated)
			r := h.do(http.MethodPut, base+"/2", h.admin, tc.update).want(t, tc.status)
			if tc.status != 200 {
				errorBody(t, r)
			}
			s := decode[secretBody](t, h.do(http.MethodGet, base+"/2", h.admin, nil))
			gotExp := ""
			if s.Expiration != nil {
				gotExp = s.Expiration.Format(time.RFC3339)
			}
			if gotExp != tc.wantExp || s.Expires != (tc.wantExp != "") || s.Description != tc.wantDesc {
				t.Fatalf("secret %+v, want expiration %q description %q", s, tc.wantExp, tc.wantDesc)
			}
		})
	}
}

func TestSecretLimit(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.create(newClient("web", nil)).Client.ID
	base := h.api("/HybridClients/" + c + "/Secrets")
	for range 9 {
		h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": false}).want(t, http.StatusCreated)
	}
	errorBody(t, h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": false}).want(t, http.StatusBadRequest))
	h.do(http.MethodDelete, base+"/5", h.admin, nil).want(t, http.StatusNoContent)
	if s := decode[secretBody](t, h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": false}).want(t, http.StatusCreated)); s.ID != 11 {
		t.Fatalf("id %d, want 11", s.ID)
	}
}

func TestCheckSecret(t *testing.T) {
	h := newHarness(t, Options{})
	cr := h.create(newClient("web", map[string]any{"SecretExpirationDate": h.clock.Now().Add(time.Hour)}))
	id := cr.Client.ID
	if !h.e.CheckSecret(h.tenant, id, cr.Secret) || !h.e.CheckSecret(strings.ToUpper(h.tenant), strings.ToUpper(id), cr.Secret) {
		t.Fatal("a fresh secret does not authenticate")
	}
	for name, ok := range map[string]bool{
		"wrong value":    h.e.CheckSecret(h.tenant, id, cr.Secret+"x"),
		"empty value":    h.e.CheckSecret(h.tenant, id, ""),
		"unknown client": h.e.CheckSecret(h.tenant, newGUID(), cr.Secret),
		"unknown tenant": h.e.CheckSecret(newGUID(), id, cr.Secret),
	} {
		if ok {
			t.Errorf("%s authenticates", name)
		}
	}
	h.clock.Add(time.Hour)
	if h.e.CheckSecret(h.tenant, id, cr.Secret) {
		t.Error("an expired secret authenticates")
	}
}

func TestSecretValuesAreOnlyHashed(t *testing.T) {
	h := newHarness(t, Options{})
	cr := h.create(newClient("web", nil))
	_, ccSecret := h.e.AddIdentity(h.tenant, RoleAdmin)
	h.e.mu.Lock()
	state := fmt.Sprintf("%+v", h.e.tenants[key(h.tenant)].clients[key(cr.Client.ID)].secrets[0])
	for _, c := range h.e.tenants[key(h.tenant)].cc {
		state += fmt.Sprintf("%+v", c.secrets[0])
	}
	h.e.mu.Unlock()
	if strings.Contains(state, cr.Secret) || strings.Contains(state, ccSecret) {
		t.Fatal("a secret value is stored in clear")
	}
}

func TestClientCredentialSecrets(t *testing.T) {
	h := newHarness(t, Options{})
	id, first := h.e.AddIdentity(h.tenant, RoleAdmin)
	base := h.api("/ClientCredentialClients/" + id + "/Secrets")
	got := decode[[]secretBody](t, h.do(http.MethodGet, base, h.admin, nil).want(t, http.StatusOK))
	if len(got) != 1 || got[0].ID != 1 || got[0].Expires {
		t.Fatalf("initial secrets %+v", got)
	}
	h.do(http.MethodGet, base, h.member, nil).want(t, http.StatusForbidden)
	h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": true}).want(t, http.StatusBadRequest)
	second := decode[secretBody](t, h.do(http.MethodPost, base, h.admin, map[string]any{"Expires": false}).want(t, http.StatusCreated))
	h.do(http.MethodDelete, base+"/1", h.admin, nil).want(t, http.StatusNoContent)

	token := func(secret string) int {
		status, _ := h.postToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, nil)
		return status
	}
	if token(first) != http.StatusBadRequest || token(second.Secret) != http.StatusOK {
		t.Fatal("the token endpoint does not follow the identity's secrets")
	}
	if !slices.Equal(h.e.SecretIDs(h.tenant, id), []int{2}) {
		t.Fatalf("SecretIDs %v", h.e.SecretIDs(h.tenant, id))
	}
	h.do(http.MethodGet, h.api("/HybridClients/"+id), h.admin, nil).want(t, http.StatusNotFound)
}
