// Command rotate-secret replaces a hybrid client's secret with the secrets package's
// Rotate: it adds a new secret, waits until the identity server accepts it (a new secret
// can take up to an hour to work at sign-in; -timeout is two hours), meanwhile the
// application keeps its old, working value; then puts the new value in the file the
// application reads in place of the old one (identity.Secret.ReplaceFile: a new 0600 file
// renamed over it, so a reader sees the old value or the new one, never neither), and
// only then retires the old secrets, letting them expire after a grace period (-grace;
// one hour by default, the SDK's default). A new secret never accepted is deleted again
// and the file left as it was. -retire-at-once writes the file and deletes the old
// secrets at once instead, without waiting, at the risk of a lockout.
//
//	go run ./examples/rotate-secret                  # on the in-process emulator (creates a demo client; no -client-id)
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... \
//	  go run ./examples/rotate-secret -client-id 1b2c... -out /etc/myapp/client-secret -grace 24h
//
// On the emulator the demo client's first secret is written to a new file first, so the
// rotation replaces it as it would an application's.
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
	p := exampleenv.New("rotate-secret", "replace a hybrid client's secret, putting the new value in the file in place of the old one")
	o := addFlags(p)
	p.SetDefaultTimeout(2 * time.Hour) // the proof may take DefaultProofTimeout
	p.Run(func(ctx context.Context, env *exampleenv.Env) error { return run(ctx, env, o) })
}

// options are the command's flags; policy is -retire, parsed.
type options struct {
	clientID, out, retire, description string
	grace                              time.Duration
	keep, atOnce                       bool
	policy                             secrets.RetirePolicy
}

func addFlags(p *exampleenv.Program) *options {
	o := &options{}
	p.Flags.StringVar(&o.clientID, "client-id", "", "`GUID` of the hybrid client whose secret to rotate, not the -auth-client-id that signs in (required on a real tenant; not on the emulator, which creates a demo client)")
	p.Flags.StringVar(&o.out, "out", "", "`file` the application reads the secret from: the new value replaces what it holds in one step (mode 0600), or creates it; default ./<client-id>.secret; on the emulator, a new file")
	p.Flags.StringVar(&o.retire, "retire", "all", "which old secrets to retire: all or expired")
	p.Flags.DurationVar(&o.grace, "grace", 0, "keep retired secrets working this long (at least 1m; 1h or more advised); 0 means one hour, the SDK's default")
	p.Flags.BoolVar(&o.atOnce, "retire-at-once", false, "delete the old secrets at once instead of shortening them: applications still using them are locked out until the new secret reaches sign-in (up to an hour)")
	p.Flags.StringVar(&o.description, "description", "rotated "+time.Now().Format(time.DateOnly), "the new secret's description")
	p.Flags.BoolVar(&o.keep, "keep", false, "on the emulator: keep the file written (it is removed at the end by default)")
	p.Check = func() error {
		switch o.retire {
		case "all":
			o.policy = secrets.RetireAll()
		case "expired":
			o.policy = secrets.RetireExpired()
		default:
			return fmt.Errorf("-retire must be all or expired, not %q", o.retire)
		}
		return nil
	}
	return o
}

// run checks where the value goes, picks the client, rotates its secret, reports what
// Rotate did and, on the emulator, checks that the stored value signs in.
func run(ctx context.Context, env *exampleenv.Env, o *options) error {
	if err := checkDestination(o.out, env.Emulated()); err != nil {
		return err
	}
	clients, err := hybridclients.New(env.Config)
	if err != nil {
		return err
	}
	id, path, err := clientToRotate(ctx, env, clients, o.clientID, o.out)
	if err != nil {
		return err
	}
	if err := rotate(ctx, clients, id, path, o); err != nil {
		return err // it says which secrets were handled and which were not
	}
	if env.Emulated() {
		return checkOnEmulator(env, id, path, o.keep)
	}
	return nil
}

// checkDestination checks where the value will go before anything is changed. On the
// emulator the file must be new: it gets the demo client's secrets and is removed at the end.
func checkDestination(out string, emulated bool) error {
	check := exampleenv.CheckReplaceable
	if emulated {
		check = exampleenv.CheckNewFile
	}
	if err := check("-out", out); err != nil {
		return err
	}
	if out == "" {
		// The file's name needs the ids; its directory can be checked now.
		return exampleenv.CheckDir("the working directory, where the new secret goes (see -out):", ".")
	}
	return nil
}

// clientToRotate returns -client-id on a tenant, and a new demo client on the emulator,
// with the file its secret goes to (out, or ./<client-id>.secret).
func clientToRotate(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, id, out string) (string, string, error) {
	switch {
	case id == "" && env.Emulated():
		return createClientToRotate(ctx, clients, out)
	case env.Emulated():
		// The emulator starts empty on every run: no id from an earlier run exists.
		return "", "", errors.New("-client-id names a client of a real tenant; the in-process emulator starts empty on every run, so omit -client-id there (a demo client with two secrets is created to rotate)")
	case id == "":
		return "", "", errors.New("-client-id is required: which client's secret to rotate")
	}
	return id, secretFile(out, id), nil
}

// secretFile is -out, or ./<client-id>.secret when it is not given.
func secretFile(out, id string) string {
	if out != "" {
		return out
	}
	return "./" + id + ".secret"
}

// rotate rotates the client's secret, putting the new value in the file at path, and
// prints what Rotate did, even when it failed part-way.
func rotate(ctx context.Context, clients *hybridclients.Client, id, path string, o *options) error {
	rot, err := clients.Secrets().Rotate(ctx, id, secrets.RotateRequest{
		Description: o.description,
		// Expiry left zero: one year from now, as in the portal.
		// Called once the identity server accepts the new secret: until then the file
		// keeps the old, working value.
		Store: func(ctx context.Context, s secrets.Added) error {
			// If this fails, the file is as it was and Rotate deletes the new secret again.
			return s.Value.ReplaceFile(path)
		},
		Retire:       o.policy,
		Grace:        o.grace,
		RetireAtOnce: o.atOnce,
	})
	if rot == nil {
		return err
	}
	if rot.New.ID != 0 {
		fmt.Printf("added       secret %d %q, expires %s\n", rot.New.ID, rot.New.Description, rot.New.Expiry)
	}
	if !rot.ProvenAt.IsZero() {
		fmt.Printf("proven      the identity server accepts the new secret (%d probe(s))\n", rot.Probes)
	}
	if rot.Step >= secrets.StepStored {
		fmt.Printf("stored      value written to %s (mode 0600)\n", path)
	}
	show("freed room", rot.FreedRoom)
	show("deleted", rot.Deleted)
	show("shortened", rot.Shortened)
	show("kept", rot.Kept)
	if err == nil && len(rot.Deleted)+len(rot.Shortened)+len(rot.Kept) == 0 {
		fmt.Printf("retired     none of the old secrets (-retire %s)\n", o.retire)
	}
	return err
}

// checkOnEmulator asks the emulator whether the stored value would sign in, then removes
// the file unless keep.
func checkOnEmulator(env *exampleenv.Env, id, path string, keep bool) error {
	value, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Println("emulator: the new secret signs in:", env.Fake.CheckSecret(id, identity.NewSecret(string(value))))
	if keep {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	fmt.Println("emulator: removed", path, "(use -keep to keep it)")
	return nil
}

// createClientToRotate makes a client with two secrets on the emulator, one expiring in a
// week and one that never expires, and writes the first one's value to a new file (out,
// or ./<client-id>.secret), as the application's file would hold it; it returns the
// client's id and the file.
func createClientToRotate(ctx context.Context, clients *hybridclients.Client, out string) (string, string, error) {
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:              "rotate-secret example",
		RedirectURIs:      []string{"https://localhost:5001/signin-oidc"},
		SecretDescription: "first secret",
		SecretExpiry:      secrets.ExpiresIn(7 * 24 * time.Hour),
	})
	if err != nil {
		return "", "", err
	}
	id := created.Client.ID
	path := secretFile(out, id)
	if err := created.Secret.Value.WriteFile(path); err != nil {
		return "", "", err
	}
	if _, err := clients.Secrets().Add(ctx, id, secrets.AddRequest{Description: "legacy secret", Expiry: secrets.NeverExpires()}); err != nil {
		return "", "", err
	}
	fmt.Fprintf(os.Stderr, "emulator: created client %s with two secrets to rotate, the first one's value in %s (use -client-id on a real tenant)\n", id, path)
	return id, path, nil
}

func show(what string, list []secrets.ClientSecret) {
	for _, s := range list {
		fmt.Printf("%-11s secret %d %q, expires %s\n", what, s.ID, s.Description, s.Expiry)
	}
}
