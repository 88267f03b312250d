// Package exampleenv is what the example programs share, so that each of them shows only
// the SDK calls it is about: settings from flags and environment, the in-process emulator
// when no tenant is given, a context that ends on Ctrl-C or a timeout, and one-line errors.
//
// It is not part of the SDK. In your own program, build an identity.Config as Load does
// and call hybridclients.New with it.
package exampleenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// The environment variables that point the examples at a real tenant.
const (
	EnvResource     = "OCS_RESOURCE"      // optional: the regional host, default US-West
	EnvTenantID     = "OCS_TENANT_ID"     // the tenant's GUID
	EnvClientID     = "OCS_CLIENT_ID"     // a client-credential client with the Tenant Administrator role
	EnvClientSecret = "OCS_CLIENT_SECRET" // its secret
)

// Program is one example: its flags, and how it runs.
type Program struct {
	name  string
	Flags *flag.FlagSet
	// Check, when set, is called once the flags are parsed, before anything else: an
	// error is a misuse of the flags (one line, exit status 2).
	Check func() error
	// Emulator, when set, is called with the in-process emulator's options before it
	// starts (not on a real tenant), once the flags are parsed: latency, rate limit, size.
	Emulator func(*hybridclientstest.Options)
	// Args, when set, names the arguments the program takes after its flags ("[plan.json]")
	// for the usage line; MaxArgs is how many it accepts (Flags.Args() holds them).
	Args    string
	MaxArgs int
	// UsageStatus is the exit status of a misused flag or argument; 0 means 2. A program
	// whose successful runs end with 2 (a plan with changes) sets 1, so that a script
	// never takes a typo for a result.
	UsageStatus int

	resource, tenantID, clientID, secretFile string
	timeout                                  time.Duration
	ownTimeout                               bool
}

// New returns a Program named name whose flags include the common ones (-resource,
// -tenant-id, -auth-client-id, -auth-secret-file, -timeout). Add the example's own flags
// to p.Flags before calling Run.
func New(name, summary string) *Program {
	p := &Program{name: name, Flags: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := p.Flags
	fs.StringVar(&p.resource, "resource", "", "service `URL`, e.g. https://euno.datahub.connect.aveva.com (env "+EnvResource+"; default US-West)")
	fs.StringVar(&p.tenantID, "tenant-id", "", "tenant `GUID` (env "+EnvTenantID+")")
	fs.StringVar(&p.clientID, "auth-client-id", "", "`id` of the client-credential client the example signs in with, a Tenant Administrator: the management credentials, not a hybrid client (env "+EnvClientID+")")
	fs.StringVar(&p.secretFile, "auth-secret-file", "", "`file` holding that client-credential client's secret (env "+EnvClientSecret+" holds the value itself)")
	fs.DurationVar(&p.timeout, "timeout", 60*time.Second, "give up after this long")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s: %s\n\nUsage: go run ./examples/%s\n\n", name, summary, strings.TrimSpace(name+" [flags] "+p.Args))
		fmt.Fprintf(out, "With %s, %s and %s all set (or their flags), it\nuses that tenant (on %s if set); with none of the four set, it runs\nagainst an in-process emulator of the service; any other mix is an error.\n\n", EnvTenantID, EnvClientID, EnvClientSecret, EnvResource)
		fmt.Fprintf(out, "-auth-client-id (%s) is the client-credential client the example signs in\nwith to manage the tenant, not a hybrid client.\n", EnvClientID)
		if fs.Lookup("client-id") != nil {
			fmt.Fprint(out, "-client-id is the hybrid client it works on.\n")
		}
		fmt.Fprint(out, "\nFlags:\n")
		fs.PrintDefaults()
	}
	return p
}

// SetDefaultTimeout makes d the default of -timeout (one minute otherwise), for an
// example that may wait longer: a rotation waits up to an hour and ten minutes for the
// identity server to accept the new secret. Call it before Run.
func (p *Program) SetDefaultTimeout(d time.Duration) {
	p.timeout = d
	p.Flags.Lookup("timeout").DefValue = d.String()
}

// OwnTimeout makes the deadline the example's own: -timeout, described by usage, defaults
// to 0 and may be 0, and Run sets no deadline (Ctrl-C still ends the context). The
// function returned reports, once Run has parsed the flags, -timeout's value and whether
// it was given.
func (p *Program) OwnTimeout(usage string) func() (time.Duration, bool) {
	p.ownTimeout, p.timeout = true, 0
	f := p.Flags.Lookup("timeout")
	f.Usage, f.DefValue = usage, f.Value.String()
	return func() (time.Duration, bool) {
		given := false
		p.Flags.Visit(func(f *flag.Flag) { given = given || f.Name == "timeout" })
		return p.timeout, given
	}
}

// Env is where an example runs: a real tenant, or the in-process emulator.
type Env struct {
	// Config reaches the tenant as its Tenant Administrator.
	Config identity.Config
	// Fake is the in-process emulator; nil on a real tenant.
	Fake *hybridclientstest.Server

	mu     sync.Mutex
	offset time.Duration // how far the emulator's clock is ahead of the real one
}

// Emulated reports whether the example runs against the in-process emulator.
func (e *Env) Emulated() bool { return e.Fake != nil }

// Now is the current time: the real one on a tenant, the emulator's clock on the emulator.
func (e *Env) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.offset)
}

// AdvanceClock moves the emulator's clock forward by d, so that secrets made with short
// expiries have expired. It does nothing on a real tenant.
func (e *Env) AdvanceClock(d time.Duration) {
	if e.Fake == nil {
		return
	}
	e.mu.Lock()
	e.offset += d
	e.mu.Unlock()
}

// Clock is the emulator's clock for the SDK (for Config.Clock): it reads Now, and its
// waits move the emulator's clock forward at once instead of waiting (AdvanceClock), so
// that an hour of emulated propagation, which a rotation's proof waits out, passes in an
// instant. On a real tenant it is nil: the system clock.
func (e *Env) Clock() identity.Clock {
	if e.Fake == nil {
		return nil
	}
	return emulatorClock{e}
}

type emulatorClock struct{ env *Env }

func (c emulatorClock) Now() time.Time { return c.env.Now() }

func (c emulatorClock) After(d time.Duration) <-chan time.Time {
	c.env.AdvanceClock(d)
	ch := make(chan time.Time, 1)
	ch <- c.env.Now()
	return ch
}

// Run parses the command line, finds the tenant (or starts the emulator), and calls run
// with a context that ends on Ctrl-C or after -timeout (see OwnTimeout). It does not
// return: it exits 0 when run succeeds, 1 with a one-line error when it fails, and 2 (or
// UsageStatus) on a misused flag.
func (p *Program) Run(run func(ctx context.Context, env *Env) error) {
	p.RunStatus(os.Args[1:], func(ctx context.Context, env *Env) (int, error) { return 0, run(ctx, env) })
}

// RunStatus is Run for a program whose successful runs end with a status of their own
// (0, or 2 for "changes"), which run returns, parsing args instead of the command line.
func (p *Program) RunStatus(args []string, run func(ctx context.Context, env *Env) (int, error)) {
	os.Exit(p.run(args, os.Stderr, run))
}

func (p *Program) run(args []string, stderr io.Writer, run func(context.Context, *Env) (int, error)) int {
	usage := p.UsageStatus
	if usage == 0 {
		usage = 2
	}
	// A misused flag gets one line below, not the flag package's message and usage.
	p.Flags.SetOutput(io.Discard)
	if err := p.Flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			p.Flags.SetOutput(stderr)
			p.Flags.Usage()
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v (see -h)\n", p.name, err)
		return usage
	}
	if p.Flags.NArg() > p.MaxArgs {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (see -h)\n", p.name, p.Flags.Arg(p.MaxArgs))
		return usage
	}
	check := p.Check
	if check == nil {
		check = func() error { return nil }
	}
	if err := check(); err != nil || p.timeout < 0 || (p.timeout == 0 && !p.ownTimeout) {
		switch {
		case err != nil:
		case p.ownTimeout:
			err = errors.New("-timeout must not be negative")
		default:
			err = errors.New("-timeout must be positive")
		}
		fmt.Fprintf(stderr, "%s: %s (see -h)\n", p.name, OneLine(err))
		return usage
	}

	env, err := p.load(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", p.name, OneLine(err))
		return 1
	}
	if env.Fake != nil {
		defer env.Fake.Close()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !p.ownTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}

	status, err := run(ctx, env)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded) && !p.ownTimeout:
			err = fmt.Errorf("%w (gave up after -timeout %s)", err, p.timeout)
		case errors.Is(err, context.Canceled):
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintf(stderr, "%s: %s\n", p.name, OneLine(err))
		return 1
	}
	return status
}

// load builds the Config from flags and environment (flags win), or starts the emulator
// when neither names a tenant.
func (p *Program) load(stderr io.Writer) (*Env, error) {
	pick := func(flagValue, env string) string {
		if flagValue != "" {
			return flagValue
		}
		return strings.TrimSpace(os.Getenv(env))
	}
	resource := pick(p.resource, EnvResource)
	tenantID := pick(p.tenantID, EnvTenantID)
	clientID := pick(p.clientID, EnvClientID)
	secret := os.Getenv(EnvClientSecret)
	if strings.TrimSpace(secret) == "" {
		secret = "" // blank counts as unset, as for the other variables
	}
	if p.secretFile != "" {
		b, err := os.ReadFile(p.secretFile)
		if err != nil {
			return nil, fmt.Errorf("reading -auth-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}

	// The rule (README, Examples): none of the four set, the emulator; the tenant id,
	// client id and secret all set, that tenant (the resource optional with them); any
	// other mix, OCS_RESOURCE alone included, is an error naming what is missing, never a
	// silent fall-back to the emulator.
	if resource == "" && tenantID == "" && clientID == "" && secret == "" {
		return startEmulator(stderr, p.Emulator)
	}
	var missing []string
	for _, s := range []struct{ value, name string }{
		{tenantID, EnvTenantID + " (or -tenant-id)"},
		{clientID, EnvClientID + " (or -auth-client-id)"},
		{secret, EnvClientSecret + " (or -auth-secret-file)"},
	} {
		if s.value == "" {
			missing = append(missing, s.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s: set %s, %s and %s to use a real tenant, or none of them nor %s to use the emulator",
			strings.Join(missing, ", "), EnvTenantID, EnvClientID, EnvClientSecret, EnvResource)
	}
	cfg := identity.Config{
		Resource:    resource,
		TenantID:    tenantID,
		Credentials: identity.NewClientCredentials(clientID, identity.NewSecret(secret), nil),
		UserAgent:   "ocs-go-examples",
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Env{Config: cfg}, nil
}

func startEmulator(stderr io.Writer, tune func(*hybridclientstest.Options)) (*Env, error) {
	env := &Env{}
	opts := &hybridclientstest.Options{}
	if tune != nil {
		tune(opts)
	}
	opts.Now = env.Now
	fake, err := hybridclientstest.Start(opts)
	if err != nil {
		return nil, err
	}
	env.Fake = fake
	env.Config = fake.Config()
	fmt.Fprintf(stderr, "running against the in-process emulator (set %s, %s, %s to use a real tenant)\n",
		EnvTenantID, EnvClientID, EnvClientSecret)
	return env, nil
}

// CheckNewFile checks, before anything is created, that a secret's value can later be
// written to path as a new file: path does not exist yet, and its directory passes
// CheckDir. A path of "" is not checked.
func CheckNewFile(flagName, path string) error {
	if path == "" {
		return nil
	}
	_, lerr := os.Lstat(path)
	if lerr == nil {
		return fmt.Errorf("%s %s exists already; choose a new file", flagName, path)
	}
	if err := CheckDir(flagName+" "+path+":", filepath.Dir(path)); err != nil {
		return err
	}
	if !errors.Is(lerr, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", flagName, path, lerr)
	}
	return nil
}

// CheckReplaceable checks, before anything is changed, that a secret's value can later be
// put at path with identity.Secret.ReplaceFile: path is not a directory (a file there is
// fine: it is replaced), and its directory passes CheckDir. A path of "" is not checked.
func CheckReplaceable(flagName, path string) error {
	if path == "" {
		return nil
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s %s is a directory; name a file", flagName, path)
	}
	return CheckDir(flagName+" "+path+":", filepath.Dir(path))
}

// CheckDir checks that dir exists, is a directory and is writable: a temporary file is
// made there and removed. what starts the error message.
func CheckDir(what, dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s directory %s does not exist", what, dir)
	case err != nil:
		return fmt.Errorf("%s %w", what, err)
	case !fi.IsDir():
		return fmt.Errorf("%s %s is not a directory", what, dir)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%s directory %s is not writable: %w", what, dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%s removing the write check %s: %w", what, name, err)
	}
	return nil
}

// OneLine renders err on one line: errors.Join puts each error on its own line.
func OneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
