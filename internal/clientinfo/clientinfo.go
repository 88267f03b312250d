// Package clientinfo lends the module's own packages what a hybridclients.Client was made
// with, its Config's clock and telemetry, without exporting either to users: package
// hybridclients sets Of when it is loaded, and desired, which is given a Client and
// works through it, reads them, so that its dates follow the Config's clock and its spans
// go to the Config's providers, as the Client's own do.
package clientinfo

import (
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/telemetry"
)

// Info is what a Client was made with.
type Info struct {
	// Clock is the Config's clock, or the system clock; never nil.
	Clock identity.Clock
	// Telemetry is the Client's, nil when no provider is set.
	Telemetry *telemetry.Telemetry
}

// Of returns what c, a *hybridclients.Client (nil or zero included), was made with. It
// is set by package hybridclients, which every caller of Of imports.
var Of func(c any) Info
