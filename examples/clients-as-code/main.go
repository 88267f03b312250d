// Command clients-as-code manages a tenant's hybrid clients as code with the SDK's
// hybridclients/desired package: a desired-state file that people edit (YAML or JSON) is
// planned against the tenant (plan), applied (apply), or written from the tenant (export).
// A client with a secret policy has its secrets rotated when the policy finds them due,
// the new secret proven before the old ones are retired. Secret values never appear in a
// plan, an export or the record: each client's secret goes to its own file (mode 0600) in
// -secrets-dir, a rotated value in place of the old one.
//
//	go run ./examples/clients-as-code plan                   # on the emulator, with testdata/clients.yaml
//	go run ./examples/clients-as-code plan -delete -unmanaged
//	go run ./examples/clients-as-code apply -auto -delete    # an hour of propagation passes at once
//	go run ./examples/clients-as-code export
//
// On a tenant (OCS_TENANT_ID, OCS_CLIENT_ID, OCS_CLIENT_SECRET set):
//
//	go run ./examples/clients-as-code export -out clients.yaml      # adopt what is there
//	go run ./examples/clients-as-code plan -file clients.yaml -out plan.json
//	go run ./examples/clients-as-code apply -file clients.yaml -secrets-dir ./secrets plan.json
//
// With a saved plan, -file gives the record beside it and the clients the file lists as
// removed: apply deletes no client that neither names, whatever the plan says. The record
// is kept per tenant, NAME.TENANT-ID.record.json beside -file (clients.<tenant id>.record.json
// for clients.yaml), and names its tenant: one file applied to several tenants (dev, test,
// prod) has a record for each, and a record of another tenant is refused. On the emulator,
// a new tenant on every run, no record is kept unless -record names one.
//
// Exit status: 0 no changes (plan) or done (apply, export), 2 changes planned (plan), 1 an
// error (a misused flag included).
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/desired"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// sample is the desired state the emulator demonstrates when no -file is given.
//
//go:embed testdata/clients.yaml
var sample []byte

const summary = "plan, apply and export a tenant's hybrid clients as code"

const usage = `clients-as-code: ` + summary + `

Usage: go run ./examples/clients-as-code COMMAND [flags] [arguments]

Commands:
  plan     show what apply would change (exit status 2 when something would change),
           secrets that a client's policy finds due included
  apply    carry out a saved plan (apply plan.json), or plan and apply at once (apply -auto);
           a rotation waits until the identity server accepts the new secret (up to an
           hour on a tenant) before it retires the old ones
  export   write the tenant's clients as a desired-state file, without secrets

Run a command with -h for its flags. Without OCS_* variables it runs against an
in-process emulator seeded with a few clients (one with a secret due for rotation), and
the sample testdata/clients.yaml; the emulated hour a change takes to reach sign-in
passes at once.

Exit status: 0 no changes (plan) or done (apply, export); 2 changes planned (plan);
1 an error: a misused flag, a broken desired-state file, a stale plan, a failed client.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "-help" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprint(os.Stderr, usage)
		if len(os.Args) < 2 {
			os.Exit(1)
		}
		os.Exit(0)
	}
	o := &options{cmd: os.Args[1]}
	p, err := o.program()
	if err != nil {
		fmt.Fprintf(os.Stderr, "clients-as-code: %v (see -h)\n", err)
		os.Exit(1)
	}
	p.RunStatus(os.Args[2:], func(ctx context.Context, env *exampleenv.Env) (int, error) {
		return run(ctx, env, o, os.Stdout, os.Stderr)
	})
}

// options are the command and its flags.
type options struct {
	cmd                     string
	file, record            string
	delete, unmanaged, json bool
	out                     string
	force                   bool
	auto, keep              bool
	planFile, secretsDir    string
	concurrency             int
	ids, tags, format       string
}

// program returns the command's flags and checks, with exit status 1 for a misuse (2
// means "changes" here).
func (o *options) program() (*exampleenv.Program, error) {
	p := exampleenv.New("clients-as-code "+o.cmd, commandSummary[o.cmd])
	p.UsageStatus = 1
	p.Emulator = func(opts *hybridclientstest.Options) { opts.PropagationDelay = secrets.PropagationDelay }
	fl := p.Flags
	fileFlags := func() {
		fl.StringVar(&o.file, "file", "", "desired-state `file` (.yaml, .yml or .json); on the emulator, default the sample testdata/clients.yaml")
		fl.StringVar(&o.record, "record", "", "`file` of the ids of managed clients and the tenant they are of (ids only, mode 0600); default beside -file, one per tenant: NAME.TENANT-ID.record.json; on the emulator, none")
		fl.BoolVar(&o.delete, "delete", false, "delete managed clients the file no longer wants (listed under removed, or recorded by an earlier apply); never any other")
	}
	switch o.cmd {
	case "plan":
		fileFlags()
		fl.BoolVar(&o.unmanaged, "unmanaged", false, "also list the tenant's clients that neither the file nor the record names (they are never changed)")
		fl.BoolVar(&o.json, "json", false, "write the plan as JSON instead of text")
		fl.StringVar(&o.out, "out", "", "also save the plan as JSON to this new `file` (mode 0600), for apply; never the -file or the record")
		fl.BoolVar(&o.force, "force", false, "let -out replace an existing file (never the -file or the record)")
		p.Check = func() error { return o.checkOut("") } // the record's path is known with the tenant: run checks it too
	case "apply":
		fileFlags()
		p.Args, p.MaxArgs = "[plan.json]", 1
		p.SetDefaultTimeout(2 * time.Hour) // a rotation's proof may take its policy's ProofTimeout
		fl.BoolVar(&o.auto, "auto", false, "plan and apply at once, instead of applying a saved plan")
		fl.StringVar(&o.secretsDir, "secrets-dir", "", "`directory` of the secrets, one file CLIENT-ID.secret (mode 0600) each: a new client's written, a rotated one's value replaced; required on a tenant; on the emulator, default a temporary directory removed at the end")
		fl.BoolVar(&o.keep, "keep", false, "on the emulator: keep the temporary secrets directory")
		fl.IntVar(&o.concurrency, "concurrency", 0, "clients worked on at once, 1 to 256 (default 8); lowered while the service throttles")
		p.Check = func() error {
			if p.Flags.NArg() == 1 {
				o.planFile = p.Flags.Arg(0)
			}
			switch {
			case o.auto == (o.planFile != ""):
				return errors.New("give a saved plan (apply plan.json) or -auto, one of the two")
			case o.planFile != "" && o.delete:
				return errors.New("-delete is a choice of the plan: make the plan with plan -delete")
			case o.concurrency < 0 || o.concurrency > hybridclients.MaxConcurrency:
				return fmt.Errorf("-concurrency must be from 1 to %d, not %d", hybridclients.MaxConcurrency, o.concurrency)
			}
			return nil
		}
	case "export":
		fl.StringVar(&o.ids, "ids", "", "export only these clients: `ids`, comma-separated")
		fl.StringVar(&o.tags, "tags", "", "export only the clients with any of these `tags`, comma-separated")
		fl.StringVar(&o.format, "format", "", "yaml or json; default from -out's extension, else yaml")
		fl.StringVar(&o.out, "out", "", "write to this new `file` instead of standard output")
		p.Check = func() error {
			if o.format != "" && o.format != string(desired.YAML) && o.format != string(desired.JSON) {
				return fmt.Errorf("-format must be yaml or json, not %q", o.format)
			}
			if o.format == "" && o.out != "" && desired.FormatOf(o.out) == "" {
				return fmt.Errorf("-out %s: name it .yaml, .yml or .json, or give -format", o.out)
			}
			return exampleenv.CheckNewFile("-out", o.out)
		}
	default:
		return nil, fmt.Errorf("unknown command %q: plan, apply or export", o.cmd)
	}
	base := fl.Usage
	fl.Usage = func() {
		base()
		fmt.Fprint(fl.Output(), "\nExit status: 0 no changes (plan) or done (apply, export); 2 changes planned (plan);\n1 an error: a misused flag, a broken desired-state file, a stale plan, a failed client.\n")
	}
	return p, nil
}

var commandSummary = map[string]string{
	"plan":   "show what apply would change in the tenant's hybrid clients",
	"apply":  "make the tenant's hybrid clients match the desired state",
	"export": "write the tenant's hybrid clients as a desired-state file, without secrets",
}

// run carries out the command and returns its exit status.
func run(ctx context.Context, env *exampleenv.Env, o *options, stdout, stderr io.Writer) (int, error) {
	if env.Emulated() {
		// A rotation's proof waits on the Config's clock: on the emulator it runs forward
		// instead, so the emulated hour of propagation passes at once.
		env.Config.Clock = env.Clock()
	}
	clients, err := hybridclients.New(env.Config)
	if err != nil {
		return 1, err
	}
	defer clients.CloseIdleConnections()
	if o.cmd == "plan" {
		if err := o.checkOut(o.recordPath(env)); err != nil {
			return 1, err
		}
	}
	if o.cmd != "apply" { // apply seeds once it has the secrets directory
		if err := o.seed(ctx, env, clients, "", stderr); err != nil {
			return 1, err
		}
	}
	switch o.cmd {
	case "plan":
		return plan(ctx, env, clients, o, stdout, stderr)
	case "apply":
		return apply(ctx, env, clients, o, stdout, stderr)
	}
	return export(ctx, clients, o, stdout, stderr)
}

// tenantOf names the tenant a plan is for: a plan made for one is never applied to another.
func tenantOf(env *exampleenv.Env) string {
	resource := env.Config.Resource
	if resource == "" {
		resource = identity.DefaultResource
	}
	return "tenant " + env.Config.TenantID + " at " + strings.TrimSuffix(resource, "/")
}

// state reads -file, or the sample on the emulator.
func (o *options) state(env *exampleenv.Env) (*desired.State, error) {
	switch {
	case o.file != "":
		return desired.Load(o.file)
	case env.Emulated():
		s, err := desired.Parse(sample, desired.YAML)
		if err != nil {
			return nil, fmt.Errorf("the sample: %w", err)
		}
		return s, nil
	}
	return nil, errors.New("-file is required on a tenant: the desired-state file (export writes one from what is there)")
}

// recordPath is -record, else NAME.TENANT-ID.record.json beside -file: a record is of one
// tenant, and one file may be applied to several. On the emulator, whose tenant is new on
// every run, it is "" unless -record is given: no record is kept, and none is written
// beside the user's file (one given with -record names the emulator's tenant, which no
// real tenant's plan accepts).
func (o *options) recordPath(env *exampleenv.Env) string {
	if o.record != "" || o.file == "" || env.Emulated() {
		return o.record
	}
	return strings.TrimSuffix(o.file, filepath.Ext(o.file)) + "." + strings.ToLower(env.Config.TenantID) + ".record.json"
}

// checkOut checks plan's -out before anything is sent: never the desired-state file or
// the record (whatever -force says), and no other existing file without -force.
func (o *options) checkOut(recordPath string) error {
	if o.out == "" {
		return nil
	}
	for _, f := range []struct{ what, path string }{{"the -file", o.file}, {"the record", recordPath}} {
		if f.path != "" && samePath(o.out, f.path) {
			return fmt.Errorf("-out %s is %s: a plan must not be written over it, even with -force; name another file", o.out, f.what)
		}
	}
	if o.force {
		return exampleenv.CheckReplaceable("-out", o.out)
	}
	if _, err := os.Lstat(o.out); err == nil {
		return fmt.Errorf("-out %s exists already: name a new file, or give -force to replace it", o.out)
	}
	return exampleenv.CheckNewFile("-out", o.out)
}

// samePath reports whether a and b name the same file: the same file when both exist
// (through links too), else the same absolute path.
func samePath(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

func plan(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, o *options, stdout, stderr io.Writer) (int, error) {
	s, err := o.state(env)
	if err != nil {
		return 1, err
	}
	rec, err := desired.ReadRecord(o.recordPath(env))
	if err != nil {
		return 1, err
	}
	p, err := desired.Diff(ctx, clients, *s, desired.PlanOptions{Record: rec, Delete: o.delete, Unmanaged: o.unmanaged, Tenant: tenantOf(env)})
	if err != nil {
		return 1, err
	}
	if o.json {
		err = p.WriteJSON(stdout)
	} else {
		err = p.WriteText(stdout)
	}
	if err != nil {
		return 1, err
	}
	if o.out != "" {
		if err := savePlan(p, o.out, o.force); err != nil {
			return 1, err
		}
		fmt.Fprintf(stderr, "plan saved to %s; apply it with: apply -file FILE -secrets-dir DIR %s (-file gives the record and the removed clients apply may delete)\n", o.out, o.out)
	}
	if p.HasChanges() {
		return 2, nil
	}
	return 0, nil
}

// savePlan writes p as JSON to path, mode 0600: a new file, or with force one that may
// replace another (checkOut refused the -file and the record).
func savePlan(p *desired.Plan, path string, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return err
	}
	err = p.WriteJSON(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func apply(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, o *options, stdout, stderr io.Writer) (int, error) {
	if o.planFile != "" && env.Emulated() {
		return 1, errors.New("a saved plan names the tenant it was made for, and the in-process emulator is a new tenant on every run: use apply -auto on the emulator")
	}
	recordPath := o.recordPath(env)
	if o.planFile != "" && recordPath == "" {
		return 1, errors.New("give -record (or -file, beside which it is kept): the record of managed clients must be kept, or a later plan cannot delete what this one made")
	}
	dir, cleanup, err := o.secretsDirectory(env, stderr)
	if err != nil {
		return 1, err
	}
	defer cleanup()
	if err := o.seed(ctx, env, clients, dir, stderr); err != nil {
		return 1, err
	}
	rec, err := desired.ReadRecord(recordPath)
	if err != nil {
		return 1, err
	}
	var (
		p *desired.Plan
		s *desired.State
	)
	if o.auto {
		if s, err = o.state(env); err != nil {
			return 1, err
		}
		if p, err = desired.Diff(ctx, clients, *s, desired.PlanOptions{Record: rec, Delete: o.delete, Tenant: tenantOf(env)}); err != nil {
			return 1, err
		}
		if err := p.WriteText(stdout); err != nil {
			return 1, err
		}
		if !p.HasChanges() {
			return 0, nil
		}
		fmt.Fprintln(stdout)
	} else {
		if p, err = readPlan(o.planFile); err != nil {
			return 1, err
		}
		// Apply deletes only clients the record or the desired state's removed list
		// names, whatever the plan says: read the file for the latter.
		if o.file != "" {
			if s, err = desired.Load(o.file); err != nil {
				return 1, err
			}
		}
	}
	var removed []string
	if s != nil {
		removed = s.Removed
	}

	st := &store{dir: dir, paths: map[string]string{}, replaced: map[string]bool{}}
	applied, err := desired.Apply(ctx, clients, p, desired.ApplyOptions{
		Store: st.Store, Record: rec, Removed: removed, Concurrency: o.concurrency, Tenant: tenantOf(env),
		OnResult: func(r desired.Result) { st.show(stdout, r) },
	})
	if applied == nil {
		return 1, err // nothing was changed: a stale plan, a plan for another tenant
	}
	fmt.Fprintf(stdout, "Apply: %d created, %d updated, %d deleted, %d rotated, %d failed.\n",
		applied.Done(desired.ActionCreate), applied.Done(desired.ActionUpdate), applied.Done(desired.ActionDelete), applied.Rotated(), len(applied.Failed()))
	if recordPath != "" {
		if werr := applied.Record.WriteFile(recordPath); werr != nil {
			return 1, errors.Join(err, werr)
		}
		fmt.Fprintf(stdout, "record of %d managed clients written to %s (mode 0600)\n", len(applied.Record.Managed), recordPath)
	} else if env.Emulated() {
		fmt.Fprintln(stdout, "emulator: no record kept (the emulator is a new tenant on every run; -record names a file to keep it in)")
	}
	if env.Emulated() && err == nil {
		checkOnEmulator(env, p, st, stdout)
		again, derr := desired.Diff(ctx, clients, *s, desired.PlanOptions{Record: applied.Record, Delete: o.delete})
		if derr != nil {
			return 1, derr
		}
		fmt.Fprintln(stdout, "emulator: a new plan shows no changes:", !again.HasChanges())
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

func readPlan(path string) (*desired.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return desired.ReadPlan(f)
}

// secretsDirectory is -secrets-dir, checked, or on the emulator a temporary directory
// that cleanup removes unless -keep.
func (o *options) secretsDirectory(env *exampleenv.Env, stderr io.Writer) (dir string, cleanup func(), err error) {
	if o.secretsDir != "" {
		return o.secretsDir, func() {}, exampleenv.CheckDir("-secrets-dir:", o.secretsDir)
	}
	if !env.Emulated() {
		return "", nil, errors.New("-secrets-dir is required on a tenant: the directory where each new client's secret goes")
	}
	dir, err = os.MkdirTemp("", "clients-as-code-secrets-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() {
		if o.keep {
			fmt.Fprintf(stderr, "emulator: the secrets are kept in %s\n", dir)
			return
		}
		if err := os.RemoveAll(dir); err == nil {
			fmt.Fprintf(stderr, "emulator: removed the secrets directory %s (use -keep to keep it, -secrets-dir to choose it)\n", dir)
		}
	}, nil
}

// store is the Store of apply: each client's secret in its own file of dir, CLIENT-ID.secret,
// mode 0600: a new file for a new client; for a client that has one (its secret rotated),
// the new value in place of the old in one step, as the application reads it.
type store struct {
	dir      string
	mu       sync.Mutex
	paths    map[string]string // client id -> the file its secret went to
	replaced map[string]bool   // client id -> the file held an older value
}

func (s *store) Store(_ context.Context, clientID string, a secrets.Added) error {
	path := filepath.Join(s.dir, clientID+".secret")
	err := a.Value.WriteFile(path)
	replaced := errors.Is(err, identity.ErrFileExists)
	if replaced {
		err = a.Value.ReplaceFile(path)
	}
	if err != nil {
		return err // apply then deletes the new client, or the new secret, again
	}
	s.mu.Lock()
	s.paths[clientID], s.replaced[clientID] = path, replaced
	s.mu.Unlock()
	return nil
}

func (s *store) path(clientID string) (path string, replaced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[clientID], s.replaced[clientID]
}

// show prints one result as it completes.
func (s *store) show(w io.Writer, r desired.Result) {
	what := map[desired.Action]string{desired.ActionCreate: "created", desired.ActionUpdate: "updated", desired.ActionDelete: "deleted"}[r.Action]
	line := fmt.Sprintf("%-8s client %s (%s)", what, strconv.Quote(r.Name), r.ID)
	if r.Err != nil {
		line = fmt.Sprintf("FAILED   %s client %s (%s): %s", r.Action, strconv.Quote(r.Name), r.ID, exampleenv.OneLine(r.Err))
	}
	if r.Secret.ID != 0 {
		path, replaced := s.path(r.ID)
		stored := "written to " + path
		if replaced {
			stored = "in place of the old value in " + path
		}
		line += fmt.Sprintf(": secret %d, expires %s, %s (mode 0600)", r.Secret.ID, r.Secret.Expiry, stored)
	}
	if rot := r.Rotation; rot != nil && r.Err == nil && rot.Step == secrets.StepDone {
		line += fmt.Sprintf("; rotated: accepted by the identity server at %s, then old secrets %v retired (%d probes)",
			rot.ProvenAt.UTC().Format(time.RFC3339), retired(rot), rot.Probes)
	}
	if r.Note != "" {
		line += " (" + r.Note + ")"
	}
	fmt.Fprintln(w, line)
}

// retired lists the ids of the old secrets a rotation retired.
func retired(rot *secrets.Rotation) []int {
	var ids []int
	for _, l := range [][]secrets.ClientSecret{rot.Shortened, rot.Deleted, rot.Kept} {
		for _, s := range l {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// checkOnEmulator shows that every stored secret signs in, once the emulated hour a new
// secret takes to reach sign-in has passed.
func checkOnEmulator(env *exampleenv.Env, p *desired.Plan, st *store, w io.Writer) {
	env.AdvanceClock(secrets.PropagationDelay)
	works := true
	for _, ch := range p.Changes {
		path, _ := st.path(ch.ID)
		if path == "" {
			continue
		}
		value, err := os.ReadFile(path)
		works = works && err == nil && env.Fake.CheckSecret(ch.ID, identity.NewSecret(string(value)))
	}
	fmt.Fprintln(w, "emulator: every stored secret signs in:", works)
}

func export(ctx context.Context, clients *hybridclients.Client, o *options, stdout, stderr io.Writer) (int, error) {
	ex, err := desired.Export(ctx, clients, desired.ExportOptions{IDs: list(o.ids), Tags: list(o.tags)})
	if err != nil {
		return 1, err
	}
	for _, s := range ex.Skipped {
		fmt.Fprintf(stderr, "skipped client %s (%s): the SDK would refuse to send it: %s\n", strconv.Quote(s.Name), s.ID, exampleenv.OneLine(s.Err))
	}
	format := desired.Format(o.format)
	if format == "" {
		format = desired.FormatOf(o.out)
	}
	if format == "" {
		format = desired.YAML
	}
	data, err := desired.Marshal(ex.State, format)
	if err != nil {
		return 1, err
	}
	if o.out == "" {
		_, err := stdout.Write(data)
		return 0, err
	}
	f, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 1, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stderr, "exported %d clients to %s\n", len(ex.State.Clients), o.out)
	return 0, nil
}

func list(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// The emulator's demo tenant: an older version of a client of the sample, a client the
// sample lists as removed, and one that no file manages.
const (
	demoReportsID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
	demoLegacyID  = "9b2c4d5e-6f70-4812-a3b4-c5d6e7f80912"
)

// seed gives the emulator's empty tenant something to plan against, when the sample is
// planned (or the tenant exported): with dir set, the reports app's secret is in its file
// there, as its application would have it, for the rotation to replace.
func (o *options) seed(ctx context.Context, env *exampleenv.Env, clients *hybridclients.Client, dir string, stderr io.Writer) error {
	if !env.Emulated() || (o.file != "" && o.cmd != "export") {
		return nil
	}
	for _, req := range []hybridclients.CreateRequest{
		{ID: demoReportsID, Name: "Reports", RedirectURIs: []string{"https://reports.example.com/signin-oidc"},
			SecretDescription: "reports web app", SecretExpiry: secrets.ExpiresIn(10 * 24 * time.Hour)},
		{ID: demoLegacyID, Name: "Legacy batch job", RedirectURIs: []string{"https://batch.example.com/callback"}},
		{Name: "Someone else's app", RedirectURIs: []string{"https://other.example.com/cb"}},
	} {
		created, err := clients.Create(ctx, req)
		if err != nil {
			return fmt.Errorf("seeding the emulator: %w", err)
		}
		// The other demo clients' secrets are not needed: their values are dropped.
		if req.ID == demoReportsID && dir != "" {
			if err := created.Secret.Value.WriteFile(filepath.Join(dir, demoReportsID+".secret")); err != nil {
				return fmt.Errorf("seeding the emulator: %w", err)
			}
		}
	}
	env.AdvanceClock(secrets.PropagationDelay) // the demo clients have reached sign-in
	fmt.Fprintln(stderr, `emulator: the tenant starts with "Reports" (an older version of a client of the sample, its secret expiring in 10 days), "Legacy batch job" (which the sample lists as removed) and "Someone else's app" (which no file manages)`)
	return nil
}
