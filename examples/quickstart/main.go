// Command quickstart does in code what the portal's "Add a hybrid client" procedure does:
// it creates a hybrid client, hands over its one-time secret, lists the tenant's hybrid
// clients, and deletes the client again (unless -keep).
//
//	go run ./examples/quickstart                  # on the in-process emulator
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... go run ./examples/quickstart -keep
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

func main() {
	p := exampleenv.New("quickstart", "create a hybrid client as the portal does, show its id, hand over its secret once")
	name := p.Flags.String("name", "quickstart example", "the client's `name`")
	redirect := p.Flags.String("redirect", "https://localhost:5001/signin-oidc", "allowed redirect `URL` (matched exactly)")
	logout := p.Flags.String("logout-redirect", "https://localhost:5001/signout-callback-oidc", "allowed post-logout redirect `URL`")
	lifetime := p.Flags.Duration("token-lifetime", 30*time.Minute, "access token lifetime, 1m to 1h")
	secretFile := p.Flags.String("secret-file", "", "new `file` (mode 0600) for the secret's value; default ./<client-id>.secret")
	printSecret := p.Flags.Bool("print-secret", false, "print the secret's value on stdout instead of writing a file")
	keep := p.Flags.Bool("keep", false, "keep the client (and its secret file) instead of deleting them at the end")

	p.Check = func() error {
		if *printSecret && *secretFile != "" {
			return errors.New("-print-secret and -secret-file exclude each other: the value is delivered once")
		}
		return nil
	}

	p.Run(func(ctx context.Context, env *exampleenv.Env) error {
		// Check where the value will go before creating anything: a client whose secret
		// cannot be stored is of no use.
		if err := exampleenv.CheckNewFile("-secret-file", *secretFile); err != nil {
			return err
		}
		if *secretFile == "" && !*printSecret {
			// The file's name needs the client id; its directory can be checked now.
			if err := exampleenv.CheckDir("the working directory, where the secret file goes (see -secret-file):", "."); err != nil {
				return err
			}
		}
		if env.Emulated() {
			// Some other clients, so that the listing shows more than ours.
			if err := env.Fake.SeedClients(3); err != nil {
				return err
			}
		}

		clients, err := hybridclients.New(env.Config)
		if err != nil {
			return err
		}

		// The portal's Add Client and Add Secret windows, in one call.
		created, err := clients.Create(ctx, hybridclients.CreateRequest{
			Name:                   *name,
			AllowRefreshTokens:     true,
			RedirectURIs:           []string{*redirect},
			PostLogoutRedirectURIs: []string{*logout},
			AccessTokenLifetime:    *lifetime,
			SecretDescription:      "quickstart example, " + time.Now().Format(time.DateOnly),
			SecretExpiry:           secrets.ExpiresAt(time.Now().AddDate(1, 0, 0)),
		})
		var unknown *identity.OutcomeError
		if errors.As(err, &unknown) && unknown.ClientMayExist {
			// The call failed in a way that leaves unknown whether the client exists, and
			// nobody holds its secret: delete it if it is there.
			if derr := deleteClient(ctx, clients, unknown.ClientID); derr != nil && !errors.Is(derr, identity.ErrNotFound) {
				err = errors.Join(err, derr)
			}
		}
		if err != nil {
			return fmt.Errorf("creating the client: %w", err)
		}
		id := created.Client.ID
		fmt.Println("client id:", id)
		fmt.Printf("secret:    id %d, %q, expires %s\n", created.Secret.ID, created.Secret.Description, created.Secret.Expiry)

		// Deliver the value now: the service never returns it again.
		path := ""
		if *printSecret {
			fmt.Fprintln(os.Stderr, "warning: the secret's value follows on stdout; copy it now, it cannot be retrieved again")
			fmt.Println("secret value:", created.Secret.Value.Reveal())
		} else {
			path = *secretFile
			if path == "" {
				path = "./" + id + ".secret"
			}
			if err := store(ctx, clients, created, path); err != nil {
				return err
			}
			fmt.Println("secret value written to", path, "(mode 0600)")
			fmt.Fprintln(os.Stderr, "warning: keep that file safe; the secret's value cannot be retrieved again")
		}

		if err := list(ctx, clients); err != nil {
			return errors.Join(err, cleanUp(ctx, clients, id, path, *keep))
		}
		if *keep && env.Emulated() {
			fmt.Fprintln(os.Stderr, "note: the emulator, and the client kept in it, end with this program")
		}
		return cleanUp(ctx, clients, id, path, *keep)
	})
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
	page, err := clients.List(ctx, hybridclients.ListOptions{Count: 20})
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
