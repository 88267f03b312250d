// Package pager walks a skip/count list of the service page by page, for the All methods
// of hybridclients and secrets and for the scans. It guards against a list that shifts or
// a service that misbehaves: an item met again is not yielded twice, and a service that
// ignores skip (or lists more than can exist) ends the walk with an error instead of
// looping forever.
package pager

import (
	"context"
	"fmt"
	"iter"
)

// MaxStalePages is how many pages in a row may bring nothing new before the list is
// judged stuck. One such page can be honest (small pages, items created meanwhile shift
// the list); a service that ignores skip repeats itself forever.
const MaxStalePages = 3

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

// Pages yields each page's items not yielded before, and the service's total, one
// request per page as the loop advances; an error ends it after being yielded once.
func (w Walk[T, K]) Pages(ctx context.Context) iter.Seq2[Page[T], error] {
	return func(yield func(Page[T], error) bool) {
		size, skip := w.PageSize, w.Skip
		if size == 0 {
			size = DefaultPageSize
		}
		seen := map[K]bool{}
		listed, stale := 0, 0 // items yielded; pages in a row with nothing new
		for {
			items, total, err := w.Fetch(ctx, skip, size)
			if err != nil {
				yield(Page[T]{}, err)
				return
			}
			n := len(items)
			page := make(map[K]bool, n)
			fresh := make([]T, 0, n)
			for _, it := range items {
				k := w.Key(it)
				if !seen[k] && !page[k] {
					fresh = append(fresh, it)
				}
				page[k] = true
			}
			if w.RememberAll {
				for k := range page {
					seen[k] = true
				}
			} else {
				seen = page
			}
			listed += len(fresh)
			if n > 0 && len(fresh) == 0 {
				stale++
			} else {
				stale = 0
			}
			if !yield(Page[T]{Items: fresh, Total: total}, nil) {
				return
			}
			switch {
			case stale >= MaxStalePages:
				yield(Page[T]{}, w.Stop(fmt.Sprintf("%d pages in a row up to skip=%d repeat %s already listed; the service ignores skip", stale, skip, w.Noun)))
				return
			case listed > w.Max:
				yield(Page[T]{}, w.Stop(w.TooMany))
				return
			}
			skip += n
			// A short or empty page, or reaching the total, is the end.
			if w.OnePage || n < size || skip >= total {
				return
			}
		}
	}
}

// Page is one page of a walk: the items not met before, and the service's total.
type Page[T any] struct {
	Items []T
	Total int
}
