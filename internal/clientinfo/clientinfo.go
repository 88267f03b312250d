// Package clientinfo lends the module's own packages what a hybridclients.Client was made
// with, its Config's clock, telemetry and tenant, without exporting them to users: package
// hybridclients sets Of when it is loaded, and desired, which is given a Client and
// works through it, reads them, so that its dates follow the Config's clock, its spans
// go to the Config's providers, as the Client's own do, and its record names the tenant.
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
	// TenantID and Resource are the Config's, as given ("" for a nil or zero Client):
	// the tenant whose clients the Client calls.
	TenantID, Resource string
}

// Of returns what c, a *hybridclients.Client (nil or zero included), was made with. It
// is set by package hybridclients, which every caller of Of imports.
var Of func(c any) Info
