package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Finalize readies a report for writing: it sets the schema version, fills
// missing finding IDs, drops duplicate findings and errors, sorts everything
// deterministically and counts findings by severity. Checks run in parallel
// and may report the same thing twice; after Finalize two scans of the same
// image give byte-identical JSON apart from times.
//
// Findings are ordered by severity (critical first), then volume, path,
// line, rule. Two findings with the same ID (same rule, volume, path, line
// and key) are one finding: the more severe (then the one with more
// evidence) is kept and the YARA matches of both are merged. A sweep YARA
// finding on a file an autostart runs is joined to that autostart first
// (chainTargetHits), before any output filter drops the inventory.
func Finalize(r *Report) {
	r.Schema = SchemaVersion
	chainTargetHits(r)
	// Checks stamp ids from the volume's name; here the volume's identity
	// (UUID) is known. An id set otherwise (a report read back) is kept.
	keys := VolumeKeys(r)
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.ID == "" || f.ID == FindingID(f) {
			f.ID = IDIn(keys, f)
		}
	}
	slices.SortStableFunc(r.Findings, compareFindings)
	r.Findings = dedupeFindings(r.Findings)
	r.Findings = foldNameOnlyHits(r.Findings)

	slices.SortStableFunc(r.Errors, func(a, b ScanError) int {
		return cmp.Or(cmp.Compare(a.Volume, b.Volume), cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Error, b.Error))
	})
	r.Errors = slices.Compact(r.Errors)

	slices.SortStableFunc(r.Inventory, func(a, b InventoryItem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Volume, b.Volume),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Summary, b.Summary))
	})
	slices.SortStableFunc(r.Skipped, func(a, b Skipped) int {
		return cmp.Or(cmp.Compare(a.Volume, b.Volume), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Reason, b.Reason))
	})
	r.Skipped = slices.Compact(r.Skipped)
	if n := int64(len(r.Skipped)); r.Stats.FilesSkipped < n {
		r.Stats.FilesSkipped = n
	}

	r.Stats.BySeverity = countBySeverity(r.Findings)
	fillNil(r)
}

func compareFindings(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity, a.Severity), // most severe first
		cmp.Compare(a.Evidence.Volume, b.Evidence.Volume),
		cmp.Compare(a.Evidence.Path, b.Evidence.Path),
		cmp.Compare(a.Evidence.Line, b.Evidence.Line),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Evidence.Key, b.Evidence.Key),
		cmp.Compare(a.ID, b.ID),
		// Same id and severity: the same finding reported twice. Keep the
		// one with more evidence, and make the choice independent of the
		// order the checks delivered them in.
		cmp.Compare(richness(&b), richness(&a)),
		compareEncoded(&a, &b),
	)
}

// richness counts the evidence a finding carries.
func richness(f *Finding) int {
	n := 0
	for _, s := range []string{f.Title, f.Description, f.TechniqueName, f.Family, f.Remediation,
		f.Evidence.MD5, f.Evidence.SHA256, f.Evidence.Mode, f.Evidence.Match, f.Evidence.LinkTarget} {
		if s != "" {
			n++
		}
	}
	for _, t := range []*time.Time{f.Evidence.Mtime, f.Evidence.Atime, f.Evidence.Ctime, f.Evidence.Btime} {
		if t != nil {
			n++
		}
	}
	if f.Evidence.Inode != 0 {
		n++
	}
	if f.Evidence.UID != nil {
		n++
	}
	return n + len(f.Matches) + len(f.Evidence.Flags)
}

// compareEncoded is the last tie-break: a total order on content.
func compareEncoded(a, b *Finding) int {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Compare(ja, jb)
}

// dedupeFindings keeps the first finding of each ID. The input is sorted by
// severity first, so the one kept is the most severe.
func dedupeFindings(fs []Finding) []Finding {
	seen := make(map[string]int, len(fs))
	out := fs[:0]
	for _, f := range fs {
		if i, ok := seen[f.ID]; ok {
			if merged := mergeMatches(out[i].Matches, f.Matches); len(merged) != len(out[i].Matches) {
				slices.SortStableFunc(merged, func(a, b RuleMatch) int {
					return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Source, b.Source))
				})
				out[i].Matches = merged
			}
			continue
		}
		seen[f.ID] = len(out)
		out = append(out, f)
	}
	clear(fs[len(out):])
	return out
}

func mergeMatches(a, b []RuleMatch) []RuleMatch {
	for _, m := range b {
		if !slices.ContainsFunc(a, func(x RuleMatch) bool { return x.Rule == m.Rule && x.Source == m.Source }) {
			a = append(slices.Clip(a), m)
		}
	}
	return a
}

// countBySeverity has every severity as a key, zero or not, so that JSON
// consumers need not treat a missing key as zero.
func countBySeverity(fs []Finding) map[string]int {
	m := make(map[string]int, len(severityNames))
	for _, n := range severityNames {
		m[n] = 0
	}
	for _, f := range fs {
		m[f.Severity.String()]++
	}
	return m
}

// fillNil turns absent lists into empty ones: the JSON schema promises
// arrays, and "null" findings would read as "not checked" to a consumer.
func fillNil(r *Report) {
	if r.Volumes == nil {
		r.Volumes = []Volume{}
	}
	if r.Targets == nil {
		r.Targets = []Target{}
	}
	for i := range r.Targets {
		if r.Targets[i].Checks == nil {
			r.Targets[i].Checks = []string{}
		}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Errors == nil {
		r.Errors = []ScanError{}
	}
	if r.Stats.BySeverity == nil {
		r.Stats.BySeverity = countBySeverity(r.Findings)
	}
}

// foldNameOnlyHits merges a content-sweep finding that rests only on file-name
// indicators into a check's finding on the same file: the check already
// judged that file (a family marker names the same path), and two findings
// with different severities for one file inflate the counts. YARA content
// matches stay findings of their own: they are different evidence.
func foldNameOnlyHits(fs []Finding) []Finding {
	best := map[fileKey]int{}
	for i, f := range fs {
		if f.Check == "sweep" {
			continue
		}
		k := keyOf(&f.Evidence)
		if j, ok := best[k]; !ok || f.Severity > fs[j].Severity {
			best[k] = i
		}
	}
	drop := map[int]bool{}
	for i, f := range fs {
		if f.Check != "sweep" || len(f.Matches) == 0 {
			continue
		}
		nameOnly := true
		for _, m := range f.Matches {
			nameOnly = nameOnly && strings.HasPrefix(m.Rule, "ioc.filename")
		}
		j, ok := best[keyOf(&f.Evidence)]
		if !nameOnly || !ok || fs[j].Severity < f.Severity {
			continue // never lower what the report says about a file
		}
		fs[j].Matches = mergeMatches(fs[j].Matches, f.Matches)
		drop[i] = true
	}
	if len(drop) == 0 {
		return fs
	}
	out := fs[:0]
	for i, f := range fs {
		if !drop[i] {
			out = append(out, f)
		}
	}
	return out
}
