package linux

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Sysctl reports kernel settings miners make for speed (the NMI watchdog
// off, huge pages reserved for RandomX). One alone is weak — databases
// reserve huge pages too — so it is low; two marks together are medium.
type Sysctl struct{}

func (Sysctl) Name() string { return "sysctl" }
func (Sysctl) OS() string   { return "linux" }

// SysctlSetting is one key = value line.
type SysctlSetting struct {
	Line       int
	Key, Value string
}

// ParseSysctl reads sysctl.conf syntax: key = value, '#' and ';' comments,
// a leading '-' (ignore errors) dropped, '/' separators normalised to '.'.
func ParseSysctl(data []byte) []SysctlSetting {
	var out []SysctlSetting
	for _, l := range lines(data) {
		s := strings.TrimSpace(l.Text)
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		k = strings.ReplaceAll(strings.TrimPrefix(strings.TrimSpace(k), "-"), "/", ".")
		out = append(out, SysctlSetting{l.N, k, strings.TrimSpace(v)})
	}
	return out
}

func (c Sysctl) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	files := append([]string{}, p.list("sysctl", "file")...)
	// sysctl.d: a name in an earlier directory overrides the same name in
	// a later one; every file is read here, the override noted as inventory.
	for _, d := range p.list("sysctl", "dir") {
		var names []string
		for _, e := range r.readDirQuiet(d) {
			if strings.HasSuffix(e.Name(), ".conf") && !e.IsDir() {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, path.Join(d, n))
		}
	}
	type hit struct {
		ev       report.Evidence
		key, val string
	}
	var hits []hit
	keys := map[string]bool{}
	for _, fp := range files {
		f := r.read(fp)
		if f == nil || !isText(f.Data) {
			continue
		}
		for _, s := range ParseSysctl(f.Data) {
			r.inventory("sysctl", f.Path, s.Line, s.Key+" = "+s.Value, map[string]string{"key": s.Key, "value": s.Value})
			for _, m := range p.marks {
				if s.Key == m.Key && m.Re.MatchString(s.Value) {
					hits = append(hits, hit{at(f, s.Line, lineText(f.Data, s.Line)), s.Key, s.Value})
					keys[s.Key] = true
				}
			}
		}
	}
	for _, h := range hits {
		var others []string
		for k := range keys {
			if k != h.key {
				others = append(others, k)
			}
		}
		sort.Strings(others)
		if len(others) > 0 {
			r.emit("sysctl.miner-tuning-combined", h.ev, fmt.Sprintf("%s = %s, set together with %s: the tuning XMRig's documentation recommends for RandomX.", h.key, h.val, strings.Join(others, ", ")), "key", h.key, "value", h.val)
		} else {
			r.emit("sysctl.miner-tuning", h.ev, fmt.Sprintf("%s = %s. Miners set it; so do some database and latency tunings.", h.key, h.val), "key", h.key, "value", h.val)
		}
	}
	return ctx.Err()
}
