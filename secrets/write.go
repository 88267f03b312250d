package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/marker"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/settle"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
)

// ErrLimitReached matches the error of Add and Rotate when the client already has
// MaxPerClient secrets; nothing was sent to create one.
var ErrLimitReached = errors.New("limit of secrets per client reached")

// AddRequest describes a new secret: what a Tenant Administrator enters in the portal's
// Add Secret window.
type AddRequest struct {
	// Description says what the secret is for (which application, which deployment). It
	// must not hold control characters (newlines, tabs, ANSI escapes), U+2028, U+2029 or
	// bidirectional formatting characters: descriptions reach terminals and logs.
	Description string
	// Expiry is when the secret stops working: ExpiresAt a future time, ExpiresIn a
	// positive duration, or NeverExpires. The zero value means one year from now (the
	// same date and time a calendar year later, a day more across a leap day), as in the
	// portal. The expiry stored is cut to whole seconds and may be up to an hour (at most
	// a tenth of the lifetime) earlier than asked: it marks the secret as this call's (see
	// "How Add settles a lost answer" in the package doc). The returned Added holds the
	// expiry as stored.
	Expiry Expiry
}

// defaultExpiry is the portal's default: the same time one year later.
func defaultExpiry(now time.Time) Expiry {
	return ExpiresAt(now.AddDate(1, 0, 0).UTC().Truncate(time.Second))
}

// validate reports every broken rule at once and returns the wire body to send, with the
// default expiry filled in.
func (r AddRequest) validate(now time.Time) (*wireWrite, error) {
	w := &wireWrite{}
	if r.Description != "" {
		w.Description = &r.Description
	}
	var v validate.Errors
	v.Text("Description", r.Description)
	v.Append(w.setExpiry("Expiry", r.Expiry, now, defaultExpiry(now)))
	if err := v.Err(); err != nil {
		return nil, err
	}
	return w, nil
}

// Add creates a secret for client clientID and returns it with its value: the only time
// the service returns the value, so store it at once (Value.WriteFile, a vault). An
// expiry in the past, or ExpiresAt of the zero time, is refused before anything is sent
// (errors.Is(err, identity.ErrInvalidInput)).
//
// Add first lists the client's secrets (one GET), so it refuses at the limit of
// MaxPerClient secrets without sending anything (errors.Is(err, ErrLimitReached)). It is
// safe to retry, and retries itself, although the service's add is not idempotent: it
// sends at most RetryPolicy.MaxAttempts POSTs, and after a lost answer it ends with one
// new secret whose value it returns, or with an *identity.OutcomeError
// (identity.ErrOutcomeUnknown): Orphans holds this call's secrets whose value nobody holds
// (delete them), Unclaimed the look-alikes that may be this call's or someone else's
// (check before deleting). It deletes a secret only with proof that this call added it.
// "How Add settles a lost answer" in the package doc tells how.
func (c *Client) Add(ctx context.Context, clientID string, req AddRequest) (*Added, error) {
	ctx, op := c.tel().Start(ctx, "secrets.Add", clientID)
	v, err := c.addSecret(ctx, clientID, req)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) addSecret(ctx context.Context, clientID string, req AddRequest) (*Added, error) {
	p, err := c.path(clientID)
	body, err := c.prepare(err, req.validate)
	if err != nil {
		return nil, err
	}
	tk := c.claims.begin(clientID)
	defer tk.end()
	before, err := c.collect(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return c.add(ctx, tk, p, body, before)
}

// limitError is the ErrLimitReached error for a client with the given secrets.
func limitError(clientID string, secrets []ClientSecret, now time.Time) error {
	expired := 0
	for _, s := range secrets {
		if s.Expired(now) {
			expired++
		}
	}
	return fmt.Errorf("%w: client %q has %d secrets (the limit is %d), %d of them expired; delete one first (Rotate does it for expired ones with FreeRoom)",
		ErrLimitReached, clientID, len(secrets), MaxPerClient, expired)
}

// mark moves body's expiry to this call's marker (see AddRequest.Expiry), avoiding the
// expiries of the secrets in before and the markers this Client's other adds to the
// client may have put there unseen by before (see claims), and reports whether the
// marker proves ownership.
func (c *Client) mark(tk *ticket, body *wireWrite, before []ClientSecret) (proof bool) {
	if body.Expiration.at == nil {
		return false // never expires: nothing the service stores can tell two adds apart
	}
	return tk.mark(func(taken []time.Time) (time.Time, bool) {
		m, ok := marker.Mark(*body.Expiration.at, c.now(), append(expiries(before), taken...), c.randN)
		body.Expiration.at = &m
		return m, ok
	})
}

// claims keeps two adds through one Client from ever sharing a marker. An add begins (a
// ticket) before it lists the client's secrets, and its marker must avoid every expiry
// that listing may have missed: the markers of adds still in flight, and those of adds
// that ended after it began (their secrets may have landed after the listing). So a
// marker stays held after its add ends until every add that began before that end has
// ended too. Across processes two look-alike adds (same client, description and asked
// expiry) still pick the same marker with a chance of 1 in the marker's spread (up to
// 3600); within one Client, never.
type claims struct {
	mu sync.Mutex
	m  map[string]*clientClaims
}

// clientClaims are the claims on one client's markers.
type clientClaims struct {
	seq    uint64           // counts begins and ends
	active map[*ticket]bool // adds begun and not ended
	held   []heldMarker     // markers of active adds, and of ended adds an active add may not have seen
}

type heldMarker struct {
	at    time.Time
	owner *ticket // nil once its add has ended
	ended uint64  // seq at the end of its add
}

// ticket is one add's place in claims, from before its listing to its end.
type ticket struct {
	cl       *claims
	clientID string
	begun    uint64
}

// begin registers an add on clientID; call it before listing the client's secrets, and
// end the ticket when the add is settled.
func (cl *claims) begin(clientID string) *ticket {
	tk := &ticket{cl: cl, clientID: clientID}
	if cl == nil {
		return tk
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.m == nil {
		cl.m = map[string]*clientClaims{}
	}
	cc := cl.m[clientID]
	if cc == nil {
		cc = &clientClaims{active: map[*ticket]bool{}}
		cl.m[clientID] = cc
	}
	cc.seq++
	tk.begun = cc.seq
	cc.active[tk] = true
	return tk
}

// mark runs pick with the markers this add must avoid, and holds the one it picked.
func (tk *ticket) mark(pick func(taken []time.Time) (time.Time, bool)) bool {
	if tk.cl == nil {
		_, ok := pick(nil)
		return ok
	}
	tk.cl.mu.Lock()
	defer tk.cl.mu.Unlock()
	cc := tk.cl.m[tk.clientID]
	taken := make([]time.Time, 0, len(cc.held))
	for _, h := range cc.held {
		if h.owner != nil || h.ended > tk.begun {
			taken = append(taken, h.at)
		}
	}
	m, ok := pick(taken)
	cc.held = append(cc.held, heldMarker{at: m, owner: tk})
	return ok
}

// end releases the add's claim: its marker stays held while an add that began before
// this end is active, as that add's listing may not show the secret it marks.
func (tk *ticket) end() {
	if tk.cl == nil {
		return
	}
	tk.cl.mu.Lock()
	defer tk.cl.mu.Unlock()
	cc := tk.cl.m[tk.clientID]
	cc.seq++
	delete(cc.active, tk)
	for i := range cc.held {
		if cc.held[i].owner == tk {
			cc.held[i].owner, cc.held[i].ended = nil, cc.seq
		}
	}
	oldest := cc.seq + 1 // the earliest begin among the active adds
	for a := range cc.active {
		oldest = min(oldest, a.begun)
	}
	cc.held = slices.DeleteFunc(cc.held, func(h heldMarker) bool { return h.owner == nil && h.ended < oldest })
	if len(cc.active) == 0 {
		delete(tk.cl.m, tk.clientID)
	}
}

// expiries returns the expiry times of the secrets that expire.
func expiries(ms []ClientSecret) []time.Time {
	var out []time.Time
	for _, m := range ms {
		if t, ok := m.Expiry.when(time.Time{}); ok && !m.Expiry.Never() {
			out = append(out, t)
		}
	}
	return out
}

// add posts body, knowing the client's secrets before (listed after tk began); it first
// puts this call's marker into body. See Add for what it does when the answer is lost.
func (c *Client) add(ctx context.Context, tk *ticket, p []string, body *wireWrite, before []ClientSecret) (*Added, error) {
	clientID := tk.clientID
	if len(before) >= MaxPerClient {
		return nil, limitError(clientID, before, c.now())
	}
	proof := c.mark(tk, body, before)
	return settle.Post(ctx, c.t, settle.Op[*Added]{
		Post: func(ctx context.Context, b *transport.Budget) (*Added, error) {
			return c.post(ctx, clientID, p, body, b)
		},
		Look: func(ctx context.Context, failure error, _ bool) (bool, error) {
			return c.reconcile(ctx, clientID, before, body, proof, failure)
		},
	})
}

// post sends the add once. A 2xx answer without the value is an error: the service
// acted, but nobody holds the value, so that secret must be found.
func (c *Client) post(ctx context.Context, clientID string, p []string, body *wireWrite, b *transport.Budget) (*Added, error) {
	var w wireAdded
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodPost, Path: p, Body: body, Budget: b}, &w)
	if err != nil {
		return nil, err
	}
	a, err := w.added(resp)
	if err != nil {
		return nil, fmt.Errorf("adding a secret to client %q: %w", clientID, err)
	}
	return a, nil
}

// cleanupTimeout bounds the calls that undo a half-done change after the caller's
// context ended.
const cleanupTimeout = 30 * time.Second

// cleanupContext keeps ctx's values but not its cancellation: an undo must run even when
// the caller gave up, or a secret nobody holds the value of would stay.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// reconcile finds out whether the failed add (failure) created a secret, by comparing the
// client's secrets with before. When it did and the secret is provably this call's (proof:
// body carries a marker, and exactly one new secret has it), it deletes it and reports
// again = true (the add may be tried once more). The error returned is what the caller
// gets when the add is not tried again.
func (c *Client) reconcile(ctx context.Context, clientID string, before []ClientSecret, body *wireWrite, proof bool, failure error) (again bool, _ error) {
	check := settle.Check(ctx, c.t, func(ctx context.Context) ([]ClientSecret, error) { return c.collect(ctx, clientID) })
	if !check.Seen {
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Err: fmt.Errorf(
			"%w; listing the client's secrets to check failed (%w): a secret whose value nobody holds may have been added; it would be one not among %v",
			failure, check.Err, ids(before))}
	}
	var alike []ClientSecret // new secrets that look like this call's: description and expiry (marker)
	for _, s := range check.Value {
		if !slices.ContainsFunc(before, func(b ClientSecret) bool { return b.ID == s.ID }) && body.matches(s) {
			alike = append(alike, s)
		}
	}
	switch {
	case check.Err != nil:
		// Only the naming look (past the caller's deadline if need be) saw the secrets:
		// name, never delete; the request may still land.
		oe := &identity.OutcomeError{Op: opAdd, ClientID: clientID, Err: fmt.Errorf(
			"%w; listing the client's secrets to settle the outcome failed (%w), and one more look only names what may be left: a secret whose value nobody holds may have been added, or may still be; it would carry this call's description and expiry (%s)",
			failure, check.Err, body.expiryText())}
		if proof && len(alike) == 1 {
			oe.Orphans = ids(alike)
		} else {
			oe.Unclaimed = ids(alike)
		}
		return false, oe
	case len(alike) == 0:
		// Had the add acted, its secret would carry the description and expiry sent. New
		// secrets without them are someone else's: not this call's business.
		return true, transport.Settled(fmt.Errorf("%w (no secret was added)", failure))
	case !proof:
		// Never-expiring (or too short-lived for a marker): a look-alike someone else added
		// cannot be told from ours. Deleting it could lock their application out.
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Unclaimed: ids(alike), Err: fmt.Errorf(
			"%w; secrets %v appeared meanwhile with this call's description and expiry; one may be the one added here, whose value nobody holds, but none was deleted as nothing proves whose it is",
			failure, ids(alike))}
	case len(alike) > 1:
		// Two secrets with this call's marker: a collision (1 in up to 3600, and only
		// across Clients or processes: see claims) with a
		// concurrent look-alike call. Neither is provably ours.
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Unclaimed: ids(alike), Err: fmt.Errorf(
			"%w; secrets %v appeared meanwhile carrying this call's marker; one may be the one added here, whose value nobody holds, but none was deleted as they cannot be told apart",
			failure, ids(alike))}
	}
	orphan := alike[0].ID
	if err := c.delete(ctx, clientID, orphan); err != nil {
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Orphans: []int{orphan}, Err: fmt.Errorf(
			"%w; secret %d was added but its value was lost, and deleting it failed: %w", failure, orphan, err)}
	}
	return true, transport.Settled(fmt.Errorf("%w (secret %d was added but its value was lost; it was deleted again)", failure, orphan))
}

// opAdd names an add in an *identity.OutcomeError.
const opAdd = "add secret"

// matches reports whether s is what w asked for: same description and marked expiry.
func (w *wireWrite) matches(s ClientSecret) bool {
	desc := ""
	if w.Description != nil {
		desc = *w.Description
	}
	return marker.Carries(s.Description, s.Expiry.At(), desc, w.Expiration.at)
}

// expiryText shows the expiry w sends: an RFC 3339 time or "never".
func (w *wireWrite) expiryText() string {
	if w.Expiration.at == nil {
		return "never"
	}
	return w.Expiration.at.UTC().Format(time.RFC3339)
}

func ids(ms []ClientSecret) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// UpdateRequest changes a secret's description or expiry. Only what is set is sent; the
// service leaves the rest as it is. An update that sets nothing is refused.
//
//	secrets.UpdateRequest{Description: identity.Ptr("billing, prod")}
//	secrets.UpdateRequest{Expiry: secrets.ExpiresIn(7 * 24 * time.Hour)}
type UpdateRequest struct {
	// Description, when not nil, replaces the description ("" clears it), under the
	// rules of AddRequest.Description.
	Description *string
	// Expiry, when not zero, replaces the expiry: a future time, or NeverExpires. A past
	// or zero time is refused; it would not shorten the secret's life but fail.
	Expiry Expiry
}

// validate reports every broken rule at once and returns the wire body to send.
func (r UpdateRequest) validate(now time.Time) (*wireWrite, error) {
	w := &wireWrite{Description: r.Description}
	var v validate.Errors
	if r.Description != nil {
		v.Text("Description", *r.Description)
	}
	v.Append(w.setExpiry("Expiry", r.Expiry, now, Expiry{}))
	if r.Description == nil && r.Expiry.IsZero() {
		v.Add("UpdateRequest", "must set Description or Expiry", nil)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return w, nil
}

// Update changes what req sets of secret secretID of client clientID and returns the secret as
// it is afterwards. A missing client or secret is an error matching identity.ErrNotFound.
// Changes can take up to an hour to reach sign-in.
func (c *Client) Update(ctx context.Context, clientID string, secretID int, req UpdateRequest) (*ClientSecret, error) {
	ctx, op := c.tel().Start(ctx, "secrets.Update", clientID)
	v, err := c.update(ctx, clientID, secretID, req)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) update(ctx context.Context, clientID string, secretID int, req UpdateRequest) (*ClientSecret, error) {
	p, err := c.path(clientID, secretID)
	body, err := c.prepare(err, req.validate)
	if err != nil {
		return nil, err
	}
	var w wireSecret
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodPut, Path: p, Body: body}, &w)
	if err != nil {
		return nil, err
	}
	m, err := w.metadata()
	if err != nil {
		return nil, responseError(resp, err)
	}
	return &m, nil
}

// Delete removes secret secretID of client clientID: applications that sign in with it stop
// working (within an hour). A missing secret is an error matching identity.ErrNotFound,
// except when a retry of this same call meets it: then an earlier attempt did the
// deletion, and Delete returns nil.
func (c *Client) Delete(ctx context.Context, clientID string, secretID int) error {
	ctx, op := c.tel().Start(ctx, "secrets.Delete", clientID)
	err := rules.Prefixed(pkgName, c.delete(ctx, clientID, secretID))
	op.End(err)
	return err
}

func (c *Client) delete(ctx context.Context, clientID string, secretID int) error {
	p, err := c.path(clientID, secretID)
	if err != nil {
		return err
	}
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodDelete, Path: p}, nil)
	if errors.Is(err, identity.ErrNotFound) && resp != nil && resp.EarlierAttemptMayHaveActed {
		return nil
	}
	return err
}
