package hybridclients

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/pager"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/telemetry"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
)

// DefaultPageSize is the service's page size when ListOptions.PageSize is zero; a scan
// reads pages of this size unless ScanOptions.List says otherwise.
const DefaultPageSize = 100

// ListOptions filter and page a list of hybrid clients. The zero value lists the first
// page of every client.
type ListOptions struct {
	// IDs keeps only these clients (GUIDs); when set, the service ignores Skip and PageSize.
	IDs []string
	// Tags keeps clients that have any of these tags. Blank tags and tags with control
	// characters (NUL included) are refused, as in CreateRequest.Tags.
	Tags []string
	// Skip is how many matching clients to pass over; 0 is the first page.
	Skip int
	// PageSize is how many clients one page holds at most (the query's count): 0 means
	// DefaultPageSize, and at most 50,000 (a tenant's limit of clients, so one page can
	// hold them all). Client.Count, not this, is the number of clients in all.
	PageSize int
}

// CountOptions filter a count of hybrid clients: the filters of ListOptions, without the
// paging, which a count (HEAD) does not take.
type CountOptions struct {
	// IDs counts only these clients (GUIDs).
	IDs []string
	// Tags counts clients that have any of these tags, under the rules of ListOptions.Tags.
	Tags []string
}

// Page is one page of a list, with the number of clients matching the filters in all.
type Page struct {
	Clients []HybridClient
	// Total is the service's Total-Count: matching clients in all, not only this page.
	Total int
}

func (o ListOptions) validate() error {
	var r validate.Errors
	r.IDs("IDs", o.IDs)
	r.Tags("Tags", o.Tags)
	if o.Skip < 0 {
		r.Add("Skip", "must not be negative", o.Skip)
	}
	if o.PageSize < 0 || o.PageSize > maxClientsPerTenant {
		r.Add("PageSize", fmt.Sprintf("must be from 0 to %d, a tenant's limit of clients (0 means the default page size, %d)", maxClientsPerTenant, DefaultPageSize), o.PageSize)
	}
	return r.Err()
}

// listQuery is the query of a list or a count, as the service names it (go-querystring
// tags: ids and tags as repeated keys, the page size as count).
type listQuery struct {
	IDs      []string `url:"id,omitempty"`
	Tags     []string `url:"tag,omitempty"`
	Skip     int      `url:"skip,omitempty"`
	PageSize int      `url:"count,omitempty"`
}

// List returns one page of the tenant's hybrid clients and the number matching in all.
func (c *Client) List(ctx context.Context, opts ListOptions) (*Page, error) {
	ctx, op := c.tel().Start(ctx, "hybridclients.List", "")
	v, err := c.list(ctx, opts)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) list(ctx context.Context, opts ListOptions) (*Page, error) {
	if err := errors.Join(c.ready(), opts.validate()); err != nil {
		return nil, err
	}
	var ws []wireClient
	// A conversion: a field of ListOptions without its query parameter does not compile.
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodGet, Path: []string{collection}, Query: listQuery(opts)}, &ws)
	if err != nil {
		return nil, err
	}
	p := &Page{Clients: make([]HybridClient, len(ws))}
	for i, w := range ws {
		p.Clients[i] = w.toClient()
	}
	if n, ok := resp.TotalCount(); ok {
		p.Total = n
	} else {
		p.Total = opts.Skip + len(ws)
	}
	return p, nil
}

// All iterates over every hybrid client matching opts, fetching one page at a time as the
// loop advances (memory holds one page), starting at opts.Skip with pages of opts.PageSize
// (default 100). An error ends the iteration after being yielded once.
//
// The service pages by skip and count only, with no cursor and no snapshot, and All is a
// plain walk of those pages: what it promises holds while no client is created or
// deleted. A client that a create pushes from the end of one page to the next is not
// yielded twice, but a delete moves the later clients back, and a client that exists
// throughout can then be missed (as can one pushed further than a page by many creates
// be yielded twice). Each visits every client that exists throughout the walk exactly
// once, whatever is created or deleted meanwhile, for memory that grows with the tenant.
//
// A service that ignores skip cannot make the loop run forever: three pages in a row with
// no client that was not on the page before, or twice as many clients as a tenant can
// hold (100,000), end it with an *identity.ResponseError (identity.ErrInvalidResponse).
//
//	for hc, err := range clients.All(ctx, hybridclients.ListOptions{}) {
//		if err != nil { return err }
//		fmt.Println(hc.ID, hc.Name)
//	}
func (c *Client) All(ctx context.Context, opts ListOptions) iter.Seq2[HybridClient, error] {
	return rules.PrefixedSeq(pkgName, telemetry.Seq2(ctx, c.tel(), "hybridclients.All", "", func(ctx context.Context) iter.Seq2[HybridClient, error] { return c.all(ctx, opts) }))
}

func (c *Client) all(ctx context.Context, opts ListOptions) iter.Seq2[HybridClient, error] {
	return func(yield func(HybridClient, error) bool) {
		for p, err := range c.pages(ctx, opts, false) {
			if err != nil {
				yield(HybridClient{}, err)
				return
			}
			for _, hc := range p.Clients {
				if !yield(hc, nil) {
					return
				}
			}
		}
	}
}

// pages iterates over the pages of a list, one request per page as the loop advances; an
// error ends it after being yielded once. All and the scans (Each) walk the tenant with it.
// A page holds only clients that were not on the page before: a client that a concurrent
// create pushes from the end of one page to the next is not yielded twice. An exact walk
// (the scans) yields every client that is listed throughout exactly once, remembering the
// id of every client met (pager.Walk.Exact).
func (c *Client) pages(ctx context.Context, opts ListOptions, exact bool) iter.Seq2[*Page, error] {
	w := pager.Walk[HybridClient, string]{
		Skip:     opts.Skip,
		PageSize: opts.PageSize,
		Fetch: func(ctx context.Context, skip, size int) ([]HybridClient, int, error) {
			o := opts
			o.Skip, o.PageSize = skip, size
			p, err := c.list(ctx, o)
			if err != nil {
				return nil, 0, err
			}
			return p.Clients, p.Total, nil
		},
		Key:    func(hc HybridClient) string { return hc.ID },
		Exact:  exact,
		NewSet: pager.NewIDs,
		// IDs make the service return every match at once.
		OnePage: len(opts.IDs) > 0,
		Noun:    "clients",
		Max:     maxListed,
		TooMany: fmt.Sprintf("more than %d clients listed, twice the %d a tenant can hold", maxListed, maxClientsPerTenant),
		Stop:    c.listError,
	}
	return func(yield func(*Page, error) bool) {
		for p, err := range w.Pages(ctx) {
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(&Page{Clients: p.Items, Total: p.Total}, nil) {
				return
			}
		}
	}
}

// maxClientsPerTenant is the service's limit of clients of all types in one tenant.
const maxClientsPerTenant = 50_000

// maxListed bounds one walk: twice the tenant's limit, as the guard is against a list
// that never ends, not a check of the limit (clients created while a walk runs shift
// pages, and a fake may hold a few more).
const maxListed = 2 * maxClientsPerTenant

// listError is the *identity.ResponseError of a list that does not advance.
func (c *Client) listError(why string) error {
	return &identity.ResponseError{StatusCode: http.StatusOK, Method: http.MethodGet, Path: c.t.WirePath(collection), Err: errors.New(why)}
}

// Count returns the number of hybrid clients matching opts (HEAD: no body is sent back):
// the total, where ListOptions.PageSize is the size of one page. CountOptions hold the
// filters the service's count accepts (id and tag); secrets.Client.Count has none to
// take, as the service's count of secrets accepts no filter.
func (c *Client) Count(ctx context.Context, opts CountOptions) (int, error) {
	ctx, op := c.tel().Start(ctx, "hybridclients.Count", "")
	v, err := c.count(ctx, opts)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) count(ctx context.Context, opts CountOptions) (int, error) {
	var r validate.Errors
	r.IDs("IDs", opts.IDs)
	r.Tags("Tags", opts.Tags)
	if err := errors.Join(c.ready(), r.Err()); err != nil {
		return 0, err
	}
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodHead, Path: []string{collection}, Query: listQuery{IDs: opts.IDs, Tags: opts.Tags}}, nil)
	if err != nil {
		return 0, err
	}
	return resp.RequireTotalCount()
}
