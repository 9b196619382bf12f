package linux

import (
	"context"
	"fmt"
	"path"
	"strings"
	"unicode"

	"github.com/snapscan/snapscan/artifact/rdb"
	"github.com/snapscan/snapscan/scanner/check"
)

// CronEntry is one job line of a crontab or anacrontab.
type CronEntry struct {
	Line     int
	Schedule string // "*/5 * * * *", "@reboot", or an anacron "period delay id"
	User     string // from the line in system crontabs; the file's owner name for user crontabs
	Command  string
}

// CronEnv is a NAME=value line; cron applies it to the jobs below it.
type CronEnv struct {
	Line        int
	Name, Value string
}

var cronMacros = map[string]bool{
	"@reboot": true, "@yearly": true, "@annually": true, "@monthly": true,
	"@weekly": true, "@daily": true, "@midnight": true, "@hourly": true,
}

// ParseCrontab parses crontab text. In system crontabs (/etc/crontab,
// /etc/cron.d/*) the sixth field is the user; in user crontabs it is part of
// the command. Cron has no line continuation and no trailing comments: a '#'
// only starts a comment at the beginning of a line, and a line ending in '\'
// is a complete job whose command ends in a backslash. bad holds the numbers
// of lines that are neither blank, comment, environment nor a valid job.
func ParseCrontab(data []byte, system bool) (jobs []CronEntry, env []CronEnv, bad []int) {
	for _, l := range lines(data) {
		t := strings.TrimLeftFunc(l.Text, unicode.IsSpace)
		if t == "" || t[0] == '#' {
			continue
		}
		if name, val, ok := cronEnvLine(t); ok {
			env = append(env, CronEnv{Line: l.N, Name: name, Value: val})
			continue
		}
		var sched string
		var rest string
		if t[0] == '@' {
			f, r := cutField(t)
			if !cronMacros[strings.ToLower(f)] {
				bad = append(bad, l.N)
				continue
			}
			sched, rest = f, r
		} else {
			var fields []string
			r := t
			for i := 0; i < 5; i++ {
				var f string
				f, r = cutField(r)
				if f == "" || !validCronField(f) {
					break
				}
				fields = append(fields, f)
			}
			if len(fields) != 5 {
				bad = append(bad, l.N)
				continue
			}
			sched, rest = strings.Join(fields, " "), r
		}
		e := CronEntry{Line: l.N, Schedule: sched}
		if system {
			e.User, rest = cutField(rest)
		}
		e.Command = strings.TrimSpace(rest)
		if e.Command == "" || (system && e.User == "") {
			bad = append(bad, l.N)
			continue
		}
		jobs = append(jobs, e)
	}
	return jobs, env, bad
}

// ParseAnacrontab parses /etc/anacrontab: "period delay job-id command",
// with @monthly allowed as the period.
func ParseAnacrontab(data []byte) (jobs []CronEntry, env []CronEnv, bad []int) {
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if t == "" || t[0] == '#' {
			continue
		}
		if name, val, ok := cronEnvLine(t); ok {
			env = append(env, CronEnv{Line: l.N, Name: name, Value: val})
			continue
		}
		period, r := cutField(t)
		delay, r := cutField(r)
		id, r := cutField(r)
		cmd := strings.TrimSpace(r)
		if cmd == "" || id == "" || !isDigits(delay) || !(isDigits(period) || strings.HasPrefix(period, "@")) {
			bad = append(bad, l.N)
			continue
		}
		jobs = append(jobs, CronEntry{Line: l.N, Schedule: period + " " + delay + " " + id, User: "root", Command: cmd})
	}
	return jobs, env, bad
}

func cutField(s string) (field, rest string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// cronEnvLine recognises NAME=value (cron allows spaces around '=' and
// quotes around the value).
func cronEnvLine(t string) (name, val string, ok bool) {
	i := strings.IndexByte(t, '=')
	if i <= 0 {
		return "", "", false
	}
	name = strings.TrimSpace(t[:i])
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		return "", "", false
	}
	val = strings.TrimSpace(t[i+1:])
	if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
		val = val[1 : len(val)-1]
	}
	return name, val, true
}

func validCronField(f string) bool {
	for _, c := range f {
		if !(c == '*' || c == '/' || c == ',' || c == '-' || c == '?' || unicode.IsDigit(c) || unicode.IsLetter(c)) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Cron inventories and judges every crontab, anacrontab and cron script.
type Cron struct{}

func (Cron) Name() string { return "cron" }
func (Cron) OS() string   { return "linux" }

var cronPlace = place{
	prefix: "cron", what: "Cron job", technique: "T1053.003",
	remedy: "Preserve a copy of %s (with its hashes), then delete the offending line (for a user crontab: crontab -u USER -e), " +
		"clearing an immutable/append-only flag first with chattr -ia; kill the processes it started and remove the files it fetched or runs.",
}

var cronScriptPlace = place{
	prefix: "cron", what: "Cron script", technique: "T1053.003",
	remedy: "Preserve a copy of %s, then remove the script (chattr -ia it first if it is immutable); kill what it started and remove the files it fetched or runs.",
}

func (c Cron) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	for _, p := range s.loc("cron", "system-crontab") {
		r.cronFile(p, true, "")
	}
	for _, p := range s.loc("cron", "anacrontab") {
		if f := r.read(p); f != nil {
			jobs, env, bad := ParseAnacrontab(f.Data)
			r.cronJobs(f, jobs, env, bad, "anacron")
		}
	}
	for _, d := range s.loc("cron", "system-crontab-dir") {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if !e.IsDir() {
				r.cronFile(path.Join(d, e.Name()), true, "")
			}
		}
	}
	for _, d := range s.loc("cron", "user-crontab-dir") {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if !e.IsDir() { // hidden names too: cron skips them, an analyst should not
				r.cronFile(path.Join(d, e.Name()), false, e.Name())
			}
		}
	}
	for _, d := range s.loc("cron", "script-dir") {
		for _, e := range capEntries(r, d, r.readDir(d)) {
			if check.Deadline(ctx) {
				return ctx.Err()
			}
			if e.IsDir() || e.Name() == ".placeholder" {
				continue
			}
			r.script(path.Join(d, e.Name()), "cron-script", cronScriptPlace)
		}
	}
	return ctx.Err()
}

func (r *run) cronFile(p string, system bool, user string) {
	f := r.read(p)
	if f == nil {
		return
	}
	if rdb.IsRDB(f.Data) {
		r.redisCrontab(f, system, user)
		return
	}
	if !isText(f.Data) {
		r.out.Error(p, fmt.Errorf("%s: not a text crontab", r.t.Volume))
		return
	}
	jobs, env, bad := ParseCrontab(f.Data, system)
	if !system {
		for i := range jobs {
			jobs[i].User = user
		}
	}
	kind := "cron"
	if !system {
		kind = "cron-user"
	}
	r.cronJobs(f, jobs, env, bad, kind)
}

func (r *run) cronJobs(f *check.File, jobs []CronEntry, env []CronEnv, bad []int, kind string) {
	for _, n := range bad {
		r.out.Error(f.Path, fmt.Errorf("%s: line %d is not a valid cron entry", r.t.Volume, n))
	}
	for _, j := range jobs {
		r.inventory("cron", f.Path, j.Line, j.Schedule+" "+j.User+" "+j.Command, map[string]string{
			"schedule": j.Schedule, "user": j.User, "command": j.Command, "source": kind,
		})
		extra := fmt.Sprintf("Schedule %q as %s.", j.Schedule, orDash(j.User))
		if j.Schedule == "@reboot" {
			extra += " Runs at every boot."
		}
		r.judgeEntry(cronPlace, at(f, j.Line, j.Command), j.Command, cronPathAt(env, j.Line), extra)
	}
}

// cronPathAt is the PATH a job runs with: the last PATH= line above it,
// else cron's default.
func cronPathAt(env []CronEnv, line int) []string {
	p := cronPath
	for _, e := range env {
		if e.Name == "PATH" && e.Line < line {
			p = strings.Split(e.Value, ":")
		}
	}
	return p
}

// script inventories a shell script (cron.daily, init.d, rc.local) and
// judges each logical line by what it does.
func (r *run) script(p, kind string, pl place) {
	f := r.read(p)
	if f == nil {
		return
	}
	fields := map[string]string{"kind": kind}
	if !isText(f.Data) {
		// A binary where a script belongs is itself worth a look, but its
		// content is the content sweep's job.
		fields["format"] = "binary"
		r.inventory(kind, f.Path, 0, "binary "+f.Path, fields)
		return
	}
	r.inventory(kind, f.Path, 0, f.Path, fields)
	for _, l := range shellLines(f.Data) {
		r.judgeEntry(pl, at(f, l.N, l.Text), l.Text, shellPath, "")
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
