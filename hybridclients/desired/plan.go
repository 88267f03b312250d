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
)

// Action is what a plan does to one client.
type Action string

// The actions of a plan. Only ActionCreate, ActionUpdate and ActionDelete change the
// tenant.
const (
	// ActionCreate creates the client, with its first secret.
	ActionCreate Action = "create"
	// ActionUpdate changes the settings listed in Change.Fields, or replaces a first
	// secret whose value an earlier apply lost (Change.Secret).
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
	// from: a SHA-256 over every concerned client's settings as read (none when absent).
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
	// first secret of a new client, or one that replaces a first secret whose value an
	// earlier apply lost (see Record.Pending).
	Add bool
	// Description of the new secret, from the client's SecretPolicy; "" means the
	// policy's default, naming the date.
	Description string
	// Lifetime of the new secret, from the client's SecretPolicy; zero means one year.
	Lifetime time.Duration
	// Delete are secrets that an earlier apply provably made and whose value nobody
	// holds: Apply deletes them.
	Delete []int
	// Unclaimed are secrets an earlier apply met that may be someone else's: no plan
	// touches them; check them yourself.
	Unclaimed []int
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
	// manage, and the first secrets they could not settle. Without it, a client dropped
	// from the State is not deleted (only Removed clients are), and a lost first secret
	// is not replaced.
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

// ErrStale matches the error of Apply when the tenant's clients changed since the plan
// was made (a *StaleError, before anything is changed), or when one changed while Apply
// ran (a client created or deleted by someone else meanwhile).
var ErrStale = errors.New("desired: the tenant changed since the plan was made")

// Diff reads the clients that s and opts.Record name from the tenant and returns the Plan
// that would make the tenant match s: which clients to create, which settings to update
// (each old and new), which managed clients to delete (only with opts.Delete), and which
// are as they should be. It changes nothing. s is checked first (State.Validate): every
// broken rule at once, before any request.
//
// Settings are compared as the service keeps them: redirect URIs, post-logout redirect
// URIs and tags as sets, tags only when the State sets them, defaults filled in.
func Diff(ctx context.Context, c *hybridclients.Client, s State, opts PlanOptions) (*Plan, error) {
	if err := errors.Join(checkArgs(ctx, c), s.Validate(), opts.Record.validate("PlanOptions.Record")); err != nil {
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
		return nil, fmt.Errorf("desired: reading the tenant's clients: %w", err)
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
				ch.Secret.Delete, ch.Secret.Unclaimed = pd.Orphans, pd.Unclaimed
			}
			ch.Action = ActionNone
			if len(ch.Fields) > 0 || ch.Secret != nil {
				ch.Action = ActionUpdate
			}
		}
		p.Changes = append(p.Changes, ch)
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
			return nil, fmt.Errorf("desired: listing the tenant's other clients: %w", err)
		}
	}
	p.Fingerprint = p.fingerprint()
	return p, nil
}

// newSecret is the SecretChange that adds c's first secret (or one in place of a first
// secret whose value was lost), as its policy says.
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
	var (
		mu    sync.Mutex
		out   = make(map[string]*Client, len(unique))
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, readers)
	)
	for chunk := range slices.Chunk(unique, idsPerList) {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			page, err := c.List(ctx, hybridclients.ListOptions{IDs: chunk})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, hc := range page.Clients {
				if k := idKey(hc.ID); want[k] { // a service that ignored the filter adds nothing
					out[k] = observed(hc)
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
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

// fingerprint is the SHA-256 of the tenant and of every concerned client as read (ids in
// lower case, in order; lists sorted, as the service's order says nothing), in JSON.
func (p *Plan) fingerprint() string {
	return fingerprintOf(p.Tenant, p.currents())
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

func fingerprintOf(tenant string, currents map[string]*Client) string {
	type entry struct {
		ID      string      `json:"id"`
		Current *fileClient `json:"current"`
	}
	entries := make([]entry, 0, len(currents))
	for k, c := range currents {
		entries = append(entries, entry{ID: k, Current: c.canonical()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.ID, b.ID) })
	h := sha256.New()
	// Encoding plain strings, bools and slices cannot fail.
	_ = json.NewEncoder(h).Encode(struct {
		Tenant  string  `json:"tenant"`
		Clients []entry `json:"clients"`
	}{tenant, entries})
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
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
