// Package baseline compares a scan with an earlier one (--baseline) so that
// only what is new is reported: a CI job over a golden image fails on a
// change, not on what was already known and accepted.
package baseline

import (
	"fmt"
	"os"

	"github.com/snapscan/snapscan/report"
)

// Baseline is the set of finding ids of an earlier scan.
type Baseline struct {
	Path string
	// IDs holds every finding id of the baseline reports, suppressed ones
	// included: a finding accepted then is not new now that its
	// suppression has expired.
	IDs map[string]bool
	// ByImage holds the ids of each baseline report by its image path.
	// Ids name the volume by its identity, not the image's name, so two
	// copies of one image share ids; when the baseline has a report of
	// the very same path, only its ids count.
	ByImage map[string]map[string]bool
	Reports int
}

// Load reads a baseline: a JSON report, a JSON array of reports, or a JSONL
// file of reports (the output of scan --format json|jsonl). The ids of all
// its reports form one set; ids name the volume, which names the image, so
// the images of a batch do not mix.
func Load(path string) (*Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer f.Close()
	rs, err := report.ReadReports(f)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("baseline %s: no report in the file", path)
	}
	b := FromReports(rs...)
	b.Path = path
	return b, nil
}

// FromReports builds a baseline from reports in memory.
func FromReports(rs ...*report.Report) *Baseline {
	b := &Baseline{IDs: map[string]bool{}, ByImage: map[string]map[string]bool{}, Reports: len(rs)}
	var img map[string]bool
	var keys map[string]string
	add := func(f *report.Finding) {
		// The id as written, and as this version derives it from the
		// evidence: a baseline from before ids named volume identities
		// (they named the image file) still recognises its findings.
		for _, id := range []string{f.ID, report.IDIn(keys, f)} {
			if id != "" {
				b.IDs[id] = true
				img[id] = true
			}
		}
	}
	for _, r := range rs {
		if img = b.ByImage[r.Image]; img == nil {
			img = map[string]bool{}
			b.ByImage[r.Image] = img
		}
		keys = report.VolumeKeys(r)
		for i := range r.Findings {
			add(&r.Findings[i])
		}
		for i := range r.Suppressed {
			add(&r.Suppressed[i].Finding)
		}
	}
	return b
}

// New keeps in r only the findings whose id is not in base (in the
// baseline report of the same image path if there is one, else in any of
// its reports), adds the number
// dropped to Stats.FindingsInBaseline, recounts BySeverity and returns the
// number dropped. Call after report.Finalize (which fills ids) and before
// the severity filter, so that the hidden count stays about severity.
func New(r *report.Report, base *Baseline) int {
	if base == nil {
		return 0
	}
	known := base.IDs
	if ids, ok := base.ByImage[r.Image]; ok {
		known = ids
	}
	kept := r.Findings[:0]
	keys := report.VolumeKeys(r)
	for _, f := range r.Findings {
		id := f.ID
		if id == "" {
			id = report.IDIn(keys, &f)
		}
		if !known[id] && !knownLegacy(known, r, &f) {
			kept = append(kept, f)
		}
	}
	dropped := len(r.Findings) - len(kept)
	clear(r.Findings[len(kept):])
	r.Findings = kept
	r.Stats.FindingsInBaseline += dropped
	report.Recount(r)
	return dropped
}

// knownLegacy reports whether the baseline holds f under an id of the
// earlier scheme (report.LegacyIDs), which a baseline written then has.
func knownLegacy(known map[string]bool, r *report.Report, f *report.Finding) bool {
	for _, id := range report.LegacyIDs(r, f) {
		if known[id] {
			return true
		}
	}
	return false
}
