package signatures

import (
	"fmt"
	"strings"
	"sync"

	"github.com/snapscan/snapscan/report"
)

// ruleEntry is one line of rules/rules.txt.
type ruleEntry struct {
	id, technique, short, full, help string
	severity                         report.Severity
	hasSeverity                      bool
}

var (
	rulesOnce sync.Once
	rulesMap  map[string]ruleEntry
	rulesErr  error
)

func init() { report.RegisterDescriber(DescribeRule) }

// loadRules parses the rule catalogue (rules/rules.txt).
func loadRules() (map[string]ruleEntry, error) {
	rulesOnce.Do(func() {
		entries, err := List("rules/rules.txt")
		if err != nil {
			rulesErr = err
			return
		}
		rulesMap = map[string]ruleEntry{}
		for _, e := range entries {
			if len(e.Fields) != 6 {
				rulesErr = fmt.Errorf("rules/rules.txt:%d: %d fields, want 6 (rule;severity;technique;short;full;help)", e.Line, len(e.Fields))
				return
			}
			re := ruleEntry{id: e.Field(0), technique: e.Field(2), short: e.Field(3), full: e.Field(4), help: e.Field(5)}
			if s := e.Field(1); s != "" {
				sev, err := report.ParseSeverity(s)
				if err != nil {
					rulesErr = fmt.Errorf("rules/rules.txt:%d: %w", e.Line, err)
					return
				}
				re.severity, re.hasSeverity = sev, true
			}
			if _, dup := rulesMap[re.id]; dup {
				rulesErr = fmt.Errorf("rules/rules.txt:%d: %s described twice", e.Line, re.id)
				return
			}
			rulesMap[re.id] = re
		}
	})
	return rulesMap, rulesErr
}

// DescribeRule describes a check's rule id from the catalogue: an exact
// entry, or a place ("cron.*") joined with a judgement ("*.download-exec").
func DescribeRule(id string) (report.RuleInfo, bool) {
	m, err := loadRules()
	if err != nil {
		return report.RuleInfo{}, false
	}
	exact, hasExact := m[id]
	if hasExact && exact.short != "" {
		return info(id, exact), true
	}
	if e, ok := checkRules()[id]; ok {
		return info(id, e), true
	}
	place, judgement, ok := strings.Cut(id, ".")
	if !ok {
		return report.RuleInfo{}, false
	}
	p, okP := m[place+".*"]
	j, okJ := m["*."+judgement]
	if !okP || !okJ {
		return report.RuleInfo{}, false
	}
	ri := report.RuleInfo{
		ID:        id,
		Name:      report.RuleName(id),
		Short:     p.short + " " + j.short,
		Full:      j.full + " " + p.full,
		Help:      p.help + " " + j.help,
		Severity:  j.severity,
		Technique: j.technique,
	}
	if p.technique != "" && p.technique != j.technique {
		ri.Tags = []string{p.technique}
	}
	if hasExact {
		if exact.hasSeverity {
			ri.Severity = exact.severity
		}
		if exact.technique != "" {
			ri.Technique = exact.technique
		}
	}
	return ri, true
}

func info(id string, e ruleEntry) report.RuleInfo {
	return report.RuleInfo{ID: id, Name: report.RuleName(id), Short: e.short, Full: e.full, Help: e.help, Severity: e.severity, Technique: e.technique}
}

// checkRuleFiles hold rules that checks describe themselves, one a line:
// rule;severity;technique;title;remedy, where {name} fields are filled per
// finding. The catalogue need not repeat them.
var checkRuleFiles = []string{"linux/privesc-rules.txt", "linux/autostart-rules.txt"}

// checkRules reads checkRuleFiles into catalogue entries: the title with its
// fields named generically is the short description, the remedy the help.
var checkRules = sync.OnceValue(func() map[string]ruleEntry {
	out := map[string]ruleEntry{}
	for _, name := range checkRuleFiles {
		entries, err := List(name)
		if err != nil {
			continue // a file not in this build
		}
		for _, e := range entries {
			if len(e.Fields) < 5 {
				continue
			}
			sev, err := report.ParseSeverity(e.Field(1))
			if err != nil {
				continue
			}
			title := generic(e.Field(3))
			out[e.Field(0)] = ruleEntry{id: e.Field(0), technique: e.Field(2), short: title,
				full: title + ".", help: generic(e.Field(4)), severity: sev, hasSeverity: true}
		}
	}
	return out
})

// generic names a template's {field} placeholders in angle brackets, as a
// rule's description (not one finding's) reads: "Account <name> is ...".
func generic(s string) string {
	return strings.NewReplacer("{", "<", "}", ">").Replace(s)
}
