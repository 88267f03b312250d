package secrets

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/pager"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
)

// ListOptions page a list of a client's secrets. The zero value lists the first page.
type ListOptions struct {
	// Skip is how many secrets to pass over; 0 is the first page.
	Skip int
	// PageSize is how many secrets one page holds at most (the query's count); 0 means the
	// service's default, 100 (hybridclients.DefaultPageSize), more than a client can hold.
	// Client.Count, not this, is the number of secrets in all.
	PageSize int
}

func (o ListOptions) validate() error {
	var v validate.Errors
	if o.Skip < 0 {
		v.Add("Skip", "must not be negative", o.Skip)
	}
	if o.PageSize < 0 {
		v.Add("PageSize", "must not be negative (0 means the default page size)", o.PageSize)
	}
	return v.Err()
}

// Page is one page of a client's secrets, with the number of secrets the client has.
type Page struct {
	// Secrets hold metadata only: the service never returns a value after the add.
	Secrets []ClientSecret
	// Total is the service's Total-Count: the client's secrets in all, not only this page.
	Total int
}

// listQuery is the query of a list, as the service names it (go-querystring tags).
type listQuery struct {
	Skip     int `url:"skip,omitempty"`
	PageSize int `url:"count,omitempty"`
}

// List returns one page of the secrets of client clientID (metadata only) and how many
// the client has in all. A missing client is an error matching identity.ErrNotFound.
func (c *Client) List(ctx context.Context, clientID string, opts ListOptions) (*Page, error) {
	ctx, op := c.tel().Start(ctx, "secrets.List", clientID)
	v, err := c.list(ctx, clientID, opts)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) list(ctx context.Context, clientID string, opts ListOptions) (*Page, error) {
	p, err := c.path(clientID)
	if err := errors.Join(err, opts.validate()); err != nil {
		return nil, err
	}
	var ws []wireSecret
	// A conversion: a field of ListOptions without its query parameter does not compile.
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodGet, Path: p, Query: listQuery(opts)}, &ws)
	if err != nil {
		return nil, err
	}
	page := &Page{Secrets: make([]ClientSecret, len(ws))}
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
// loop advances (memory holds one page), starting at opts.Skip with pages of opts.PageSize
// (default 100). An error ends the iteration after being yielded once.
//
// A client holds at most MaxPerClient secrets, so with the default page size All is one
// request: one moment of the list. With smaller pages it walks skip and count as the
// service pages (no cursor, no snapshot): a secret met again on a later page (the list
// shifted under a concurrent add) is not yielded twice, but a secret deleted meanwhile
// moves the later ones back, and one that exists throughout can then be missed.
//
// A service that ignores skip cannot make the loop run forever: three pages in a row with
// no secret not seen before, or far more secrets than a client can hold (MaxPerClient), ends it with an
// *identity.ResponseError (identity.ErrInvalidResponse).
//
//	for s, err := range sc.All(ctx, clientID, secrets.ListOptions{}) {
//		if err != nil { return err }
//		fmt.Println(s.ID, s.Description, s.Expiry)
//	}
func (c *Client) All(ctx context.Context, clientID string, opts ListOptions) iter.Seq2[ClientSecret, error] {
	return rules.PrefixedSeq(pkgName, c.all(ctx, clientID, opts))
}

func (c *Client) all(ctx context.Context, clientID string, opts ListOptions) iter.Seq2[ClientSecret, error] {
	w := pager.Walk[ClientSecret, int]{
		Skip:     opts.Skip,
		PageSize: opts.PageSize,
		Fetch: func(ctx context.Context, skip, size int) ([]ClientSecret, int, error) {
			p, err := c.list(ctx, clientID, ListOptions{Skip: skip, PageSize: size})
			if err != nil {
				return nil, 0, err
			}
			return p.Secrets, p.Total, nil
		},
		Key: func(m ClientSecret) int { return m.ID },
		// A client holds a few secrets: remembering them all costs nothing.
		RememberAll: true,
		Noun:        "secrets",
		Max:         maxListed,
		TooMany:     fmt.Sprintf("more than %d secrets listed for one client, which holds at most %d", maxListed, MaxPerClient),
		Stop:        func(why string) error { return c.listError(clientID, why) },
	}
	return func(yield func(ClientSecret, error) bool) {
		for p, err := range w.Pages(ctx) {
			if err != nil {
				yield(ClientSecret{}, err)
				return
			}
			for _, s := range p.Items {
				if !yield(s, nil) {
					return
				}
			}
		}
	}
}

// maxListed bounds how many secrets one listing may return: the service holds at most
// MaxPerClient per client; the slack allows for secrets added and deleted while a listing
// of small pages runs.
const maxListed = 4 * MaxPerClient

// listError is the *identity.ResponseError of a listing that does not advance.
func (c *Client) listError(clientID, why string) error {
	path := ""
	if p, err := c.path(clientID); err == nil {
		path = c.t.WirePath(p...)
	}
	return &identity.ResponseError{StatusCode: http.StatusOK, Method: http.MethodGet, Path: path, Err: errors.New(why)}
}

// collect returns every secret of the client.
func (c *Client) collect(ctx context.Context, clientID string) ([]ClientSecret, error) {
	var all []ClientSecret
	for s, err := range c.all(ctx, clientID, ListOptions{}) {
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	return all, nil
}

// Count returns the number of secrets of client clientID (HEAD: no body is sent back).
// Unlike hybridclients.Client.Count it takes no options: the service's count of secrets
// (HEAD .../Secrets) accepts no filter, so there is nothing to choose.
func (c *Client) Count(ctx context.Context, clientID string) (int, error) {
	ctx, op := c.tel().Start(ctx, "secrets.Count", clientID)
	v, err := c.count(ctx, clientID)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) count(ctx context.Context, clientID string) (int, error) {
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

// Get returns the metadata of secret secretID of client clientID. A missing client or secret is
// an error matching identity.ErrNotFound.
func (c *Client) Get(ctx context.Context, clientID string, secretID int) (*ClientSecret, error) {
	ctx, op := c.tel().Start(ctx, "secrets.Get", clientID)
	v, err := c.get(ctx, clientID, secretID)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) get(ctx context.Context, clientID string, secretID int) (*ClientSecret, error) {
	p, err := c.path(clientID, secretID)
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

// Exists reports whether client clientID has secret secretID (HEAD, no body). A missing
// secret, or a missing client, is false with a nil error.
func (c *Client) Exists(ctx context.Context, clientID string, secretID int) (bool, error) {
	ctx, op := c.tel().Start(ctx, "secrets.Exists", clientID)
	v, err := c.exists(ctx, clientID, secretID)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) exists(ctx context.Context, clientID string, secretID int) (bool, error) {
	p, err := c.path(clientID, secretID)
	if err != nil {
		return false, err
	}
	_, err = c.t.Do(ctx, transport.Request{Method: http.MethodHead, Path: p}, nil)
	if errors.Is(err, identity.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
