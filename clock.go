package identity

import "time"

// Clock is the time by which the SDK decides expiries: the default expiry of a new secret
// (one year ahead), what has expired or expires within a window, a rotation's grace
// period. A Config's nil Clock is the system clock. Set one when the service's time is not
// yours: hybridclientstest.Server's Config carries the fake's clock, so a test that runs
// the fake's clock ahead gets answers as of the fake's time.
//
// The waits of retries are about the network, not about expiry: they always use the
// system clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed on this clock, as
	// time.After does. A rotation's proof (secrets.Client.Rotate, hybridclients.ApplyRotations)
	// waits on it between probes: for the proof to make progress, After(d) must fire within
	// d and a second of real time (a clock may run faster, never slower), else the proof
	// stops with a *secrets.ProofError saying so instead of waiting for ever.
	After(d time.Duration) <-chan time.Time
}
