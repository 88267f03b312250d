package perf

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// Side is the SDK and the baseline, both pointed at the same server.
type Side struct {
	SDK      *hybridclients.Client
	Base     *Baseline
	ClientID string // an existing client, for Get
}

// FixedSide points both at a Fixed server; the SDK uses a static token (the token path is
// the same atomic load as a cached client-credentials token).
func FixedSide(f *Fixed) (*Side, error) {
	c, err := hybridclients.New(identity.Config{
		Resource: f.URL, TenantID: f.TenantID,
		Credentials: identity.NewStaticToken(identity.NewSecret(f.Token)),
	})
	if err != nil {
		return nil, err
	}
	return &Side{SDK: c, Base: NewBaseline(f.URL, f.TenantID, f.Token), ClientID: f.ClientID}, nil
}

// EmulatorSide points both at the emulator: the SDK signs in with client credentials
// (discovery, token endpoint), the baseline uses a token the emulator issued. The emulator
// needs at least one client (SeedClients).
func EmulatorSide(srv *hybridclientstest.Server) (*Side, error) {
	c, err := hybridclients.New(srv.Config())
	if err != nil {
		return nil, err
	}
	cs := srv.Clients()
	if len(cs) == 0 {
		return nil, fmt.Errorf("perf: the emulator has no client to Get")
	}
	return &Side{SDK: c, Base: NewBaseline(srv.URL, srv.TenantID, srv.IssueToken(hybridclientstest.RoleAdmin).Reveal()), ClientID: cs[0].ID}, nil
}

// StartEmulatorSide starts an emulator with PageSize clients and returns the Side on it
// and a function that stops both.
func StartEmulatorSide() (*Side, func(), error) {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		return nil, nil, err
	}
	s, err := func() (*Side, error) {
		if err := srv.SeedClients(PageSize); err != nil {
			return nil, err
		}
		return EmulatorSide(srv)
	}()
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return s, func() { s.Close(); srv.Close() }, nil
}

// Op is one operation done by the SDK and by the baseline.
type Op struct {
	Name      string
	SDK, Base func(context.Context) error
}

// GetOp gets one hybrid client.
func (s *Side) GetOp() Op {
	return Op{Name: "Get",
		SDK:  func(ctx context.Context) error { _, err := s.SDK.Get(ctx, s.ClientID); return err },
		Base: func(ctx context.Context) error { _, err := s.Base.Get(ctx, s.ClientID); return err }}
}

// ListOp lists the first page of PageSize clients.
func (s *Side) ListOp() Op {
	return Op{Name: "List100",
		SDK: func(ctx context.Context) error {
			p, err := s.SDK.List(ctx, hybridclients.ListOptions{PageSize: PageSize})
			if err == nil && len(p.Clients) != PageSize {
				err = fmt.Errorf("SDK page of %d", len(p.Clients))
			}
			return err
		},
		Base: func(ctx context.Context) error {
			p, err := s.Base.List(ctx, 0, PageSize)
			if err == nil && len(p.Clients) != PageSize {
				err = fmt.Errorf("baseline page of %d", len(p.Clients))
			}
			return err
		}}
}

// CreateRequest is what the Create benchmarks create.
var CreateRequest = hybridclients.CreateRequest{Name: "perf", RedirectURIs: []string{"https://localhost/callback"}}

// CreateOp creates a hybrid client (a Fixed server answers every create with the same
// canned 201).
func (s *Side) CreateOp() Op {
	return Op{Name: "Create",
		SDK:  func(ctx context.Context) error { _, err := s.SDK.Create(ctx, CreateRequest); return err },
		Base: func(ctx context.Context) error { _, err := s.Base.Create(ctx, CreateRequest); return err }}
}

// Close closes the baseline's connections.
func (s *Side) Close() { s.Base.Close() }

// pairBlock is how many calls of one side run between two memory-statistics reads.
const pairBlock = 64

type tally struct {
	d             time.Duration
	allocs, bytes uint64
	calls         int
	m0, m1        runtime.MemStats
	ctx           context.Context
	fail          func(error)
	f             func(context.Context) error
}

func (t *tally) run(n int) {
	runtime.ReadMemStats(&t.m0)
	start := time.Now()
	for range n {
		if err := t.f(t.ctx); err != nil {
			t.fail(err)
			return
		}
	}
	t.d += time.Since(start)
	runtime.ReadMemStats(&t.m1)
	t.allocs += t.m1.Mallocs - t.m0.Mallocs
	t.bytes += t.m1.TotalAlloc - t.m0.TotalAlloc
	t.calls += n
}

// Pair runs b.N calls of the SDK and b.N of the baseline against the same server in the
// same process, interleaved in blocks of 64 (alternating which goes first), so that drift
// of the machine (frequency, other load, GC) falls on both alike. It reports the SDK's
// figures as ns/op, allocs/op and B/op, the baseline's as base-ns/op, base-allocs/op and
// base-B/op, and the ratios SDK/baseline as time-ratio and allocs-ratio. Allocation counts
// are process-wide, as with any in-process benchmark: the server's share (the same for
// both sides) is in both, so extra-allocs/op (SDK minus baseline) is the SDK's own cost.
func Pair(b *testing.B, op Op) {
	b.ReportAllocs()
	ctx := context.Background()
	fail := func(err error) { b.Fatalf("%s: %v", op.Name, err) }
	for range 8 { // a token, connections, warm caches
		if err := op.SDK(ctx); err != nil {
			fail(err)
		}
		if err := op.Base(ctx); err != nil {
			fail(err)
		}
	}
	sdk := &tally{ctx: ctx, fail: fail, f: op.SDK}
	base := &tally{ctx: ctx, fail: fail, f: op.Base}
	b.ResetTimer()
	for i := 0; sdk.calls < b.N; i++ {
		n := min(pairBlock, b.N-sdk.calls)
		first, second := sdk, base
		if i%2 == 1 {
			first, second = base, sdk
		}
		first.run(n)
		second.run(n)
	}
	b.StopTimer()
	per := func(v uint64, t *tally) float64 { return float64(v) / float64(t.calls) }
	sNs, bNs := float64(sdk.d.Nanoseconds())/float64(sdk.calls), float64(base.d.Nanoseconds())/float64(base.calls)
	b.ReportMetric(sNs, "ns/op")
	b.ReportMetric(bNs, "base-ns/op")
	b.ReportMetric(sNs/bNs, "time-ratio")
	b.ReportMetric(per(sdk.allocs, sdk), "allocs/op")
	b.ReportMetric(per(base.allocs, base), "base-allocs/op")
	b.ReportMetric(per(sdk.allocs, sdk)/per(base.allocs, base), "allocs-ratio")
	b.ReportMetric(per(sdk.allocs, sdk)-per(base.allocs, base), "extra-allocs/op")
	b.ReportMetric(per(sdk.bytes, sdk), "B/op")
	b.ReportMetric(per(base.bytes, base), "base-B/op")
}
