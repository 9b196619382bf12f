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
	"sync"
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

// FilenameIOC is one path regex, as LOKI's filename-iocs.txt has them:
// REGEX;SCORE[;FALSE_POSITIVE_REGEX], the description in the comment line
// above. A regex written for Windows (with \\ separators) is matched
// against an NTFS file's Windows path (C:\Windows\Temp\x.exe); on other
// volumes, as LOKI does on Linux, against the path with \\ read as /.
type FilenameIOC struct {
	Regexp      *regexp.Regexp // as written
	Score       int
	Description string
	Source      string
	Line        int
	// FP, when set, is the line's false-positive regex: a path it matches
	// is not reported by this IOC.
	FP *regexp.Regexp
	// unix and unixFP are Regexp and FP with LOKI's transform for
	// non-Windows systems (\\ -> /, C: dropped); nil when unchanged.
	unix, unixFP *regexp.Regexp
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
	C2        []C2IOC        // found in content through C2YARA
	any       *regexp.Regexp // all filename regexes in one, a cheap pre-filter
	anyUnix   *regexp.Regexp // the same in their non-Windows form
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
// filename false positives, "filename" → filename IOCs, "c2" → C2 servers.
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
	case strings.Contains(b, "c2"):
		return "c2", true
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
			return fmt.Errorf("ioc: %s: cannot tell the list type from the file name (want \"hash\", \"filename\", \"filename-fp\" or \"c2\" in it)", name)
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
	case "c2":
		return s.AddC2(data, name)
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

// AddHashes parses hash-IOC lines: LOKI's HASH;DESCRIPTION (signature-base
// iocs/hash-iocs.txt), snapscan's HASH;DESCRIPTION;SCORE and THOR's
// HASH;SCORE;DESCRIPTION. A description may hold ';' (LOKI reads only up
// to it; the whole text is kept here).
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
		rest := e.Fields[1:]
		isNumber := func(f string) bool { _, err := strconv.Atoi(f); return err == nil }
		switch {
		case len(rest) >= 2 && isNumber(rest[len(rest)-1]):
			v, err := parseScore(rest[len(rest)-1])
			if err != nil {
				errs = append(errs, &LineError{source, e.Line, err})
				continue
			}
			score, rest = v, rest[:len(rest)-1]
		case len(rest) == 2 && isNumber(rest[0]):
			v, err := parseScore(rest[0])
			if err != nil {
				errs = append(errs, &LineError{source, e.Line, err})
				continue
			}
			score, rest = v, rest[1:]
		}
		s.hashes[h] = HashIOC{Hash: h, Kind: kind, Description: strings.Join(rest, "; "), Score: score, Source: source, Line: e.Line}
		if kind == "sha1" {
			s.sha1 = true
		}
	}
	return errors.Join(errs...)
}

// C2IOC is one command-and-control server, a domain or an IP address, as
// LOKI's c2-iocs.txt lists them (one a line, [;SCORE] optional), the
// description in the comment above.
type C2IOC struct {
	Indicator   string // lower case
	Description string
	Score       int
	Source      string
	Line        int
}

// DefaultC2Score is the score of a C2 indicator found in a file's content
// when its line gives none: a file naming a known C2 server is worth a
// look (medium), not a verdict on its own.
const DefaultC2Score = 60

// minC2Len is LOKI's floor: shorter indicators match too much.
const minC2Len = 4

// AddC2 parses a LOKI C2-IOC list. As in LOKI, a comment line gives the
// description of the entries below it, and a blank line ends it.
func (s *IOCs) AddC2(data []byte, source string) error {
	var errs []error
	comment := ""
	for n, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			comment = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		f := strings.Split(line, ";")
		c2 := strings.ToLower(strings.TrimSpace(f[0]))
		score := DefaultC2Score
		if len(f) > 1 && strings.TrimSpace(f[1]) != "" {
			v, err := parseScore(strings.TrimSpace(f[1]))
			if err != nil {
				errs = append(errs, &LineError{source, n + 1, err})
				continue
			}
			score = v
		}
		if len(c2) < minC2Len || strings.ContainsAny(c2, " \t\"\\") {
			errs = append(errs, &LineError{source, n + 1, fmt.Errorf("%q is not a C2 domain or address (at least %d characters, no spaces or quotes)", truncate(c2), minC2Len)})
			continue
		}
		s.C2 = append(s.C2, C2IOC{Indicator: c2, Description: comment, Score: score, Source: source, Line: n + 1})
	}
	return errors.Join(errs...)
}

// C2YARA is the C2 list as YARA rules, so that libyara's string search
// finds the indicators in every swept file's content at once: one rule per
// description, each indicator a whole word in ASCII or UTF-16, any case.
// "" when no C2 IOC is loaded.
func (s *IOCs) C2YARA() string {
	if len(s.C2) == 0 {
		return ""
	}
	var b strings.Builder
	var group []C2IOC
	n := 0
	flush := func() {
		if len(group) == 0 {
			return
		}
		g := group[0]
		desc := g.Description
		if desc == "" {
			desc = "listed C2 server"
		}
		score := 0
		for _, c := range group {
			score = max(score, c.Score)
		}
		fmt.Fprintf(&b, "rule c2_ioc_%d {\n  meta:\n    description = %s\n    score = %d\n    technique = \"T1071\"\n    reference = %s\n",
			n, yaraString("Names a C2 server: "+desc), score, yaraString(fmt.Sprintf("%s:%d", g.Source, g.Line)))
		fmt.Fprintf(&b, "    remediation = %s\n  strings:\n", yaraString("Note the server as an IOC, find what on the host uses the file that names it, and check for connections to it in the logs; snapscan does not modify the image."))
		for i, c := range group {
			fmt.Fprintf(&b, "    $c%d = %s ascii wide nocase fullword\n", i, yaraString(c.Indicator))
		}
		b.WriteString("  condition:\n    any of them\n}\n")
		n++
		group = nil
	}
	for i, c := range s.C2 {
		if i > 0 && (c.Description != s.C2[i-1].Description || c.Source != s.C2[i-1].Source) {
			flush()
		}
		group = append(group, c)
	}
	flush()
	return b.String()
}

// yaraString quotes s as a YARA text string.
func yaraString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		case r > 0x7e:
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// filenameDefaultScore is LOKI's score for a line that gives none.
const filenameDefaultScore = 60

// AddFilenames parses a LOKI filename-IOC list: '#' lines are comments,
// the last one before an entry its description; an entry is
// REGEX;SCORE[;FALSE_POSITIVE_REGEX] (LOKI's legacy REGEX;DESCRIPTION and a
// bare REGEX take score 60). %VAR% names Windows environment variables
// (signatures/windows/envvars.txt), as LOKI expands them.
func (s *IOCs) AddFilenames(data []byte, source string) error {
	var errs []error
	comment := ""
	for n, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			comment = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		bad := func(err error) { errs = append(errs, &LineError{source, n + 1, err}) }
		f := strings.Split(line, ";")
		fio := FilenameIOC{Score: filenameDefaultScore, Description: comment, Source: source, Line: n + 1}
		if len(f) > 1 {
			if v, err := parseScore(strings.TrimSpace(f[1])); err == nil {
				fio.Score = v
			} else if _, numeric := strconv.Atoi(strings.TrimSpace(f[1])); numeric == nil {
				bad(err) // a number out of range, not a legacy description
				continue
			} else {
				fio.Description = strings.TrimSpace(f[1])
			}
		}
		if len(f) > 3 {
			bad(fmt.Errorf("%d fields, want REGEX;SCORE[;FALSE_POSITIVE_REGEX] (the description goes in a comment line above)", len(f)))
			continue
		}
		var err error
		if fio.Regexp, fio.unix, err = compileIOCRegexp(f[0]); err != nil {
			bad(err)
			continue
		}
		if len(f) == 3 && strings.TrimSpace(f[2]) != "" {
			if fio.FP, fio.unixFP, err = compileIOCRegexp(f[2]); err != nil {
				bad(fmt.Errorf("false-positive regex (third field; the description goes in a comment line above): %w", err))
				continue
			}
		}
		if fio.Description == "" {
			fio.Description = "file-name IOC " + truncate(f[0])
		}
		s.Filenames = append(s.Filenames, fio)
	}
	s.any, s.anyUnix = nil, nil
	return errors.Join(errs...)
}

// compileIOCRegexp compiles a LOKI regex with its environment variables
// expanded, and the form LOKI uses on non-Windows systems when it differs.
func compileIOCRegexp(expr string) (asWritten, unix *regexp.Regexp, err error) {
	expr = expandEnvVars(strings.TrimSpace(expr))
	if asWritten, err = regexp.Compile(expr); err != nil {
		return nil, nil, err
	}
	if u := unixRegexp(expr); u != expr {
		if unix, err = regexp.Compile(u); err != nil {
			unix = nil // the Windows form stands alone
		}
	}
	return asWritten, unix, nil
}

// unixRegexp is LOKI's transformOS for a non-Windows system: an escaped
// backslash (the Windows separator) becomes '/', and the drive "C:" goes.
func unixRegexp(expr string) string {
	expr = strings.ReplaceAll(expr, `\\`, "/")
	return strings.ReplaceAll(expr, "C:", "")
}

var envVarRE = regexp.MustCompile(`@?%([A-Za-z_()0-9]+)%`)

// expandEnvVars replaces %VAR% with the regex of its value on a default
// Windows installation ({user}: any user name), case-insensitively by
// name, as LOKI replaces them with the live host's values.
func expandEnvVars(expr string) string {
	if !strings.Contains(expr, "%") {
		return expr
	}
	vars := windowsEnv()
	return envVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.ToLower(envVarRE.FindStringSubmatch(m)[1])
		v, ok := vars[name]
		if !ok {
			return m
		}
		return strings.ReplaceAll(regexp.QuoteMeta(v), `\{user\}`, `[^\\]+`)
	})
}

var (
	envOnce sync.Once
	envVars map[string]string
)

func windowsEnv() map[string]string {
	envOnce.Do(func() {
		envVars = map[string]string{}
		entries, _ := List("windows/envvars.txt")
		for _, e := range entries {
			envVars[strings.ToLower(e.Field(0))] = e.Field(1)
		}
	})
	return envVars
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

// build compiles the pre-filters. Call after the last Add; the Load and
// AddPath helpers do.
func (s *IOCs) build() {
	if len(s.Filenames) == 0 {
		s.any, s.anyUnix = nil, nil
		return
	}
	parts := make([]string, len(s.Filenames))
	unix := make([]string, len(s.Filenames))
	for i, f := range s.Filenames {
		parts[i] = "(?:" + f.Regexp.String() + ")"
		unix[i] = parts[i]
		if f.unix != nil {
			unix[i] = "(?:" + f.unix.String() + ")"
		}
	}
	// Flags like (?i) stay scoped to their group, so the union matches
	// exactly when one of the parts does. RE2 bounds its size; a union too
	// large to compile just means no pre-filter.
	s.any, _ = regexp.Compile(strings.Join(parts, "|"))
	s.anyUnix, _ = regexp.Compile(strings.Join(unix, "|"))
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

// MatchPath returns the filename IOCs matching p, the file's path in its
// OS with a leading '/' (/usr/bin/ps.original, /Windows/Temp/x.exe), unless
// a false-positive regex (the list's or the line's) matches it. On a
// Windows volume each regex is also matched against the Windows path
// (C:\Windows\Temp\x.exe), which LOKI's published Windows regexes expect;
// elsewhere regexes are read in LOKI's non-Windows form.
func (s *IOCs) MatchPath(p string, windows bool) []FilenameIOC {
	if len(s.Filenames) == 0 {
		return nil
	}
	forms := []string{p}
	if windows {
		forms = append(forms, "C:"+strings.ReplaceAll(p, "/", `\`))
	}
	pre := s.any
	if !windows {
		pre = s.anyUnix
	}
	if pre != nil {
		hit := false
		for _, f := range forms {
			hit = hit || pre.MatchString(f)
		}
		if !hit {
			return nil
		}
	}
	var out []FilenameIOC
	for _, f := range s.Filenames {
		re, fp := f.Regexp, f.FP
		if !windows && f.unix != nil {
			re = f.unix
		}
		if !windows && f.unixFP != nil {
			fp = f.unixFP
		}
		for _, form := range forms {
			if re.MatchString(form) && (fp == nil || !fp.MatchString(form)) {
				out = append(out, f)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	for _, fp := range s.FPs {
		for _, form := range forms {
			if fp.Regexp.MatchString(form) {
				return nil
			}
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
