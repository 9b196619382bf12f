// Package apk parses Alpine's installed-package database
// (/lib/apk/db/installed): blank-line separated blocks of "K:value" lines,
// P name, V version, A architecture, F a directory, R a file in the last
// F, Z the last R's checksum ("Q1" + base64 SHA-1).
package apk

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
)

// Package is one installed package.
type Package struct {
	Name, Version, Arch string
	Files               []File
	Line                int // first line of the block, 1-based
}

// File is one packaged file.
type File struct {
	Path string // absolute
	SHA1 string // lower-case hex; "" when the database records none
}

// LineError is a record the parser skipped.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseInstalled reads the database. A block without P, an R before any F
// and a Z that is not Q1+base64 SHA-1 are errors; the rest is kept.
func ParseInstalled(data []byte) ([]Package, []error) {
	var (
		pkgs []Package
		errs []error
		cur  Package
		open bool
		dir  string
		hasF bool
	)
	flush := func() {
		if open {
			if cur.Name == "" {
				errs = append(errs, &LineError{cur.Line, "package block without P:"})
			} else {
				pkgs = append(pkgs, cur)
			}
		}
		cur, open, dir, hasF = Package{}, false, "", false
	}
	n := 0
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		n++
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			flush()
			continue
		}
		if !open {
			open, cur.Line = true, n
		}
		if len(line) < 2 || line[1] != ':' {
			errs = append(errs, &LineError{n, fmt.Sprintf("not K:value: %q", clip(line))})
			continue
		}
		v := string(line[2:])
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'F':
			dir, hasF = v, true
		case 'R':
			if !hasF {
				errs = append(errs, &LineError{n, "R: before any F:"})
				continue
			}
			cur.Files = append(cur.Files, File{Path: path.Clean("/" + path.Join(dir, v))})
		case 'Z':
			if len(cur.Files) == 0 {
				continue // a package checksum in other contexts; nothing to attach to
			}
			sum, err := decodeQ1(v)
			if err != nil {
				errs = append(errs, &LineError{n, err.Error()})
				continue
			}
			cur.Files[len(cur.Files)-1].SHA1 = sum
		}
	}
	flush()
	return pkgs, errs
}

func decodeQ1(v string) (string, error) {
	if len(v) < 2 || v[:2] != "Q1" {
		return "", fmt.Errorf("checksum %q is not Q1 (SHA-1)", clip([]byte(v)))
	}
	b, err := base64.StdEncoding.DecodeString(v[2:])
	if err != nil || len(b) != 20 {
		return "", fmt.Errorf("bad Q1 checksum %q", clip([]byte(v)))
	}
	return hex.EncodeToString(b), nil
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
