package linux

import (
	"context"
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Markers looks for the files and directories families leave at known
// paths (families.txt, kind "path"): /opt/sysetmd, /etc/httpd2,
// ~/.configrc5, /tmp/.X2xi-unix/.rsync, ...
type Markers struct{}

func (Markers) Name() string { return "markers" }
func (Markers) OS() string   { return "linux" }

func (c Markers) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	hs := homes(t)
	for _, m := range sigs().markersOf("path") {
		for _, p := range expandHome(m.Pattern, hs) {
			if check.Deadline(ctx) {
				return ctx.Err()
			}
			meta, ok := r.lstat(p)
			if !ok {
				continue
			}
			ev := r.metaEvidence(p, meta)
			what := "file"
			switch {
			case meta.Mode.IsDir():
				what = "directory"
				var names []string
				for _, e := range capEntries(r, p, r.readDir(p)) {
					names = append(names, e.Name())
				}
				if len(names) > 20 {
					names = append(names[:20], "…")
				}
				ev.Match = "contains: " + strings.Join(names, " ")
			case meta.Mode.IsRegular():
				if f := r.read(p); f != nil {
					ev = f.Evidence
				}
			}
			r.inventory("family-file", p, 0, p, map[string]string{"family": m.Family, "kind": what})
			rm := "rm -f " + p
			if meta.Mode.IsDir() {
				rm = "rm -rf " + p
			}
			r.finding(report.Finding{
				Rule: "marker.path", Severity: m.Severity, Technique: m.Technique, Family: m.Family,
				Title:       fmt.Sprintf("%s %s %s", m.Family, what, p),
				Description: m.Description + ".",
				Evidence:    ev,
				Remediation: fmt.Sprintf("Preserve %s (hashes in the evidence) for analysis, kill any process running from it, remove what starts it (cron, units, rc), then delete it (chattr -ia first if immutable; %s).", p, rm),
			})
		}
	}
	return ctx.Err()
}
