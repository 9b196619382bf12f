package linux

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Following the target: an autostart line that only says
// "/usr/local/bin/backup.sh" is clean, the script it runs may start a
// miner. followTargets opens what a command runs (directly, through sh -c,
// an interpreter, nohup/setsid/env wrappers, after cd DIR, or found on the
// entry's PATH) and judges it: a script line by line with the command
// rules (following its own targets in turn), a binary by the pools and
// miner words in its strings. Depth and the number of files opened per
// entry are bounded, and a file is opened once per entry (cycles end).
const (
	maxFollowDepth = 3
	maxFollowFiles = 32
	maxFollowELF   = 16 << 20 // bytes of a binary whose strings are read
)

// Default PATHs: cron's (cron(8) sets PATH=/usr/bin:/bin), systemd's
// manager PATH, and a login shell's.
var (
	cronPath    = []string{"/usr/bin", "/bin"}
	systemdPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"}
	shellPath   = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
)

// hit is one suspicious line (or binary) reached from an entry.
type hit struct {
	chain []string // files from the first target to the one judged
	line  int      // 0 for a binary
	text  string
	v     Verdict
}

// flagged is a target that carries an immutable or append-only flag.
type flagged struct {
	chain []string
	flags []string
}

type follower struct {
	r       *run
	seen    map[string]bool
	opened  int
	chains  [][]string // every target opened, by its chain
	hits    []hit
	flagged []flagged
	system  []string
}

// followTargets judges what cmd runs; see the comment above. chains lists
// every file opened, with the chain that reached it.
func (r *run) followTargets(cmd string, pathEnv []string) (hits []hit, flags []flagged, chains [][]string) {
	fo := &follower{r: r, seen: map[string]bool{}, system: sigs().loc("follow", "system-dir")}
	fo.command(cmd, pathEnv, "/", nil, 0)
	return fo.hits, fo.flagged, fo.chains
}

func (fo *follower) command(cmd string, pathEnv []string, cwd string, chain []string, depth int) {
	for _, p := range commandTargets(cmd, cwd, pathEnv, fo.r.t.FS) {
		fo.file(p, pathEnv, append(append([]string{}, chain...), p), depth)
	}
}

func (fo *follower) file(p string, pathEnv []string, chain []string, depth int) {
	if fo.seen[p] || fo.opened >= maxFollowFiles {
		return
	}
	fo.seen[p] = true
	m, ok := fo.r.stat(p)
	if !ok || !m.Mode.IsRegular() {
		return
	}
	fo.opened++
	// Flags matter wherever the target is; its content only outside the
	// distribution's directories.
	if names := m.FlagNames(); len(names) > 0 {
		fo.flagged = append(fo.flagged, flagged{chain: chain, flags: names})
	}
	if underAny(p, fo.system) {
		return
	}
	fo.chains = append(fo.chains, chain)
	head := fo.r.head(p, 4096)
	if isELF(head) {
		f, err := check.ReadFileMax(fo.r.t, p, maxFollowELF)
		if f == nil {
			if err != nil && !absent(err) {
				fo.r.out.Error(p, fmt.Errorf("%s: %w", fo.r.t.Volume, err))
			}
			return
		}
		if v := judgeBinary(f.Data); v.Suspicious() {
			fo.hits = append(fo.hits, hit{chain: chain, text: "binary " + p, v: v})
		}
		return
	}
	if !isText(head) {
		return
	}
	f := fo.r.read(p)
	if f == nil {
		return
	}
	for _, l := range shellLines(f.Data) {
		if v := JudgeCommand(l.Text); v.Suspicious() {
			fo.hits = append(fo.hits, hit{chain: chain, line: l.N, text: l.Text, v: v})
		}
		if depth+1 < maxFollowDepth {
			fo.command(l.Text, pathEnv, path.Dir(p), chain, depth+1)
		}
	}
}

// printable runs of a binary, as strings(1) finds them.
var printableRe = regexp.MustCompile(`[\x20-\x7e]{6,}`)

// judgeBinary looks for what a miner binary carries: pool names, stratum
// URLs, miner options and family markers. Only the miner rules apply; the
// shell rules would match fragments of any program's strings.
func judgeBinary(data []byte) Verdict {
	var v Verdict
	seen := map[string]bool{}
	for _, s := range printableRe.FindAll(data, 1<<16) {
		sv := JudgeCommand(string(s))
		for _, r := range sv.Rules {
			if (r.Rule == "miner" || r.Rule == "miner-pool") && !seen[r.Rule] {
				seen[r.Rule] = true
				v.Rules = append(v.Rules, r)
			}
		}
		for _, p := range sv.Pools {
			if !seen["pool "+p] && len(v.Pools) < 8 {
				seen["pool "+p] = true
				v.Pools = append(v.Pools, p)
			}
		}
	}
	return v
}

// Shell words that are not the program of a simple command.
var shellKeywords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true, "until": true,
	"!": true, "{": true, "}": true, "time": true, "fi": true, "done": true, "esac": true,
}

// Wrappers that run their argument: how many option words with a value
// they take is not known here, so options are skipped and a leading number
// (nice -n 19, timeout 30) too.
var runWrappers = map[string]bool{
	"nohup": true, "setsid": true, "exec": true, "sudo": true, "env": true, "nice": true, "ionice": true,
	"timeout": true, "chrt": true, "taskset": true, "flock": true, "runuser": true, "command": true,
	"busybox": true, "stdbuf": true, "daemonize": true,
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ash": true}

var interpreters = regexp.MustCompile(`^(python[0-9.]*|perl[0-9.]*|ruby|php[0-9.]*|node|nodejs|lua[0-9.]*)$`)

// commandTargets returns the in-image paths a command line runs, in order.
func commandTargets(cmd, cwd string, pathEnv []string, fsys fsread.FS) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, seg := range splitCommands(cmd) {
		words := shellWords(seg)
		i := 0
		for i < len(words) && (shellKeywords[words[i]] || isAssignment(words[i])) {
			i++
		}
		if i >= len(words) {
			continue
		}
		// Wrappers, then an interpreter or the program itself.
		for i < len(words) && runWrappers[path.Base(words[i])] {
			i++
			for i < len(words) && (strings.HasPrefix(words[i], "-") || isAssignment(words[i]) || isDigits(strings.TrimSuffix(words[i], "s"))) {
				i++
			}
		}
		if i >= len(words) {
			continue
		}
		prog := words[i]
		base := path.Base(prog)
		switch {
		case prog == "cd":
			if i+1 < len(words) {
				cwd = joinCwd(cwd, words[i+1])
			}
			continue
		case prog == "." || prog == "source":
			if i+1 < len(words) {
				add(resolve(words[i+1], cwd, nil, fsys))
			}
			continue
		case shells[base] || interpreters.MatchString(base):
			j := i + 1
			for j < len(words) && strings.HasPrefix(words[j], "-") {
				if words[j] == "-c" && shells[base] && j+1 < len(words) {
					for _, p := range commandTargets(words[j+1], cwd, pathEnv, fsys) {
						add(p)
					}
					j = len(words)
					break
				}
				if words[j] == "-c" || words[j] == "-e" || words[j] == "-m" {
					j = len(words) // code on the command line: judged as text already
					break
				}
				j++
			}
			if j < len(words) {
				add(resolve(words[j], cwd, pathEnv, fsys))
			}
			continue
		}
		add(resolve(prog, cwd, pathEnv, fsys))
	}
	return out
}

func isAssignment(w string) bool {
	i := strings.IndexByte(w, '=')
	if i <= 0 {
		return false
	}
	for _, c := range w[:i] {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func joinCwd(cwd, d string) string {
	if strings.HasPrefix(d, "/") {
		return path.Clean(d)
	}
	return path.Join(cwd, d)
}

// resolve turns a program word into an image path: absolute, relative to
// cwd when it holds a '/', else the first PATH directory that has it.
// Words with shell expansions are not resolved.
func resolve(w, cwd string, pathEnv []string, fsys fsread.FS) string {
	if w == "" || strings.ContainsAny(w, "$`*?[<>(){}\\") || strings.HasPrefix(w, "~") {
		return ""
	}
	if strings.Contains(w, "/") {
		return joinCwd(cwd, w)
	}
	for _, d := range pathEnv {
		p := path.Join(d, w)
		if fi, err := fsys.Stat(check.Clean(p)); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// splitCommands splits a command line at ; && || | & and newlines outside
// quotes, and drops redirections' targets.
func splitCommands(s string) []string {
	var out []string
	var cur strings.Builder
	var q byte
	flush := func() {
		if t := strings.TrimSpace(cur.String()); t != "" {
			out = append(out, t)
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else if c == '\\' && q == '"' && i+1 < len(s) {
				cur.WriteByte(c)
				i++
				c = s[i]
			}
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			q = c
			cur.WriteByte(c)
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
		case c == ';' || c == '|' || c == '\n' || c == '(' || c == ')' || c == '`':
			flush()
		case c == '&':
			if i+1 < len(s) && s[i+1] == '>' || i > 0 && (s[i-1] == '>' || s[i-1] == '<') {
				cur.WriteByte(c) // &> and >&: a redirection
				continue
			}
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// shellWords splits one simple command into words (quotes removed),
// dropping redirections and their targets.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, q := false, byte(0)
	redirect := false
	flush := func() {
		if in {
			w := cur.String()
			switch {
			case redirect:
				redirect = false
			case strings.TrimLeft(w, "0123456789&") == ">" || strings.TrimLeft(w, "0123456789&") == ">>" || w == "<" || w == "<<" || w == "<<<":
				redirect = true
			case strings.HasPrefix(strings.TrimLeft(w, "0123456789&"), ">") || strings.HasPrefix(w, "<"):
				// >/dev/null, 2>&1: operator and target in one word
			default:
				words = append(words, w)
			}
		}
		cur.Reset()
		in = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
				continue
			}
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			q, in = c, true
		case c == ' ' || c == '\t':
			flush()
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	flush()
	return words
}

// judgeEntry judges one autostart command and what it runs. The finding
// is the entry's (its evidence, its place's technique); its severity is
// the worst of the line and the chain, and the description names the
// chain. An immutable or append-only target is a finding of its own.
func (r *run) judgeEntry(p place, ev report.Evidence, cmd string, pathEnv []string, extra string) bool {
	v := JudgeCommand(cmd)
	hits, flags, chains := r.followTargets(cmd, pathEnv)
	// The targets are inventoried with the entry that runs them: the content
	// sweep's findings on a target (YARA) can be joined to its autostart.
	// report.Finalize makes that join (report.AutostartTarget names the
	// fields it reads).
	entryVol := ev.Volume
	if entryVol == "" {
		entryVol = r.t.Volume
	}
	for _, c := range chains {
		r.inventory(report.AutostartTarget, c[len(c)-1], 0, strings.Join(c, " → "), map[string]string{
			"entry": fmt.Sprintf("%s:%d", ev.Path, ev.Line), "entry_volume": entryVol, "chain": strings.Join(c, " → "),
			"place": p.prefix, "what": p.what, "technique": p.technique, "technique_name": techniqueName(p.technique),
		})
	}
	for _, fl := range flags {
		target := fl.chain[len(fl.chain)-1]
		r.emit("autostart.immutable-target", ev,
			fmt.Sprintf("%s in %s runs %s, which is %s: it cannot be changed or removed until the flag is cleared, the anti-removal step of miner installers.",
				p.what, ev.Path, strings.Join(fl.chain, " → "), strings.Join(fl.flags, ", ")),
			"name", target)
	}
	if len(hits) == 0 {
		return r.judged(p, ev, cmd, v, extra)
	}
	worst := hits[0]
	for _, h := range hits[1:] {
		if h.v.top() > worst.v.top() {
			worst = h
		}
	}
	var chain []string
	for _, h := range hits {
		where := strings.Join(h.chain, " → ")
		if h.line > 0 {
			where += fmt.Sprintf(" line %d (%s)", h.line, oneLine(h.text))
		}
		var what []string
		for _, rule := range h.v.Rules {
			what = append(what, rule.Title)
		}
		for _, m := range h.v.Markers {
			what = append(what, m.Family+" marker "+m.Pattern)
		}
		if len(h.v.Pools) > 0 {
			what = append(what, "pool "+strings.Join(h.v.Pools, ", "))
		}
		chain = append(chain, where+": "+strings.Join(what, ", "))
	}
	extra = strings.TrimSpace(extra + " Runs " + strings.Join(chain, "; ") + ".")
	if v.Suspicious() && v.top() >= worst.v.top() {
		return r.judged(p, ev, cmd, v, extra) // the line alone decides; the chain is context
	}
	merged := worst.v
	for _, h := range hits {
		merged = merged.merge(h.v)
	}
	merged = merged.merge(v)
	pc := p
	pc.what = fmt.Sprintf("%s runs %s, which", p.what, strings.Join(worst.chain, " → "))
	return r.judged(pc, ev, cmd, merged, extra)
}

// top is the verdict's worst severity (critical with a marker and a rule).
func (v Verdict) top() report.Severity {
	s := report.Severity(0)
	if len(v.Rules) > 0 {
		s = v.Rules[0].Severity
		if len(v.Markers) > 0 {
			s = report.Critical
		}
	} else if len(v.Markers) > 0 {
		s = v.Markers[0].Severity
	}
	return s
}

// merge adds o's rules, pools and markers that v lacks, keeping v's order.
func (v Verdict) merge(o Verdict) Verdict {
	out := Verdict{Rules: append([]CommandRule{}, v.Rules...), Pools: append([]string{}, v.Pools...), Markers: append([]Marker{}, v.Markers...)}
	has := map[string]bool{}
	for _, r := range out.Rules {
		has["r"+r.Rule] = true
	}
	for _, p := range out.Pools {
		has["p"+p] = true
	}
	for _, m := range out.Markers {
		has["m"+m.Pattern] = true
	}
	for _, r := range o.Rules {
		if !has["r"+r.Rule] {
			has["r"+r.Rule] = true
			out.Rules = append(out.Rules, r)
		}
	}
	for _, p := range o.Pools {
		if !has["p"+p] {
			has["p"+p] = true
			out.Pools = append(out.Pools, p)
		}
	}
	for _, m := range o.Markers {
		if !has["m"+m.Pattern] {
			has["m"+m.Pattern] = true
			out.Markers = append(out.Markers, m)
		}
	}
	return out
}
