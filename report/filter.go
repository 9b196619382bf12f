package report

import (
	"fmt"
	"strings"
)

// SeveritySet is a set of severities: what --severity keeps.
type SeveritySet uint8

// AllSeverities keeps every finding.
const AllSeverities SeveritySet = 1<<(Critical+1) - 1

// AtLeast is the set of severities at or above min.
func AtLeast(min Severity) SeveritySet {
	if min < Info {
		min = Info
	}
	if min > Critical {
		return 0
	}
	return AllSeverities &^ (1<<min - 1)
}

// Has reports whether s holds v.
func (s SeveritySet) Has(v Severity) bool {
	return v >= Info && v <= Critical && s&(1<<v) != 0
}

// String lists the set, most severe first, as ParseSeveritySet accepts it.
func (s SeveritySet) String() string {
	var names []string
	for v := Critical; v >= Info; v-- {
		if s.Has(v) {
			names = append(names, v.String())
		}
	}
	return strings.Join(names, ",")
}

// ParseSeveritySet reads the --severity flag. One name is a minimum:
// "medium" (or "medium+") keeps medium, high and critical. A
// comma-separated list is the exact set to keep, as in Trivy:
// "HIGH,CRITICAL". Names are case-insensitive; the empty string keeps
// everything.
func ParseSeveritySet(s string) (SeveritySet, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return AllSeverities, nil
	}
	if !strings.Contains(s, ",") {
		v, err := ParseSeverity(strings.TrimSuffix(s, "+"))
		if err != nil {
			return 0, err
		}
		return AtLeast(v), nil
	}
	var set SeveritySet
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return 0, fmt.Errorf("empty severity in list %q", s)
		}
		v, err := ParseSeverity(part)
		if err != nil {
			return 0, err
		}
		set |= 1 << v
	}
	return set, nil
}

// Filter removes findings below minSeverity. See FilterSet.
func Filter(r *Report, minSeverity Severity) { FilterSet(r, AtLeast(minSeverity)) }

// FilterSet keeps only findings whose severity is in keep. Stats.BySeverity
// then counts what is left, and Stats.FindingsHidden how many were removed,
// so that a filtered report still says something was left out. Errors,
// inventory and skipped files are never filtered: what could not be scanned
// is reported whatever the threshold.
func FilterSet(r *Report, keep SeveritySet) {
	kept := r.Findings[:0]
	hidden := 0
	for _, f := range r.Findings {
		if keep.Has(f.Severity) {
			kept = append(kept, f)
		} else {
			hidden++
		}
	}
	clear(r.Findings[len(kept):])
	r.Findings = kept
	r.Stats.FindingsHidden += hidden
	r.Stats.BySeverity = countBySeverity(r.Findings)
}
