// Command signin is a small web application that signs a user in with a hybrid client:
// the OpenID Connect authorization-code flow with PKCE, through the SDK's
// hybridclients.SignIn, with the ID token checked by github.com/coreos/go-oidc/v3. It shows
// the user's name and the access token's lifetime, refreshes when the client allows
// refresh tokens, and logs out to its home page.
//
//	go run ./examples/signin            # on the in-process emulator: open the printed URL
//	go run ./examples/signin -tenant-id GUID -client-id ID -secret-file FILE \
//	    -redirect-uri http://127.0.0.1:5000/callback -post-logout-uri http://127.0.0.1:5000/
//
// On the emulator it creates its own hybrid client, whose redirect URI is its loopback
// /callback and whose post-logout URI is its home page, with Allow Refresh Token on unless
// -refresh=false; sign in as one of the emulator's test users (Ada Lovelace). Against a
// tenant, register those URIs on your client first.
//
// Against a tenant, the sign-in asks for a refresh token (the offline_access scope) only
// when the client allows it, or the identity server refuses the sign-in (invalid_scope).
// With management credentials (-auth-client-id and -auth-secret-file, or OCS_CLIENT_ID and
// OCS_CLIENT_SECRET: a client-credential client with at least the Tenant Member role) the
// example reads the client and follows its Allow Refresh Token; without them it cannot
// read it and asks for no refresh token unless you pass -refresh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// options are the command line.
type options struct {
	addr                 string
	stopAfter            time.Duration
	refresh              optionalBool
	lifetime             time.Duration
	resource, tenantID   string
	clientID, secretFile string
	redirectURI          string
	postLogoutURI        string
	// Management credentials, to read the client: flags, else the environment.
	authClientID, authSecretFile string
	authSecret                   identity.Secret // OCS_CLIENT_SECRET when there is no -auth-secret-file
}

// optionalBool is a boolean flag that also knows whether it was given: -refresh,
// -refresh=true, -refresh=false, or nothing (the default follows the client).
type optionalBool struct{ set, value bool }

func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return "unset"
	}
	return strconv.FormatBool(b.value)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("must be true or false")
	}
	*b = optionalBool{set: true, value: v}
	return nil
}

func (b *optionalBool) IsBoolFlag() bool { return true }

// or is the flag's value when given, else def.
func (b optionalBool) or(def bool) bool {
	if b.set {
		return b.value
	}
	return def
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "signin: %s (see -h)\n", exampleenv.OneLine(err))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.stopAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.stopAfter)
		defer cancel()
	}
	if err := serve(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "signin: %s\n", exampleenv.OneLine(err))
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("signin", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "", "`host:port` to serve on; default 127.0.0.1:0 (any free port) on the emulator, the -redirect-uri's host on a tenant")
	fs.DurationVar(&o.stopAfter, "stop-after", 0, "stop serving after this long (0: on Ctrl-C)")
	fs.Var(&o.refresh, "refresh", "ask for refresh tokens (offline_access); give it only if the client allows them (Allow Refresh Token). "+
		"Default: on the emulator, true (the client is created so); against a tenant, the client's setting when the management credentials can read it, else false")
	fs.DurationVar(&o.lifetime, "token-lifetime", time.Hour, "emulator: the client's access token lifetime, 1m to 1h")
	fs.StringVar(&o.resource, "resource", "", "tenant: service `URL` (env "+exampleenv.EnvResource+"; default US-West)")
	fs.StringVar(&o.tenantID, "tenant-id", "", "tenant: tenant `GUID` (env "+exampleenv.EnvTenantID+")")
	fs.StringVar(&o.clientID, "client-id", "", "tenant: `GUID` of your hybrid client, the one users sign in with (no management credentials are needed); without it, the example runs on the in-process emulator")
	fs.StringVar(&o.secretFile, "secret-file", "", "tenant: `file` holding one of that hybrid client's secrets")
	fs.StringVar(&o.redirectURI, "redirect-uri", "", "tenant: one of the client's redirect `URI`s, ending in /callback")
	fs.StringVar(&o.postLogoutURI, "post-logout-uri", "", "tenant: one of the client's post-logout redirect `URI`s (optional)")
	fs.StringVar(&o.authClientID, "auth-client-id", "", "tenant, optional: the `id` of a client-credential client (Tenant Member or Administrator) that reads your hybrid client, so that -refresh follows it (env "+exampleenv.EnvClientID+")")
	fs.StringVar(&o.authSecretFile, "auth-secret-file", "", "tenant, optional: `file` holding that client's secret (env "+exampleenv.EnvClientSecret+" holds the value itself)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintf(stderr, "signin: a web application that signs users in with a hybrid client\n\nUsage: go run ./examples/signin [flags]\n\nFlags:\n")
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := o.complete(); err != nil {
		return nil, err
	}
	return o, nil
}

// complete fills the tenant's resource and id from the environment, checks that the
// flags name the emulator or a whole tenant client, and derives -addr from -redirect-uri.
func (o *options) complete() error {
	if o.resource == "" {
		o.resource = os.Getenv(exampleenv.EnvResource)
	}
	if o.tenantID == "" {
		o.tenantID = os.Getenv(exampleenv.EnvTenantID)
	}
	if o.authClientID == "" {
		o.authClientID = strings.TrimSpace(os.Getenv(exampleenv.EnvClientID))
	}
	if o.authSecretFile == "" {
		o.authSecret = identity.NewSecret(strings.TrimSpace(os.Getenv(exampleenv.EnvClientSecret)))
	}
	if o.clientID == "" {
		if o.secretFile != "" || o.redirectURI != "" || o.postLogoutURI != "" || o.authSecretFile != "" {
			return errors.New("-secret-file, -redirect-uri, -post-logout-uri and -auth-secret-file go with -client-id (a tenant's client)")
		}
		if o.resource != "" || o.tenantID != "" || o.authClientID != "" || !o.authSecret.IsZero() {
			return errors.New("against a tenant, give your hybrid client's -client-id, -secret-file and -redirect-uri; without " +
				exampleenv.EnvResource + ", " + exampleenv.EnvTenantID + ", " + exampleenv.EnvClientID + " and " +
				exampleenv.EnvClientSecret + " the example runs on the emulator")
		}
		return nil
	}
	if (o.authClientID != "") != (o.authSecretFile != "" || !o.authSecret.IsZero()) {
		return errors.New("give the management credentials whole (-auth-client-id with -auth-secret-file, or " +
			exampleenv.EnvClientID + " with " + exampleenv.EnvClientSecret + "), or neither")
	}
	var missing []string
	for _, f := range []struct{ v, name string }{{o.tenantID, "-tenant-id"}, {o.secretFile, "-secret-file"}, {o.redirectURI, "-redirect-uri"}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("with -client-id, also give %s", strings.Join(missing, ", "))
	}
	if o.addr == "" {
		u, err := url.Parse(o.redirectURI)
		if err != nil || u.Host == "" || u.Path != "/callback" {
			return fmt.Errorf("-redirect-uri %q must be an absolute URL whose path is /callback (or give -addr)", o.redirectURI)
		}
		o.addr = u.Host
	}
	return nil
}

// serve sets up the sign-in (on the emulator, or for the tenant's client), serves the
// application until ctx ends, and prints where to open it.
func serve(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer l.Close()
	base := "http://" + l.Addr().String()

	si, postLogout, stop, err := signIn(ctx, o, base, stderr)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(stderr, refreshNote(o, si))

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	h, err := newApp(ctx, appConfig{SignIn: si, PostLogoutURI: postLogout, Logger: logger})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	fmt.Fprintf(stdout, "open %s/ in a browser to sign in (client %s); stop with Ctrl-C\n", base, si.ClientID())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// refreshNote says whether the sign-in asks for refresh tokens, and why.
func refreshNote(o *options, si *hybridclients.SignIn) string {
	const on, off = "refresh tokens: asked for (offline_access)", "refresh tokens: not asked for"
	asked := asksForRefreshTokens(si)
	switch {
	case o.refresh.set && asked:
		return on + ", as -refresh says"
	case o.refresh.set:
		return off + ", as -refresh=false says"
	case o.clientID == "" && asked:
		return on + ": the emulator's client allows them (-refresh=false to create it without)"
	case o.authClientID != "" && asked:
		return on + ": the client allows them"
	case o.authClientID != "":
		return off + ": the client does not allow them (Allow Refresh Token is off)"
	}
	return off + ": without management credentials (-auth-client-id) the example cannot read the client's Allow Refresh Token; pass -refresh if it is on"
}

// signIn sets up the sign-in: on a new in-process emulator (stop closes it) when no
// -client-id is given, else with the tenant's client. postLogout is where logout returns.
func signIn(ctx context.Context, o *options, base string, stderr io.Writer) (si *hybridclients.SignIn, postLogout string, stop func(), err error) {
	if o.clientID != "" {
		si, err = tenantSignIn(ctx, o)
		return si, o.postLogoutURI, func() {}, err
	}
	fake, err := hybridclientstest.Start(nil)
	if err != nil {
		return nil, "", nil, err
	}
	fmt.Fprintf(stderr, "running against the in-process emulator (give -client-id, -tenant-id, -secret-file, -redirect-uri to use a real tenant)\n")
	postLogout = base + "/"
	si, err = emulatorSignIn(ctx, fake, base+"/callback", postLogout, o)
	if err != nil {
		fake.Close()
		return nil, "", nil, err
	}
	return si, postLogout, fake.Close, nil
}

// emulatorSignIn creates a hybrid client on the emulator, as a Tenant Administrator would
// in the portal, and returns its SignIn.
func emulatorSignIn(ctx context.Context, fake *hybridclientstest.Server, redirectURI, postLogoutURI string, o *options) (*hybridclients.SignIn, error) {
	clients, err := hybridclients.New(fake.Config())
	if err != nil {
		return nil, err
	}
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:                   "signin example",
		RedirectURIs:           []string{redirectURI},
		PostLogoutRedirectURIs: []string{postLogoutURI},
		AllowRefreshTokens:     o.refresh.or(true),
		AccessTokenLifetime:    o.lifetime,
		SecretDescription:      "signin example",
	})
	if err != nil {
		return nil, fmt.Errorf("creating the client: %w", err)
	}
	return clients.SignIn(ctx, &created.Client, created.Secret.Value, redirectURI)
}

// tenantSignIn returns the SignIn of the tenant's client named by the flags. With
// management credentials it reads the client as registered (and so follows its Allow
// Refresh Token); without them it describes the client from the flags.
func tenantSignIn(ctx context.Context, o *options) (*hybridclients.SignIn, error) {
	secret, err := readSecret("-secret-file", o.secretFile)
	if err != nil {
		return nil, err
	}
	cfg := identity.Config{Resource: o.resource, TenantID: o.tenantID, UserAgent: "ocs-go-examples"}
	if o.authClientID == "" {
		hc := &hybridclients.HybridClient{
			ID: o.clientID, Enabled: true, AllowRefreshTokens: o.refresh.or(false),
			RedirectURIs: []string{o.redirectURI},
		}
		if o.postLogoutURI != "" {
			hc.PostLogoutRedirectURIs = []string{o.postLogoutURI}
		}
		return hybridclients.DiscoverSignIn(ctx, cfg, hc, secret, o.redirectURI)
	}

	authSecret := o.authSecret
	if o.authSecretFile != "" {
		if authSecret, err = readSecret("-auth-secret-file", o.authSecretFile); err != nil {
			return nil, err
		}
	}
	cfg.Credentials = identity.NewClientCredentials(o.authClientID, authSecret, nil)
	clients, err := hybridclients.New(cfg)
	if err != nil {
		return nil, err
	}
	hc, err := clients.Get(ctx, o.clientID)
	if err != nil {
		return nil, fmt.Errorf("reading client %s with the management credentials: %w", o.clientID, err)
	}
	switch {
	case !o.refresh.set:
	case o.refresh.value && !hc.AllowRefreshTokens:
		return nil, fmt.Errorf("-refresh: client %s does not allow refresh tokens (Allow Refresh Token is off), so the identity server would refuse the sign-in (invalid_scope); turn it on, or leave out -refresh", o.clientID)
	default:
		hc.AllowRefreshTokens = o.refresh.value
	}
	return clients.SignIn(ctx, hc, secret, o.redirectURI)
}

// readSecret reads a secret's value from a file.
func readSecret(flagName, path string) (identity.Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return identity.Secret{}, fmt.Errorf("reading %s: %w", flagName, err)
	}
	return identity.NewSecret(strings.TrimSpace(string(b))), nil
}
