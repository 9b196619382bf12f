package linux

import (
	"context"
	"fmt"
	"path"

	"github.com/snapscan/snapscan/scanner/check"
)

// ShellRC judges the files every shell reads at start or exit: the
// system's (/etc/profile, profile.d, bash.bashrc, zsh, /etc/environment)
// and every account's (.bashrc, .profile, .zshrc...) for the homes of
// /etc/passwd, not only /home. Each logical line is judged with the
// command rules (downloads piped to a shell, miner launches, LD_PRELOAD
// and alias hijacks, ignored signals) and what it runs is followed.
type ShellRC struct{}

func (ShellRC) Name() string { return "shellrc" }
func (ShellRC) OS() string   { return "linux" }

var shellPlace = place{
	prefix: "shellrc", what: "Shell startup line", technique: "T1546.004",
	remedy: "Preserve a copy of %s, then remove the line (chattr -ia the file first if it is immutable), kill what it started, " +
		"remove what it fetched or runs, and check every other startup file of the account: shells run them at each login.",
}

func (c ShellRC) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	files := append([]string{}, s.loc("shellrc", "system")...)
	for _, d := range s.loc("shellrc", "system-dir") {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if !e.IsDir() {
				files = append(files, path.Join(d, e.Name()))
			}
		}
	}
	for _, h := range homes(t) {
		for _, n := range s.loc("shellrc", "home") {
			files = append(files, path.Join(h, n))
		}
	}
	seen := map[string]bool{}
	for _, p := range files {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		if real, ok := realPath(t.FS, p); !ok || seen[real] {
			continue
		} else {
			seen[real] = true
		}
		r.startupFile(p)
	}
	return ctx.Err()
}

func (r *run) startupFile(p string) {
	f := r.read(p)
	if f == nil {
		return
	}
	fields := map[string]string{"kind": "shell-startup"}
	if isRedisDump(f.Data) {
		r.redisAutostart(f, shellPlace, shellPath)
		return
	}
	if !isText(f.Data) {
		fields["format"] = "binary"
		r.inventory("shell-startup", f.Path, 0, "binary "+f.Path, fields)
		return
	}
	ls := shellLines(f.Data)
	fields["lines"] = fmt.Sprint(len(ls))
	r.inventory("shell-startup", f.Path, 0, f.Path, fields)
	for _, l := range ls {
		r.judgeEntry(shellPlace, at(f, l.N, l.Text), l.Text, shellPath, "")
	}
}
