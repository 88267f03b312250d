package integration

import (
	"cmp"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/validate"
	"github.com/ocs-go/identity/secrets"
)

func TestCreateEverySetting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)

	req := hybridclients.CreateRequest{
		Name:                        "Billing portal",
		AllowRefreshTokens:          true,
		RedirectURIs:                []string{"https://billing.example.com/signin", "https://billing.example.com/signin2"},
		PostLogoutRedirectURIs:      []string{"https://billing.example.com/"},
		AccessTokenLifetime:         30 * time.Minute,
		Tags:                        []string{"prod", "billing"},
		ClientURI:                   "https://billing.example.com",
		LogoURI:                     "https://billing.example.com/logo.png",
		AllowAccessTokensViaBrowser: true,
		SecretDescription:           "billing web app",
		SecretExpiry:                secrets.ExpiresIn(48 * time.Hour),
	}
	before := time.Now()
	created, err := e.clients.Create(ctx, req)
	after := time.Now()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	id := created.Client.ID
	if err := validate.GUID("ID", id); err != nil {
		t.Errorf("generated client id: %v", err)
	}
	want := hybridclients.HybridClient{
		ID: id, Name: req.Name, Enabled: true, AccessTokenLifetime: 30 * time.Minute,
		Tags: req.Tags, RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		ClientURI: req.ClientURI, LogoURI: req.LogoURI, AllowRefreshTokens: true, AllowAccessTokensViaBrowser: true,
	}
	if d := diffClient(created.Client, want); d != "" {
		t.Errorf("Create returned client: %s", d)
	}

	// The one-time value authenticates that client, and only the exact value does.
	if !e.srv.CheckSecret(id, created.Secret.Value) {
		t.Error("CheckSecret(created value) = false, want true")
	}
	if e.srv.CheckSecret(id, identity.NewSecret(created.Secret.Value.Reveal()+"x")) {
		t.Error("CheckSecret(altered value) = true, want false")
	}
	if created.Secret.Description != "billing web app" {
		t.Errorf("secret description %q", created.Secret.Description)
	}
	expiryMarked(t, "created secret", created.Secret.Expiry, before.Add(48*time.Hour), after.Add(48*time.Hour))

	// The fake's own view matches what was asked.
	fv := fakeView(t, e.srv, id)
	if d := diffFake(fv, want); d != "" {
		t.Errorf("fake's view: %s", d)
	}
	if !slices.Equal(fv.SecretIDs, []int{created.Secret.ID}) {
		t.Errorf("fake's secret ids %v, want [%d]", fv.SecretIDs, created.Secret.ID)
	}

	// Get reads back the same.
	got, err := e.clients.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if d := diffClient(*got, want); d != "" {
		t.Errorf("Get: %s", d)
	}
	// And so does the secret's metadata.
	m, err := e.clients.Secrets().Get(ctx, id, created.Secret.ID)
	if err != nil {
		t.Fatalf("Secrets().Get: %v", err)
	}
	if m.Description != "billing web app" {
		t.Errorf("secret metadata description %q", m.Description)
	}
	expiryMarked(t, "secret metadata", m.Expiry, before.Add(48*time.Hour), after.Add(48*time.Hour))
}

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)

	before := time.Now()
	created := create(t, ctx, e.clients, "minimal")
	after := time.Now()
	want := hybridclients.HybridClient{
		ID: created.Client.ID, Name: "minimal", Enabled: true, AccessTokenLifetime: time.Hour,
		RedirectURIs: []string{"https://minimal.example.com/callback"},
	}
	if d := diffClient(created.Client, want); d != "" {
		t.Errorf("defaults: %s", d)
	}
	if d := diffFake(fakeView(t, e.srv, created.Client.ID), want); d != "" {
		t.Errorf("fake's view of defaults: %s", d)
	}
	// The first secret expires one year later by default, as in the portal.
	expiryMarked(t, "default secret expiry", created.Secret.Expiry, before.AddDate(1, 0, 0), after.AddDate(1, 0, 0))
	if !e.srv.CheckSecret(created.Client.ID, created.Secret.Value) {
		t.Error("default client's secret does not authenticate")
	}

	// Disabled, a caller-given id and a never-expiring secret are honoured.
	id := uuid.NewString()
	c2, err := e.clients.Create(ctx, hybridclients.CreateRequest{
		ID: id, Name: "disabled", Enabled: identity.Ptr(false), RedirectURIs: []string{"https://disabled.example.com/callback"},
		SecretExpiry: secrets.NeverExpires(),
	})
	if err != nil {
		t.Fatalf("Create(disabled): %v", err)
	}
	if c2.Client.ID != id {
		t.Errorf("client id %q, want the caller's %q", c2.Client.ID, id)
	}
	if fv := fakeView(t, e.srv, id); fv.Enabled {
		t.Error("fake: disabled client is enabled")
	}
	if !c2.Secret.Expiry.Never() {
		t.Errorf("secret expiry %v, want never", c2.Secret.Expiry)
	}
	m, err := e.clients.Secrets().Get(ctx, id, c2.Secret.ID)
	if err != nil {
		t.Fatalf("Secrets().Get: %v", err)
	}
	if !m.Expiry.Never() {
		t.Errorf("service's secret expiry %v, want never", m.Expiry)
	}
}

func TestCreateInvalidSendsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	_, err := e.clients.Create(ctx, hybridclients.CreateRequest{Name: " ", AccessTokenLifetime: time.Second})
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("Create(invalid) = %v, want ErrInvalidInput", err)
	}
	var ve *identity.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("error %v is not a *ValidationError", err)
	}
	if n := requests(e.srv, hybridclientstest.OpCreateClient); n != 0 {
		t.Errorf("%d create requests sent, want 0", n)
	}
	if st := e.srv.Stats(); st.TokenRequests != 0 {
		t.Errorf("%d token requests, want 0: an invalid request must not sign in", st.TokenRequests)
	}
}

func TestGetExistsDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	keep := create(t, ctx, e.clients, "keep")
	gone := create(t, ctx, e.clients, "gone")

	ok, err := e.clients.Exists(ctx, gone.Client.ID)
	if err != nil || !ok {
		t.Fatalf("Exists(before delete) = %v, %v; want true, nil", ok, err)
	}
	if err := e.clients.Delete(ctx, gone.Client.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	ok, err = e.clients.Exists(ctx, gone.Client.ID)
	if err != nil || ok {
		t.Errorf("Exists(after delete) = %v, %v; want false, nil", ok, err)
	}
	if _, err := e.clients.Get(ctx, gone.Client.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	var ae *identity.Error
	if _, err := e.clients.Get(ctx, gone.Client.ID); !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("Get(deleted) error %v is not an *identity.Error with status 404", err)
	}
	// Its secrets went with it.
	if e.srv.CheckSecret(gone.Client.ID, gone.Secret.Value) {
		t.Error("the deleted client's secret still authenticates")
	}
	if ids := e.srv.SecretIDs(gone.Client.ID); ids != nil {
		t.Errorf("the deleted client still has secrets %v", ids)
	}
	if _, err := e.clients.Secrets().List(ctx, gone.Client.ID, secrets.ListOptions{}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Secrets().List(deleted client) = %v, want ErrNotFound", err)
	}
	// A second delete is a 404 (no retry happened, so it is not swallowed).
	if err := e.clients.Delete(ctx, gone.Client.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Delete(deleted) = %v, want ErrNotFound", err)
	}
	// The other client is untouched.
	if ok, err := e.clients.Exists(ctx, keep.Client.ID); err != nil || !ok {
		t.Errorf("Exists(other) = %v, %v", ok, err)
	}
	if !e.srv.CheckSecret(keep.Client.ID, keep.Secret.Value) {
		t.Error("the other client's secret no longer authenticates")
	}
	if got := fakeIDs(e.srv); !slices.Equal(got, []string{keep.Client.ID}) {
		t.Errorf("fake's clients %v, want only %s", got, keep.Client.ID)
	}
	// A client that never existed.
	if ok, err := e.clients.Exists(ctx, uuid.NewString()); err != nil || ok {
		t.Errorf("Exists(unknown) = %v, %v; want false, nil", ok, err)
	}
}

func TestListPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	if err := e.srv.SeedClients(30); err != nil {
		t.Fatal(err)
	}
	all := fakeIDs(e.srv)

	for _, tc := range []struct {
		opts hybridclients.ListOptions
		want []string
	}{
		{hybridclients.ListOptions{}, all},
		{hybridclients.ListOptions{Skip: 10, PageSize: 5}, all[10:15]},
		{hybridclients.ListOptions{Skip: 28, PageSize: 5}, all[28:]},
		{hybridclients.ListOptions{Skip: 30, PageSize: 5}, nil},
		{hybridclients.ListOptions{PageSize: 1}, all[:1]},
	} {
		p, err := e.clients.List(ctx, tc.opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", tc.opts, err)
		}
		var got []string
		for _, c := range p.Clients {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%+v) ids %v, want %v", tc.opts, got, tc.want)
		}
		if p.Total != 30 {
			t.Errorf("List(%+v).Total = %d, want 30", tc.opts, p.Total)
		}
	}
	p, err := e.clients.List(ctx, hybridclients.ListOptions{Skip: 3, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Clients) != 1 || p.Clients[0].Name != "seed-000004" || !p.Clients[0].Enabled ||
		!slices.Equal(p.Clients[0].RedirectURIs, []string{"https://localhost/callback"}) {
		t.Errorf("List decoded %+v", p.Clients)
	}
	if _, err := e.clients.List(ctx, hybridclients.ListOptions{PageSize: -1}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("List(Count -1) = %v, want ErrInvalidInput", err)
	}
}

func TestAllSeveralPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		seed      int
		opts      hybridclients.ListOptions
		from      int // index of the first client expected
		wantPages int
	}{
		{"Count100", 250, hybridclients.ListOptions{PageSize: 100}, 0, 3},
		{"DefaultCount", 250, hybridclients.ListOptions{}, 0, 3},
		{"Count7", 250, hybridclients.ListOptions{PageSize: 7}, 0, 36},
		// Exact multiple: the Total ends the loop, with no extra empty page.
		{"Count7Exact", 21, hybridclients.ListOptions{PageSize: 7}, 0, 3},
		{"Skip240Count7", 250, hybridclients.ListOptions{Skip: 240, PageSize: 7}, 240, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			ctx := testCtx(t)
			if err := e.srv.SeedClients(tc.seed); err != nil {
				t.Fatal(err)
			}
			want := fakeIDs(e.srv)[tc.from:]
			got := collectClients(t, ctx, e.clients, tc.opts)
			if len(got) != len(want) || !distinct(got) {
				t.Errorf("All yielded %d ids (distinct: %v), want %d distinct", len(got), distinct(got), len(want))
			}
			if !slices.Equal(got, want) {
				t.Error("All did not yield the clients in the service's order")
			}
			if n := requests(e.srv, hybridclientstest.OpListClients); n != tc.wantPages {
				t.Errorf("All made %d list requests, want %d", n, tc.wantPages)
			}
		})
	}
}

func TestAllStopsEarly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	if err := e.srv.SeedClients(50); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range e.clients.All(ctx, hybridclients.ListOptions{PageSize: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 15 {
			break
		}
	}
	if got := requests(e.srv, hybridclientstest.OpListClients); got != 2 {
		t.Errorf("breaking after 15 of pages of 10 made %d list requests, want 2", got)
	}
}

func TestAllAndCountFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	if err := e.srv.SeedClients(250); err != nil {
		t.Fatal(err)
	}
	all := fakeIDs(e.srv)

	// Tag 13 clients blue and 3 green, with the SDK's partial update.
	var blue, green []string
	for i := 5; i < 250; i += 20 {
		blue = append(blue, all[i])
	}
	green = []string{all[7], all[100], all[249]}
	for _, id := range blue {
		if _, err := e.clients.Update(ctx, id, hybridclients.UpdateRequest{Tags: []string{"blue"}}); err != nil {
			t.Fatalf("Update(tags): %v", err)
		}
	}
	for _, id := range green {
		if _, err := e.clients.Update(ctx, id, hybridclients.UpdateRequest{Tags: []string{"green", "x"}}); err != nil {
			t.Fatalf("Update(tags): %v", err)
		}
	}
	if len(blue) != 13 {
		t.Fatalf("test set-up: %d blue", len(blue))
	}

	t.Run("Tags", func(t *testing.T) {
		before := requests(e.srv, hybridclientstest.OpListClients)
		got := collectClients(t, ctx, e.clients, hybridclients.ListOptions{Tags: []string{"blue"}, PageSize: 5})
		if !slices.Equal(got, blue) {
			t.Errorf("All(Tags blue) = %v, want %v", got, blue)
		}
		if n := requests(e.srv, hybridclientstest.OpListClients) - before; n != 3 {
			t.Errorf("All(Tags blue, Count 5) made %d list requests, want 3", n)
		}
		// Any of the tags matches.
		got = collectClients(t, ctx, e.clients, hybridclients.ListOptions{Tags: []string{"blue", "green"}, PageSize: 4})
		want := slices.DeleteFunc(slices.Clone(all), func(id string) bool {
			return !slices.Contains(blue, id) && !slices.Contains(green, id)
		})
		if !slices.Equal(got, want) {
			t.Errorf("All(Tags blue, green) = %d ids, want %d", len(got), len(want))
		}
		if got := collectClients(t, ctx, e.clients, hybridclients.ListOptions{Tags: []string{"nope"}}); len(got) != 0 {
			t.Errorf("All(Tags nope) = %v, want none", got)
		}
	})

	t.Run("IDs", func(t *testing.T) {
		ids := []string{all[200], all[3], all[120], all[249], uuid.NewString()} // the last is unknown
		before := requests(e.srv, hybridclientstest.OpListClients)
		// IDs override Skip and PageSize: one request returns every match.
		got := collectClients(t, ctx, e.clients, hybridclients.ListOptions{IDs: ids, PageSize: 2, Skip: 1})
		want := []string{all[3], all[120], all[200], all[249]}
		if !distinct(got) || len(got) != 4 || !sameElems(got, want) {
			t.Errorf("All(IDs) = %v, want the 4 known of %v", got, ids)
		}
		if n := requests(e.srv, hybridclientstest.OpListClients) - before; n != 1 {
			t.Errorf("All(IDs) made %d list requests, want 1", n)
		}
		p, err := e.clients.List(ctx, hybridclients.ListOptions{IDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 4 || len(p.Clients) != 4 {
			t.Errorf("List(IDs): %d clients, Total %d; want 4, 4", len(p.Clients), p.Total)
		}
		// IDs and Tags together: both must match.
		got = collectClients(t, ctx, e.clients, hybridclients.ListOptions{IDs: []string{all[5], all[6], all[7]}, Tags: []string{"blue"}})
		if !slices.Equal(got, []string{all[5]}) {
			t.Errorf("All(IDs, Tags) = %v, want [%s]", got, all[5])
		}
		if _, err := e.clients.List(ctx, hybridclients.ListOptions{IDs: []string{all[1], " "}}); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("List(blank id) = %v, want ErrInvalidInput (the service would list every client)", err)
		}
	})

	t.Run("Count", func(t *testing.T) {
		for _, tc := range []struct {
			opts hybridclients.CountOptions
			want int
		}{
			{hybridclients.CountOptions{}, 250},
			{hybridclients.CountOptions{Tags: []string{"blue"}}, 13},
			{hybridclients.CountOptions{Tags: []string{"green"}}, 3},
			{hybridclients.CountOptions{Tags: []string{"blue", "green"}}, 16},
			{hybridclients.CountOptions{Tags: []string{"nope"}}, 0},
			{hybridclients.CountOptions{IDs: []string{all[0], all[1], uuid.NewString()}}, 2},
			{hybridclients.CountOptions{IDs: []string{all[5], all[6]}, Tags: []string{"blue"}}, 1},
		} {
			n, err := e.clients.Count(ctx, tc.opts)
			if err != nil {
				t.Fatalf("Count(%+v): %v", tc.opts, err)
			}
			if n != tc.want {
				t.Errorf("Count(%+v) = %d, want %d", tc.opts, n, tc.want)
			}
		}
	})
}

// sameElems reports whether a and b hold the same elements, in any order.
func sameElems[T cmp.Ordered](a, b []T) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestUpdatePartial(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	created, err := e.clients.Create(ctx, hybridclients.CreateRequest{
		Name:                   "orig",
		AllowRefreshTokens:     true,
		RedirectURIs:           []string{"https://a.example.com/cb", "https://b.example.com/cb"},
		PostLogoutRedirectURIs: []string{"https://a.example.com/"},
		AccessTokenLifetime:    20 * time.Minute,
		Tags:                   []string{"t1", "t2"},
		ClientURI:              "https://a.example.com",
		LogoURI:                "https://a.example.com/logo.png",
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	id := created.Client.ID
	want := created.Client

	step := func(name string, req hybridclients.UpdateRequest, change func(*hybridclients.HybridClient)) {
		t.Helper()
		change(&want)
		got, err := e.clients.Update(ctx, id, req)
		if err != nil {
			t.Fatalf("%s: Update: %v", name, err)
		}
		if d := diffClient(*got, want); d != "" {
			t.Errorf("%s: Update returned: %s", name, d)
		}
		read, err := e.clients.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: Get: %v", name, err)
		}
		if d := diffClient(*read, want); d != "" {
			t.Errorf("%s: Get after update: %s", name, d)
		}
		if d := diffFake(fakeView(t, e.srv, id), want); d != "" {
			t.Errorf("%s: fake's view: %s", name, d)
		}
	}

	step("name only", hybridclients.UpdateRequest{Name: identity.Ptr("renamed")},
		func(c *hybridclients.HybridClient) { c.Name = "renamed" })
	step("disable", hybridclients.UpdateRequest{Enabled: identity.Ptr(false)},
		func(c *hybridclients.HybridClient) { c.Enabled = false })
	step("clear tags", hybridclients.UpdateRequest{Tags: []string{}},
		func(c *hybridclients.HybridClient) { c.Tags = nil })
	if fv := fakeView(t, e.srv, id); len(fv.Tags) != 0 {
		t.Errorf("fake still has tags %q after clearing them", fv.Tags)
	}
	step("replace redirect URIs", hybridclients.UpdateRequest{RedirectURIs: []string{"https://c.example.com/cb"}},
		func(c *hybridclients.HybridClient) { c.RedirectURIs = []string{"https://c.example.com/cb"} })
	step("clear post-logout URIs", hybridclients.UpdateRequest{PostLogoutRedirectURIs: []string{}},
		func(c *hybridclients.HybridClient) { c.PostLogoutRedirectURIs = nil })
	step("lifetime, refresh tokens off, re-enable, tags", hybridclients.UpdateRequest{
		AccessTokenLifetime: identity.Ptr(5 * time.Minute), AllowRefreshTokens: identity.Ptr(false),
		Enabled: identity.Ptr(true), Tags: []string{"t3"},
	}, func(c *hybridclients.HybridClient) {
		c.AccessTokenLifetime, c.AllowRefreshTokens, c.Enabled, c.Tags = 5*time.Minute, false, true, []string{"t3"}
	})
	step("URIs and browser flag", hybridclients.UpdateRequest{
		ClientURI: identity.Ptr("https://new.example.com"), AllowAccessTokensViaBrowser: identity.Ptr(true),
	}, func(c *hybridclients.HybridClient) {
		c.ClientURI, c.AllowAccessTokensViaBrowser = "https://new.example.com", true
	})

	// Updates never touch the client's secrets.
	if !e.srv.CheckSecret(id, created.Secret.Value) {
		t.Error("the client's secret stopped authenticating after updates")
	}
	if got := e.srv.SecretIDs(id); !slices.Equal(got, []int{created.Secret.ID}) {
		t.Errorf("secret ids %v after updates, want [%d]", got, created.Secret.ID)
	}

	// An update that sets nothing, or breaks a rule, is refused before sending.
	sent := requests(e.srv, hybridclientstest.OpUpdateClient)
	if _, err := e.clients.Update(ctx, id, hybridclients.UpdateRequest{}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("Update(nothing) = %v, want ErrInvalidInput", err)
	}
	if _, err := e.clients.Update(ctx, id, hybridclients.UpdateRequest{RedirectURIs: []string{}}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("Update(no redirect URIs) = %v, want ErrInvalidInput", err)
	}
	if n := requests(e.srv, hybridclientstest.OpUpdateClient); n != sent {
		t.Errorf("invalid updates sent %d requests", n-sent)
	}
	if _, err := e.clients.Update(ctx, uuid.NewString(), hybridclients.UpdateRequest{Name: identity.Ptr("x")}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Update(unknown client) = %v, want ErrNotFound", err)
	}
}
