package linux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// LdSoConf judges the dynamic linker's search path (ld.so.conf and what it
// includes): a directory anyone can write to there lets a planted library
// replace a system one in every program.
type LdSoConf struct{}

func (LdSoConf) Name() string { return "ldso" }
func (LdSoConf) OS() string   { return "linux" }

// maxLdIncludes bounds include nesting (ldconfig has no limit; loops exist).
const maxLdIncludes = 16

func (c LdSoConf) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	writable := writableDirs(t)
	std := p.list("ldso", "standard-dir")
	seen := map[string]bool{}
	var read func(fp string, depth int)
	read = func(fp string, depth int) {
		if seen[fp] || depth > maxLdIncludes {
			return
		}
		seen[fp] = true
		f := r.read(fp)
		if f == nil || !isText(f.Data) {
			return
		}
		for _, l := range lines(f.Data) {
			s := strings.TrimSpace(l.Text)
			if i := strings.IndexByte(s, '#'); i >= 0 {
				s = strings.TrimSpace(s[:i])
			}
			if s == "" {
				continue
			}
			if fs := strings.Fields(s); fs[0] == "include" && len(fs) > 1 {
				for _, pat := range fs[1:] {
					if !strings.HasPrefix(pat, "/") {
						pat = path.Join(path.Dir(fp), pat)
					}
					for _, inc := range r.expandGlobs([]string{pat}) {
						read(inc, depth+1)
					}
				}
				continue
			}
			// Older syntax allows "dir=TYPE" and comma/space separated lists.
			for _, d := range strings.FieldsFunc(s, func(c rune) bool { return c == ' ' || c == '\t' || c == ',' || c == ':' }) {
				d, _, _ = strings.Cut(d, "=")
				if !strings.HasPrefix(d, "/") {
					continue
				}
				d = path.Clean(d)
				r.inventory("ld-path", f.Path, l.N, d, map[string]string{"dir": d})
				ev := at(f, l.N, l.Text)
				desc := fmt.Sprintf("%s line %d adds %s to the dynamic linker's search path (after ldconfig runs).", f.Evidence.Path, l.N, d)
				switch {
				case underAny(d, writable) || hiddenPath(d):
					r.emit("ldso.writable-dir", ev, desc+" Unprivileged users can write there, or it is hidden.", "dir", d)
				case !matchesAny(d, std):
					r.emit("ldso.odd-dir", ev, desc, "dir", d)
				}
			}
		}
	}
	for _, fp := range p.list("ldso", "conf") {
		read(fp, 0)
	}
	// ld.so.conf.d files nobody includes are not read by ldconfig, but
	// are judged: the include line is one edit away.
	for _, d := range p.list("ldso", "conf-dir") {
		for _, e := range r.readDirQuiet(d) {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".conf") {
				read(path.Join(d, e.Name()), 1)
			}
		}
	}
	return ctx.Err()
}

// matchesAny: p equals or glob-matches one of pats.
func matchesAny(p string, pats []string) bool {
	for _, pat := range pats {
		if ok, _ := path.Match(pat, p); ok || p == pat {
			return true
		}
	}
	return false
}
