// Package suppress reads a suppression file (.snapscanignore) and removes
// the findings it accepts from a report. Every suppression carries a reason
// and may carry an expiry: after it the entry stops working and the finding
// is reported again, so that an accepted risk is looked at again instead of
// being forgotten.
//
// The file is YAML:
//
//	suppressions:
//	  - id: SNAP-0123456789ab          # one finding, by its stable id
//	    reason: golden image's own monitoring key
//	    expires: 2026-12-31            # last day it applies (UTC); or an RFC 3339 time
//	  - rule: ssh.authorized-key       # a rule (glob: "cron.*")
//	    path: /home/*/.ssh/authorized_keys   # optional glob; ** crosses directories
//	    volume: "*@2"                  # optional glob on the volume name
//	    image: "web-*.img"             # optional glob on the image (base name, or whole path if it has a /)
//	    reason: keys are managed by the deploy system (TICKET-123)
//
// An entry needs an id or a rule, and a reason. All the conditions an entry
// gives must hold. A top-level list (without "suppressions:") is accepted.
package suppress

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/snapscan/snapscan/report"
)

// MaxFileSize bounds what Load reads: a suppression file is written by
// hand; anything this large is the wrong file.
const MaxFileSize = 4 << 20

// File is a parsed suppression file.
type File struct {
	Path    string
	Entries []Entry

	mu       sync.Mutex
	migrated map[string]bool // entry source + new id, already told
	notes    []string
}

// Entry is one suppression. The string fields are as written in the file.
type Entry struct {
	ID, Rule, Path, Volume, Image string
	Reason                        string
	Expires                       string
	Line                          int // 1-based line of the entry in the file

	// until is the first instant at which the entry no longer applies;
	// zero when it never expires.
	until    time.Time
	pathSegs []string
	source   string
}

// Suppressed is a finding an entry removed, as kept in the report.
type Suppressed = report.SuppressedFinding

var yamlLine = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)

var idPattern = regexp.MustCompile(`^SNAP-[0-9a-f]{12}$`)

// Load reads and parses the suppression file at path.
func Load(p string) (*File, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("suppression file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("suppression file %s: not a regular file", p)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("suppression file %s: %d bytes, more than the %d a suppression file may have", p, fi.Size(), MaxFileSize)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("suppression file: %w", err)
	}
	return Parse(p, data)
}

// Parse parses a suppression file's content; name is used in errors, which
// read NAME:LINE: problem.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Path: name}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 says "yaml: line N: ..."; keep its line, name the file.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", name, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return f, nil
	}
	list := doc.Content[0]
	switch list.Kind {
	case yaml.MappingNode:
		var found *yaml.Node
		for i := 0; i+1 < len(list.Content); i += 2 {
			k := list.Content[i]
			if k.Value != "suppressions" {
				return nil, fmt.Errorf("%s:%d: unknown top-level key %q (want \"suppressions\")", name, k.Line, k.Value)
			}
			found = list.Content[i+1]
		}
		if found == nil || (found.Kind == yaml.ScalarNode && found.Tag == "!!null") {
			return f, nil
		}
		list = found
	case yaml.SequenceNode:
	case yaml.ScalarNode:
		if list.Tag == "!!null" {
			return f, nil
		}
		fallthrough
	default:
		return nil, fmt.Errorf("%s:%d: want a list of suppressions (\"suppressions:\" followed by entries)", name, list.Line)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: \"suppressions\" must be a list of entries", name, list.Line)
	}
	for _, n := range list.Content {
		e, err := parseEntry(name, n)
		if err != nil {
			return nil, err
		}
		f.Entries = append(f.Entries, e)
	}
	return f, nil
}

func parseEntry(name string, n *yaml.Node) (Entry, error) {
	e := Entry{Line: n.Line, source: fmt.Sprintf("%s:%d", name, n.Line)}
	bad := func(line int, format string, args ...any) (Entry, error) {
		return Entry{}, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	if n.Kind != yaml.MappingNode {
		return bad(n.Line, "a suppression entry must be a mapping (id/rule, path, reason, expires)")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return bad(k.Line, "%q given twice in one entry", k.Value)
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode {
			return bad(v.Line, "%q must be a single value, not a list or mapping", k.Value)
		}
		val := strings.TrimSpace(v.Value)
		switch k.Value {
		case "id":
			e.ID = strings.ToUpper(val[:min(5, len(val))]) + strings.ToLower(val[min(5, len(val)):])
			if !idPattern.MatchString(e.ID) {
				return bad(v.Line, "id %q is not a finding id (SNAP- and 12 hex digits, as in the report)", val)
			}
		case "rule":
			e.Rule = val
		case "path":
			e.Path = val
		case "volume":
			e.Volume = val
		case "image":
			e.Image = val
		case "reason":
			e.Reason = val
		case "expires":
			e.Expires = val
			t, err := parseExpiry(val)
			if err != nil {
				return bad(v.Line, "%v", err)
			}
			e.until = t
		default:
			return bad(k.Line, "unknown field %q (known: id, rule, path, volume, image, reason, expires)", k.Value)
		}
	}
	if e.ID == "" && e.Rule == "" {
		return bad(n.Line, "an entry needs an id or a rule")
	}
	if e.Reason == "" {
		return bad(n.Line, "an entry needs a reason: say why the risk is accepted")
	}
	for _, g := range []struct{ field, pat string }{{"rule", e.Rule}, {"volume", e.Volume}, {"image", e.Image}} {
		if _, err := path.Match(g.pat, ""); err != nil {
			return bad(n.Line, "%s glob %q: %v", g.field, g.pat, err)
		}
	}
	if e.Path != "" {
		e.pathSegs = splitPath(e.Path)
		for _, s := range e.pathSegs {
			if _, err := path.Match(s, ""); err != nil {
				return bad(n.Line, "path glob %q: %v", e.Path, err)
			}
		}
	}
	return e, nil
}

// parseExpiry reads a date (the suppression holds through that whole day,
// UTC) or an RFC 3339 time (it holds until that instant).
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("expires %q is not a date (2026-12-31) or an RFC 3339 time (2026-12-31T18:00:00Z)", s)
}

// Expired reports whether the entry no longer applies at now.
func (e *Entry) Expired(now time.Time) bool { return !e.until.IsZero() && !now.Before(e.until) }

// Source is FILE:LINE of the entry.
func (e *Entry) Source() string { return e.source }

// Matches reports whether the entry's conditions hold for f in a report of
// image (expiry aside).
func (e *Entry) Matches(image string, f *report.Finding) bool {
	if e.ID != "" {
		id := f.ID
		if id == "" {
			id = report.FindingID(f)
		}
		if id != e.ID {
			return false
		}
	}
	if e.Rule != "" && !globMatch(e.Rule, f.Rule) {
		return false
	}
	if e.Volume != "" && !globMatch(e.Volume, f.Evidence.Volume) {
		return false
	}
	if e.Image != "" {
		name := filepath.ToSlash(image)
		if !strings.Contains(e.Image, "/") {
			name = path.Base(name)
		}
		if !globMatch(e.Image, name) {
			return false
		}
	}
	if e.pathSegs != nil && !matchSegs(e.pathSegs, splitPath(f.Evidence.Path)) {
		return false
	}
	return true
}

func globMatch(pat, s string) bool {
	ok, _ := path.Match(pat, s)
	return ok
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return []string{}
	}
	return strings.Split(p, "/")
}

// matchSegs matches path segments; "**" matches any number of them
// (including none). Each other segment is a path.Match pattern. It is a
// dynamic programme over (pattern, name) positions, so many "**" against
// a deep hostile path cost pattern × path steps, not an exponential.
func matchSegs(pat, name []string) bool {
	// ok[j] reports whether pat[i:] matches name[j:], for the current i.
	ok := make([]bool, len(name)+1)
	ok[len(name)] = true
	for i := len(pat) - 1; i >= 0; i-- {
		next := make([]bool, len(name)+1)
		if pat[i] == "**" {
			// ** matches name[j:k] for any k: true if pat[i+1:] matches
			// name[k:] for some k >= j.
			some := false
			for j := len(name); j >= 0; j-- {
				some = some || ok[j]
				next[j] = some
			}
		} else {
			for j := 0; j < len(name); j++ {
				next[j] = ok[j+1] && globMatch(pat[i], name[j])
			}
		}
		ok = next
	}
	return ok[0]
}

// Apply removes from r.Findings every finding that an entry of f matches and
// that has not expired at now, appends them to r.Suppressed, adds them to
// Stats.FindingsSuppressed and recounts BySeverity. The first matching
// entry in file order is the one recorded. An expired entry suppresses
// nothing (see Warnings). Call after report.Finalize, which fills ids.
func Apply(r *report.Report, f *File, now time.Time) []Suppressed {
	if f == nil || len(f.Entries) == 0 {
		return nil
	}
	var out []Suppressed
	kept := r.Findings[:0]
	for _, fd := range r.Findings {
		if e := f.match(r, &fd, now); e != nil {
			if fd.ID == "" {
				fd.ID = report.FindingID(&fd)
			}
			out = append(out, Suppressed{Finding: fd, Reason: e.Reason, Expires: e.Expires, Entry: e.source})
			continue
		}
		kept = append(kept, fd)
	}
	clear(r.Findings[len(kept):])
	r.Findings = kept
	r.Suppressed = append(r.Suppressed, out...)
	r.Stats.FindingsSuppressed += len(out)
	report.Recount(r)
	return out
}

func (f *File) match(r *report.Report, fd *report.Finding, now time.Time) *Entry {
	for i := range f.Entries {
		e := &f.Entries[i]
		if e.Expired(now) {
			continue
		}
		if e.Matches(r.Image, fd) {
			return e
		}
		if e.ID != "" && e.matchesLegacy(r, fd) {
			f.migrate(e, fd)
			return e
		}
	}
	return nil
}

// matchesLegacy reports whether e's id is f's id under the earlier scheme
// (report.LegacyIDs: it hashed the image's file name) and e's other
// conditions hold: such an entry keeps working, and Migrations says what to
// write instead.
func (e *Entry) matchesLegacy(r *report.Report, f *report.Finding) bool {
	for _, id := range report.LegacyIDs(r, f) {
		if id == e.ID {
			c := *e
			c.ID = ""
			return c.Rule == "" || c.Matches(r.Image, f)
		}
	}
	return false
}

func (f *File) migrate(e *Entry, fd *report.Finding) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := e.source + "\x00" + fd.ID
	if f.migrated[key] {
		return
	}
	if f.migrated == nil {
		f.migrated = map[string]bool{}
	}
	f.migrated[key] = true
	f.notes = append(f.notes, fmt.Sprintf("%s: id %s is in the earlier id scheme (it named the image file); the finding is now %s: write that id (the old one still works for now)", e.source, e.ID, fd.ID))
}

// Migrations returns, once each, the entries that matched only by an id
// of the earlier scheme, with the id to write instead: one line each.
func (f *File) Migrations() []string {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.notes
	f.notes = nil
	return out
}

// Warnings lists the entries that have expired at now: they no longer
// suppress anything, and the file should be reviewed.
func (f *File) Warnings(now time.Time) []string {
	if f == nil {
		return nil
	}
	var w []string
	for i := range f.Entries {
		e := &f.Entries[i]
		if e.Expired(now) {
			what := "id " + e.ID
			if e.ID == "" {
				what = "rule " + e.Rule
			}
			w = append(w, fmt.Sprintf("%s: suppression of %s expired on %s: it no longer suppresses anything", e.source, what, e.Expires))
		}
	}
	return w
}
