package linux

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/scanner/check"
)

// Autostart inventories and judges the autostarts no other check reads:
// pending at jobs, PAM pam_exec lines and modules outside the distribution's
// directories, udev RUN/PROGRAM keys, XDG autostart entries, update-motd.d
// scripts, and Redis (loadmodule lines, rogue modules in writable places).
type Autostart struct{}

func (Autostart) Name() string { return "autostart" }
func (Autostart) OS() string   { return "linux" }

var (
	atPlace = place{prefix: "at", what: "at job", technique: "T1053.002",
		remedy: "Preserve a copy of %s, then remove the job (atrm on the live host, or delete the spool file) and what it fetched or runs."}
	pamPlace = place{prefix: "pam", what: "PAM pam_exec line", technique: "T1556.003",
		remedy: "Preserve a copy of %s, then remove the pam_exec line (keep a root shell open while editing PAM), and check what the command captured or started."}
	udevPlace = place{prefix: "udev", what: "udev rule", technique: "T1546.017",
		remedy: "Preserve a copy of %s, remove the rule (udevadm control --reload on the live host) and what it runs."}
	xdgPlace = place{prefix: "xdg", what: "XDG autostart entry", technique: "T1547.013",
		remedy: "Preserve a copy of %s, then delete the .desktop file and what its Exec line runs."}
	motdPlace = place{prefix: "motd", what: "update-motd.d script", technique: "T1037.004",
		remedy: "Preserve a copy of %s, then remove the script (or the offending line; pam_motd runs it as root at every login) and what it fetched or runs."}
)

// udev's helpers live in /lib/udev; RUN names without a '/' are found there.
var udevPath = []string{"/lib/udev", "/usr/lib/udev"}

func (c Autostart) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	for _, d := range s.loc("autostart", "at-dir") {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if !e.IsDir() && e.Name() != ".SEQ" && !strings.HasPrefix(e.Name(), ".lock") {
				r.atJob(path.Join(d, e.Name()))
			}
		}
	}
	r.pam(s.loc("autostart", "pam-dir"), s.loc("autostart", "pam-file"), s.loc("autostart", "pam-module-dir"))
	for _, d := range s.loc("autostart", "udev-dir") {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".rules") {
				r.udevRules(path.Join(d, e.Name()))
			}
		}
	}
	for _, d := range r.expandGlobs(s.loc("autostart", "xdg-dir")) {
		for _, e := range capEntries(r, d, r.readDirQuiet(d)) {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".desktop") {
				r.desktopEntry(path.Join(d, e.Name()))
			}
		}
	}
	for _, d := range s.loc("autostart", "motd-dir") {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if !e.IsDir() {
				r.script(path.Join(d, e.Name()), "motd", motdPlace)
			}
		}
	}
	if check.Deadline(ctx) {
		return ctx.Err()
	}
	r.redis(s.loc("autostart", "redis-conf"), s.loc("autostart", "redis-module-dir"), expandHome2(s.loc("autostart", "redis-bad-dir"), homes(t)))
	return ctx.Err()
}

// atJob: at(1) writes a shell script that restores the environment, cds,
// and then holds the user's commands; every line is judged (the
// environment lines match nothing).
func (r *run) atJob(p string) {
	f := r.read(p)
	if f == nil || !isText(f.Data) {
		return
	}
	ls := shellLines(f.Data)
	user := ""
	for _, l := range lines(f.Data) {
		if u, ok := strings.CutPrefix(l.Text, "# atrun uid="); ok {
			user = u
		}
	}
	r.inventory("at-job", f.Path, 0, f.Path, map[string]string{"lines": fmt.Sprint(len(ls)), "owner": user})
	for _, l := range ls {
		if isAssignment(l.Text) && strings.Contains(l.Text, "; export ") {
			continue // VAR=value; export VAR, the saved environment
		}
		r.judgeEntry(atPlace, at(f, l.N, l.Text), l.Text, shellPath, "Pending at job.")
	}
}

// PAMLine is one rule of a PAM configuration file.
type PAMLine struct {
	Line                  int
	Type, Control, Module string
	Args                  []string
}

// ParsePAM parses pam.d syntax (pam.conf's has the service first: service
// true). Control may be a [...] block; @include and - prefixes are kept in
// Type. Lines that are too short are in bad.
func ParsePAM(data []byte, service bool) (out []PAMLine, bad []int) {
	for _, l := range shellLines(data) {
		t := l.Text
		if strings.HasPrefix(t, "@include") {
			continue
		}
		if service {
			_, t = cutField(t)
		}
		typ, rest := cutField(t)
		rest = strings.TrimSpace(rest)
		var ctl string
		if strings.HasPrefix(rest, "[") {
			i := strings.IndexByte(rest, ']')
			if i < 0 {
				bad = append(bad, l.N)
				continue
			}
			ctl, rest = rest[:i+1], rest[i+1:]
		} else {
			ctl, rest = cutField(rest)
		}
		mod, rest := cutField(rest)
		if typ == "" || ctl == "" || mod == "" {
			bad = append(bad, l.N)
			continue
		}
		pl := PAMLine{Line: l.N, Type: typ, Control: ctl, Module: mod, Args: strings.Fields(rest)}
		out = append(out, pl)
	}
	return out, bad
}

// pam_exec options before the command (pam_exec(8)).
func pamExecCommand(args []string) string {
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "debug" || a == "expose_authtok" || a == "seteuid" || a == "quiet" || a == "stdout" ||
			strings.HasPrefix(a, "log=") || strings.HasPrefix(a, "type=") {
			i++
			continue
		}
		break
	}
	return strings.Join(args[i:], " ")
}

func (r *run) pam(dirs, files, moduleDirs []string) {
	type src struct {
		p       string
		service bool
	}
	var srcs []src
	for _, d := range dirs {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if !e.IsDir() {
				srcs = append(srcs, src{path.Join(d, e.Name()), false})
			}
		}
	}
	for _, p := range files {
		srcs = append(srcs, src{p, true})
	}
	// A module named without a path must be in one of the directories; only
	// judged when the image has one (a partial image may lack /lib).
	var haveDirs []string
	for _, d := range moduleDirs {
		if m, ok := r.stat(d); ok && m.Mode.IsDir() {
			haveDirs = append(haveDirs, d)
		}
	}
	for _, sc := range srcs {
		f := r.read(sc.p)
		if f == nil || !isText(f.Data) {
			continue
		}
		ls, bad := ParsePAM(f.Data, sc.service)
		for _, b := range bad {
			r.out.Error(f.Path, fmt.Errorf("%s: line %d is not a PAM rule", r.t.Volume, b))
		}
		for _, l := range ls {
			r.inventory("pam", f.Path, l.Line, l.Type+" "+l.Control+" "+l.Module+" "+strings.Join(l.Args, " "),
				map[string]string{"type": l.Type, "control": l.Control, "module": l.Module, "args": strings.Join(l.Args, " ")})
			ev := at(f, l.Line, l.Type+" "+l.Control+" "+l.Module+" "+strings.Join(l.Args, " "))
			if path.Base(l.Module) == "pam_exec.so" {
				if cmd := pamExecCommand(l.Args); cmd != "" {
					r.judgeEntry(pamPlace, ev, cmd, shellPath, "PAM runs it for "+l.Type+" in "+f.Evidence.Path+".")
				}
			}
			switch {
			case strings.HasPrefix(l.Module, "/"):
				if !underAny(path.Clean(l.Module), moduleDirs) {
					r.emit("autostart.pam-module-stray", ev, fmt.Sprintf("%s loads %s for %s; the distribution's modules are in %s.",
						f.Evidence.Path, l.Module, l.Type, strings.Join(moduleDirs, ", ")), "name", l.Module)
				}
			case len(haveDirs) > 0 && strings.HasSuffix(l.Module, ".so"):
				found := false
				for _, d := range haveDirs {
					_, ok := r.stat(path.Join(d, l.Module))
					found = found || ok
				}
				if !found && !strings.HasPrefix(l.Type, "-") { // "-session": a module allowed to be missing
					r.emit("autostart.pam-module-unknown", ev, fmt.Sprintf("%s names %s, which is in none of %s.",
						f.Evidence.Path, l.Module, strings.Join(haveDirs, ", ")), "name", l.Module)
				}
			}
		}
	}
}

// udev rule keys that run a program.
var udevRunKeys = []string{"RUN+=", "RUN=", "PROGRAM=", "IMPORT{program}="}

func (r *run) udevRules(p string) {
	f := r.read(p)
	if f == nil || !isText(f.Data) {
		return
	}
	for _, l := range shellLines(f.Data) {
		for _, kv := range strings.Split(l.Text, ",") {
			kv = strings.TrimSpace(kv)
			for _, k := range udevRunKeys {
				v, ok := strings.CutPrefix(kv, k)
				if !ok || strings.HasPrefix(k, "RUN") && strings.HasPrefix(strings.Trim(v, `"`), "builtin") {
					continue
				}
				cmd := strings.Trim(v, `"`)
				r.inventory("udev-run", f.Path, l.N, cmd, map[string]string{"key": strings.TrimRight(k, "+="), "command": cmd})
				r.judgeEntry(udevPlace, at(f, l.N, l.Text), cmd, append(append([]string{}, udevPath...), systemdPath...), "udev runs it as root when a device event matches.")
			}
		}
	}
}

func (r *run) desktopEntry(p string) {
	f := r.read(p)
	if f == nil || !isText(f.Data) {
		return
	}
	for _, l := range lines(f.Data) {
		v, ok := strings.CutPrefix(strings.TrimSpace(l.Text), "Exec=")
		if !ok {
			continue
		}
		r.inventory("xdg-autostart", f.Path, l.N, v, map[string]string{"exec": v})
		r.judgeEntry(xdgPlace, at(f, l.N, l.Text), v, shellPath, "Runs when a desktop session of any user starts.")
	}
}

// redis: loadmodule lines of redis.conf outside the package's module
// directories, and ELF files exporting RedisModule_OnLoad in writable
// directories (rogue-master MODULE LOAD leaves exp.so or similar).
func (r *run) redis(confs, moduleDirs, badDirs []string) {
	for _, p := range r.expandGlobs(confs) {
		f := r.read(p)
		if f == nil || !isText(f.Data) {
			continue
		}
		for _, l := range lines(f.Data) {
			k, rest := cutField(l.Text)
			if strings.EqualFold(k, "dir") {
				d, _ := cutField(rest)
				d = path.Clean("/" + strings.Trim(d, `"'`))
				if underAny(d, badDirs) {
					r.emit("autostart.redis-dir", at(f, l.N, l.Text), fmt.Sprintf("%s line %d makes Redis write its dump into %s, where cron, sshd or a shell reads it.",
						f.Evidence.Path, l.N, d), "name", d)
				}
				continue
			}
			if !strings.EqualFold(k, "loadmodule") {
				continue
			}
			mod, _ := cutField(rest)
			r.inventory("redis-module", f.Path, l.N, mod, map[string]string{"module": mod})
			if mod != "" && !underAny(path.Clean(mod), moduleDirs) {
				r.emit("autostart.redis-loadmodule", at(f, l.N, l.Text), fmt.Sprintf("%s line %d loads %s into Redis at start; the package's modules are in %s.",
					f.Evidence.Path, l.N, mod, strings.Join(moduleDirs, ", ")), "name", mod)
			}
		}
	}
	for _, d := range writableDirs(r.t) {
		r.walkFiles(d, func(p string, m *fsread.Meta) {
			if m.Size > maxFollowELF || !isELF(r.head(p, 4)) {
				return
			}
			f, _ := check.ReadFileMax(r.t, p, maxFollowELF)
			if f == nil || !bytes.Contains(f.Data, []byte("RedisModule_OnLoad")) {
				return
			}
			r.inventory("redis-module", f.Path, 0, f.Path, map[string]string{"module": f.Path})
			r.emit("autostart.redis-module", f.Evidence, fmt.Sprintf("%s is a shared object exporting RedisModule_OnLoad, in a writable directory.", f.Evidence.Path), "name", f.Evidence.Path)
		})
	}
}

// expandHome2 expands "~/" of every path over the homes.
func expandHome2(ps, hs []string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, expandHome(p, hs)...)
	}
	return out
}
