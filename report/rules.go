package report

import (
	"strings"
	"sync"
	"unicode"
)

// RuleInfo describes a rule in general, as SARIF's reportingDescriptor and
// documentation show it: never one finding's details. Severity is the
// rule's default; each finding keeps its own.
type RuleInfo struct {
	ID        string
	Name      string // an identifier a person reads: CronDownloadExec
	Short     string // one sentence
	Full      string
	Help      string // the manual steps
	Severity  Severity
	Technique string // ATT&CK technique of the behaviour
	// TechniqueName is the technique's name; the SARIF writer takes it
	// from the findings when the catalogue leaves it empty.
	TechniqueName string
	Tags          []string // more ATT&CK ids (the place's technique)
}

// The rule catalogue: describers registered by the packages that own
// rules (signatures' rules.txt, the YARA rules compiled for a scan).
var catalogue struct {
	sync.RWMutex
	byID       map[string]RuleInfo
	describers []func(id string) (RuleInfo, bool)
}

// RegisterRules adds rules described one by one (YARA rules, by id); a
// later registration of the same id replaces the earlier one.
func RegisterRules(rules ...RuleInfo) {
	catalogue.Lock()
	defer catalogue.Unlock()
	if catalogue.byID == nil {
		catalogue.byID = map[string]RuleInfo{}
	}
	for _, r := range rules {
		catalogue.byID[r.ID] = r
	}
}

// RegisterDescriber adds a function that describes rule ids by pattern.
func RegisterDescriber(d func(id string) (RuleInfo, bool)) {
	catalogue.Lock()
	defer catalogue.Unlock()
	catalogue.describers = append(catalogue.describers, d)
}

// DescribeRule returns what the catalogue knows of id.
func DescribeRule(id string) (RuleInfo, bool) {
	catalogue.RLock()
	defer catalogue.RUnlock()
	if r, ok := catalogue.byID[id]; ok {
		return r, true
	}
	for _, d := range catalogue.describers {
		if r, ok := d(id); ok {
			return r, true
		}
	}
	return RuleInfo{}, false
}

// RuleName turns a rule id into the PascalCase name SARIF viewers show:
// "cron.download-exec" -> "CronDownloadExec".
func RuleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
