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
	"github.com/ocs-go/identity/internal/settle"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
)

// ErrLimitReached matches the error of Add and Rotate when the client already has
// MaxPerClient secrets; nothing was sent to create one.
var ErrLimitReached = errors.New("secrets: limit of secrets per client reached")

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
	// portal.
	//
	// The expiry sent is cut to whole seconds and moved a random 1 to 3600 seconds earlier
	// (at most a tenth of the secret's lifetime; not moved when that is under a minute),
	// avoiding the expiry of every secret the client has and the markers of this Client's
	// other adds to the client still in flight. That moment is this call's
	// marker: after a lost answer, the one new secret carrying it is provably this call's
	// and may be deleted, while a look-alike added by someone else is never touched. The
	// one limit: two look-alike adds (same client, description and asked expiry) from
	// different Clients or processes, in flight at once, pick the same marker with a
	// chance of 1 in the spread; if one of them then loses its answer without having
	// acted, it takes the other's secret for its own. The returned Added holds the expiry
	// as stored.
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
// the service returns the value, so store it at once (Value.WriteFile, a vault). A past or
// zero expiry is refused before anything is sent (errors.Is(err, identity.ErrInvalidInput)).
//
// Add first lists the client's secrets (one GET). That lets it refuse at the limit of
// MaxPerClient secrets without sending anything (errors.Is(err, ErrLimitReached)), and
// settle a request whose answer was lost (a dropped connection, a timeout, a 5xx, an
// answer without the value). It lists the secrets again (an unusable listing is tried
// again while attempts and ctx allow; when it still fails, one more look, tried again
// after transient failures for at most 10 s and past ctx if need be, only names what may
// be left) and looks for the one new secret
// carrying this call's marker (see AddRequest.Expiry):
//
//   - none: the request did nothing; Add tries again;
//   - exactly one: it is this call's and nobody holds its value; Add deletes it and tries
//     again;
//   - no proof (a never-expiring secret, or a lifetime too short for a marker, with a
//     look-alike: same description and expiry; or several secrets with the marker): Add
//     deletes nothing and stops.
//
// Secrets that others added meanwhile without this call's marker are never touched. In
// all, Add sends at most RetryPolicy.MaxAttempts POSTs. When it cannot settle what
// happened, the error is an *identity.OutcomeError (matching identity.ErrOutcomeUnknown):
// Orphans holds this call's secrets whose value nobody holds (delete them), Unclaimed the
// look-alikes that may be this call's or someone else's (check before deleting).
func (c *Client) Add(ctx context.Context, clientID string, req AddRequest) (*Added, error) {
	p, err := c.path(clientID)
	body, err := c.prepare(err, req.validate)
	if err != nil {
		return nil, err
	}
	before, err := c.collect(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return c.add(ctx, clientID, p, body, before)
}

// limitError is the ErrLimitReached error for a client with the given secrets.
func limitError(clientID string, secrets []Metadata, now time.Time) error {
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
// expiries of the secrets in before and the markers of this Client's other adds to the
// client still in flight, and reports whether the marker proves ownership. release
// frees the marker once the add is settled.
func (c *Client) mark(clientID string, body *wireWrite, before []Metadata) (proof bool, release func()) {
	if body.Expiration.at == nil {
		return false, func() {} // never expires: nothing the service stores can tell two adds apart
	}
	return c.claims.mark(clientID, func(inFlight []time.Time) (time.Time, bool) {
		m, ok := marker.Mark(*body.Expiration.at, c.now(), append(expiries(before), inFlight...), c.randN)
		body.Expiration.at = &m
		return m, ok
	})
}

// claims holds the markers of adds in flight, per client. Across processes two
// look-alike adds (same client, description and asked expiry) still pick the same marker
// with a chance of 1 in the marker's spread (up to 3600); within one Client, never.
type claims struct {
	mu sync.Mutex
	m  map[string][]time.Time
}

// mark runs pick with the markers in flight on clientID, and holds the one it picked
// until release is called.
func (cl *claims) mark(clientID string, pick func(inFlight []time.Time) (time.Time, bool)) (bool, func()) {
	if cl == nil {
		_, ok := pick(nil)
		return ok, func() {}
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	m, ok := pick(cl.m[clientID])
	if cl.m == nil {
		cl.m = map[string][]time.Time{}
	}
	cl.m[clientID] = append(cl.m[clientID], m)
	return ok, func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		held := cl.m[clientID]
		if i := slices.IndexFunc(held, m.Equal); i >= 0 {
			held = slices.Delete(held, i, i+1)
		}
		if len(held) == 0 {
			delete(cl.m, clientID)
		} else {
			cl.m[clientID] = held
		}
	}
}

// expiries returns the expiry times of the secrets that expire.
func expiries(ms []Metadata) []time.Time {
	var out []time.Time
	for _, m := range ms {
		if t, ok := m.Expiry.when(time.Time{}); ok && !m.Expiry.Never() {
			out = append(out, t)
		}
	}
	return out
}

// add posts body, knowing the client's secrets before; it first puts this call's marker
// into body. See Add for what it does when the answer is lost.
func (c *Client) add(ctx context.Context, clientID string, p []string, body *wireWrite, before []Metadata) (*Added, error) {
	if len(before) >= MaxPerClient {
		return nil, limitError(clientID, before, c.now())
	}
	proof, release := c.mark(clientID, body, before)
	defer release()
	return settle.Post(ctx, c.t, settle.Op[*Added]{
		Post: func(ctx context.Context, b *transport.Budget) (*Added, error) {
			return c.post(ctx, clientID, p, body, b)
		},
		Look: func(ctx context.Context, failure error, _ bool) (*Added, bool, error) {
			again, err := c.reconcile(ctx, clientID, before, body, proof, failure)
			return nil, again, err
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
		return nil, fmt.Errorf("secrets: adding a secret to client %q: %w", clientID, err)
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
func (c *Client) reconcile(ctx context.Context, clientID string, before []Metadata, body *wireWrite, proof bool, failure error) (again bool, _ error) {
	after, checkErr, err := settle.Look(ctx, c.t, func(ctx context.Context) ([]Metadata, error) { return c.collect(ctx, clientID) })
	if err != nil {
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Err: fmt.Errorf(
			"%w; listing the client's secrets to check failed (%w): a secret whose value nobody holds may have been added; it would be one not among %v",
			failure, err, ids(before))}
	}
	var alike []Metadata // new secrets that look like this call's: description and expiry (marker)
	for _, s := range after {
		if !slices.ContainsFunc(before, func(b Metadata) bool { return b.ID == s.ID }) && body.matches(s) {
			alike = append(alike, s)
		}
	}
	switch {
	case checkErr != nil:
		// Only the naming look (past the caller's deadline if need be) saw the secrets:
		// name, never delete; the request may still land.
		oe := &identity.OutcomeError{Op: opAdd, ClientID: clientID, Err: fmt.Errorf(
			"%w; listing the client's secrets to settle the outcome failed (%w), and one more look only names what may be left: a secret whose value nobody holds may have been added, or may still be; it would carry this call's description and expiry (%s)",
			failure, checkErr, body.expiryText())}
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
	if err := c.Delete(ctx, clientID, orphan); err != nil {
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Orphans: []int{orphan}, Err: fmt.Errorf(
			"%w; secret %d was added but its value was lost, and deleting it failed: %w", failure, orphan, err)}
	}
	return true, transport.Settled(fmt.Errorf("%w (secret %d was added but its value was lost; it was deleted again)", failure, orphan))
}

// opAdd names an add in an *identity.OutcomeError.
const opAdd = "add secret"

// matches reports whether s is what w asked for: same description and marked expiry.
func (w *wireWrite) matches(s Metadata) bool {
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

func ids(ms []Metadata) []int {
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
func (c *Client) Update(ctx context.Context, clientID string, secretID int, req UpdateRequest) (*Metadata, error) {
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
