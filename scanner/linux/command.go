package linux

import (
	"fmt"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/report"
)

// Verdict is what a command does that matters, judged by behaviour
// (signatures/linux/commands.txt), pools it names (ioc/pools.txt), and family
// markers it carries (families.txt, kind "command").
type Verdict struct {
	Rules   []CommandRule // most severe first
	Pools   []string
	Markers []Marker
}

// Suspicious is true when anything matched.
func (v Verdict) Suspicious() bool { return len(v.Rules) > 0 || len(v.Markers) > 0 }

// poolRule stands for "names a mining pool"; the pool list is data, the rule
// wrapping it is fixed.
var poolRule = CommandRule{Rule: "miner-pool", Severity: report.High, Technique: "T1496.001", Title: "names a mining pool"}

// maxJudged bounds how much of one command line the patterns run over.
const maxJudged = 64 << 10

// JudgeCommand judges one command line (a cron command, an Exec= value, a
// script line).
func JudgeCommand(cmd string) Verdict {
	s := sigs()
	if len(cmd) > maxJudged {
		cmd = cmd[:maxJudged] // a hostile image may hold one line of megabytes
	}
	var v Verdict
	seen := map[string]bool{}
	for _, r := range s.commands {
		if seen[r.Rule] {
			continue
		}
		if r.Re.MatchString(cmd) && !allowed(s, r.Rule, cmd) {
			seen[r.Rule] = true
			v.Rules = append(v.Rules, r)
		}
	}
	if v.Pools = s.poolsIn(cmd); len(v.Pools) > 0 {
		v.Rules = append(v.Rules, poolRule)
	}
	for _, m := range s.markersOf("command") {
		if strings.Contains(cmd, m.Pattern) {
			v.Markers = append(v.Markers, m)
		}
	}
	sort.SliceStable(v.Rules, func(i, j int) bool { return v.Rules[i].Severity > v.Rules[j].Severity })
	sort.SliceStable(v.Markers, func(i, j int) bool { return v.Markers[i].Severity > v.Markers[j].Severity })
	return v
}

// place says where a judged command came from, for wording the finding.
type place struct {
	prefix    string // rule prefix: cron, systemd, rc
	what      string // "Cron entry", "systemd unit", "rc script"
	technique string // the persistence technique
	remedy    string // the manual step, with %s for the path
}

// judged turns a verdict into a finding (nothing when the verdict is clean).
// The finding's technique is the persistence place's; the behaviours matched
// are listed in the description with their own techniques.
func (r *run) judged(p place, ev report.Evidence, cmd string, v Verdict, extra string) bool {
	if !v.Suspicious() {
		return false
	}
	f := report.Finding{Technique: p.technique, Evidence: ev}
	var why []string
	for _, rule := range v.Rules {
		why = append(why, fmt.Sprintf("%s (%s)", rule.Title, rule.Technique))
	}
	if len(v.Pools) > 0 {
		why = append(why, "pool: "+strings.Join(v.Pools, ", "))
	}
	for _, m := range v.Markers {
		why = append(why, fmt.Sprintf("%s marker %q: %s", m.Family, m.Pattern, m.Description))
	}
	switch {
	case len(v.Rules) > 0:
		top := v.Rules[0]
		f.Rule = p.prefix + "." + top.Rule
		f.Severity = top.Severity
		f.Title = fmt.Sprintf("%s %s", p.what, top.Title)
		if len(v.Markers) > 0 {
			f.Severity = report.Critical
			f.Family = v.Markers[0].Family
			f.Title += " (" + f.Family + ")"
		}
	default:
		m := v.Markers[0]
		f.Rule = p.prefix + ".family-marker"
		f.Severity = m.Severity
		f.Family = m.Family
		f.Title = fmt.Sprintf("%s carries a %s marker (%s)", p.what, m.Family, m.Pattern)
	}
	f.Description = "Command: " + oneLine(cmd) + ". Matched: " + strings.Join(why, "; ") + "."
	if extra != "" {
		f.Description += " " + extra
	}
	f.Remediation = fmt.Sprintf(p.remedy, ev.Path)
	r.finding(f)
	return true
}

func allowed(s *sigdata, rule, cmd string) bool {
	cmd = strings.TrimSpace(cmd)
	for _, re := range s.allow[rule] {
		if re.MatchString(cmd) {
			return true
		}
	}
	return false
}
