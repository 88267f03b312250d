// Command audit walks every hybrid client of a tenant and reports what needs attention:
// secrets that have expired or expire within -days with nothing to replace them, secrets
// that never expire, clients without a secret; and, for information, disabled clients and
// the old secrets of rotations (retiring, retired). It prints a table, or JSON with -json,
// and its exit status says whether a person is needed (see -h), so that it can run from
// cron.
//
// It checks -concurrency clients at once (hybridclients.ScanExpiry), slowing down by itself
// when the service throttles, and shows its progress on one line of stderr when stderr is
// a terminal. Its default -timeout grows with the tenant's size; when it runs out, or on
// Ctrl-C, it prints what it has checked, marked partial.
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
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
	"golang.org/x/term"
)

// Exit statuses beyond 0 (no finding). A misused flag is an error too: 2 means findings
// and nothing else.
const (
	exitError    = 1 // the audit could not be done, or not for every client
	exitFindings = 2 // the audit is complete, and something needs a person
)

// Report is what the audit found. Its JSON form is the output of -json.
type Report struct {
	AsOf       time.Time `json:"asOf"`
	WithinDays int       `json:"withinDays"`
	// Partial is null when the audit checked every client; else it stopped early.
	Partial *Partial `json:"partial"`
	// Clients counts the clients checked, Secrets their secrets.
	Clients int `json:"clients"`
	Secrets int `json:"secrets"`
	// Findings counts what needs a person: the entries of Expired, ExpiringSoon,
	// NeverExpiring and NoSecret.
	Findings      int      `json:"findings"`
	Expired       []Secret `json:"expired"`
	ExpiringSoon  []Secret `json:"expiringSoon"`
	NeverExpiring []Secret `json:"neverExpiring"`
	NoSecret      []Client `json:"noSecret"`
	// Not findings: disabled clients, and secrets that another secret of their client
	// outlives (secrets.ExpiryReport's Retiring and Retired).
	Disabled []Client `json:"disabled"`
	Retiring []Secret `json:"retiring"`
	Retired  []Secret `json:"retired"`
	// Failed lists the clients whose secrets could not be listed.
	Failed []Failure `json:"failed"`
}

// Partial says how far an audit that stopped early came.
type Partial struct {
	Checked int    `json:"checked"`
	Total   int    `json:"total"`
	Reason  string `json:"reason"`
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
	asJSON, emulateHealthy            bool
	emulateLatency, emulateJitter     time.Duration
	emulateRate                       float64
	emulateSeed                       int64
	timeout                           func() (time.Duration, bool)
}

// The default deadline: timeoutBase, plus timeoutPerClient for each client shared among
// up to DefaultConcurrency workers. At 50,000 clients and the default concurrency that is
// 28 minutes, about 14 times what the scan takes at a 20 ms round trip: room for a distant
// region and a throttling service, and still an end for a job that nobody watches.
const (
	timeoutBase      = 2 * time.Minute
	timeoutPerClient = 250 * time.Millisecond
	// countTimeout bounds the count of the clients that the default deadline derives from.
	countTimeout = time.Minute
)

const timeoutUsage = "give up after this long (counting the clients included) and print what was checked, marked partial; 0: never (stop with Ctrl-C). " +
	"Default: from the tenant's size, counted first with one request: 2m plus 250ms per client shared among up to 8 workers (-concurrency), " +
	"28m for 50,000 clients, 14 times a scan at a 20 ms round trip, so that a cron job ends even when the service stalls"

const exitHelp = `
Findings, which need a person: secrets that have expired or expire within -days while no
other secret of their client works beyond -days (a lockout, now or ahead); secrets that
never expire (the service advises against them); clients without a secret.
Not findings: disabled clients; retiring secrets, which expire within -days but another
secret of their client works beyond them (a rotation's old secrets: listed, as an
application still using one is locked out when it expires); retired secrets, expired but
likewise replaced (counted: each takes one of its client's 10 places until deleted).

Exit status: 0 no finding; 2 findings, every client checked; 1 the audit could not be
done, or not for every client (a client whose secrets could not be listed, -timeout or
Ctrl-C: the report of what was checked is printed, marked partial), or a misused flag.
`

func main() {
	p := exampleenv.New("audit", "report hybrid clients and secrets that need a person: expired, expiring with nothing to replace them, never expiring")
	f := addFlags(p)
	p.RunStatus(os.Args[1:], func(ctx context.Context, env *exampleenv.Env) (int, error) {
		clients, err := hybridclients.New(env.Config)
		if err != nil {
			return 0, err
		}
		if env.Emulated() {
			if err := seed(ctx, env, clients, f); err != nil {
				return 0, fmt.Errorf("seeding the emulator: %w", err)
			}
		}
		return run(ctx, clients, f, env.Now())
	})
}

// run counts the clients, audits them within the deadline, prints the report and returns
// the exit status (exitFindings when there are findings) or an error (exit status 1).
func run(ctx context.Context, clients *hybridclients.Client, f *flags, now time.Time) (int, error) {
	timeout, given := f.timeout()
	actx, cancel := ctx, context.CancelFunc(func() {})
	if given && timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	cctx, ccancel := actx, context.CancelFunc(func() {})
	if !given {
		cctx, ccancel = context.WithTimeout(actx, countTimeout)
	}
	total, err := clients.Count(cctx, hybridclients.CountOptions{})
	ccancel()
	if err != nil {
		return 0, fmt.Errorf("counting the clients: %w", err)
	}
	if !given {
		timeout = derivedTimeout(total, f.concurrency)
		actx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	r, scanErr := audit(actx, clients, f, now, total)
	if scanErr != nil {
		r.Partial.Reason = stopReason(ctx, actx, scanErr, timeout, given, total)
	}
	r.finish()
	if err := printReport(os.Stdout, r, f.asJSON); err != nil {
		return 0, err
	}
	switch {
	case scanErr != nil && ctx.Err() != nil:
		return 0, fmt.Errorf("the report is partial, %d of %d clients checked: %w", r.Partial.Checked, r.Partial.Total, ctx.Err())
	case scanErr != nil:
		return 0, fmt.Errorf("the report is partial, %d of %d clients checked: %s", r.Partial.Checked, r.Partial.Total, r.Partial.Reason)
	case len(r.Failed) > 0:
		return 0, fmt.Errorf("%d of %d clients could not be checked (listed in the report)", len(r.Failed), r.Clients)
	case r.Findings > 0:
		return exitFindings, nil
	}
	return 0, nil
}

// derivedTimeout is the default deadline of an audit of n clients at concurrency workers.
func derivedTimeout(n, concurrency int) time.Duration {
	n = min(n, 10_000_000) // a Total-Count far past the service's 50,000 must not overflow
	workers := max(1, min(concurrency, hybridclients.DefaultConcurrency))
	return timeoutBase + (time.Duration(n) * timeoutPerClient / time.Duration(workers)).Round(time.Second)
}

// stopReason says why the scan stopped with err: ctx is the program's (Ctrl-C), actx the
// audit's (its deadline).
func stopReason(ctx, actx context.Context, err error, timeout time.Duration, given bool, total int) string {
	switch {
	case ctx.Err() != nil:
		return "interrupted"
	case errors.Is(actx.Err(), context.DeadlineExceeded) && given:
		return fmt.Sprintf("gave up after -timeout %s", timeout)
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("gave up after %s, the default -timeout for %d clients", timeout, total)
	}
	return exampleenv.OneLine(err)
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
	fs.BoolVar(&f.emulateHealthy, "emulate-healthy", false, "emulator only: seed only clients that need nothing (exit status 0); not with -emulate-clients")
	f.timeout = p.OwnTimeout(timeoutUsage)
	p.UsageStatus = exitError
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), exitHelp)
	}
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
		case f.emulateHealthy && f.emulateClients > 0:
			return errors.New("-emulate-healthy does not go with -emulate-clients, whose secrets include findings")
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

// audit checks every client's secrets, f.concurrency clients at once, until ctx ends. Its
// error is the scan's: the report then holds what was checked, and Partial is set.
func audit(ctx context.Context, clients *hybridclients.Client, f *flags, now time.Time, counted int) (*Report, error) {
	within := time.Duration(f.days) * 24 * time.Hour
	r := newReport(now, f.days)
	bar := newProgress(os.Stderr, !f.asJSON && term.IsTerminal(int(os.Stderr.Fd())))
	defer bar.finish()
	var last hybridclients.Progress
	opts := hybridclients.ScanOptions{Concurrency: f.concurrency, OnProgress: func(p hybridclients.Progress) {
		last = p
		bar.update(p)
	}}
	for res, err := range hybridclients.ScanExpiry(ctx, clients, within, opts) {
		if err != nil {
			r.Partial = &Partial{Checked: r.Clients, Total: max(counted, last.Total, r.Clients)}
			return r, err
		}
		r.add(res.Client, res.Value, res.Err)
	}
	return r, nil
}

func newReport(now time.Time, days int) *Report {
	return &Report{AsOf: now.UTC().Truncate(time.Second), WithinDays: days, Expired: []Secret{}, ExpiringSoon: []Secret{},
		NeverExpiring: []Secret{}, NoSecret: []Client{}, Disabled: []Client{}, Retiring: []Secret{}, Retired: []Secret{}, Failed: []Failure{}}
}

// add records the result of one client: its secrets' report v, or err.
func (r *Report) add(hc hybridclients.HybridClient, v secrets.ExpiryReport, err error) {
	r.Clients++
	c := Client{ID: hc.ID, Name: hc.Name}
	if !hc.Enabled {
		r.Disabled = append(r.Disabled, c)
	}
	if err != nil {
		r.Failed = append(r.Failed, Failure{Client: c, Error: exampleenv.OneLine(err)})
		return
	}
	r.Secrets += v.Len()
	if v.Len() == 0 {
		r.NoSecret = append(r.NoSecret, c)
	}
	r.Expired = append(r.Expired, secretsOf(c, v.Expired)...)
	r.ExpiringSoon = append(r.ExpiringSoon, secretsOf(c, v.ExpiringSoon)...)
	r.NeverExpiring = append(r.NeverExpiring, secretsOf(c, v.NeverExpiring)...)
	r.Retiring = append(r.Retiring, secretsOf(c, v.Retiring)...)
	r.Retired = append(r.Retired, secretsOf(c, v.Retired)...)
}

// finish counts the findings and puts every list in a stable order (results come in
// completion order): the most urgent first, then by client name.
func (r *Report) finish() {
	r.Findings = len(r.Expired) + len(r.ExpiringSoon) + len(r.NeverExpiring) + len(r.NoSecret)
	byName := func(a, b Client) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) }
	bySecret := func(a, b Secret) int { return cmp.Or(byName(a.Client, b.Client), cmp.Compare(a.SecretID, b.SecretID)) }
	byExpiration := func(a, b Secret) int { return cmp.Or(a.Expiration.Compare(*b.Expiration), bySecret(a, b)) }
	for _, l := range [][]Secret{r.Expired, r.ExpiringSoon, r.Retiring, r.Retired} {
		slices.SortFunc(l, byExpiration)
	}
	slices.SortFunc(r.NeverExpiring, bySecret)
	slices.SortFunc(r.NoSecret, byName)
	slices.SortFunc(r.Disabled, byName)
	slices.SortFunc(r.Failed, func(a, b Failure) int { return byName(a.Client, b.Client) })
}

func secretsOf(c Client, list []secrets.ClientSecret) []Secret {
	out := make([]Secret, len(list))
	for i, m := range list {
		out[i] = Secret{Client: c, SecretID: m.ID, Description: m.Description}
		if t := m.Expiry.At(); !t.IsZero() {
			out[i].Expiration = &t
		}
	}
	return out
}

// printReport prints r as JSON, or as a table: one line per finding, disabled client and
// retiring secret, then a summary; retired secrets are only counted.
func printReport(w io.Writer, r *Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	clients := fmt.Sprint(r.Clients)
	if p := r.Partial; p != nil {
		fmt.Fprintf(w, "PARTIAL REPORT: %d of %d clients checked (%s)\n\n", p.Checked, p.Total, p.Reason)
		clients = fmt.Sprintf("%d of %d", p.Checked, p.Total)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FINDING\tCLIENT ID\tCLIENT NAME\tSECRET\tDESCRIPTION\tEXPIRES")
	rows := func(finding string, list []Secret) {
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", finding, s.ID, s.Name, s.SecretID, s.Description, when(s.Expiration, r.AsOf))
		}
	}
	rows("expired", r.Expired)
	rows("expiring", r.ExpiringSoon)
	rows("never expires", r.NeverExpiring)
	for _, c := range r.NoSecret {
		fmt.Fprintf(tw, "no secret\t%s\t%s\t-\t-\t-\n", c.ID, c.Name)
	}
	rows("retiring", r.Retiring)
	for _, c := range r.Disabled {
		fmt.Fprintf(tw, "disabled\t%s\t%s\t-\t-\t-\n", c.ID, c.Name)
	}
	for _, c := range r.Failed {
		fmt.Fprintf(tw, "not checked\t%s\t%s\t-\t%s\t-\n", c.ID, c.Name, c.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s clients, %d secrets, as of %s: %d expired, %d expiring within %d days, %d never expiring, %d without a secret: %d findings\n"+
		"not findings: %d disabled; %d retiring, %d retired (another secret of their client works beyond %d days)\n",
		clients, r.Secrets, r.AsOf.Format(time.RFC3339), len(r.Expired), len(r.ExpiringSoon), r.WithinDays, len(r.NeverExpiring), len(r.NoSecret), r.Findings,
		len(r.Disabled), len(r.Retiring), len(r.Retired), r.WithinDays)
	return err
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

// seed fills the emulator with clients whose secrets fall in every category: it creates
// them, rotates one with a grace period of three days, moves the emulator's clock two days
// ahead (so that the secrets made to expire in an hour have expired and the rotation's old
// secret is still in its grace period), adds -emulate-clients clients with 1 to 3 secrets
// each without HTTP, and deletes the secret of the client meant to have none.
func seed(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, f *flags) error {
	type secret struct {
		description string
		expiry      secrets.Expiry
	}
	type client struct {
		name          string
		disabled      bool
		secrets       []secret // the first is made with the client
		rotate, strip bool     // rotated with a grace period; left without a secret
		healthy       bool     // needs nothing: seeded with -emulate-healthy too
	}
	hour, day := time.Hour, 24*time.Hour
	seeds := []client{
		{name: "Billing portal", healthy: true, secrets: []secret{ // a finished rotation: retired
			{"billing, old", secrets.ExpiresIn(hour)},
			{"billing, current", secrets.ExpiresIn(365 * day)},
		}},
		{name: "Inventory service", healthy: true, rotate: true, secrets: []secret{{"inventory, 2025", secrets.ExpiresIn(200 * day)}}},
		{name: "Mobile app", healthy: true, secrets: []secret{{"mobile app", secrets.ExpiresIn(200 * day)}}},
		{name: "Reports", secrets: []secret{{"reports web app", secrets.ExpiresIn(20 * day)}}},
		{name: "Kiosk", secrets: []secret{{"kiosk", secrets.ExpiresIn(hour)}}},
		{name: "Legacy batch job", disabled: true, secrets: []secret{{"batch job", secrets.NeverExpires()}}},
		{name: "Lab test", strip: true, secrets: []secret{{"lab", secrets.ExpiresIn(30 * day)}}},
	}
	var strip []secretRef
	n := 0
	for _, s := range seeds {
		if f.emulateHealthy && !s.healthy {
			continue
		}
		n++
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
		// The secrets' values are not needed here: they are dropped unseen.
		for _, sec := range s.secrets[1:] {
			req := secrets.AddRequest{Description: sec.description, Expiry: sec.expiry}
			if _, err := clients.Secrets().Add(ctx, created.Client.ID, req); err != nil {
				return err
			}
		}
		if s.rotate {
			_, err := clients.Secrets().Rotate(ctx, created.Client.ID, secrets.RotateRequest{
				Description: "inventory, 2026",
				Store:       func(context.Context, secrets.Added) error { return nil },
				Grace:       3 * day,
			})
			if err != nil {
				return err
			}
		}
		if s.strip {
			strip = append(strip, secretRef{created.Client.ID, created.Secret.ID})
		}
	}
	env.AdvanceClock(2 * day)
	fmt.Fprintf(os.Stderr, "emulator: seeded %d clients, one rotated with 3 days' grace; its clock is now 48h ahead\n", n)
	if err := seedMany(env, f); err != nil {
		return err
	}
	for _, s := range strip {
		if err := clients.Secrets().Delete(ctx, s.clientID, s.secretID); err != nil {
			return err
		}
	}
	return nil
}

type secretRef struct {
	clientID string
	secretID int
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
