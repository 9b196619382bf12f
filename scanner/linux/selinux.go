package linux

import (
	"context"
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// SELinux reports SELinux switched off in its boot configuration, which
// most miner droppers do (setenforce 0 plus an edit of the config).
type SELinux struct{}

func (SELinux) Name() string { return "selinux" }
func (SELinux) OS() string   { return "linux" }

func (c SELinux) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	for _, p := range priv().list("selinux", "config") {
		f := r.read(p)
		if f == nil || !isText(f.Data) {
			continue
		}
		for _, l := range lines(f.Data) {
			k, v, ok := strings.Cut(strings.TrimSpace(l.Text), "=")
			if !ok || strings.TrimSpace(k) != "SELINUX" {
				continue
			}
			v = strings.ToLower(strings.Trim(strings.TrimSpace(v), `"'`))
			r.inventory("selinux", f.Path, l.N, "SELINUX="+v, map[string]string{"mode": v})
			desc := fmt.Sprintf("%s line %d sets SELINUX=%s: from the next boot SELinux does not enforce its policy.", f.Evidence.Path, l.N, v)
			switch v {
			case "disabled":
				r.emit("selinux.disabled", at(f, l.N, l.Text), desc)
			case "permissive":
				r.emit("selinux.permissive", at(f, l.N, l.Text), desc)
			}
		}
	}
	return ctx.Err()
}
