package windows

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
	"www.velocidex.com/golang/regparser"
)

// Hive locations relative to the Windows volume root.
const (
	softwareHive = "Windows/System32/config/SOFTWARE"
	systemHive   = "Windows/System32/config/SYSTEM"
	usersDir     = "Users"
	ntuserName   = "NTUSER.DAT"
)

// RunKeys reports the Run/RunOnce family of keys, machine-wide and for every
// user, and non-default Winlogon Shell/Userinit values. Both live in the same
// hives, so one check reads each hive once.
type RunKeys struct{}

func (RunKeys) Name() string { return "runkeys" }
func (RunKeys) OS() string   { return "windows" }

// hiveRef is a hive to read and whose keys it holds.
type hiveRef struct {
	kind   string // SOFTWARE or NTUSER (autostart-keys.txt)
	path   string
	user   string
	prefix string // how keys in it are shown: HKLM\Software or HKCU
}

// userHives lists every profile's NTUSER.DAT (Default included: a value
// planted there is copied into every profile created later).
func userHives(t *check.Target) []hiveRef {
	var out []hiveRef
	for _, dir := range expandFold(t.FS, usersDir+"/*") {
		p, err := resolveFold(t.FS, path.Join(dir, ntuserName))
		if err != nil {
			continue
		}
		out = append(out, hiveRef{kind: "NTUSER", path: p, user: path.Base(dir), prefix: "HKCU"})
	}
	return out
}

// openFor opens a hive (through its transaction logs when it is dirty),
// records its recovery state for the report and reports what is wrong with
// it; nil when absent or unreadable (the error has gone to out). A dirty hive
// whose logs could not be applied is an error, so the verdict cannot be
// clean.
func openFor(t *check.Target, out check.Sink, name string) *hive {
	h, err := openHive(t, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			out.Error("/"+name, fmt.Errorf("%s: %w", t.Volume, err))
		}
		return nil
	}
	check.ReportHive(out, h.state())
	if h.dirty() {
		out.Error("/"+h.path, fmt.Errorf("%s: %w", t.Volume, h.dirtyError()))
	}
	return h
}

func (c RunKeys) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	refs := []hiveRef{{kind: "SOFTWARE", path: softwareHive, prefix: `HKLM\Software`}}
	refs = append(refs, userHives(t)...)
	for _, ref := range refs {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		h := openFor(t, out, ref.path)
		if h == nil {
			continue
		}
		for _, ak := range r.autostart {
			if ak.hive == ref.kind {
				c.runKey(r, t, out, h, ref, ak)
			}
		}
		c.winlogon(r, t, out, h, ref)
	}
	return nil
}

func (c RunKeys) runKey(r *rules, t *check.Target, out check.Sink, h *hive, ref hiveRef, ak autostartKey) {
	k, err := h.open(ak.path)
	if err != nil {
		h.fail(out, t.Volume, "key "+ak.path, err)
	}
	if k == nil {
		return
	}
	keys := []*regKey{k}
	shown := []string{ref.prefix + `\` + ak.path}
	if ak.kind == "runex" {
		// RunOnceEx keeps its commands in numbered subkeys.
		subs, err := k.Subkeys()
		if err != nil {
			h.fail(out, t.Volume, "key "+ak.path, err)
		}
		for _, s := range subs {
			keys = append(keys, s)
			shown = append(shown, shown[0]+`\`+s.Name())
		}
	}
	for i, key := range keys {
		vals, err := key.Values()
		if err != nil {
			h.fail(out, t.Volume, "key "+shown[i], err)
		}
		for _, v := range vals {
			if v.DataErr != nil {
				h.fail(out, t.Volume, "value "+shown[i]+`\`+v.Name, v.DataErr)
				continue
			}
			if !isText(v) || v.Text() == "" {
				continue
			}
			cmdline := v.Text()
			if ak.kind == "runex" {
				cmdline = strings.TrimLeft(cmdline, "|")
			}
			pc := r.parseCommand(cmdline, ref.user)
			e := entry{
				Place: "runkey", Kind: "run-key", Name: v.Name, Key: shown[i] + `\` + v.Name,
				Command: v.Text(), Target: pc.Exe, User: ref.user, Ev: h.evidence,
				Fields: map[string]string{"last_write": fmtTime(key.LastWrite()), "program": pc.Exe, "hive": ref.kind},
			}
			emit(r, c.Name(), out, e, r.judge(cmdline, ref.user, logonPlace))
		}
	}
}

func isText(v regValue) bool {
	switch v.Type {
	case regparser.REG_SZ, regparser.REG_EXPAND_SZ, regparser.REG_MULTI_SZ:
		return true
	}
	return false
}

// winlogon reports the Winlogon values of this hive; a value that is not one
// of its defaults is a finding, and what it adds is judged like any command.
func (c RunKeys) winlogon(r *rules, t *check.Target, out check.Sink, h *hive, ref hiveRef) {
	type slot struct{ key, value string }
	defaults := map[slot][]string{}
	sevs := map[slot]severity{}
	var order []slot
	for _, w := range r.winlogon {
		if w.hive != ref.kind {
			continue
		}
		s := slot{w.key, w.value}
		if _, ok := defaults[s]; !ok {
			order = append(order, s)
			sevs[s] = w.sev
		}
		defaults[s] = append(defaults[s], w.def)
	}
	for _, s := range order {
		k, err := h.open(s.key)
		if err != nil {
			h.fail(out, t.Volume, "key "+s.key, err)
		}
		if k == nil {
			continue
		}
		v, ok, err := k.Value(s.value)
		if err != nil {
			h.fail(out, t.Volume, "key "+s.key, err)
		}
		if !ok || !isText(v) {
			continue
		}
		shown := ref.prefix + `\` + s.key + `\` + v.Name
		e := entry{
			Place: "winlogon", Kind: "winlogon", Name: v.Name, Key: shown, Command: v.Text(), User: ref.user,
			Ev: h.evidence, Fields: map[string]string{"last_write": fmtTime(k.LastWrite()), "hive": ref.kind},
		}
		var hits []hit
		if !isDefault(v.Text(), defaults[s]) {
			if !sevs[s].none {
				hits = append(hits, hit{Rule: "non-default", Title: "Winlogon " + v.Name + " differs from the Windows default", Severity: sevs[s].Severity, Match: v.Text()})
			}
			// Userinit and Shell are comma-separated lists of programs.
			for _, part := range strings.Split(v.Text(), ",") {
				part = strings.TrimSpace(part)
				if part == "" || isDefault(part, defaults[s]) {
					continue
				}
				if e.Target == "" {
					e.Target = r.parseCommand(part, ref.user).Exe
				}
				hits = append(hits, r.judge(part, ref.user, logonPlace)...)
			}
		}
		emit(r, c.Name(), out, e, dedupe(hits))
	}
}

func isDefault(v string, defs []string) bool {
	norm := func(s string) string {
		return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), ","))
	}
	for _, d := range defs {
		if norm(v) == norm(d) {
			return true
		}
	}
	return false
}
