package transport

import (
	"errors"
	"net/http"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/idserver"
)

// Outcome is what an error of Do says about whether the service acted on the request.
type Outcome int

const (
	// Done: no error.
	Done Outcome = iota
	// NotActed: the service cannot have acted (refused locally, never sent, rejected
	// with a 4xx other than 408, or rate limited).
	NotActed
	// ActedUnreadable: the service answered 2xx, so it acted, but the answer was unusable.
	ActedUnreadable
	// Unknown: the request may or may not have been acted on (connection lost after
	// sending, 408, 5xx, context ended while waiting for the answer).
	Unknown
)

// OutcomeOf classifies an error returned by Do.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return Done
	}
	var ve *identity.ValidationError
	var re *identity.ResponseError
	var ae *identity.Error
	var af *authFailure
	var ns *notSent
	var ce *identity.ConnectionError
	switch {
	case errors.As(err, &ve), errors.As(err, &af), errors.As(err, &ns):
		return NotActed
	case errors.As(err, &ce):
		if ce.Sent {
			return Unknown
		}
		return NotActed
	case errors.As(err, &re):
		return ActedUnreadable
	case errors.As(err, &ae):
		if ae.StatusCode == http.StatusRequestTimeout || ae.StatusCode >= 500 {
			return Unknown
		}
		return NotActed
	case idserver.NeverSent(err):
		return NotActed
	}
	return Unknown
}

// Settled returns err for a call whose outcome the caller has established after all (it
// looked, and the service did not act): the same message and chain for errors.As, but it
// no longer matches identity.ErrOutcomeUnknown, which err's *identity.ConnectionError of
// a write would.
func Settled(err error) error {
	if err == nil || !errors.Is(err, identity.ErrOutcomeUnknown) {
		return err
	}
	return &settled{err}
}

type settled struct{ err error }

func (s *settled) Error() string { return s.err.Error() }

// Is matches what err matches, except ErrOutcomeUnknown.
func (s *settled) Is(target error) bool {
	return target != identity.ErrOutcomeUnknown && errors.Is(s.err, target)
}

// As finds what err holds.
func (s *settled) As(target any) bool { return errors.As(s.err, target) }
