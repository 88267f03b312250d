package perf

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// PagingRun describes a paging run: an emulator with Clients hybrid clients, walked with
// All and the default page size, twice: once for speed (sampling the heap at every page,
// no forced GC), once for retention (a forced GC and a heap reading every SampleEvery
// pages); then Count.
type PagingRun struct {
	Clients     int
	SampleEvery int
}

// PagingResult is what a PagingRun measured.
type PagingResult struct {
	Walked        int // clients seen by the first walk
	Pages         int // list requests the emulator saw for the first walk
	Elapsed       time.Duration
	ClientsPerSec float64
	// PageWireBytes is the bytes read from the socket per page, on average; PageLiveBytes
	// the heap one decoded page of the default size holds (List, GC, hold it).
	PageWireBytes, PageLiveBytes int64
	// PeakHeapGrowth is the most the heap (runtime/metrics heap objects, the same as
	// MemStats.HeapAlloc) rose above its level after a GC at the start, read at every
	// page of the first walk. It includes garbage not yet collected and the emulator's
	// own allocations, as the process does.
	PeakHeapGrowth int64
	// PeakLiveGrowth is the most the live heap rose above its level at the start, read
	// after a forced GC every SampleEvery pages of the second walk: what the walk holds.
	PeakLiveGrowth int64
	// Count is what Count answered; CountRequests the emulator's count of them (one
	// call); CountWireBytes the bytes read from the socket for it (status line and
	// headers); CountBodyBytes the bytes of body the SDK read; CountMethod the method
	// it sent.
	Count, CountRequests           int
	CountWireBytes, CountBodyBytes int64
	CountMethod                    string
}

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countBody counts the bytes read from a response body.
type countBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// meter is a pooled base transport that counts bytes on the socket and, for HEAD, the
// body bytes read and the method. It stands in for the SDK's own (64 connections per
// host); its 100 idle per host is never reached, as a walk sends one request at a time.
type meter struct {
	*http.Transport
	wire, headBody atomic.Int64
	last           atomic.Value // string: the method of the last request
}

func newMeter() *meter {
	m := &meter{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	m.MaxIdleConnsPerHost = 100
	var d net.Dialer
	m.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countConn{c, &m.wire}, nil
	}
	return m
}

func (m *meter) RoundTrip(r *http.Request) (*http.Response, error) {
	m.last.Store(r.Method)
	resp, err := m.Transport.RoundTrip(r)
	if err == nil && r.Method == http.MethodHead {
		resp.Body = countBody{resp.Body, &m.headBody}
	}
	return resp, err
}

func heapObjects() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// liveHeap returns the live heap: two GCs, so that sync.Pool victims are gone too.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// pageLive returns the live heap that one page of the default size holds (the average
// of 10 pages held at once).
func pageLive(ctx context.Context, c *hybridclients.Client) (int64, error) {
	const n = 10
	pages := make([]*hybridclients.Page, n)
	before := liveHeap()
	for i := range pages {
		p, err := c.List(ctx, hybridclients.ListOptions{Skip: i * hybridclients.DefaultPageSize})
		if err != nil {
			return 0, err
		}
		pages[i] = p
	}
	held := (liveHeap() - before) / n
	runtime.KeepAlive(pages)
	return held, nil
}

// RunPaging runs r.
func RunPaging(ctx context.Context, r PagingRun) (PagingResult, error) {
	var res PagingResult
	// The cap counts the two identities that sign in too.
	srv, err := hybridclientstest.Start(&hybridclientstest.Options{MaxClients: r.Clients + 2})
	if err != nil {
		return res, err
	}
	defer srv.Close()
	if err := srv.SeedClients(r.Clients); err != nil {
		return res, err
	}
	m := newMeter()
	defer m.CloseIdleConnections()
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: m}
	c, err := hybridclients.New(cfg)
	if err != nil {
		return res, err
	}
	if _, err := c.Count(ctx, hybridclients.CountOptions{}); err != nil { // a token, a connection
		return res, err
	}

	// Walk 1: speed, and the heap as the process sees it.
	lists := srv.Stats().Requests[hybridclientstest.OpListClients]
	wire0 := m.wire.Load()
	base := liveHeap()
	var peak int64
	var sum int // keeps the loop from being optimized away
	start := time.Now()
	for hc, err := range c.All(ctx, hybridclients.ListOptions{}) {
		if err != nil {
			return res, err
		}
		if res.Walked%hybridclients.DefaultPageSize == 0 {
			peak = max(peak, heapObjects()-base)
		}
		res.Walked++
		sum += len(hc.ID)
	}
	res.Elapsed = time.Since(start)
	res.PeakHeapGrowth = peak
	res.Pages = srv.Stats().Requests[hybridclientstest.OpListClients] - lists
	res.ClientsPerSec = float64(res.Walked) / res.Elapsed.Seconds()
	res.PageWireBytes = (m.wire.Load() - wire0) / int64(max(1, res.Pages))
	if res.Walked != r.Clients || sum != 36*r.Clients {
		return res, fmt.Errorf("perf: walked %d clients (id bytes %d), want %d", res.Walked, sum, r.Clients)
	}

	// One decoded page, held.
	if res.PageLiveBytes, err = pageLive(ctx, c); err != nil {
		return res, err
	}

	// Walk 2: what the walk holds.
	every := max(1, r.SampleEvery) * hybridclients.DefaultPageSize
	n := 0
	base = liveHeap()
	for _, err := range c.All(ctx, hybridclients.ListOptions{}) {
		if err != nil {
			return res, err
		}
		if n%every == every/2 { // mid-page: the page is held by All
			res.PeakLiveGrowth = max(res.PeakLiveGrowth, liveHeap()-base)
		}
		n++
	}

	// Count: HEAD, no body.
	counts := srv.Stats().Requests[hybridclientstest.OpCountClients]
	wire0, body0 := m.wire.Load(), m.headBody.Load()
	if res.Count, err = c.Count(ctx, hybridclients.CountOptions{}); err != nil {
		return res, err
	}
	res.CountWireBytes, res.CountBodyBytes = m.wire.Load()-wire0, m.headBody.Load()-body0
	res.CountRequests = srv.Stats().Requests[hybridclientstest.OpCountClients] - counts
	res.CountMethod, _ = m.last.Load().(string)
	return res, nil
}
