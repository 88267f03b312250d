package main

import (
	"container/list"
	"time"
)

// store keeps up to capacity values by id, each for at most ttl since it was last put or read,
// and evicts the least recently used when full. Every operation is O(1) (amortised for
// the expired entries it drops), so a flood of requests cannot make one request slow.
// It is not safe for concurrent use: the app's mutex guards it.
//
// It is written here, not taken from hashicorp/golang-lru: that package's expirable LRU
// starts a goroutine per cache that nothing can stop (its issue #159), and its plain LRU
// has no expiry.
type store[T any] struct {
	capacity int
	ttl      time.Duration
	now      func() time.Time
	order    *list.List               // of *stored[T]; front: the most recently used
	byID     map[string]*list.Element // into order
}

type stored[T any] struct {
	id   string
	used time.Time
	v    T
}

func newStore[T any](capacity int, ttl time.Duration, now func() time.Time) *store[T] {
	return &store[T]{capacity: max(capacity, 1), ttl: ttl, now: now, order: list.New(), byID: map[string]*list.Element{}}
}

// put stores v under id, dropping expired entries and, when full, the least recently used.
func (s *store[T]) put(id string, v T) {
	now := s.now()
	s.dropExpired(now)
	if el, ok := s.byID[id]; ok {
		s.order.Remove(el)
		delete(s.byID, id)
	}
	for s.order.Len() >= s.capacity {
		s.remove(s.order.Back())
	}
	s.byID[id] = s.order.PushFront(&stored[T]{id: id, used: now, v: v})
}

// get returns the value under id and marks it used; an expired value is dropped.
func (s *store[T]) get(id string) (T, bool) {
	var zero T
	el, ok := s.byID[id]
	if !ok {
		return zero, false
	}
	now := s.now()
	e := el.Value.(*stored[T])
	if s.expired(e, now) {
		s.remove(el)
		return zero, false
	}
	e.used = now
	s.order.MoveToFront(el)
	return e.v, true
}

// take removes the value under id and returns it, unless it has expired.
func (s *store[T]) take(id string) (T, bool) {
	var zero T
	el, ok := s.byID[id]
	if !ok {
		return zero, false
	}
	e := s.remove(el)
	if s.expired(e, s.now()) {
		return zero, false
	}
	return e.v, true
}

func (s *store[T]) len() int { return s.order.Len() }

func (s *store[T]) expired(e *stored[T], now time.Time) bool { return now.Sub(e.used) > s.ttl }

// dropExpired removes expired entries from the back, where the least recently used are:
// it stops at the first that has not expired.
func (s *store[T]) dropExpired(now time.Time) {
	for el := s.order.Back(); el != nil && s.expired(el.Value.(*stored[T]), now); el = s.order.Back() {
		s.remove(el)
	}
}

func (s *store[T]) remove(el *list.Element) *stored[T] {
	e := s.order.Remove(el).(*stored[T])
	delete(s.byID, e.id)
	return e
}
