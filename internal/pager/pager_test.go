package pager

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// list serves items[skip:skip+size] and the total, counting requests.
type list struct {
	items      []int
	ignoreSkip bool
	requests   int
}

func (l *list) fetch(_ context.Context, skip, size int) ([]int, int, error) {
	l.requests++
	if l.ignoreSkip {
		skip = 0
	}
	end := min(len(l.items), skip+size)
	if skip > end {
		return nil, len(l.items), nil
	}
	return l.items[skip:end], len(l.items), nil
}

var errStop = errors.New("stopped")

func walk(l *list, size int, all bool, max int) Walk[int, int] {
	return Walk[int, int]{
		PageSize: size, Fetch: l.fetch, Key: func(i int) int { return i },
		RememberAll: all, Noun: "items", Max: max, TooMany: "too many",
		Stop: func(why string) error { return errors.Join(errStop, errors.New(why)) },
	}
}

func collect(t *testing.T, w Walk[int, int]) ([]int, error) {
	t.Helper()
	var got []int
	for p, err := range w.Pages(context.Background()) {
		if err != nil {
			return got, err
		}
		got = append(got, p.Items...)
	}
	return got, nil
}

func TestPagesWalksEveryItemOnce(t *testing.T) {
	for _, all := range []bool{false, true} {
		l := &list{items: []int{1, 2, 3, 4, 5, 6, 7}}
		got, err := collect(t, walk(l, 3, all, 100))
		if err != nil || !slices.Equal(got, l.items) || l.requests != 3 {
			t.Errorf("RememberAll=%v: got %v, %v after %d requests; want every item in 3", all, got, err, l.requests)
		}
	}
}

func TestPagesDefaultPageSize(t *testing.T) {
	l := &list{items: make([]int, DefaultPageSize+1)}
	for i := range l.items {
		l.items[i] = i
	}
	got, err := collect(t, walk(l, 0, false, 1000))
	if err != nil || len(got) != DefaultPageSize+1 || l.requests != 2 {
		t.Errorf("got %d items, %v, %d requests; want %d in 2", len(got), err, l.requests, DefaultPageSize+1)
	}
}

func TestPagesShiftedItemNotYieldedTwice(t *testing.T) {
	// A concurrent create shifts the list by one between the pages: page 2 starts with
	// the last item of page 1.
	l := &list{items: []int{1, 2, 3, 4, 5}}
	w := walk(l, 3, false, 100)
	first := true
	w.Fetch = func(ctx context.Context, skip, size int) ([]int, int, error) {
		if first {
			first = false
			return l.fetch(ctx, skip, size)
		}
		return l.fetch(ctx, skip-1, size)
	}
	got, err := collect(t, w)
	if err != nil || !slices.Equal(got, l.items) {
		t.Errorf("got %v, %v; want %v", got, err, l.items)
	}
}

func TestPagesIgnoredSkipEnds(t *testing.T) {
	for _, all := range []bool{false, true} {
		// Total 20: the walk cannot end by reaching it before the stale pages end it.
		l := &list{items: make([]int, 20), ignoreSkip: true}
		for i := range l.items {
			l.items[i] = i + 1
		}
		got, err := collect(t, walk(l, 3, all, 100))
		if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "ignores skip") {
			t.Fatalf("RememberAll=%v: err = %v, want the Stop error saying skip is ignored", all, err)
		}
		if !slices.Equal(got, []int{1, 2, 3}) || l.requests != 1+MaxStalePages {
			t.Errorf("RememberAll=%v: got %v in %d requests, want [1 2 3] in %d", all, got, l.requests, 1+MaxStalePages)
		}
	}
}

func TestPagesCapEnds(t *testing.T) {
	l := &list{items: []int{1, 2, 3, 4, 5, 6, 7}}
	_, err := collect(t, walk(l, 2, true, 4))
	if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "too many") {
		t.Errorf("err = %v, want the Stop error of TooMany", err)
	}
}

func TestPagesOnePage(t *testing.T) {
	l := &list{items: []int{1, 2, 3, 4, 5}}
	w := walk(l, 2, false, 100)
	w.OnePage = true
	got, err := collect(t, w)
	if err != nil || !slices.Equal(got, []int{1, 2}) || l.requests != 1 {
		t.Errorf("got %v, %v in %d requests; want [1 2] in 1", got, err, l.requests)
	}
}

// shifting is a list in a stable order that changes between requests, as the service's
// does under concurrent creates and deletes: before every request but the first, change
// may create and delete items anywhere in it.
type shifting struct {
	items    []int
	created  int // the last id created; ids from 1,000,000 are items created during the walk
	deleted  map[int]bool
	change   func(s *shifting)
	requests int
}

func newShifting(n int) *shifting {
	s := &shifting{created: 1_000_000, deleted: map[int]bool{}}
	for i := range n {
		s.items = append(s.items, i+1)
	}
	return s
}

func (s *shifting) fetch(_ context.Context, skip, size int) ([]int, int, error) {
	if s.requests > 0 && s.change != nil {
		s.change(s)
	}
	s.requests++
	end := min(len(s.items), skip+size)
	if skip >= end {
		return nil, len(s.items), nil
	}
	return slices.Clone(s.items[skip:end]), len(s.items), nil
}

func (s *shifting) deleteAt(i int) {
	s.deleted[s.items[i]] = true
	s.items = slices.Delete(s.items, i, i+1)
}

func (s *shifting) createAt(i int) {
	s.created++
	s.items = slices.Insert(s.items, i, s.created)
}

// metOnce checks a walk's items against a list that started as 1..n: every item never
// deleted met exactly once, no item met twice.
func metOnce(t *testing.T, s *shifting, n int, got []int) {
	t.Helper()
	count := map[int]int{}
	for _, it := range got {
		if count[it]++; count[it] == 2 {
			t.Errorf("item %d met twice", it)
		}
	}
	for i := 1; i <= n; i++ {
		if !s.deleted[i] && count[i] != 1 {
			t.Errorf("item %d, in the list throughout, met %d times", i, count[i])
		}
	}
}

// exactlyOnce walks a list of n items that change alters between requests, in exact pages
// of size, and checks that every item that stays is met exactly once.
func exactlyOnce(t *testing.T, n, size int, change func(s *shifting)) {
	t.Helper()
	s := newShifting(n)
	s.change = change
	got, err := collect(t, exact(s, size))
	if err != nil {
		t.Fatal(err)
	}
	metOnce(t, s, n, got)
}

func exact(s *shifting, size int) Walk[int, int] {
	w := walk(&list{}, size, false, 10_000_000)
	w.Fetch, w.Exact = s.fetch, true
	return w
}

// Random deletes (up to twice a page) and creates (fewer than half a page: a page or more
// before the walk's place between every two pages, and the walk never gets ahead; see
// TestExactWalkGoesOnWhileCreatesPushItBack) anywhere in the list between any two pages:
// every item that stays is met exactly once, and none twice.
func TestExactWalkMeetsEveryItemThatStaysExactlyOnce(t *testing.T) {
	rewound := 0
	for _, size := range []int{2, 3, 10, 100} {
		for _, n := range []int{0, 1, 9, 250, 1000} {
			for seed := range uint64(40) {
				rng := rand.New(rand.NewPCG(seed, uint64(size*n)))
				deletes, creates := 1+rng.IntN(2*size), rng.IntN((size-1)/2+1)
				s := newShifting(n)
				s.change = func(s *shifting) {
					for range rng.IntN(deletes + 1) {
						if len(s.items) > 0 {
							s.deleteAt(rng.IntN(len(s.items)))
						}
					}
					for range rng.IntN(creates + 1) {
						s.createAt(rng.IntN(len(s.items) + 1))
					}
				}
				got, err := collect(t, exact(s, size))
				if err != nil {
					t.Fatalf("size %d, %d items, seed %d: %v", size, n, seed, err)
				}
				metOnce(t, s, n, got)
				if t.Failed() {
					t.Fatalf("size %d, %d items, seed %d, %d deletes and %d creates at most", size, n, seed, deletes, creates)
				}
				if s.requests > (n+s.created-1_000_000)/(size-1)+2 {
					rewound++
				}
			}
		}
	}
	if rewound == 0 {
		t.Fatal("no walk read a page again: the deletions never moved the list back under it, nothing was tested")
	}
}

// Without Exact (All), a deletion before the walk's place moves an item that stays past
// it: this is what a plain skip/count walk cannot promise.
func TestPlainWalkMissesAnItemMovedBackByADeletion(t *testing.T) {
	for _, exactly := range []bool{false, true} {
		s := newShifting(9)
		s.change = func(s *shifting) {
			if s.requests == 1 {
				s.deleteAt(0) // item 1, met on the first page: 4 moves to the first page
			}
		}
		w := exact(s, 3)
		w.Exact = exactly
		got, err := collect(t, w)
		if err != nil {
			t.Fatal(err)
		}
		if missed := !slices.Contains(got, 4); missed == exactly {
			t.Errorf("Exact=%v: met %v", exactly, got)
		}
	}
}

// The whole of the page before is deleted, with more than a page before it: no item of
// that page can anchor the next, and the walk goes back until one that was met does.
func TestExactWalkRealignsAfterItsLastPageIsDeleted(t *testing.T) {
	exactlyOnce(t, 100, 10, func(s *shifting) {
		if s.requests == 3 { // pages 1-10, 10-19, 19-28 read: delete 5-28
			for range 24 {
				s.deleteAt(4)
			}
		}
	})
}

// A list that shrank below the walk's place answers an empty page: the walk goes back
// instead of ending there.
func TestExactWalkGoesBackFromAnEmptyPage(t *testing.T) {
	exactlyOnce(t, 30, 10, func(s *shifting) {
		if s.requests == 2 { // pages 1-10, 10-19 read: delete 1-15
			for range 15 {
				s.deleteAt(0)
			}
		}
	})
}

// made is an exact walk of pages of 10 that item(skip, i) makes up, under a total without
// end, and its count of requests.
func made(max int, item func(skip, i int) int) (Walk[int, int], *int) {
	requests := new(int)
	w := walk(&list{}, 10, false, max)
	w.Exact = true
	w.Fetch = func(_ context.Context, skip, size int) ([]int, int, error) {
		*requests++
		page := make([]int, size)
		for i := range page {
			page[i] = item(skip, i)
		}
		return page, 1 << 30, nil
	}
	return w, requests
}

// A service whose pages past the first never start with an item met before cannot keep
// the walk going back for ever.
func TestExactWalkEndsWhenTheListKeepsMovingBack(t *testing.T) {
	n := 0
	w, requests := made(1_000_000, func(skip, i int) int {
		if skip > 0 && i == 0 {
			n++
			return -n // never met before
		}
		return skip + i
	})
	_, err := collect(t, w)
	if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "keeps moving back") {
		t.Fatalf("err = %v after %d requests, want the Stop error saying the list keeps moving back", err, *requests)
	}
	if *requests > 10_000 {
		t.Errorf("%d requests before stopping", *requests)
	}
}

func TestExactWalkIgnoredSkipEnds(t *testing.T) {
	l := &list{items: make([]int, 20), ignoreSkip: true}
	for i := range l.items {
		l.items[i] = i + 1
	}
	w := walk(l, 3, false, 100)
	w.Exact = true
	got, err := collect(t, w)
	if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "ignores skip") {
		t.Fatalf("err = %v, want the Stop error saying skip is ignored", err)
	}
	if !slices.Equal(got, []int{1, 2, 3}) || l.requests != 1+MaxStalePages {
		t.Errorf("got %v in %d requests, want [1 2 3] in %d", got, l.requests, 1+MaxStalePages)
	}
}

// An exact page reaches one item past the one it starts with: a page size of 1 reads 2.
func TestExactWalkPageSizeOne(t *testing.T) {
	s := newShifting(5)
	var sizes []int
	w := exact(s, 1)
	fetch := w.Fetch
	w.Fetch = func(ctx context.Context, skip, size int) ([]int, int, error) {
		sizes = append(sizes, size)
		return fetch(ctx, skip, size)
	}
	got, err := collect(t, w)
	if err != nil || !slices.Equal(got, []int{1, 2, 3, 4, 5}) || slices.Max(sizes) != 2 {
		t.Errorf("got %v, %v with sizes %v; want 1-5 in pages of 2", got, err, sizes)
	}
}

func TestIDsKeepsDistinctIDsApart(t *testing.T) {
	const g = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	s := NewIDs()
	for _, id := range []string{g, strings.ToUpper(g), "{" + g + "}", "client-1", "", "6f1e2d3c4b5a49788a6b5c4d3e2f1a0b"} {
		if s.Has(id) || !s.Add(id) || !s.Has(id) || s.Add(id) {
			t.Errorf("%q: not a new id the first time, or not met the second", id)
		}
	}
	if set := s.(*ids); len(set.guids.recent)+len(set.guids.sorted) != 1 || len(set.other) != 5 {
		t.Errorf("%d GUIDs held in 16 bytes, %d ids as text; want 1 and 5", len(set.guids.recent)+len(set.guids.sorted), len(set.other))
	}
}

// Across many merges of the recent GUIDs into the sorted ones, the set answers as a map
// does: every GUID added is met, no other.
func TestIDsHoldsManyGUIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	guid := func() string {
		var u uuid.UUID
		for i := range u {
			u[i] = byte(rng.IntN(256))
		}
		return u.String()
	}
	s, want := NewIDs(), map[string]bool{}
	for i := range 5*flushAt + 17 {
		id := guid()
		if i%3 == 0 && i > 0 {
			for old := range want { // an id met before, now and then
				id = old
				break
			}
		}
		if got := s.Add(id); got == want[id] {
			t.Fatalf("Add(%s) = %v after %d adds, met before: %v", id, got, i, want[id])
		}
		want[id] = true
	}
	for id := range want {
		if !s.Has(id) {
			t.Fatalf("%s added but not met", id)
		}
	}
	for range 1000 {
		if id := guid(); s.Has(id) != want[id] {
			t.Fatalf("Has(%s) = %v, never added", id, !want[id])
		}
	}
	if g := s.(*ids).guids; len(g.sorted) != len(want)/flushAt*flushAt || len(g.recent) != len(want)%flushAt || !slices.IsSortedFunc(g.sorted, compareGUIDs) {
		t.Errorf("%d GUIDs merged (sorted: %v), %d recent, of %d", len(g.sorted), slices.IsSortedFunc(g.sorted, compareGUIDs), len(g.recent), len(want))
	}
}

// A page or more created before the walk's place between two pages pushes the whole next
// page onto items already met: the walk goes on while the total grows, and does not take
// the service for one that ignores skip.
func TestExactWalkGoesOnWhileCreatesPushItBack(t *testing.T) {
	exactlyOnce(t, 20, 3, func(s *shifting) {
		if s.requests >= 3 && s.requests < 3+2*MaxStalePages { // the walk is well into the list
			s.createAt(0)
			s.createAt(0)
			s.createAt(0)
		}
	})
}

// Pages that start with an item met before but bring nothing new, each unlike the one
// before, under a total without end: the walk stops once it has read again all that can
// exist.
func TestExactWalkEndsWhenPagesBringNothingNew(t *testing.T) {
	w, requests := made(1000, func(skip, i int) int { return (i + skip) % 10 }) // the first page, turned
	got, err := collect(t, w)
	if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "bring no items") || len(got) != 10 {
		t.Fatalf("got %d items, err = %v after %d requests; want the first page, then the Stop error", len(got), err, *requests)
	}
	if limit := 1000/9 + MaxStalePages + 2; *requests > limit {
		t.Errorf("%d requests before stopping, want at most %d", *requests, limit)
	}
}
