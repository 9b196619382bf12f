package report

import (
	"fmt"
	"strings"
)

// Exit codes of snapscan. docs/exit-codes.md is the user-facing table; keep
// the two in step.
const (
	// ExitClean: the scan ran and, by the policy, nothing fails it. Without
	// --exit-code this is the result even when there are findings.
	ExitClean = 0
	// ExitFindings is the conventional --exit-code value: findings at or
	// above the Policy.FailOn threshold remain after filtering.
	ExitFindings = 1
	// ExitUsage: bad flags or arguments; nothing was scanned.
	ExitUsage = 2
	// ExitIncomplete: the image could not be scanned at all (it could not
	// be opened, or no volume on it could be read). Never 0: a scan that
	// saw nothing must not pass a CI gate as clean.
	ExitIncomplete = 3
	// ExitError: snapscan itself failed after scanning, for example the
	// report could not be written.
	ExitError = 4
)

// Policy decides the exit code from a finished report.
type Policy struct {
	// FailOn is the lowest severity that fails the run. model.go's rule
	// applies: medium and above is what CI gates on by default.
	FailOn Severity
	// FindingsCode is the exit code when findings at or above FailOn remain
	// (--exit-code N). 0, the default, means findings never change the
	// exit code, as in Trivy.
	FindingsCode int
	// IncompleteCode is the exit code when the scan could not be done.
	// 0 means ExitIncomplete; it cannot be made to pass.
	IncompleteCode int
}

// DefaultPolicy is the policy without flags: report, never fail on
// findings, fail with ExitIncomplete when nothing could be scanned.
func DefaultPolicy() Policy {
	return Policy{FailOn: Medium, IncompleteCode: ExitIncomplete}
}

// ExitCode applies p to a finalized (and filtered) report. Findings take
// precedence over incompleteness: an image with a known miner fails with
// the findings code even if part of it could not be read.
func ExitCode(r *Report, p Policy) int {
	if p.FindingsCode != 0 && CountAtLeast(r, p.FailOn) > 0 {
		return p.FindingsCode
	}
	if ok, _ := Incomplete(r); ok {
		if p.IncompleteCode != 0 {
			return p.IncompleteCode
		}
		return ExitIncomplete
	}
	return ExitClean
}

// CountAtLeast counts the findings at or above min.
func CountAtLeast(r *Report, min Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity >= min {
			n++
		}
	}
	return n
}

// Incomplete reports whether the scan could not be done at all, and why:
// the image could not be opened, or it has volumes and none was scanned, or
// nothing at all was found to scan. Errors on single files do not make a
// scan incomplete; they are listed in the report.
func Incomplete(r *Report) (bool, string) {
	for _, e := range r.Errors {
		if e.Stage == "open" {
			return true, "the image could not be opened: " + e.Error
		}
	}
	if len(r.Volumes) == 0 {
		if len(r.Targets) == 0 {
			return true, "no volume or filesystem was found"
		}
		return false, ""
	}
	scanned, missed := 0, []string{}
	for _, v := range r.Volumes {
		if v.Truncated {
			return true, fmt.Sprintf("the image is truncated: it ends inside volume %s", v.Name)
		}
		switch {
		case v.Scanned:
			scanned++
		case !v.HoldsVolumes:
			missed = append(missed, v.Name)
		}
	}
	if scanned == 0 {
		return true, fmt.Sprintf("none of the %d volumes could be scanned", len(r.Volumes))
	}
	// No OS root among what was read while other volumes were not read (a
	// root on LVM or LUKS): the persistence checks never ran on the system.
	if len(r.Targets) == 0 && len(missed) > 0 {
		return true, fmt.Sprintf("no operating-system root among the volumes read; not scanned: %s", strings.Join(missed, ", "))
	}
	return false, ""
}

// Verdict is the one-line conclusion of a report: "clean", "at risk: N
// findings of medium or worse", "incomplete: N errors", or several of them
// joined by "; ". It reads findings and errors as they are (after any
// filter).
func Verdict(r *Report) string {
	var parts []string
	if ok, why := Incomplete(r); ok {
		parts = append(parts, "could not scan: "+why)
	}
	if n := CountAtLeast(r, Medium); n > 0 {
		parts = append(parts, fmt.Sprintf("at risk: %s of medium or worse", plural(n, "finding")))
	}
	if n := len(r.Errors); n > 0 {
		parts = append(parts, fmt.Sprintf("incomplete: %s", plural(n, "error")))
	}
	v := "clean"
	if len(parts) > 0 {
		v = strings.Join(parts, "; ")
	}
	// What was taken out of view is part of the conclusion: "clean" with
	// 117 suppressed findings is not the same statement as "clean".
	var hidden []string
	if n := r.Stats.FindingsSuppressed; n > 0 {
		hidden = append(hidden, plural(n, "finding")+" suppressed")
	}
	if n := r.Stats.FindingsInBaseline; n > 0 {
		hidden = append(hidden, plural(n, "finding")+" in the baseline")
	}
	if len(hidden) > 0 {
		v += " (" + strings.Join(hidden, ", ") + ")"
	}
	return v
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
