// Package pager walks a skip/count list of the service page by page, for the All methods
// of hybridclients and secrets and for the scans. It guards against a list that shifts or
// a service that misbehaves: an item met again is not yielded twice, and a service that
// ignores skip (or lists more than can exist) ends the walk with an error instead of
// looping forever. An exact walk (the scans) also meets every item that stays in the list
// exactly once, whatever is created or deleted while it runs.
package pager

import (
	"context"
	"fmt"
	"iter"
)

// MaxStalePages is how many pages in a row may bring nothing new (in an exact walk: be
// the page before, at another skip) before the list is judged stuck. One such page can be
// honest (small pages, items created meanwhile shift the list); a service that ignores
// skip repeats itself forever.
const MaxStalePages = 3

// MaxRewinds is how many times in a row an exact walk may read again from further back
// without meeting a new item before the list is judged to be moving back for ever. Going
// back twice as far each time, 17 reach the start of a list of 100,000 at a page size of
// 2; the rest allow for deletions that go on while the walk realigns.
const MaxRewinds = 64

// DefaultPageSize is the service's page size when a list names none (API.md: count
// defaults to 100).
const DefaultPageSize = 100

// Walk says how to list one collection.
type Walk[T any, K comparable] struct {
	// Skip and PageSize start the walk; a zero PageSize means DefaultPageSize.
	Skip, PageSize int
	// Fetch returns the page at skip of at most size items and the service's total.
	Fetch func(ctx context.Context, skip, size int) (items []T, total int, err error)
	// Key identifies an item, to recognise it on a later page.
	Key func(T) K
	// RememberAll keeps every key met, for collections that are small by nature (a
	// client's secrets); otherwise only the previous page's keys are kept, so that
	// memory holds pages, not the tenant. A shift under a concurrent create repeats the
	// end of the previous page, and a service that ignores skip repeats it whole.
	RememberAll bool
	// Exact makes the walk meet exactly once every item that is in the list from its
	// first page to its last, whatever is created or deleted meanwhile, provided that a
	// create or delete moves only the items after it (the service's paging: skip and
	// count over a stable order, no cursor). An item created or deleted during the walk
	// is met at most once. Each page after the first starts with the last item of the
	// page before (so a page holds at least 2 items); a page that does not start with an
	// item already met was moved back by deletions, and the walk reads again from
	// further back until one does. It ends at a short page, not at the total. It
	// remembers every key met (see NewSet): memory grows with the list. With Skip set,
	// the walk starts at what is at Skip when it starts.
	Exact bool
	// NewSet makes the memory of the keys met of a walk that remembers them (RememberAll
	// or Exact); nil means a map.
	NewSet func() Set[K]
	// OnePage ends the walk after the first page (a filter that makes the service return
	// every match at once).
	OnePage bool
	// Noun names the items in errors ("clients", "secrets").
	Noun string
	// Max is the most items that can exist; TooMany says so when more are listed.
	Max     int
	TooMany string
	// Stop turns why the walk was stopped into the error yielded.
	Stop func(why string) error
}

// Set remembers the keys a walk has met.
type Set[K comparable] interface {
	// Add records k and reports whether it was not met before.
	Add(k K) bool
	// Has reports whether k was met.
	Has(k K) bool
}

type mapSet[K comparable] map[K]struct{}

func (s mapSet[K]) Add(k K) bool {
	if _, ok := s[k]; ok {
		return false
	}
	s[k] = struct{}{}
	return true
}

func (s mapSet[K]) Has(k K) bool { _, ok := s[k]; return ok }

// Pages yields each page's items not yielded before, and the service's total, one
// request per page as the loop advances; an error ends it after being yielded once.
func (w Walk[T, K]) Pages(ctx context.Context) iter.Seq2[Page[T], error] {
	return func(yield func(Page[T], error) bool) {
		size, at := w.PageSize, w.Skip
		if size == 0 {
			size = DefaultPageSize
		}
		var seen Set[K] // every key met, or nil: only the previous page's (prev)
		var prev map[K]bool
		if w.RememberAll || w.Exact {
			seen = mapSet[K]{}
			if w.NewSet != nil {
				seen = w.NewSet()
			}
		}
		if w.Exact {
			size = max(size, 2) // a page must reach past the item it starts with
		}
		listed, stale := 0, 0 // items yielded; pages in a row with nothing new
		back, rewinds := 0, 0 // Exact: how far the walk last went back; how often in a row
		idle := 0             // Exact: pages in a row with nothing new
		var before struct {   // Exact: the page before: where, its ends, the total then
			at, n, total int
			first, last  K
		}
		for {
			items, total, err := w.Fetch(ctx, at, size)
			if err != nil {
				yield(Page[T]{}, err)
				return
			}
			n := len(items)
			if w.Exact && at > w.Skip && (n == 0 || !seen.Has(w.Key(items[0]))) {
				// This page should start with the last item of the page before. Deletions
				// before it have moved the list back (or deleted that item), so an item
				// not yet met may now sit before at: read again from further back, until
				// a page starts with an item met before. What follows that item in the
				// page was then either met already, or is new to the walk.
				if rewinds++; rewinds > MaxRewinds {
					yield(Page[T]{}, w.Stop(fmt.Sprintf("%d pages in a row up to skip=%d start with %s not listed before; the list keeps moving back", rewinds, at, w.Noun)))
					return
				}
				back = max(2*back, size/2)
				at = max(w.Skip, at-back)
				continue
			}
			fresh := make([]T, 0, n)
			if seen != nil {
				for _, it := range items {
					if seen.Add(w.Key(it)) {
						fresh = append(fresh, it)
					}
				}
			} else {
				page := make(map[K]bool, n)
				for _, it := range items {
					k := w.Key(it)
					if !prev[k] && !page[k] {
						fresh = append(fresh, it)
					}
					page[k] = true
				}
				prev = page
			}
			listed += len(fresh)
			switch {
			case len(fresh) > 0:
				stale, idle, back, rewinds = 0, 0, 0, 0
			case n == 0:
			case !w.Exact:
				stale++
			default:
				// An exact walk reads pages again after going back, and deletions move
				// them: a page with nothing new is no sign of trouble by itself. The same
				// page at another skip is, unless as many items were created before it: a
				// service that ignores skip answers the first page, with the same total,
				// again and again.
				idle++
				if n == before.n && w.Key(items[0]) == before.first && w.Key(items[n-1]) == before.last && total-before.total < at-before.at {
					stale++
				}
			}
			if w.Exact && n > 0 {
				before.at, before.n, before.total = at, n, total
				before.first, before.last = w.Key(items[0]), w.Key(items[n-1])
			}
			if w.Exact && idle > w.Max/(size-1)+MaxStalePages {
				// Reading again all that can exist brought nothing new.
				yield(Page[T]{}, w.Stop(fmt.Sprintf("%d pages in a row up to skip=%d bring no %s not listed before", idle, at, w.Noun)))
				return
			}
			if !yield(Page[T]{Items: fresh, Total: total}, nil) {
				return
			}
			switch {
			case stale >= MaxStalePages:
				yield(Page[T]{}, w.Stop(fmt.Sprintf("%d pages in a row up to skip=%d repeat %s already listed; the service ignores skip (or a page is created before the walk's place between every two)", stale, at, w.Noun)))
				return
			case listed > w.Max:
				yield(Page[T]{}, w.Stop(w.TooMany))
				return
			}
			end := at + n
			// A short or empty page, or reaching the total, is the end. An exact walk does
			// not trust the total to end: nothing says it is of the same moment as the
			// page, and one item short would miss an item that stays.
			if w.OnePage || n < size || (!w.Exact && end >= total) {
				return
			}
			at = end
			if w.Exact {
				at-- // the next page starts with this page's last item
			}
		}
	}
}

// Page is one page of a walk: the items not met before, and the service's total.
type Page[T any] struct {
	Items []T
	Total int
}
