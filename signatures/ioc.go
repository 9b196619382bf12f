package signatures

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Embedded IOC list files. Users' own lists (--ioc) use the same formats.
const (
	HashesFile      = "ioc/hashes.txt"
	FilenamesFile   = "ioc/filenames.txt"
	FilenamesFPFile = "ioc/filenames-fp.txt"
)

// DefaultHashScore is the score of a hash IOC whose line gives none: a
// known-bad hash is a strong verdict (high on the LOKI/THOR scale).
const DefaultHashScore = 90

// maxIOCFile caps a user IOC file: LOKI's full lists are a few MiB.
const maxIOCFile = 256 << 20

// HashIOC is one known file hash.
type HashIOC struct {
	Hash        string // lower-case hex
	Kind        string // "md5", "sha1", "sha256"
	Description string
	Score       int
	Source      string // embedded list path or the user's file
	Line        int
}

// FilenameIOC is one path regex (LOKI filename-IOC style).
type FilenameIOC struct {
	Regexp      *regexp.Regexp
	Score       int
	Description string
	Source      string
	Line        int
}

// FilenameFP is a path regex that suppresses filename IOCs.
type FilenameFP struct {
	Regexp      *regexp.Regexp
	Description string
	Source      string
	Line        int
}

// IOCs is a loaded set of hash and filename indicators. It is read-only
// after loading and safe for concurrent use.
type IOCs struct {
	hashes    map[string]HashIOC // by lower-case hex; kinds differ by length
	sha1      bool               // any SHA-1 entries: only then is SHA-1 worth computing
	Filenames []FilenameIOC
	FPs       []FilenameFP
	any       *regexp.Regexp // all filename regexes in one, a cheap pre-filter
}

// LineError is a malformed line of an IOC list.
type LineError struct {
	Source string
	Line   int
	Err    error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// NewIOCs returns an empty set.
func NewIOCs() *IOCs { return &IOCs{hashes: map[string]HashIOC{}} }

// LoadIOCs loads the embedded lists plus the user's paths (see AddPath).
// Malformed lines are skipped and returned, joined, as the error; the set
// holds every good line either way.
func LoadIOCs(userPaths ...string) (*IOCs, error) {
	s := NewIOCs()
	var errs []error
	for _, f := range []struct {
		name string
		add  func([]byte, string) error
	}{{HashesFile, s.AddHashes}, {FilenamesFile, s.AddFilenames}, {FilenamesFPFile, s.AddFilenameFPs}} {
		data, err := fs.ReadFile(Files, f.name)
		if err != nil {
			return nil, fmt.Errorf("signatures: %w", err)
		}
		if err := f.add(data, "embedded:"+f.name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range userPaths {
		if err := s.AddPath(p); err != nil {
			errs = append(errs, err)
		}
	}
	s.build()
	return s, errors.Join(errs...)
}

// ListKind tells from a file name which list it is, by LOKI's naming rule:
// "hash" → hashes, "filename" with "fp"/"falsepositive"/"false-positive" →
// filename false positives, "filename" → filename IOCs.
func ListKind(name string) (string, bool) {
	b := strings.ToLower(filepath.Base(name))
	switch {
	case strings.Contains(b, "hash"):
		return "hashes", true
	case strings.Contains(b, "filename") &&
		(strings.Contains(b, "-fp") || strings.Contains(b, "_fp") || strings.Contains(b, "falsepositive") || strings.Contains(b, "false-positive")):
		return "filenames-fp", true
	case strings.Contains(b, "filename"):
		return "filenames", true
	}
	return "", false
}

// AddPath loads a user IOC file, or every IOC file below a directory, the
// list type chosen by ListKind. In a directory, files whose name says no
// type are ignored; a file named explicitly must say one.
func (s *IOCs) AddPath(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("ioc: %w", err)
	}
	if !st.IsDir() {
		err := s.addFile(p, true)
		s.build()
		return err
	}
	var errs []error
	err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("ioc: %w", err))
			return nil
		}
		if d.Type().IsRegular() {
			if err := s.addFile(name, false); err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	s.build()
	return errors.Join(errs...)
}

func (s *IOCs) addFile(name string, explicit bool) error {
	kind, ok := ListKind(name)
	if !ok {
		if explicit {
			return fmt.Errorf("ioc: %s: cannot tell the list type from the file name (want \"hash\", \"filename\" or \"filename-fp\" in it)", name)
		}
		return nil
	}
	st, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("ioc: %w", err)
	}
	if st.Size() > maxIOCFile {
		return fmt.Errorf("ioc: %s: %d bytes, larger than the %d-byte cap", name, st.Size(), maxIOCFile)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("ioc: %w", err)
	}
	switch kind {
	case "hashes":
		return s.AddHashes(data, name)
	case "filenames-fp":
		return s.AddFilenameFPs(data, name)
	default:
		return s.AddFilenames(data, name)
	}
}

// splitLines is ParseList without a line-length limit (a user's list may
// hold a long regex) and with '\r' tolerated; line numbers are 1-based.
func splitLines(data []byte) []Entry {
	var out []Entry
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ";")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		out = append(out, Entry{Fields: parts, Line: n + 1})
	}
	return out
}

func hashKind(h string) (string, bool) {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	switch len(h) {
	case 32:
		return "md5", true
	case 40:
		return "sha1", true
	case 64:
		return "sha256", true
	}
	return "", false
}

func parseScore(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("score %q is not an integer 0-100", s)
	}
	return v, nil
}

// AddHashes parses "HASH;DESCRIPTION[;SCORE]" lines.
func (s *IOCs) AddHashes(data []byte, source string) error {
	var errs []error
	for _, e := range splitLines(data) {
		h := strings.ToLower(e.Field(0))
		kind, ok := hashKind(h)
		if !ok {
			errs = append(errs, &LineError{source, e.Line, fmt.Errorf("%q is not an MD5, SHA-1 or SHA-256 hex digest", truncate(e.Field(0)))})
			continue
		}
		score := DefaultHashScore
		if len(e.Fields) > 2 && e.Fields[2] != "" {
			v, err := parseScore(e.Fields[2])
			if err != nil {
				errs = append(errs, &LineError{source, e.Line, err})
				continue
			}
			score = v
		}
		if len(e.Fields) > 3 {
			errs = append(errs, &LineError{source, e.Line, fmt.Errorf("%d fields, want HASH;DESCRIPTION[;SCORE]", len(e.Fields))})
			continue
		}
		s.hashes[h] = HashIOC{Hash: h, Kind: kind, Description: e.Field(1), Score: score, Source: source, Line: e.Line}
		if kind == "sha1" {
			s.sha1 = true
		}
	}
	return errors.Join(errs...)
}

// AddFilenames parses "REGEX;SCORE;DESCRIPTION" lines; the description is
// the rest of the line, ';' included.
func (s *IOCs) AddFilenames(data []byte, source string) error {
	var errs []error
	for _, e := range splitLines(data) {
		if len(e.Fields) < 3 {
			errs = append(errs, &LineError{source, e.Line, fmt.Errorf("%d fields, want REGEX;SCORE;DESCRIPTION", len(e.Fields))})
			continue
		}
		re, err := regexp.Compile(e.Fields[0])
		if err != nil {
			errs = append(errs, &LineError{source, e.Line, err})
			continue
		}
		score, err := parseScore(e.Fields[1])
		if err != nil {
			errs = append(errs, &LineError{source, e.Line, err})
			continue
		}
		s.Filenames = append(s.Filenames, FilenameIOC{Regexp: re, Score: score, Description: strings.Join(e.Fields[2:], "; "), Source: source, Line: e.Line})
	}
	s.any = nil
	return errors.Join(errs...)
}

// AddFilenameFPs parses "REGEX;DESCRIPTION" lines.
func (s *IOCs) AddFilenameFPs(data []byte, source string) error {
	var errs []error
	for _, e := range splitLines(data) {
		if len(e.Fields) > 2 {
			errs = append(errs, &LineError{source, e.Line, fmt.Errorf("%d fields, want REGEX;DESCRIPTION", len(e.Fields))})
			continue
		}
		re, err := regexp.Compile(e.Fields[0])
		if err != nil {
			errs = append(errs, &LineError{source, e.Line, err})
			continue
		}
		s.FPs = append(s.FPs, FilenameFP{Regexp: re, Description: e.Field(1), Source: source, Line: e.Line})
	}
	return errors.Join(errs...)
}

// build compiles the pre-filter. Call after the last Add; the Load and
// AddPath helpers do.
func (s *IOCs) build() {
	if len(s.Filenames) == 0 {
		s.any = nil
		return
	}
	parts := make([]string, len(s.Filenames))
	for i, f := range s.Filenames {
		parts[i] = "(?:" + f.Regexp.String() + ")"
	}
	// Flags like (?i) stay scoped to their group, so the union matches
	// exactly when one of the parts does. RE2 bounds its size; a union too
	// large to compile just means no pre-filter.
	s.any, _ = regexp.Compile(strings.Join(parts, "|"))
}

// HashCount is the number of hash IOCs loaded.
func (s *IOCs) HashCount() int { return len(s.hashes) }

// NeedSHA1 reports whether any SHA-1 IOC is loaded (SHA-1 is computed only then).
func (s *IOCs) NeedSHA1() bool { return s.sha1 }

// MatchHashes returns the IOCs matching any of the given lower-case hex
// digests; empty digests are ignored.
func (s *IOCs) MatchHashes(digests ...string) []HashIOC {
	var out []HashIOC
	for _, d := range digests {
		if d == "" {
			continue
		}
		if h, ok := s.hashes[d]; ok {
			out = append(out, h)
		}
	}
	return out
}

// MatchPath returns the filename IOCs matching p (the image path with a
// leading '/'), unless a false-positive regex matches p.
func (s *IOCs) MatchPath(p string) []FilenameIOC {
	if len(s.Filenames) == 0 {
		return nil
	}
	if s.any != nil && !s.any.MatchString(p) {
		return nil
	}
	var out []FilenameIOC
	for _, f := range s.Filenames {
		if f.Regexp.MatchString(p) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	for _, fp := range s.FPs {
		if fp.Regexp.MatchString(p) {
			return nil
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
