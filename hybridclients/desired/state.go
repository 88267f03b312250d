package desired

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/internal/rules"
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
	// Secrets is the client's secret policy: when its secrets are rotated, and how. Nil
	// means none: a plan never rotates the client's secrets, and the first secret of a
	// client Apply creates gets the defaults (a year, a description naming the date). In a
	// file, a client without a secrets key has none, and "secrets: {}" is the policy of
	// every default (rotate 30 days before the newest secret expires). None is the
	// default so that a client is rotated only by a choice made for it: an adopted
	// client's secret values live where its applications read them, which a Store may
	// not reach, and Export, which writes no policy, must describe the tenant as it is.
	Secrets *SecretPolicy
}

// SecretPolicy is a client's secret policy in a desired state: the rotation policy of
// package secrets (Policy returns it), with the file's word for Retire. A plan rotates
// the client's secrets when the policy finds them due, and the first secret of a client
// that Apply creates is made as the policy makes a new secret (its Lifetime and
// Description), so that the policy knows its age (secrets.Policy.MaxAge). The zero value
// is secrets.Policy's zero value, safe: each zero field has the default named on it.
type SecretPolicy struct {
	// RenewBefore: the client is due when its newest working secret expires within this;
	// zero means 30 days.
	RenewBefore time.Duration
	// MaxAge: the client is also due when its newest secret, made by this policy, is
	// older than this; zero means no limit. See secrets.Policy.MaxAge.
	MaxAge time.Duration
	// Lifetime of a new secret; zero means one year, the portal's default. It must be
	// longer than RenewBefore, or a new secret would be due at once.
	Lifetime time.Duration
	// Grace: old secrets keep working this long after the identity server accepts the
	// new one; zero means one hour, else at least one minute.
	Grace time.Duration
	// Retire says which old secrets a rotation retires: "all" (or "", the default) or
	// "expired".
	Retire string
	// Description of a new secret; "" means secrets.Policy's default, naming the date
	// ("rotated by policy on 2026-11-25"), by which the policy knows its own secrets.
	Description string
	// ProofTimeout: how long a rotation waits for the identity server to accept the new
	// secret before it gives up, retiring nothing; zero means 1 h 10 min.
	ProofTimeout time.Duration
}

// The words of SecretPolicy.Retire.
const (
	retireAll     = "all"
	retireExpired = "expired"
)

// Policy returns p as the rotation policy of package secrets: the one place where a
// desired state's policy meets the SDK's. Retire "expired" is secrets.RetireExpired(),
// any other word secrets.RetireAll() (State.Validate refuses other words).
func (p SecretPolicy) Policy() secrets.Policy {
	out := secrets.Policy{
		RenewBefore: p.RenewBefore, MaxAge: p.MaxAge, Lifetime: p.Lifetime, Grace: p.Grace,
		Description: p.Description, ProofTimeout: p.ProofTimeout,
	}
	if p.Retire == retireExpired {
		out.Retire = secrets.RetireExpired()
	}
	return out
}

// firstSecret is the description and expiry of the first secret of a client that Apply
// creates (or replaces): as the client's policy makes a new secret, or without one a
// description naming this package and the date, and the zero expiry, which Create and
// Add take as one year from now.
func (c Client) firstSecret(now time.Time) (description string, expiry secrets.Expiry) {
	if c.Secrets == nil {
		return "first secret, made by desired state on " + now.UTC().Format(time.DateOnly), secrets.Expiry{}
	}
	req := c.Secrets.Policy().RotateRequest(nil, now)
	return req.Description, req.Expiry
}

// validate reports the broken rules of the policy, with field names under prefix:
// secrets.Policy's own (Validate), durations shown as a file writes them, and the file's
// word for Retire.
func (p SecretPolicy) validate(prefix string) []*identity.ValidationError {
	var errs []*identity.ValidationError
	for _, ve := range identity.ValidationErrors(p.Policy().Validate()) {
		v := ve.Value
		if s, ok := v.(string); ok {
			if d, err := time.ParseDuration(s); err == nil {
				v = formatDuration(d)
			}
		}
		errs = append(errs, &identity.ValidationError{Field: prefix + ve.Field, Rule: ve.Rule, Value: v})
	}
	if p.Retire != "" && p.Retire != retireAll && p.Retire != retireExpired {
		errs = append(errs, &identity.ValidationError{Field: prefix + "Retire", Rule: `must be "all" or "expired"`, Value: p.Retire})
	}
	return errs
}

// createRequest is the request that creates c, with its first secret as the policy says.
func (c Client) createRequest(now time.Time) hybridclients.CreateRequest {
	desc, exp := c.firstSecret(now)
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
// not a GUID or repeated (in Clients or Removed, ignoring case), and each secret policy
// under the rules of secrets.Policy.Validate.
// The error joins *identity.ValidationError values whose Field is a path into the State
// ("Clients[3].RedirectURIs[0]", "Removed[1]"); errors.Is(err, identity.ErrInvalidInput)
// matches. At most 100 are listed, the last saying how many more there are.
func (s State) Validate() error {
	return rules.Prefixed(pkgName, s.validate())
}

func (s State) validate() error {
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
	// The system clock, as CreateRequest.Validate checks by it: a State has no Config, and
	// the rules checked do not depend on the day (Apply dates by the Config's clock).
	now := time.Now()
	for i, c := range s.Clients {
		prefix := fmt.Sprintf("Clients[%d].", i)
		if c.ID == "" {
			errs = append(errs, &identity.ValidationError{Field: prefix + "ID", Rule: "must be set: a GUID you choose once, by which a later run recognises the client", Value: ""})
		} else {
			useID(prefix+"ID", c.ID)
		}
		var mine []*identity.ValidationError
		for _, ve := range identity.ValidationErrors(c.createRequest(now).Validate()) {
			field := ve.Field
			for from, to := range requestFields {
				if field == from || strings.HasPrefix(field, from+"[") {
					field = to + strings.TrimPrefix(field, from)
				}
			}
			mine = append(mine, &identity.ValidationError{Field: prefix + field, Rule: ve.Rule, Value: ve.Value})
		}
		if c.Secrets != nil {
			for _, ve := range c.Secrets.validate(prefix + "Secrets.") {
				// The create request checks the first secret's description by the same
				// rule as the policy: one problem is reported once.
				if !slices.ContainsFunc(mine, func(x *identity.ValidationError) bool { return x.Field == ve.Field && x.Rule == ve.Rule }) {
					mine = append(mine, ve)
				}
			}
		}
		for _, ve := range mine {
			errs = append(errs, ve)
		}
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
