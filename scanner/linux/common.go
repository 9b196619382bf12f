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
	name  string
	t     *check.Target
	out   check.Sink
	links check.Links
	// nlinks holds the link count of every file read that has several
	// names, so a finding on it says the other names were not judged.
	nlinks map[string]uint32
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
// A hard link of a file this check already read in the same directory is
// not read again: it is listed as a link of the first (nil is returned).
// A file longer than the check's line limit (signatures/linux/limits.txt)
// is a finding of its own, and only its first lines are returned.
func (r *run) read(p string) *check.File {
	f, err := check.ReadFileOnce(r.t, p, check.MaxArtifactSize, &r.links, path.Dir(check.Clean(p)))
	var linked *check.LinkedError
	if errors.As(err, &linked) {
		r.inventory("hardlink", p, 0, "hard link of /"+linked.First, map[string]string{
			"first": "/" + linked.First, "inode": fmt.Sprint(linked.Inode)})
		return nil
	}
	if err != nil {
		if f == nil {
			if !absent(err) && !errors.Is(err, fsread.ErrIsDir) {
				r.out.Error(p, fmt.Errorf("%s: %w", r.t.Volume, err))
			}
			return nil
		}
		r.out.Error(p, fmt.Errorf("%s: %w", r.t.Volume, err))
	}
	if f.Meta != nil && f.Meta.Nlink > 1 && f.Meta.Mode.IsRegular() {
		if r.nlinks == nil {
			r.nlinks = map[string]uint32{}
		}
		r.nlinks["/"+f.Path] = f.Meta.Nlink
	}
	r.limitLines(f, errors.Is(err, check.ErrTooLarge))
	return f
}

// limitLines cuts f to its check's line limit and reports a file beyond it:
// the parsers, the inventory and the report then cost what the limit allows
// whatever the file holds. cut says the read itself stopped at the size cap.
func (r *run) limitLines(f *check.File, cut bool) {
	lim, ok := sigs().limits[r.name]
	if !ok || !isText(f.Data) {
		return
	}
	n := bytes.Count(f.Data, []byte{'\n'})
	if len(f.Data) > 0 && f.Data[len(f.Data)-1] != '\n' {
		n++
	}
	if n <= lim.Lines && !cut {
		return
	}
	judged := min(n, lim.Lines)
	f.Data = headLines(f.Data, judged)
	count := fmt.Sprintf("%d lines", n)
	if cut {
		count = fmt.Sprintf("at least %d lines in its first %d MiB", n, check.MaxArtifactSize>>20)
	}
	ev := f.Evidence
	r.finding(report.Finding{
		Rule: r.name + ".oversized", Severity: lim.Severity, Technique: lim.Technique, Evidence: ev,
		Title: fmt.Sprintf("Oversized %s: %s, judged the first %d", lim.What, count, judged),
		Description: fmt.Sprintf("%s holds %s (%d bytes); a real %s is far shorter. Only the first %d lines were parsed and judged: "+
			"a line past them (a job hidden under padding) is not in this report.", ev.Path, count, ev.Size, lim.What, judged),
		Remediation: fmt.Sprintf("Preserve a copy of %s and read it whole (grep -v for the padding line), since this scan judged only its head.", ev.Path),
	})
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
	if n := r.nlinks[f.Evidence.Path]; n > 1 {
		f.Description += fmt.Sprintf(" The file has %d names (hard links): its content was judged once, here; the other names in this directory are inventory items of kind hardlink.", n)
	}
	f.ID = report.FindingID(&f)
	r.out.Finding(f)
}

// inventory emits one record. Every record carries the flags of its file
// (immutable, append-only) when it has any: an autostart that cannot be
// removed is the record an analyst needs to see first.
//
// The record names the volume that stores the file, as evidence does, so
// that report.Finalize can join it with the content sweep's findings on the
// same file (a followed autostart target and its YARA matches).
func (r *run) inventory(kind, p string, line int, summary string, fields map[string]string) {
	it := report.InventoryItem{Kind: kind, Volume: r.t.Volume, Path: "/" + check.Clean(p), Line: line, Summary: oneLine(summary), Fields: fields}
	if fi, err := r.t.FS.Lstat(check.Clean(p)); err == nil {
		m := fsread.MetaOf(fi)
		ev := check.EvidenceFor(r.t, p, m)
		it.Volume, it.VolumePath = ev.Volume, ev.VolumePath
		if _, ok := fields["flags"]; !ok {
			if names := m.FlagNames(); len(names) > 0 {
				if it.Fields == nil {
					it.Fields = map[string]string{}
				}
				it.Fields["flags"] = strings.Join(names, ",")
			}
		}
	}
	r.out.Inventory(it)
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

// lineLimitOf is a check's line limit, maxParsedLines for one without.
func lineLimitOf(checkName string) int {
	if l, ok := sigs().limits[checkName]; ok {
		return l.Lines
	}
	return maxParsedLines
}

// headLines returns the first n lines of data.
func headLines(data []byte, n int) []byte {
	end := 0
	for i := 0; i < n; i++ {
		j := bytes.IndexByte(data[end:], '\n')
		if j < 0 {
			return data
		}
		end += j + 1
	}
	return data[:end]
}

// maxParsedLines bounds the lines any parser here sees in one file, for the
// checks without a line limit of their own: a 16 MiB file of newlines would
// otherwise be 16 million line records.
const maxParsedLines = 1 << 20

// lines splits text into lines, dropping a trailing CR; past maxParsedLines
// the rest is not split.
func lines(data []byte) []line {
	var out []line
	n := 0
	for len(data) > 0 && n < maxParsedLines {
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

// lineIndex finds physical lines of one file by number in constant time:
// evidence for each of a file's lines through lineText would cost the square
// of its length (a 200,000-line hosts block list: minutes).
type lineIndex struct {
	data   []byte
	starts []int
}

func newLineIndex(data []byte) *lineIndex {
	x := &lineIndex{data: data, starts: []int{0}}
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			x.starts = append(x.starts, i+1)
		}
	}
	return x
}

// text returns physical line n (1-based), "" when out of range.
func (x *lineIndex) text(n int) string {
	if n < 1 || n > len(x.starts) || len(x.data) == 0 {
		return ""
	}
	l := x.data[x.starts[n-1]:]
	if j := bytes.IndexByte(l, '\n'); j >= 0 {
		l = l[:j]
	}
	return strings.TrimSuffix(string(l), "\r")
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
