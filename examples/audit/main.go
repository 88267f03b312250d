// Command audit walks every hybrid client of a tenant and reports what needs attention:
// disabled clients, secrets that have expired, secrets that expire within -days, and
// secrets that never expire. It prints a table, or JSON with -json.
//
//	go run ./examples/audit                  # on the in-process emulator, seeded
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... go run ./examples/audit -days 14 -json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

// Report is what the audit found. Its JSON form is the output of -json.
type Report struct {
	AsOf          time.Time `json:"asOf"`
	WithinDays    int       `json:"withinDays"`
	Clients       int       `json:"clients"`
	Secrets       int       `json:"secrets"`
	Disabled      []Client  `json:"disabled"`
	Expired       []Secret  `json:"expired"`
	ExpiringSoon  []Secret  `json:"expiringSoon"`
	NeverExpiring []Secret  `json:"neverExpiring"`
}

// Client names a hybrid client.
type Client struct {
	ID   string `json:"clientId"`
	Name string `json:"clientName"`
}

// Secret is one secret of a client (metadata only: the service never returns a value).
type Secret struct {
	Client
	SecretID    int        `json:"secretId"`
	Description string     `json:"description"`
	Expiration  *time.Time `json:"expiration"` // null: never expires
}

func main() {
	p := exampleenv.New("audit", "report disabled hybrid clients and secrets that expired, expire soon or never expire")
	days := p.Flags.Int("days", 30, "report secrets expiring within this many `days`")
	asJSON := p.Flags.Bool("json", false, "print the report as JSON")
	p.Check = func() error {
		if *days < 0 {
			return errors.New("-days must not be negative")
		}
		return nil
	}

	p.Run(func(ctx context.Context, env *exampleenv.Env) error {
		clients, err := hybridclients.New(env.Config)
		if err != nil {
			return err
		}
		if env.Emulated() {
			if err := seed(ctx, env, clients); err != nil {
				return fmt.Errorf("seeding the emulator: %w", err)
			}
		}
		r, err := audit(ctx, clients, *days, env.Now())
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}
		return printTable(r)
	})
}

// audit walks every hybrid client (one page at a time) and classifies its secrets.
func audit(ctx context.Context, clients *hybridclients.Client, days int, now time.Time) (*Report, error) {
	within := time.Duration(days) * 24 * time.Hour
	r := &Report{AsOf: now.UTC().Truncate(time.Second), WithinDays: days, Disabled: []Client{}, Expired: []Secret{}, ExpiringSoon: []Secret{}, NeverExpiring: []Secret{}}
	for hc, err := range clients.All(ctx, hybridclients.ListOptions{}) {
		if err != nil {
			return nil, fmt.Errorf("listing the clients: %w", err)
		}
		r.Clients++
		c := Client{ID: hc.ID, Name: hc.Name}
		if !hc.Enabled {
			r.Disabled = append(r.Disabled, c)
		}
		report, err := clients.Secrets().CheckExpiry(ctx, hc.ID, within, now)
		if err != nil {
			return nil, fmt.Errorf("checking the secrets of client %s: %w", hc.ID, err)
		}
		r.Secrets += len(report.Expired) + len(report.ExpiringSoon) + len(report.NeverExpiring) + len(report.Valid)
		r.Expired = append(r.Expired, secretsOf(c, report.Expired, now)...)
		r.ExpiringSoon = append(r.ExpiringSoon, secretsOf(c, report.ExpiringSoon, now)...)
		r.NeverExpiring = append(r.NeverExpiring, secretsOf(c, report.NeverExpiring, now)...)
	}
	// The most urgent first, across all clients.
	byExpiration := func(a, b Secret) int { return a.Expiration.Compare(*b.Expiration) }
	slices.SortStableFunc(r.Expired, byExpiration)
	slices.SortStableFunc(r.ExpiringSoon, byExpiration)
	return r, nil
}

func secretsOf(c Client, list []secrets.Metadata, now time.Time) []Secret {
	out := make([]Secret, len(list))
	for i, m := range list {
		out[i] = Secret{Client: c, SecretID: m.ID, Description: m.Description}
		if t, ok := m.Expiry.Time(now); ok {
			out[i].Expiration = &t
		}
	}
	return out
}

// printTable prints one line per finding, then a summary.
func printTable(r *Report) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FINDING\tCLIENT ID\tCLIENT NAME\tSECRET\tDESCRIPTION\tEXPIRES")
	for _, c := range r.Disabled {
		fmt.Fprintf(tw, "disabled\t%s\t%s\t-\t-\t-\n", c.ID, c.Name)
	}
	rows := func(finding string, list []Secret) {
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", finding, s.ID, s.Name, s.SecretID, s.Description, when(s.Expiration, r.AsOf))
		}
	}
	rows("expired", r.Expired)
	rows("expiring", r.ExpiringSoon)
	rows("never expires", r.NeverExpiring)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("\n%d clients, %d secrets, as of %s: %d disabled, %d expired, %d expiring within %d days, %d never expiring\n",
		r.Clients, r.Secrets, r.AsOf.Format(time.RFC3339), len(r.Disabled), len(r.Expired), len(r.ExpiringSoon), r.WithinDays, len(r.NeverExpiring))
	return nil
}

// when shows an expiration with how far it is from now: "2025-01-02 (3 days ago)".
func when(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	d := t.Sub(now)
	rel := "in " + ago(d)
	if d < 0 {
		rel = ago(-d) + " ago"
	}
	return fmt.Sprintf("%s (%s)", t.Format(time.DateOnly), rel)
}

func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}

// seed fills the emulator with clients whose secrets fall in every category, then moves
// its clock two days ahead so that the secret made to expire in an hour has expired.
func seed(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client) error {
	type secret struct {
		description string
		expiry      secrets.Expiry
	}
	seeds := []struct {
		name     string
		disabled bool
		secrets  []secret // the first is made with the client
	}{
		{"Billing portal", false, []secret{
			{"billing, old", secrets.ExpiresIn(time.Hour)}, // expired once the clock moves
			{"billing, current", secrets.ExpiresIn(365 * 24 * time.Hour)},
		}},
		{"Reports", false, []secret{{"reports web app", secrets.ExpiresIn(20 * 24 * time.Hour)}}},
		{"Legacy batch job", true, []secret{{"batch job", secrets.NeverExpires()}}},
		{"Mobile app", false, []secret{{"mobile app", secrets.ExpiresIn(200 * 24 * time.Hour)}}},
	}
	for _, s := range seeds {
		created, err := clients.Create(ctx, hybridclients.CreateRequest{
			Name:              s.name,
			Disabled:          s.disabled,
			RedirectURIs:      []string{"https://localhost:5001/signin-oidc"},
			SecretDescription: s.secrets[0].description,
			SecretExpiry:      s.secrets[0].expiry,
		})
		if err != nil {
			return err
		}
		for _, sec := range s.secrets[1:] {
			req := secrets.AddRequest{Description: sec.description, Expiry: sec.expiry}
			if _, err := clients.Secrets().Add(ctx, created.Client.ID, req); err != nil {
				return err
			}
		}
		// The secrets' values are not needed here: they are dropped unseen.
	}
	env.AdvanceClock(48 * time.Hour)
	fmt.Fprintf(os.Stderr, "emulator: seeded %d clients; its clock is now 48h ahead, so one secret has expired\n", len(seeds))
	return nil
}
