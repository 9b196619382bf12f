package linux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Immutable reports immutable and append-only flags on persistence files:
// miners set them so that their cron lines, units and keys cannot be
// deleted. Filesystems without such flags (NTFS, a tmpfs directory) simply
// yield nothing.
type Immutable struct{}

func (Immutable) Name() string { return "immutable" }
func (Immutable) OS() string   { return "linux" }

func (c Immutable) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	hs := homes(t)
	seen := map[string]bool{}
	for _, pat := range sigs().loc("immutable", "path") {
		for _, p := range expandHome(pat, hs) {
			if check.Deadline(ctx) {
				return ctx.Err()
			}
			if dir, ok := strings.CutSuffix(p, "/*"); ok {
				for _, e := range capEntries(r, dir, r.readDir(dir)) {
					q := path.Join(dir, e.Name())
					if seen[q] {
						continue
					}
					seen[q] = true
					if info, err := e.Info(); err == nil {
						r.flagged(q, fsread.MetaOf(info))
					}
				}
				continue
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			if m, ok := r.lstat(p); ok {
				r.flagged(p, m)
			}
		}
	}
	return ctx.Err()
}

func (r *run) flagged(p string, m *fsread.Meta) {
	if !m.Immutable() && !m.AppendOnly() {
		return
	}
	flags := strings.Join(m.FlagNames(), ", ")
	r.inventory("immutable", p, 0, p+" "+flags, map[string]string{"flags": flags})
	ev := r.metaEvidence(p, m)
	if m.Mode.IsRegular() {
		if f := r.read(p); f != nil {
			ev = f.Evidence
		}
	}
	what := "file"
	if m.Mode.IsDir() {
		what = "directory"
	}
	chattr := "chattr -ia " + p
	if m.Mode.IsDir() {
		chattr = "chattr -R -ia " + p
	}
	r.finding(report.Finding{
		Rule: "immutable.flag", Severity: report.High, Technique: "T1222.002",
		Title:       fmt.Sprintf("Persistence %s %s is %s", what, p, flags),
		Description: "The immutable/append-only attribute stops root from editing or deleting this " + what + "; miners set it on their cron lines, units, keys and account files so removal fails.",
		Evidence:    ev,
		Remediation: fmt.Sprintf("After preserving the evidence, clear the attribute (%s), then review and clean the %s; lsattr shows the flags on a live host.", chattr, what),
	})
}
