package linux

import (
	"context"
	"fmt"
	"path"

	"github.com/snapscan/snapscan/scanner/check"
)

// History reports shell history switched off: history files linked to
// /dev/null and profile lines that unset HISTFILE or zero its size.
type History struct{}

func (History) Name() string { return "history" }
func (History) OS() string   { return "linux" }

func (c History) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	for _, h := range homes(t) {
		for _, n := range p.list("history", "file") {
			fp := path.Join(h, n)
			m, ok := r.lstat(fp)
			if !ok {
				continue
			}
			r.inventory("shell-history", fp, 0, fp, map[string]string{"link": m.LinkTarget, "size": fmt.Sprint(m.Size)})
			if m.LinkTarget == "/dev/null" {
				r.emit("history.devnull", r.metaEvidence(fp, m), fmt.Sprintf("%s is a symbolic link to /dev/null: nothing the shell records is kept.", fp))
			}
		}
	}
	for _, fp := range r.expandGlobs(p.list("history", "profile")) {
		f := r.read(fp)
		if f == nil || !isText(f.Data) {
			continue
		}
		for _, l := range lines(f.Data) {
			for _, re := range p.histRe {
				if re.MatchString(l.Text) {
					r.emit("history.disabled", at(f, l.N, l.Text), fmt.Sprintf("%s line %d switches shell history off for every shell that reads it.", f.Evidence.Path, l.N))
					break
				}
			}
		}
	}
	return ctx.Err()
}
