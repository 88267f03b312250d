package desired

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/internal/rules"
	"go.yaml.in/yaml/v3"
)

// Format is the form of a desired-state file: YAML or JSON. Both hold the same keys.
type Format string

// The formats Parse reads and Marshal writes.
const (
	YAML Format = "yaml"
	JSON Format = "json"
)

// FormatOf returns the Format that a file name's extension names (.yaml, .yml, .json, in
// any case), or "" for another.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return YAML
	case ".json":
		return JSON
	}
	return ""
}

// Version is the version of the file format, which a file states first: "version: 1".
const Version = 1

// MaxFileSize is the largest file Parse and Load read: 64 MiB, some hundred times a file
// of the 50,000 clients a tenant can hold.
const MaxFileSize = 64 << 20

// Problem is one broken rule of a desired-state file, with its place.
type Problem struct {
	// Path is where in the file, by keys and indexes: "clients[3].redirectURIs[0]"; ""
	// for the file as a whole.
	Path string
	// Line and Column (both from 1, the column in characters) are where the value is,
	// or, for a key left out, where the mapping that lacks it starts; 0 when unknown.
	Line, Column int
	// Rule is what the value must be.
	Rule string
	// Value is the offending value, nil when there is none to show.
	Value any
}

// String writes the problem as "line:column: path: rule (got value)".
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Line > 0 && p.Column > 0:
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Column)
	case p.Line > 0:
		fmt.Fprintf(&b, "%d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Rule)
	if p.Value != nil {
		b.WriteString(" (got " + showValue(p.Value) + ")")
	}
	return b.String()
}

// showValue renders a value for a message: text quoted (control characters escaped) and
// cut at 128 bytes, so a file cannot garble a terminal or a log line.
func showValue(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprint(v)
	}
	if len(s) > 128 {
		cut := 128
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// FileError is a desired-state file that cannot be used: every broken rule at once, in
// the order of the file, each with its place. It matches identity.ErrInvalidInput, and
// identity.ValidationErrors lists its problems with Field set to their Path.
type FileError struct {
	// File is the path that Load read; "" for Parse.
	File string
	// Problems are at most 100 of the broken rules, in the order of the file.
	Problems []Problem
	// More counts the broken rules beyond Problems.
	More int
}

// Error lists the problems, one a line, each as "file:line:column: path: rule".
func (e *FileError) Error() string {
	if e == nil {
		return "invalid desired state"
	}
	name := e.File
	if name == "" {
		name = "desired state"
	}
	var b strings.Builder
	n := len(e.Problems) + e.More
	fmt.Fprintf(&b, "%s: %d broken rule", name, n)
	if n != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n" + name + ":" + p.String())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n%s: and %d more", name, e.More)
	}
	return b.String()
}

// Is matches identity.ErrInvalidInput.
func (e *FileError) Is(target error) bool { return target == identity.ErrInvalidInput }

// Unwrap returns each problem as an *identity.ValidationError whose Field is its Path.
func (e *FileError) Unwrap() []error {
	if e == nil {
		return nil
	}
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		field := p.Path
		if field == "" {
			field = "file"
		}
		out[i] = &identity.ValidationError{Field: field, Rule: p.Rule, Value: p.Value}
	}
	return out
}

// Parse reads a desired-state file in the given format and checks it as a whole: its
// syntax, its keys (an unknown key is an error, so that a misspelt one cannot silently
// mean the default), the types of its values, and every rule of State.Validate. It
// returns a *FileError naming each broken rule with its path and line, all at once.
//
// A file is a mapping with these keys (YAML shown; JSON has the same):
//
//	version: 1
//	clients:
//	  - id: 3f2c4e1a-...     # a GUID you choose once and never change
//	    name: Billing portal
//	    enabled: true          # default true
//	    allowRefreshTokens: false
//	    accessTokenLifetime: 1h  # 1m to 1h, default 1h
//	    redirectURIs: [https://billing.example.com/signin-oidc]
//	    postLogoutRedirectURIs: [https://billing.example.com/]
//	    clientURI: https://billing.example.com
//	    logoURI: https://billing.example.com/logo.png
//	    allowAccessTokensViaBrowser: false
//	    tags: [billing]        # left out: the client's tags are not managed
//	    secrets:               # its SecretPolicy; every key optional; left out: none
//	      description: billing web app
//	      lifetime: 365d
//	      renewBefore: 30d
//	      maxAge: 180d
//	      grace: 24h
//	      retire: all          # or expired
//	      proofTimeout: 70m
//	removed: [9a1b...]         # ids of clients to delete
//
// Durations are Go's ("1h30m", "90s") or whole days ("30d", "1d12h"). A key without a
// value (null) counts as left out. A client without secrets has no policy: its secrets
// are never rotated by a plan ("secrets: {}" is the policy of every default). Secret
// values never belong in the file: there is no key for one.
func Parse(data []byte, f Format) (*State, error) {
	s, problems := parse(data, f)
	if len(problems) > 0 {
		return nil, rules.Prefixed(pkgName, fileError("", problems))
	}
	return s, nil
}

// Load reads the desired-state file at path (in the format its extension names, see
// FormatOf) with Parse; a *FileError names the file.
func Load(path string) (*State, error) {
	s, err := load(path)
	return s, rules.Prefixed(pkgName, err)
}

func load(path string) (*State, error) {
	f := FormatOf(path)
	if f == "" {
		return nil, fmt.Errorf("%s: name the file .yaml, .yml or .json, after its format", path)
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	s, problems := parse(data, f)
	if len(problems) > 0 {
		return nil, fileError(path, problems)
	}
	return s, nil
}

func fileError(name string, problems []Problem) *FileError {
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	e := &FileError{File: name, Problems: problems}
	if len(problems) > maxErrors {
		e.Problems, e.More = problems[:maxErrors], len(problems)-maxErrors
	}
	return e
}

func parse(data []byte, f Format) (*State, []Problem) {
	var (
		root *node
		bad  *Problem
	)
	switch {
	case len(data) > MaxFileSize:
		return nil, []Problem{{Rule: fmt.Sprintf("must be at most %d bytes", MaxFileSize), Value: len(data)}}
	case !utf8.Valid(data):
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		line := bytes.Count(data[:i], []byte("\n")) + 1
		return nil, []Problem{{Line: line, Column: 1, Rule: "must be UTF-8 text"}}
	case f == YAML:
		root, bad = yamlTree(data)
	case f == JSON:
		root, bad = jsonTree(data)
	default:
		return nil, []Problem{{Rule: `must be read as "yaml" or "json"`, Value: string(f)}}
	}
	if bad != nil {
		return nil, []Problem{*bad}
	}
	if root.kind == nullNode {
		return nil, []Problem{{Line: 1, Column: 1, Rule: "is empty: a desired-state file holds version: 1 and clients"}}
	}
	d := &decoder{places: map[string]place{}, broken: map[string]bool{}}
	var fs fileState
	d.decode("", root, reflect.ValueOf(&fs).Elem())
	if _, ok := d.places["version"]; !ok && !d.broken[""] {
		d.fail("version", root, fmt.Sprintf("must be set: version: %d", Version), nil)
	} else if fs.Version != Version && !d.broken["version"] {
		d.fail("version", at(d, "version", root), fmt.Sprintf("must be %d, the version this SDK reads", Version), fs.Version)
	}
	for i, c := range fs.Clients {
		path := fmt.Sprintf("clients[%d].accessTokenLifetime", i)
		if c.AccessTokenLifetime != nil && *c.AccessTokenLifetime == 0 && !d.broken[path] {
			d.fail(path, at(d, path, root), "must be from 1m to 1h (leave it out for the default, 1h)", "0s")
		}
	}
	s := fs.state()
	for _, ve := range identity.ValidationErrors(s.validate()) {
		path := filePath(ve.Field)
		if brokenUnder(d.broken, path) {
			continue // its value could not be read: that problem is reported already
		}
		near := nearest(d.places, path)
		d.problems = append(d.problems, Problem{Path: path, Line: near.line, Column: near.col, Rule: d.rule(path, ve.Rule), Value: ve.Value})
	}
	return &s, d.problems
}

// goPathInRule finds the Go paths that a rule of State.Validate names ("must not repeat
// Clients[0].ID").
var goPathInRule = regexp.MustCompile(`\b(?:Clients|Removed)\[\d+\](?:\.[A-Z][A-Za-z]*)*`)

// goFieldInRule finds the Go fields that a rule of the SDK names within one client
// ("must not repeat RedirectURIs[0]").
var goFieldInRule = regexp.MustCompile(`\b([A-Z][A-Za-z]*)(\[\d+\])`)

// rule rewrites the Go paths a rule of the client at path names as the file's, with their
// lines.
func (d *decoder) rule(path, r string) string {
	r = goPathInRule.ReplaceAllStringFunc(r, func(goPath string) string {
		p := filePath(goPath)
		if pl, ok := d.places[p]; ok {
			return fmt.Sprintf("%s (line %d)", p, pl.line)
		}
		return p
	})
	if !strings.HasPrefix(path, "clients[") {
		return r
	}
	return goFieldInRule.ReplaceAllStringFunc(r, func(field string) string {
		m := goFieldInRule.FindStringSubmatch(field)
		k, ok := goKeys[m[1]]
		if !ok {
			return field
		}
		return k + m[2]
	})
}

// at returns a node standing for the place of path, or root's place.
func at(d *decoder, path string, root *node) *node {
	p := nearest(d.places, path)
	if p == (place{}) {
		return root
	}
	return &node{line: p.line, col: p.col}
}

// goKeys maps the Go names of State, Client and SecretPolicy fields to the file's keys.
var goKeys = func() map[string]string {
	m := map[string]string{"State": ""}
	for _, t := range []reflect.Type{reflect.TypeFor[fileState](), reflect.TypeFor[fileClient](), reflect.TypeFor[filePolicy]()} {
		for i, k := range keysOf(t) {
			m[t.Field(i).Name] = k
		}
	}
	return m
}()

var segment = regexp.MustCompile(`^([A-Za-z]+)(\[\d+\])?$`)

// filePath turns a Go path of State.Validate ("Clients[3].Secrets.Lifetime") into the
// file's ("clients[3].secrets.lifetime").
func filePath(goPath string) string {
	var out []string
	for _, s := range strings.Split(goPath, ".") {
		m := segment.FindStringSubmatch(s)
		if m == nil {
			out = append(out, s)
			continue
		}
		k, ok := goKeys[m[1]]
		if !ok {
			k = m[1]
		}
		if k+m[2] != "" {
			out = append(out, k+m[2])
		}
	}
	return strings.Join(out, ".")
}

// parent returns the path one step up ("a.b[2]" -> "a.b" -> "a" -> ""), and false at the
// top.
func parent(path string) (string, bool) {
	if path == "" {
		return "", false
	}
	if strings.HasSuffix(path, "]") {
		return path[:strings.LastIndexByte(path, '[')], true
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i], true
	}
	return "", true
}

// nearest returns the place of path, or of its nearest ancestor the file has.
func nearest(places map[string]place, path string) place {
	for {
		if p, ok := places[path]; ok {
			return p
		}
		var up bool
		if path, up = parent(path); !up {
			return place{}
		}
	}
}

// brokenUnder reports whether path or one of its ancestors could not be read.
func brokenUnder(broken map[string]bool, path string) bool {
	for {
		if broken[path] {
			return true
		}
		var up bool
		if path, up = parent(path); !up {
			return false
		}
	}
}

// state is the State a file describes.
func (fs fileState) state() State {
	s := State{Removed: fs.Removed}
	if fs.Clients != nil {
		s.Clients = make([]Client, len(fs.Clients))
	}
	for i, c := range fs.Clients {
		s.Clients[i] = c.client()
	}
	return s
}

// client is the Client that c describes.
func (c fileClient) client() Client {
	out := Client{
		ID: c.ID, Name: c.Name, Enabled: c.Enabled,
		AllowRefreshTokens:          c.AllowRefreshTokens != nil && *c.AllowRefreshTokens,
		RedirectURIs:                c.RedirectURIs,
		PostLogoutRedirectURIs:      c.PostLogoutRedirectURIs,
		ClientURI:                   c.ClientURI,
		LogoURI:                     c.LogoURI,
		AllowAccessTokensViaBrowser: c.AllowAccessTokensViaBrowser != nil && *c.AllowAccessTokensViaBrowser,
	}
	if c.AccessTokenLifetime != nil {
		out.AccessTokenLifetime = time.Duration(*c.AccessTokenLifetime)
	}
	if c.Tags != nil {
		out.Tags = *c.Tags
		if out.Tags == nil {
			out.Tags = []string{}
		}
	}
	if p := c.Secrets; p != nil {
		out.Secrets = &SecretPolicy{
			RenewBefore: time.Duration(p.RenewBefore), MaxAge: time.Duration(p.MaxAge), Lifetime: time.Duration(p.Lifetime),
			Grace: time.Duration(p.Grace), Retire: p.Retire, Description: p.Description, ProofTimeout: time.Duration(p.ProofTimeout),
		}
	}
	return out
}

// file is the file's form of c, every setting written out (a default too), so that a
// reader sees the whole client; a policy only when it has one.
func (c Client) file() fileClient {
	f := c.exact()
	if f.Enabled == nil {
		f.Enabled = ptr(true)
	}
	if f.AccessTokenLifetime == nil {
		f.AccessTokenLifetime = ptr(duration(hybridclients.DefaultAccessTokenLifetime))
	}
	return f
}

// exact is the file's form of c with nothing filled in: what fileState.state reads back
// to c, a zero AccessTokenLifetime and a nil Enabled included (a plan's clients).
func (c Client) exact() fileClient {
	out := fileClient{
		ID: c.ID, Name: c.Name, Enabled: c.Enabled,
		AllowRefreshTokens:          ptr(c.AllowRefreshTokens),
		RedirectURIs:                c.RedirectURIs,
		PostLogoutRedirectURIs:      c.PostLogoutRedirectURIs,
		ClientURI:                   c.ClientURI,
		LogoURI:                     c.LogoURI,
		AllowAccessTokensViaBrowser: ptr(c.AllowAccessTokensViaBrowser),
	}
	if c.AccessTokenLifetime != 0 {
		out.AccessTokenLifetime = ptr(duration(c.AccessTokenLifetime))
	}
	if c.Tags != nil {
		tags := c.Tags
		out.Tags = &tags
	}
	if p := c.Secrets; p != nil {
		out.Secrets = &filePolicy{
			Description: p.Description, Lifetime: duration(p.Lifetime), RenewBefore: duration(p.RenewBefore),
			MaxAge: duration(p.MaxAge), Grace: duration(p.Grace), Retire: p.Retire, ProofTimeout: duration(p.ProofTimeout),
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// yamlHeader starts every YAML file Marshal writes.
const yamlHeader = "# Hybrid clients as code: the desired state of a tenant's hybrid clients.\n" +
	"# A client's id never changes. No secret value is ever written to this file.\n"

// Marshal writes s as a desired-state file in format f, every client setting written out
// (defaults too). Parse reads it back to the same clients. It holds no secret value: a
// State has no field for one.
func Marshal(s State, f Format) ([]byte, error) {
	b, err := marshal(s, f)
	return b, rules.Prefixed(pkgName, err)
}

func marshal(s State, f Format) ([]byte, error) {
	fs := fileState{Version: Version, Clients: make([]fileClient, len(s.Clients)), Removed: s.Removed}
	for i, c := range s.Clients {
		fs.Clients[i] = c.file()
	}
	switch f {
	case YAML:
		var b bytes.Buffer
		b.WriteString(yamlHeader)
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(fs); err != nil {
			return nil, fmt.Errorf("writing YAML: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("writing YAML: %w", err)
		}
		return b.Bytes(), nil
	case JSON:
		b, err := json.MarshalIndent(fs, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("writing JSON: %w", err)
		}
		return append(b, '\n'), nil
	}
	return nil, &identity.ValidationError{Field: "Format", Rule: `must be "yaml" or "json"`, Value: string(f)}
}
