package linux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// UnitEnv judges the environment systemd units give their services:
// LD_PRELOAD outside the system library directories, and EnvironmentFile=
// in writable places (whose LD_PRELOAD is judged the same way).
type UnitEnv struct{}

func (UnitEnv) Name() string { return "unitenv" }
func (UnitEnv) OS() string   { return "linux" }

func (c UnitEnv) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	writable := writableDirs(t)
	libDirs := map[string]bool{}
	for _, d := range sigs().loc("preload", "lib-dir") {
		libDirs[d] = true
	}
	seenDir := map[string]bool{}
	for _, dir := range r.expandGlobs(sigs().loc("systemd", "unit-dir")) {
		real, ok := realPath(t.FS, dir)
		if !ok || seenDir[real] {
			continue
		}
		seenDir[real] = true
		var files []string
		for _, e := range r.readDirQuiet(dir) {
			if e.IsDir() && strings.HasSuffix(e.Name(), ".d") {
				for _, d := range r.readDirQuiet(path.Join(dir, e.Name())) {
					if strings.HasSuffix(d.Name(), ".conf") {
						files = append(files, path.Join(dir, e.Name(), d.Name()))
					}
				}
				continue
			}
			if isUnitName(e.Name()) && e.Type().IsRegular() {
				files = append(files, path.Join(dir, e.Name()))
			}
		}
		for _, fp := range files {
			f := r.read(fp)
			if f == nil || !isText(f.Data) {
				continue
			}
			kvs, _ := ParseUnit(f.Data)
			for _, kv := range kvs {
				ev := at(f, kv.Line, lineText(f.Data, kv.Line))
				switch kv.Key {
				case "Environment":
					for _, a := range envAssignments(kv.Value) {
						if k, v, _ := strings.Cut(a, "="); k == "LD_PRELOAD" {
							r.inventory("unit-environment", f.Path, kv.Line, a, map[string]string{"key": k, "value": v})
							r.judgePreload(ev, f.Evidence.Path, v, libDirs)
						}
					}
				case "EnvironmentFile":
					ef := strings.TrimPrefix(kv.Value, "-")
					r.inventory("unit-environment", f.Path, kv.Line, "EnvironmentFile="+ef, map[string]string{"key": "EnvironmentFile", "value": ef})
					if underAny(ef, writable) || hiddenPath(ef) {
						r.emit("unitenv.envfile-writable", ev, fmt.Sprintf("%s line %d loads variables from %s, which unprivileged users can write or is hidden: whoever writes it sets LD_PRELOAD for the service.", f.Evidence.Path, kv.Line, ef), "value", ef)
					}
					if e := r.read(ef); e != nil && isText(e.Data) {
						for _, l := range lines(e.Data) {
							k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(l.Text), "export "), "=")
							if ok && strings.TrimSpace(k) == "LD_PRELOAD" {
								r.judgePreload(at(e, l.N, l.Text), e.Evidence.Path, strings.Trim(strings.TrimSpace(v), `"'`), libDirs)
							}
						}
					}
				}
			}
		}
	}
	return ctx.Err()
}

// envAssignments splits an Environment= value: space-separated VAR=value
// words, each optionally quoted.
func envAssignments(v string) []string {
	var out []string
	var cur strings.Builder
	q := byte(0)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case q == 0 && (c == ' ' || c == '\t'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func (r *run) judgePreload(ev report.Evidence, where, val string, libDirs map[string]bool) {
	for _, lib := range strings.FieldsFunc(val, func(c rune) bool { return c == ' ' || c == ':' }) {
		desc := fmt.Sprintf("%s sets LD_PRELOAD=%s: the library is loaded into the service before any other.", where, val)
		if libDirs[path.Dir(lib)] && !hiddenPath(lib) {
			r.emit("unitenv.preload-lib", ev, desc, "value", lib)
		} else {
			r.emit("unitenv.preload", ev, desc, "value", lib)
		}
	}
}
