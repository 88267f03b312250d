// Package rules holds the SDK's own checks as pure functions returning plain values: is a
// text safe to show, is a string a GUID, is a host loopback, what is a Config's resource
// URL, what are the retry defaults, how long a Retry-After says to wait, how an error's
// text starts (Prefixed), which client is never due for rotation (NeverDue). It imports no
// package of this module, so the root package identity may import it (DESIGN.md: the root
// imports no package of the module, and this leaf is the one exception) and the transport
// resolves Config.Resource with the very rule Config.Validate applied. Wrapping a broken
// rule into an *identity.ValidationError is the caller's job (internal/validate for the
// API packages).
package rules
