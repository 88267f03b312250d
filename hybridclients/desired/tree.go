package desired

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// node is one value of a desired-state file with its place in the file. YAML and JSON are
// both read into nodes, so that one decoder, with one set of rules and messages, serves
// both formats.
type node struct {
	kind      nodeKind
	text      string // a scalar's text as written (JSON: as decoded)
	typ       string // a scalar's type: "str", "bool", "int", "float" or "other"
	line, col int
	keys      []*node // a mapping's keys (scalars), in order
	values    []*node // a mapping's values, in the order of keys
	items     []*node // a sequence's items
}

type nodeKind uint8

const (
	nullNode nodeKind = iota
	scalarNode
	mappingNode
	sequenceNode
)

// Bounds of what a file may hold: a desired state of the 50,000 clients a tenant can hold
// (some 40 values each) is below them, a YAML alias bomb or a runaway nesting far above.
const (
	maxNodes      = 4_000_000
	maxAliasNodes = 100_000 // values reached through YAML aliases, counted once per use
	maxDepth      = 32
)

var errTooLarge = fmt.Errorf("holds more than %d values (or %d through YAML aliases), or is nested deeper than %d levels", maxNodes, maxAliasNodes, maxDepth)

// yamlTree reads a YAML document into nodes.
func yamlTree(data []byte) (*node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &node{kind: nullNode, line: 1, col: 1}, nil
		}
		return nil, yamlProblem(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Problem{Line: next.Line, Column: next.Column, Rule: "must hold one YAML document, not several (a second starts here)"}
	case !errors.Is(err, io.EOF):
		return nil, yamlProblem(err)
	}
	b := &budget{nodes: maxNodes, aliased: maxAliasNodes}
	n, err := fromYAML(&doc, 0, false, b)
	if err != nil {
		return nil, &Problem{Line: 1, Column: 1, Rule: err.Error()}
	}
	return n, nil
}

// yamlLine finds the line in the YAML parser's messages ("yaml: line 3: did not find ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlProblem(err error) *Problem {
	msg := err.Error()
	p := &Problem{Rule: "must be valid YAML: " + msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Rule = "must be valid YAML: " + msg[len(m[0]):]
	}
	return p
}

// budget counts down the values a YAML file may still expand to.
type budget struct{ nodes, aliased int }

func fromYAML(y *yaml.Node, depth int, aliased bool, b *budget) (*node, error) {
	b.nodes--
	if aliased {
		b.aliased--
	}
	if b.nodes < 0 || b.aliased < 0 || depth > maxDepth {
		return nil, errTooLarge
	}
	n := &node{line: y.Line, col: y.Column}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return n, nil
		}
		return fromYAML(y.Content[0], depth, aliased, b)
	case yaml.AliasNode:
		a, err := fromYAML(y.Alias, depth+1, true, b)
		if err != nil {
			return nil, err
		}
		c := *a
		c.line, c.col = y.Line, y.Column // where it is used, not where the anchor is
		return &c, nil
	case yaml.ScalarNode:
		n.kind, n.text = scalarNode, y.Value
		switch y.ShortTag() {
		case "!!null":
			n.kind = nullNode
		case "!!str":
			n.typ = "str"
		case "!!bool":
			n.typ = "bool"
		case "!!int":
			n.typ = "int"
		case "!!float":
			n.typ = "float"
		default:
			n.typ = "other"
		}
	case yaml.MappingNode:
		n.kind = mappingNode
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, err := fromYAML(y.Content[i], depth+1, aliased, b)
			if err != nil {
				return nil, err
			}
			v, err := fromYAML(y.Content[i+1], depth+1, aliased, b)
			if err != nil {
				return nil, err
			}
			n.keys, n.values = append(n.keys, k), append(n.values, v)
		}
	case yaml.SequenceNode:
		n.kind = sequenceNode
		for _, c := range y.Content {
			v, err := fromYAML(c, depth+1, aliased, b)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
	}
	return n, nil
}

// jsonTree reads a JSON document into nodes with encoding/json's tokenizer; the place of
// each value is computed from the decoder's byte offsets.
func jsonTree(data []byte) (*node, *Problem) {
	p := &jsonReader{data: data, dec: json.NewDecoder(bytes.NewReader(data)), budget: maxNodes}
	p.dec.UseNumber()
	for i, b := range data {
		if b == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	n, err := p.value(0)
	if err == nil {
		off := p.skip()
		if _, terr := p.dec.Token(); !errors.Is(terr, io.EOF) {
			line, col := p.place(off)
			return nil, &Problem{Line: line, Column: col, Rule: "must hold one JSON value, with nothing after it"}
		}
		return n, nil
	}
	pr := &Problem{Rule: "must be valid JSON: " + err.Error()}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		pr.Line, pr.Column = p.place(int(se.Offset))
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		pr.Line, pr.Column = p.place(len(data))
		pr.Rule = "must be valid JSON: it ends too soon"
		if len(bytes.TrimSpace(data)) == 0 {
			return &node{kind: nullNode, line: 1, col: 1}, nil
		}
	case errors.Is(err, errTooLarge):
		pr.Rule = err.Error()
		pr.Line, pr.Column = p.place(int(p.dec.InputOffset()))
	}
	return nil, pr
}

type jsonReader struct {
	data   []byte
	dec    *json.Decoder
	lines  []int // offsets where lines 2, 3, ... start
	budget int
}

// skip returns the offset of the next token: past the whitespace, ":" and "," that follow
// the last one, which the decoder's offset does not count.
func (p *jsonReader) skip() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) {
		switch p.data[off] {
		case ' ', '\t', '\n', '\r', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// place returns the line and column (both from 1; the column in characters) of offset.
func (p *jsonReader) place(off int) (line, col int) {
	off = min(max(off, 0), len(p.data))
	i := sort.SearchInts(p.lines, off+1) // lines starting at or before off
	start := 0
	if i > 0 {
		start = p.lines[i-1]
	}
	return i + 1, utf8.RuneCount(p.data[start:off]) + 1
}

func (p *jsonReader) value(depth int) (*node, error) {
	p.budget--
	if p.budget < 0 || depth > maxDepth {
		return nil, errTooLarge
	}
	off := p.skip()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &node{}
	n.line, n.col = p.place(off)
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = mappingNode
			for p.dec.More() {
				koff := p.skip()
				ktok, err := p.dec.Token()
				if err != nil {
					return nil, err
				}
				k := &node{kind: scalarNode, typ: "str", text: fmt.Sprint(ktok)}
				k.line, k.col = p.place(koff)
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys, n.values = append(n.keys, k), append(n.values, v)
			}
		case '[':
			n.kind = sequenceNode
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
		}
		if _, err := p.dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.typ, n.text = scalarNode, "str", t
	case bool:
		n.kind, n.typ, n.text = scalarNode, "bool", strconv.FormatBool(t)
	case json.Number:
		n.kind, n.typ, n.text = scalarNode, "int", t.String()
		if _, err := t.Int64(); err != nil {
			n.typ = "float"
		}
	case nil:
		n.kind = nullNode
	}
	return n, nil
}
