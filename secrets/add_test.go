package secrets

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

// A's add is slow and then fails without acting; meanwhile B adds a secret with
// the same description and expiry. A must not take B's secret for its own orphan.
func TestAddNeverTakesALookAlikeAddedMeanwhileForItsOwn(t *testing.T) {
	in30 := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	for _, tt := range []struct {
		name   string
		expiry Expiry
		at     *time.Time
	}{
		{"expiring", ExpiresAt(in30), &in30},
		{"never expiring", NeverExpires(), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEmu(t)
			e.srv.Inject(hct.Fault{Op: hct.OpAddSecret, Delay: 300 * time.Millisecond, Status: http.StatusServiceUnavailable, Times: 1})
			var bID int
			var bValue identity.Secret
			done := make(chan struct{})
			go func() {
				defer close(done)
				e.waitRequests(t, hct.OpAddSecret, 1) // A's POST is held by the fault
				bID, bValue = e.rawAdd(t, "billing", tt.at)
			}()
			a, err := e.c.Add(context.Background(), e.subject.ClientID, AddRequest{Description: "billing", Expiry: tt.expiry})
			<-done
			if !e.srv.CheckSecret(e.subject.ClientID, bValue) || !slices.Contains(e.srv.SecretIDs(e.subject.ClientID), bID) {
				t.Fatalf("B's secret %d was deleted by A's add (A: %v, %v)", bID, a, err)
			}
			if tt.at == nil {
				// No marker for a never-expiring secret: B's look-alike cannot be told from
				// A's, so A deletes nothing and names it.
				var oe *identity.OutcomeError
				if !errors.As(err, &oe) || !slices.Equal(oe.Unclaimed, []int{bID}) || len(oe.Orphans) != 0 {
					t.Fatalf("A: %v, want an OutcomeError naming %d in Unclaimed", err, bID)
				}
				return
			}
			// A's marker tells B's secret apart: A tried again and got its own.
			if err != nil || !e.srv.CheckSecret(e.subject.ClientID, a.Value) {
				t.Fatalf("A: %v, %v", a, err)
			}
			if n := len(e.srv.SecretIDs(e.subject.ClientID)); n != 3 {
				t.Errorf("%d secrets, want 3 (the first, B's, A's)", n)
			}
		})
	}
}

// A's add commits but its answer is cut; a teammate adds a secret with another
// description before A lists again. A must settle its own (deleted and retried) and leave
// the teammate's alone.
func TestAddSettlesItsOwnSecretWhileOthersAreAdded(t *testing.T) {
	e := newEmu(t)
	e.srv.Inject(hct.Fault{Op: hct.OpAddSecret, CutAfterCommit: true, Times: 1})
	// A's second listing (the check) is held while the teammate adds.
	e.srv.Inject(hct.Fault{Op: hct.OpListSecrets, Delay: 300 * time.Millisecond, EveryNth: 2, Times: 1})
	var bID int
	var bValue identity.Secret
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.waitRequests(t, hct.OpListSecrets, 2)
		bID, bValue = e.rawAdd(t, "teammate", nil)
	}()
	a, err := e.c.Add(context.Background(), e.subject.ClientID, AddRequest{Description: "mine"})
	<-done
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	ids := e.srv.SecretIDs(e.subject.ClientID)
	if len(ids) != 3 || !slices.Contains(ids, bID) || !slices.Contains(ids, a.ID) {
		t.Errorf("secrets %v, want the first, the teammate's %d and A's %d (no orphan)", ids, bID, a.ID)
	}
	if !e.srv.CheckSecret(e.subject.ClientID, a.Value) || !e.srv.CheckSecret(e.subject.ClientID, bValue) {
		t.Error("a value does not authenticate")
	}
}

// After a lost answer, the check's listing comes back truncated once. Add (and
// Rotate, which adds) must read it again rather than give up.
func TestAddAndRotateReadAnUnreadableCheckAgain(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		name := "Add"
		if rotate {
			name = "Rotate"
		}
		t.Run(name, func(t *testing.T) {
			e := newEmu(t)
			first := e.srv.SecretIDs(e.subject.ClientID)
			e.srv.Inject(hct.Fault{Op: hct.OpAddSecret, CutAfterCommit: true, Times: 1})
			e.srv.Inject(hct.Fault{Op: hct.OpListSecrets, Truncate: true, EveryNth: 2, Times: 1})
			var value identity.Secret
			var id int
			var err error
			if rotate {
				var rot *Rotation
				rot, err = e.c.Rotate(context.Background(), e.subject.ClientID, RotateRequest{Description: "new",
					Store: func(_ context.Context, s Added) error { value = s.Value; return nil }})
				id = rot.New.ID
			} else {
				var a *Added
				if a, err = e.c.Add(context.Background(), e.subject.ClientID, AddRequest{Description: "new"}); a != nil {
					value, id = a.Value, a.ID
				}
			}
			if err != nil {
				t.Fatalf("%s gave up after one unreadable check: %v", name, err)
			}
			if ids := e.srv.SecretIDs(e.subject.ClientID); !slices.Equal(ids, append(slices.Clone(first), id)) {
				t.Errorf("secrets %v, want %v and %d: an orphan is left", ids, first, id)
			}
			if !e.srv.CheckSecret(e.subject.ClientID, value) {
				t.Error("the value does not authenticate")
			}
		})
	}
}

// After a lost answer, when the check that would settle it fails with the context still
// running, the secret the lost add left must be named in a field of the OutcomeError (a
// look past the deadline names it), not only hinted at in the text. The chaos soak found
// both ways the check fails: the listing gets a 429 whose Retry-After outlasts the
// caller's deadline, so the retry layer gives up at once; and then the one more look that
// names what may be left meets a run of transient failures (the retry layer's attempts
// used up in milliseconds) and must keep trying while its 10 s bound allows, or the secret
// whose value nobody holds is "neither held nor named".
func TestAddAndRotateNameTheirOrphanWhenTheCheckFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []hct.Fault
		// ctxLive: the check gave up with the caller's context still running.
		ctxLive bool
	}{
		{"check gives up early", []hct.Fault{
			// The first listing is the one before the add; the second is the check.
			{Op: hct.OpListSecrets, Status: http.StatusTooManyRequests, RetryAfter: 5 * time.Second, EveryNth: 2, Times: 1},
		}, true},
		{"naming look meets transient failures", []hct.Fault{
			// Listing 1 (before the add) passes; 2 (the check) gets a 429 that outlasts the
			// deadline; 3 to 6 (every attempt of the naming look's first try) get a 503.
			{Op: hct.OpListSecrets, Delay: time.Millisecond, Times: 1},
			{Op: hct.OpListSecrets, Status: http.StatusTooManyRequests, RetryAfter: 5 * time.Second, Times: 1},
			{Op: hct.OpListSecrets, Status: http.StatusServiceUnavailable, Times: 4},
		}, false},
	} {
		for _, rotate := range []bool{false, true} {
			name := "Add"
			if rotate {
				name = "Rotate"
			}
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				e := newEmu(t)
				first := e.srv.SecretIDs(e.subject.ClientID)
				e.srv.Inject(hct.Fault{Op: hct.OpAddSecret, CutAfterCommit: true, Times: 1})
				for _, f := range tc.faults {
					e.srv.Inject(f)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				var err error
				if rotate {
					_, err = e.c.Rotate(ctx, e.subject.ClientID, RotateRequest{Description: "new",
						Store: func(context.Context, Added) error { t.Error("Store called although the add failed"); return nil }})
				} else {
					_, err = e.c.Add(ctx, e.subject.ClientID, AddRequest{Description: "new"})
				}
				var oe *identity.OutcomeError
				if !errors.As(err, &oe) {
					t.Fatalf("err = %v, want an *identity.OutcomeError", err)
				}
				if tc.ctxLive && ctx.Err() != nil {
					t.Fatalf("the context ended (%v): this test is about a check that fails with time left", ctx.Err())
				}
				left := e.srv.SecretIDs(e.subject.ClientID)
				added := slices.DeleteFunc(slices.Clone(left), func(id int) bool { return slices.Contains(first, id) })
				if len(added) != 1 || len(left) != len(first)+1 {
					t.Fatalf("secrets %v, want %v and one added by the cut POST", left, first)
				}
				if !slices.Equal(oe.Orphans, added) || len(oe.Unclaimed) != 0 {
					t.Errorf("Orphans %v, Unclaimed %v; secret %v was added by this call and nobody holds its value: %v", oe.Orphans, oe.Unclaimed, added, err)
				}
			})
		}
	}
}

// Add's own retries times the retry layer's 429 retries must not exceed
// MaxAttempts POSTs in all.
func TestAddSendsAtMostMaxAttemptsPOSTs(t *testing.T) {
	f := newFixtureAttempts(t, hybridRoute, 3)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list())
	// Each round: two 429s (retried by the retry layer), then a 503 (retried by Add).
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 429}, mocktest.Reply{Status: 429}, mocktest.Reply{Status: 503},
		mocktest.Reply{Status: 429}, mocktest.Reply{Status: 429}, mocktest.Reply{Status: 503},
		mocktest.Reply{Status: 429}, mocktest.Reply{Status: 429}, mocktest.Reply{Status: 503})
	_, err := f.c.Add(ctx, testClient, AddRequest{})
	if err == nil {
		t.Fatal("Add succeeded")
	}
	if n := f.Count("POST", secretsURL(hybridRoute)); n > 3 {
		t.Errorf("%d POSTs, want at most MaxAttempts = 3", n)
	}
}
