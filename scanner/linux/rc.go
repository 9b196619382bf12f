package linux

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// InittabEntry is one id:runlevels:action:process line of /etc/inittab.
type InittabEntry struct {
	Line                        int
	ID, Runlevels, Action, Proc string
}

// ParseInittab parses SysV inittab lines; bad lines have fewer than four
// fields.
func ParseInittab(data []byte) (out []InittabEntry, bad []int) {
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if t == "" || t[0] == '#' {
			continue
		}
		f := strings.SplitN(t, ":", 4)
		if len(f) < 4 {
			bad = append(bad, l.N)
			continue
		}
		out = append(out, InittabEntry{l.N, f[0], f[1], f[2], strings.TrimSpace(f[3])})
	}
	return out, bad
}

// RC inventories and judges rc.local, inittab and SysV init scripts.
type RC struct{}

func (RC) Name() string { return "rc" }
func (RC) OS() string   { return "linux" }

var rcPlace = place{
	prefix: "rc", what: "rc/init script", technique: "T1037.004",
	remedy: "Preserve a copy of %s, then delete the offending line (or the script and its rcN.d links), clearing an immutable flag with chattr -ia first; kill what it started and remove the files it fetched or runs.",
}

func (c RC) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	// /etc/rc.d/rc.local and /etc/rc.local, /etc/init.d and
	// /etc/rc.d/init.d are often one file or directory under two names.
	seen := map[string]bool{}
	once := func(p string) bool {
		real, ok := realPath(t.FS, p)
		if !ok || seen[real] {
			return false
		}
		seen[real] = true
		return true
	}
	for _, p := range s.loc("rc", "script") {
		if once(p) {
			r.script(p, "rc", rcPlace)
		}
	}
	for _, p := range s.loc("rc", "inittab") {
		f := r.read(p)
		if f == nil {
			continue
		}
		ents, bad := ParseInittab(f.Data)
		for _, b := range bad {
			out.Error(f.Path, fmt.Errorf("%s: line %d is not id:runlevels:action:process", t.Volume, b))
		}
		for _, e := range ents {
			r.inventory("rc-inittab", f.Path, e.Line, e.Proc, map[string]string{
				"id": e.ID, "runlevels": e.Runlevels, "action": e.Action, "command": e.Proc})
			r.judgeEntry(rcPlace, at(f, e.Line, e.Proc), e.Proc, shellPath, "inittab action "+e.Action+".")
		}
	}
	// rcN.d links say in which runlevels an init script starts.
	links := map[string][]string{}
	var linkDirs []string
	for _, d := range s.loc("rc", "link-dir") {
		linkDirs = append(linkDirs, d)
		if path.Base(d) == "rc.d" {
			for _, e := range r.readDir(d) {
				if e.IsDir() && strings.HasPrefix(e.Name(), "rc") && strings.HasSuffix(e.Name(), ".d") {
					linkDirs = append(linkDirs, path.Join(d, e.Name()))
				}
			}
		}
	}
	for _, d := range linkDirs {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			n := e.Name()
			if len(n) > 3 && (n[0] == 'S' || n[0] == 'K') {
				links[strings.TrimLeft(n[1:], "0123456789")] = append(links[strings.TrimLeft(n[1:], "0123456789")], path.Join(d, n))
			}
		}
	}
	for _, d := range s.loc("rc", "script-dir") {
		if !once(d) {
			continue
		}
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if check.Deadline(ctx) {
				return ctx.Err()
			}
			if e.IsDir() || e.Name() == "README" || e.Name() == ".depend.boot" {
				continue
			}
			p := path.Join(d, e.Name())
			ls := links[e.Name()]
			sort.Strings(ls)
			r.initScript(p, ls)
		}
	}
	return ctx.Err()
}

func (r *run) initScript(p string, links []string) {
	f := r.read(p)
	if f == nil {
		return
	}
	fields := map[string]string{"kind": "init.d"}
	if len(links) > 0 {
		fields["enabled_by"] = strings.Join(links, ", ")
	}
	if !isText(f.Data) {
		fields["format"] = "binary"
		r.inventory("rc", f.Path, 0, "binary "+f.Path, fields)
		return
	}
	r.inventory("rc", f.Path, 0, f.Path, fields)
	extra := "Not linked from any rcN.d directory."
	if len(links) > 0 {
		extra = "Linked from " + strings.Join(links, ", ") + "."
	}
	for _, l := range shellLines(f.Data) {
		r.judgeEntry(rcPlace, at(f, l.N, l.Text), l.Text, shellPath, extra)
	}
}
