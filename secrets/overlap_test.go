package secrets

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ocs-go/identity"
)

// Two overlapping rotations, the second deleting at once (RetireAtOnce): the first finds
// the secret it stored gone, says so with ErrLockoutRisk, and retires nothing (its
// NotRetired lists what it would have retired).
func TestRotateOverlapDeletedIsLockoutRisk(t *testing.T) {
	e := newEmu(t)
	ctx := context.Background()
	first := e.srv.SecretIDs(e.subject.ClientID)
	b := emuClient(t, e.srv)
	aStoring, bDone := make(chan struct{}), make(chan struct{})
	var errB error
	go func() {
		defer close(bDone)
		<-aStoring
		_, errB = b.Rotate(ctx, e.subject.ClientID, RotateRequest{Description: "B", RetireAtOnce: true, Store: func(context.Context, Added) error { return nil }})
	}()
	rot, errA := e.c.Rotate(ctx, e.subject.ClientID, RotateRequest{Description: "A", Store: func(context.Context, Added) error {
		close(aStoring)
		<-bDone
		return nil
	}})
	if errB != nil {
		t.Fatalf("B: %v", errB)
	}
	if !errors.Is(errA, ErrLockoutRisk) {
		t.Fatalf("A: %v, want ErrLockoutRisk", errA)
	}
	if !equalInts(ids(rot.NotRetired), first) || len(rot.Deleted)+len(rot.Shortened)+len(rot.Kept) != 0 {
		t.Errorf("A's rotation %+v, want nothing retired and NotRetired %v", rot, first)
	}
}

// Two overlapping rotations of one client storing to one place. B's first
// listing holds A's new secret and retires it; A's slow Store then puts A's value in
// place. A must not return nil.
func TestOverlappingRotationsStoringToOnePlaceReportTheLockout(t *testing.T) {
	e := newEmu(t)
	ctx := context.Background()
	var mu sync.Mutex
	var deployed identity.Secret // the one place both store to
	store := func(_ context.Context, s Added) error {
		mu.Lock()
		defer mu.Unlock()
		deployed = s.Value
		return nil
	}
	b := emuClient(t, e.srv) // the other caller
	bDone := make(chan struct{})
	aStoring := make(chan struct{})
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, errA = e.c.Rotate(ctx, e.subject.ClientID, RotateRequest{Description: "A", Store: func(ctx context.Context, s Added) error {
			close(aStoring)
			<-bDone // A's store is slow: B's whole rotation runs meanwhile
			return store(ctx, s)
		}})
	}()
	go func() {
		defer wg.Done()
		defer close(bDone)
		<-aStoring
		_, errB = b.Rotate(ctx, e.subject.ClientID, RotateRequest{Description: "B", Store: store})
	}()
	wg.Wait()
	if errB != nil {
		t.Fatalf("B: %v", errB)
	}
	if errA == nil {
		t.Fatal("A returned nil although B retired the secret A stored last")
	}
	if !strings.Contains(errA.Error(), "locked out") {
		t.Errorf("A's error does not name the lockout risk: %v", errA)
	}
	_ = deployed // A's value, whose secret B retired
}
