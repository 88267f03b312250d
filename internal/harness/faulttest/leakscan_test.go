package faulttest

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// leakScanner finds any of a set of secrets inside strings in one pass per distinct
// secret length (Rabin-Karp), instead of one strings.Index per secret: the chaos soak
// records tens of thousands of strings and thousands of secrets.
type leakScanner struct {
	lens   []int
	hashes map[int]map[uint64][]string // length -> hash -> secrets of that length and hash
	pows   map[int]uint64              // length -> rkBase^(length-1)
}

const rkBase = 1099511628211

func newLeakScanner(secrets map[string]bool) *leakScanner {
	s := &leakScanner{hashes: map[int]map[uint64][]string{}, pows: map[int]uint64{}}
	for sec := range secrets {
		n := len(sec)
		if s.hashes[n] == nil {
			s.hashes[n] = map[uint64][]string{}
			s.lens = append(s.lens, n)
			p := uint64(1)
			for range n - 1 {
				p *= rkBase
			}
			s.pows[n] = p
		}
		h := rkHash(sec)
		s.hashes[n][h] = append(s.hashes[n][h], sec)
	}
	slices.Sort(s.lens)
	return s
}

func rkHash(s string) uint64 {
	var h uint64
	for i := 0; i < len(s); i++ {
		h = h*rkBase + uint64(s[i])
	}
	return h
}

// scan calls found once for each secret in str, with the index of its first occurrence.
func (s *leakScanner) scan(str string, found func(sec string, i int)) {
	for _, n := range s.lens {
		if n > len(str) || n == 0 {
			continue
		}
		set, pow := s.hashes[n], s.pows[n]
		var seen map[string]bool
		h := rkHash(str[:n])
		for i := 0; ; i++ {
			for _, sec := range set[h] {
				if str[i:i+n] == sec && !seen[sec] {
					if seen == nil {
						seen = map[string]bool{}
					}
					seen[sec] = true
					found(sec, i)
				}
			}
			if i+n >= len(str) {
				break
			}
			h = (h-uint64(str[i])*pow)*rkBase + uint64(str[i+n])
		}
	}
}

// TestLeakScanner: the scanner finds exactly what strings.Index finds, at the same index,
// for secrets of several lengths planted anywhere (start, end, overlapping, repeated).
func TestLeakScanner(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcAB01-_"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	secrets := map[string]bool{}
	var list []string
	for range 40 {
		s := word(8 + rng.IntN(5))
		secrets[s] = true
		list = append(list, s)
	}
	sc := newLeakScanner(secrets)
	checked, hits := 0, 0
	for range 2000 {
		str := word(rng.IntN(60))
		for range rng.IntN(3) {
			at := rng.IntN(len(str) + 1)
			str = str[:at] + list[rng.IntN(len(list))] + str[at:]
		}
		got := map[string]int{}
		sc.scan(str, func(sec string, i int) {
			if _, dup := got[sec]; dup {
				t.Fatalf("%q reported twice in %q", sec, str)
			}
			got[sec] = i
		})
		for sec := range secrets {
			want := strings.Index(str, sec)
			i, ok := got[sec]
			if (want >= 0) != ok || (ok && i != want) {
				t.Fatalf("secret %q in %q: scanner says %v at %d, strings.Index %d", sec, str, ok, i, want)
			}
			if ok {
				hits++
			}
			checked++
		}
	}
	if hits < 1000 {
		t.Fatalf("only %d planted hits: the test proves little", hits)
	}
	t.Logf("%d (string, secret) pairs checked, %d hits", checked, hits)
}
