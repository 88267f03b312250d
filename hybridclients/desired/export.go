package desired

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/internal/clientinfo"
	"github.com/ocs-go/identity/internal/rules"
)

// ExportOptions choose the clients Export describes. The zero value exports every
// hybrid client of the tenant.
type ExportOptions struct {
	// IDs exports only these clients.
	IDs []string
	// Tags exports only the clients that have any of these tags.
	Tags []string
}

// Exported is what Export found.
type Exported struct {
	// State describes the clients as they are, by name and id: Marshal it to a file.
	State State
	// Skipped are clients that the SDK's rules would refuse to create or update (a
	// redirect URI it refuses, an id that is not a GUID): they are left out of State, so
	// that a plan never touches them; each with the rules it breaks.
	Skipped []Skipped
}

// Skipped is a client that Export left out.
type Skipped struct {
	// ID and Name are the client's, as read.
	ID, Name string
	// Err lists the rules the client breaks, as *identity.ValidationError values whose
	// Field is the setting's Go name ("RedirectURIs[0]").
	Err error
}

// Export reads the tenant's clients (those opts selects) and describes them as a State:
// every setting as it is, no secret value and no secret policy (a file of an export
// holds no secret, and no client has a secret policy, so none is rotated, until you write
// one). A plan of
// the State made right after shows no change: the way to adopt an existing tenant is to
// export it, keep the file, and plan and apply from then on.
//
// Tags are written only for clients that have some, so that an exported client without
// tags leaves its tags unmanaged. Clients come in the order of their names, then ids.
func Export(ctx context.Context, c *hybridclients.Client, opts ExportOptions) (*Exported, error) {
	ctx, op := clientinfo.Of(c).Telemetry.Start(ctx, "desired.Export", "")
	out, err := export(ctx, c, opts)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return out, err
}

func export(ctx context.Context, c *hybridclients.Client, opts ExportOptions) (*Exported, error) {
	if err := checkArgs(ctx, c); err != nil {
		return nil, err
	}
	out := &Exported{}
	for hc, err := range c.All(ctx, hybridclients.ListOptions{IDs: opts.IDs, Tags: opts.Tags}) {
		if err != nil {
			return nil, fmt.Errorf("listing the clients to export: %w", rules.Unprefixed(err))
		}
		dc := *observed(hc)
		if len(dc.Tags) == 0 {
			dc.Tags = nil
		}
		if err := (State{Clients: []Client{dc}}).validate(); err != nil {
			var errs []error
			for _, ve := range identity.ValidationErrors(err) {
				errs = append(errs, &identity.ValidationError{Field: strings.TrimPrefix(ve.Field, "Clients[0]."), Rule: ve.Rule, Value: ve.Value})
			}
			out.Skipped = append(out.Skipped, Skipped{ID: hc.ID, Name: hc.Name, Err: errors.Join(errs...)})
			continue
		}
		out.State.Clients = append(out.State.Clients, dc)
	}
	slices.SortFunc(out.State.Clients, func(a, b Client) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(idKey(a.ID), idKey(b.ID)))
	})
	if out.State.Clients == nil {
		out.State.Clients = []Client{}
	}
	return out, nil
}
