package faulttest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
	"go.uber.org/goleak"
)

var (
	chaosSeed     = flag.Int64("chaos.seed", 0, "seed of the chaos soak; 0 means $CHAOS_SEED, else the time")
	chaosDuration = flag.Duration("chaos.duration", 0, "how long the chaos soak's goroutines work; 0 means $CHAOS_DURATION, else 15s")
)

const (
	chaosWorkers = 24
	chaosShared  = 6 // clients every worker uses
	// chaosOwnedMax caps the live clients of one worker, chaosHeldMax its secrets on one.
	chaosOwnedMax = 4
	chaosHeldMax  = 6
)

// chaosFaults are the service's failures, about 12% of API answers in all (each rule draws
// on its own, in order: 1-(1-p1)(1-p2)... ~ 0.12), plus token revocations.
func chaosFaults() []hct.Fault {
	return []hct.Fault{
		{ResetBeforeAct: true, Probability: 0.02},
		{CutAfterCommit: true, Probability: 0.02},
		{Status: 500, Probability: 0.01},
		{Status: 503, Probability: 0.01},
		{Status: 502, HTML: true, Probability: 0.01},
		{Status: 429, RetryAfter: time.Second, Probability: 0.01},
		{Status: 503, RetryAfter: time.Second, Probability: 0.005},
		{Truncate: true, Probability: 0.02},
		{Delay: 600 * time.Millisecond, Probability: 0.01},
		{Delay: 100 * time.Millisecond, Status: 503, Probability: 0.005},
	}
}

// TestChaos: dozens of goroutines, each with its own clients and all sharing a few, run
// every operation against a service that fails about 12% of answers in every way it can,
// under short deadlines. Afterwards: every value a goroutine holds authenticates; every
// secret on every client is held or was named (in a field) in an error its caller got;
// every client is one a goroutine made or was told may exist; every error has a
// documented kind; nothing panicked, leaked or was left running.
//
// The seed is printed; rerun one with -chaos.seed=N or CHAOS_SEED=N (the interleaving
// of goroutines still varies from run to run).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	seed, dur := chaosSettings(t)
	fmt.Printf("chaos seed: %d\n", seed)
	t.Logf("chaos seed: %d (rerun with -chaos.seed=%d or CHAOS_SEED=%d)", seed, seed, seed)
	before := goleak.IgnoreCurrent()

	fx := newFixture(t, nil)
	m := newChaosModel()
	m.addClient(fx.clientID, -1, nil)
	m.hold(fx.clientID, fx.secretID, identity.Secret{}, -1) // the fixture's own; its value is not checked
	shared := make([]string, chaosShared)
	sharedExpiry := secrets.ExpiresAt(time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second))
	for i := range shared {
		c, err := fx.hc.Create(context.Background(), hybridclients.CreateRequest{
			Name: fmt.Sprintf("shared-%d", i), RedirectURIs: []string{"https://shared.example.com/cb"}, SecretDescription: "shared",
		})
		if err != nil {
			t.Fatal(err)
		}
		rec.secret(c.Secret.Value.Reveal())
		shared[i] = c.Client.ID
		m.addClient(c.Client.ID, -1, nil)
		m.hold(c.Client.ID, c.Secret.ID, c.Secret.Value, -1)
	}

	for i, f := range chaosFaults() {
		f.Seed = seed + int64(i)
		fx.srv.Inject(f)
	}
	start := time.Now()
	stop := start.Add(dur)
	var wg sync.WaitGroup
	done := make(chan struct{})
	revocations := 0
	wg.Add(1)
	go func() { // token revocation, a few times a second
		defer wg.Done()
		tick := time.NewTicker(700 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fx.srv.RevokeTokens()
				revocations++
			}
		}
	}()
	var workers sync.WaitGroup
	for w := range chaosWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			cw := &chaosWorker{id: w, rng: rand.New(rand.NewPCG(uint64(seed), uint64(w))), m: m, hc: fx.hc, sec: fx.sec,
				shared: shared, sharedExpiry: sharedExpiry}
			for time.Now().Before(stop) {
				cw.step()
			}
		}()
	}
	workers.Wait()
	close(done)
	wg.Wait()
	worked := time.Since(start)
	fx.srv.ClearFaults()

	r := m.verify(fx.srv, m.pendingSecrets(fx.srv, fx.sec))
	requests := 0
	for _, n := range fx.srv.Stats().Requests {
		requests += n
	}
	_, leaks := rec.check()

	// Nothing may be left running once the SDK's idle connections and the fake are closed.
	fx.hc.CloseIdleConnections()
	fx.srv.Close()
	goroutines := 0
	if err := goleak.Find(before); err != nil {
		goroutines = strings.Count(err.Error(), "\n\n") + 1
		t.Errorf("goroutines left behind: %v", err)
	}

	msg := fmt.Sprintf("chaos soak: seed %d, %d goroutines for %v, %d operations (%s), %d API requests with ~12%% of answers faulted and %d token revocations; %d errors (%s); held values lost: %d (%d rejected at the end, %d found gone by their holder), secrets neither held nor named: %d (and %d added by a request that was still in flight when its caller's deadline ended, after the error: named by client and description only), unknown clients: %d, clients lost: %d, caller-id re-creates that succeeded: %d, undocumented errors: %d, panics: %d, leaks: %d, goroutines left: %d",
		seed, chaosWorkers, worked.Round(time.Second), m.total(), m.opSummary(), requests, revocations, m.errCount(), m.kindSummary(),
		r.rejected+m.vanished, r.rejected, m.vanished, r.unaccounted, r.late, r.unknownClients, r.lostClients, m.recreated, len(m.undocumented), len(m.panics), len(leaks), goroutines)
	t.Log(msg)
	fmt.Println(msg)
	if len(m.lostWhere) > 0 {
		t.Logf("held values lost by place: %s", summary(m.lostWhere))
	}
	for _, k := range slices.Sorted(maps.Keys(m.samples)) {
		t.Logf("a %q error: %s", k, m.samples[k])
	}
	for i, d := range r.details {
		if i == 30 {
			t.Logf("... and %d more", len(r.details)-30)
			break
		}
		t.Log(d)
	}
	for i, u := range m.undocumented {
		if i == 10 {
			t.Logf("... and %d more undocumented errors", len(m.undocumented)-10)
			break
		}
		t.Logf("undocumented error: %s", u)
	}
	for _, p := range m.panics {
		t.Errorf("panic: %s", p)
	}
	for i, d := range m.vanishedDetails {
		if i == 30 {
			t.Logf("... and %d more", len(m.vanishedDetails)-30)
			break
		}
		t.Log(d)
	}
	if r.rejected+m.vanished != 0 {
		t.Errorf("%d values held by callers no longer authenticate", r.rejected+m.vanished)
	}
	if r.unaccounted != 0 {
		t.Errorf("%d secrets are on clients that nobody holds and no error named in a field", r.unaccounted)
	}
	if r.unknownClients != 0 {
		t.Errorf("%d clients exist that no caller made or was told may exist", r.unknownClients)
	}
	if r.lostClients != 0 {
		t.Errorf("%d clients vanished that their owner never deleted", r.lostClients)
	}
	if m.recreated != 0 {
		t.Errorf("%d re-runs of a caller-id create succeeded on a client that existed before them", m.recreated)
	}
	if len(m.undocumented) != 0 {
		t.Errorf("%d errors match no documented kind", len(m.undocumented))
	}
	if len(leaks) != 0 {
		t.Errorf("%d leaks of a secret or token (see the secret hygiene line)", len(leaks))
	}
	if m.total() < 20*chaosWorkers {
		t.Errorf("only %d operations: too few to prove anything", m.total())
	}
}

// chaosSettings reads the seed and the duration from the flags, else the environment.
func chaosSettings(t *testing.T) (seed int64, dur time.Duration) {
	seed, dur = *chaosSeed, *chaosDuration
	if v := os.Getenv("CHAOS_SEED"); seed == 0 && v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
		seed = s
	}
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	if v := os.Getenv("CHAOS_DURATION"); dur == 0 && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CHAOS_DURATION: %v", err)
		}
		dur = d
	}
	if dur == 0 {
		dur = 15 * time.Second
	}
	return seed, dur
}

// named is what an error tells its caller may be left behind.
type named struct {
	// clients may exist although the call failed.
	clients []string
	// ids are, per client, the secret ids to look at: made by the call and not held,
	// appeared meanwhile, left unretired, or left after a failed Store.
	ids map[string][]int
	// orphans are those of ids that the call provably made and nobody holds: the caller
	// may delete them.
	orphans map[string][]int
}

// namedBy returns what err names. client is the client the call was about; rot is
// Rotate's result (nil for other calls). It is the only place that knows where errors
// name ids.
func namedBy(client string, err error, rot *secrets.Rotation) named {
	n := named{ids: map[string][]int{}, orphans: map[string][]int{}}
	if err == nil {
		return n
	}
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
			return
		case *identity.OutcomeError:
			if x.ClientMayExist {
				n.clients = append(n.clients, x.ClientID)
			}
			n.ids[x.ClientID] = append(n.ids[x.ClientID], x.Orphans...)
			n.ids[x.ClientID] = append(n.ids[x.ClientID], x.Unclaimed...)
			n.orphans[x.ClientID] = append(n.orphans[x.ClientID], x.Orphans...)
			walk(x.Err)
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	if rot != nil {
		if rot.New.ID != 0 {
			n.ids[client] = append(n.ids[client], rot.New.ID)
		}
		for _, s := range rot.NotRetired {
			n.ids[client] = append(n.ids[client], s.ID)
		}
		// A secret the rotation shortened or kept is retiring: it stops working at the
		// grace's end whoever holds it, and the Rotation names it. A secret that another
		// call's request added after its caller gave up (named then by client and
		// description only, with the expiry asked) no longer carries that expiry once a
		// rotation has shortened it, so only this result accounts for it.
		for _, s := range append(rot.Shortened, rot.Kept...) {
			n.ids[client] = append(n.ids[client], s.ID)
		}
	}
	return n
}

// documented are the kinds an SDK error may have, in the order kindOf tries them.
var documented = []struct {
	name string
	err  error
}{
	{"OutcomeUnknown", identity.ErrOutcomeUnknown},
	{"Unreachable", identity.ErrUnreachable},
	{"BadRequest", identity.ErrBadRequest},
	{"Unauthorized", identity.ErrUnauthorized},
	{"Forbidden", identity.ErrForbidden},
	{"NotFound", identity.ErrNotFound},
	{"Timeout", identity.ErrTimeout},
	{"Conflict", identity.ErrConflict},
	{"RateLimited", identity.ErrRateLimited},
	{"Server", identity.ErrServer},
	{"InvalidInput", identity.ErrInvalidInput},
	{"ResponseTooLarge", identity.ErrResponseTooLarge},
	{"InvalidResponse", identity.ErrInvalidResponse},
	{"LimitReached", secrets.ErrLimitReached},
	// A rotation whose new secret the identity server never accepted, or vanished.
	{"NotProven", secrets.ErrNotProven},
	{"LockoutRisk", secrets.ErrLockoutRisk},
	{"DeadlineExceeded", context.DeadlineExceeded},
	{"Canceled", context.Canceled},
	// The caller's own Store error, which Rotate returns wrapped (documented there).
	{"StoreFailed", errStoreFull},
}

// errStoreFull is the chaos soak's failing RotateOptions.Store.
var errStoreFull = errors.New("chaos: the store is full")

// kindOf names the documented kind of err, or "" when it has none.
func kindOf(err error) string {
	for _, d := range documented {
		if errors.Is(err, d.err) {
			return d.name
		}
	}
	return ""
}

// chaosModel is the soak's bookkeeping: which clients exist and who owns them, which
// secret values are held, which ids and clients errors named, and what happened.
type chaosModel struct {
	mu           sync.Mutex
	clients      map[string]*mClient
	namedClients map[string]bool         // named in an OutcomeError with ClientMayExist
	named        map[string]map[int]bool // client -> secret ids named in errors
	ops          map[string]int
	kinds        map[string]int
	samples      map[string]string // kind -> the first error of that kind, for the log
	undocumented []string
	panics       []string
	recreated    int // caller-id re-creates that succeeded
	// vanished counts held secrets that a later call of their holder found gone (404).
	vanished        int
	vanishedDetails []string
	// lostWhere counts held values lost (vanished or rejected) by where: on a shared
	// client, on a client whose caller-id create was re-run, elsewhere.
	lostWhere map[string]int
	// For the report: the error of each failed create by client name, and the last
	// outcome-unknown errors of the calls on each client.
	createErrs map[string]string
	errorsOn   map[string][]string
	// pending: client -> the secrets that writes whose request may still land (mayLand)
	// would add.
	pending map[string][]pendingWrite
}

// pendingWrite is what a write whose request may land late would add: a secret with this
// description and, when the error gave one, this expiry (the call's marker).
type pendingWrite struct {
	description string
	expiry      time.Time // zero: the error gave none (a create whose client was not seen)
}

// wouldAdd finds the expiries an add's error says its secret would carry.
var wouldAdd = regexp.MustCompile(`would carry this call's description and expiry \(([^)]*)\)`)

// matches reports whether s is what w would add.
func (w pendingWrite) matches(s secrets.ClientSecret) bool {
	if s.Description != w.description {
		return false
	}
	if w.expiry.IsZero() {
		return true
	}
	at := s.Expiry.At()
	d := at.Sub(w.expiry)
	return !at.IsZero() && d <= time.Second && d >= -time.Second
}

// mClient is one client as its callers know it.
type mClient struct {
	owner int // the worker that made it; -1: the test (the fixture and shared clients)
	// gone: deleted by its owner; mayBeGone: its owner's delete had an unknown outcome.
	gone, mayBeGone bool
	create          *hybridclients.CreateRequest // a create with a caller-supplied id, for re-runs
	rerun           bool                         // that create was re-run (finding 1)
	held            map[int]held
	// released are secrets a caller knew of and let go without proof they are gone (a
	// delete or a retirement whose outcome is unknown): not held, yet accounted for.
	released map[int]bool
}

// where classifies c for lostWhere.
func (c *mClient) where() string {
	switch {
	case c.owner < 0:
		return "shared client"
	case c.rerun:
		return "client whose caller-id create was re-run"
	}
	return "other"
}

// held is a secret value a caller keeps; a zero value is not checked.
type held struct {
	value identity.Secret
	by    int
}

func newChaosModel() *chaosModel {
	return &chaosModel{clients: map[string]*mClient{}, namedClients: map[string]bool{},
		named: map[string]map[int]bool{}, ops: map[string]int{}, kinds: map[string]int{}, samples: map[string]string{},
		createErrs: map[string]string{}, errorsOn: map[string][]string{}, lostWhere: map[string]int{}, pending: map[string][]pendingWrite{}}
}

func (m *chaosModel) addClient(id string, owner int, create *hybridclients.CreateRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clients[id] = &mClient{owner: owner, create: create, held: map[int]held{}, released: map[int]bool{}}
}

func (m *chaosModel) hold(client string, id int, v identity.Secret, by int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[client]; c != nil {
		c.held[id] = held{v, by}
	}
}

// drop forgets a secret that is gone for sure; release one that may be.
func (m *chaosModel) drop(client string, id int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[client]; c != nil {
		delete(c.held, id)
	}
}

// vanish records a held secret that its holder found gone, though nobody was told.
func (m *chaosModel) vanish(client string, id int, detail string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[client]; c != nil {
		if _, ok := c.held[id]; ok {
			if c.rerun {
				detail += " (its caller-id create was re-run earlier)"
			}
			m.lostWhere[c.where()]++
			m.vanished++
			delete(c.held, id)
			c.released[id] = true
			m.vanishedDetails = append(m.vanishedDetails, detail)
		}
	}
}

func (m *chaosModel) release(client string, id int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[client]; c != nil {
		delete(c.held, id)
		c.released[id] = true
	}
}

// result records an operation's outcome: its kind and what its error named. It returns
// the orphans named, which the caller may delete.
func (m *chaosModel) result(op, client string, err error, rot *secrets.Rotation) map[string][]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops[op]++
	if err == nil {
		return nil
	}
	k := kindOf(err)
	m.kinds[k]++
	if _, ok := m.samples[k]; !ok {
		m.samples[k] = op + ": " + err.Error()
	}
	if client != "" && errors.Is(err, identity.ErrOutcomeUnknown) {
		m.errorsOn[client] = append(m.errorsOn[client][max(0, len(m.errorsOn[client])-2):], op+": "+err.Error())
	}
	if k == "" {
		m.undocumented = append(m.undocumented, op+": "+err.Error())
	}
	n := namedBy(client, err, rot)
	for _, c := range n.clients {
		m.namedClients[c] = true
	}
	for c, ss := range n.ids {
		if m.named[c] == nil {
			m.named[c] = map[int]bool{}
		}
		for _, id := range ss {
			m.named[c][id] = true
		}
	}
	return n.orphans
}

// mayLand records a write (add, rotate, create) whose caller's deadline ended with its
// outcome unknown: its request may have been in flight, and then it can still add a
// secret after the error was returned, when no listing can see it yet, so no error can
// hold its id (the SDK's error says so: "may have been added, or may still be", with the
// description and expiry it would carry). Such a secret is accounted for when it is on
// the client the error names and carries the description that call sent and the expiry
// the error gave (a create whose client was not seen gives none; its client is named).
// The condition is wider than "in flight" (the deadline may also have ended during the
// check), which only makes a match possible, never counts another secret.
func (m *chaosModel) mayLand(err error, description string) {
	var oe *identity.OutcomeError
	if !errors.As(err, &oe) || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return
	}
	var ws []pendingWrite
	for _, sm := range wouldAdd.FindAllStringSubmatch(err.Error(), -1) {
		if at, perr := time.Parse(time.RFC3339, sm[1]); perr == nil {
			ws = append(ws, pendingWrite{description, at})
		}
	}
	if len(ws) == 0 && oe.ClientMayExist {
		ws = append(ws, pendingWrite{description: description})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[oe.ClientID] = append(m.pending[oe.ClientID], ws...)
}

// pendingSecrets lists, once the faults are cleared, the secrets of every client (for
// mayLand's matches, and the details of a secret neither held nor named): client ->
// secret id -> metadata.
func (m *chaosModel) pendingSecrets(srv *hct.Server, sec *secrets.Client) map[string]map[int]secrets.ClientSecret {
	out := map[string]map[int]secrets.ClientSecret{}
	for _, hc := range srv.Clients() {
		c := hc.ID
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p, err := sec.List(ctx, c, secrets.ListOptions{})
		cancel()
		if err != nil {
			continue // a deleted client, or no answer: nothing is excused
		}
		out[c] = map[int]secrets.ClientSecret{}
		for _, s := range p.Secrets {
			out[c][s.ID] = s
		}
	}
	return out
}

// pick returns a random client of the worker, live and fit for f, or "".
func (m *chaosModel) pick(rng *rand.Rand, worker int, f func(*mClient) bool) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, c := range m.clients {
		if c.owner == worker && !c.gone && !c.mayBeGone && (f == nil || f(c)) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	sort.Strings(ids)
	return ids[rng.IntN(len(ids))]
}

// heldBy returns the ids of the secrets worker holds on client, in order.
func (m *chaosModel) heldBy(client string, worker int) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	if c := m.clients[client]; c != nil {
		for id, h := range c.held {
			if h.by == worker {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (m *chaosModel) owned(worker int) int {
	n := 0
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.clients {
		if c.owner == worker && !c.gone && !c.mayBeGone {
			n++
		}
	}
	return n
}

func (m *chaosModel) setGone(client string, sure bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[client]; c != nil {
		c.gone = c.gone || sure
		c.mayBeGone = !sure
	}
}

func (m *chaosModel) createOf(client string) *hybridclients.CreateRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clients[client].create
}

func (m *chaosModel) panicked(where string, r any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.panics = append(m.panics, fmt.Sprintf("%s: %v", where, r))
}

func (m *chaosModel) total() int {
	n := 0
	for _, v := range m.ops {
		n += v
	}
	return n
}

func (m *chaosModel) errCount() int {
	n := 0
	for _, v := range m.kinds {
		n += v
	}
	return n
}

func summary(counts map[string]int) string {
	var parts []string
	for k, v := range counts {
		if k == "" {
			k = "undocumented"
		}
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (m *chaosModel) opSummary() string   { return summary(m.ops) }
func (m *chaosModel) kindSummary() string { return summary(m.kinds) }

// verdict is what verify found.
type verdict struct {
	rejected, unaccounted, unknownClients, lostClients int
	// late: secrets neither held nor named by id, but on a client where a write's request
	// may have landed after its error (mayLand), with that write's description.
	late    int
	details []string
}

// verify compares the model with the fake's state. pending are the secrets of the clients
// with writes that may have landed late (pendingSecrets).
func (m *chaosModel) verify(srv *hct.Server, pending map[string]map[int]secrets.ClientSecret) verdict {
	m.mu.Lock()
	defer m.mu.Unlock()
	var v verdict
	exists := map[string]bool{}
	for _, c := range srv.Clients() {
		exists[c.ID] = true
		mc := m.clients[c.ID]
		if mc == nil && !m.namedClients[c.ID] {
			v.unknownClients++
			v.details = append(v.details, fmt.Sprintf("unknown client %s (%s) with secrets %v; its create's error: %s", c.ID, c.Name, c.SecretIDs, m.createErrs[c.Name]))
			continue
		}
		for _, id := range c.SecretIDs {
			if mc != nil {
				if _, ok := mc.held[id]; ok || mc.released[id] {
					continue
				}
			}
			if m.named[c.ID][id] {
				continue
			}
			if s, ok := pending[c.ID][id]; ok && slices.ContainsFunc(m.pending[c.ID], func(w pendingWrite) bool { return w.matches(s) }) {
				v.late++
				v.details = append(v.details, fmt.Sprintf("secret %d of client %s (%s), not named by id, carries the description %q and expiry %v of a write whose request may have landed after its error: %q", id, c.ID, c.Name, s.Description, s.Expiry, m.errorsOn[c.ID]))
				continue
			}
			v.unaccounted++
			v.details = append(v.details, fmt.Sprintf("secret %d of client %s (%s) is neither held nor named (description %q, expiry %v; writes that may have landed late on the client: %+v); the last outcome-unknown errors on it: %q",
				id, c.ID, c.Name, pending[c.ID][id].Description, pending[c.ID][id].Expiry, m.pending[c.ID], m.errorsOn[c.ID]))
		}
	}
	for id, mc := range m.clients {
		if !exists[id] {
			if !mc.gone && !mc.mayBeGone {
				v.lostClients++
				v.details = append(v.details, fmt.Sprintf("client %s of worker %d vanished", id, mc.owner))
			}
			continue
		}
		for sid, h := range mc.held {
			if !h.value.IsZero() && !srv.CheckSecret(id, h.value) {
				v.rejected++
				d := fmt.Sprintf("the value of secret %d of client %s held by worker %d is rejected", sid, id, h.by)
				if mc.rerun {
					d += " (its caller-id create was re-run earlier)"
				}
				m.lostWhere[mc.where()]++
				v.details = append(v.details, d)
			}
		}
	}
	return v
}

// chaosWorker is one goroutine of the soak.
type chaosWorker struct {
	id           int
	rng          *rand.Rand
	m            *chaosModel
	hc           *hybridclients.Client
	sec          *secrets.Client
	shared       []string
	sharedExpiry secrets.Expiry
	n            int
}

var chaosDeadlines = []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, time.Second, 3 * time.Second}

// step runs one random operation under a short random deadline.
func (w *chaosWorker) step() {
	w.n++
	ctx, cancel := context.WithTimeout(context.Background(), chaosDeadlines[w.rng.IntN(len(chaosDeadlines))])
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			rec.see(fmt.Sprint(r))
			w.m.panicked(fmt.Sprintf("worker %d, step %d", w.id, w.n), r)
		}
	}()
	if w.rng.IntN(4) == 0 {
		w.sharedStep(ctx)
	} else {
		w.ownStep(ctx)
	}
}

// ownStep works on the worker's own clients: every operation.
func (w *chaosWorker) ownStep(ctx context.Context) {
	m := w.m
	client := m.pick(w.rng, w.id, nil)
	if client == "" || (m.owned(w.id) < chaosOwnedMax && w.rng.IntN(10) == 0) {
		w.create(ctx)
		return
	}
	switch x := w.rng.IntN(100); {
	case x < 4:
		if c := m.pick(w.rng, w.id, func(c *mClient) bool { return c.create != nil }); c != "" {
			w.recreate(ctx, c)
			return
		}
		w.create(ctx)
	case x < 12:
		c, err := w.hc.Get(ctx, client)
		rec.see(c, err)
		m.result("get client", client, err, nil)
	case x < 18:
		p, err := w.hc.List(ctx, hybridclients.ListOptions{PageSize: 20, Skip: w.rng.IntN(40)})
		rec.see(p, err)
		m.result("list clients", client, err, nil)
	case x < 26:
		c, err := w.hc.Update(ctx, client, hybridclients.UpdateRequest{Tags: []string{fmt.Sprintf("step-%d", w.n)}})
		rec.see(c, err)
		m.result("update client", client, err, nil)
	case x < 30:
		if m.owned(w.id) < 2 {
			w.create(ctx)
			return
		}
		err := w.hc.Delete(ctx, client)
		rec.see(err)
		m.result("delete client", client, err, nil)
		m.setGone(client, err == nil || errors.Is(err, identity.ErrNotFound))
	case x < 48:
		if len(m.heldBy(client, w.id)) >= chaosHeldMax {
			w.deleteSecret(ctx, client)
			return
		}
		req := secrets.AddRequest{Description: fmt.Sprintf("w%d-%d", w.id, w.n), Expiry: secrets.ExpiresIn(time.Duration(48+w.rng.IntN(48)) * time.Hour)}
		if w.rng.IntN(3) == 0 {
			req.Description = "look-alike" // as another deployment of the same application
			req.Expiry = w.sharedExpiry
		}
		w.add(ctx, client, req)
	case x < 58:
		w.updateSecret(ctx, client)
	case x < 68:
		w.deleteSecret(ctx, client)
	case x < 86:
		w.rotate(ctx, client, secrets.RotateRequest{Description: fmt.Sprintf("rotated w%d-%d", w.id, w.n)})
	case x < 93:
		p, err := w.sec.List(ctx, client, secrets.ListOptions{})
		rec.see(p, err)
		m.result("list secrets", client, err, nil)
	default:
		ids := m.heldBy(client, w.id)
		if len(ids) == 0 {
			w.create(ctx)
			return
		}
		id := ids[w.rng.IntN(len(ids))]
		s, err := w.sec.Get(ctx, client, id)
		rec.see(s, err)
		m.result("get secret", client, err, nil)
		w.gone(client, id, "get secret", err)
	}
}

// sharedStep works on a client every worker uses: look-alike adds, and changes to the
// worker's own secrets only; rotations retire only expired secrets (none are).
func (w *chaosWorker) sharedStep(ctx context.Context) {
	// Each worker uses two of the shared clients, so each has 8 users, within reach of
	// the limit of 10 secrets but not always at it.
	client := w.shared[(w.id+w.rng.IntN(2))%len(w.shared)]
	mine := w.m.heldBy(client, w.id)
	switch x := w.rng.IntN(10); {
	case len(mine) > 0 && x < 4:
		w.deleteSecret(ctx, client)
	case len(mine) > 0 && x < 6:
		w.updateSecret(ctx, client)
	case len(mine) == 0 && x < 3:
		w.rotate(ctx, client, secrets.RotateRequest{Description: "shared", Expiry: w.sharedExpiry, Retire: secrets.RetireExpired()})
	case len(mine) == 0 && x < 8:
		w.add(ctx, client, secrets.AddRequest{Description: "shared", Expiry: w.sharedExpiry})
	default:
		p, err := w.sec.List(ctx, client, secrets.ListOptions{})
		rec.see(p, err)
		w.m.result("list secrets", client, err, nil)
	}
}

func (w *chaosWorker) create(ctx context.Context) {
	req := hybridclients.CreateRequest{
		Name: fmt.Sprintf("chaos-%02d-%d", w.id, w.n), RedirectURIs: []string{"https://chaos.example.com/cb"},
		SecretDescription: "first", SecretExpiry: secrets.ExpiresIn(72 * time.Hour),
	}
	var keep *hybridclients.CreateRequest
	if w.rng.IntN(3) == 0 {
		req.ID = uuid.NewString() // a provisioning script's fixed id
		keep = &req
	}
	c, err := w.hc.Create(ctx, req)
	rec.see(c, err)
	w.m.mayLand(err, req.SecretDescription)
	w.cleanUp(w.m.result("create", req.ID, err, nil))
	if err != nil {
		w.m.mu.Lock()
		w.m.createErrs[req.Name] = err.Error()
		w.m.mu.Unlock()
	}
	if err == nil {
		rec.secret(c.Secret.Value.Reveal())
		w.m.addClient(c.Client.ID, w.id, keep)
		w.m.hold(c.Client.ID, c.Secret.ID, c.Secret.Value, w.id)
	}
}

// recreate re-runs a caller-id create whose client exists: it must fail (ErrConflict)
// and leave the client's secrets alone.
func (w *chaosWorker) recreate(ctx context.Context, client string) {
	req := *w.m.createOf(client)
	w.m.mu.Lock()
	w.m.clients[client].rerun = true
	w.m.mu.Unlock()
	c, err := w.hc.Create(ctx, req)
	rec.see(c, err)
	w.m.mayLand(err, req.SecretDescription)
	w.cleanUp(w.m.result("re-create", client, err, nil))
	if err == nil {
		rec.secret(c.Secret.Value.Reveal())
		w.m.hold(client, c.Secret.ID, c.Secret.Value, w.id)
		w.m.mu.Lock()
		w.m.recreated++
		w.m.mu.Unlock()
	}
}

func (w *chaosWorker) add(ctx context.Context, client string, req secrets.AddRequest) {
	a, err := w.sec.Add(ctx, client, req)
	rec.see(a, err)
	w.m.mayLand(err, req.Description)
	w.cleanUp(w.m.result("add", client, err, nil))
	if err == nil {
		rec.secret(a.Value.Reveal())
		w.m.hold(client, a.ID, a.Value, w.id)
	}
}

func (w *chaosWorker) updateSecret(ctx context.Context, client string) {
	ids := w.m.heldBy(client, w.id)
	if len(ids) == 0 {
		w.add(ctx, client, secrets.AddRequest{Description: fmt.Sprintf("w%d-%d", w.id, w.n)})
		return
	}
	req := secrets.UpdateRequest{Description: identity.Ptr(fmt.Sprintf("renamed w%d-%d", w.id, w.n))}
	if w.rng.IntN(2) == 0 {
		req = secrets.UpdateRequest{Expiry: secrets.ExpiresIn(time.Duration(24+w.rng.IntN(48)) * time.Hour)}
	}
	id := ids[w.rng.IntN(len(ids))]
	s, err := w.sec.Update(ctx, client, id, req)
	rec.see(s, err)
	w.m.result("update secret", client, err, nil)
	w.gone(client, id, "update secret", err)
}

func (w *chaosWorker) deleteSecret(ctx context.Context, client string) {
	ids := w.m.heldBy(client, w.id)
	if len(ids) == 0 {
		p, err := w.sec.List(ctx, client, secrets.ListOptions{})
		rec.see(p, err)
		w.m.result("list secrets", client, err, nil)
		return
	}
	id := ids[w.rng.IntN(len(ids))]
	err := w.sec.Delete(ctx, client, id)
	rec.see(err)
	w.m.result("delete secret", client, err, nil)
	switch {
	case err == nil:
		w.m.drop(client, id)
	case errors.Is(err, identity.ErrNotFound):
		w.gone(client, id, "delete secret", err)
	default:
		w.m.release(client, id)
	}
}

// cleanUp deletes the orphans an error named, as its doc says a caller may. They stay
// named, so one that is not deleted is still accounted for.
func (w *chaosWorker) cleanUp(orphans map[string][]int) {
	for client, ids := range orphans {
		for _, id := range ids {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := w.sec.Delete(ctx, client, id)
			cancel()
			rec.see(err)
			w.m.result("delete orphan", client, err, nil)
		}
	}
}

// gone records a held secret that err (of a call on it) says is not there: nobody
// deleted it, as far as its holder was told.
func (w *chaosWorker) gone(client string, id int, op string, err error) {
	if errors.Is(err, identity.ErrNotFound) {
		w.m.vanish(client, id, fmt.Sprintf("%s: secret %d of client %s held by worker %d: %v", op, id, client, w.id, err))
	}
}

// rotate rotates client's secret; its Store sometimes fails, as a full disk would.
func (w *chaosWorker) rotate(ctx context.Context, client string, opts secrets.RotateRequest) {
	var stored *secrets.Added
	failStore := w.rng.IntN(20) == 0
	opts.Store = func(_ context.Context, s secrets.Added) error {
		rec.secret(s.Value.Reveal())
		rec.see(s)
		if failStore {
			return errStoreFull
		}
		stored = &s
		return nil
	}
	mine := w.m.heldBy(client, w.id)
	rot, err := w.sec.Rotate(ctx, client, opts)
	rec.see(rot, err)
	w.m.mayLand(err, opts.Description)
	w.cleanUp(w.m.result("rotate", client, err, rot))
	if stored != nil {
		w.m.hold(client, stored.ID, stored.Value, w.id)
	}
	if rot == nil {
		return
	}
	for _, s := range rot.Deleted {
		w.m.drop(client, s.ID)
	}
	for _, s := range rot.FreedRoom {
		w.m.drop(client, s.ID)
	}
	if err != nil && stored != nil && opts.Retire.String() == "all" {
		// Retirement stopped: what it did not report deleted, or as not yet handled, may
		// have been retired by the step that failed.
		for _, id := range mine {
			if !slices.ContainsFunc(rot.Deleted, func(s secrets.ClientSecret) bool { return s.ID == id }) &&
				!slices.ContainsFunc(rot.NotRetired, func(s secrets.ClientSecret) bool { return s.ID == id }) {
				w.m.release(client, id)
			}
		}
	}
}
