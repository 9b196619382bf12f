package linux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// PreloadEntry is one library named in /etc/ld.so.preload.
type PreloadEntry struct {
	Line int
	Lib  string
}

// ParsePreload splits ld.so.preload as the dynamic linker does: entries are
// separated by spaces, tabs, colons and newlines. The linker has no comment
// syntax, so neither does this parser: "# /x.so" loads "#" and "/x.so".
func ParsePreload(data []byte) []PreloadEntry {
	var out []PreloadEntry
	for _, l := range lines(data) {
		for _, tok := range strings.FieldsFunc(l.Text, func(r rune) bool {
			return r == ' ' || r == '\t' || r == ':' || r == '\r'
		}) {
			out = append(out, PreloadEntry{Line: l.N, Lib: tok})
		}
	}
	return out
}

// Preload inventories and judges /etc/ld.so.preload.
type Preload struct{}

func (Preload) Name() string { return "preload" }
func (Preload) OS() string   { return "linux" }

func (c Preload) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	libDirs := map[string]bool{}
	for _, d := range s.loc("preload", "lib-dir") {
		libDirs[d] = true
	}
	for _, p := range s.loc("preload", "file") {
		f := r.read(p)
		if f == nil {
			continue
		}
		for _, e := range ParsePreload(f.Data) {
			r.preloadEntry(f, e, libDirs)
		}
	}
	return ctx.Err()
}

func (r *run) preloadEntry(f *check.File, e PreloadEntry, libDirs map[string]bool) {
	fields := map[string]string{"library": e.Lib}
	sev := report.Medium
	var why []string
	var family string
	tech := "T1574.006"

	var lib *check.File
	if strings.HasPrefix(e.Lib, "/") {
		lib = r.read(e.Lib)
	}
	switch {
	case !strings.HasPrefix(e.Lib, "/"):
		why = append(why, "the entry is not an absolute path")
	case lib == nil:
		fields["exists"] = "false"
		why = append(why, "the library does not exist on this volume (it may live on another volume, or was removed)")
	default:
		fields["exists"] = "true"
		fields["sha256"], fields["md5"] = lib.Evidence.SHA256, lib.Evidence.MD5
		fields["size"] = fmt.Sprint(lib.Evidence.Size)
		if !isELF(lib.Data) {
			why = append(why, "the file is not an ELF library")
		}
	}
	dir := path.Dir(e.Lib)
	if strings.HasPrefix(e.Lib, "/") && !libDirs[dir] {
		sev = report.High
		why = append(why, "it is outside the system library directories ("+dir+")")
	}
	if strings.Contains(e.Lib, "/.") {
		sev = report.High
		why = append(why, "its path is hidden")
	}
	for _, m := range sigs().markersOf("preload-lib") {
		if path.Base(e.Lib) == m.Pattern {
			family = m.Family
			if m.Severity > sev {
				sev = m.Severity
			}
			tech = m.Technique
			why = append(why, m.Description)
		}
	}
	r.inventory("preload", f.Path, e.Line, e.Lib, fields)

	desc := "Every program started on this host loads " + e.Lib + " first; a preload entry is rare on a healthy host and is how miners hide their process from ps/top."
	if len(why) > 0 {
		desc += " Also: " + strings.Join(why, "; ") + "."
	}
	if lib != nil {
		desc += fmt.Sprintf(" Library: %s, %d bytes, SHA-256 %s, MD5 %s.", lib.Evidence.Path, lib.Evidence.Size, lib.Evidence.SHA256, lib.Evidence.MD5)
	}
	title := "ld.so.preload loads " + e.Lib
	if family != "" {
		title += " (" + family + ")"
	}
	r.finding(report.Finding{
		Rule: "preload.entry", Title: title, Severity: sev, Technique: tech, Family: family,
		Description: desc, Evidence: at(f, e.Line, e.Lib),
		Remediation: fmt.Sprintf("Preserve %s and %s (hashes are in the evidence), then remove the line from %s "+
			"(chattr -ia it first if it is immutable), delete the library, and re-check ps/top output once it is gone.",
			f.Evidence.Path, e.Lib, f.Evidence.Path),
	})
	if lib != nil && (sev >= report.High) {
		// The library itself is evidence the analyst must preserve: its own
		// finding carries its hashes, inode and times.
		r.finding(report.Finding{
			Rule: "preload.library", Title: "Preloaded library " + e.Lib, Severity: sev, Technique: tech, Family: family,
			Description: "The library named by " + f.Evidence.Path + " line " + fmt.Sprint(e.Line) + ".",
			Evidence:    lib.Evidence,
			Remediation: fmt.Sprintf("Preserve %s for analysis, then delete it after removing its line from %s.", e.Lib, f.Evidence.Path),
		})
	}
}
