// Package expect reads a planting spec (testdata/images/src/*.expect): the
// hand-written list of what was planted in a test tree and what the scan
// must report for it. The same spec holds the checks to account on a
// directory tree and the whole pipeline on the image built from that tree.
package expect

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/snapscan/snapscan/report"
)

// Row is one line: path;line;rule;technique;family;severity. Line 0 means
// any line; an empty technique or family matches any; severity "ok" marks a
// benign look-alike that must be in the inventory and give no finding.
type Row struct {
	N                                  int // line in the spec file
	Path, Rule, Technique, Family, Sev string
	Line                               int
}

// Read parses a spec file.
func Read(name string) ([]Row, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var out []Row
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ";")
		if len(f) != 6 {
			return nil, fmt.Errorf("%s:%d: want 6 fields, got %d", name, i+1, len(f))
		}
		ln, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, i+1, err)
		}
		out = append(out, Row{N: i + 1, Path: f[0], Line: ln, Rule: f[2], Technique: f[3], Family: f[4], Sev: f[5]})
	}
	return out, nil
}

// Benign reports whether the row marks a look-alike that must not be found.
func (r Row) Benign() bool { return r.Sev == "ok" }

// Matches reports whether f is the finding the row asks for.
func (r Row) Matches(f report.Finding) bool {
	if f.Evidence.Path != r.Path || f.Rule != r.Rule ||
		(r.Technique != "" && f.Technique != r.Technique) ||
		(r.Family != "" && f.Family != r.Family) ||
		(r.Line != 0 && f.Evidence.Line != r.Line) {
		return false
	}
	sev, err := report.ParseSeverity(r.Sev)
	return err != nil || f.Severity == sev
}

// Problems holds findings and inventory to the spec in both directions:
// every row has its finding (or, for benign rows, an inventory entry and no
// finding), and every finding of medium or worse is on a row. Findings
// whose check is in ignoreChecks are not required to be listed (the content
// sweep, when the spec covers the persistence checks only).
func Problems(rows []Row, findings []report.Finding, inv []report.InventoryItem, ignoreChecks ...string) []string {
	var out []string
	for _, r := range rows {
		if r.Benign() {
			for _, f := range findings {
				if f.Evidence.Path == r.Path && !contains(ignoreChecks, f.Check) {
					out = append(out, fmt.Sprintf("expect:%d: benign %s has finding %s (%s)", r.N, r.Path, f.Rule, f.Evidence.Match))
					break
				}
			}
			found := false
			for _, i := range inv {
				found = found || i.Path == r.Path
			}
			if !found {
				out = append(out, fmt.Sprintf("expect:%d: benign %s is not in the inventory", r.N, r.Path))
			}
			continue
		}
		hit := false
		for _, f := range findings {
			hit = hit || r.Matches(f)
		}
		if !hit {
			out = append(out, fmt.Sprintf("expect:%d: no finding %s line %d %s %s %s %s", r.N, r.Path, r.Line, r.Rule, r.Technique, r.Family, r.Sev))
		}
	}
	for _, f := range findings {
		if f.Severity < report.Medium || contains(ignoreChecks, f.Check) {
			continue
		}
		listed := false
		for _, r := range rows {
			listed = listed || (!r.Benign() && r.Matches(f))
		}
		if !listed {
			out = append(out, fmt.Sprintf("unexpected finding %s line %d %s %s fam=%s %s: %s", f.Evidence.Path, f.Evidence.Line, f.Rule, f.Technique, f.Family, f.Severity, f.Evidence.Match))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
