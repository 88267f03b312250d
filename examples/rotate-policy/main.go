// Command rotate-policy runs a rotation policy across a tenant, for a scheduler: every
// hybrid client whose newest working secret expires within -renew-before (or, made by this
// policy, is older than -max-age) gets a new secret; once the identity server accepts it,
// its value goes to a file named after the client in the -store directory
// (identity.Secret.ReplaceFile: the old value or the new one, never neither), and then its
// old secrets are retired (hybridclients.ApplyRotations). Until then the file keeps the
// old, working value; a new secret never accepted is deleted again, the file untouched. -dry-run says who is due, why, and what would
// happen, and changes nothing. Run it as often as you like: a client rotated a moment ago is
// not due.
//
//	go run ./examples/rotate-policy              # on the in-process emulator: seeded clients, an hour of propagation
//	go run ./examples/rotate-policy -dry-run -json
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... \
//	  go run ./examples/rotate-policy -store /etc/myapps/secrets -renew-before 30d -lifetime 180d
//
// Exit status, for a scheduler: 0 nothing due, or every due client rotated; 1 an error (the
// run, or a client's rotation, failed: run again; or a misused flag); 2 what needs a person
// (a finding, such as a secret that never expires; a new secret the identity server never
// accepted; with -dry-run, any client due). Stopped by -timeout or Ctrl-C, it prints what it
// did so far, marked partial (each client rotated or begun, with its state: a new secret
// not yet accepted is deleted again, never stored, and the old ones untouched), and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

const exitStatus = `
Exit status, for a scheduler:
  0  nothing due, or every due client rotated
  1  an error: the run, or a client's rotation, failed (run again); or a misused flag
  2  needs a person: a finding (a secret that never expires, a client at the limit of
     secrets), a new secret the identity server never accepted (the old ones untouched),
     or, with -dry-run, any client due
Stopped by -timeout or Ctrl-C, it prints what it did so far, marked partial, and exits 1.
`

func main() {
	p := exampleenv.New("rotate-policy", "rotate the secrets of the hybrid clients that a rotation policy finds due, proving each new secret before retiring the old")
	o := addFlags(p)
	p.SetDefaultTimeout(2 * time.Hour) // the proofs may take the policy's ProofTimeout
	usage := p.Flags.Usage
	p.Flags.Usage = func() {
		usage()
		fmt.Fprint(p.Flags.Output(), exitStatus)
	}
	p.UsageStatus = 1 // 2 is a result: a typo must not read as one
	p.Emulator = func(opts *hybridclientstest.Options) { opts.PropagationDelay = o.emulatePropagation }
	p.RunStatus(os.Args[1:], func(ctx context.Context, env *exampleenv.Env) (int, error) {
		return run(ctx, env, o, os.Stdout, os.Stderr)
	})
}

// options are the command's flags; policy is the policy they make.
type options struct {
	policy             secrets.Policy
	retire             string
	store              string
	dryRun, asJSON     bool
	keep               bool
	concurrency        int
	tags               listFlag
	emulatePropagation time.Duration
	emulateFinding     bool
}

func addFlags(p *exampleenv.Program) *options {
	o := &options{}
	f := p.Flags
	f.Var(days{&o.policy.RenewBefore}, "renew-before", "rotate a client whose newest working secret expires within this `duration` (30d, 12h); 0 means 30 days")
	f.Var(days{&o.policy.MaxAge}, "max-age", "also rotate a client whose newest secret, made by this policy, is older than this `duration`; 0 means no limit")
	f.Var(days{&o.policy.Lifetime}, "lifetime", "the new secrets' `duration` (180d); 0 means one year")
	f.DurationVar(&o.policy.Grace, "grace", 0, "keep the retired secrets working this long after the new one is accepted; 0 means one hour")
	f.DurationVar(&o.policy.ProofTimeout, "proof-timeout", 0, "wait this long for the identity server to accept a new secret, then give up: store and retire nothing, delete the new secret; 0 means 1h10m")
	f.StringVar(&o.retire, "retire", "all", "which old secrets a rotation retires: all or expired")
	f.StringVar(&o.policy.Description, "description", "", "the new secrets' description; empty means \"rotated by policy on <date>\", which lets -max-age know their age")
	f.StringVar(&o.store, "store", "", "`directory` where each new secret's value goes, in a file named after the client id (mode 0600, replacing the old value in one step); required unless -dry-run; on the emulator a new temporary directory")
	f.BoolVar(&o.dryRun, "dry-run", false, "say which clients are due, why and what would happen; change nothing")
	f.BoolVar(&o.asJSON, "json", false, "print the results as JSON")
	f.IntVar(&o.concurrency, "concurrency", 0, "clients worked on at once, 1 to 256; 0 means 8")
	f.Var(&o.tags, "tag", "only clients with this `tag` (repeat for any of several)")
	f.BoolVar(&o.keep, "keep", false, "on the emulator: keep the temporary -store directory")
	f.DurationVar(&o.emulatePropagation, "emulate-propagation", time.Hour, "on the emulator: how long a new secret takes to reach sign-in (its clock runs forward while the proofs wait)")
	f.BoolVar(&o.emulateFinding, "emulate-finding", false, "on the emulator: also seed a client whose secret never expires, a finding for a person")
	p.Check = func() error {
		switch o.retire {
		case "all":
			o.policy.Retire = secrets.RetireAll()
		case "expired":
			o.policy.Retire = secrets.RetireExpired()
		default:
			return fmt.Errorf("-retire must be all or expired, not %q", o.retire)
		}
		if o.concurrency < 0 || o.concurrency > hybridclients.MaxConcurrency {
			return fmt.Errorf("-concurrency must be from 1 to %d, not %d", hybridclients.MaxConcurrency, o.concurrency)
		}
		if err := o.policy.Validate(); err != nil {
			return flagNames(err)
		}
		return nil
	}
	return o
}

// run checks the store, seeds the emulator, applies (or plans) the policy, reports (what
// was done so far, marked partial, when the run stops early), and returns the exit status:
// 0, or 2 for what needs a person; an error is 1.
func run(ctx context.Context, env *exampleenv.Env, o *options, stdout, stderr io.Writer) (int, error) {
	if env.Emulated() {
		// The proofs wait on the Config's clock: on the emulator it runs forward instead,
		// so the emulated hour of propagation passes at once.
		env.Config.Clock = env.Clock()
	}
	clients, err := hybridclients.New(env.Config)
	if err != nil {
		return 0, err
	}
	defer clients.CloseIdleConnections()
	dir, cleanup, err := storeDir(env, o, stderr)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	if env.Emulated() {
		if err := seed(ctx, env, clients, dir, o, stderr); err != nil {
			return 0, err
		}
	}
	rep := newReport(env.Now(), o)
	stopped := o.apply(ctx, clients, dir, rep)
	if stopped != nil {
		rep.Partial = &partial{Reason: stopReason(stopped)}
	}
	if err := rep.print(stdout, o.asJSON); err != nil {
		return 0, err
	}
	if stopped != nil {
		return 0, fmt.Errorf("the report is partial, %d clients reported: %w", rep.Summary.Clients, stopped)
	}
	if env.Emulated() && !o.dryRun {
		if err := checkOnEmulator(ctx, env, clients, dir, o, rep, stderr); err != nil {
			return 0, err
		}
	}
	return rep.status(stderr)
}

// stopReason says why the run stopped before every client was done.
func stopReason(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		return "gave up after -timeout"
	}
	return exampleenv.OneLine(err)
}

// apply runs the policy over the tenant, into rep.
func (o *options) apply(ctx context.Context, clients *hybridclients.Client, dir string, rep *report) error {
	policyFor := func(hybridclients.HybridClient) (secrets.Policy, bool) { return o.policy, true }
	scan := hybridclients.ScanOptions{Concurrency: o.concurrency, List: hybridclients.ListOptions{Tags: o.tags}}
	if o.dryRun {
		for r, err := range hybridclients.PlanRotations(ctx, clients, policyFor, scan) {
			if err != nil {
				return err
			}
			rep.add(r.Client, r.Value, nil, r.Err)
		}
		return nil
	}
	store := func(_ context.Context, clientID string, s secrets.Added) error {
		return s.Value.ReplaceFile(filepath.Join(dir, clientID))
	}
	for r, err := range hybridclients.ApplyRotations(ctx, clients, policyFor, store, scan) {
		if err != nil {
			return err
		}
		rep.add(r.Client, r.Value.Plan, r.Value.Rotation, r.Err)
	}
	return nil
}

// storeDir returns the -store directory, checked, or on the emulator a new temporary one,
// and what removes it at the end.
func storeDir(env *exampleenv.Env, o *options, stderr io.Writer) (string, func(), error) {
	nothing := func() {}
	switch {
	case o.store != "":
		return o.store, nothing, exampleenv.CheckDir("-store", o.store)
	case o.dryRun:
		return "", nothing, nil
	case !env.Emulated():
		return "", nothing, errors.New("-store is required (unless -dry-run): the directory where each new secret's value goes")
	}
	dir, err := os.MkdirTemp("", "rotate-policy-*")
	if err != nil {
		return "", nothing, err
	}
	if o.keep {
		fmt.Fprintln(stderr, "emulator: the secrets' files are in", dir)
		return dir, nothing, nil
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// report collects the results, and prints them.
type report struct {
	AsOf    time.Time `json:"asOf"`
	DryRun  bool      `json:"dryRun"`
	Clients []result  `json:"clients"`
	Summary summary   `json:"summary"`
	// Partial is null when every client was done; else the run stopped early, and the
	// report holds what was done so far.
	Partial *partial `json:"partial"`
	failed  bool     // a client's rotation failed (not for a person)
}

// partial says why a run stopped before every client was done.
type partial struct {
	Reason string `json:"reason"`
}

// result is one client's outcome. It never holds a secret's value.
type result struct {
	ID         string     `json:"clientId"`
	Name       string     `json:"clientName"`
	Outcome    string     `json:"outcome"` // rotated, due, not due, finding, not proven, failed
	Reason     string     `json:"reason,omitempty"`
	Finding    string     `json:"finding,omitempty"`
	Plan       string     `json:"plan,omitempty"` // with -dry-run: what a rotation would do
	Step       string     `json:"step,omitempty"`
	NewSecret  int        `json:"newSecretId,omitempty"`
	ProvenAt   *time.Time `json:"provenAt,omitempty"`
	Probes     int        `json:"probes,omitempty"`
	Shortened  []int      `json:"shortened,omitempty"`
	Deleted    []int      `json:"deleted,omitempty"`
	Kept       []int      `json:"kept,omitempty"`
	NotRetired []int      `json:"notRetired,omitempty"`
	Error      string     `json:"error,omitempty"`
}

type summary struct {
	Clients   int `json:"clients"`
	Rotated   int `json:"rotated"`
	Due       int `json:"due"`
	NotDue    int `json:"notDue"`
	Findings  int `json:"findings"`
	NotProven int `json:"notProven"`
	Failed    int `json:"failed"`
}

func newReport(asOf time.Time, o *options) *report {
	return &report{AsOf: asOf, DryRun: o.dryRun, Clients: []result{}}
}

// add files one client's outcome.
func (r *report) add(hc hybridclients.HybridClient, plan secrets.Plan, rot *secrets.Rotation, err error) {
	res := result{ID: hc.ID, Name: hc.Name, Reason: plan.Reason, Finding: plan.Finding}
	if rot != nil {
		res.Step, res.NewSecret, res.Probes = rot.Step.String(), rot.New.ID, rot.Probes
		if !rot.ProvenAt.IsZero() {
			res.ProvenAt = &rot.ProvenAt
		}
		res.Shortened, res.Deleted, res.Kept, res.NotRetired = ids(rot.Shortened), ids(rot.Deleted), ids(rot.Kept), ids(rot.NotRetired)
	}
	r.Summary.Clients++
	switch {
	case errors.Is(err, secrets.ErrNotProven) || errors.Is(err, secrets.ErrLockoutRisk) || errors.Is(err, identity.ErrOutcomeUnknown):
		res.Outcome, res.Error = "not proven", exampleenv.OneLine(err)
		r.Summary.NotProven++
	case err != nil:
		res.Outcome, res.Error = "failed", exampleenv.OneLine(err)
		r.Summary.Failed++
		r.failed = true
	case plan.Finding != "":
		res.Outcome = "finding"
		r.Summary.Findings++
	case plan.Rotates() && r.DryRun:
		res.Outcome, res.Plan = "due", plan.String()
		r.Summary.Due++
	case rot != nil && rot.Step == secrets.StepDone:
		res.Outcome = "rotated"
		r.Summary.Rotated++
	default:
		res.Outcome = "not due"
		r.Summary.NotDue++
	}
	r.Clients = append(r.Clients, res)
}

func ids(ss []secrets.ClientSecret) []int {
	var out []int
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

// print writes the report: JSON, or a line per client that is not simply "not due", and
// a summary.
func (r *report) print(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if r.Partial != nil {
		fmt.Fprintf(w, "PARTIAL REPORT: the run stopped after %d clients (%s); a client not listed was not done\n", len(r.Clients), r.Partial.Reason)
	}
	for _, c := range r.Clients {
		var what string
		switch c.Outcome {
		case "not due":
			continue
		case "rotated":
			what = fmt.Sprintf("new secret %d, accepted by the identity server at %s (%d probes)", c.NewSecret, c.ProvenAt.UTC().Format(time.RFC3339), c.Probes)
			for _, part := range []struct {
				ids  []int
				what string
			}{{c.Shortened, "work until the grace ends"}, {c.Kept, "expire within the grace"}, {c.Deleted, "deleted"}} {
				if len(part.ids) > 0 {
					what += fmt.Sprintf("; old secrets %v %s", part.ids, part.what)
				}
			}
		case "due":
			what = strings.TrimPrefix(c.Plan, "due: ")
		case "finding":
			what = c.Finding
		default:
			what = c.Error
		}
		fmt.Fprintf(w, "%-10s %s %s: %s\n", c.Outcome, c.ID, strconv.Quote(c.Name), what)
	}
	s := r.Summary
	fmt.Fprintf(w, "%d clients as of %s: %d rotated, %d due, %d not due, %d findings, %d not proven, %d failed%s\n",
		s.Clients, r.AsOf.UTC().Format(time.RFC3339), s.Rotated, s.Due, s.NotDue, s.Findings, s.NotProven, s.Failed, map[bool]string{true: " (dry run: nothing changed)"}[r.DryRun])
	return nil
}

// status is the run's exit status: an error (1) for a failure, 2 for what needs a person,
// said in a line on stderr.
func (r *report) status(stderr io.Writer) (int, error) {
	s := r.Summary
	switch {
	case r.failed:
		return 0, fmt.Errorf("%d of %d clients failed", s.Failed, s.Clients)
	case s.Findings+s.NotProven > 0 || (r.DryRun && s.Due > 0):
		fmt.Fprintf(stderr, "rotate-policy: needs a person: %d due, %d findings, %d not proven\n", s.Due, s.Findings, s.NotProven)
		return 2, nil
	}
	return 0, nil
}

// days is a flag.Value for a duration that also takes whole days: "30d", or "12h".
type days struct{ d *time.Duration }

func (f days) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	if *f.d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", *f.d/(24*time.Hour))
	}
	return f.d.String()
}

func (f days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil {
			return fmt.Errorf("%q is not a number of days", s)
		}
		*f.d = time.Duration(v) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither days (30d) nor a duration (12h)", s)
	}
	*f.d = d
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// flagNames renames the policy's fields in its validation errors to the flags that set
// them.
func flagNames(err error) error {
	names := map[string]string{"RenewBefore": "-renew-before", "MaxAge": "-max-age", "Lifetime": "-lifetime", "Grace": "-grace",
		"ProofTimeout": "-proof-timeout", "Description": "-description", "Retire": "-retire"}
	var parts []string
	for _, ve := range identity.ValidationErrors(err) {
		parts = append(parts, fmt.Sprintf("%s %s (got %v)", names[ve.Field], ve.Rule, ve.Value))
	}
	return errors.New(strings.Join(parts, "; "))
}

// seed makes the emulator's clients: three due (a secret expiring in 10 days, whose value
// the application's file in dir holds), two not due, one disabled, and with
// -emulate-finding one whose secret never expires; then lets them reach sign-in.
func seed(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, dir string, o *options, stderr io.Writer) error {
	const day = 24 * time.Hour
	type spec struct {
		name     string
		life     time.Duration // 0: never expires
		disabled bool
	}
	specs := []spec{{"billing web app", 10 * day, false}, {"reports", 5 * day, false}, {"inventory sync", 20 * day, false},
		{"payroll", 200 * day, false}, {"warehouse", 300 * day, false}, {"retired portal", 3 * day, true}}
	if o.emulateFinding {
		specs = append(specs, spec{"legacy batch job", 0, false})
	}
	for _, s := range specs {
		req := hybridclients.CreateRequest{Name: s.name, RedirectURIs: []string{"https://apps.example.com/signin-oidc"},
			SecretDescription: "first secret", SecretExpiry: secrets.NeverExpires(), Tags: o.tags}
		if s.life > 0 {
			req.SecretExpiry = secrets.ExpiresIn(s.life)
		}
		if s.disabled {
			req.Enabled = identity.Ptr(false)
		}
		created, err := clients.Create(ctx, req)
		if err != nil {
			return err
		}
		if dir != "" {
			if err := created.Secret.Value.ReplaceFile(filepath.Join(dir, created.Client.ID)); err != nil {
				return err
			}
		}
	}
	env.AdvanceClock(o.emulatePropagation) // the new clients have reached sign-in
	fmt.Fprintf(stderr, "emulator: created %d clients (3 due within 30 days), a new secret reaching sign-in after %s\n", len(specs), o.emulatePropagation)
	return nil
}

// checkOnEmulator asks the emulator whether each rotated client's file signs in, and
// whether a second run now would rotate anyone.
func checkOnEmulator(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, dir string, o *options, rep *report, stderr io.Writer) error {
	works := 0
	for _, c := range rep.Clients {
		if c.Outcome != "rotated" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, c.ID))
		if err != nil {
			return err
		}
		if env.Fake.CheckSecret(c.ID, identity.NewSecret(string(b))) {
			works++
		}
	}
	again := 0
	policyFor := func(hybridclients.HybridClient) (secrets.Policy, bool) { return o.policy, true }
	for r, err := range hybridclients.PlanRotations(ctx, clients, policyFor, hybridclients.ScanOptions{List: hybridclients.ListOptions{Tags: o.tags}}) {
		if err != nil {
			return err
		}
		if r.Value.Rotates() {
			again++
		}
	}
	fmt.Fprintf(stderr, "emulator: the stored values of %d of %d rotated clients sign in; a second run now would rotate %d\n", works, rep.Summary.Rotated, again)
	return nil
}
