package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// BatchStatus is the one-word verdict on one image of a batch.
type BatchStatus string

const (
	// StatusAtRisk: findings at or above the threshold remain. Findings win
	// over incompleteness, as in ExitCode: a known miner on a half-readable
	// image is still a miner.
	StatusAtRisk BatchStatus = "at risk"
	// StatusNotScanned: the image could not be scanned at all (Incomplete).
	// Such an image is on neither the at-risk nor the clean list: nobody
	// looked at it, so nobody may call it clean.
	StatusNotScanned BatchStatus = "not scanned"
	// StatusIncomplete: scanned, nothing at or above the threshold, but not
	// everything was read (Gaps: a truncated or unreadable volume, unapplied
	// journal writes, an interruption; or errors on single files). Such an
	// image is on neither list either: only a complete, clean verdict
	// releases an image.
	StatusIncomplete BatchStatus = "incomplete"
	// StatusClean: everything was read and nothing at or above the
	// threshold remains.
	StatusClean BatchStatus = "clean"
)

// Status classifies r for a batch; min is the lowest severity that makes an
// image at risk (Medium unless --fail-on says otherwise). The string is the
// reason when the image was not scanned.
func Status(r *Report, min Severity) (BatchStatus, string) {
	if CountAtLeast(r, min) > 0 {
		return StatusAtRisk, ""
	}
	if NothingScanned(r) {
		_, why := Incomplete(r)
		return StatusNotScanned, why
	}
	if ok, why := Incomplete(r); ok {
		return StatusIncomplete, why
	}
	if n := len(r.Errors); n > 0 {
		return StatusIncomplete, plural(n, "error") + ": " + r.Errors[0].Error
	}
	return StatusClean, ""
}

// SortBatch orders reports by image, then start time, so that a batch
// whose images finished in any order prints the same summary.
func SortBatch(reports []*Report) {
	slices.SortStableFunc(reports, func(a, b *Report) int {
		return cmp.Or(cmp.Compare(a.Image, b.Image), a.Started.Compare(b.Started))
	})
}

// WriteSummary writes the batch table: one row per image with its status,
// finding counts by severity, errors, the most severe finding and the scan
// time, then totals and the reason of every image that was not scanned.
// It does not change reports (they are sorted in a copy).
func WriteSummary(w io.Writer, reports []*Report, min Severity) error {
	rs := slices.Clone(reports)
	SortBatch(rs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tVERDICT\tCRIT\tHIGH\tMED\tLOW\tINFO\tERR\tTOP FINDING\tTIME")
	counts := map[BatchStatus]int{}
	var notScanned, incomplete []string
	suppressed, baseline := 0, 0
	for _, r := range rs {
		st, why := Status(r, min)
		counts[st]++
		switch st {
		case StatusNotScanned:
			notScanned = append(notScanned, fmt.Sprintf("  %s: %s", clean(r.Image), clean(why+volumeReasons(r))))
		case StatusIncomplete:
			incomplete = append(incomplete, fmt.Sprintf("  %s: %s", clean(r.Image), clean(why)))
		}
		suppressed += r.Stats.FindingsSuppressed
		baseline += r.Stats.FindingsInBaseline
		by := countBySeverity(r.Findings)
		top := "-"
		if i := topFinding(r.Findings); i >= 0 {
			f := &r.Findings[i]
			top = truncate(f.Severity.String()+" "+clean(f.Rule)+" "+strings.ReplaceAll(location(f, ""), "\n", " "), 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", truncateLeft(clean(r.Image), 48), st,
			by["critical"], by["high"], by["medium"], by["low"], by["info"], len(r.Errors), top, seconds(r.Duration))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	line := fmt.Sprintf("\n%s: %d at risk, %d clean, %d incomplete, %d not scanned (threshold %s)",
		plural(len(rs), "image"), counts[StatusAtRisk], counts[StatusClean], counts[StatusIncomplete], counts[StatusNotScanned], min)
	if suppressed > 0 {
		line += fmt.Sprintf("; %s suppressed", plural(suppressed, "finding"))
	}
	if baseline > 0 {
		line += fmt.Sprintf("; %s already in the baseline", plural(baseline, "finding"))
	}
	if _, err := fmt.Fprintln(w, line); err != nil {
		return err
	}
	if len(notScanned) > 0 {
		fmt.Fprintln(w, "Not scanned (on neither the at-risk nor the clean list):")
		if _, err := fmt.Fprintln(w, strings.Join(notScanned, "\n")); err != nil {
			return err
		}
	}
	if len(incomplete) > 0 {
		fmt.Fprintln(w, "Incomplete (on neither the at-risk nor the clean list):")
		if _, err := fmt.Fprintln(w, strings.Join(incomplete, "\n")); err != nil {
			return err
		}
	}
	return nil
}

// volumeReasons says why each volume was not scanned, for an image none
// of whose volumes was: "none of the 2 volumes" alone does not help.
func volumeReasons(r *Report) string {
	var rs []string
	for _, v := range r.Volumes {
		if !v.Scanned && v.Reason != "" {
			rs = append(rs, v.Name+": "+v.Reason)
		}
	}
	if len(rs) == 0 {
		return ""
	}
	return " (" + strings.Join(rs, "; ") + ")"
}

// truncateLeft keeps the end of a path, where the image's name is.
func truncateLeft(s string, w int) string {
	if width(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && width(string(r))+1 > w {
		r = r[1:]
	}
	return "…" + string(r)
}

// topFinding is the most severe finding; Finalize already sorts them so,
// but a merged or hand-made report may not be finalized.
func topFinding(fs []Finding) int {
	best := -1
	for i := range fs {
		if best < 0 || fs[i].Severity > fs[best].Severity {
			best = i
		}
	}
	return best
}

// WriteSuppressed lists suppressed findings for the table output
// (--show-suppressed); JSON carries them in the report itself.
func WriteSuppressed(w io.Writer, r *Report) error {
	if len(r.Suppressed) == 0 && r.Stats.FindingsSuppressed == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nSuppressed (%d)\n", r.Stats.FindingsSuppressed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tRULE\tLOCATION\tEXPIRES\tREASON\tENTRY")
	for _, s := range r.Suppressed {
		f := &s.Finding
		exp := s.Expires
		if exp == "" {
			exp = "never"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Severity, clean(f.Rule),
			truncate(whereLine(&f.Evidence), 60),
			clean(exp), truncate(clean(s.Reason), 50), clean(s.Entry))
	}
	return tw.Flush()
}
