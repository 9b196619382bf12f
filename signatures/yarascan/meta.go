package yarascan

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/snapscan/snapscan/report"
)

// RuleInfo describes one compiled rule, for `snapscan rules list` and for
// turning a match into a finding.
type RuleInfo struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Tags      []string          `json:"tags,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	// Source is "embedded" or the user's rule file.
	Source string `json:"source"`

	// Interpreted from Meta (see the accessors' rules).
	Severity    report.Severity `json:"severity"`
	Technique   string          `json:"technique,omitempty"`
	Family      string          `json:"family,omitempty"`
	Description string          `json:"description,omitempty"`
	Reference   string          `json:"reference,omitempty"`
	Remediation string          `json:"remediation,omitempty"`
}

// DefaultSeverity is given to a rule with neither a severity nor a score
// meta: the analyst asked for the rule, so a match deserves a look, but
// without the rule author's word it is not a high-confidence verdict.
const DefaultSeverity = report.Medium

// ScoreSeverity maps a LOKI/THOR score (0-100) to a severity: THOR shows
// 40-59 as notice, 60-74 as warning, 75+ as alert.
func ScoreSeverity(score int) report.Severity {
	switch {
	case score >= 100:
		return report.Critical
	case score >= 75:
		return report.High
	case score >= 60:
		return report.Medium
	case score >= 40:
		return report.Low
	}
	return report.Info
}

var techniqueRE = regexp.MustCompile(`\bT[0-9]{4}(\.[0-9]{3})?\b`)

// metaString renders a meta value as text.
func metaString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// interpret fills the derived fields from Meta. Public rule sets spell
// these differently, so several keys are accepted (first hit wins).
func (ri *RuleInfo) interpret() {
	get := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := ri.Meta[k]; ok && v != "" {
				return v
			}
		}
		return ""
	}
	ri.Severity = DefaultSeverity
	if s := get("severity", "level"); s != "" {
		if v, err := report.ParseSeverity(strings.TrimSpace(s)); err == nil {
			ri.Severity = v
		} else if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			ri.Severity = ScoreSeverity(n)
		}
	} else if s := get("score"); s != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			ri.Severity = ScoreSeverity(n)
		}
	}
	ri.Technique = techniqueRE.FindString(get("attack", "mitre_attack", "mitre_att", "attack_id", "technique", "mitre"))
	ri.Family = get("family", "malware_family", "malware")
	ri.Description = get("description", "desc")
	ri.Reference = get("reference", "ref", "url")
	ri.Remediation = get("remediation")
}
