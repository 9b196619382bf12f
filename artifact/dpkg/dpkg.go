// Package dpkg parses dpkg's database as it lies on disk under
// /var/lib/dpkg: the status file (deb822 paragraphs), and per package the
// info/*.md5sums, *.conffiles and *.list files, and the diversions file.
// It only parses bytes; reading them from an image is the caller's job.
//
// Every parser keeps going past a bad record and returns it as a
// line-numbered error: one corrupt paragraph or digest must not hide the
// packages and files around it.
package dpkg

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// Package is one paragraph of the status file.
type Package struct {
	Name, Version, Architecture string
	// Status is the three words of the Status field (want, flag, state),
	// e.g. "install ok installed".
	Status    string
	Source    string
	MultiArch string
	Conffiles []Conffile
	Line      int // first line of the paragraph, 1-based
}

// State is the last word of Status: installed, config-files,
// half-installed, unpacked, ...
func (p Package) State() string {
	f := strings.Fields(p.Status)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// HasFiles says whether dpkg considers the package's files to be on disk:
// not-installed and config-files packages keep only conffiles, if any.
func (p Package) HasFiles() bool {
	switch p.State() {
	case "", "not-installed", "config-files":
		return false
	}
	return true
}

// InfoName is the base name of the package's info/ files: "pkg" or, for
// Multi-Arch: same packages, "pkg:arch".
func (p Package) InfoName() string {
	if p.MultiArch == "same" && p.Architecture != "" {
		return p.Name + ":" + p.Architecture
	}
	return p.Name
}

// Conffile is one line of a Conffiles field: the digest dpkg recorded when
// it installed the file. "newconffile" stands for a digest not yet known.
type Conffile struct {
	Path     string
	MD5      string
	Obsolete bool
}

// FileSum is one line of an md5sums file.
type FileSum struct {
	Path string // absolute, as dpkg names the file
	MD5  string // lower-case hex
	Line int
}

// Diversion is one entry of the diversions file: dpkg installs package
// From's file (of any package but Package) under To.
type Diversion struct {
	From, To, Package string
}

// LineError is a record a parser skipped.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseStatus reads the status file. Paragraphs without a Package field, and
// lines that are neither a field nor a continuation, are errors; the
// paragraphs around them are still returned.
func ParseStatus(data []byte) ([]Package, []error) {
	var (
		pkgs  []Package
		errs  []error
		cur   Package
		field string // the field a continuation line belongs to
		open  bool
	)
	flush := func() {
		if !open {
			return
		}
		switch {
		case cur.Name == "":
			errs = append(errs, &LineError{cur.Line, "paragraph without a Package field"})
		case !validName(cur.Name):
			errs = append(errs, &LineError{cur.Line, fmt.Sprintf("invalid package name %q", cur.Name)})
		default:
			pkgs = append(pkgs, cur)
		}
		cur, field, open = Package{}, "", false
	}
	n := 0
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		n++
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			continue
		}
		if !open {
			open, cur.Line = true, n
		}
		if line[0] == ' ' || line[0] == '\t' {
			if field == "" {
				errs = append(errs, &LineError{n, "continuation line outside a field"})
				continue
			}
			if field == "conffiles" {
				if cf, ok := parseConffile(string(bytes.TrimSpace(line))); ok {
					cur.Conffiles = append(cur.Conffiles, cf)
				} else {
					errs = append(errs, &LineError{n, fmt.Sprintf("bad Conffiles line %q", clip(line))})
				}
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) == 0 || bytes.ContainsAny(k, " \t") {
			errs = append(errs, &LineError{n, fmt.Sprintf("not a field: %q", clip(line))})
			field = ""
			continue
		}
		field = strings.ToLower(string(k))
		val := string(bytes.TrimSpace(v))
		switch field {
		case "package":
			cur.Name = val
		case "version":
			cur.Version = val
		case "architecture":
			cur.Architecture = val
		case "status":
			cur.Status = val
		case "source":
			cur.Source = val
		case "multi-arch":
			cur.MultiArch = val
		}
	}
	flush()
	return pkgs, errs
}

func parseConffile(s string) (Conffile, bool) {
	// A path may hold spaces: flags and the digest are taken from the right.
	f := strings.Fields(s)
	var cf Conffile
	for len(f) > 2 && (f[len(f)-1] == "obsolete" || f[len(f)-1] == "remove-on-upgrade") {
		cf.Obsolete = cf.Obsolete || f[len(f)-1] == "obsolete"
		f = f[:len(f)-1]
	}
	if len(f) < 2 {
		return Conffile{}, false
	}
	cf.MD5 = strings.ToLower(f[len(f)-1])
	cf.Path = strings.Join(f[:len(f)-1], " ")
	if !strings.HasPrefix(cf.Path, "/") || cf.MD5 != "newconffile" && !isMD5(cf.MD5) {
		return Conffile{}, false
	}
	return cf, true
}

// ParseMD5Sums reads an md5sums file: "<32 hex digits>  <path relative to
// />" per line. A line with a malformed digest is an error and skipped.
func ParseMD5Sums(data []byte) ([]FileSum, []error) {
	var out []FileSum
	var errs []error
	n := 0
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		n++
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		sum, p, ok := bytes.Cut(line, []byte(" "))
		p = bytes.TrimLeft(p, " *")
		if !ok || len(p) == 0 {
			errs = append(errs, &LineError{n, fmt.Sprintf("not \"digest  path\": %q", clip(line))})
			continue
		}
		s := strings.ToLower(string(sum))
		if !isMD5(s) {
			errs = append(errs, &LineError{n, fmt.Sprintf("bad MD5 digest %q", clip(sum))})
			continue
		}
		out = append(out, FileSum{Path: "/" + strings.TrimPrefix(string(p), "/"), MD5: s, Line: n})
	}
	return out, errs
}

// ParseList reads a .list or .conffiles file: one absolute path a line.
func ParseList(data []byte) []string {
	var out []string
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 && line[0] == '/' {
			out = append(out, string(line))
		}
	}
	return out
}

// ParseDiversions reads the diversions file: triples of lines (from, to,
// package; ":" as package means a local diversion). A trailing partial
// triple is an error.
func ParseDiversions(data []byte) ([]Diversion, error) {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		lines = append(lines, strings.TrimRight(l, "\r"))
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil, nil
	}
	var out []Diversion
	for i := 0; i+2 < len(lines); i += 3 {
		out = append(out, Diversion{From: lines[i], To: lines[i+1], Package: lines[i+2]})
	}
	if len(lines)%3 != 0 {
		return out, &LineError{len(lines) - len(lines)%3 + 1, "diversions: incomplete entry (want from, to, package lines)"}
	}
	return out, nil
}

func isMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// validName is Debian policy's package name: lower-case letters, digits,
// + - . ; at least two characters, starting with an alphanumeric.
func validName(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("+-.", c)) {
			return false
		}
	}
	return true
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
