package lvm

import (
	"errors"
	"fmt"
	"strconv"
)

// Limits on untrusted metadata text. LVM itself writes a few KiB per VG; the
// caps leave room for thousands of LVs while keeping a hostile image from
// exhausting memory or the stack.
const (
	maxTextSize   = 16 << 20
	maxDepth      = 32
	maxNodes      = 1 << 20
	maxListLen    = 1 << 16
	maxStringSize = 1 << 16
)

// node is one `key = value` or `key { ... }` entry of LVM's config syntax.
// Exactly one of Section, List or Value is meaningful, by Kind.
type node struct {
	Key     string
	Kind    nodeKind
	Str     string // kindString
	Int     int64  // kindInt
	List    []node // kindList: elements have no Key
	Section []node // kindSection
}

type nodeKind uint8

const (
	kindString nodeKind = iota + 1
	kindInt
	kindFloat
	kindList
	kindSection
)

// get returns the first child of a section with that key, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.Kind != kindSection {
		return nil
	}
	for i := range n.Section {
		if n.Section[i].Key == key {
			return &n.Section[i]
		}
	}
	return nil
}

func (n *node) str(key string) (string, bool) {
	c := n.get(key)
	if c == nil || c.Kind != kindString {
		return "", false
	}
	return c.Str, true
}

func (n *node) int(key string) (int64, bool) {
	c := n.get(key)
	if c == nil || c.Kind != kindInt {
		return 0, false
	}
	return c.Int, true
}

// strList returns the string elements of a list value (non-strings skipped).
func (n *node) strList(key string) []string {
	c := n.get(key)
	if c == nil || c.Kind != kindList {
		return nil
	}
	var out []string
	for _, e := range c.List {
		if e.Kind == kindString {
			out = append(out, e.Str)
		}
	}
	return out
}

// parseConfig parses LVM's text metadata format (lib/config/config.c): a
// sequence of `key = value` and `name { ... }` entries, values being quoted
// strings, integers, floats or bracketed lists of those; `#` starts a comment.
// A NUL byte ends the text, as LVM writes it into the metadata area.
func parseConfig(text []byte) (*node, error) {
	if len(text) > maxTextSize {
		return nil, fmt.Errorf("metadata text of %d bytes exceeds %d", len(text), maxTextSize)
	}
	p := &parser{s: text}
	root := &node{Kind: kindSection}
	var err error
	root.Section, err = p.entries(0, false)
	if err != nil {
		return nil, fmt.Errorf("metadata text at byte %d: %w", p.i, err)
	}
	return root, nil
}

type parser struct {
	s     []byte
	i     int
	nodes int
}

var errEOF = errors.New("unexpected end of text")

func (p *parser) skipSpace() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			p.i++
		default:
			return
		}
	}
}

// atEnd reports whether only the terminating NUL (or nothing) remains.
func (p *parser) atEnd() bool {
	return p.i >= len(p.s) || p.s[p.i] == 0
}

func (p *parser) entries(depth int, inSection bool) ([]node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("sections nested deeper than %d", maxDepth)
	}
	var out []node
	for {
		p.skipSpace()
		if p.atEnd() {
			if inSection {
				return nil, errEOF
			}
			return out, nil
		}
		if p.s[p.i] == '}' {
			if !inSection {
				return nil, errors.New("unbalanced '}'")
			}
			p.i++
			return out, nil
		}
		key, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.count(); err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.atEnd() {
			return nil, errEOF
		}
		switch p.s[p.i] {
		case '{':
			p.i++
			kids, err := p.entries(depth+1, true)
			if err != nil {
				return nil, err
			}
			out = append(out, node{Key: key, Kind: kindSection, Section: kids})
		case '=':
			p.i++
			v, err := p.value(true)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			v.Key = key
			out = append(out, v)
		default:
			return nil, fmt.Errorf("after %q: unexpected %q", key, p.s[p.i])
		}
	}
}

func (p *parser) count() error {
	p.nodes++
	if p.nodes > maxNodes {
		return fmt.Errorf("more than %d entries", maxNodes)
	}
	return nil
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '+' || c == '/' || c == '@'
}

func (p *parser) ident() (string, error) {
	start := p.i
	for p.i < len(p.s) && isIdentByte(p.s[p.i]) && p.i-start < maxStringSize {
		p.i++
	}
	if p.i == start {
		return "", fmt.Errorf("expected a name, found %q", p.s[p.i])
	}
	return string(p.s[start:p.i]), nil
}

func (p *parser) value(allowList bool) (node, error) {
	p.skipSpace()
	if p.atEnd() {
		return node{}, errEOF
	}
	switch c := p.s[p.i]; {
	case c == '"':
		s, err := p.quoted()
		return node{Kind: kindString, Str: s}, err
	case c == '[' && allowList:
		p.i++
		var list []node
		for {
			p.skipSpace()
			if p.atEnd() {
				return node{}, errEOF
			}
			if p.s[p.i] == ']' {
				p.i++
				return node{Kind: kindList, List: list}, nil
			}
			if len(list) > 0 {
				if p.s[p.i] != ',' {
					return node{}, fmt.Errorf("list: expected ',' found %q", p.s[p.i])
				}
				p.i++
				p.skipSpace()
				// LVM tolerates a trailing comma before ']'.
				if p.i < len(p.s) && p.s[p.i] == ']' {
					p.i++
					return node{Kind: kindList, List: list}, nil
				}
			}
			if len(list) >= maxListLen {
				return node{}, fmt.Errorf("list longer than %d", maxListLen)
			}
			if err := p.count(); err != nil {
				return node{}, err
			}
			e, err := p.value(false)
			if err != nil {
				return node{}, err
			}
			list = append(list, e)
		}
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		return node{}, fmt.Errorf("unexpected %q in value", c)
	}
}

func (p *parser) quoted() (string, error) {
	p.i++ // opening quote
	var b []byte
	for {
		if p.i >= len(p.s) {
			return "", errEOF
		}
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return string(b), nil
		case '\\':
			if p.i >= len(p.s) {
				return "", errEOF
			}
			c = p.s[p.i]
			p.i++
		case 0:
			return "", errors.New("NUL inside string")
		}
		if len(b) >= maxStringSize {
			return "", fmt.Errorf("string longer than %d", maxStringSize)
		}
		b = append(b, c)
	}
}

func (p *parser) number() (node, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	float := false
	for p.i < len(p.s) && p.i-start < 64 {
		c := p.s[p.i]
		if c == '.' {
			float = true
		} else if c < '0' || c > '9' {
			break
		}
		p.i++
	}
	txt := string(p.s[start:p.i])
	if float {
		if _, err := strconv.ParseFloat(txt, 64); err != nil {
			return node{}, fmt.Errorf("bad number %q", txt)
		}
		return node{Kind: kindFloat, Str: txt}, nil
	}
	v, err := strconv.ParseInt(txt, 10, 64)
	if err != nil {
		return node{}, fmt.Errorf("bad integer %q", txt)
	}
	return node{Kind: kindInt, Int: v}, nil
}
