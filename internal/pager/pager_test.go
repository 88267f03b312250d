package pager

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
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
