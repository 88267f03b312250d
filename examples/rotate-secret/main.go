// Command rotate-secret replaces a hybrid client's secret with the secrets package's
// Rotate: it adds a new secret, writes its value to a new file (mode 0600), and only then
// retires the old secrets: by default they keep working for an hour (their expiry is
// shortened; -grace sets how long), so that the new secret can reach sign-in first;
// -retire-at-once deletes them at once, at the risk of a lockout.
//
//	go run ./examples/rotate-secret                  # on the in-process emulator (creates a demo client; no -client-id)
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... \
//	  go run ./examples/rotate-secret -client-id 1b2c... -out /etc/myapp/client-secret -grace 24h
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

func main() {
	p := exampleenv.New("rotate-secret", "replace a hybrid client's secret, storing the new value in a new file")
	clientID := p.Flags.String("client-id", "", "`id` of the hybrid client whose secret to rotate (required on a real tenant; not on the emulator, which creates a demo client)")
	out := p.Flags.String("out", "", "new `file` (mode 0600) for the new secret's value; default ./<client-id>.<secret-id>.secret")
	retire := p.Flags.String("retire", "all", "which old secrets to retire: all or expired")
	grace := p.Flags.Duration("grace", 0, "keep retired secrets working this long (at least 1m; 1h or more advised); 0 means one hour, the SDK's default")
	atOnce := p.Flags.Bool("retire-at-once", false, "delete the old secrets at once instead of shortening them: applications still using them are locked out until the new secret reaches sign-in (up to an hour)")
	description := p.Flags.String("description", "rotated "+time.Now().Format(time.DateOnly), "the new secret's description")
	keep := p.Flags.Bool("keep", false, "on the emulator: keep the file written (it is removed at the end by default)")

	var policy secrets.RetirePolicy
	p.Check = func() error {
		switch *retire {
		case "all":
			policy = secrets.RetireAll()
		case "expired":
			policy = secrets.RetireExpired()
		default:
			return fmt.Errorf("-retire must be all or expired, not %q", *retire)
		}
		return nil
	}

	p.Run(func(ctx context.Context, env *exampleenv.Env) error {
		// Check where the value will go before changing anything.
		if err := exampleenv.CheckNewFile("-out", *out); err != nil {
			return err
		}
		if *out == "" {
			// The file's name needs the ids; its directory can be checked now.
			if err := exampleenv.CheckDir("the working directory, where the new secret goes (see -out):", "."); err != nil {
				return err
			}
		}

		clients, err := hybridclients.New(env.Config)
		if err != nil {
			return err
		}
		id := *clientID
		switch {
		case id == "" && env.Emulated():
			if id, err = createClientToRotate(ctx, clients); err != nil {
				return err
			}
		case env.Emulated():
			// The emulator starts empty on every run: no id from an earlier run exists.
			return errors.New("-client-id names a client of a real tenant; the in-process emulator starts empty on every run, so omit -client-id there (a demo client with two secrets is created to rotate)")
		case id == "":
			return errors.New("-client-id is required: which client's secret to rotate")
		}

		path := *out
		rot, err := clients.Secrets().Rotate(ctx, id, secrets.RotateOptions{
			Description: *description,
			// Expiry left zero: one year from now, as in the portal.
			Store: func(ctx context.Context, s secrets.Added) error {
				if path == "" {
					path = fmt.Sprintf("./%s.%d.secret", id, s.ID)
				}
				return s.Value.WriteFile(path) // if this fails, Rotate deletes the new secret again
			},
			Retire:       policy,
			Grace:        *grace,
			RetireAtOnce: *atOnce,
		})
		// Rotate says what it did even when it fails part-way: print that first.
		if rot != nil && rot.Added.ID != 0 {
			fmt.Printf("added       secret %d %q, expires %s; value written to %s (mode 0600)\n",
				rot.Added.ID, rot.Added.Description, rot.Added.Expiry, path)
		}
		if rot != nil {
			show("freed room", rot.FreedRoom)
			show("deleted", rot.Deleted)
			show("shortened", rot.Shortened)
			show("kept", rot.Kept)
			if err == nil && len(rot.Deleted)+len(rot.Shortened)+len(rot.Kept) == 0 {
				fmt.Printf("retired     none of the old secrets (-retire %s)\n", *retire)
			}
		}
		if err != nil {
			return err // it says which secrets were handled and which were not
		}
		fmt.Fprintln(os.Stderr, "note: a new secret can take up to an hour to work at sign-in")

		if env.Emulated() {
			// The emulator can tell whether a value would sign in: check the stored one does.
			value, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Println("emulator: the new secret signs in:", env.Fake.CheckSecret(id, identity.NewSecret(string(value))))
			if !*keep {
				if err := os.Remove(path); err != nil {
					return err
				}
				fmt.Println("emulator: removed", path, "(use -keep to keep it)")
			}
		}
		return nil
	})
}

// createClientToRotate makes a client with two secrets on the emulator: one expiring in a
// week and one that never expires.
func createClientToRotate(ctx context.Context, clients *hybridclients.Client) (string, error) {
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:              "rotate-secret example",
		RedirectURIs:      []string{"https://localhost:5001/signin-oidc"},
		SecretDescription: "first secret",
		SecretExpiry:      secrets.ExpiresIn(7 * 24 * time.Hour),
	})
	if err != nil {
		return "", err
	}
	id := created.Client.ID
	if _, err := clients.Secrets().Add(ctx, id, secrets.AddRequest{Description: "legacy secret", Expiry: secrets.NeverExpires()}); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "emulator: created client %s with two secrets to rotate (use -client-id on a real tenant)\n", id)
	return id, nil
}

func show(what string, list []secrets.Metadata) {
	for _, s := range list {
		fmt.Printf("%-11s secret %d %q, expires %s\n", what, s.ID, s.Description, s.Expiry)
	}
}
