package sweep

import (
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// Report-size bounds: a rule can match a string thousands of times.
const (
	maxStringsPerRule = 8
	maxStringData     = 96
)

// fallbackTechnique is used when no matching rule names one: the sweep
// looks for cryptominers, and every finding must carry a technique.
const fallbackTechnique = "T1496.001"

const defaultRemediation = "Preserve the file (hashes in the evidence), find what starts or reads it (cron, systemd, rc, Run keys, services, tasks) and remove both by hand; snapscan does not modify the image."

// hit is one reason a file is reported: a YARA rule, a hash or a name.
type hit struct {
	sev         report.Severity
	rule        string // Finding.Rule when this hit leads
	title       string
	technique   string
	family      string
	remediation string
	summary     string // one line for Finding.Description
	evidence    string // Evidence.Match when this hit leads
	match       report.RuleMatch
}

func yaraHit(m yarascan.Match) hit {
	in := m.Info
	rm := report.RuleMatch{Rule: in.Name, Tags: in.Tags, Source: in.Source}
	for i, s := range m.Strings {
		if i == maxStringsPerRule {
			break
		}
		rm.Strings = append(rm.Strings, report.StringMatch{Name: s.Name, Offset: s.Offset, Data: printable(s.Data)})
	}
	title := in.Description
	if title == "" {
		title = "YARA rule " + in.Name + " matched"
	}
	h := hit{
		sev: in.Severity, rule: "yara." + in.Name, title: title, technique: in.Technique, family: in.Family,
		remediation: in.Remediation, summary: fmt.Sprintf("YARA %s (%s)", in.Name, in.Severity), match: rm,
	}
	if len(rm.Strings) > 0 {
		h.evidence = rm.Strings[0].Data
	}
	return h
}

func hashHit(h signatures.HashIOC) hit {
	sev := yarascan.ScoreSeverity(h.Score)
	src := fmt.Sprintf("%s:%d", h.Source, h.Line)
	return hit{
		sev: sev, rule: "ioc.hash", title: "Known file hash: " + h.Description, technique: fallbackTechnique,
		summary:  fmt.Sprintf("%s hash IOC %q (%s, %s)", strings.ToUpper(h.Kind), h.Description, sev, src),
		evidence: h.Kind + ":" + h.Hash,
		match: report.RuleMatch{Rule: "ioc.hash", Tags: []string{h.Kind}, Source: src,
			Strings: []report.StringMatch{{Name: h.Kind, Data: h.Hash}}},
	}
}

func filenameHit(f signatures.FilenameIOC) hit {
	sev := yarascan.ScoreSeverity(f.Score)
	src := fmt.Sprintf("%s:%d", f.Source, f.Line)
	re := f.Regexp.String()
	return hit{
		sev: sev, rule: "ioc.filename", title: "Suspicious file name: " + f.Description, technique: fallbackTechnique,
		summary:  fmt.Sprintf("file-name IOC %q (%s, %s)", f.Description, sev, src),
		evidence: re,
		match: report.RuleMatch{Rule: "ioc.filename", Source: src,
			Strings: []report.StringMatch{{Name: "regex", Data: printable([]byte(re))}}},
	}
}

// buildFinding makes the one finding of a file: severity is the highest of
// its hits, and the first hit at that severity names the rule, title and
// remediation; technique and family come from the strongest hit that has one.
func buildFinding(ev report.Evidence, hits []hit) *report.Finding {
	lead := 0
	for i, h := range hits {
		if h.sev > hits[lead].sev {
			lead = i
		}
	}
	l := hits[lead]
	f := &report.Finding{
		Rule: l.rule, Check: CheckName, Title: l.title, Severity: l.sev,
		Technique: l.technique, Family: l.family, Remediation: l.remediation, Evidence: ev,
	}
	f.Evidence.Match = l.evidence
	var sums []string
	for _, h := range hits {
		f.Matches = append(f.Matches, h.match)
		sums = append(sums, h.summary)
	}
	// Strongest first for technique and family when the lead has none.
	for s := report.Critical; s >= report.Info && (f.Technique == "" || f.Family == ""); s-- {
		for _, h := range hits {
			if h.sev != s {
				continue
			}
			if f.Technique == "" && h.technique != "" {
				f.Technique = h.technique
			}
			if f.Family == "" && h.family != "" {
				f.Family = h.family
			}
		}
	}
	if f.Technique == "" {
		f.Technique = fallbackTechnique
	}
	f.TechniqueName = yarascan.TechniqueName(f.Technique)
	if f.Remediation == "" {
		f.Remediation = defaultRemediation
	}
	f.Description = "Matched: " + strings.Join(sums, "; ")
	f.ID = report.FindingID(f)
	return f
}

// printable renders matched bytes for a report: printable ASCII kept,
// everything else as \xNN, truncated.
func printable(b []byte) string {
	var sb strings.Builder
	i := 0
	for ; i < len(b) && sb.Len() < maxStringData; i++ {
		c := b[i]
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	if i < len(b) {
		sb.WriteString("...")
	}
	return sb.String()
}
