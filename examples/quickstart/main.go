// Command quickstart does in code what the portal's "Add a hybrid client" procedure does:
// it creates a hybrid client, hands over its one-time secret, lists the tenant's hybrid
// clients, and deletes the client again (unless -keep).
//
//	go run ./examples/quickstart                  # on the in-process emulator
//	go run ./examples/quickstart -trace           # and print OpenTelemetry spans on stderr
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... go run ./examples/quickstart -keep
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	p := exampleenv.New("quickstart", "create a hybrid client as the portal does, show its id, hand over its secret once")
	o := addFlags(p)
	p.Run(func(ctx context.Context, env *exampleenv.Env) error { return run(ctx, env, o) })
}

// options are the command's flags.
type options struct {
	name, redirect, logout, secretFile string
	lifetime                           time.Duration
	printSecret, keep, trace           bool
}

func addFlags(p *exampleenv.Program) *options {
	o := &options{}
	p.Flags.StringVar(&o.name, "name", "quickstart example", "the client's `name`")
	p.Flags.StringVar(&o.redirect, "redirect", "https://localhost:5001/signin-oidc", "allowed redirect `URL` (matched exactly)")
	p.Flags.StringVar(&o.logout, "logout-redirect", "https://localhost:5001/signout-callback-oidc", "allowed post-logout redirect `URL`")
	p.Flags.DurationVar(&o.lifetime, "token-lifetime", 30*time.Minute, "access token lifetime, 1m to 1h")
	p.Flags.StringVar(&o.secretFile, "secret-file", "", "new `file` (mode 0600) for the secret's value; default ./<client-id>.secret")
	p.Flags.BoolVar(&o.printSecret, "print-secret", false, "print the secret's value on stdout instead of writing a file")
	p.Flags.BoolVar(&o.keep, "keep", false, "keep the client (and its secret file) instead of deleting them at the end")
	p.Flags.BoolVar(&o.trace, "trace", false, "print an OpenTelemetry span of each operation and HTTP attempt on stderr (JSON)")
	p.Check = func() error {
		if o.printSecret && o.secretFile != "" {
			return errors.New("-print-secret and -secret-file exclude each other: the value is delivered once")
		}
		return nil
	}
	return o
}

// tracing returns a tracer provider that writes each span to w as it ends, with
// OpenTelemetry's stdout exporter: in a program, an exporter to your collector instead.
func tracing(w io.Writer) (*sdktrace.TracerProvider, error) {
	exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)), nil
}

// run is the portal's procedure: check where the secret goes, create the client, deliver
// its secret once, list the tenant's clients, clean up.
func run(ctx context.Context, env *exampleenv.Env, o *options) error {
	if err := checkDestination(o); err != nil {
		return err
	}
	if env.Emulated() {
		// Some other clients, so that the listing shows more than ours.
		if err := env.Fake.SeedClients(3); err != nil {
			return err
		}
	}
	cfg := env.Config
	if o.trace {
		tp, err := tracing(os.Stderr)
		if err != nil {
			return err
		}
		defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)) }()
		cfg.TracerProvider = tp
	}
	clients, err := hybridclients.New(cfg)
	if err != nil {
		return err
	}
	created, err := create(ctx, clients, o)
	if err != nil {
		return err
	}
	id := created.Client.ID
	fmt.Println("client id:", id)
	fmt.Printf("secret:    id %d, %q, expires %s\n", created.Secret.ID, created.Secret.Description, created.Secret.Expiry)

	path, err := deliver(ctx, clients, created, o)
	if err != nil {
		return err
	}
	if err := list(ctx, clients); err != nil {
		return errors.Join(err, cleanUp(ctx, clients, id, path, o.keep))
	}
	if o.keep && env.Emulated() {
		fmt.Fprintln(os.Stderr, "note: the emulator, and the client kept in it, end with this program")
	}
	return cleanUp(ctx, clients, id, path, o.keep)
}

// checkDestination checks where the value will go before anything is created: a client
// whose secret cannot be stored is of no use.
func checkDestination(o *options) error {
	if err := exampleenv.CheckNewFile("-secret-file", o.secretFile); err != nil {
		return err
	}
	if o.secretFile == "" && !o.printSecret {
		// The file's name needs the client id; its directory can be checked now.
		return exampleenv.CheckDir("the working directory, where the secret file goes (see -secret-file):", ".")
	}
	return nil
}

// create does the portal's Add Client and Add Secret windows in one call. When the
// outcome is unknown and the client may exist, nobody holds its secret: it deletes the
// client if it is there.
func create(ctx context.Context, clients *hybridclients.Client, o *options) (*hybridclients.Created, error) {
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:                   o.name,
		AllowRefreshTokens:     true,
		RedirectURIs:           []string{o.redirect},
		PostLogoutRedirectURIs: []string{o.logout},
		AccessTokenLifetime:    o.lifetime,
		SecretDescription:      "quickstart example, " + time.Now().Format(time.DateOnly),
		SecretExpiry:           secrets.ExpiresAt(time.Now().AddDate(1, 0, 0)),
	})
	var unknown *identity.OutcomeError
	if errors.As(err, &unknown) && unknown.ClientMayExist {
		if derr := deleteClient(ctx, clients, unknown.ClientID); derr != nil && !errors.Is(derr, identity.ErrNotFound) {
			err = errors.Join(err, derr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating the client: %w", err)
	}
	return created, nil
}

// deliver hands the secret's value over now, on stdout or in a new file (whose path it
// returns): the service never returns it again.
func deliver(ctx context.Context, clients *hybridclients.Client, created *hybridclients.Created, o *options) (path string, err error) {
	if o.printSecret {
		fmt.Fprintln(os.Stderr, "warning: the secret's value follows on stdout; copy it now, it cannot be retrieved again")
		fmt.Println("secret value:", created.Secret.Value.Reveal())
		return "", nil
	}
	path = o.secretFile
	if path == "" {
		path = "./" + created.Client.ID + ".secret"
	}
	if err := store(ctx, clients, created, path); err != nil {
		return "", err
	}
	fmt.Println("secret value written to", path, "(mode 0600)")
	fmt.Fprintln(os.Stderr, "warning: keep that file safe; the secret's value cannot be retrieved again")
	return path, nil
}

// store writes the new client's secret to path. If that fails (the directory vanished
// since the check, the disk is full), nobody holds the value and the client is of no use:
// it deletes the client again and says so, or says that it is left and must be deleted.
func store(ctx context.Context, clients *hybridclients.Client, created *hybridclients.Created, path string) error {
	werr := created.Secret.Value.WriteFile(path)
	if werr == nil {
		return nil
	}
	id := created.Client.ID
	if derr := deleteClient(ctx, clients, id); derr != nil {
		return fmt.Errorf("storing the secret in %s failed (%w); client %s is LEFT BEHIND with a secret nobody holds: delete it (%w)", path, werr, id, derr)
	}
	return fmt.Errorf("storing the secret in %s failed (%w); deleted client %s again, nothing is left", path, werr, id)
}

// list prints the first page of the tenant's hybrid clients as a table.
func list(ctx context.Context, clients *hybridclients.Client) error {
	page, err := clients.List(ctx, hybridclients.ListOptions{PageSize: 20})
	if err != nil {
		return fmt.Errorf("listing the clients: %w", err)
	}
	fmt.Printf("\nhybrid clients of the tenant (%d):\n", page.Total)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tENABLED\tREFRESH TOKENS\tTOKEN LIFETIME")
	for _, c := range page.Clients {
		fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%s\n", c.ID, c.Name, c.Enabled, c.AllowRefreshTokens, c.AccessTokenLifetime)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if more := page.Total - len(page.Clients); more > 0 {
		fmt.Printf("... and %d more\n", more)
	}
	return nil
}

// cleanUp deletes the client made and, once it is gone, the file holding its secret.
func cleanUp(ctx context.Context, clients *hybridclients.Client, id, path string, keep bool) error {
	fmt.Println()
	if keep {
		fmt.Println("kept client", id)
		return nil
	}
	if err := deleteClient(ctx, clients, id); err != nil {
		return err
	}
	fmt.Println("deleted client", id, "(use -keep to keep it)")
	if path != "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		fmt.Println("removed", path, "(the secret of a deleted client is of no use)")
	}
	return nil
}

// deleteClient deletes the client even when ctx has ended (Ctrl-C, timeout), so that a
// run cut short leaves nothing behind.
func deleteClient(ctx context.Context, clients *hybridclients.Client, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := clients.Delete(ctx, id); err != nil {
		return fmt.Errorf("deleting client %s: %w", id, err)
	}
	return nil
}
