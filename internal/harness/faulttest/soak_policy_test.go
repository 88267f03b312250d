package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// The rotation policy soak: policySoakClients hybrid clients, each with an application that
// signs in with whatever value the policy's Store last delivered for it, on a fake whose
// new secrets take the service's hour to reach sign-in, its clock run forward through the
// policy's waits.
const (
	policySoakClients = 200
	// policyPrefix names the soak's clients: the policy manages those only.
	policyPrefix = "policy-"
)

// policySoakSeed is the soak's seed: $POLICY_SOAK_SEED, else a fixed one. It draws each
// client's first expiry (1 to 60 days: about half are due) and the faults.
func policySoakSeed(t *testing.T) int64 {
	if v := os.Getenv("POLICY_SOAK_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("POLICY_SOAK_SEED: %v", err)
		}
		return s
	}
	return 20261203
}

// estate is the soak's tenant as the applications see it: each client's stored value (the
// file its application reads) and the secret id it belongs to.
type estate struct {
	srv *hct.Server
	clk *hct.Clock
	app *http.Client // the applications' own

	mu    sync.Mutex
	value map[string]identity.Secret // client id -> the value its application reads
	held  map[string]int             // client id -> the id of that secret
	names map[string]string          // client id -> name

	lockouts, early, checks int // sign-ins refused, before or after a retire; retires before the stored value worked
}

// newEstate starts a fake with the service's hour of propagation on a clock of its own,
// and an SDK whose retires the estate watches (retireSpy); n clients of the policy are
// created with their first secret expiring 1 to 60 days ahead (drawn from seed), stored,
// and given the hour to reach sign-in.
func newEstate(t *testing.T, n int, seed int64) (*estate, *fixture) {
	t.Helper()
	clk := hct.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC))
	fx := newFixture(t, &hct.Options{Clock: clk, PropagationDelay: secrets.PropagationDelay, TokenLifetime: 1000 * 24 * time.Hour, MaxClients: n + 10})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	es := &estate{srv: fx.srv, clk: clk, app: &http.Client{Transport: tr}, value: map[string]identity.Secret{}, held: map[string]int{}, names: map[string]string{}}
	cfg := fx.cfg
	cfg.HTTPClient = &http.Client{Transport: &retireSpy{base: cfg.HTTPClient.Transport, es: es}}
	cfg.Retry.MaxAttempts = soakAttempts
	hc, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections)
	fx.hc, fx.sec = hc, hc.Secrets()
	rng := rand.New(rand.NewPCG(uint64(seed), 17))
	parallelDo(n, func(i int) {
		c, err := fx.hc.Create(context.Background(), hybridclients.CreateRequest{
			Name: fmt.Sprintf("%s%03d", policyPrefix, i), RedirectURIs: []string{"https://app.example.com/cb"},
			SecretExpiry: secrets.ExpiresIn(time.Duration(1+rngIntN(rng, &es.mu, 60)) * 24 * time.Hour),
		})
		if err != nil {
			t.Error(err)
			return
		}
		rec.secret(c.Secret.Value.Reveal())
		es.mu.Lock()
		es.value[c.Client.ID], es.held[c.Client.ID], es.names[c.Client.ID] = c.Secret.Value, c.Secret.ID, c.Client.Name
		es.mu.Unlock()
	})
	clk.Advance(secrets.PropagationDelay) // the clients have reached sign-in
	return es, fx
}

// rngIntN draws from rng under mu: the creates run on several goroutines.
func rngIntN(rng *rand.Rand, mu *sync.Mutex, n int) int {
	mu.Lock()
	defer mu.Unlock()
	return rng.IntN(n)
}

// store is the policy's Store: the application's file now holds the new value.
func (es *estate) store(_ context.Context, clientID string, s secrets.Added) error {
	rec.secret(s.Value.Reveal())
	rec.see(s)
	es.mu.Lock()
	defer es.mu.Unlock()
	es.value[clientID], es.held[clientID] = s.Value, s.ID
	return nil
}

// signIn is the application of client id: a token request with the value it reads, which
// the identity server refuses (invalid_client) unless the value works. Its grant is an
// authorization code that cannot exist, so that the answer is about the secret alone (the
// server authenticates the client first); it is plain HTTP, not the SDK's.
func (es *estate) signIn(id string, value identity.Secret) bool {
	resp, err := es.app.PostForm(es.srv.URL+"/identity/connect/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {"no-such-code"}, "redirect_uri": {"https://app.example.com/cb"},
		"code_verifier": {strings.Repeat("v", 43)}, "client_id": {id}, "client_secret": {value.Reveal()},
	})
	if err != nil {
		panic("faulttest: the application's sign-in got no answer: " + err.Error())
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode == http.StatusOK || (body.Error != "" && body.Error != "invalid_client")
}

// signInAll has every application sign in with the value its store holds now (the old
// value until Store delivered the new one), and counts every refusal as a lockout,
// before or after a retire: an application whose value is refused cannot sign in.
func (es *estate) signInAll() {
	es.mu.Lock()
	ids := make([]string, 0, len(es.value))
	for id := range es.value {
		ids = append(ids, id)
	}
	es.mu.Unlock()
	for _, id := range ids {
		es.mu.Lock()
		value := es.value[id]
		es.mu.Unlock()
		ok := es.signIn(id, value)
		es.mu.Lock()
		es.checks++
		if !ok {
			es.lockouts++
		}
		es.mu.Unlock()
	}
}

// retireSpy watches the SDK's requests: before a PUT or DELETE of a secret of a client
// (an old secret shortened or deleted, or an orphan deleted) other than the one its
// application holds, it asks whether the application's stored value works; a retire while
// it does not is a retire before proof.
type retireSpy struct {
	base http.RoundTripper
	es   *estate
}

var secretPath = regexp.MustCompile(`/HybridClients/([0-9a-fA-F-]{36})/Secrets/([0-9]+)$`)

func (s *retireSpy) RoundTrip(req *http.Request) (*http.Response, error) {
	if m := secretPath.FindStringSubmatch(req.URL.Path); m != nil && (req.Method == http.MethodPut || req.Method == http.MethodDelete) {
		es := s.es
		id, sid := m[1], m[2]
		es.mu.Lock()
		value, held, ours := es.value[id], es.held[id], es.names[id] != ""
		es.mu.Unlock()
		if ours && strconv.Itoa(held) != sid {
			works := es.signIn(id, value)
			es.mu.Lock()
			if !works {
				es.early++
			}
			es.mu.Unlock()
		}
	}
	return s.base.RoundTrip(req)
}

// managed gives the soak's clients the policy.
func managed(p secrets.Policy) func(hybridclients.HybridClient) (secrets.Policy, bool) {
	return func(hc hybridclients.HybridClient) (secrets.Policy, bool) {
		return p, strings.HasPrefix(hc.Name, policyPrefix)
	}
}

// apply runs the policy across the tenant, moving the clock through its waits and having
// every application sign in before each move; it returns the outcomes by client id and
// the sequence's errors.
func (es *estate) apply(hc *hybridclients.Client, policy secrets.Policy, between func()) (map[string]hybridclients.Result[hybridclients.RotationOutcome], []error) {
	out := map[string]hybridclients.Result[hybridclients.RotationOutcome]{}
	var errs []error
	es.clk.Run(func() {
		for r, err := range hybridclients.ApplyRotations(context.Background(), hc, managed(policy), es.store, hybridclients.ScanOptions{Concurrency: soakWorkers}) {
			rec.see(r.Value.Rotation, r.Err, err)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[r.Client.ID] = r
		}
	}, between)
	return out, errs
}

// TestSoakRotationPolicy: 200 clients, about half due, each with an application that signs
// in with the value its store holds at each moment (the old one until the policy's Store
// delivers the new); new secrets take an hour to reach sign-in. The policy stores a new
// value only once the identity server accepts it, and retires no old secret before, so no
// sign-in is ever refused (every refusal counts as a lockout); a second run right after
// rotates nothing. Then the same under the fault mix (the chaos soak's, and
// a token endpoint that fails 2% of the time): no orphan secret (on the fake, held by no
// application, named by no error, not retiring). A control run without the proof shows the
// counters see a lockout.
func TestSoakRotationPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	seed := policySoakSeed(t)
	fmt.Printf("soak rotation policy seed: %d\n", seed)
	t.Logf("rotation policy soak seed: %d (rerun with POLICY_SOAK_SEED=%d)", seed, seed)

	es, fx := newEstate(t, policySoakClients, seed)
	got, errs := es.apply(fx.hc, secrets.Policy{}, es.signInAll)
	es.signInAll()
	rotated, due := 0, 0
	for _, r := range got {
		if r.Value.Plan.Due {
			due++
		}
		if r.Err != nil {
			t.Errorf("%s: %v", es.names[r.Client.ID], r.Err)
		} else if r.Value.Rotation != nil && r.Value.Rotation.Step == secrets.StepDone {
			rotated++
		}
	}
	second, errs2 := es.apply(fx.hc, secrets.Policy{}, nil)
	again := 0
	for _, r := range second {
		if r.Value.Rotation != nil {
			again++
		}
	}
	msg := fmt.Sprintf("soak rotation policy: seed %d, %d clients, %d due, %d rotated with an hour of propagation; %d sign-ins by the applications, %d locked out; %d retires before the new secret worked; second run: %d rotations; errors %v %v",
		seed, len(got), due, rotated, es.checks, es.lockouts, es.early, again, errs, errs2)
	t.Log(msg)
	fmt.Println(msg)
	fmt.Printf("figure: rotation policy, 1 h propagation: applications locked out: %d\n", es.lockouts)
	fmt.Printf("figure: rotation policy: old secrets retired before the new one was proven: %d\n", es.early)
	fmt.Printf("figure: rotation policy: second run rotations: %d\n", again)
	if len(got) != policySoakClients || due < policySoakClients/4 || rotated != due || len(errs)+len(errs2) != 0 {
		t.Errorf("%d outcomes, %d due, %d rotated: want every one of %d clients, a good part due, every due one rotated", len(got), due, rotated, policySoakClients)
	}
	if es.lockouts != 0 || es.early != 0 || again != 0 {
		t.Error("the guarantee does not hold")
	}

	t.Run("faults", func(t *testing.T) { soakPolicyFaults(t, seed) })
	t.Run("control without proof", soakPolicyControl)
}

// soakPolicyFaults applies the policy to a new estate under the fault mix and counts the
// orphan secrets.
func soakPolicyFaults(t *testing.T, seed int64) {
	es, fx := newEstate(t, policySoakClients, seed)
	for i, f := range append(chaosFaults(), hct.Fault{Op: hct.OpToken, Status: http.StatusServiceUnavailable, Probability: 0.02}) {
		f.Seed = seed + int64(i)
		fx.srv.Inject(f)
	}
	got, errs := es.apply(fx.hc, secrets.Policy{}, nil)
	fx.srv.ClearFaults()
	orphans, named, rotated, failed, due := 0, 0, 0, 0, 0
	kinds := map[string]int{}
	var details []string
	for id, name := range es.names {
		r := got[id]
		if r.Value.Plan.Due {
			due++
		}
		allowed := map[int]bool{1: true} // the first secret: the application held it before
		es.mu.Lock()
		allowed[es.held[id]] = true
		es.mu.Unlock()
		if rot := r.Value.Rotation; rot != nil {
			for _, s := range slices.Concat(rot.Shortened, rot.Kept) {
				allowed[s.ID] = true // retiring: it expires with the grace
			}
			if rot.Step == secrets.StepDone {
				rotated++
			}
		}
		if r.Err != nil {
			failed++
			kinds[kindOf(r.Err)]++
			if kindOf(r.Err) == "" {
				t.Errorf("%s: an error of no documented kind: %v", name, r.Err)
			}
		}
		for _, sid := range fx.srv.SecretIDs(id) {
			if !allowed[sid] && r.Err != nil && slices.Contains(namedBy(id, r.Err, r.Value.Rotation).ids[id], sid) {
				named++ // held by nobody, but the error names it: a person deletes it
				continue
			}
			if !allowed[sid] {
				orphans++
				details = append(details, fmt.Sprintf("%s: secret %d is held by nobody and named by no error (outcome %+v, %v)", name, sid, r.Value.Rotation, r.Err))
			}
		}
	}
	st := fx.srv.Stats()
	msg := fmt.Sprintf("soak rotation policy, faults: seed %d, %d clients, %d due, %d rotated, %d with an error (%s), %d add and %d token requests with ~12%% of API answers and 2%% of token answers faulted; orphan secrets: %d; held by nobody but named by an error: %d; scan errors %v",
		seed, len(got), due, rotated, failed, summary(kinds), st.Requests[hct.OpAddSecret], st.TokenRequests, orphans, named, errs)
	t.Log(msg)
	fmt.Println(msg)
	fmt.Printf("figure: rotation policy, faults: orphan secrets: %d\n", orphans)
	for _, d := range details {
		t.Error(d)
	}
	if rotated == 0 {
		t.Error("nothing rotated under the faults: the soak proves nothing")
	}
}

// soakPolicyControl rotates 20 clients the way a policy without proof would (Rotate with
// SkipProof and a 30-minute grace, the new secrets taking an hour): the counters must see
// the retires before proof and the lockouts, or the figures above would prove nothing.
func soakPolicyControl(t *testing.T) {
	es, fx := newEstate(t, 20, 1)
	es.clk.Run(func() {
		for r, err := range hybridclients.Each(context.Background(), fx.hc, hybridclients.ScanOptions{}, func(ctx context.Context, hc hybridclients.HybridClient) (*secrets.Rotation, error) {
			if !strings.HasPrefix(hc.Name, policyPrefix) {
				return nil, nil
			}
			return fx.sec.Rotate(ctx, hc.ID, secrets.RotateRequest{SkipProof: true, Grace: 30 * time.Minute,
				Store: func(ctx context.Context, s secrets.Added) error { return es.store(ctx, hc.ID, s) }})
		}) {
			if err != nil || r.Err != nil {
				t.Error(err, r.Err)
			}
		}
	}, nil)
	es.signInAll()
	es.clk.Advance(45 * time.Minute) // past the grace, before the new secrets arrive
	es.signInAll()
	t.Logf("control without proof: %d retires before the new secret worked, %d of %d sign-ins locked out", es.early, es.lockouts, es.checks)
	if es.early == 0 || es.lockouts == 0 {
		t.Errorf("without proof: %d early retires, %d lockouts: the counters cannot see what they count", es.early, es.lockouts)
	}
}
