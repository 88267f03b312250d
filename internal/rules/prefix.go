package rules

import (
	"iter"
	"strings"
)

// Prefixed returns err for an exported function or method of package pkg to return: its
// text starts with "pkg: ", once. That is the rule of every error of the SDK: the text
// starts with the name of the package the caller called (identity, hybridclients,
// secrets), and the typed errors and sentinels it holds print no prefix of their own. An
// error already returned by another package of the module (hybridclients calling
// secrets, any package calling Config.Validate) is named after pkg instead: never two
// prefixes. nil stays nil; errors.Is and errors.As see through the prefix.
func Prefixed(pkg string, err error) error {
	if err == nil {
		return nil
	}
	return &prefixed{pkg: pkg, err: Unprefixed(err)}
}

// PrefixedSeq returns seq with each error under pkg's name (Prefixed).
func PrefixedSeq[T any](pkg string, seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for v, err := range seq {
			if !yield(v, Prefixed(pkg, err)) {
				return
			}
		}
	}
}

// Unprefixed returns the error that Prefixed wrapped, err itself otherwise: what a
// package puts into a message of its own (whose prefix comes when it leaves) when it got
// err from an exported function of another package of the module. A typed error that
// names its own package (secrets.ProofError reads "secrets: ..." when printed alone) is
// returned under a wrapper without that name, which errors.Is and errors.As see through.
func Unprefixed(err error) error {
	if p, ok := err.(*prefixed); ok {
		return p.err
	}
	if err == nil {
		return nil
	}
	text := err.Error()
	for _, pkg := range packages {
		if rest, ok := strings.CutPrefix(text, pkg+": "); ok {
			return &bare{text: rest, err: err}
		}
	}
	return err
}

// packages are the names of the module's packages that return errors.
var packages = []string{"identity", "hybridclients", "secrets", "desired"}

// bare is an error that named its own package, without that name.
type bare struct {
	text string
	err  error
}

func (e *bare) Error() string { return e.text }

func (e *bare) Unwrap() error { return e.err }

// prefixed is an error under the name of the package that returned it.
type prefixed struct {
	pkg string
	err error
}

func (e *prefixed) Error() string { return e.pkg + ": " + e.err.Error() }

func (e *prefixed) Unwrap() error { return e.err }
