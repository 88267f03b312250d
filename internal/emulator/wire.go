package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"
)

// The wire types below are written from API.md alone (never shared with the SDK), so a
// wrong property name on either side shows up as a failing test instead of being mirrored.

// clientIn is the HybridClient request body (update). Pointers and nil slices mean "absent
// or null", which the service treats alike: the property is left unchanged. A present
// empty array decodes to a non-nil empty slice.
type clientIn struct {
	ID                          *string  `json:"Id"`
	Name                        *string  `json:"Name"`
	Enabled                     *bool    `json:"Enabled"`
	AccessTokenLifetime         *int32   `json:"AccessTokenLifetime"`
	Tags                        []string `json:"Tags"`
	RedirectUris                []string `json:"RedirectUris"`
	PostLogoutRedirectUris      []string `json:"PostLogoutRedirectUris"`
	ClientURI                   *string  `json:"ClientUri"`
	LogoURI                     *string  `json:"LogoUri"`
	AllowOfflineAccess          *bool    `json:"AllowOfflineAccess"`
	AllowAccessTokensViaBrowser *bool    `json:"AllowAccessTokensViaBrowser"`
}

// createIn is the HybridClientCreate request body.
type createIn struct {
	clientIn
	SecretDescription    *string    `json:"SecretDescription"`
	SecretExpirationDate *time.Time `json:"SecretExpirationDate"`
}

// clientOut is the HybridClient response body.
type clientOut struct {
	ID                          string   `json:"Id"`
	Name                        string   `json:"Name"`
	Enabled                     bool     `json:"Enabled"`
	AccessTokenLifetime         int32    `json:"AccessTokenLifetime"`
	Tags                        []string `json:"Tags"`
	RedirectUris                []string `json:"RedirectUris"`
	PostLogoutRedirectUris      []string `json:"PostLogoutRedirectUris"`
	ClientURI                   *string  `json:"ClientUri"`
	LogoURI                     *string  `json:"LogoUri"`
	AllowOfflineAccess          bool     `json:"AllowOfflineAccess"`
	AllowAccessTokensViaBrowser bool     `json:"AllowAccessTokensViaBrowser"`
}

// createOut is the HybridClientCreateResponse body (201).
type createOut struct {
	Secret         string    `json:"Secret"`
	ID             int32     `json:"Id"`
	Description    string    `json:"Description"`
	ExpirationDate *wireTime `json:"ExpirationDate"`
	Client         clientOut `json:"Client"`
}

// secretIn is the ClientSecretCreateOrUpdate request body.
type secretIn struct {
	Description *string    `json:"Description"`
	Expires     *bool      `json:"Expires"`
	Expiration  *time.Time `json:"Expiration"`
}

// secretOut is the ClientSecret response body: never a value.
type secretOut struct {
	ID          int32     `json:"Id"`
	Description string    `json:"Description"`
	Expires     bool      `json:"Expires"`
	Expiration  *wireTime `json:"Expiration"`
}

// secretCreatedOut is the ClientSecretResponse body (201): the only place a value appears.
type secretCreatedOut struct {
	secretOut
	Secret string `json:"Secret"`
}

// errorOut is the service's ErrorResponse.
type errorOut struct {
	OperationID string `json:"OperationId"`
	Error       string `json:"Error"`
	Reason      string `json:"Reason"`
	Resolution  string `json:"Resolution"`
	EventID     string `json:"EventId"`
}

// wireTime renders times as RFC 3339 in UTC, as the service does.
type wireTime time.Time

// MarshalJSON implements json.Marshaler.
func (t wireTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(time.RFC3339Nano))
}

func timePtr(t *time.Time) *wireTime {
	if t == nil {
		return nil
	}
	w := wireTime(*t)
	return &w
}

// decodeExact decodes a JSON object into v, honouring only properties whose name matches a
// json tag of v exactly (case included). Others are ignored as unknown. encoding/json alone
// matches names case-insensitively, which would let a miscased SDK property pass unnoticed.
func decodeExact(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return errors.New("a JSON object body is required")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return err
	}
	names := map[string]bool{}
	jsonNames(reflect.TypeOf(v).Elem(), names)
	kept := make(map[string]json.RawMessage, len(raw))
	for k, m := range raw {
		if names[k] {
			kept[k] = m
		}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// jsonNames collects the json tag names of struct type t, through embedded structs.
func jsonNames(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			jsonNames(f.Type, into)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			into[name] = true
		}
	}
}

// newGUID returns a random (version 4) GUID in its lowercase hyphenated form.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// isGUID reports whether s is a GUID in the hyphenated 8-4-4-4-12 form (either case).
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// key folds an id for map lookups: GUIDs and route segments compare case-insensitively.
func key(id string) string { return strings.ToLower(id) }
