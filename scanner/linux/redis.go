package linux

import (
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/artifact/rdb"
	"github.com/snapscan/snapscan/scanner/check"
)

// Redis writes its whole database wherever CONFIG SET dir/dbfilename point
// it; an attacker points it at a cron or SSH directory after SET-ting a
// value that holds the lines to plant between newlines. cron and sshd skip
// the binary lines and use the others. The dump's strings are read with
// artifact/rdb and each one's lines judged as the file's own.

// redisStrings parses a dump held in f and returns its strings; an error
// of the parse is reported (the strings read before it are still used).
func (r *run) redisStrings(f *check.File) (*rdb.Dump, [][]byte) {
	d, err := rdb.Parse(f.Data, rdb.DefaultLimits)
	if err != nil {
		r.out.Error(f.Path, fmt.Errorf("%s: Redis dump: %w", r.t.Volume, err))
	}
	if d == nil {
		return nil, nil
	}
	return d, d.Strings()
}

func redisVersion(d *rdb.Dump) string {
	v := fmt.Sprintf("RDB version %d", d.Version)
	for _, a := range d.Aux {
		if string(a.Key) == "redis-ver" {
			v += ", written by Redis " + oneLine(string(a.Value))
		}
	}
	return v
}

func keyNames(d *rdb.Dump) string {
	var ks []string
	for i, k := range d.Keys {
		if i == 8 {
			ks = append(ks, fmt.Sprintf("and %d more", len(d.Keys)-i))
			break
		}
		ks = append(ks, fmt.Sprintf("%q", oneLine(string(k.Name))))
	}
	return strings.Join(ks, ", ")
}

// redisCrontab judges a crontab that is a Redis dump: the dump itself is
// critical, and each cron line inside a string is inventoried and judged.
func (r *run) redisCrontab(f *check.File, system bool, user string) {
	d, strs := r.redisStrings(f)
	if d == nil {
		return
	}
	var jobs []CronEntry
	for _, s := range strs {
		js, _, _ := ParseCrontab(s, system)
		for _, j := range js {
			if !system {
				j.User = user
			}
			j.Line = 0 // the dump has no lines a reader could go to
			jobs = append(jobs, j)
		}
	}
	var cmds []string
	for _, j := range jobs {
		cmds = append(cmds, j.Schedule+" "+j.User+" "+j.Command)
	}
	ev := f.Evidence
	if len(cmds) > 0 {
		ev.Match = oneLine(cmds[0])
	}
	r.emit("cron.redis-dump", ev, fmt.Sprintf("%s holds a Redis database dump (%s) with %d keys (%s); cron runs the %d job lines inside its values: %s.",
		f.Evidence.Path, redisVersion(d), len(d.Keys), keyNames(d), len(jobs), oneLine(strings.Join(cmds, " | "))))
	for _, j := range jobs {
		r.inventory("cron", f.Path, 0, j.Schedule+" "+j.User+" "+j.Command, map[string]string{
			"schedule": j.Schedule, "user": j.User, "command": j.Command, "source": "redis-dump",
		})
		r.judgeEntry(cronPlace, at(f, 0, j.Command), j.Command, cronPath, "Job inside a Redis dump written as a crontab.")
	}
}

// redisKeyFile returns the authorized keys inside a key file that is a
// Redis dump, and reports the dump.
func (r *run) redisKeyFile(f *check.File, user string) []AuthorizedKey {
	d, strs := r.redisStrings(f)
	if d == nil {
		return nil
	}
	var keys []AuthorizedKey
	for _, s := range strs {
		ks, _ := ParseAuthorizedKeys(s)
		for _, k := range ks {
			k.Line = 0
			keys = append(keys, k)
		}
	}
	var fps []string
	for _, k := range keys {
		fps = append(fps, k.Type+" "+k.Fingerprint+" "+k.Comment)
	}
	ev := f.Evidence
	if len(fps) > 0 {
		ev.Match = oneLine(fps[0])
	}
	r.emit("ssh.redis-dump", ev, fmt.Sprintf("%s holds a Redis database dump (%s) with %d keys (%s); sshd accepts the %d SSH keys inside its values for %s: %s.",
		f.Evidence.Path, redisVersion(d), len(d.Keys), keyNames(d), len(keys), user, oneLine(strings.Join(fps, " | "))))
	return keys
}

func isRedisDump(data []byte) bool { return rdb.IsRDB(data) }

// redisAutostart reports a Redis dump written where a shell or another
// autostart reads lines, and judges the lines inside its strings.
func (r *run) redisAutostart(f *check.File, p place, pathEnv []string) {
	d, strs := r.redisStrings(f)
	if d == nil {
		return
	}
	var cmds []string
	for _, s := range strs {
		for _, l := range shellLines(s) {
			if isText([]byte(l.Text)) {
				cmds = append(cmds, l.Text)
			}
		}
	}
	ev := f.Evidence
	r.emit("autostart.redis-dump", ev, fmt.Sprintf("%s holds a Redis database dump (%s) with %d keys (%s); a shell reading it runs the lines between its binary records.",
		f.Evidence.Path, redisVersion(d), len(d.Keys), keyNames(d)))
	for _, c := range cmds {
		r.judgeEntry(p, at(f, 0, c), c, pathEnv, "Line inside a Redis dump.")
	}
}
