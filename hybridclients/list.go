package hybridclients

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

// ListOptions filter and page a list of hybrid clients. The zero value lists the first
// page of every client.
type ListOptions struct {
	// IDs keeps only these clients; when set, the service ignores Skip and Count.
	IDs []string `url:"id,omitempty"`
	// Tags keeps clients that have any of these tags. Blank tags and tags with control
	// characters (NUL included) are refused, as in CreateRequest.Tags.
	Tags []string `url:"tag,omitempty"`
	// Skip is how many matching clients to pass over; 0 is the first page.
	Skip int `url:"skip,omitempty"`
	// Count is the page size; 0 means the service's default, 100.
	Count int `url:"count,omitempty"`
}

// CountOptions filter a count of hybrid clients.
type CountOptions struct {
	IDs  []string `url:"id,omitempty"`
	Tags []string `url:"tag,omitempty"`
}

// Page is one page of a list, with the number of clients matching the filters in all.
type Page struct {
	Clients []HybridClient
	// Total is the service's Total-Count: matching clients in all, not only this page.
	Total int
}

func (o ListOptions) validate() error {
	var r rules
	r.ids("IDs", o.IDs)
	r.tags("Tags", o.Tags)
	if o.Skip < 0 {
		r.add("Skip", "must not be negative", o.Skip)
	}
	if o.Count < 0 {
		r.add("Count", "must not be negative (0 means the default page size)", o.Count)
	}
	return errors.Join(r...)
}

// List returns one page of the tenant's hybrid clients and the number matching in all.
func (c *Client) List(ctx context.Context, opts ListOptions) (*Page, error) {
	if err := errors.Join(c.ready(), opts.validate()); err != nil {
		return nil, err
	}
	var ws []wireClient
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodGet, Path: []string{collection}, Query: opts}, &ws)
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
// loop advances (memory holds one page), starting at opts.Skip with pages of opts.Count
// (default 100). An error ends the iteration after being yielded once. Clients created or
// deleted while the loop runs may be missed, as with any skip/count paging; a client that
// a concurrent create pushes from the end of one page to the next is not yielded twice.
//
// A service that ignores skip cannot make the loop run forever: three pages in a row with
// no client that was not on the page before, or more clients than a tenant can hold (50,000), ends it with an
// *identity.ResponseError (identity.ErrInvalidResponse).
//
//	for hc, err := range clients.All(ctx, hybridclients.ListOptions{}) {
//		if err != nil { return err }
//		fmt.Println(hc.ID, hc.Name)
//	}
func (c *Client) All(ctx context.Context, opts ListOptions) iter.Seq2[HybridClient, error] {
	return func(yield func(HybridClient, error) bool) {
		for p, err := range c.pages(ctx, opts) {
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
// create pushes from the end of one page to the next is not yielded twice.
func (c *Client) pages(ctx context.Context, opts ListOptions) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		if opts.Count == 0 {
			opts.Count = DefaultPageSize
		}
		// Only the previous page's ids are kept (memory holds pages, not the tenant): a
		// shift under a concurrent create repeats the end of the previous page, and a
		// service that ignores skip repeats the previous page whole.
		var prev map[string]bool
		listed, stale := 0, 0 // clients yielded; pages in a row with nothing new
		for {
			p, err := c.List(ctx, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			n := len(p.Clients)
			ids := make(map[string]bool, n)
			fresh := make([]HybridClient, 0, n)
			for _, hc := range p.Clients {
				if !prev[hc.ID] && !ids[hc.ID] {
					fresh = append(fresh, hc)
				}
				ids[hc.ID] = true
			}
			prev, p.Clients = ids, fresh
			listed += len(fresh)
			if n > 0 && len(fresh) == 0 {
				stale++
			} else {
				stale = 0
			}
			if !yield(p, nil) {
				return
			}
			if err := pagingError(c.t, opts, stale, listed); err != nil {
				yield(nil, err)
				return
			}
			opts.Skip += n
			// IDs make the service return every match at once; a short or empty page, or
			// reaching Total, is the end.
			if len(opts.IDs) > 0 || n < opts.Count || opts.Skip >= p.Total {
				return
			}
		}
	}
}

// maxClientsPerTenant is the service's limit of clients of all types in one tenant.
const maxClientsPerTenant = 50_000

// maxStalePages is how many pages in a row may bring nothing new before the list is
// judged stuck. One such page can be honest (small pages, clients created meanwhile
// shift the list); a service that ignores skip repeats itself forever.
const maxStalePages = 3

// pagingError stops a list that does not advance: maxStalePages pages in a row without a
// client not on the page before (the service ignores skip), or more clients than a tenant
// can hold.
func pagingError(t *transport.Client, opts ListOptions, stale, listed int) error {
	var why string
	switch {
	case stale >= maxStalePages:
		why = fmt.Sprintf("%d pages in a row up to skip=%d repeat clients already listed; the service ignores skip", stale, opts.Skip)
	case listed > maxClientsPerTenant:
		why = fmt.Sprintf("more than %d clients listed, the most a tenant can hold", maxClientsPerTenant)
	default:
		return nil
	}
	u, _ := t.URL(transport.Request{Method: http.MethodGet, Path: []string{collection}})
	path := ""
	if u != nil {
		path = u.Path
	}
	return &identity.ResponseError{StatusCode: http.StatusOK, Method: http.MethodGet, Path: path, Err: errors.New(why)}
}

// Count returns the number of hybrid clients matching opts (HEAD: no body is sent back).
func (c *Client) Count(ctx context.Context, opts CountOptions) (int, error) {
	var r rules
	r.ids("IDs", opts.IDs)
	r.tags("Tags", opts.Tags)
	if err := errors.Join(c.ready(), errors.Join(r...)); err != nil {
		return 0, err
	}
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodHead, Path: []string{collection}, Query: opts}, nil)
	if err != nil {
		return 0, err
	}
	return resp.RequireTotalCount()
}
