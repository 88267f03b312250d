package desired

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The file's form of a State. Its keys are the json tags (the yaml tags say the same);
// Marshal writes these types, and decoder reads them, so both always agree. Pointers tell
// a key left out from one set to the zero value.
type fileState struct {
	Version int          `json:"version" yaml:"version"`
	Clients []fileClient `json:"clients" yaml:"clients"`
	Removed []string     `json:"removed,omitempty" yaml:"removed,omitempty"`
}

type fileClient struct {
	ID                          string      `json:"id" yaml:"id"`
	Name                        string      `json:"name" yaml:"name"`
	Enabled                     *bool       `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	AllowRefreshTokens          *bool       `json:"allowRefreshTokens,omitempty" yaml:"allowRefreshTokens,omitempty"`
	AccessTokenLifetime         *duration   `json:"accessTokenLifetime,omitempty" yaml:"accessTokenLifetime,omitempty"`
	RedirectURIs                []string    `json:"redirectURIs" yaml:"redirectURIs"`
	PostLogoutRedirectURIs      []string    `json:"postLogoutRedirectURIs,omitempty" yaml:"postLogoutRedirectURIs,omitempty"`
	ClientURI                   string      `json:"clientURI,omitempty" yaml:"clientURI,omitempty"`
	LogoURI                     string      `json:"logoURI,omitempty" yaml:"logoURI,omitempty"`
	AllowAccessTokensViaBrowser *bool       `json:"allowAccessTokensViaBrowser,omitempty" yaml:"allowAccessTokensViaBrowser,omitempty"`
	Tags                        *[]string   `json:"tags,omitempty" yaml:"tags,omitempty"`
	Secrets                     *filePolicy `json:"secrets,omitempty" yaml:"secrets,omitempty"`
}

type filePolicy struct {
	Description  string   `json:"description,omitempty" yaml:"description,omitempty"`
	Lifetime     duration `json:"lifetime,omitempty" yaml:"lifetime,omitempty"`
	RenewBefore  duration `json:"renewBefore,omitempty" yaml:"renewBefore,omitempty"`
	MaxAge       duration `json:"maxAge,omitempty" yaml:"maxAge,omitempty"`
	Grace        duration `json:"grace,omitempty" yaml:"grace,omitempty"`
	Retire       string   `json:"retire,omitempty" yaml:"retire,omitempty"`
	ProofTimeout duration `json:"proofTimeout,omitempty" yaml:"proofTimeout,omitempty"`
}

// duration is a time.Duration written as formatDuration writes it ("1h", "30d").
type duration time.Duration

// MarshalText writes d as a file does ("1h", "30d").
func (d duration) MarshalText() ([]byte, error) { return []byte(formatDuration(time.Duration(d))), nil }

// UnmarshalText reads d as parseDuration does.
func (d *duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	*d = duration(v)
	return err
}

// IsZero lets omitempty (YAML) leave out a zero duration.
func (d duration) IsZero() bool { return d == 0 }

// place is where a value is in a file.
type place struct{ line, col int }

// decoder fills the file types from nodes, noting every broken rule with its place and
// the place of every value by its path ("clients[3].redirectURIs[0]").
type decoder struct {
	problems []Problem
	places   map[string]place
	broken   map[string]bool // paths whose value could not be read
}

var durationType = reflect.TypeFor[duration]()

func (d *decoder) fail(path string, n *node, rule string, value any) {
	d.problems = append(d.problems, Problem{Path: path, Line: n.line, Column: n.col, Rule: rule, Value: value})
	d.broken[path] = true
}

// decode fills v (settable) from n; a null node leaves v as it is, as if the key were
// left out.
func (d *decoder) decode(path string, n *node, v reflect.Value) {
	d.places[path] = place{n.line, n.col}
	if n.kind == nullNode {
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		if n.kind != scalarNode || n.typ != "str" {
			d.fail(path, n, `must be a duration such as "1h", "90m", "30d" or "1d12h"`, shown(n))
			return
		}
		dur, err := parseDuration(n.text)
		if err != nil {
			d.fail(path, n, `must be a duration such as "1h", "90m", "30d" or "1d12h" (units: d, h, m, s)`, n.text)
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(path, n, p.Elem())
		v.Set(p)
	case t.Kind() == reflect.String:
		if n.kind != scalarNode {
			d.fail(path, n, "must be text, not a "+kindName(n), nil)
			return
		}
		v.SetString(n.text)
	case t.Kind() == reflect.Bool:
		if n.kind != scalarNode || n.typ != "bool" {
			d.fail(path, n, "must be true or false", shown(n))
			return
		}
		v.SetBool(n.text == "true")
	case t.Kind() == reflect.Int:
		i, err := strconv.Atoi(n.text)
		if n.kind != scalarNode || n.typ != "int" || err != nil {
			d.fail(path, n, "must be a whole number", shown(n))
			return
		}
		v.SetInt(int64(i))
	case t.Kind() == reflect.Slice:
		if n.kind != sequenceNode {
			d.fail(path, n, "must be a list, not a "+unshown(n), nil)
			return
		}
		s := reflect.MakeSlice(t, len(n.items), len(n.items))
		for i, item := range n.items {
			d.decode(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))
		}
		v.Set(s)
	case t.Kind() == reflect.Struct:
		if n.kind != mappingNode {
			d.fail(path, n, "must be a mapping of keys to values, not a "+unshown(n), nil)
			return
		}
		d.fields(path, n, v)
	}
}

// fields fills the struct v from the mapping n: each key once, and no key the struct
// does not have (a misspelt key must not silently mean the default).
func (d *decoder) fields(path string, n *node, v reflect.Value) {
	keys := keysOf(v.Type())
	seen := map[string]*node{}
	for i, k := range n.keys {
		kp := join(path, k.text)
		if k.kind != scalarNode {
			d.fail(path, k, "must have text keys", nil)
			continue
		}
		if first, dup := seen[k.text]; dup {
			d.fail(kp, k, fmt.Sprintf("must not repeat the key %q of line %d", k.text, first.line), nil)
			continue
		}
		seen[k.text] = k
		f := slices.Index(keys, k.text)
		if f < 0 {
			// The key is shown, never its value: a value in the wrong place may be one
			// that must not be printed.
			d.fail(kp, k, unknownKey(k.text, keys), nil)
			continue
		}
		d.decode(kp, n.values[i], v.Field(f))
	}
}

// keysOf returns the keys of a file struct, by field, from its json tags.
func keysOf(t reflect.Type) []string {
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return keys
}

// unknownKey is the rule of a key the struct does not have, suggesting the one meant when
// only case, "-" or "_" tell them apart (redirectUris, redirect_uris).
func unknownKey(key string, keys []string) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s)) }
	for _, k := range keys {
		if norm(k) == norm(key) {
			return fmt.Sprintf("is not a known key: did you mean %q?", k)
		}
	}
	return "is not a known key; known here: " + strings.Join(keys, ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *node) string {
	switch n.kind {
	case mappingNode:
		return "mapping"
	case sequenceNode:
		return "list"
	}
	return "single value"
}

// unshown names what n is, for a value given where a mapping or a list belongs: a single
// value by its length only, never its text. A value in the wrong place may be one that
// must not be printed: a secret's value pasted under "secrets:".
func unshown(n *node) string {
	if n.kind == scalarNode {
		n := utf8.RuneCountInString(n.text)
		unit := "characters"
		if n == 1 {
			unit = "character"
		}
		return fmt.Sprintf("single value of %d %s (not shown)", n, unit)
	}
	return kindName(n)
}

// shown is a node's value for a Problem: a scalar's text, else nothing.
func shown(n *node) any {
	if n.kind == scalarNode {
		return n.text
	}
	return nil
}
