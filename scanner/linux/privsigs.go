package linux

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/signatures"
)

// privRule is one line of signatures/linux/privesc-rules.txt: a finding's
// severity, technique, title and remedy, with {name} placeholders.
type privRule struct {
	ID        string
	Severity  report.Severity
	Technique string
	Title     string
	Remedy    string
}

// cloudAgent is one agent of signatures/linux/cloud-agents.txt.
type cloudAgent struct {
	Name                      string
	Binaries, Remnants, Units []string
}

// privdata is the data of the privilege and stealth checks, parsed once.
type privdata struct {
	rules  map[string]privRule
	paths  map[string][]string // "check;role" -> values in file order
	agents []cloudAgent
	histRe []*regexp.Regexp
	marks  []sysctlMark
	// allEquiv is sudo;all-equivalent as a set: ParseSudoers asks per command.
	allEquiv map[string]bool
}

type sysctlMark struct {
	Key string
	Re  *regexp.Regexp
}

var loadPriv = sync.OnceValues(func() (*privdata, error) {
	p := &privdata{rules: map[string]privRule{}, paths: map[string][]string{}}
	var ents []signatures.Entry
	// The privilege checks' rules and the autostart checks' share one format.
	for _, name := range []string{"linux/privesc-rules.txt", "linux/autostart-rules.txt", "linux/package-rules.txt"} {
		ents, err := signatures.List(name)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			sev, err := report.ParseSeverity(e.Field(1))
			if err != nil || len(e.Fields) != 5 || techniqueName(e.Field(2)) == "" || p.rules[e.Field(0)].ID != "" {
				return nil, fmt.Errorf("%s:%d: want rule;severity;technique;title;remedy, a technique from techniques.txt and a new rule id (%v)", name, e.Line, err)
			}
			p.rules[e.Field(0)] = privRule{e.Field(0), sev, e.Field(2), e.Field(3), e.Field(4)}
		}
	}
	for _, name := range []string{"linux/privesc-paths.txt", "linux/package-paths.txt"} {
		es, err := signatures.List(name)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if len(e.Fields) < 3 {
				return nil, fmt.Errorf("%s:%d: want check;role;value", name, e.Line)
			}
			ents = append(ents, e)
		}
	}
	for _, e := range ents {
		// A value may hold ';' (regexes): rejoin what the list format split.
		v := strings.Join(e.Fields[2:], ";")
		k := e.Field(0) + ";" + e.Field(1)
		p.paths[k] = append(p.paths[k], v)
		switch k {
		case "history;disable-re":
			re, err := regexp.Compile(v)
			if err != nil {
				return nil, fmt.Errorf("linux/privesc-paths.txt:%d: %w", e.Line, err)
			}
			p.histRe = append(p.histRe, re)
		case "sysctl;mark":
			key, val, ok := strings.Cut(v, "=")
			re, err := regexp.Compile("^(?:" + val + ")$")
			if !ok || err != nil {
				return nil, fmt.Errorf("linux/privesc-paths.txt:%d: want key=regex (%v)", e.Line, err)
			}
			p.marks = append(p.marks, sysctlMark{key, re})
		}
	}
	p.allEquiv = p.set("sudo", "all-equivalent")
	ents, err := signatures.List("linux/cloud-agents.txt")
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for _, e := range ents {
		if len(e.Fields) != 3 {
			return nil, fmt.Errorf("linux/cloud-agents.txt:%d: want agent;kind;path", e.Line)
		}
		i, ok := idx[e.Field(0)]
		if !ok {
			i = len(p.agents)
			idx[e.Field(0)] = i
			p.agents = append(p.agents, cloudAgent{Name: e.Field(0)})
		}
		a := &p.agents[i]
		switch e.Field(1) {
		case "binary":
			a.Binaries = append(a.Binaries, e.Field(2))
		case "remnant":
			a.Remnants = append(a.Remnants, e.Field(2))
		case "unit":
			a.Units = append(a.Units, e.Field(2))
		default:
			return nil, fmt.Errorf("linux/cloud-agents.txt:%d: unknown kind %q", e.Line, e.Field(1))
		}
	}
	return p, nil
})

// priv returns the parsed data; like sigs, a failure is a build defect.
func priv() *privdata {
	p, err := loadPriv()
	if err != nil {
		panic(err)
	}
	return p
}

func (p *privdata) list(checkName, role string) []string { return p.paths[checkName+";"+role] }

func (p *privdata) set(checkName, role string) map[string]bool {
	m := map[string]bool{}
	for _, v := range p.list(checkName, role) {
		m[v] = true
	}
	return m
}

// emit reports a finding of a data rule. kv fills the {name} placeholders of
// title and remedy ({path} is the evidence path); desc states the facts.
func (r *run) emit(id string, ev report.Evidence, desc string, kv ...string) {
	rule, ok := priv().rules[id]
	if !ok {
		panic("privesc-rules.txt has no rule " + id)
	}
	pairs := []string{"{path}", ev.Path}
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, "{"+kv[i]+"}", oneLine(kv[i+1]))
	}
	rep := strings.NewReplacer(pairs...)
	r.finding(report.Finding{
		Rule: id, Severity: rule.Severity, Technique: rule.Technique,
		Title: rep.Replace(rule.Title), Description: desc, Evidence: ev, Remediation: rep.Replace(rule.Remedy),
	})
}

// peopleHomes are /root, /home and the homes of people's accounts (uid
// 1000-59999 or a home under /home). System accounts' "homes" are often
// system directories (/bin, /usr/sbin, /var/www) that are no one's to write.
func peopleHomes(t *check.Target) []string {
	out := []string{"/root", "/home"}
	for _, a := range accountsOf(t) {
		h := path.Clean("/" + strings.TrimPrefix(a.Home, "/"))
		if h != "/" && (a.UID >= 1000 && a.UID < 60000 || strings.HasPrefix(h, "/home/")) {
			out = append(out, h)
		}
	}
	return out
}

// writableDirs are the configured writable directories, people's homes
// expanded.
func writableDirs(t *check.Target) []string {
	var out []string
	hs := peopleHomes(t)
	for _, d := range priv().list("common", "writable-dir") {
		out = append(out, expandHome(d, hs)...)
	}
	return out
}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == ""
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if under(p, d) {
			return true
		}
	}
	return false
}

// hiddenPath reports a path with a component that starts with a dot.
func hiddenPath(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if len(c) > 1 && c[0] == '.' && c != ".." {
			return true
		}
	}
	return false
}

// expandGlobs turns configured paths into existing paths: "~/" per home,
// a trailing "/*" into the directory's entries, other glob characters
// matched against the parent directory's entries.
func (r *run) expandGlobs(pats []string) []string { return r.expandGlobsIn(pats, homes(r.t)) }

// expandGlobsIn is expandGlobs with "~/" expanded over the homes hs.
func (r *run) expandGlobsIn(pats, hs []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, pat := range pats {
		for _, p := range expandHome(pat, hs) {
			dir, base := path.Split(p)
			if !strings.ContainsAny(base, "*?[") {
				add(path.Clean(p))
				continue
			}
			for _, e := range r.readDirQuiet(path.Clean(dir)) {
				if ok, _ := path.Match(base, e.Name()); ok {
					add(path.Join(dir, e.Name()))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// readDirQuiet lists a directory, reporting only real read errors.
func (r *run) readDirQuiet(dir string) []fs.DirEntry {
	return capEntries(r, dir, r.readDir(dir))
}

// maxWalkEntries bounds one targeted walk (a home, /tmp): far above real
// trees, low enough that a hostile image cannot stall a check.
const maxWalkEntries = 500000

// walkFiles calls fn for every regular file below root (absolute), never
// following symlinks; the cut of an oversized tree is reported.
func (r *run) walkFiles(root string, fn func(p string, m *fsread.Meta)) {
	n := 0
	err := fsread.Walk(r.t.FS, check.Clean(root), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !absent(err) {
				r.out.Error("/"+p, fmt.Errorf("%s: %w", r.t.Volume, err))
			}
			return nil
		}
		if n++; n > maxWalkEntries {
			r.out.Error(root, fmt.Errorf("%s: more than %d entries, the rest not examined", r.t.Volume, maxWalkEntries))
			return fs.SkipAll
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			r.out.Error("/"+p, fmt.Errorf("%s: %w", r.t.Volume, err))
			return nil
		}
		fn("/"+strings.TrimPrefix(p, "./"), fsread.MetaOf(info))
		return nil
	})
	if err != nil && !absent(err) {
		r.out.Error(root, fmt.Errorf("%s: %w", r.t.Volume, err))
	}
}
