package secrets

import (
	"context"
	"errors"
	"testing"
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
