package linux

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"unicode"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// UnitKV is one Key=Value assignment of a unit file, with its section and
// the line it starts on (continuation lines are joined).
type UnitKV struct {
	Section, Key, Value string
	Line                int
}

// ParseUnit parses systemd's INI dialect: [Section] headers, Key=Value,
// '#' and ';' comment lines, trailing-backslash continuation. bad holds the
// lines that are none of these.
func ParseUnit(data []byte) (kvs []UnitKV, bad []int) {
	section := ""
	var cur *UnitKV
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if cur != nil {
			// systemd keeps comment lines inside a continuation out of the value.
			if t != "" && t[0] != '#' && t[0] != ';' {
				if strings.HasSuffix(t, "\\") {
					cur.Value += " " + strings.TrimSpace(strings.TrimSuffix(t, "\\"))
					continue
				}
				cur.Value += " " + t
			}
			if t == "" || (t[0] != '#' && t[0] != ';') {
				kvs = append(kvs, *cur)
				cur = nil
			}
			continue
		}
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if t[0] == '[' {
			if !strings.HasSuffix(t, "]") {
				bad = append(bad, l.N)
				continue
			}
			section = t[1 : len(t)-1]
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsFunc(k, unicode.IsSpace) {
			bad = append(bad, l.N)
			continue
		}
		kv := UnitKV{Section: section, Key: k, Value: strings.TrimSpace(v), Line: l.N}
		if strings.HasSuffix(kv.Value, "\\") {
			kv.Value = strings.TrimSpace(strings.TrimSuffix(kv.Value, "\\"))
			cur = &kv
			continue
		}
		kvs = append(kvs, kv)
	}
	if cur != nil {
		kvs = append(kvs, *cur)
	}
	return kvs, bad
}

// execKeys are the unit settings that run a command.
var execKeys = map[string]bool{
	"ExecStart": true, "ExecStartPre": true, "ExecStartPost": true, "ExecReload": true,
	"ExecStop": true, "ExecStopPost": true, "ExecCondition": true,
}

// ExecCommand strips systemd's executable prefixes (-, @, :, +, !, !!).
func ExecCommand(v string) string {
	return strings.TrimSpace(strings.TrimLeft(v, "-@:+!"))
}

// Unit is one unit file as the inventory shows it.
type Unit struct {
	Name        string
	Path        string
	Description string
	Exec        []UnitKV // Exec* settings, in file order
	WantedBy    []string
	Timer       string // for a .timer: the unit it triggers
	EnabledBy   []string
	TriggeredBy []string
	DropIns     []string
	file        *check.File
}

// Systemd inventories and judges units, drop-ins, enabling links and timers.
type Systemd struct{}

func (Systemd) Name() string { return "systemd" }
func (Systemd) OS() string   { return "linux" }

var unitPlace = place{
	prefix: "systemd", what: "systemd unit", technique: "T1543.002",
	remedy: "Preserve a copy of %s, then disable the unit (remove its links in *.wants/ or *.requires/, or systemctl disable on the live host), " +
		"delete the unit file, run systemctl daemon-reload, kill its process and remove the binary it starts.",
}

var dropInPlace = place{
	prefix: "systemd", what: "systemd drop-in", technique: "T1543.002",
	remedy: "Preserve a copy of %s, then delete this drop-in (it overrides the unit's commands), run systemctl daemon-reload and restart or stop the unit.",
}

var unitSuffixes = []string{".service", ".timer", ".socket", ".path"}

func isUnitName(n string) bool {
	for _, s := range unitSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// templateOf maps an instance name (getty@tty1.service) to its template.
func templateOf(n string) string {
	at := strings.IndexByte(n, '@')
	dot := strings.LastIndexByte(n, '.')
	if at < 0 || dot < at {
		return n
	}
	return n[:at+1] + n[dot:]
}

func (c Systemd) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	var units []*Unit
	byName := map[string]*Unit{}
	enabled := map[string][]string{}
	dropins := map[string][]*check.File{}
	extraLinks := map[string]string{} // unit name -> path of a link target outside the unit dirs
	seenDir := map[string]bool{}
	aliases := map[string][]string{}
	unitDirs := map[string]bool{}
	for _, d := range sigs().loc("systemd", "unit-dir") {
		unitDirs[d] = !strings.HasPrefix(d, "~")
	}
	seenFile := map[string]bool{} // by image path

	var dirs []string
	hs := homes(t)
	for _, d := range sigs().loc("systemd", "unit-dir") {
		dirs = append(dirs, expandHome(d, hs)...)
	}
	for _, dir := range dirs {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		m, ok := r.stat(dir)
		if !ok || !m.Mode.IsDir() {
			continue
		}
		// Merged-/usr images see /usr/lib/systemd/system again through the
		// /lib symlink: one directory, counted once.
		if real, ok := realPath(t.FS, dir); !ok || seenDir[real] {
			continue
		} else {
			seenDir[real] = true
		}
		for _, e := range capEntries(r, dir, r.readDir(dir)) {
			name := e.Name()
			p := path.Join(dir, name)
			switch {
			case e.IsDir() && (strings.HasSuffix(name, ".wants") || strings.HasSuffix(name, ".requires")):
				for _, l := range capEntries(r, p, r.readDir(p)) {
					enabled[l.Name()] = append(enabled[l.Name()], path.Join(dir, name))
					if tgt, err := t.FS.ReadLink(check.Clean(path.Join(p, l.Name()))); err == nil {
						extraLinks[l.Name()] = resolveLink(path.Join(p, l.Name()), tgt)
					}
				}
			case e.IsDir() && strings.HasSuffix(name, ".d"):
				unit := strings.TrimSuffix(name, ".d")
				for _, d := range capEntries(r, p, r.readDir(p)) {
					if strings.HasSuffix(d.Name(), ".conf") && !d.IsDir() {
						if f := r.read(path.Join(p, d.Name())); f != nil {
							dropins[unit] = append(dropins[unit], f)
						}
					}
				}
			case !e.IsDir() && isUnitName(name):
				if e.Type()&fs.ModeSymlink != 0 {
					tgt, err := t.FS.ReadLink(check.Clean(p))
					if err == nil && (tgt == "/dev/null" || tgt == "") {
						r.inventory("systemd", p, 0, name+" masked", map[string]string{"unit": name, "masked": "true"})
						continue
					}
					// An alias (sshd.service -> /lib/systemd/system/ssh.service)
					// is judged once, as its target; a link out of the unit
					// directories is read and judged here.
					if abs := resolveLink(p, tgt); err == nil && unitDirs[path.Dir(abs)] {
						aliases[path.Base(abs)] = append(aliases[path.Base(abs)], name)
						r.inventory("systemd", p, 0, name+" alias of "+abs, map[string]string{"unit": name, "alias_of": abs})
						continue
					}
				}
				// A same-named unit in a lower-priority directory is not what
				// systemd runs, but it is a file on disk: judged all the same.
				f := r.read(p)
				if f == nil {
					continue
				}
				seenFile[f.Path] = true
				u := r.parseUnit(name, f)
				units = append(units, u)
				if byName[name] == nil {
					byName[name] = u
				}
			}
		}
	}
	// Units enabled through a link to a file outside the unit directories
	// (/opt/x.service, /tmp/y.service) are only found through that link.
	for name, tgt := range extraLinks {
		if byName[name] != nil || byName[templateOf(name)] != nil || tgt == "" {
			continue
		}
		if unitDirs[path.Dir(tgt)] {
			continue // judged where it lives, under its own name
		}
		if f := r.read(tgt); f != nil && !seenFile[f.Path] {
			seenFile[f.Path] = true
			u := r.parseUnit(name, f)
			units = append(units, u)
			byName[name] = u
		}
	}
	triggered := map[string][]string{}
	for _, u := range units {
		if u.Timer != "" {
			triggered[u.Timer] = append(triggered[u.Timer], u.Name)
		}
	}
	for _, u := range units {
		u.EnabledBy = append(enabled[u.Name], enabledIfTemplate(u.Name, enabled)...)
		for _, a := range aliases[u.Name] {
			for _, by := range enabled[a] {
				u.EnabledBy = append(u.EnabledBy, by+" (as "+a+")")
			}
		}
		u.TriggeredBy = triggered[u.Name]
		for _, f := range dropins[u.Name] {
			u.DropIns = append(u.DropIns, f.Path)
		}
		r.judgeUnit(u)
	}
	// Drop-ins: their own Exec lines override the unit's and are judged
	// against the drop-in file.
	names := make([]string, 0, len(dropins))
	for n := range dropins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, f := range dropins[n] {
			kvs, bad := ParseUnit(f.Data)
			for _, b := range bad {
				r.out.Error(f.Path, fmt.Errorf("%s: line %d is not a unit setting", t.Volume, b))
			}
			for _, kv := range kvs {
				if !execKeys[kv.Key] {
					continue
				}
				cmd := ExecCommand(kv.Value)
				r.inventory("systemd-dropin", f.Path, kv.Line, n+" "+kv.Key+"="+kv.Value,
					map[string]string{"unit": n, "key": kv.Key, "command": cmd})
				r.judgeEntry(dropInPlace, at(f, kv.Line, kv.Key+"="+kv.Value), cmd, systemdPath, "Drop-in for "+n+".")
			}
		}
	}
	return ctx.Err()
}

func enabledIfTemplate(name string, enabled map[string][]string) []string {
	if !strings.Contains(name, "@.") {
		return nil
	}
	var out []string
	for inst, by := range enabled {
		if inst != name && templateOf(inst) == name {
			for _, b := range by {
				out = append(out, b+" ("+inst+")")
			}
		}
	}
	sort.Strings(out)
	return out
}

// resolveLink makes a link target absolute in the image.
func resolveLink(linkPath, target string) string {
	if strings.HasPrefix(target, "/") {
		return path.Clean(target)
	}
	return path.Join(path.Dir("/"+check.Clean(linkPath)), target)
}

func (r *run) parseUnit(name string, f *check.File) *Unit {
	u := &Unit{Name: name, Path: f.Path, file: f}
	kvs, bad := ParseUnit(f.Data)
	for _, b := range bad {
		r.out.Error(f.Path, fmt.Errorf("%s: line %d is not a unit setting", r.t.Volume, b))
	}
	for _, kv := range kvs {
		switch {
		case execKeys[kv.Key]:
			u.Exec = append(u.Exec, kv)
		case kv.Key == "Description" && kv.Section == "Unit":
			u.Description = kv.Value
		case kv.Key == "WantedBy" || kv.Key == "RequiredBy":
			u.WantedBy = append(u.WantedBy, strings.Fields(kv.Value)...)
		case kv.Key == "Unit" && kv.Section == "Timer":
			u.Timer = kv.Value
		}
	}
	if strings.HasSuffix(name, ".timer") && u.Timer == "" {
		u.Timer = strings.TrimSuffix(name, ".timer") + ".service"
	}
	return u
}

func (r *run) judgeUnit(u *Unit) {
	f := u.file
	fields := map[string]string{"unit": u.Name, "description": u.Description}
	var execs []string
	for _, e := range u.Exec {
		execs = append(execs, e.Key+"="+e.Value)
	}
	fields["exec"] = strings.Join(execs, "\n")
	if len(u.EnabledBy) > 0 {
		fields["enabled_by"] = strings.Join(u.EnabledBy, ", ")
	}
	if len(u.WantedBy) > 0 {
		fields["wanted_by"] = strings.Join(u.WantedBy, ", ")
	}
	if len(u.TriggeredBy) > 0 {
		fields["triggered_by"] = strings.Join(u.TriggeredBy, ", ")
	}
	if len(u.DropIns) > 0 {
		fields["drop_ins"] = strings.Join(u.DropIns, ", ")
	}
	if u.Timer != "" {
		fields["triggers"] = u.Timer
	}
	summary := u.Name
	if len(execs) > 0 {
		summary += ": " + execs[0]
	}
	r.inventory("systemd", f.Path, 0, summary, fields)

	state := "not enabled by any link"
	if len(u.EnabledBy) > 0 {
		state = "enabled by " + strings.Join(u.EnabledBy, ", ")
	}
	if len(u.TriggeredBy) > 0 {
		state += "; triggered by " + strings.Join(u.TriggeredBy, ", ")
	}
	for _, m := range sigs().markersOf("unit") {
		if u.Name == m.Pattern {
			r.finding(report.Finding{
				Rule: "systemd.family-unit", Severity: m.Severity, Technique: m.Technique, Family: m.Family,
				Title:       fmt.Sprintf("%s unit %s", m.Family, u.Name),
				Description: m.Description + " (" + state + ").",
				Evidence:    f.Evidence,
				Remediation: fmt.Sprintf(unitPlace.remedy, f.Evidence.Path),
			})
		}
	}
	for _, e := range u.Exec {
		cmd := ExecCommand(e.Value)
		r.judgeEntry(unitPlace, at(f, e.Line, e.Key+"="+e.Value), cmd, systemdPath, "Unit "+u.Name+", "+state+".")
	}
}
