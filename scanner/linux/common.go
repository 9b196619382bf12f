// Package linux holds the Linux persistence checks: one file per place
// (cron, systemd, rc, preload, SSH keys, accounts, immutable flags, replaced
// binaries, family marker files, hosts, firewall, miner configs). Each check
// parses its artifacts into typed records, emits every record as inventory,
// and only then judges them. What is judged suspicious (paths, markers,
// command patterns, severities) is data in signatures/linux/.
package linux

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// run bundles what every check needs while it runs.
type run struct {
	name string
	t    *check.Target
	out  check.Sink
}

func newRun(name string, t *check.Target, out check.Sink) *run {
	return &run{name: name, t: t, out: out}
}

// absent reports errors that mean "this place is not on this host": most
// persistence places are missing on most images, and that is not an error.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fsread.ErrNotDir) || errors.Is(err, syscall.ENOTDIR)
}

// read reads a persistence file; nil when it is absent, recorded as an error
// when it exists but cannot be read. A truncated read is recorded and used.
func (r *run) read(p string) *check.File {
	f, err := check.ReadFile(r.t, p)
	if err != nil {
		if f == nil {
			if !absent(err) && !errors.Is(err, fsread.ErrIsDir) {
				r.out.Error(p, fmt.Errorf("%s: %w", r.t.Volume, err))
			}
			return nil
		}
		r.out.Error(p, fmt.Errorf("%s: %w", r.t.Volume, err))
	}
	return f
}

// readDir lists a directory; nil when absent.
func (r *run) readDir(p string) []fs.DirEntry {
	ents, err := r.t.FS.ReadDir(check.Clean(p))
	if err != nil {
		if !absent(err) {
			r.out.Error(p, fmt.Errorf("%s: %w", r.t.Volume, err))
		}
		return nil
	}
	return ents
}

// lstat returns the metadata of p without following a final symlink.
func (r *run) lstat(p string) (*fsread.Meta, bool) {
	fi, err := r.t.FS.Lstat(check.Clean(p))
	if err != nil {
		if !absent(err) {
			r.out.Error(p, fmt.Errorf("%s: %w", r.t.Volume, err))
		}
		return nil, false
	}
	return fsread.MetaOf(fi), true
}

// stat follows symlinks; absence is silent.
func (r *run) stat(p string) (*fsread.Meta, bool) {
	fi, err := r.t.FS.Stat(check.Clean(p))
	if err != nil {
		return nil, false
	}
	return fsread.MetaOf(fi), true
}

// finding completes and emits a finding: check name, technique name, id.
func (r *run) finding(f report.Finding) {
	f.Check = r.name
	if f.TechniqueName == "" {
		f.TechniqueName = techniqueName(f.Technique)
	}
	if f.Evidence.Volume == "" {
		f.Evidence.Volume = r.t.Volume
	}
	f.ID = report.FindingID(&f)
	r.out.Finding(f)
}

// inventory emits one record. Every record carries the flags of its file
// (immutable, append-only) when it has any: an autostart that cannot be
// removed is the record an analyst needs to see first.
func (r *run) inventory(kind, p string, line int, summary string, fields map[string]string) {
	if _, ok := fields["flags"]; !ok {
		if fi, err := r.t.FS.Lstat(check.Clean(p)); err == nil {
			if names := fsread.MetaOf(fi).FlagNames(); len(names) > 0 {
				if fields == nil {
					fields = map[string]string{}
				}
				fields["flags"] = strings.Join(names, ",")
			}
		}
	}
	r.out.Inventory(report.InventoryItem{
		Kind: kind, Volume: r.t.Volume, Path: "/" + check.Clean(p), Line: line,
		Summary: oneLine(summary), Fields: fields,
	})
}

// at returns the file's evidence pointing at one line.
func at(f *check.File, line int, match string) report.Evidence {
	ev := f.Evidence
	ev.Line, ev.Match = line, oneLine(match)
	return ev
}

// metaEvidence is evidence for a path whose content is not read (a
// directory, a file only stat'ed).
func (r *run) metaEvidence(p string, m *fsread.Meta) report.Evidence {
	return check.EvidenceFor(r.t, p, m)
}

// maxMatch bounds how much of an offending line a report carries.
const maxMatch = 512

func oneLine(s string) string {
	s = strings.Map(func(c rune) rune {
		if c == '\n' || c == '\r' || c == '\t' {
			return ' '
		}
		if c < 0x20 || c == 0x7f {
			return -1
		}
		return c
	}, s)
	if len(s) > maxMatch {
		s = s[:maxMatch] + "…"
	}
	return s
}

// line is one physical line of a text file, 1-based.
type line struct {
	N    int
	Text string
}

// lines splits text into lines, dropping a trailing CR.
func lines(data []byte) []line {
	var out []line
	n := 0
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		out = append(out, line{N: n, Text: strings.TrimSuffix(string(l), "\r")})
	}
	return out
}

// shellLines joins backslash-continued lines of a shell script and drops
// comments and blank lines; N is the first physical line of each.
func shellLines(data []byte) []line {
	var out []line
	var cur strings.Builder
	start := 0
	for _, l := range lines(data) {
		t := l.Text
		if cur.Len() == 0 {
			start = l.N
			if s := strings.TrimSpace(t); s == "" || strings.HasPrefix(s, "#") {
				continue
			}
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(t)
		out = append(out, line{N: start, Text: strings.TrimSpace(cur.String())})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, line{N: start, Text: strings.TrimSpace(cur.String())})
	}
	return out
}

// isScript reports whether data starts with a #! line.
func isScript(data []byte) bool { return bytes.HasPrefix(data, []byte("#!")) }

// isELF reports the ELF magic.
func isELF(data []byte) bool { return bytes.HasPrefix(data, []byte("\x7fELF")) }

// isText is a cheap guess used to avoid judging binaries line by line.
func isText(data []byte) bool {
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	return !bytes.ContainsRune(head, 0) && !isELF(data)
}

// expandHome turns "~/x" into x below every home (deduplicated, sorted).
func expandHome(p string, homes []string) []string {
	if !strings.HasPrefix(p, "~/") {
		return []string{p}
	}
	rest := strings.TrimPrefix(p, "~/")
	seen := map[string]bool{}
	var out []string
	for _, h := range homes {
		q := path.Join(h, rest)
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out
}

// maxDirEntries bounds a directory listing a check walks through. It is
// far above any real persistence directory: padding /etc/cron.d with empty
// files must not push the real entry out of view, so only a directory that
// could stall the scan for minutes is cut (and the cut is reported).
const maxDirEntries = 1 << 20

func capEntries(r *run, dir string, ents []fs.DirEntry) []fs.DirEntry {
	if len(ents) > maxDirEntries {
		r.out.Error(dir, fmt.Errorf("%s: %d entries, only the first %d examined", r.t.Volume, len(ents), maxDirEntries))
		return ents[:maxDirEntries]
	}
	return ents
}

// lineText returns physical line n (1-based) of data, "" when out of range.
func lineText(data []byte, n int) string {
	for i := 1; len(data) > 0; i++ {
		j := bytes.IndexByte(data, '\n')
		var l []byte
		if j < 0 {
			l, data = data, nil
		} else {
			l, data = data[:j], data[j+1:]
		}
		if i == n {
			return strings.TrimSuffix(string(l), "\r")
		}
	}
	return ""
}

// realPath is the canonical in-image path of p ("/usr/lib" for "/lib" on
// merged-/usr systems), so one directory seen under two names is read once.
func realPath(fsys fsread.FS, p string) (string, bool) {
	real, err := fsread.RealPath(fsys, check.Clean(p))
	if err != nil {
		return "", false
	}
	return "/" + strings.TrimPrefix(real, "."), true
}
