package linux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// RenamedTools finds download and attribute tools copied under another
// name in the command directories (TeamTNT's cd1/wd1, WatchDog's chattr
// copies) and look-alike names whose original is gone.
type RenamedTools struct{}

func (RenamedTools) Name() string { return "renamed" }
func (RenamedTools) OS() string   { return "linux" }

func (c RenamedTools) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	type orig struct {
		path string
		sha  string
	}
	bySize := map[int64][]orig{}
	present := map[string]bool{}
	tools := p.list("renamed", "tool")
	isTool := map[string]bool{}
	var dirs []string
	seenDir := map[string]bool{}
	for _, d := range p.list("common", "command-dir") {
		if real, ok := realPath(t.FS, d); ok && !seenDir[real] {
			seenDir[real] = true
			dirs = append(dirs, d)
		}
	}
	seenSHA := map[string]bool{}
	for _, tool := range tools {
		isTool[tool] = true
		for _, d := range dirs {
			fp := path.Join(d, tool)
			m, ok := r.stat(fp)
			if !ok || !m.Mode.IsRegular() {
				continue
			}
			present[tool] = true
			f := r.read(fp)
			if f == nil {
				continue
			}
			r.inventory("download-tool", fp, 0, fp+" "+f.Evidence.SHA256, map[string]string{"tool": tool, "sha256": f.Evidence.SHA256})
			if isELF(f.Data) && !seenSHA[f.Evidence.SHA256] {
				seenSHA[f.Evidence.SHA256] = true
				bySize[int64(len(f.Data))] = append(bySize[int64(len(f.Data))], orig{fp, f.Evidence.SHA256})
			}
		}
	}
	looks := map[string]string{}
	for _, v := range p.list("renamed", "lookalike") {
		if n, tool, ok := strings.Cut(v, ":"); ok {
			looks[n] = tool
		}
	}
	for _, d := range dirs {
		for _, e := range r.readDirQuiet(d) {
			if !e.Type().IsRegular() || isTool[e.Name()] {
				continue
			}
			fp := path.Join(d, e.Name())
			copied := false
			if info, err := e.Info(); err == nil {
				if cands := bySize[info.Size()]; len(cands) > 0 {
					if f := r.read(fp); f != nil {
						for _, o := range cands {
							if o.sha == f.Evidence.SHA256 {
								copied = true
								r.inventory("renamed-tool", f.Path, 0, fp+" = "+o.path, map[string]string{"copy_of": o.path, "sha256": o.sha})
								r.emit("renamed.copy", f.Evidence, fmt.Sprintf("%s has the same content (SHA-256 %s) as %s.", fp, o.sha, o.path), "name", o.path)
							}
						}
					}
				}
			}
			tool, ok := looks[e.Name()]
			if !ok || copied {
				continue
			}
			f := r.read(fp)
			if f == nil || !(isELF(f.Data) || isScript(f.Data)) {
				continue
			}
			r.inventory("renamed-tool", f.Path, 0, fp+" named like "+tool, map[string]string{"lookalike_of": tool})
			if !present[tool] {
				r.emit("renamed.missing-original", f.Evidence, fmt.Sprintf("%s is an executable named like a renamed copy of %s, and %s is in none of %s.", fp, tool, tool, strings.Join(dirs, ", ")), "name", tool)
			} else {
				r.emit("renamed.lookalike", f.Evidence, fmt.Sprintf("%s is an executable named like a renamed copy of %s, with different content.", fp, tool), "name", tool)
			}
		}
	}
	return ctx.Err()
}
