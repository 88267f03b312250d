package perf

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// ConnRun describes a connection-reuse run against the emulator, each phase with a new
// emulator and a new SDK client (default transport, client credentials): Sequential calls
// one after another; Concurrent calls shared by Workers goroutines, one in ten of them a
// 404; then, on the warm client of the sequential phase, NotFound calls answered 404 and
// Failing calls answered 500 on every attempt (so each gives up after the retry policy's
// MaxAttempts, with waits of a millisecond).
type ConnRun struct {
	Sequential int
	Concurrent int
	Workers    int
	NotFound   int
	Failing    int
}

// ConnResult holds the TCP connections the emulator accepted (its ConnState hook), token
// and discovery requests included.
type ConnResult struct {
	Sequential, Concurrent int
	// After404 and After500 are the connections opened by the error calls (after the
	// sequential phase had one warm connection).
	After404, After500 int
	// Attempts500 is the number of requests the emulator saw for the Failing calls.
	Attempts500 int
}

// fastRetries keeps the retry policy's attempts but waits a millisecond between them.
var fastRetries = identity.RetryPolicy{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond}

func newEmulatorClient(opts *hybridclientstest.Options, seed int) (*hybridclientstest.Server, *hybridclients.Client, string, error) {
	srv, err := hybridclientstest.Start(opts)
	if err != nil {
		return nil, nil, "", err
	}
	if err := srv.SeedClients(seed); err != nil {
		srv.Close()
		return nil, nil, "", err
	}
	cfg := srv.Config()
	cfg.Retry = fastRetries
	c, err := hybridclients.New(cfg)
	if err != nil {
		srv.Close()
		return nil, nil, "", err
	}
	return srv, c, srv.Clients()[0].ID, nil
}

// RunConns runs r.
func RunConns(ctx context.Context, r ConnRun) (ConnResult, error) {
	var res ConnResult
	missing := uuid.NewString()

	// Sequential, then errors on the same warm client.
	srv, c, id, err := newEmulatorClient(nil, 1)
	if err != nil {
		return res, err
	}
	defer srv.Close()
	for range r.Sequential {
		if _, err := c.Get(ctx, id); err != nil {
			return res, err
		}
	}
	res.Sequential = srv.Stats().Connections
	before := srv.Stats().Connections
	for range r.NotFound {
		if _, err := c.Get(ctx, missing); !errors.Is(err, identity.ErrNotFound) {
			return res, fmt.Errorf("perf: Get of a missing client: %v", err)
		}
	}
	res.After404 = srv.Stats().Connections - before
	before = srv.Stats().Connections
	gets := srv.Stats().Requests[hybridclientstest.OpGetClient]
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpGetClient, Status: 500})
	for range r.Failing {
		var ae *identity.Error
		if _, err := c.Get(ctx, id); !errors.As(err, &ae) || ae.StatusCode != 500 {
			remove()
			return res, fmt.Errorf("perf: Get answered 500: %v", err)
		}
	}
	remove()
	res.After500 = srv.Stats().Connections - before
	res.Attempts500 = srv.Stats().Requests[hybridclientstest.OpGetClient] - gets

	// Concurrent, on a new emulator and client.
	srv2, c2, id2, err := newEmulatorClient(nil, 1)
	if err != nil {
		return res, err
	}
	defer srv2.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, r.Workers)
	for range r.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(r.Concurrent) {
					return
				}
				if i%10 == 0 {
					if _, err := c2.Get(ctx, missing); !errors.Is(err, identity.ErrNotFound) {
						errc <- fmt.Errorf("perf: Get of a missing client: %v", err)
						return
					}
				} else if _, err := c2.Get(ctx, id2); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return res, err
	}
	res.Concurrent = srv2.Stats().Connections
	return res, nil
}
