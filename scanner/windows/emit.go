package windows

import (
	"fmt"
	"strings"
	"time"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// entry is one autostart record, already parsed: the typed inventory half
// before any verdict.
type entry struct {
	Place   string // runkey, winlogon, service, task, startup (places-remediation.txt)
	Kind    string // inventory kind: run-key, winlogon, service, task, startup
	Name    string // value, service or task name
	Key     string // registry key\value, or element inside the file
	Command string // what runs
	Target  string // the program or script it runs, for the remediation text
	User    string
	Fields  map[string]string
	Ev      report.Evidence
	// Says replaces "<place> "<name>" runs: <command>" in the finding's
	// description, for entries that are settings rather than commands.
	Says string
	// MatchPerHit makes each finding's Evidence.Match the text its hit
	// matched (the script line) instead of the entry's whole command.
	MatchPerHit bool
}

// emit records e in the inventory and turns each hit into a finding.
func emit(r *rules, checkName string, out check.Sink, e entry, hits []hit) {
	fields := map[string]string{}
	for k, v := range e.Fields {
		if v != "" {
			fields[k] = v
		}
	}
	if e.User != "" {
		fields["user"] = e.User
	}
	if e.Key != "" {
		fields["key"] = e.Key
	}
	fields["verdict"] = maxSeverity(hits)
	summary := e.Command
	if e.Key != "" {
		summary = e.Key + " = " + e.Command
	}
	out.Inventory(report.InventoryItem{
		Kind:    e.Kind,
		Volume:  e.Ev.Volume,
		Path:    e.Ev.Path,
		Line:    e.Ev.Line,
		Summary: clip(summary, 2048),
		Fields:  fields,
	})
	info := r.placeInfo[e.Place]
	for _, h := range hits {
		ev := e.Ev
		ev.Key = e.Key
		if h.Key != "" {
			ev.Key = h.Key
		}
		// The stored value data / action is the evidence; what exactly the
		// rule matched (a path, the decoded command) goes in the description.
		ev.Match = clip(e.Command, 2048)
		if e.MatchPerHit && h.Text != "" {
			ev.Match = clip(h.Text, 2048)
		}
		tech := h.Technique
		if tech == "" {
			tech = info.technique
		}
		f := report.Finding{
			Rule:          e.Place + "." + h.Rule,
			Check:         checkName,
			Title:         h.Title,
			Severity:      h.Severity,
			Technique:     tech,
			TechniqueName: r.techniques[tech],
			Family:        h.Family,
			Description:   describe(e, h),
			Evidence:      ev,
			Remediation:   fill(info.remediation, e),
		}
		f.ID = report.FindingID(&f)
		out.Finding(f)
	}
}

func describe(e entry, h hit) string {
	var b strings.Builder
	if e.Says != "" {
		b.WriteString(e.Says)
		if h.Match != "" && h.Match != e.Command {
			fmt.Fprintf(&b, "; matched: %s", clip(h.Match, 1024))
		}
		return b.String()
	}
	switch e.Place {
	case "runkey":
		fmt.Fprintf(&b, "Run value \"%s\"", e.Name)
	case "winlogon":
		fmt.Fprintf(&b, "Winlogon value \"%s\"", e.Name)
	case "service":
		fmt.Fprintf(&b, "Service \"%s\"", e.Name)
	case "task":
		fmt.Fprintf(&b, "Scheduled task \"%s\"", e.Name)
	case "startup":
		fmt.Fprintf(&b, "Startup-folder item \"%s\"", e.Name)
	default:
		fmt.Fprintf(&b, "%s \"%s\"", e.Place, e.Name)
	}
	if e.User != "" {
		fmt.Fprintf(&b, " of user %s", e.User)
	}
	fmt.Fprintf(&b, " runs: %s", clip(e.Command, 1024))
	for _, k := range []string{"start", "account", "run_as", "run_level", "triggers", "hidden", "last_write"} {
		if v := e.Fields[k]; v != "" {
			fmt.Fprintf(&b, "; %s=%s", k, v)
		}
	}
	if h.Match != "" && h.Match != e.Command {
		fmt.Fprintf(&b, "; matched: %s", clip(h.Match, 1024))
	}
	return b.String()
}

func fill(tmpl string, e entry) string {
	target := e.Target
	if target == "" {
		target = "the program it names"
	}
	return strings.NewReplacer("{key}", e.Key, "{path}", e.Ev.Path, "{name}", e.Name, "{target}", target).Replace(tmpl)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
