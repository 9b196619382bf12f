package linux

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Binaries looks for replaced system commands: a renamed original next to
// the command (ps.original, systemd-cgroup.org) and a script or non-ELF file
// where an ELF program belongs (Cleanfda's filtering ps, xorddos).
type Binaries struct{}

func (Binaries) Name() string { return "binaries" }
func (Binaries) OS() string   { return "linux" }

func (c Binaries) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	suffixes := s.loc("binaries", "twin-suffix")
	famSuffix := map[string]Marker{}
	for _, m := range s.markersOf("twin-suffix") {
		famSuffix[m.Pattern] = m
	}
	seenDir := map[string]bool{}
	for _, dir := range s.loc("binaries", "dir") {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		m, ok := r.stat(dir)
		if !ok || !m.Mode.IsDir() {
			continue
		}
		real, ok := realPath(t.FS, dir)
		if !ok || seenDir[real] {
			continue // /bin -> usr/bin on merged-/usr images
		}
		seenDir[real] = true
		names := map[string]bool{}
		for _, e := range capEntries(r, dir, r.readDir(dir)) {
			names[e.Name()] = true
		}
		for _, cmd := range s.loc("binaries", "command") {
			r.command(dir, cmd, names, suffixes, famSuffix)
		}
		// Any NAME.original whose NAME exists: the Cleanfda pattern, for
		// commands not on the list too.
		listed := map[string]bool{}
		for _, cmd := range s.loc("binaries", "command") {
			listed[cmd] = true
		}
		for n := range names {
			for suf, fm := range famSuffix {
				base, ok := strings.CutSuffix(n, suf)
				if ok && base != "" && !listed[base] && names[base] {
					r.twin(path.Join(dir, base), path.Join(dir, n), report.Medium, &fm)
				}
			}
		}
	}
	return ctx.Err()
}

func (r *run) command(dir, cmd string, names map[string]bool, suffixes []string, fam map[string]Marker) {
	p := path.Join(dir, cmd)
	twinFound := false
	for _, suf := range suffixes {
		if !names[cmd+suf] {
			continue
		}
		twinFound = true
		var m *Marker
		if fm, ok := fam[suf]; ok {
			m = &fm
		}
		r.twin(p, p+suf, report.High, m)
	}
	if !names[cmd] {
		return
	}
	head := r.head(p, 4)
	if head == nil {
		return
	}
	fields := map[string]string{"command": cmd}
	switch {
	case isELF(head):
		return
	case isScript(head):
		fields["format"] = "script"
	default:
		fields["format"] = "not ELF"
	}
	f := r.read(p)
	if f == nil {
		return
	}
	r.inventory("replaced-binary", p, 0, p+" is a "+fields["format"], fields)
	sev := report.High
	rule, title := "binaries.script-replacement", fmt.Sprintf("System command %s is a script, not a program", p)
	if !isScript(head) {
		sev, rule, title = report.Medium, "binaries.not-elf", fmt.Sprintf("System command %s is not an ELF program", p)
	}
	desc := "Miners replace ps, top, netstat and the like with scripts that hide their processes or re-launch them (Cleanfda, xorddos)."
	if twinFound {
		desc += " A renamed original sits next to it."
	}
	if isScript(head) && isText(f.Data) {
		desc += " First lines: " + oneLine(firstLines(f.Data, 3))
	}
	r.finding(report.Finding{
		Rule: rule, Severity: sev, Technique: "T1036.005", Title: title, Description: desc,
		Evidence: at(f, 1, lineText(f.Data, 1)),
		Remediation: fmt.Sprintf("Preserve %s, then restore the genuine program from the distribution package (e.g. apt-get install --reinstall / dnf reinstall the package owning %s), "+
			"or move the renamed original back after verifying it against the package's checksums.", p, cmd),
	})
}

// twin reports NAME.suffix next to NAME.
func (r *run) twin(orig, twin string, sev report.Severity, m *Marker) {
	f := r.read(twin)
	if f == nil {
		return
	}
	r.inventory("replaced-binary", twin, 0, twin+" next to "+orig, map[string]string{"original_name": orig})
	fin := report.Finding{
		Rule: "binaries.renamed-original", Severity: sev, Technique: "T1036.005",
		Title:       fmt.Sprintf("Renamed system command %s next to %s", twin, path.Base(orig)),
		Description: "A system command moved aside under a new suffix usually means the original name now runs something else.",
		Evidence:    f.Evidence,
		Remediation: fmt.Sprintf("Preserve %s and %s, compare both with the distribution package, then reinstall the package that owns %s and delete the leftover.", orig, twin, orig),
	}
	if m != nil {
		fin.Family = m.Family
		fin.Description += " " + m.Description + "."
		if m.Severity > fin.Severity {
			fin.Severity = m.Severity
		}
	}
	r.finding(fin)
}

// head reads the first n bytes of a file (following links).
func (r *run) head(p string, n int) []byte {
	f, err := r.t.FS.Open(check.Clean(p))
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, n)
	k, _ := io.ReadFull(f, buf)
	return buf[:k]
}

func firstLines(data []byte, n int) string {
	var out []string
	for _, l := range lines(headLines(data, n)) {
		if len(out) == n {
			break
		}
		out = append(out, l.Text)
	}
	return strings.Join(out, " | ")
}
