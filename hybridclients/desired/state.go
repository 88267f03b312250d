package desired

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/internal/validate"
	"github.com/ocs-go/identity/secrets"
)

// State is the desired state of a tenant's hybrid clients: the clients that must exist,
// as they must be, and the clients to delete.
type State struct {
	// Clients must exist with these settings. Each has an ID of its own, unique in the
	// State.
	Clients []Client
	// Removed names clients (by ID) to delete. Diff plans their deletion only when
	// PlanOptions.Delete is set; an ID may not be in Clients too.
	Removed []string
}

// Client is one hybrid client as it must be: every setting of the portal's Add Client
// window, keyed by an ID that you choose, and the policy of its secrets. The fields
// follow hybridclients.CreateRequest, under its rules; a zero field means the portal's
// default where it has one.
type Client struct {
	// ID is the client id, a GUID you choose once (uuidgen, or Go's uuid.NewString) and
	// never change: it is how a later run recognises the client as this one.
	ID string
	// Name identifies the application; required, without control characters.
	Name string
	// Enabled says whether the client may sign users in; nil means enabled.
	Enabled *bool
	// AllowRefreshTokens is the portal's "Allow Refresh Token"; off unless chosen.
	AllowRefreshTokens bool
	// AccessTokenLifetime is from one minute to one hour in whole seconds; zero means
	// one hour.
	AccessTokenLifetime time.Duration
	// RedirectURIs (1 to 10) and PostLogoutRedirectURIs (up to 10) are compared as
	// sets: their order does not matter.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// ClientURI and LogoURI are the application's home page and logo: absolute http(s)
	// URLs, or "" for none.
	ClientURI string
	LogoURI   string
	// AllowAccessTokensViaBrowser lets the client receive access tokens through the
	// browser; off unless chosen.
	AllowAccessTokensViaBrowser bool
	// Tags are described by the service as for its internal use. Nil leaves the
	// client's tags as they are (not managed); a non-nil slice, even empty, makes them
	// exactly these (compared as a set).
	Tags []string
	// Secrets is the policy of the client's secrets.
	Secrets SecretPolicy
}

// SecretPolicy says how a client's secrets are made and rotated. The zero value is safe:
// each zero field has the default named on it.
//
// Today a plan uses Description and Lifetime for the first secret of a client it creates
// (whose value goes only to ApplyOptions.Store); the rotation of due secrets by the other
// fields is still to come. All are checked now, so that a file written today stays valid.
type SecretPolicy struct {
	// RenewBefore: rotate when the newest working secret expires within this; zero means
	// 30 days.
	RenewBefore time.Duration
	// MaxAge: also rotate when the newest secret is older than this; zero means no limit.
	MaxAge time.Duration
	// Lifetime of a new secret; zero means one year, the portal's default. It must be
	// longer than RenewBefore, or a new secret would be due at once.
	Lifetime time.Duration
	// Grace: old secrets keep working this long after the new one works; zero means one
	// hour, else at least one minute.
	Grace time.Duration
	// Retire says which old secrets a rotation retires: "all" (or "", the default) or
	// "expired".
	Retire string
	// Description of a new secret; "" means a default naming this tool and the date.
	Description string
	// ProofTimeout: how long to wait for the identity server to accept a new secret;
	// zero means 1 h 10 min.
	ProofTimeout time.Duration
}

// Defaults of SecretPolicy, as the rotation policy of package secrets has them.
const (
	defaultRenewBefore = 30 * 24 * time.Hour
	retireAll          = "all"
	retireExpired      = "expired"
)

// firstSecret is where a client's secret policy meets the SDK today, and the one place to
// change when the policy becomes the rotation policy of package secrets: the description
// and expiry of the first secret of a client that Apply creates. A zero Lifetime leaves
// the expiry zero, which Create takes as one year from now (the portal's default).
func (p SecretPolicy) firstSecret(now time.Time) (description string, expiry secrets.Expiry) {
	description = p.Description
	if description == "" {
		description = "first secret, made by desired state on " + now.UTC().Format(time.DateOnly)
	}
	if p.Lifetime > 0 {
		expiry = secrets.ExpiresIn(p.Lifetime)
	}
	return description, expiry
}

// validate reports the broken rules of the policy that the create request does not check
// (it checks Description and a positive Lifetime), with field names under prefix.
func (p SecretPolicy) validate(prefix string) []error {
	var errs []error
	add := func(field, rule string, v any) {
		errs = append(errs, &identity.ValidationError{Field: prefix + field, Rule: rule, Value: v})
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"RenewBefore", p.RenewBefore}, {"MaxAge", p.MaxAge}, {"Lifetime", p.Lifetime}, {"Grace", p.Grace}, {"ProofTimeout", p.ProofTimeout}} {
		if d.v < 0 {
			add(d.field, "must not be negative", formatDuration(d.v))
		}
	}
	if p.Grace > 0 && p.Grace < secrets.MinGrace {
		add("Grace", fmt.Sprintf("must be at least %s (zero means one hour)", formatDuration(secrets.MinGrace)), formatDuration(p.Grace))
	}
	renew := p.RenewBefore
	if renew == 0 {
		renew = defaultRenewBefore
	}
	if p.Lifetime > 0 && p.RenewBefore >= 0 && p.Lifetime <= renew {
		add("Lifetime", fmt.Sprintf("must be longer than RenewBefore (%s), or a new secret is due for rotation at once", formatDuration(renew)), formatDuration(p.Lifetime))
	}
	if p.Retire != "" && p.Retire != retireAll && p.Retire != retireExpired {
		add("Retire", `must be "all" or "expired"`, p.Retire)
	}
	return errs
}

// createRequest is the request that creates c, with its first secret as the policy says.
func (c Client) createRequest(now time.Time) hybridclients.CreateRequest {
	desc, exp := c.Secrets.firstSecret(now)
	return hybridclients.CreateRequest{
		ID:                          c.ID,
		Name:                        c.Name,
		Enabled:                     c.Enabled,
		AllowRefreshTokens:          c.AllowRefreshTokens,
		RedirectURIs:                c.RedirectURIs,
		PostLogoutRedirectURIs:      c.PostLogoutRedirectURIs,
		AccessTokenLifetime:         c.AccessTokenLifetime,
		Tags:                        c.Tags,
		ClientURI:                   c.ClientURI,
		LogoURI:                     c.LogoURI,
		AllowAccessTokensViaBrowser: c.AllowAccessTokensViaBrowser,
		SecretDescription:           desc,
		SecretExpiry:                exp,
	}
}

// requestFields maps the CreateRequest fields that a Client names otherwise.
var requestFields = map[string]string{"SecretDescription": "Secrets.Description", "SecretExpiry": "Secrets.Lifetime"}

// maxErrors bounds the broken rules one error lists: a file of thousands of broken clients
// must not make an error of megabytes.
const maxErrors = 100

// Validate reports every broken rule of the State at once, before anything is sent: each
// client's fields under the rules of hybridclients.CreateRequest, an ID that is missing,
// not a GUID or repeated (in Clients or Removed, ignoring case), and the secret policies.
// The error joins *identity.ValidationError values whose Field is a path into the State
// ("Clients[3].RedirectURIs[0]", "Removed[1]"); errors.Is(err, identity.ErrInvalidInput)
// matches. At most 100 are listed, the last saying how many more there are.
func (s State) Validate() error {
	var errs []error
	seen := map[string]string{} // id, lower case -> the field that holds it first
	useID := func(field, id string) {
		k := idKey(id)
		if first, dup := seen[k]; dup {
			errs = append(errs, &identity.ValidationError{Field: field, Rule: "must not repeat the id of " + first + ": each client has its own", Value: id})
			return
		}
		seen[k] = field
	}
	now := time.Now()
	for i, c := range s.Clients {
		prefix := fmt.Sprintf("Clients[%d].", i)
		if c.ID == "" {
			errs = append(errs, &identity.ValidationError{Field: prefix + "ID", Rule: "must be set: a GUID you choose once, by which a later run recognises the client", Value: ""})
		} else {
			useID(prefix+"ID", c.ID)
		}
		for _, ve := range identity.ValidationErrors(c.createRequest(now).Validate()) {
			field := ve.Field
			for from, to := range requestFields {
				if field == from || strings.HasPrefix(field, from+"[") {
					field = to + strings.TrimPrefix(field, from)
				}
			}
			errs = append(errs, &identity.ValidationError{Field: prefix + field, Rule: ve.Rule, Value: ve.Value})
		}
		errs = append(errs, c.Secrets.validate(prefix+"Secrets.")...)
	}
	for i, id := range s.Removed {
		field := fmt.Sprintf("Removed[%d]", i)
		if err := validate.GUID(field, id); err != nil {
			errs = append(errs, err)
			continue
		}
		useID(field, id)
	}
	return joinBounded(errs)
}

// joinBounded joins errs, keeping the first maxErrors and saying how many more there were.
func joinBounded(errs []error) error {
	if len(errs) > maxErrors {
		more := len(errs) - maxErrors
		errs = append(errs[:maxErrors:maxErrors], &identity.ValidationError{Field: "State",
			Rule: fmt.Sprintf("breaks %d more rules beyond the %d listed", more, maxErrors), Value: more})
	}
	return errors.Join(errs...)
}

// idKey is the form of an id that lookups use: the service compares ids without case.
func idKey(id string) string { return strings.ToLower(id) }
