package desired

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/internal/clientinfo"
	"github.com/ocs-go/identity/internal/limit"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/secrets"
)

// Action is what a plan does to one client.
type Action string

// The actions of a plan. Only ActionCreate, ActionUpdate and ActionDelete change the
// tenant.
const (
	// ActionCreate creates the client, with its first secret.
	ActionCreate Action = "create"
	// ActionUpdate changes the settings listed in Change.Fields, rotates the client's
	// secrets when its policy finds them due, or replaces a first secret whose value an
	// earlier apply lost (Change.Secret).
	ActionUpdate Action = "update"
	// ActionDelete deletes a managed client: one the State lists as removed, or one an
	// earlier apply recorded that the State no longer has.
	ActionDelete Action = "delete"
	// ActionNone: the client is as the State wants it.
	ActionNone Action = "none"
	// ActionKeep: a managed client that the State no longer wants is kept, as deleting
	// was not chosen (PlanOptions.Delete).
	ActionKeep Action = "keep"
)

// Plan is what Apply would do to make the tenant match a State, as Diff found it: one
// Change per client concerned, in the order of the State (removed and recorded clients
// after, by id). It holds no secret value.
//
// A Plan can be saved (WriteJSON), read back (ReadPlan) and applied later: Apply then
// reads the clients again and refuses a plan the tenant has outgrown (ErrStale).
type Plan struct {
	// Tenant is PlanOptions.Tenant: which tenant the plan is for, in the caller's words.
	Tenant string
	// Fingerprint identifies the state of the tenant's clients that the plan was made
	// from, and what the plan does: a SHA-256 over every concerned client's settings as
	// read (none when absent) and each change's action, client, wanted settings and
	// secrets, and the ids to forget. ReadPlan and Apply refuse a plan it does not match.
	Fingerprint string
	// Changes has one Change per client concerned: the State's clients in its order,
	// then the removed and recorded clients that exist, by id.
	Changes []Change
	// Forget lists recorded ids (PlanOptions.Record) whose clients no longer exist:
	// Apply drops them from the record.
	Forget []string
	// Unmanaged lists the tenant's other clients, neither in the State nor in the record,
	// when PlanOptions.Unmanaged asks for them. No plan ever changes them.
	Unmanaged []Unmanaged
}

// Change is what a plan does to one client.
type Change struct {
	// Action is what happens to the client; ID is its id.
	Action Action
	ID     string
	// Name is the client's name in the State, or, for a client the State does not have,
	// as read.
	Name string
	// Why says, for ActionDelete and ActionKeep, why the client is managed.
	Why string
	// Fields are the settings that change, each old and new: for ActionCreate every
	// setting, for ActionUpdate those that differ.
	Fields []FieldChange
	// Secret is what happens to the client's secrets, nil when nothing does.
	Secret *SecretChange
	// Finding, when not empty, is what a person should look at about the client's
	// secrets, which the plan does not rotate: what its policy cannot settle
	// (secrets.Plan.Finding: a newest secret that never expires, secrets due at a client
	// with no room for a new one), or that they could not be read (whether they are due
	// is then unknown, until a later plan reads them).
	Finding string
	// Current is the client as read from the tenant, nil when it does not exist.
	Current *Client
	// Desired is the client as the State wants it (ActionCreate, ActionUpdate,
	// ActionNone).
	Desired *Client
}

// FieldChange is one setting of a client that a plan changes. Old and New are a string,
// a bool, a []string, or a duration written as in a file ("1h"); Old is nil for a client
// that does not exist yet.
type FieldChange struct {
	// Field is the setting's key in a desired-state file ("redirectURIs").
	Field string
	// Old is the setting as read, New as wanted.
	Old, New any
}

// SecretChange is what a plan does to a client's secrets. It never holds a value.
type SecretChange struct {
	// Add says that a secret is added and its value handed to ApplyOptions.Store: the
	// first secret of a new client, or one that replaces a secret whose value an earlier
	// apply lost (see Record.Pending).
	Add bool
	// Description of the new secret, from the client's SecretPolicy; "" means the
	// policy's default, naming the date.
	Description string
	// Lifetime of the new secret, from the client's SecretPolicy; zero means one year.
	Lifetime time.Duration
	// Delete are secrets that an earlier apply provably made and whose value nobody
	// holds (Record.Pending's orphans): Apply deletes each that still has the
	// description and expiry the record holds for it, and leaves any other.
	Delete []int
	// Unclaimed are secrets an earlier apply met that may be someone else's: no plan
	// touches them; check them yourself.
	Unclaimed []int
	// Rotate, when set, rotates the client's secrets, which its policy finds due: Apply
	// adds a new secret, hands its value to ApplyOptions.Store, and retires the old
	// secrets as the policy says once the identity server accepts the new one.
	Rotate *Rotation
}

// Rotation is the rotation of one client's secrets that a plan makes: the client's
// SecretPolicy finds them due, as secrets.Policy.Plan decides from the secrets as read.
type Rotation struct {
	// Reason says why the secrets are due, in secrets.Plan's words ("newest working
	// secret 3 expires 2027-01-02T00:00:00Z, in 12 days: within 30 days").
	Reason string
	// Secrets are the client's secrets as read, which the rotation was decided from
	// (never a value): the plan's fingerprint covers them, so Apply refuses the plan
	// (ErrStale) when they changed since.
	Secrets []secrets.ClientSecret
}

// Unmanaged is a client of the tenant that is neither in the State nor in the record.
type Unmanaged struct {
	// ID and Name are the client's, as read.
	ID, Name string
}

// PlanOptions tune Diff. The zero value plans no deletion and reads only the clients the
// State and no record name.
type PlanOptions struct {
	// Record is what earlier applies recorded (Applied.Record): the clients they
	// manage, and the new secrets they could not settle. It must be of the Client's
	// tenant (Record.TenantID and Resource), or Diff refuses it. Without it, a client dropped
	// from the State is not deleted (only Removed clients are), and a secret whose value
	// was lost is not replaced.
	Record Record
	// Delete chooses to delete managed clients that the State does not want: those in
	// State.Removed, and those in Record that the State no longer lists. Without it they
	// are planned as ActionKeep. Clients that are neither are never deleted.
	Delete bool
	// Unmanaged lists the tenant's clients that are neither in the State nor in Record
	// in Plan.Unmanaged (one more walk of every client of the tenant).
	Unmanaged bool
	// Tenant names the tenant the plan is for, such as its resource and id; Apply
	// refuses the plan for another (ApplyOptions.Tenant).
	Tenant string
}

// pkgName starts the text of every error the package returns, once.
const pkgName = "desired"

// ErrStale matches the error of Apply when the tenant's clients changed since the plan
// was made (a *StaleError, before anything is changed), or when one changed while Apply
// ran (a client created or deleted by someone else meanwhile). Its text, as that of a
// *StaleError, has no package name: Apply's error, which holds it, names the package once.
var ErrStale = errors.New("the tenant changed since the plan was made")

// Diff reads the clients that s and opts.Record name from the tenant and returns the Plan
// that would make the tenant match s: which clients to create, which settings to update
// (each old and new), which managed clients to delete (only with opts.Delete), and which
// are as they should be. It changes nothing. s is checked first (State.Validate): every
// broken rule at once, before any request.
//
// Settings are compared as the service keeps them: redirect URIs, post-logout redirect
// URIs and tags as sets, tags only when the State sets them, defaults filled in.
//
// Each client of s that exists, has a secret policy and is enabled as s wants it costs one
// request more: a list of its secrets, from which its policy decides (as
// secrets.Policy.Plan does, as of Config.Clock) whether they are due. A due client's
// change rotates them (SecretChange.Rotate, with the reason); one the policy cannot
// settle, or whose secrets could not be read, carries a Finding; one with nothing due
// shows no change. A disabled client (as s wants it) is never due, by the rule of
// hybridclients.PlanRotations: the identity server accepts none of its secrets, so a new
// one could never be proven. Nor is a client with a secret still to be replaced
// (Record.Pending): it gets a new one anyway.
func Diff(ctx context.Context, c *hybridclients.Client, s State, opts PlanOptions) (*Plan, error) {
	ctx, op := clientinfo.Of(c).Telemetry.Start(ctx, "desired.Diff", "")
	p, err := diff(ctx, c, s, opts)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return p, err
}

func diff(ctx context.Context, c *hybridclients.Client, s State, opts PlanOptions) (*Plan, error) {
	if err := errors.Join(checkArgs(ctx, c), s.validate(), opts.Record.validate("PlanOptions.Record"),
		opts.Record.checkTenant("PlanOptions.Record", clientinfo.Of(c))); err != nil {
		return nil, err
	}
	pending := opts.Record.pendingByID()
	recorded := map[string]bool{}
	for _, id := range opts.Record.ids() {
		recorded[idKey(id)] = true
	}
	var ids []string
	for _, dc := range s.Clients {
		ids = append(ids, dc.ID)
	}
	ids = append(ids, s.Removed...)
	ids = append(ids, opts.Record.Managed...)
	for _, p := range opts.Record.Pending {
		ids = append(ids, p.ClientID)
	}
	current, err := read(ctx, c, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the tenant's clients: %w", rules.Unprefixed(err))
	}

	p := &Plan{Tenant: opts.Tenant}
	done := map[string]bool{}
	for _, dc := range s.Clients {
		k := idKey(dc.ID)
		done[k] = true
		ch := Change{ID: dc.ID, Name: dc.Name, Desired: &dc, Current: current[k]}
		switch {
		case ch.Current == nil:
			ch.Action = ActionCreate
			ch.Fields = diffFields(dc, nil)
			ch.Secret = dc.newSecret()
		default:
			ch.Fields = diffFields(dc, ch.Current)
			if pd, ok := pending[k]; ok {
				ch.Secret = dc.newSecret()
				ch.Secret.Delete, ch.Secret.Unclaimed = secretIDs(pd.Orphans), pd.Unclaimed
			}
			ch.Action = ActionNone
			if len(ch.Fields) > 0 || ch.Secret != nil {
				ch.Action = ActionUpdate
			}
		}
		p.Changes = append(p.Changes, ch)
	}
	if err := decideRotations(ctx, c, p.Changes); err != nil {
		return nil, err
	}
	unwanted := func(id, why string) {
		k := idKey(id)
		if done[k] {
			return
		}
		done[k] = true
		cur := current[k]
		if cur == nil {
			if recorded[k] {
				p.Forget = append(p.Forget, id)
			}
			return
		}
		ch := Change{Action: ActionKeep, ID: cur.ID, Name: cur.Name, Why: why, Current: cur}
		if opts.Delete {
			ch.Action = ActionDelete
		}
		p.Changes = append(p.Changes, ch)
	}
	for _, id := range s.Removed {
		unwanted(id, "removed in the desired state")
	}
	for _, id := range opts.Record.ids() {
		unwanted(id, "not in the desired state; recorded by an earlier apply")
	}
	if opts.Unmanaged {
		if p.Unmanaged, err = unmanaged(ctx, c, done); err != nil {
			return nil, fmt.Errorf("listing the tenant's other clients: %w", rules.Unprefixed(err))
		}
	}
	p.Fingerprint = p.fingerprint()
	return p, nil
}

// newSecret is the SecretChange that adds c's first secret (or one in place of a secret
// whose value was lost), as its policy says.
func (c Client) newSecret() *SecretChange {
	sc := &SecretChange{Add: true}
	if p := c.Secrets; p != nil {
		sc.Description, sc.Lifetime = p.Description, p.Lifetime
	}
	return sc
}

// checkArgs refuses what would make a call panic: a nil context or client.
func checkArgs(ctx context.Context, c *hybridclients.Client) error {
	var errs []error
	if ctx == nil {
		errs = append(errs, &identity.ValidationError{Field: "Ctx", Rule: "must not be nil (use context.Background())", Value: nil})
	}
	if c == nil {
		errs = append(errs, &identity.ValidationError{Field: "hybridclients.Client", Rule: "must be made with hybridclients.New; a nil Client cannot send requests", Value: "nil *Client"})
	}
	return errors.Join(errs...)
}

// idsPerList is how many ids one list request asks for: about 1.6 KB of query, well
// within what servers and proxies accept in a URL.
const idsPerList = 40

// readers is how many list requests read clients at once.
const readers = 4

// read returns the clients of ids that exist, by idKey, as Clients; the ids are read by
// list requests filtered by id, a few at once.
func read(ctx context.Context, c *hybridclients.Client, ids []string) (map[string]*Client, error) {
	want := map[string]bool{}
	var unique []string
	for _, id := range ids {
		if k := idKey(id); !want[k] {
			want[k] = true
			unique = append(unique, id)
		}
	}
	chunks := slices.Collect(slices.Chunk(unique, idsPerList))
	var mu sync.Mutex
	out := make(map[string]*Client, len(unique))
	err := forEach(ctx, len(chunks), readers, func(ctx context.Context, i int) error {
		page, err := c.List(ctx, hybridclients.ListOptions{IDs: chunks[i]})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, hc := range page.Clients {
			if k := idKey(hc.ID); want[k] { // a service that ignored the filter adds nothing
				out[k] = observed(hc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forEach calls f for each of n items, at most workers at once, within an adaptive limit
// as Apply's (its requests slow down while the service throttles). The first error
// cancels the calls still running, and is returned once they have ended.
func forEach(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	lim := limit.New(workers)
	ctx, cancel := context.WithCancel(transport.WithPacer(ctx, lim))
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	fail := func(err error) {
		once.Do(func() {
			first = err
			cancel()
		})
	}
	for i := range n {
		if err := lim.Acquire(ctx); err != nil {
			fail(err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer lim.Release()
			if err := f(ctx, i); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return first
}

// decideRotations decides, by each client's policy, whether the secrets of the existing
// and enabled clients of changes that have one are due: a due client's change rotates
// them, one the policy cannot settle gets a Finding. It reads their secrets a few at once.
func decideRotations(ctx context.Context, c *hybridclients.Client, changes []Change) error {
	var todo []int
	for i, ch := range changes {
		d := ch.Desired
		if d == nil || d.Secrets == nil || ch.Current == nil || ch.Secret != nil {
			continue
		}
		if _, never := rules.NeverDue(d.Enabled == nil || *d.Enabled); !never { // enabled as the State wants it
			todo = append(todo, i)
		}
	}
	return forEach(ctx, len(todo), hybridclients.DefaultConcurrency, func(ctx context.Context, j int) error {
		ch := &changes[todo[j]] // each call its own change
		read, asOf, err := secretsOf(ctx, c, ch.ID)
		err = rules.Unprefixed(err)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("reading the secrets of client %s: %w", ch.ID, cmp.Or(err, ctx.Err()))
		case err != nil:
			// One client's secrets do not hold up the plan of every other client (nor a
			// plan made with a Tenant Member's rights, who may not read secrets).
			ch.Finding = "its secrets could not be read, so whether they are due is unknown until a plan reads them: " + err.Error()
			return nil
		}
		switch pl := ch.Desired.Secrets.Policy().Plan(ch.ID, read, asOf); {
		case pl.Rotates():
			ch.Secret = &SecretChange{Rotate: &Rotation{Reason: pl.Reason, Secrets: read}}
			ch.Action = ActionUpdate
		case pl.Finding != "":
			ch.Finding = pl.Finding
		}
		return nil
	})
}

// secretsOf lists the secrets of client id, in the order of their ids, with the time of
// the Config's clock they were read at: CheckExpiry reads both in one request (its report
// lists every secret), by the clock by which ApplyRotations decides too.
func secretsOf(ctx context.Context, c *hybridclients.Client, id string) ([]secrets.ClientSecret, time.Time, error) {
	r, err := c.Secrets().CheckExpiry(ctx, id, 0)
	if err != nil {
		return nil, time.Time{}, err
	}
	all := slices.Concat(r.Expired, r.ExpiringSoon, r.Retiring, r.Retired, r.NeverExpiring, r.Valid)
	slices.SortFunc(all, func(a, b secrets.ClientSecret) int { return cmp.Compare(a.ID, b.ID) })
	return all, r.AsOf, nil
}

// observed is a client as read, in the form of a Client (no policy: it is not kept by
// the service).
func observed(hc hybridclients.HybridClient) *Client {
	tags := hc.Tags
	if tags == nil {
		tags = []string{}
	}
	return &Client{
		ID: hc.ID, Name: hc.Name, Enabled: ptr(hc.Enabled),
		AllowRefreshTokens:          hc.AllowRefreshTokens,
		AccessTokenLifetime:         hc.AccessTokenLifetime,
		RedirectURIs:                hc.RedirectURIs,
		PostLogoutRedirectURIs:      hc.PostLogoutRedirectURIs,
		ClientURI:                   hc.ClientURI,
		LogoURI:                     hc.LogoURI,
		AllowAccessTokensViaBrowser: hc.AllowAccessTokensViaBrowser,
		Tags:                        tags,
	}
}

// unmanaged lists the tenant's clients whose ids are not in known, by name and id.
func unmanaged(ctx context.Context, c *hybridclients.Client, known map[string]bool) ([]Unmanaged, error) {
	var out []Unmanaged
	for hc, err := range c.All(ctx, hybridclients.ListOptions{}) {
		if err != nil {
			return nil, err
		}
		if !known[idKey(hc.ID)] {
			out = append(out, Unmanaged{ID: hc.ID, Name: hc.Name})
		}
	}
	slices.SortFunc(out, func(a, b Unmanaged) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// setting is one setting of a client, in the form a plan shows and compares.
type setting struct {
	key   string
	value any  // string, bool, []string, or durationText
	set   bool // a []string compared as a set
}

// settings lists the settings of c that a State manages, defaults filled in, in the order
// of a file. tags is whether the tags are managed.
func (c Client) settings(tags bool) []setting {
	lifetime := c.AccessTokenLifetime
	if lifetime == 0 {
		lifetime = hybridclients.DefaultAccessTokenLifetime
	}
	out := []setting{
		{key: "name", value: c.Name},
		{key: "enabled", value: c.Enabled == nil || *c.Enabled},
		{key: "allowRefreshTokens", value: c.AllowRefreshTokens},
		{key: "accessTokenLifetime", value: durationText(formatDuration(lifetime))},
		{key: "redirectURIs", value: list(c.RedirectURIs), set: true},
		{key: "postLogoutRedirectURIs", value: list(c.PostLogoutRedirectURIs), set: true},
		{key: "clientURI", value: c.ClientURI},
		{key: "logoURI", value: c.LogoURI},
		{key: "allowAccessTokensViaBrowser", value: c.AllowAccessTokensViaBrowser},
	}
	if tags {
		out = append(out, setting{key: "tags", value: list(c.Tags), set: true})
	}
	return out
}

// durationText is a duration as a file writes it ("1h"): shown without quotes.
type durationText string

func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// diffFields lists the settings of want that differ from cur; with cur nil, every
// setting that is not empty (a create).
func diffFields(want Client, cur *Client) []FieldChange {
	var out []FieldChange
	ws := want.settings(want.Tags != nil)
	if cur == nil {
		for _, s := range ws {
			if !empty(s.value) {
				out = append(out, FieldChange{Field: s.key, New: s.value})
			}
		}
		return out
	}
	cs := cur.settings(want.Tags != nil)
	for i, s := range ws {
		if !same(s, cs[i]) {
			out = append(out, FieldChange{Field: s.key, Old: cs[i].value, New: s.value})
		}
	}
	return out
}

func empty(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	}
	return false
}

func same(a, b setting) bool {
	if a.set {
		x, y := slices.Clone(a.value.([]string)), slices.Clone(b.value.([]string))
		slices.Sort(x)
		slices.Sort(y)
		return slices.Equal(x, y)
	}
	return a.value == b.value
}

// HasChanges reports whether applying the plan would change the tenant: a create, an
// update or a delete.
func (p *Plan) HasChanges() bool {
	if p == nil {
		return false
	}
	for _, ch := range p.Changes {
		if ch.Action == ActionCreate || ch.Action == ActionUpdate || ch.Action == ActionDelete {
			return true
		}
	}
	return false
}

// Count returns how many changes of the plan have the action a.
func (p *Plan) Count(a Action) int {
	if p == nil {
		return 0
	}
	n := 0
	for _, ch := range p.Changes {
		if ch.Action == a {
			n++
		}
	}
	return n
}

// fingerprint is the SHA-256 of the tenant, of every concerned client as read (ids in
// lower case, in order; lists sorted, as the service's order says nothing), of the
// secrets each rotation was decided from (ids, descriptions, expiries), and of what the
// plan does (decisions), in JSON.
func (p *Plan) fingerprint() string {
	return fingerprintOf(p.Tenant, p.currents(), p.rotationSecrets(), p.decisions())
}

// decision is what a plan does to one client, as its fingerprint takes it: everything
// Apply acts on (the action and its client, the client wanted, the secrets added or
// deleted) and what a person reads about it (name, why, finding). Fields are left out:
// they follow from the clients as read and wanted.
type decision struct {
	Action  Action      `json:"action"`
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Why     string      `json:"why,omitempty"`
	Finding string      `json:"finding,omitempty"`
	Desired *fileClient `json:"desired"`
	Secret  *secretFile `json:"secret,omitempty"`
}

// decisions are what the plan does: one decision per change, in the plan's order, and the
// ids it forgets.
type decisions struct {
	Changes []decision `json:"changes"`
	Forget  []string   `json:"forget"`
}

func (p *Plan) decisions() *decisions {
	out := &decisions{Changes: make([]decision, len(p.Changes)), Forget: p.Forget}
	if len(p.Forget) == 0 {
		out.Forget = nil // a plan file leaves an empty list out
	}
	for i, ch := range p.Changes {
		out.Changes[i] = decision{Action: ch.Action, ID: ch.ID, Name: ch.Name, Why: ch.Why, Finding: ch.Finding,
			Desired: ch.Desired.canonical(), Secret: ch.Secret.file()}
	}
	return out
}

// file is s as a plan file writes it; nil for nil.
func (s *SecretChange) file() *secretFile {
	if s == nil {
		return nil
	}
	out := &secretFile{Add: s.Add, Description: s.Description, Lifetime: duration(s.Lifetime), Delete: s.Delete, Unclaimed: s.Unclaimed}
	if r := s.Rotate; r != nil {
		out.Rotate = &rotationFile{Reason: r.Reason, Secrets: canonicalSecrets(r.Secrets)}
	}
	return out
}

// currents returns every client the plan concerns, by idKey, as read: nil when absent.
func (p *Plan) currents() map[string]*Client {
	out := make(map[string]*Client, len(p.Changes)+len(p.Forget))
	for _, ch := range p.Changes {
		out[idKey(ch.ID)] = ch.Current
	}
	for _, id := range p.Forget {
		out[idKey(id)] = nil
	}
	return out
}

// rotationSecrets returns the secrets each rotation of the plan was decided from, by
// idKey of its client.
func (p *Plan) rotationSecrets() map[string][]secrets.ClientSecret {
	out := map[string][]secrets.ClientSecret{}
	for _, ch := range p.Changes {
		if r := ch.rotation(); r != nil {
			out[idKey(ch.ID)] = r.Secrets
		}
	}
	return out
}

// rotation is the change's rotation of the client's secrets, nil when it makes none.
func (ch Change) rotation() *Rotation {
	if ch.Secret == nil {
		return nil
	}
	return ch.Secret.Rotate
}

// fingerprintOf is the fingerprint of the tenant's clients as read (currents), of the
// secrets read of those whose rotation a plan decided (rotating; a client not in it has
// none, one in it with no secret an empty list), and of what the plan does (planned; nil
// compares the clients alone).
func fingerprintOf(tenant string, currents map[string]*Client, rotating map[string][]secrets.ClientSecret, planned *decisions) string {
	type entry struct {
		ID      string         `json:"id"`
		Current *fileClient    `json:"current"`
		Secrets *[]secretEntry `json:"secrets,omitempty"`
	}
	entries := make([]entry, 0, len(currents))
	for k, c := range currents {
		e := entry{ID: k, Current: c.canonical()}
		if read, ok := rotating[k]; ok {
			e.Secrets = ptr(canonicalSecrets(read))
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.ID, b.ID) })
	h := sha256.New()
	// Encoding plain strings, bools and slices cannot fail.
	_ = json.NewEncoder(h).Encode(struct {
		Tenant  string     `json:"tenant"`
		Clients []entry    `json:"clients"`
		Plan    *decisions `json:"plan,omitempty"`
	}{tenant, entries, planned})
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// secretEntry is a secret as a plan keeps it, never with a value: its id, description and
// expiry (expiryText).
type secretEntry struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
	Expires     string `json:"expires"`
}

// canonicalSecrets is the secrets as a plan keeps them, by id; never nil.
func canonicalSecrets(list []secrets.ClientSecret) []secretEntry {
	out := make([]secretEntry, len(list))
	for i, cs := range list {
		out[i] = secretEntry{ID: cs.ID, Description: cs.Description, Expires: expiryText(cs.Expiry)}
	}
	slices.SortFunc(out, func(a, b secretEntry) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// expiryText writes a listed secret's expiry: "never", or its time in RFC 3339 with the
// service's precision, so that it reads back (readExpiry) to the same fingerprint.
func expiryText(e secrets.Expiry) string {
	if e.Never() || e.At().IsZero() {
		return "never"
	}
	return e.At().UTC().Format(time.RFC3339Nano)
}

// readExpiry reads what expiryText wrote.
func readExpiry(s string) (secrets.Expiry, error) {
	if s == "never" {
		return secrets.NeverExpires(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return secrets.Expiry{}, errors.New(`must be "never" or an RFC 3339 time`)
	}
	return secrets.ExpiresAt(t), nil
}

// canonical is c as a fingerprint takes it: as read, lists sorted; nil for nil.
func (c *Client) canonical() *fileClient {
	if c == nil {
		return nil
	}
	f := c.exact()
	for _, l := range []*[]string{&f.RedirectURIs, &f.PostLogoutRedirectURIs} {
		*l = slices.Sorted(slices.Values(*l))
	}
	if f.Tags != nil {
		t := slices.Sorted(slices.Values(*f.Tags))
		f.Tags = &t
	}
	return &f
}
