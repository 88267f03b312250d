package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func uris(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://app.example.com/cb%d", i)
	}
	return out
}

func TestClientLifecycle(t *testing.T) {
	h := newHarness(t, Options{})
	id := newGUID()
	exp := time.Date(2027, 11, 25, 19, 0, 0, 0, time.UTC)
	body := map[string]any{
		"Id": id, "Name": "web", "Enabled": false, "AccessTokenLifetime": 600,
		"Tags": []string{"a", "b"}, "RedirectUris": uris(2), "PostLogoutRedirectUris": uris(1),
		"ClientUri": "https://app.example.com", "LogoUri": "https://app.example.com/logo.png",
		"AllowOfflineAccess": true, "AllowAccessTokensViaBrowser": true,
		"SecretDescription": "first", "SecretExpirationDate": "2027-11-25T20:00:00+01:00",
	}
	r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin, body).want(t, http.StatusCreated)
	raw := jsonMap(t, r)
	for _, k := range []string{"Secret", "Id", "Description", "ExpirationDate", "Client"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("create response lacks %s: %s", k, r.body)
		}
	}
	if got := string(raw["ExpirationDate"]); got != `"2027-11-25T19:00:00Z"` {
		t.Errorf("ExpirationDate %s, want UTC RFC 3339", got)
	}
	cr := decode[createdBody](t, r)
	want := clientOut{
		ID: id, Name: "web", Enabled: false, AccessTokenLifetime: 600, Tags: []string{"a", "b"},
		RedirectUris: uris(2), PostLogoutRedirectUris: uris(1),
		ClientURI: ptr("https://app.example.com"), LogoURI: ptr("https://app.example.com/logo.png"),
		AllowOfflineAccess: true, AllowAccessTokensViaBrowser: true,
	}
	if !sameClient(cr.Client, want) || cr.ID != 1 || cr.Description != "first" || !cr.ExpirationDate.Equal(exp) || len(cr.Secret) < 43 {
		t.Fatalf("create response %+v", cr)
	}
	if !h.e.CheckSecret(h.tenant, id, cr.Secret) {
		t.Error("the returned secret does not authenticate")
	}

	path := h.api("/HybridClients/" + id)
	got := decode[clientOut](t, h.do(http.MethodGet, path, h.member, nil).want(t, http.StatusOK))
	if !sameClient(got, want) {
		t.Fatalf("get %+v, want %+v", got, want)
	}
	if r := h.do(http.MethodHead, path, h.member, nil).want(t, http.StatusOK); len(r.body) != 0 {
		t.Error("HEAD exists answered a body")
	}
	h.do(http.MethodDelete, path, h.admin, nil).want(t, http.StatusNoContent)
	errorBody(t, h.do(http.MethodGet, path, h.admin, nil).want(t, http.StatusNotFound))
	h.do(http.MethodHead, path, h.admin, nil).want(t, http.StatusNotFound)
	h.do(http.MethodDelete, path, h.admin, nil).want(t, http.StatusNotFound)
	h.do(http.MethodPut, path, h.admin, map[string]any{"Name": "x"}).want(t, http.StatusNotFound)
	if h.e.CheckSecret(h.tenant, id, cr.Secret) || h.e.SecretIDs(h.tenant, id) != nil {
		t.Error("a deleted client's secret still authenticates")
	}
}

func ptr[T any](v T) *T { return &v }

func sameClient(a, b clientOut) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestCreateDefaults(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("min", nil)).want(t, http.StatusCreated)
	if got := string(jsonMap(t, r)["ExpirationDate"]); got != "null" {
		t.Errorf("ExpirationDate %s, want null for a never-expiring first secret", got)
	}
	c := decode[createdBody](t, r).Client
	if !isGUID(c.ID) || !c.Enabled || c.AccessTokenLifetime != 3600 || c.AllowOfflineAccess || c.Tags == nil || c.PostLogoutRedirectUris == nil {
		t.Fatalf("defaults %+v", c)
	}
	// An explicit null is the same as absent.
	r = h.do(http.MethodPost, h.api("/HybridClients"), h.admin,
		newClient("nulls", map[string]any{"Id": nil, "Enabled": nil, "AccessTokenLifetime": nil, "SecretExpirationDate": nil})).want(t, http.StatusCreated)
	if c := decode[createdBody](t, r).Client; !isGUID(c.ID) || !c.Enabled || c.AccessTokenLifetime != 3600 {
		t.Fatalf("nulls %+v", c)
	}
}

func TestCreateValidation(t *testing.T) {
	tests := []struct {
		name   string
		body   any
		status int
	}{
		{"no redirect", map[string]any{"Name": "a"}, 400},
		{"null redirect", map[string]any{"Name": "a", "RedirectUris": nil}, 400},
		{"0 redirects", newClient("a", map[string]any{"RedirectUris": []string{}}), 400},
		{"10 redirects", newClient("a", map[string]any{"RedirectUris": uris(10)}), 201},
		{"11 redirects", newClient("a", map[string]any{"RedirectUris": uris(11)}), 400},
		{"10 post-logout", newClient("a", map[string]any{"PostLogoutRedirectUris": uris(10)}), 201},
		{"11 post-logout", newClient("a", map[string]any{"PostLogoutRedirectUris": uris(11)}), 400},
		{"lifetime 59", newClient("a", map[string]any{"AccessTokenLifetime": 59}), 400},
		{"lifetime 60", newClient("a", map[string]any{"AccessTokenLifetime": 60}), 201},
		{"lifetime 3600", newClient("a", map[string]any{"AccessTokenLifetime": 3600}), 201},
		{"lifetime 3601", newClient("a", map[string]any{"AccessTokenLifetime": 3601}), 400},
		{"lifetime not int", newClient("a", map[string]any{"AccessTokenLifetime": 60.5}), 400},
		{"bad GUID", newClient("a", map[string]any{"Id": "my-client"}), 400},
		{"upper GUID", newClient("a", map[string]any{"Id": strings.ToUpper(newGUID())}), 201},
		{"no name", map[string]any{"RedirectUris": uris(1)}, 400},
		{"blank name", newClient(" ", nil), 400},
		{"miscased property is unknown", map[string]any{"Name": "a", "redirectUris": uris(1)}, 400},
		{"unknown property ignored", newClient("a", map[string]any{"Colour": "blue"}), 201},
		{"past secret expiry accepted", newClient("a", map[string]any{"SecretExpirationDate": "2001-01-01T00:00:00Z"}), 201},
		{"not RFC 3339", newClient("a", map[string]any{"SecretExpirationDate": "2027-11-25"}), 400},
		{"malformed JSON", `{"Name":`, 400},
		{"array body", `[]`, 400},
		{"null body", `null`, 400},
		{"empty body", ``, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin, tc.body).want(t, tc.status)
			if tc.status == 400 {
				errorBody(t, r)
				if n := len(h.e.Clients(h.tenant)); n != 0 {
					t.Errorf("a refused create left %d clients", n)
				}
			}
		})
	}
}

func TestCreateNeedsJSONContentType(t *testing.T) {
	h := newHarness(t, Options{})
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+h.api("/HybridClients"), strings.NewReader(`{"Name":"a","RedirectUris":["https://x"]}`))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	req.Header.Set("Content-Type", "text/plain")
	res, err := h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status %d, want 415", res.StatusCode)
	}
}

func TestCreateReportsEveryProblem(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin,
		map[string]any{"Id": "x", "AccessTokenLifetime": 1}).want(t, http.StatusBadRequest)
	reason := errorBody(t, r).Reason
	for _, s := range []string{"Id", "Name", "RedirectUris", "AccessTokenLifetime"} {
		if !strings.Contains(reason, s) {
			t.Errorf("reason %q does not name %s", reason, s)
		}
	}
}

func TestCreateConflict(t *testing.T) {
	h := newHarness(t, Options{})
	id := newGUID()
	h.create(newClient("a", map[string]any{"Id": id}))
	for _, dup := range []string{id, strings.ToUpper(id)} {
		errorBody(t, h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("b", map[string]any{"Id": dup})).want(t, http.StatusConflict))
	}
	cc, _ := h.e.AddIdentity(h.tenant, RoleAdmin)
	h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("c", map[string]any{"Id": cc})).want(t, http.StatusConflict)
	if n := len(h.e.Clients(h.tenant)); n != 1 {
		t.Fatalf("%d clients, want 1", n)
	}
}

func TestClientCap(t *testing.T) {
	h := newHarness(t, Options{MaxClients: 3})
	h.e.AddIdentity(h.tenant, RoleAdmin) // client-credential clients count too
	h.create(newClient("a", nil))
	h.create(newClient("b", nil))
	errorBody(t, h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("c", nil)).want(t, http.StatusBadRequest))
	if err := h.e.SeedClients(h.tenant, 1); err == nil {
		t.Error("SeedClients passed the cap")
	}
	h.do(http.MethodDelete, h.api("/HybridClients/"+h.e.Clients(h.tenant)[0].ID), h.admin, nil).want(t, http.StatusNoContent)
	h.create(newClient("c", nil))
}

func TestPartialUpdate(t *testing.T) {
	h := newHarness(t, Options{})
	orig := h.create(newClient("web", map[string]any{
		"Tags": []string{"t"}, "PostLogoutRedirectUris": uris(1), "AccessTokenLifetime": 900,
		"ClientUri": "https://c", "AllowOfflineAccess": true,
	})).Client
	path := h.api("/HybridClients/" + orig.ID)

	// Absent and null properties leave everything unchanged.
	for _, body := range []any{
		map[string]any{},
		map[string]any{"Name": nil, "Enabled": nil, "AccessTokenLifetime": nil, "Tags": nil, "RedirectUris": nil,
			"PostLogoutRedirectUris": nil, "ClientUri": nil, "LogoUri": nil, "AllowOfflineAccess": nil, "AllowAccessTokensViaBrowser": nil},
		map[string]any{"Id": orig.ID},
	} {
		got := decode[clientOut](t, h.do(http.MethodPut, path, h.admin, body).want(t, http.StatusOK))
		if !sameClient(got, orig) {
			t.Fatalf("update %v changed the client: %+v", body, got)
		}
	}

	// Present properties change, others stay.
	got := decode[clientOut](t, h.do(http.MethodPut, path, h.admin, map[string]any{
		"Name": "renamed", "Tags": []string{}, "AllowOfflineAccess": false, "Enabled": false,
	}).want(t, http.StatusOK))
	want := orig
	want.Name, want.Tags, want.AllowOfflineAccess, want.Enabled = "renamed", []string{}, false, false
	if !sameClient(got, want) {
		t.Fatalf("update gave %+v, want %+v", got, want)
	}

	for name, body := range map[string]any{
		"0 redirects":   map[string]any{"RedirectUris": []string{}},
		"11 redirects":  map[string]any{"RedirectUris": uris(11)},
		"11 logout":     map[string]any{"PostLogoutRedirectUris": uris(11)},
		"lifetime 59":   map[string]any{"AccessTokenLifetime": 59},
		"lifetime 3601": map[string]any{"AccessTokenLifetime": 3601},
		"empty name":    map[string]any{"Name": ""},
		"other id":      map[string]any{"Id": newGUID()},
		"malformed":     `{`,
	} {
		errorBody(t, h.do(http.MethodPut, path, h.admin, body).want(t, http.StatusBadRequest))
		after := decode[clientOut](t, h.do(http.MethodGet, path, h.admin, nil))
		if !sameClient(after, want) {
			t.Fatalf("refused update %s changed the client", name)
		}
	}
}

func TestList(t *testing.T) {
	h := newHarness(t, Options{})
	var ids []string
	for i, tags := range [][]string{{"red"}, {"blue"}, {"red", "blue"}, nil, {"green"}} {
		ids = append(ids, h.create(newClient(fmt.Sprint("c", i), map[string]any{"Tags": tags})).Client.ID)
	}
	list := h.api("/HybridClients")
	tests := []struct {
		name  string
		query string
		want  []string // ids in order
		total int
	}{
		{"all", "", ids, 5},
		{"page", "?skip=1&count=2", ids[1:3], 5},
		{"page keys any case", "?Skip=1&COUNT=2", ids[1:3], 5},
		{"skip past end", "?skip=9", nil, 5},
		{"count past end", "?skip=3&count=100", ids[3:], 5},
		{"tag", "?tag=red", []string{ids[0], ids[2]}, 2},
		{"tags are any-of", "?tag=red&tag=green", []string{ids[0], ids[2], ids[4]}, 3},
		{"tag page", "?tag=red&tag=blue&skip=1&count=1", []string{ids[1]}, 3},
		{"unknown tag", "?tag=nope", nil, 0},
		{"ids in creation order, skip/count ignored", "?id=" + ids[3] + "&id=&id=" + ids[1] + "&id=" + newGUID() + "&skip=4&count=1", []string{ids[1], ids[3]}, 2},
		{"ids and tag", "?id=" + ids[0] + "&id=" + ids[1] + "&tag=blue", []string{ids[1]}, 1},
		{"blank id ignored", "?id=&id=%20", ids, 5},
		{"query ignored", "?query=name:c1", ids, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(http.MethodGet, list+tc.query, h.member, nil).want(t, http.StatusOK)
			var got []string
			for _, c := range decode[[]clientOut](t, r) {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tc.want) || r.header.Get("Total-Count") != strconv.Itoa(tc.total) {
				t.Fatalf("got %v Total-Count %s, want %v %d", got, r.header.Get("Total-Count"), tc.want, tc.total)
			}
			if tc.want == nil && strings.TrimSpace(string(r.body)) != "[]" {
				t.Fatalf("empty page is %s, want []", r.body)
			}
			c := h.do(http.MethodHead, list+tc.query, h.member, nil).want(t, http.StatusOK)
			if len(c.body) != 0 || c.header.Get("Total-Count") != strconv.Itoa(tc.total) {
				t.Fatalf("HEAD count: Total-Count %s body %q", c.header.Get("Total-Count"), c.body)
			}
		})
	}
	for _, q := range []string{"?skip=-1", "?count=0", "?count=abc", "?skip=1.5"} {
		errorBody(t, h.do(http.MethodGet, list+q, h.member, nil).want(t, http.StatusBadRequest))
	}
	if got := h.e.Clients(h.tenant); len(got) != 5 || got[4].ID != ids[4] || got[2].Tags[1] != "blue" {
		t.Fatalf("Clients snapshot %+v", got)
	}
}

// TestRedirectURIsThatRunInTheBrowserOrHoldUserInfoAreAnswered400: the emulator answers 400 with an
// ErrorResponse for redirect URIs with a scheme that runs or reads something in the
// browser, http(s) URLs without a host, relative URIs and user info, on create and on
// update, in both lists; plain http is accepted. (Native apps' private-use schemes are
// accepted: TestRedirectURIsOfNativeAppsAreAccepted.)
func TestRedirectURIsThatRunInTheBrowserOrHoldUserInfoAreAnswered400(t *testing.T) {
	h := newHarness(t, Options{})
	bad := []string{
		"javascript:alert(document.cookie)",
		"data:text/html;base64,PHNjcmlwdD4=",
		"file:///etc/passwd",
		"https://user:pw@app.example.com/cb",
		"https://user@app.example.com/cb",
		"https:///cb",
		"/relative/cb",
	}
	existing := h.create(newClient("existing", nil)).Client.ID
	path := h.api("/HybridClients/" + existing)
	for _, u := range bad {
		for _, field := range []string{"RedirectUris", "PostLogoutRedirectUris"} {
			r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("bad", map[string]any{field: []string{u}}))
			e := errorBody(t, r.want(t, http.StatusBadRequest))
			if !strings.Contains(e.Reason+e.Error, field+"[0]") {
				t.Errorf("create with %s %q: error %+v does not name %s[0]", field, u, e, field)
			}
			r = h.do(http.MethodPut, path, h.admin, map[string]any{field: []string{"https://ok.example.com/cb", u}})
			e = errorBody(t, r.want(t, http.StatusBadRequest))
			if !strings.Contains(e.Reason+e.Error, field+"[1]") {
				t.Errorf("update with %s %q: error %+v does not name %s[1]", field, u, e, field)
			}
		}
	}
	if n := len(h.e.SecretIDs(h.tenant, existing)); n != 1 {
		t.Errorf("existing client has %d secrets, want 1", n)
	}
	got := decode[clientOut](t, h.do(http.MethodGet, path, h.admin, nil).want(t, http.StatusOK))
	if !slices.Equal(got.RedirectUris, []string{"https://app.example.com/callback"}) || len(got.PostLogoutRedirectUris) != 0 {
		t.Errorf("a refused update changed the client: %+v", got)
	}
	// Accepted: https anywhere, http on loopback and, for development, on any host.
	good := []string{"https://app.example.com/cb?x=1", "http://localhost:5000/signin-oidc", "http://127.0.0.1:8080/cb", "http://dev.internal.example/cb"}
	h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("good", map[string]any{"RedirectUris": good, "PostLogoutRedirectUris": good})).want(t, http.StatusCreated)
	h.do(http.MethodPut, path, h.admin, map[string]any{"RedirectUris": good}).want(t, http.StatusOK)
}
