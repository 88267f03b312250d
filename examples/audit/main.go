// Command audit walks every hybrid client of a tenant and reports what needs attention:
// disabled clients, secrets that have expired, secrets that expire within -days, and
// secrets that never expire. It prints a table, or JSON with -json.
//
// It checks -concurrency clients at once (hybridclients.ScanExpiry), slowing down by itself
// when the service throttles, and shows its progress on stderr when stderr is a terminal.
//
//	go run ./examples/audit                  # on the in-process emulator, seeded
//	go run ./examples/audit -concurrency 32 -emulate-clients 50000 -emulate-latency 20ms -emulate-rate 400 >report.txt
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... go run ./examples/audit -days 14 -json
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
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
	// Failed lists the clients whose secrets could not be listed.
	Failed []Failure `json:"failed"`
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

// Failure is a client whose secrets could not be checked.
type Failure struct {
	Client
	Error string `json:"error"`
}

// flags are the audit's own flags.
type flags struct {
	days, concurrency, emulateClients int
	asJSON                            bool
	emulateLatency, emulateJitter     time.Duration
	emulateRate                       float64
	emulateSeed                       int64
}

func main() {
	p := exampleenv.New("audit", "report disabled hybrid clients and secrets that expired, expire soon or never expire")
	f := addFlags(p)
	p.Run(func(ctx context.Context, env *exampleenv.Env) error {
		clients, err := hybridclients.New(env.Config)
		if err != nil {
			return err
		}
		if env.Emulated() {
			if err := seed(ctx, env, clients, f); err != nil {
				return fmt.Errorf("seeding the emulator: %w", err)
			}
		}
		r, err := audit(ctx, clients, f, env.Now())
		if err != nil {
			return err
		}
		if err := printReport(r, f.asJSON); err != nil {
			return err
		}
		if len(r.Failed) > 0 {
			return fmt.Errorf("%d of %d clients could not be checked (listed in the report)", len(r.Failed), r.Clients)
		}
		return nil
	})
}

func addFlags(p *exampleenv.Program) *flags {
	f := &flags{}
	fs := p.Flags
	fs.IntVar(&f.days, "days", 30, "report secrets expiring within this many `days`")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fs.IntVar(&f.concurrency, "concurrency", hybridclients.DefaultConcurrency, fmt.Sprintf("check this many clients at once (1 to %d)", hybridclients.MaxConcurrency))
	fs.IntVar(&f.emulateClients, "emulate-clients", 0, "emulator only: add this many `clients` with 1 to 3 secrets each")
	fs.DurationVar(&f.emulateLatency, "emulate-latency", 0, "emulator only: answer every request after this `delay`, as a distant service")
	fs.DurationVar(&f.emulateJitter, "emulate-jitter", 0, "emulator only: plus a random `delay` of up to this long")
	fs.Float64Var(&f.emulateRate, "emulate-rate", 0, "emulator only: limit the API to this many `requests` per second (429 past it)")
	fs.Int64Var(&f.emulateSeed, "emulate-seed", 1, "emulator only: `seed` of the added secrets and the jitter")
	p.Check = func() error {
		switch {
		case f.days < 0:
			return errors.New("-days must not be negative")
		case f.concurrency < 1 || f.concurrency > hybridclients.MaxConcurrency:
			return fmt.Errorf("-concurrency must be from 1 to %d, not %d", hybridclients.MaxConcurrency, f.concurrency)
		case f.emulateClients < 0 || f.emulateClients > 50_000:
			return errors.New("-emulate-clients must be from 0 to 50000 (the service's limit)")
		case f.emulateLatency < 0 || f.emulateJitter < 0 || f.emulateRate < 0:
			return errors.New("-emulate-latency, -emulate-jitter and -emulate-rate must not be negative")
		}
		return nil
	}
	p.Emulator = func(o *hybridclientstest.Options) {
		o.MaxClients = f.emulateClients + 10 // the example's own clients and identities too
		o.Latency, o.LatencyJitter, o.Seed = f.emulateLatency, f.emulateJitter, f.emulateSeed
		o.RateLimit = f.emulateRate
	}
	return f
}

// audit checks every client's secrets, f.concurrency clients at once.
func audit(ctx context.Context, clients *hybridclients.Client, f *flags, now time.Time) (*Report, error) {
	within := time.Duration(f.days) * 24 * time.Hour
	r := &Report{AsOf: now.UTC().Truncate(time.Second), WithinDays: f.days, Disabled: []Client{}, Expired: []Secret{},
		ExpiringSoon: []Secret{}, NeverExpiring: []Secret{}, Failed: []Failure{}}
	bar := newProgress(!f.asJSON && term.IsTerminal(int(os.Stderr.Fd())))
	defer bar.finish()
	opts := hybridclients.ScanOptions{Concurrency: f.concurrency, OnProgress: bar.update}
	for res, err := range hybridclients.ScanExpiry(ctx, clients, within, opts) {
		if err != nil {
			return nil, err
		}
		r.Clients++
		c := Client{ID: res.Client.ID, Name: res.Client.Name}
		if !res.Client.Enabled {
			r.Disabled = append(r.Disabled, c)
		}
		if res.Err != nil {
			r.Failed = append(r.Failed, Failure{Client: c, Error: exampleenv.OneLine(res.Err)})
			continue
		}
		v := res.Value
		r.Secrets += v.Len()
		r.Expired = append(r.Expired, secretsOf(c, v.Expired, now)...)
		r.ExpiringSoon = append(r.ExpiringSoon, secretsOf(c, v.ExpiringSoon, now)...)
		r.NeverExpiring = append(r.NeverExpiring, secretsOf(c, v.NeverExpiring, now)...)
	}
	r.sort()
	return r, nil
}

// sort puts the findings in a stable order (results come in completion order): the most
// urgent first, then by client name.
func (r *Report) sort() {
	byName := func(a, b Client) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) }
	bySecret := func(a, b Secret) int { return cmp.Or(byName(a.Client, b.Client), cmp.Compare(a.SecretID, b.SecretID)) }
	byExpiration := func(a, b Secret) int { return cmp.Or(a.Expiration.Compare(*b.Expiration), bySecret(a, b)) }
	slices.SortFunc(r.Disabled, byName)
	slices.SortFunc(r.Expired, byExpiration)
	slices.SortFunc(r.ExpiringSoon, byExpiration)
	slices.SortFunc(r.NeverExpiring, bySecret)
	slices.SortFunc(r.Failed, func(a, b Failure) int { return byName(a.Client, b.Client) })
}

// progress is a progress bar on stderr (clients done of the total, rate, time left), or
// nothing when stderr is not a terminal.
type progress struct {
	on  bool
	bar *progressbar.ProgressBar
}

func newProgress(on bool) *progress { return &progress{on: on} }

func (p *progress) update(s hybridclients.Progress) {
	if !p.on {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(s.Total, progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("auditing"), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("clients"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30), progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }))
	}
	if s.Throttled > 0 {
		p.bar.Describe(fmt.Sprintf("auditing (%d throttled, limit %.0f/s)", s.Throttled, s.Rate))
	}
	_ = p.bar.Set(min(s.Done, s.Total))
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Exit()
		fmt.Fprintln(os.Stderr)
	}
}

func secretsOf(c Client, list []secrets.ClientSecret, now time.Time) []Secret {
	out := make([]Secret, len(list))
	for i, m := range list {
		out[i] = Secret{Client: c, SecretID: m.ID, Description: m.Description}
		if t := m.Expiry.At(); !t.IsZero() {
			out[i].Expiration = &t
		}
	}
	return out
}

// printReport prints r as JSON, or as a table: one line per finding, then a summary.
func printReport(r *Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
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
	for _, c := range r.Failed {
		fmt.Fprintf(tw, "not checked\t%s\t%s\t-\t%s\t-\n", c.ID, c.Name, c.Error)
	}
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
// its clock two days ahead so that the secret made to expire in an hour has expired; then
// adds -emulate-clients clients with 1 to 3 secrets each, without HTTP.
func seed(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, f *flags) error {
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
			Enabled:           identity.Ptr(!s.disabled),
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
	return seedMany(env, f)
}

// seedMany adds -emulate-clients clients with 1 to 3 secrets each, without HTTP.
func seedMany(env *exampleenv.Env, f *flags) error {
	if f.emulateClients == 0 {
		return nil
	}
	if err := env.Fake.SeedClients(f.emulateClients); err != nil {
		return err
	}
	if err := env.Fake.SeedSecrets(1, 3, f.emulateSeed); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "emulator: added %d clients with 1 to 3 secrets each (latency %s + up to %s, rate limit %s)\n",
		f.emulateClients, f.emulateLatency, f.emulateJitter, rateText(f.emulateRate))
	return nil
}

func rateText(perSecond float64) string {
	if perSecond <= 0 {
		return "none"
	}
	return fmt.Sprintf("%g/s", perSecond)
}
