package rules

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestPrefixedNamesThePackageOnce(t *testing.T) {
	if Prefixed("secrets", nil) != nil {
		t.Fatal("Prefixed(nil) is not nil")
	}
	inner := fmt.Errorf("GET /p: %w", io.EOF)
	s := Prefixed("secrets", inner)
	if s.Error() != "secrets: GET /p: EOF" || !errors.Is(s, io.EOF) {
		t.Fatalf("Prefixed = %q", s)
	}
	// Returned through another package, the name is that package's, not both.
	h := Prefixed("hybridclients", s)
	if h.Error() != "hybridclients: GET /p: EOF" || !errors.Is(h, io.EOF) {
		t.Fatalf("re-prefixed = %q", h)
	}
	if Unprefixed(h) != inner || Unprefixed(inner) != inner {
		t.Fatalf("Unprefixed(%q) = %q", h, Unprefixed(h))
	}
	// Inside a message of its own, a package puts the unprefixed error.
	if got := fmt.Errorf("adding failed: %w", Unprefixed(s)).Error(); got != "adding failed: GET /p: EOF" {
		t.Fatalf("embedded = %q", got)
	}
}

func TestPrefixedSeqNamesEveryErrorAndStops(t *testing.T) {
	seq := func(yield func(int, error) bool) {
		for i, err := range []error{nil, io.EOF, nil} {
			if !yield(i, err) {
				return
			}
		}
	}
	var got []string
	for i, err := range PrefixedSeq("secrets", seq) {
		got = append(got, fmt.Sprint(i, err))
		if i == 1 {
			break
		}
	}
	if fmt.Sprint(got) != "[0 <nil> 1 secrets: EOF]" {
		t.Fatalf("PrefixedSeq yielded %v", got)
	}
}

// selfNamed is a typed error that prints its package's name itself.
type selfNamed struct{}

func (selfNamed) Error() string { return "secrets: new secret 2 not proven" }

func TestATypedErrorThatNamesItsPackageIsNamedOnce(t *testing.T) {
	var e error = selfNamed{}
	s := Prefixed("secrets", e)
	h := Prefixed("hybridclients", s)
	var got selfNamed
	if s.Error() != "secrets: new secret 2 not proven" || h.Error() != "hybridclients: new secret 2 not proven" || !errors.As(h, &got) {
		t.Fatalf("secrets: %q, hybridclients: %q", s, h)
	}
	if text := fmt.Errorf("rotating: %w", Unprefixed(h)).Error(); text != "rotating: new secret 2 not proven" {
		t.Fatalf("embedded = %q", text)
	}
}
