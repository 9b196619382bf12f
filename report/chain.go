package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// AutostartTarget is the inventory kind of a file an autostart entry runs
// (scanner/linux follows cron lines, units, rc and shell startup lines to
// the scripts and binaries they start). Its fields: entry ("PATH:LINE" of
// the entry), entry_volume, chain ("a → b"), place (the rule prefix), what
// (the place in words), technique and technique_name (the autostart's).
const AutostartTarget = "autostart-target"

// chainSuffix ends the rule of a sweep finding chained to its autostart.
const chainSuffix = ".target-yara"

// fileKey names one file: the volume that stores it and its path there.
type fileKey struct{ volume, path string }

func keyOf(e *Evidence) fileKey {
	p := e.VolumePath
	if p == "" {
		p = e.Path
	}
	return fileKey{e.Volume, p}
}

// chainTargetHits joins what only the report knows together: the checks
// judge a followed binary by its strings, the content sweep judges every
// file by YARA. A sweep finding with a YARA match on a file an
// autostart-target record names becomes the chain's finding: it names the
// entry and the chain, carries the autostart's technique, and its severity
// is the worst of the YARA verdict and the entry's own finding. The entry's
// finding, if it has one, is raised to the same severity: the chain's, not
// the line's. It runs before the inventory is filtered for output, and a
// second run changes nothing.
func chainTargetHits(r *Report) {
	targets := map[fileKey][]InventoryItem{}
	for _, it := range r.Inventory {
		if it.Kind == AutostartTarget {
			k := keyOf(&Evidence{Volume: it.Volume, Path: it.Path, VolumePath: it.VolumePath})
			targets[k] = append(targets[k], it)
		}
	}
	if len(targets) == 0 {
		return
	}
	type entryKey struct {
		volume, path string
		line         int
	}
	entries := map[entryKey][]int{}
	for i, f := range r.Findings {
		if f.Check != "sweep" {
			k := entryKey{f.Evidence.Volume, f.Evidence.Path, f.Evidence.Line}
			entries[k] = append(entries[k], i)
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		var yara []string
		for _, m := range f.Matches {
			if !strings.HasPrefix(m.Rule, "ioc.") && !slices.Contains(yara, m.Rule) {
				yara = append(yara, m.Rule)
			}
		}
		its := targets[keyOf(&f.Evidence)]
		if f.Check != "sweep" || strings.HasSuffix(f.Rule, chainSuffix) || len(yara) == 0 || len(its) == 0 {
			continue
		}
		its = slices.Clone(its)
		slices.SortFunc(its, func(a, b InventoryItem) int {
			return cmp.Or(cmp.Compare(a.Fields["entry_volume"], b.Fields["entry_volume"]),
				cmp.Compare(a.Fields["entry"], b.Fields["entry"]), cmp.Compare(a.Fields["chain"], b.Fields["chain"]))
		})
		sev := f.Severity
		var chains []string
		var raise []int
		for _, it := range its {
			entry := it.Fields["entry"]
			p, line := entry, 0
			if j := strings.LastIndexByte(entry, ':'); j > 0 {
				if n, err := strconv.Atoi(entry[j+1:]); err == nil {
					p, line = entry[:j], n
				}
			}
			for _, j := range entries[entryKey{it.Fields["entry_volume"], p, line}] {
				sev = max(sev, r.Findings[j].Severity)
				raise = append(raise, j)
			}
			where := p
			if line > 0 {
				where = fmt.Sprintf("%s line %d", p, line)
			}
			chains = append(chains, fmt.Sprintf("%s %s runs %s", it.Fields["what"], where, it.Fields["chain"]))
		}
		which := fmt.Sprintf("YARA rule %s", strings.Join(yara, ", "))
		lead := its[0]
		f.Rule = lead.Fields["place"] + chainSuffix
		f.Title = fmt.Sprintf("%s runs a file that %s matches", lead.Fields["what"], which)
		f.Description = fmt.Sprintf("%s, which matches %s (%s). %s", strings.Join(chains, "; "), which, f.Severity, f.Description)
		f.Severity = sev
		if t := lead.Fields["technique"]; t != "" {
			f.Technique, f.TechniqueName = t, lead.Fields["technique_name"]
		}
		f.Remediation = fmt.Sprintf("Remove the entry (%s) on the host as well as the file. %s", lead.Fields["entry"], f.Remediation)
		f.ID = "" // a new rule: Finalize gives the id
		for _, j := range raise {
			if e := &r.Findings[j]; e.Severity < sev {
				e.Severity = sev
				e.Description += fmt.Sprintf(" The file it runs, %s, matches %s.", f.Evidence.Path, which)
			}
		}
	}
}
