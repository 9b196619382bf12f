package linux

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/signatures"
)

// A dropper script is judged by how many of the behaviours real droppers
// combine it shows (signatures/linux/dropper-behaviours.txt), not by any
// one line: installers download and run things too, droppers also kill
// competitors, write cron jobs, chattr their files and wipe logs.

type behaviour struct {
	Name, Technique, Title string
	Re                     *regexp.Regexp
	// lits: one of them is in every line Re matches (requiredLiterals).
	lits []string
}

type threshold struct {
	sev report.Severity
	min int
}

type dropperData struct {
	behaviours []behaviour
	thresholds []threshold // highest minimum first
}

var loadDropper = sync.OnceValues(func() (*dropperData, error) {
	ents, err := signatures.List("linux/dropper-behaviours.txt")
	if err != nil {
		return nil, err
	}
	d := &dropperData{}
	for _, e := range ents {
		if e.Field(0) == "threshold" {
			sev, err := report.ParseSeverity(e.Field(1))
			n, err2 := strconv.Atoi(e.Field(2))
			if err != nil || err2 != nil || n < 1 {
				return nil, fmt.Errorf("linux/dropper-behaviours.txt:%d: want threshold;SEVERITY;score", e.Line)
			}
			d.thresholds = append(d.thresholds, threshold{sev, n})
			continue
		}
		if len(e.Fields) != 4 || techniqueName(e.Field(1)) == "" {
			return nil, fmt.Errorf("linux/dropper-behaviours.txt:%d: want behaviour;technique;regex;title with a technique from techniques.txt", e.Line)
		}
		re, err := regexp.Compile("(?i)" + e.Field(2))
		if err != nil {
			return nil, fmt.Errorf("linux/dropper-behaviours.txt:%d: %w", e.Line, err)
		}
		d.behaviours = append(d.behaviours, behaviour{e.Field(0), e.Field(1), e.Field(3), re, requiredLiterals(e.Field(2))})
	}
	sort.Slice(d.thresholds, func(i, j int) bool { return d.thresholds[i].min > d.thresholds[j].min })
	return d, nil
})

func dropperSigs() *dropperData {
	d, err := loadDropper()
	if err != nil {
		panic(err)
	}
	return d
}

// Behaviour is one behaviour a script shows, at its first line.
type Behaviour struct {
	Name, Technique, Title string
	Line                   int
	Text                   string
}

// DropperScore is the judgement of one script.
type DropperScore struct {
	Behaviours []Behaviour // distinct behaviours, in the order of their first line
	Severity   report.Severity
	Scored     bool // the score reached a threshold
}

// maxDropperScript bounds the script text scored (real droppers are 2-60 KB).
const maxDropperScript = 1 << 20

// ScoreScript scores a shell script's text.
func ScoreScript(data []byte) DropperScore {
	d := dropperSigs()
	if len(data) > maxDropperScript {
		data = data[:maxDropperScript]
	}
	var sc DropperScore
	seen := map[string]bool{}
	for _, l := range shellLines(data) {
		t := l.Text
		if len(t) > maxJudged {
			t = t[:maxJudged]
		}
		lower := strings.ToLower(t)
		for _, b := range d.behaviours {
			if !seen[b.Name] && mayMatch(b.lits, lower) && b.Re.MatchString(t) {
				seen[b.Name] = true
				sc.Behaviours = append(sc.Behaviours, Behaviour{b.Name, b.Technique, b.Title, l.N, t})
			}
		}
	}
	for _, th := range d.thresholds {
		if len(sc.Behaviours) >= th.min {
			sc.Severity, sc.Scored = th.sev, true
			break
		}
	}
	return sc
}

// looksLikeShellScript: a #! line naming a shell, or a .sh name with text.
func looksLikeShellScript(name string, head []byte) bool {
	if bytes.HasPrefix(head, []byte("#!")) {
		first, _, _ := bytes.Cut(head[2:], []byte("\n"))
		f := strings.Fields(string(first))
		if len(f) == 0 {
			return false
		}
		prog := path.Base(f[0])
		if prog == "env" && len(f) > 1 {
			prog = f[1]
		}
		return shells[prog]
	}
	return strings.HasSuffix(name, ".sh") && isText(head)
}

// judgeDropper scores a script and reports it when the score reaches a
// threshold; the script is inventoried either way.
func (r *run) judgeDropper(f *check.File) {
	sc := ScoreScript(f.Data)
	names := make([]string, len(sc.Behaviours))
	for i, b := range sc.Behaviours {
		names[i] = b.Name
	}
	fields := map[string]string{"score": fmt.Sprint(len(sc.Behaviours)), "behaviours": strings.Join(names, ",")}
	r.inventory("shell-script", f.Path, 0, f.Path, fields)
	if !sc.Scored {
		return
	}
	var why []string
	for _, b := range sc.Behaviours {
		why = append(why, fmt.Sprintf("%s (%s, line %d: %s)", b.Title, b.Technique, b.Line, oneLine(b.Text)))
	}
	ev := at(f, sc.Behaviours[0].Line, sc.Behaviours[0].Text)
	rule := priv().rules["dropper.script"]
	rep := strings.NewReplacer("{path}", ev.Path, "{score}", fmt.Sprint(len(sc.Behaviours)))
	r.finding(report.Finding{
		Rule: "dropper.script", Severity: sc.Severity, Technique: rule.Technique,
		Title:       rep.Replace(rule.Title),
		Description: fmt.Sprintf("%s does %d things miner droppers combine: %s.", ev.Path, len(sc.Behaviours), strings.Join(why, "; ")),
		Evidence:    ev, Remediation: rep.Replace(rule.Remedy),
	})
}

// Droppers scores the shell scripts of writable places and homes, where
// droppers are left (the sweep's file hook scores the rest of the disk).
type Droppers struct{}

func (Droppers) Name() string { return "droppers" }
func (Droppers) OS() string   { return "linux" }

func (c Droppers) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	seen := map[string]bool{}
	for _, d := range writableDirs(t) {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		r.walkFiles(d, func(p string, m *fsread.Meta) {
			if seen[p] || m.Size > maxDropperScript || m.Size == 0 {
				return
			}
			seen[p] = true
			if !looksLikeShellScript(path.Base(p), r.head(p, 256)) {
				return
			}
			if f := r.read(p); f != nil {
				r.judgeDropper(f)
			}
		})
	}
	return ctx.Err()
}
