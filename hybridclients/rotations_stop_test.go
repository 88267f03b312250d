package hybridclients_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

// drain ranges over seq on the caller's goroutine and returns its results and errors.
func drain[T any](seq func(func(hybridclients.Result[T], error) bool)) ([]hybridclients.Result[T], []error) {
	var rs []hybridclients.Result[T]
	var errs []error
	for r, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs = append(rs, r)
	}
	return rs, errs
}

// A caller who gives up while the scan still adds and stores new secrets is told of every
// one: a rotation whose new secret exists is yielded, whatever the moment ctx ended.
func TestApplyRotationsReportsEveryStartedRotationWhenTheContextEndsDuringTheScan(t *testing.T) {
	tn := newTenant(t, secrets.PropagationDelay)
	const due = 40
	for i := range due {
		tn.add(t, fmt.Sprintf("due-%02d", i), 10*day, nil)
	}
	tn.clk.Advance(secrets.PropagationDelay)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stores atomic.Int32
	var mu sync.Mutex
	storedBy := map[string]int{} // client id -> the new secret's id its application got
	store := func(ctx context.Context, id string, s secrets.Added) error {
		if stores.Add(1) == 6 {
			cancel() // the caller gives up while other workers are mid-start
		}
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		storedBy[id] = s.ID
		mu.Unlock()
		return tn.store(ctx, id, s)
	}
	rs, errs := drain(hybridclients.ApplyRotations(ctx, tn.clients, managedBut(secrets.Policy{}), store, hybridclients.ScanOptions{Concurrency: 8}))
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("errors %v, want the scan's context error last", errs)
	}
	reported := map[string]hybridclients.Result[hybridclients.RotationOutcome]{}
	for _, r := range rs {
		reported[r.Client.ID] = r
	}
	added := 0
	for _, c := range tn.srv.Clients() {
		ids := tn.srv.SecretIDs(c.ID)
		r, ok := reported[c.ID]
		if len(ids) > 1 {
			added++
			if ok && errors.Is(r.Err, identity.ErrOutcomeUnknown) && r.Value.Rotation != nil && r.Value.Rotation.New.ID == 0 {
				continue // the add's outcome is reported unknown: its error names what may be left
			}
			if !ok || r.Value.Rotation == nil || r.Value.Rotation.New.ID != ids[len(ids)-1] {
				t.Errorf("%s: new secret %d exists, but the result (reported: %v) is %v, %v", c.Name, ids[len(ids)-1], ok, r.Value.Rotation, r.Err)
				continue
			}
			if !errors.Is(r.Err, secrets.ErrNotProven) && !errors.Is(r.Err, context.Canceled) {
				t.Errorf("%s: %v, want a *ProofError or the context's error", c.Name, r.Err)
			}
			if r.Value.Rotation.Step != secrets.StepStored || ids[0] != 1 {
				t.Errorf("%s: step %s, secrets %v: want stored, the old one untouched", c.Name, r.Value.Rotation.Step, ids)
			}
		}
		mu.Lock()
		got, stored := storedBy[c.ID]
		mu.Unlock()
		if stored && (!ok || r.Value.Rotation == nil || r.Value.Rotation.New.ID != got) {
			t.Errorf("%s: its application got new secret %d, but the result (reported: %v) is %v, %v", c.Name, got, ok, r.Value.Rotation, r.Err)
		}
	}
	sure, maybe := 0, 0 // results naming a new secret; results of an add whose outcome is unknown
	for _, r := range rs {
		switch {
		case r.Value.Rotation != nil && r.Value.Rotation.New.ID != 0:
			sure++
		case errors.Is(r.Err, identity.ErrOutcomeUnknown):
			maybe++
		}
	}
	if added < sure || added > sure+maybe || added < 6 {
		t.Errorf("%d results name a new secret and %d may have made one; %d new secrets exist (want as many, at least 6)", sure, maybe, added)
	}
}
