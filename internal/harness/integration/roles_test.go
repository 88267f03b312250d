package integration

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/emulator"
	"github.com/ocs-go/identity/secrets"
)

// wantStatus fails the test unless err matches sentinel and is an *identity.Error with
// that status (a service answer, not a local refusal).
func wantStatus(t *testing.T, what string, err error, sentinel error, status int) {
	t.Helper()
	var ae *identity.Error
	if !errors.Is(err, sentinel) || !errors.As(err, &ae) || ae.StatusCode != status {
		t.Errorf("%s = %v, want an *identity.Error %d matching %v", what, err, status, sentinel)
	}
}

// secretsOps runs every operation of the secrets package once against clientID (whose
// secret secretID exists) and returns the error of each, by name.
func secretsOps(ctx context.Context, sc *secrets.Client, clientID string, secretID int) map[string]error {
	errs := map[string]error{}
	_, errs["List"] = sc.List(ctx, clientID, secrets.ListOptions{})
	errs["All"] = errors.New("All yielded no error")
	for _, err := range sc.All(ctx, clientID, secrets.ListOptions{}) {
		errs["All"] = err
		break
	}
	_, errs["Count"] = sc.Count(ctx, clientID)
	_, errs["Get"] = sc.Get(ctx, clientID, secretID)
	_, errs["Exists"] = sc.Exists(ctx, clientID, secretID)
	_, errs["Add"] = sc.Add(ctx, clientID, secrets.AddRequest{Description: "nope"})
	_, errs["Update"] = sc.Update(ctx, clientID, secretID, secrets.UpdateRequest{Description: identity.Ptr("nope")})
	errs["Delete"] = sc.Delete(ctx, clientID, secretID)
	_, errs["Rotate"] = sc.Rotate(ctx, clientID, secrets.RotateRequest{Store: func(context.Context, secrets.Added) error { return nil }})
	_, errs["CheckExpiry"] = sc.CheckExpiry(ctx, clientID, time.Hour)
	return errs
}

func TestMemberReadsButCannotWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	id := c.Client.ID
	ident := e.srv.AddAccount(hybridclientstest.RoleAdmin)
	member := newClients(t, e.srv.MemberConfig())

	// Reads of hybrid clients are allowed.
	if got, err := member.Get(ctx, id); err != nil || got.Name != "app" {
		t.Errorf("member Get = %+v, %v", got, err)
	}
	if ok, err := member.Exists(ctx, id); err != nil || !ok {
		t.Errorf("member Exists = %v, %v", ok, err)
	}
	if p, err := member.List(ctx, hybridclients.ListOptions{}); err != nil || p.Total != 1 || len(p.Clients) != 1 {
		t.Errorf("member List = %+v, %v", p, err)
	}
	if n, err := member.Count(ctx, hybridclients.CountOptions{}); err != nil || n != 1 {
		t.Errorf("member Count = %d, %v", n, err)
	}
	if ids := collectClients(t, ctx, member, hybridclients.ListOptions{}); !slices.Equal(ids, []string{id}) {
		t.Errorf("member All = %v", ids)
	}

	// Writes are forbidden and change nothing.
	_, err := member.Create(ctx, hybridclients.CreateRequest{Name: "x", RedirectURIs: []string{"https://x.example.com/cb"}})
	wantStatus(t, "member Create", err, identity.ErrForbidden, 403)
	_, err = member.Update(ctx, id, hybridclients.UpdateRequest{Name: identity.Ptr("hijacked")})
	wantStatus(t, "member Update", err, identity.ErrForbidden, 403)
	wantStatus(t, "member Delete", member.Delete(ctx, id), identity.ErrForbidden, 403)
	if got := fakeIDs(e.srv); !slices.Equal(got, []string{id}) {
		t.Errorf("after a member's writes the clients are %v", got)
	}
	if fv := fakeView(t, e.srv, id); fv.Name != "app" {
		t.Errorf("a member renamed the client to %q", fv.Name)
	}

	// Every secrets operation is forbidden: through Secrets(), through secrets.New, and on
	// client-credential clients.
	for _, tc := range []struct {
		name     string
		sc       *secrets.Client
		clientID string
		secretID int
	}{
		{"Secrets()", member.Secrets(), id, c.Secret.ID},
		{"secrets.New", newSecrets(t, e.srv.MemberConfig(), secrets.New), id, c.Secret.ID},
		{"secrets.NewForClientCredentialClients", newSecrets(t, e.srv.MemberConfig(), secrets.NewForClientCredentialClients), ident.ClientID, e.srv.SecretIDs(ident.ClientID)[0]},
	} {
		for op, err := range secretsOps(ctx, tc.sc, tc.clientID, tc.secretID) {
			wantStatus(t, "member "+tc.name+" "+op, err, identity.ErrForbidden, 403)
		}
	}
	// Add and Rotate list first; the refused list stops them before any POST.
	if n := requests(e.srv, hybridclientstest.OpAddSecret); n != 0 {
		t.Errorf("a member's Add and Rotate sent %d AddSecret requests; they should have stopped at the refused list", n)
	}
	if got := e.srv.SecretIDs(id); !slices.Equal(got, []int{c.Secret.ID}) || !e.srv.CheckSecret(id, c.Secret.Value) {
		t.Errorf("a member's secrets operations changed the client's secrets to %v", got)
	}
	if !e.srv.CheckSecret(ident.ClientID, ident.Secret) {
		t.Error("a member's secrets operations broke an identity's secret")
	}
}

func TestNoRoleForbiddenEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	id := c.Client.ID

	for name, cfg := range map[string]identity.Config{
		"client credentials": e.srv.ConfigFor(e.srv.AddAccount(hybridclientstest.RoleNone)),
		"static token":       {Resource: e.srv.URL, TenantID: e.srv.TenantID, Credentials: identity.NewStaticToken(e.srv.IssueToken(hybridclientstest.RoleNone))},
	} {
		none := newClients(t, cfg)
		_, err := none.Get(ctx, id)
		wantStatus(t, name+" Get", err, identity.ErrForbidden, 403)
		ok, err := none.Exists(ctx, id)
		wantStatus(t, name+" Exists", err, identity.ErrForbidden, 403)
		if ok {
			t.Errorf("%s Exists = true", name)
		}
		_, err = none.List(ctx, hybridclients.ListOptions{})
		wantStatus(t, name+" List", err, identity.ErrForbidden, 403)
		_, err = none.Count(ctx, hybridclients.CountOptions{})
		wantStatus(t, name+" Count", err, identity.ErrForbidden, 403)
		for _, err := range none.All(ctx, hybridclients.ListOptions{}) {
			wantStatus(t, name+" All", err, identity.ErrForbidden, 403)
			break
		}
		_, err = none.Create(ctx, hybridclients.CreateRequest{Name: "x", RedirectURIs: []string{"https://x.example.com/cb"}})
		wantStatus(t, name+" Create", err, identity.ErrForbidden, 403)
		_, err = none.Update(ctx, id, hybridclients.UpdateRequest{Enabled: identity.Ptr(false)})
		wantStatus(t, name+" Update", err, identity.ErrForbidden, 403)
		wantStatus(t, name+" Delete", none.Delete(ctx, id), identity.ErrForbidden, 403)
		for op, err := range secretsOps(ctx, none.Secrets(), id, c.Secret.ID) {
			wantStatus(t, name+" secrets "+op, err, identity.ErrForbidden, 403)
		}
	}
	if fv := fakeView(t, e.srv, id); !fv.Enabled || len(e.srv.Clients()) != 1 {
		t.Error("an identity without a role changed the tenant")
	}
}

func TestStaticTokensByRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	static := func(role hybridclientstest.Role) *hybridclients.Client {
		return newClients(t, identity.Config{Resource: e.srv.URL, TenantID: e.srv.TenantID,
			Credentials: identity.NewStaticToken(e.srv.IssueToken(role))})
	}
	admin, member := static(hybridclientstest.RoleAdmin), static(hybridclientstest.RoleMember)
	c := create(t, ctx, admin, "by-static-admin")
	if !e.srv.CheckSecret(c.Client.ID, c.Secret.Value) {
		t.Error("client created with a static admin token: secret does not authenticate")
	}
	if n, err := member.Count(ctx, hybridclients.CountOptions{}); err != nil || n != 1 {
		t.Errorf("static member Count = %d, %v", n, err)
	}
	wantStatus(t, "static member Delete", member.Delete(ctx, c.Client.ID), identity.ErrForbidden, 403)
	if st := e.srv.Stats(); st.TokenRequests != 0 {
		t.Errorf("static tokens made %d token requests", st.TokenRequests)
	}
}

func TestBadStaticTokenUnauthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	bad := newClients(t, identity.Config{Resource: e.srv.URL, TenantID: e.srv.TenantID,
		Credentials: identity.NewStaticToken(identity.NewSecret("not-a-token-the-fake-issued"))})
	_, err := bad.List(ctx, hybridclients.ListOptions{})
	wantStatus(t, "List with a bad static token", err, identity.ErrUnauthorized, 401)
	var authErr *identity.AuthError
	if errors.As(err, &authErr) {
		t.Errorf("a rejected bearer token is an *identity.AuthError (%v); that is for the token endpoint's refusals", err)
	}
	_, err = bad.Create(ctx, hybridclients.CreateRequest{Name: "x", RedirectURIs: []string{"https://x.example.com/cb"}})
	wantStatus(t, "Create with a bad static token", err, identity.ErrUnauthorized, 401)
	_, err = bad.Secrets().Count(ctx, uuid.NewString())
	wantStatus(t, "secrets Count with a bad static token", err, identity.ErrUnauthorized, 401)
	if len(e.srv.Clients()) != 0 {
		t.Error("a bad token created a client")
	}
	// 401 is not retried: one list request (the fixed token cannot be refetched).
	if n := requests(e.srv, hybridclientstest.OpListClients); n != 1 {
		t.Errorf("List with a bad static token made %d requests, want 1", n)
	}
}

func TestWrongClientSecretUnauthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name     string
		id       hybridclientstest.Account
		wantCode string
	}{
		{"wrong secret", hybridclientstest.Account{ClientID: e.srv.Admin.ClientID, Secret: identity.NewSecret("wrong")}, "invalid_client"},
		{"unknown client", hybridclientstest.Account{ClientID: uuid.NewString(), Secret: e.srv.Admin.Secret}, "invalid_client"},
	} {
		before := e.srv.Stats()
		c := newClients(t, e.srv.ConfigFor(tc.id))
		_, err := c.Count(ctx, hybridclients.CountOptions{})
		var ae *identity.AuthError
		if !errors.Is(err, identity.ErrUnauthorized) || !errors.As(err, &ae) {
			t.Errorf("%s: first call = %v, want an *identity.AuthError matching ErrUnauthorized", tc.name, err)
			continue
		}
		if ae.Code != tc.wantCode || ae.StatusCode != 400 {
			t.Errorf("%s: AuthError %d %q, want 400 %q", tc.name, ae.StatusCode, ae.Code, tc.wantCode)
		}
		after := e.srv.Stats()
		if n := after.TokenRequests - before.TokenRequests; n != 1 {
			t.Errorf("%s: %d token requests, want 1 (a refusal is not retried)", tc.name, n)
		}
		if n := after.Requests[hybridclientstest.OpCountClients] - before.Requests[hybridclientstest.OpCountClients]; n != 0 {
			t.Errorf("%s: %d API requests sent without a token", tc.name, n)
		}
	}

	// A hybrid client's own credentials may not use the client-credentials grant.
	hc := create(t, ctx, e.clients, "app")
	c := newClients(t, e.srv.ConfigFor(hybridclientstest.Account{ClientID: hc.Client.ID, Secret: hc.Secret.Value}))
	_, err := c.Count(ctx, hybridclients.CountOptions{})
	var ae *identity.AuthError
	if !errors.As(err, &ae) || ae.Code != "unauthorized_client" {
		t.Errorf("signing in as a hybrid client = %v, want an *identity.AuthError unauthorized_client", err)
	}
}

func TestUnknownTenantNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	cfg := e.srv.Config()
	cfg.TenantID = uuid.NewString()
	other := newClients(t, cfg)

	// The emulator checks the tenant before the token's tenant (API.md: 404 for an
	// unknown tenant), so an administrator of the fake's tenant gets 404 here.
	_, err := other.List(ctx, hybridclients.ListOptions{})
	wantStatus(t, "List in an unknown tenant", err, identity.ErrNotFound, 404)
	_, err = other.Count(ctx, hybridclients.CountOptions{})
	wantStatus(t, "Count in an unknown tenant", err, identity.ErrNotFound, 404)
	_, err = other.Get(ctx, c.Client.ID)
	wantStatus(t, "Get in an unknown tenant", err, identity.ErrNotFound, 404)
	_, err = other.Create(ctx, hybridclients.CreateRequest{Name: "x", RedirectURIs: []string{"https://x.example.com/cb"}})
	wantStatus(t, "Create in an unknown tenant", err, identity.ErrNotFound, 404)
	_, err = other.Secrets().List(ctx, c.Client.ID, secrets.ListOptions{})
	wantStatus(t, "secrets List in an unknown tenant", err, identity.ErrNotFound, 404)
	// HEAD has no body, so a missing tenant and a missing client look alike to Exists:
	// it reports false without an error (see the report: a wrong TenantID is invisible here).
	if ok, err := other.Exists(ctx, c.Client.ID); ok || err != nil {
		t.Errorf("Exists in an unknown tenant = %v, %v; want false, nil", ok, err)
	}
	if len(e.srv.Clients()) != 1 {
		t.Error("a call to an unknown tenant changed the fake's tenant")
	}
	// A TenantID that is not a GUID is refused when the client is made.
	cfg.TenantID = "not-a-guid"
	if _, err := hybridclients.New(cfg); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("New(TenantID not a GUID) = %v, want ErrInvalidInput", err)
	}
}

// A token of one existing tenant used on another existing tenant: the emulator answers
// 403 (authenticated, but no role in that tenant), consistent with API.md's roles table
// ("anything else 403"). hybridclientstest has one tenant, so this uses the emulator
// itself, still over loopback HTTP.
func TestOtherTenantsTokenForbidden(t *testing.T) {
	t.Parallel()
	em := emulator.New(emulator.Options{})
	mine, theirs := em.AddTenant(), em.AddTenant()
	id, secret := em.AddIdentity(mine, emulator.RoleAdmin)
	ts := httptest.NewServer(em)
	t.Cleanup(ts.Close)
	ctx := testCtx(t)

	own := newClients(t, identity.Config{Resource: ts.URL, TenantID: mine, Credentials: identity.NewClientCredentials(id, identity.NewSecret(secret), nil)})
	if _, err := own.Count(ctx, hybridclients.CountOptions{}); err != nil {
		t.Fatalf("Count in the identity's own tenant: %v", err)
	}
	cross := newClients(t, identity.Config{Resource: ts.URL, TenantID: theirs, Credentials: identity.NewClientCredentials(id, identity.NewSecret(secret), nil)})
	_, err := cross.Count(ctx, hybridclients.CountOptions{})
	wantStatus(t, "Count in another tenant", err, identity.ErrForbidden, 403)
	_, err = cross.Create(ctx, hybridclients.CreateRequest{Name: "x", RedirectURIs: []string{"https://x.example.com/cb"}})
	wantStatus(t, "Create in another tenant", err, identity.ErrForbidden, 403)
	if got := em.Clients(theirs); len(got) != 0 {
		t.Errorf("another tenant's token created %d clients", len(got))
	}
}

func TestRevokedTokenRefetchedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	if _, err := e.clients.Count(ctx, hybridclients.CountOptions{}); err != nil {
		t.Fatal(err)
	}
	tokens := func() int { return e.srv.Stats().TokenRequests }
	if n := tokens(); n != 1 {
		t.Fatalf("%d token requests after the first call, want 1", n)
	}

	// A GET after revocation.
	e.srv.RevokeTokens()
	if _, err := e.clients.Count(ctx, hybridclients.CountOptions{}); err != nil {
		t.Fatalf("Count after RevokeTokens: %v", err)
	}
	if n := tokens(); n != 2 {
		t.Errorf("%d token requests after one revocation, want 2", n)
	}
	// The new token is cached: no further fetch.
	if _, err := e.clients.List(ctx, hybridclients.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := tokens(); n != 2 {
		t.Errorf("%d token requests, want still 2", n)
	}

	// A POST after revocation: its body is sent again, and one client is made.
	e.srv.RevokeTokens()
	before := requests(e.srv, hybridclientstest.OpCreateClient)
	c := create(t, ctx, e.clients, "after-revoke")
	if n := tokens(); n != 3 {
		t.Errorf("%d token requests after a second revocation, want 3", n)
	}
	if n := requests(e.srv, hybridclientstest.OpCreateClient) - before; n != 2 {
		t.Errorf("%d create requests, want 2 (the 401 and the retry)", n)
	}
	if len(e.srv.Clients()) != 1 || !e.srv.CheckSecret(c.Client.ID, c.Secret.Value) {
		t.Error("create after revocation: want exactly one client with a working secret")
	}

	// Secrets share the token: an add after revocation works with one fetch.
	e.srv.RevokeTokens()
	a, err := e.clients.Secrets().Add(ctx, c.Client.ID, secrets.AddRequest{Description: "after revoke"})
	if err != nil {
		t.Fatalf("Add after RevokeTokens: %v", err)
	}
	if !e.srv.CheckSecret(c.Client.ID, a.Value) {
		t.Error("secret added after revocation does not authenticate")
	}
	if n := tokens(); n != 4 {
		t.Errorf("%d token requests after a third revocation, want 4", n)
	}

	// Concurrent calls that all meet the revoked token share one new token.
	e.srv.RevokeTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.clients.Get(ctx, c.Client.ID)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Get after RevokeTokens: %v", err)
		}
	}
	if n := tokens(); n != 5 {
		t.Errorf("%d token requests after concurrent calls met a revoked token, want 5", n)
	}
}
