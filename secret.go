package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ocs-go/identity/internal/rules"
)

// Redacted is what a Secret shows wherever it is printed, logged or encoded.
const Redacted = "[REDACTED]"

// Secret holds a credential value: a hybrid client's one-time secret, a client secret used
// to sign in, or a bearer token. The service shows a new secret's value exactly once, so
// the SDK hands it over in a Secret that never prints itself: String, GoString, every fmt
// verb, log/slog, encoding/json and encoding.TextMarshaler all show [REDACTED]. Call
// Reveal to get the value, WriteFile to store it in a new file, or ReplaceFile to put it in
// place of an older value.
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

// ErrFileExists is matched (errors.Is) by the error of Secret.WriteFile when the file is
// already there.
var ErrFileExists = errors.New("file already exists")

// WriteFile stores the secret's value in a new file at path, readable and writable by the
// owner only (mode 0600). It refuses to overwrite an existing file (errors.Is(err,
// ErrFileExists)) so that an earlier secret is never lost, and removes a file it could not
// write completely. The value is written as is, without a trailing newline. To put a new
// value where an application reads the old one, as a rotation does, use ReplaceFile.
func (s Secret) WriteFile(path string) error {
	return rules.Prefixed(pkgName, s.writeFile(path))
}

func (s Secret) writeFile(path string) error {
	if s.IsZero() {
		return errEmptySecret()
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("writing secret to %s: %w", path, ErrFileExists)
		}
		return fmt.Errorf("writing secret: %w", err)
	}
	if err := writeSynced(f, *s.v); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing secret to %s: %w", path, err)
	}
	return nil
}

// ReplaceFile stores the secret's value at path in place of what the file held, or in a
// new file when there is none: the step of a rotation that hands the new value to the
// application. The value is written, without a trailing newline, to a new temporary file
// in path's directory, flushed to disk, and then renamed over path, so a reader of path
// sees the old value or the new one, never a mix or an empty file.
//
// When ReplaceFile returns an error, path is as it was (the old value, or no file) and no
// temporary file is left behind. A nil error means path holds the new value; the
// directory is then flushed too where the operating system allows it (not on Windows),
// without which a power cut right after the call could bring the old value back.
//
// The new file has mode 0600 and belongs to the calling process's user, whatever the mode
// and owner of the file it replaces: an application that read the old file through its
// group or as another user cannot read the new one. When path is a symbolic link, the
// link itself is replaced by the new file and the file it pointed to is left as it was;
// pass the link's target (filepath.EvalSymlinks) to replace that file instead. The rename
// is atomic on a local file system; network file systems may not promise it.
func (s Secret) ReplaceFile(path string) error {
	return rules.Prefixed(pkgName, s.replaceFile(path, osFiles{}))
}

// files are the file operations of replaceFile that can fail, so that tests can make
// each fail in turn.
type files interface {
	writeSynced(f *os.File, value string) error
	rename(from, to string) error
}

type osFiles struct{}

func (osFiles) writeSynced(f *os.File, value string) error { return writeSynced(f, value) }
func (osFiles) rename(from, to string) error               { return os.Rename(from, to) }

func (s Secret) replaceFile(path string, fs files) error {
	if s.IsZero() {
		return errEmptySecret()
	}
	if path == "" {
		return errors.New("replacing secret file: empty path")
	}
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// os.CreateTemp: O_EXCL, a random name, mode 0600. The name starts with a dot and
	// says whose it is, should a crash leave one behind.
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("replacing secret file %s: %w", path, err)
	}
	err = fs.writeSynced(tmp, *s.v)
	if err == nil {
		err = fs.rename(tmp.Name(), path)
	}
	if err != nil {
		_ = tmp.Close() // closed already unless the write failed half-way; Windows cannot remove an open file
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("replacing secret file %s: %w", path, err)
	}
	// The rename is done: path holds the new value. An error now would tell a caller
	// (Rotate's Store) that it does not, and the new secret would be deleted while the
	// application reads it; so flushing the directory is best effort.
	syncDir(dir)
	return nil
}

// writeSynced writes value to f, flushes it to disk and closes f.
func writeSynced(f *os.File, value string) error {
	_, err := f.WriteString(value)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir flushes a directory's entries (a rename in it) to disk. Windows cannot open a
// directory for this; there, and on any other failure, it does nothing.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func errEmptySecret() error { return errors.New("refusing to write an empty secret") }
