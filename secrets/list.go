package secrets

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/transport"
)

// DefaultPageSize is the service's page size when ListOptions.Count is zero.
const DefaultPageSize = 100

// ListOptions page a list of a client's secrets. The zero value lists the first page.
type ListOptions struct {
	// Skip is how many secrets to pass over; 0 is the first page.
	Skip int `url:"skip,omitempty"`
	// Count is the page size; 0 means the service's default, 100.
	Count int `url:"count,omitempty"`
}

func (o ListOptions) validate() error {
	var errs []error
	if o.Skip < 0 {
		errs = append(errs, &identity.ValidationError{Field: "Skip", Rule: "must not be negative", Value: o.Skip})
	}
	if o.Count < 0 {
		errs = append(errs, &identity.ValidationError{Field: "Count", Rule: "must not be negative (0 means the default page size)", Value: o.Count})
	}
	return errors.Join(errs...)
}

// Page is one page of a client's secrets, with the number of secrets the client has.
type Page struct {
	// Secrets hold metadata only: the service never returns a value after the add.
	Secrets []Metadata
	// Total is the service's Total-Count: the client's secrets in all, not only this page.
	Total int
}

// List returns one page of the secrets of client clientID (metadata only) and how many
// the client has in all. A missing client is an error matching identity.ErrNotFound.
func (c *Client) List(ctx context.Context, clientID string, opts ListOptions) (*Page, error) {
	p, err := c.path(clientID)
	if err := errors.Join(err, opts.validate()); err != nil {
		return nil, err
	}
	var ws []wireSecret
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodGet, Path: p, Query: opts}, &ws)
	if err != nil {
		return nil, err
	}
	page := &Page{Secrets: make([]Metadata, len(ws))}
	for i := range ws {
		if page.Secrets[i], err = ws[i].metadata(); err != nil {
			return nil, responseError(resp, err)
		}
	}
	if n, ok := resp.TotalCount(); ok {
		page.Total = n
	} else {
		page.Total = opts.Skip + len(ws)
	}
	return page, nil
}

// All iterates over the secrets of client clientID, fetching one page at a time as the
// loop advances (memory holds one page), starting at opts.Skip with pages of opts.Count
// (default 100). An error ends the iteration after being yielded once. A secret met
// again on a later page (the list shifted under a concurrent add) is not yielded twice.
//
// A service that ignores skip cannot make the loop run forever: three pages in a row with
// no secret not seen before, or far more secrets than a client can hold (MaxPerClient), ends it with an
// *identity.ResponseError (identity.ErrInvalidResponse).
//
//	for s, err := range sc.All(ctx, clientID, secrets.ListOptions{}) {
//		if err != nil { return err }
//		fmt.Println(s.ID, s.Description, s.Expiry)
//	}
func (c *Client) All(ctx context.Context, clientID string, opts ListOptions) iter.Seq2[Metadata, error] {
	return func(yield func(Metadata, error) bool) {
		if opts.Count == 0 {
			opts.Count = DefaultPageSize
		}
		seen := map[int]bool{}
		stale := 0 // pages in a row without a secret not seen before
		for {
			p, err := c.List(ctx, clientID, opts)
			if err != nil {
				yield(Metadata{}, err)
				return
			}
			fresh := 0
			for _, s := range p.Secrets {
				if seen[s.ID] {
					continue
				}
				seen[s.ID] = true
				fresh++
				if !yield(s, nil) {
					return
				}
			}
			if len(p.Secrets) > 0 && fresh == 0 {
				stale++
			} else {
				stale = 0
			}
			if err := c.pagingError(clientID, opts, stale, len(seen)); err != nil {
				yield(Metadata{}, err)
				return
			}
			opts.Skip += len(p.Secrets)
			if len(p.Secrets) < opts.Count || opts.Skip >= p.Total {
				return
			}
		}
	}
}

// maxListed bounds how many secrets one listing may return: the service holds at most
// MaxPerClient per client; the slack allows for secrets added and deleted while a listing
// of small pages runs.
const maxListed = 4 * MaxPerClient

// maxStalePages is how many pages in a row may bring nothing new before the listing is
// judged stuck. One such page can be honest (small pages, secrets added meanwhile shift
// the list); a service that ignores skip repeats itself forever.
const maxStalePages = 3

// pagingError stops a listing that does not advance: maxStalePages pages in a row without
// a secret not seen before (the service ignores skip), or far more secrets than a client
// can hold.
func (c *Client) pagingError(clientID string, opts ListOptions, stale, seen int) error {
	var why string
	switch {
	case stale >= maxStalePages:
		why = fmt.Sprintf("%d pages in a row up to skip=%d repeat secrets already listed; the service ignores skip", stale, opts.Skip)
	case seen > maxListed:
		why = fmt.Sprintf("more than %d secrets listed for one client, which holds at most %d", maxListed, MaxPerClient)
	default:
		return nil
	}
	path := ""
	if p, err := c.path(clientID); err == nil {
		if u, err := c.t.URL(transport.Request{Method: http.MethodGet, Path: p}); err == nil {
			path = u.Path
		}
	}
	return &identity.ResponseError{StatusCode: http.StatusOK, Method: http.MethodGet, Path: path, Err: errors.New(why)}
}

// collect returns every secret of the client.
func (c *Client) collect(ctx context.Context, clientID string) ([]Metadata, error) {
	var all []Metadata
	for s, err := range c.All(ctx, clientID, ListOptions{}) {
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	return all, nil
}

// Count returns the number of secrets of client clientID (HEAD: no body is sent back).
func (c *Client) Count(ctx context.Context, clientID string) (int, error) {
	p, err := c.path(clientID)
	if err != nil {
		return 0, err
	}
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodHead, Path: p}, nil)
	if err != nil {
		return 0, err
	}
	return resp.RequireTotalCount()
}

// Get returns the metadata of secret id of client clientID. A missing client or secret is
// an error matching identity.ErrNotFound.
func (c *Client) Get(ctx context.Context, clientID string, id int) (*Metadata, error) {
	p, err := c.path(clientID, id)
	if err != nil {
		return nil, err
	}
	var w wireSecret
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodGet, Path: p}, &w)
	if err != nil {
		return nil, err
	}
	m, err := w.metadata()
	if err != nil {
		return nil, responseError(resp, err)
	}
	return &m, nil
}

// Exists reports whether client clientID has a secret id (HEAD, no body). A missing
// secret, or a missing client, is false with a nil error.
func (c *Client) Exists(ctx context.Context, clientID string, id int) (bool, error) {
	p, err := c.path(clientID, id)
	if err != nil {
		return false, err
	}
	_, err = c.t.Do(ctx, transport.Request{Method: http.MethodHead, Path: p}, nil)
	if errors.Is(err, identity.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
