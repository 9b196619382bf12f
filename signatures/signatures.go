// Package signatures holds what snapscan looks for, as data: YARA rules,
// IOC lists (hashes, names, pools), and the paths and markers each check
// judges by. Detection logic lives in the checks; what they match lives here,
// so a new family or pool is a data change, not a code change.
package signatures

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

// Files is every embedded data file, by path below signatures/.
//
//go:embed linux windows yara ioc rules
var Files embed.FS

// Entry is one non-comment line of a list file, split on ';' into fields
// (trimmed). Line is its 1-based line number, for error messages.
type Entry struct {
	Fields []string
	Line   int
}

// Field returns field i or "" when the line has fewer fields.
func (e Entry) Field(i int) string {
	if i < len(e.Fields) {
		return e.Fields[i]
	}
	return ""
}

// ParseList reads the common list format: one entry a line, fields separated
// by ';', '#' starts a comment line, blank lines ignored. The same format as
// LOKI's IOC files, so public lists load unchanged.
func ParseList(data []byte) []Entry {
	var out []Entry
	n := 0
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		n++
		line := strings.TrimSpace(string(raw))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ";")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		out = append(out, Entry{Fields: parts, Line: n})
	}
	return out
}

// List loads an embedded list file, e.g. "ioc/pools.txt".
func List(name string) ([]Entry, error) {
	data, err := fs.ReadFile(Files, name)
	if err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	return ParseList(data), nil
}

// MustList is List for files the binary cannot work without; a missing
// embedded file is a build defect, caught by the package tests.
func MustList(name string) []Entry {
	e, err := List(name)
	if err != nil {
		panic(err)
	}
	return e
}
