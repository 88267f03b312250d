// Package validate is the one home of request validation for hybridclients and secrets:
// it turns the pure checks of internal/rules into *identity.ValidationError values and
// collects every broken rule of one request.
//
// Why two packages: a check says what a rule is (internal/rules, plain values); this
// package says how a broken one is reported (the typed error). Building the typed error
// means importing identity, and identity imports internal/rules for Config.Validate, so
// one package doing both would be an import cycle. A new rule goes to internal/rules when
// Config.Validate needs it too, else here.
//
// The rule for ValidationError.Field, used by every caller: the Go name as the caller
// sees it. A field of a request struct is named as in Go, with an index into a slice
// ("RedirectURIs[2]", "SecretExpiry"); a method parameter is named in exported form
// ("ClientID", "SecretID", "Within"); a Config field is named as in Config ("TenantID").
package validate

import (
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
)

// Problem wraps a broken rule of internal/rules.
func Problem(p *rules.Problem) error {
	return &identity.ValidationError{Field: p.Field, Rule: p.Rule, Value: p.Value}
}

// GUID returns a *identity.ValidationError naming field when value is not a GUID.
func GUID(field, value string) error {
	if !rules.IsGUID(value) {
		return &identity.ValidationError{Field: field, Rule: rules.GUIDRule, Value: value}
	}
	return nil
}
