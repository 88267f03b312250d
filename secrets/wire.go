package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
)

// wireWrite is ClientSecretCreateOrUpdate. A nil pointer or an unset Expiration is left
// out of the JSON, which the service reads as "unchanged" on update. The expiry is always
// one of the two pairs the service accepts: Expires true with a time, or Expires false with
// an explicit null.
type wireWrite struct {
	Description *string        `json:"Description,omitempty"`
	Expires     *bool          `json:"Expires,omitempty"`
	Expiration  wireExpiration `json:"Expiration,omitzero"`
}

// wireExpiration is the Expiration property of a request: absent (not set), null (never
// expires) or a time.
type wireExpiration struct {
	set bool
	at  *time.Time // nil: null
}

// IsZero makes omitzero leave an unset Expiration out.
func (w wireExpiration) IsZero() bool { return !w.set }

// MarshalJSON writes null or the time in RFC 3339, UTC.
func (w wireExpiration) MarshalJSON() ([]byte, error) {
	if w.at == nil {
		return []byte("null"), nil
	}
	return json.Marshal(w.at.UTC().Format(time.RFC3339Nano))
}

// setExpiry resolves e at now (unset becomes def) and puts the pair the service expects
// into w; an unset Expiry with an unset def leaves w's expiry unset.
func (w *wireWrite) setExpiry(field string, e Expiry, now time.Time, def Expiry) error {
	if e.IsZero() {
		if e = def; e.IsZero() {
			return nil
		}
	}
	at, never, err := validate.ExpiryAt(field, e, now)
	switch {
	case err != nil:
		return err
	case never:
		w.Expires, w.Expiration = identity.Ptr(false), wireExpiration{set: true}
	case !at.IsZero():
		w.Expires, w.Expiration = identity.Ptr(true), wireExpiration{set: true, at: &at}
	}
	return nil
}

// wireTime reads the service's date-times: RFC 3339, or the same without a zone offset,
// which is read as UTC (what a .NET service writes for an unspecified DateTime kind).
type wireTime struct{ time.Time }

func (t *wireTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("date-time is not a JSON string")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			t.Time = v
			return nil
		}
	}
	return errors.New("date-time is not in RFC 3339 format")
}

// wireSecret is ClientSecret, the metadata the service lists: never a value.
type wireSecret struct {
	ID          *int32    `json:"Id"`
	Description *string   `json:"Description"`
	Expires     *bool     `json:"Expires"`
	Expiration  *wireTime `json:"Expiration"`
}

// wireAdded is ClientSecretResponse: ClientSecret plus the value, returned once.
type wireAdded struct {
	wireSecret
	Secret *string `json:"Secret"`
}

// metadata converts w. A secret without a positive id is unusable: it could be neither
// fetched nor deleted.
func (w *wireSecret) metadata() (ClientSecret, error) {
	if w.ID == nil || *w.ID <= 0 {
		return ClientSecret{}, errors.New("a secret in the answer has no positive Id")
	}
	m := ClientSecret{ID: int(*w.ID), Expiry: NeverExpires()}
	if w.Description != nil {
		m.Description = *w.Description
	}
	// Expires false, or no Expiration, is a secret that does not expire (API.md).
	if (w.Expires == nil || *w.Expires) && w.Expiration != nil && !w.Expiration.IsZero() {
		m.Expiry = ExpiresAt(w.Expiration.Time)
	}
	return m, nil
}

// responseError is the *identity.ResponseError of an unusable success answer.
func responseError(resp *transport.Response, err error) error {
	return &identity.ResponseError{StatusCode: resp.StatusCode, Method: resp.Method, Path: resp.Path, Err: err}
}

// added converts the answer of an add. An answer without a value is unusable: the secret
// was added (when the answer names its id, the error says which) but nobody holds its
// value.
func (w *wireAdded) added(resp *transport.Response) (*Added, error) {
	m, err := w.metadata()
	if w.Secret == nil || *w.Secret == "" {
		what := "the answer lacks the secret's value"
		if err == nil {
			what += fmt.Sprintf(" (secret %d was added; nobody holds its value)", m.ID)
		}
		return nil, responseError(resp, errors.New(what))
	}
	if err != nil {
		return nil, responseError(resp, err)
	}
	return &Added{ClientSecret: m, Value: identity.NewSecret(*w.Secret)}, nil
}
