package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/textrule"
	"github.com/ocs-go/identity/internal/transport"
)

// ErrLimitReached matches the error of Add and Rotate when the client already has
// MaxPerClient secrets; nothing was sent to create one.
var ErrLimitReached = errors.New("secrets: limit of 10 secrets per client reached")

// AddRequest describes a new secret: what a Tenant Administrator enters in the portal's
// Add Secret window.
type AddRequest struct {
	// Description says what the secret is for (which application, which deployment). It
	// must not hold control characters (newlines, tabs, ANSI escapes), U+2028, U+2029 or
	// bidirectional formatting characters: descriptions reach terminals and logs.
	Description string
	// Expiry is when the secret stops working: ExpiresAt a future time, ExpiresIn a
	// positive duration, or NeverExpires. The zero value means one year from now, as in
	// the portal.
	Expiry Expiry
}

// defaultExpiry is the portal's default: the same time one year later.
func defaultExpiry(now time.Time) Expiry {
	return ExpiresAt(now.AddDate(1, 0, 0).UTC().Truncate(time.Second))
}

func (r AddRequest) wire(now time.Time) (*wireWrite, error) {
	w := &wireWrite{}
	if r.Description != "" {
		w.Description = &r.Description
	}
	// Every broken rule at once.
	if err := errors.Join(checkText("Description", r.Description), w.setExpiry("Expiry", r.Expiry, now, defaultExpiry(now))); err != nil {
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
// recognise a secret added by a request whose answer was lost (a dropped connection, a
// timeout, a 5xx, an answer without the value): when exactly one new secret with the
// requested description and expiry appeared, Add deletes it, since nobody holds its value,
// and tries once more. When it cannot establish what happened, or cannot delete that
// secret, the error is an *identity.OutcomeError (matching identity.ErrOutcomeUnknown)
// that says which secret ids may be left behind.
func (c *Client) Add(ctx context.Context, clientID string, req AddRequest) (*Added, error) {
	p, err := c.path(clientID)
	body, err := c.prepare(err, req.wire)
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
	return fmt.Errorf("%w: client %q has %d secrets, %d of them expired; delete one first (Rotate does it for expired ones with FreeRoom)",
		ErrLimitReached, clientID, len(secrets), expired)
}

// add posts body, knowing the client's secrets before. See Add for what it does when the
// answer is lost.
func (c *Client) add(ctx context.Context, clientID string, p []string, body *wireWrite, before []Metadata) (*Added, error) {
	if len(before) >= MaxPerClient {
		return nil, limitError(clientID, before, c.now())
	}
	for attempt := 1; ; attempt++ {
		var w wireAdded
		resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodPost, Path: p, Body: body}, &w)
		if err == nil {
			a, aerr := w.added(resp)
			if aerr == nil {
				return a, nil
			}
			// The service acted, but nobody holds the value: find that secret.
			err = fmt.Errorf("secrets: adding a secret to client %q: %w", clientID, aerr)
		} else if transport.OutcomeOf(err) == transport.NotActed {
			return nil, err
		}
		// Settle what the failed attempt did, then try again with the retry layer's
		// backoff while attempts and the context's deadline allow.
		again, rerr := c.reconcile(ctx, clientID, before, body, err)
		if !again || attempt >= c.t.MaxAttempts() || c.t.Wait(ctx, attempt, err) != nil {
			return nil, rerr
		}
	}
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
// client's secrets with before. When it did and that secret can be told apart, it deletes
// it and reports again = true (the add may be tried once more). The error returned is what
// the caller gets when the add is not tried again.
//
// It runs under the caller's context: when that ends first, the error matches
// identity.ErrOutcomeUnknown and says what may be left, rather than working on past the
// caller's deadline.
func (c *Client) reconcile(ctx context.Context, clientID string, before []Metadata, body *wireWrite, failure error) (again bool, _ error) {
	after, err := c.collect(ctx, clientID)
	if err != nil {
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Err: fmt.Errorf(
			"%w; listing the client's secrets to check failed (%w): a secret whose value nobody holds may have been added; delete any secret not among %v",
			failure, err, ids(before))}
	}
	var fresh, ours []Metadata
	for _, s := range after {
		if !slices.ContainsFunc(before, func(b Metadata) bool { return b.ID == s.ID }) {
			fresh = append(fresh, s)
			if body.matches(s) {
				ours = append(ours, s)
			}
		}
	}
	switch {
	case len(fresh) == 0:
		return true, transport.Settled(fmt.Errorf("%w (no secret was added)", failure))
	case len(fresh) > 1 || len(ours) != 1:
		// Not listed in Orphans: some of them hold values that others use.
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Err: fmt.Errorf(
			"%w; secrets %v appeared meanwhile: one may be the one added here, whose value nobody holds, but none was deleted as it cannot be told apart from secrets added by someone else",
			failure, ids(fresh))}
	}
	orphan := ours[0].ID
	if err := c.Delete(ctx, clientID, orphan); err != nil {
		return false, &identity.OutcomeError{Op: opAdd, ClientID: clientID, Orphans: []int{orphan}, Err: fmt.Errorf(
			"%w; secret %d was added but its value was lost, and deleting it failed: %w", failure, orphan, err)}
	}
	return true, transport.Settled(fmt.Errorf("%w (secret %d was added but its value was lost; it was deleted again)", failure, orphan))
}

// opAdd names an add in an *identity.OutcomeError.
const opAdd = "add secret"

// matches reports whether s is what w asked for: same description and expiry (to the
// second, as the service may round).
func (w *wireWrite) matches(s Metadata) bool {
	desc := ""
	if w.Description != nil {
		desc = *w.Description
	}
	if s.Description != desc {
		return false
	}
	if w.Expiration.at == nil {
		return s.Expiry.Never()
	}
	at, ok := s.Expiry.Time(time.Time{})
	if !ok {
		return false
	}
	d := at.Sub(*w.Expiration.at)
	return d < time.Second && d > -time.Second
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

// checkText refuses a string that is not valid UTF-8, which JSON would silently turn into
// U+FFFD, or that holds what could rewrite a terminal or a log line where it is shown
// (textrule.Forbidden: control characters such as newlines and ANSI escapes, U+2028,
// U+2029, bidirectional formatting characters).
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return &identity.ValidationError{Field: field, Rule: "must be valid UTF-8", Value: v}
	}
	if rule := textrule.Check(v); rule != "" {
		return &identity.ValidationError{Field: field, Rule: rule, Value: v}
	}
	return nil
}

func (r UpdateRequest) wire(now time.Time) (*wireWrite, error) {
	w := &wireWrite{Description: r.Description}
	var errs []error
	if r.Description != nil {
		errs = append(errs, checkText("Description", *r.Description))
	}
	errs = append(errs, w.setExpiry("Expiry", r.Expiry, now, Expiry{}))
	if r.Description == nil && r.Expiry.IsZero() {
		errs = append(errs, &identity.ValidationError{Field: "UpdateRequest", Rule: "must set Description or Expiry", Value: nil})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return w, nil
}

// Update changes what req sets of secret id of client clientID and returns the secret as
// it is afterwards. A missing client or secret is an error matching identity.ErrNotFound.
// Changes can take up to an hour to reach sign-in.
func (c *Client) Update(ctx context.Context, clientID string, id int, req UpdateRequest) (*Metadata, error) {
	p, err := c.path(clientID, id)
	body, err := c.prepare(err, req.wire)
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

// Delete removes secret id of client clientID: applications that sign in with it stop
// working (within an hour). A missing secret is an error matching identity.ErrNotFound,
// except when a retry of this same call meets it: then an earlier attempt did the
// deletion, and Delete returns nil.
func (c *Client) Delete(ctx context.Context, clientID string, id int) error {
	p, err := c.path(clientID, id)
	if err != nil {
		return err
	}
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodDelete, Path: p}, nil)
	if errors.Is(err, identity.ErrNotFound) && resp != nil && resp.EarlierAttemptMayHaveActed {
		return nil
	}
	return err
}
