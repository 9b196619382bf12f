package linux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// CloudAgents reports cloud providers' host security agents that were
// removed (remnants left, binaries gone) or whose units are masked: miners
// uninstall them before they start (signatures/linux/cloud-agents.txt).
type CloudAgents struct{}

func (CloudAgents) Name() string { return "cloudagent" }
func (CloudAgents) OS() string   { return "linux" }

func (c CloudAgents) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	for _, a := range priv().agents {
		installed := ""
		for _, b := range a.Binaries {
			if _, ok := r.lstat(b); ok {
				installed = b
				break
			}
		}
		var remnants []string
		for _, p := range a.Remnants {
			if _, ok := r.lstat(p); ok {
				remnants = append(remnants, p)
			}
		}
		if installed != "" || len(remnants) > 0 {
			state := "installed (" + installed + ")"
			if installed == "" {
				state = "binaries missing"
			}
			r.inventory("cloud-agent", firstOr(installed, remnants), 0, a.Name+": "+state, map[string]string{"agent": a.Name, "state": state, "remnants": strings.Join(remnants, ",")})
		}
		if installed == "" && len(remnants) > 0 {
			m, _ := r.lstat(remnants[0])
			r.emit("cloudagent.removed", r.metaEvidence(remnants[0], m), fmt.Sprintf("%s leaves %s on disk, but none of its programs (%s) exists.", a.Name, strings.Join(remnants, ", "), strings.Join(a.Binaries, ", ")), "name", a.Name)
		}
		for _, u := range a.Units {
			for _, dir := range []string{"/etc/systemd/system", "/run/systemd/system"} {
				p := path.Join(dir, u)
				m, ok := r.lstat(p)
				if !ok {
					continue
				}
				if m.LinkTarget == "/dev/null" {
					r.emit("cloudagent.masked", r.metaEvidence(p, m), fmt.Sprintf("%s is a link to /dev/null: systemd never starts %s of %s.", p, u, a.Name), "name", a.Name, "unit", u)
				}
			}
		}
	}
	return ctx.Err()
}

func firstOr(s string, l []string) string {
	if s != "" || len(l) == 0 {
		return s
	}
	return l[0]
}
