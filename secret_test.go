package identity_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocs-go/identity"
)

// secretValue is distinctive enough that any leak of it shows in a substring search, and
// it holds characters that %q, %x and JSON would escape or encode differently.
const secretValue = "s3cr3t-VALUE-\"quoted\"-ÿ"

// leakForms are the ways the value could show up after an encoding: as is, hex-encoded,
// quoted, and a distinctive fragment of it.
func leakForms(v string) []string {
	return []string{
		v,
		fmt.Sprintf("%x", v),
		fmt.Sprintf("%X", v),
		strings.Trim(fmt.Sprintf("%q", v), `"`),
		"s3cr3t",
		fmt.Sprintf("% x", "s3cr3t"),
	}
}

func assertRedacted(t *testing.T, what, out string) {
	t.Helper()
	for _, leak := range leakForms(secretValue) {
		if strings.Contains(out, leak) {
			t.Errorf("%s leaks the secret (%q) in %q", what, leak, out)
		}
	}
	if !strings.Contains(out, identity.Redacted) {
		t.Errorf("%s = %q, want it to contain %q", what, out, identity.Redacted)
	}
}

// assertNoLeak is for forms that cannot reach the Secret's methods (an unexported field):
// they must not show the value, but need not show [REDACTED].
func assertNoLeak(t *testing.T, what, out string) {
	t.Helper()
	for _, leak := range leakForms(secretValue) {
		if strings.Contains(out, leak) {
			t.Errorf("%s leaks the secret (%q) in %q", what, leak, out)
		}
	}
}

type exportedHolder struct {
	Name   string
	Secret identity.Secret
}

type unexportedHolder struct {
	name   string
	secret identity.Secret
}

type pointerHolder struct {
	Secret *identity.Secret
}

func TestRedactedConstant(t *testing.T) {
	if identity.Redacted != "[REDACTED]" {
		t.Fatalf("Redacted = %q", identity.Redacted)
	}
}

func TestSecretFmtVerbs(t *testing.T) {
	s := identity.NewSecret(secretValue)
	ps := &s
	ex := exportedHolder{Name: "n", Secret: s}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10v", "%-20s", "%.3s", "% x", "%#x", "%t", "%p"}
	values := []struct {
		name string
		v    any
	}{
		{"Secret", s},
		{"*Secret", ps},
		{"exported field", ex},
		{"pointer to exported holder", &ex},
		{"pointer field", pointerHolder{Secret: ps}},
		{"slice", []identity.Secret{s, s}},
		{"slice of any", []any{"x", s}},
		{"map value", map[string]identity.Secret{"k": s}},
		{"map key", map[identity.Secret]int{s: 1}},
		{"array", [1]identity.Secret{s}},
		{"anonymous struct", struct{ S identity.Secret }{s}},
	}
	for _, val := range values {
		for _, verb := range verbs {
			if verb == "%p" && val.name != "*Secret" {
				continue
			}
			t.Run(val.name+"/"+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, val.v)
				if verb == "%p" {
					assertNoLeak(t, verb, out)
					return
				}
				assertRedacted(t, fmt.Sprintf("Sprintf(%q, %s)", verb, val.name), out)
			})
		}
	}
}

func TestSecretTypeVerbShowsOnlyType(t *testing.T) {
	s := identity.NewSecret(secretValue)
	if got := fmt.Sprintf("%T", s); got != "identity.Secret" {
		t.Errorf("%%T = %q", got)
	}
}

func TestSecretStringers(t *testing.T) {
	s := identity.NewSecret(secretValue)
	cases := []struct {
		name string
		out  string
	}{
		{"String", s.String()},
		{"GoString", s.GoString()},
		{"Sprint", fmt.Sprint(s)},
		{"Sprint several", fmt.Sprint("a", s, 3)},
		{"Sprintln", fmt.Sprintln(s, s)},
		{"Sprint pointer", fmt.Sprint(&s)},
		{"Fprint", func() string { var b bytes.Buffer; fmt.Fprint(&b, s); return b.String() }()},
		{"Errorf %v", fmt.Errorf("token %v rejected", s).Error()},
		{"Errorf %s", fmt.Errorf("token %s rejected", s).Error()},
		{"Errorf %w-wrapped", fmt.Errorf("outer: %w", fmt.Errorf("inner %v", s)).Error()},
		{"errors.Join", errors.Join(fmt.Errorf("a %v", s), errors.New("b")).Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertRedacted(t, c.name, c.out)
		})
	}
	if s.String() != identity.Redacted || s.GoString() != identity.Redacted {
		t.Errorf("String/GoString = %q/%q, want exactly %q", s.String(), s.GoString(), identity.Redacted)
	}
}

func TestSecretInUnexportedField(t *testing.T) {
	// fmt cannot call methods of an unexported field and prints it raw; the pointer
	// inside Secret makes that raw form an address instead of the value.
	h := unexportedHolder{name: "n", secret: identity.NewSecret(secretValue)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		t.Run(verb, func(t *testing.T) {
			assertNoLeak(t, verb, fmt.Sprintf(verb, h))
			assertNoLeak(t, verb+" pointer", fmt.Sprintf(verb, &h))
			assertNoLeak(t, verb+" in slice", fmt.Sprintf(verb, []unexportedHolder{h}))
		})
	}
	assertNoLeak(t, "Sprint", fmt.Sprint(h))
	assertNoLeak(t, "Sprintln", fmt.Sprintln(h))
}

func TestSecretSlog(t *testing.T) {
	s := identity.NewSecret(secretValue)
	handlers := []struct {
		name string
		make func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	}
	logs := []struct {
		name string
		do   func(*slog.Logger)
	}{
		{"Any attribute", func(l *slog.Logger) { l.Info("m", slog.Any("secret", s)) }},
		{"key-value pair", func(l *slog.Logger) { l.Info("m", "secret", s) }},
		{"pointer", func(l *slog.Logger) { l.Info("m", "secret", &s) }},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("g", slog.Any("secret", s))) }},
		{"nested group", func(l *slog.Logger) {
			l.Info("m", slog.Group("g", slog.Group("h", "secret", s)))
		}},
		{"With", func(l *slog.Logger) { l.With("secret", s).Info("m") }},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup("g").Info("m", "secret", s) }},
		{"struct exported field", func(l *slog.Logger) { l.Info("m", "holder", exportedHolder{Secret: s}) }},
	}
	for _, h := range handlers {
		for _, lg := range logs {
			t.Run(h.name+"/"+lg.name, func(t *testing.T) {
				var b bytes.Buffer
				lg.do(slog.New(h.make(&b)))
				assertRedacted(t, "log output", b.String())
			})
		}
	}
}

func TestSecretLogValue(t *testing.T) {
	v := identity.NewSecret(secretValue).LogValue()
	if v.Kind() != slog.KindString || v.String() != identity.Redacted {
		t.Errorf("LogValue = %v (%v), want string %q", v, v.Kind(), identity.Redacted)
	}
}

func TestSecretJSON(t *testing.T) {
	s := identity.NewSecret(secretValue)
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"Secret", s, `"[REDACTED]"`},
		{"*Secret", &s, `"[REDACTED]"`},
		{"struct", exportedHolder{Name: "n", Secret: s}, `{"Name":"n","Secret":"[REDACTED]"}`},
		{"tagged struct", struct {
			V identity.Secret `json:"value"`
		}{s}, `{"value":"[REDACTED]"}`},
		{"slice", []identity.Secret{s}, `["[REDACTED]"]`},
		{"map value", map[string]identity.Secret{"k": s}, `{"k":"[REDACTED]"}`},
		{"map key", map[identity.Secret]int{s: 1}, `{"[REDACTED]":1}`},
		{"unexported field", unexportedHolder{name: "n", secret: s}, `{}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Errorf("json = %s, want %s", b, c.want)
			}
			assertNoLeak(t, "json", string(b))
			var ind bytes.Buffer
			if err := json.NewEncoder(&ind).Encode(c.v); err != nil {
				t.Fatal(err)
			}
			assertNoLeak(t, "json.Encoder", ind.String())
		})
	}
}

func TestSecretXMLAndText(t *testing.T) {
	s := identity.NewSecret(secretValue)
	type doc struct {
		XMLName xml.Name        `xml:"doc"`
		Elem    identity.Secret `xml:"elem"`
		Attr    identity.Secret `xml:"attr,attr"`
	}
	b, err := xml.Marshal(doc{Elem: s, Attr: s})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<doc attr="[REDACTED]"><elem>[REDACTED]</elem></doc>`; string(b) != want {
		t.Errorf("xml = %s, want %s", b, want)
	}
	b, err = xml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	assertRedacted(t, "xml of Secret", string(b))

	txt, err := s.MarshalText()
	if err != nil || string(txt) != identity.Redacted {
		t.Errorf("MarshalText = %q, %v", txt, err)
	}
	js, err := s.MarshalJSON()
	if err != nil || string(js) != `"[REDACTED]"` {
		t.Errorf("MarshalJSON = %q, %v", js, err)
	}
}

func TestSecretRevealAndZero(t *testing.T) {
	cases := []struct {
		name   string
		s      identity.Secret
		reveal string
		zero   bool
	}{
		{"zero value", identity.Secret{}, "", true},
		{"empty", identity.NewSecret(""), "", true},
		{"value", identity.NewSecret(secretValue), secretValue, false},
		{"blank", identity.NewSecret(" "), " ", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.Reveal(); got != c.reveal {
				t.Errorf("Reveal = %q, want %q", got, c.reveal)
			}
			if got := c.s.IsZero(); got != c.zero {
				t.Errorf("IsZero = %v, want %v", got, c.zero)
			}
			// Even the zero Secret prints as [REDACTED], so that printing never tells
			// whether a value is there.
			if got := fmt.Sprint(c.s); got != identity.Redacted {
				t.Errorf("Sprint = %q", got)
			}
		})
	}
	// Copies share nothing mutable that could change the value.
	a := identity.NewSecret("one")
	b := a
	if b.Reveal() != "one" {
		t.Errorf("copy Reveal = %q", b.Reveal())
	}
}

func TestSecretWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.txt")
	s := identity.NewSecret(secretValue)
	if err := s.WriteFile(path); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	perm := fi.Mode().Perm()
	if perm&^0o600 != 0 {
		t.Errorf("mode = %v, want no bits outside 0600", perm)
	}
	if perm&0o077 != 0 {
		t.Errorf("mode = %v has group/other bits", perm)
	}
	if perm&0o400 == 0 {
		t.Errorf("mode = %v, owner cannot read it", perm)
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("not a regular file: %v", fi.Mode())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != secretValue {
		t.Errorf("content = %q, want %q (no newline)", got, secretValue)
	}

	// A second write refuses and leaves the first value in place.
	err = identity.NewSecret("other-value").WriteFile(path)
	if !errors.Is(err, identity.ErrFileExists) {
		t.Fatalf("second WriteFile err = %v, want ErrFileExists", err)
	}
	assertNoLeak(t, "ErrFileExists error", err.Error())
	if strings.Contains(err.Error(), "other-value") {
		t.Errorf("error leaks the new value: %v", err)
	}
	got, _ = os.ReadFile(path)
	if string(got) != secretValue {
		t.Errorf("existing file changed to %q", got)
	}
}

func TestSecretWriteFileRefuses(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		s        identity.Secret
		path     string
		exists   bool // want ErrFileExists
		mustMiss bool // the path must not exist afterwards
	}{
		{"zero secret", identity.Secret{}, filepath.Join(dir, "zero"), false, true},
		{"empty secret", identity.NewSecret(""), filepath.Join(dir, "empty"), false, true},
		{"existing file", identity.NewSecret(secretValue), existing, true, false},
		{"dangling symlink", identity.NewSecret(secretValue), dangling, true, false},
		{"missing directory", identity.NewSecret(secretValue), filepath.Join(dir, "no", "such", "dir", "f"), false, true},
		{"directory", identity.NewSecret(secretValue), dir, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.WriteFile(c.path)
			if err == nil {
				t.Fatal("WriteFile succeeded, want an error")
			}
			if got := errors.Is(err, identity.ErrFileExists); got != c.exists {
				t.Errorf("errors.Is(err, ErrFileExists) = %v, want %v (err %v)", got, c.exists, err)
			}
			assertNoLeak(t, "error", err.Error())
			if c.mustMiss {
				if _, serr := os.Lstat(c.path); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("path exists after a refused write: %v", serr)
				}
			}
		})
	}
	if got, _ := os.ReadFile(existing); string(got) != "keep me" {
		t.Errorf("existing file changed to %q", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write followed the dangling symlink: %v", err)
	}
}

// onlyEntries fails unless dir holds exactly the names given: no temporary file is left.
func onlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func TestReplaceFileReplacesTheOldValueWithMode0600(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "client.secret")
	if err := os.WriteFile(path, []byte("the old value, longer than the new one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := identity.NewSecret(secretValue).ReplaceFile(path); err != nil {
		t.Fatalf("ReplaceFile: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != secretValue {
		t.Errorf("content = %q, want %q (no newline, nothing of the old value)", got, secretValue)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600 although the old file was 0644", perm)
	}
	onlyEntries(t, dir, "client.secret")
}

func TestReplaceFileCreatesAMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.secret")
	if err := identity.NewSecret(secretValue).ReplaceFile(path); err != nil {
		t.Fatalf("ReplaceFile: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != secretValue {
		t.Errorf("content = %q, want %q", got, secretValue)
	}
	onlyEntries(t, dir, "new.secret")

	// A relative path: the temporary file goes to the working directory, beside it.
	t.Chdir(dir)
	if err := identity.NewSecret("second").ReplaceFile("new.secret"); err != nil {
		t.Fatalf("ReplaceFile with a relative path: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "second" {
		t.Errorf("content = %q, want %q", got, "second")
	}
	onlyEntries(t, dir, "new.secret")
}

func TestReplaceFileReplacesASymlinkNotItsTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("target's value"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := identity.NewSecret(secretValue).ReplaceFile(link); err != nil {
		t.Fatalf("ReplaceFile: %v", err)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("link is %v after ReplaceFile, want a regular file in its place", fi.Mode())
	}
	if got, _ := os.ReadFile(link); string(got) != secretValue {
		t.Errorf("content = %q, want %q", got, secretValue)
	}
	if got, _ := os.ReadFile(target); string(got) != "target's value" {
		t.Errorf("the link's target changed to %q", got)
	}
}

func TestReplaceFileRefusesAndLeavesPathAsItWas(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory at path: the rename itself fails (a real failure, no injection).
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "inside"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		s    identity.Secret
		path string
	}{
		{"zero secret", identity.Secret{}, existing},
		{"empty secret", identity.NewSecret(""), existing},
		{"empty path", identity.NewSecret(secretValue), ""},
		{"missing directory", identity.NewSecret(secretValue), filepath.Join(dir, "no", "such", "f")},
		{"directory at path", identity.NewSecret(secretValue), sub},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.ReplaceFile(c.path)
			if err == nil {
				t.Fatal("ReplaceFile succeeded, want an error")
			}
			assertNoLeak(t, "error", err.Error())
			if got, _ := os.ReadFile(existing); string(got) != "keep me" {
				t.Errorf("existing file changed to %q", got)
			}
			onlyEntries(t, dir, "existing", "sub")
			onlyEntries(t, sub, "inside")
		})
	}
}

// A reader of the file during replacements sees one whole value or the other, never an
// empty or partly written file, which truncating and rewriting in place would show.
func TestReplaceFileReadersSeeAWholeValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client.secret")
	values := [2]string{strings.Repeat("a", 64<<10), strings.Repeat("b", 64<<10)}
	if err := identity.NewSecret(values[0]).ReplaceFile(path); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	bad := make(chan string, 1)
	go func() {
		defer close(bad)
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := os.ReadFile(path)
			if err != nil || (string(got) != values[0] && string(got) != values[1]) {
				bad <- fmt.Sprintf("read %d bytes (err %v)", len(got), err)
				return
			}
		}
	}()
	for i := range 50 {
		if err := identity.NewSecret(values[i%2]).ReplaceFile(path); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if msg, ok := <-bad; ok {
		t.Errorf("a reader saw neither value: %s", msg)
	}
}
