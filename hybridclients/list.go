package hybridclients

import (
	"context"
	"errors"
	"iter"
	"net/http"

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
// deleted while the loop runs may be missed or seen twice, as with any skip/count paging.
//
//	for hc, err := range clients.All(ctx, hybridclients.ListOptions{}) {
//		if err != nil { return err }
//		fmt.Println(hc.ID, hc.Name)
//	}
func (c *Client) All(ctx context.Context, opts ListOptions) iter.Seq2[HybridClient, error] {
	return func(yield func(HybridClient, error) bool) {
		if opts.Count == 0 {
			opts.Count = DefaultPageSize
		}
		for {
			p, err := c.List(ctx, opts)
			if err != nil {
				yield(HybridClient{}, err)
				return
			}
			for _, hc := range p.Clients {
				if !yield(hc, nil) {
					return
				}
			}
			opts.Skip += len(p.Clients)
			// IDs make the service return every match at once; a short or empty page, or
			// reaching Total, is the end.
			if len(opts.IDs) > 0 || len(p.Clients) < opts.Count || opts.Skip >= p.Total {
				return
			}
		}
	}
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
