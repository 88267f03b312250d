package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
)

// Redacted is what a Secret shows wherever it is printed, logged or encoded.
const Redacted = "[REDACTED]"

// Secret holds a credential value: a hybrid client's one-time secret, a client secret used
// to sign in, or a bearer token. The service shows a new secret's value exactly once, so
// the SDK hands it over in a Secret that never prints itself: String, GoString, every fmt
// verb, log/slog, encoding/json and encoding.TextMarshaler all show [REDACTED]. Call
// Reveal to get the value, or WriteFile to store it.
//
// The zero Secret holds no value.
type Secret struct {
	// A pointer, not a string: when a Secret sits in an unexported field of another struct,
	// fmt cannot call its methods and prints the field raw; a pointer prints as an address.
	v *string
}

// NewSecret wraps value in a Secret.
func NewSecret(value string) Secret { return Secret{v: &value} }

// Reveal returns the secret's value. Call it only where the value is handed to where it
// belongs (a vault, a file, an HTTP form), never to build a message.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the Secret holds no value (or an empty one).
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// String returns [REDACTED].
func (s Secret) String() string { return Redacted }

// GoString returns [REDACTED], so %#v does not show the value either.
func (s Secret) GoString() string { return Redacted }

// Format writes [REDACTED] for every fmt verb (%v, %+v, %#v, %s, %q, %x, %d, ...).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue makes log/slog record [REDACTED].
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON encodes the Secret as the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText encodes the Secret as [REDACTED] (used by encoding/xml, map keys, flags, ...).
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// ErrFileExists is returned by Secret.WriteFile when the file is already there.
var ErrFileExists = errors.New("identity: file already exists")

// WriteFile stores the secret's value in a new file at path, readable and writable by the
// owner only (mode 0600). It refuses to overwrite an existing file (errors.Is(err,
// ErrFileExists)) so that an earlier secret is never lost, and removes a file it could not
// write completely. The value is written as is, without a trailing newline.
func (s Secret) WriteFile(path string) error {
	if s.IsZero() {
		return errors.New("identity: refusing to write an empty secret")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("identity: writing secret to %s: %w", path, ErrFileExists)
		}
		return fmt.Errorf("identity: writing secret: %w", err)
	}
	_, err = f.WriteString(*s.v)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("identity: writing secret to %s: %w", path, err)
	}
	return nil
}
