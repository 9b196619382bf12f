package report

import (
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/fsread"
)

// ExitCodes is snapscan's one exit-code table, for every command. --help,
// README.md and docs/exit-codes.md print it from here (ExitCodeHelp);
// TestExitCodeDocs keeps the docs in step.
var ExitCodes = []struct {
	Code    int
	Name    string
	Meaning string
}{
	{ExitClean, "ExitClean", "scanned, and nothing at or above the gate (--fail-on with --exit-code)"},
	{ExitFindings, "ExitFindings", "findings at or above the gate (the value of --exit-code; 1 is conventional)"},
	{ExitUsage, "ExitUsage", "usage error: bad flags or arguments; nothing was scanned"},
	{ExitIncomplete, "ExitIncomplete", "something asked for was not (fully) scanned: an unreadable image or volume, an empty directory or list, an interrupted or timed-out scan, a truncated filesystem, a volume or hive with unapplied journal/log writes, files or directories that could not be read"},
	{ExitError, "ExitError", "the scan ran but an output (report, list, evidence) could not be written"},
}

const (
	// ExitClean: the scan ran and, by the policy, nothing fails it. Without
	// --exit-code this is the result even when there are findings.
	ExitClean = 0
	// ExitFindings is the conventional --exit-code value: findings at or
	// above the Policy.FailOn threshold remain after filtering.
	ExitFindings = 1
	// ExitUsage: bad flags or arguments; nothing was scanned.
	ExitUsage = 2
	// ExitIncomplete: something the user asked for was not (fully) scanned
	// (Gaps). Never 0: a scan that did not see everything must not pass a
	// CI gate as clean.
	ExitIncomplete = 3
	// ExitError: snapscan itself failed after scanning, for example the
	// report could not be written.
	ExitError = 4
)

// ExitCodeHelp is the table as --help prints it, wrapped to 80 columns.
func ExitCodeHelp() string {
	var b strings.Builder
	for _, e := range ExitCodes {
		line := fmt.Sprintf("  %d ", e.Code)
		for _, w := range strings.Fields(e.Meaning) {
			if len(line)+1+len(w) > 78 {
				b.WriteString(line + "\n")
				line = "    "
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

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
	// AllowUnreplayed (--allow-unreplayed-journal) lets a volume or hive
	// whose pending journal/log writes were not applied pass the gate. The
	// verdict still says incomplete: the newest writes may be missing.
	AllowUnreplayed bool
	// AllowUnread (--allow-unreadable-files) lets files and directories
	// that could not be read or parsed pass the gate; the verdict still
	// says incomplete and the report lists each one.
	AllowUnread bool
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
	for _, g := range Gaps(r) {
		if g.Kind == GapUnreplayed && p.AllowUnreplayed || g.Kind == GapUnread && p.AllowUnread {
			continue
		}
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

// Gap kinds: why a scan is not complete.
const (
	GapOpen        = "open"        // the image could not be opened
	GapNothing     = "nothing"     // no volume or filesystem found, or none scanned
	GapTruncated   = "truncated"   // a volume or filesystem extends past the image's end
	GapVolume      = "volume"      // a volume with a readable filesystem type failed to open
	GapNoRoot      = "no-root"     // no OS root among what was read, while volumes were not read
	GapInterrupted = "interrupted" // the scan was cancelled (signal, --timeout)
	GapUnreplayed  = "unreplayed"  // journal/log writes pending and not applied
	GapUnread      = "unread"      // files or directories that could not be read or parsed
)

// Gap is one reason a report is incomplete: something the user asked for
// was not (fully) scanned. Each gap makes ExitCode ExitIncomplete (see
// Policy.AllowUnreplayed) and keeps the image off the clean list.
type Gap struct {
	Kind   string
	Volume string
	Reason string
}

// Gaps lists every reason r is incomplete, in a stable order. Errors on
// single files are one gap (GapUnread) counting them; each is listed in the
// report. A dirty hive's own error is counted as unreplayed, not twice.
func Gaps(r *Report) []Gap {
	var gaps []Gap
	add := func(kind, vol, why string) { gaps = append(gaps, Gap{kind, vol, why}) }
	if r.Interrupted {
		why := "the scan was interrupted before it finished"
		for _, e := range r.Errors {
			if e.Stage == StageInterrupted {
				why = "the scan was interrupted: " + e.Error
				break
			}
		}
		add(GapInterrupted, "", why)
	}
	for _, e := range r.Errors {
		switch e.Stage {
		case "open":
			add(GapOpen, "", "the image could not be opened: "+e.Error)
		case "filesystem":
			add(GapVolume, e.Volume, fmt.Sprintf("volume %s could not be read: %s", e.Volume, e.Error))
		}
	}
	scanned, missed := 0, []string{}
	for _, v := range r.Volumes {
		if v.Truncated {
			why := v.Reason
			if why == "" {
				why = "the image ends inside it"
			}
			add(GapTruncated, v.Name, fmt.Sprintf("volume %s is truncated: %s", v.Name, why))
		}
		if v.Recovery != nil && v.Recovery.State == RecoveryDirty {
			add(GapUnreplayed, v.Name, fmt.Sprintf("volume %s has journal writes that were not applied (%s): the newest changes may be missing", v.Name, v.Recovery))
		}
		switch {
		case v.Scanned:
			scanned++
		case !v.HoldsVolumes && !v.Truncated:
			missed = append(missed, v.Name)
		}
	}
	for _, t := range r.Targets {
		for _, h := range t.Hives {
			if h.Recovery.State == RecoveryDirty {
				add(GapUnreplayed, t.Volume, fmt.Sprintf("registry hive %s on %s has transaction-log writes that were not applied (%s): the newest changes may be missing", h.Path, t.Volume, &h.Recovery))
			}
		}
	}
	if n := unreadCount(r); n > 0 {
		add(GapUnread, "", fmt.Sprintf("%d files or directories could not be read or parsed (listed under errors): what they hold was not judged", n))
	}
	switch {
	case len(r.Volumes) == 0 && len(r.Targets) == 0 && !hasKind(gaps, GapOpen) && !r.Interrupted:
		add(GapNothing, "", "no volume or filesystem was found")
	case len(r.Volumes) > 0 && scanned == 0 && !hasKind(gaps, GapTruncated):
		add(GapNothing, "", fmt.Sprintf("none of the %d volumes could be scanned", len(r.Volumes)))
	case r.Container == "directory" && len(r.Targets) == 0 && r.Stats.FilesSwept == 0 && len(r.Findings) == 0:
		// A --dir tree with no OS root for the checks, and no file the sweep
		// (off, or over an empty tree) read: nothing was examined.
		add(GapNothing, "", "the directory holds no operating-system root and no file was swept: nothing was examined")
	case len(r.Volumes) > 0 && scanned > 0 && len(r.Targets) == 0 && len(missed) > 0:
		// No OS root among what was read while other volumes were not read
		// (a root on LVM or LUKS): the persistence checks never ran.
		add(GapNoRoot, "", fmt.Sprintf("no operating-system root among the volumes read; not scanned: %s", strings.Join(missed, ", ")))
	}
	return gaps
}

// unreadCount counts the errors on single files and directories: those
// of the checks and of the sweep, and a failed --hash-image.
func unreadCount(r *Report) int {
	dirtyHive := map[string]bool{}
	for _, t := range r.Targets {
		for _, h := range t.Hives {
			if h.Recovery.State == RecoveryDirty {
				dirtyHive[t.Volume+"\x00"+strings.ToLower(h.Path)] = true
			}
		}
	}
	n := 0
	for _, e := range r.Errors {
		switch {
		case e.Stage == "sweep" || e.Stage == "hash-image":
		case strings.HasPrefix(e.Stage, "check:"):
			if dirtyHive[e.Volume+"\x00"+strings.ToLower(e.Path)] {
				continue
			}
		default:
			continue
		}
		n++
	}
	return n
}

func hasKind(gaps []Gap, kind string) bool {
	for _, g := range gaps {
		if g.Kind == kind {
			return true
		}
	}
	return false
}

// StageInterrupted is the ScanError stage that says how a scan was cut
// short (a signal, --timeout).
const StageInterrupted = "interrupted"

// RecoveryDirty, RecoveryReplayed and RecoveryClean are Recovery.State
// values (fsread.RecoveryState's).
const (
	RecoveryClean    = "clean"
	RecoveryReplayed = "replayed"
	RecoveryDirty    = "dirty"
)

// String is the one-line form, fsread.Recovery's: "clean", "replayed (N
// transactions, M blocks)", "dirty, not replayed: reason".
func (rc *Recovery) String() string {
	return fsread.Recovery{State: fsread.RecoveryState(rc.State), Transactions: rc.Transactions, Blocks: rc.Blocks, Reason: rc.Reason}.String()
}

// Incomplete reports whether the scan is not complete, and the first
// reason (Gaps has them all).
func Incomplete(r *Report) (bool, string) {
	if g := Gaps(r); len(g) > 0 {
		return true, g[0].Reason
	}
	return false, ""
}

// incompleteBeyondFiles is Incomplete without the unread-files gap: for
// SARIF, where each unread file is its own notification and a per-file
// error is not a failed execution.
func incompleteBeyondFiles(r *Report) (bool, string) {
	for _, g := range Gaps(r) {
		if g.Kind != GapUnread {
			return true, g.Reason
		}
	}
	return false, ""
}

// NothingScanned reports whether nothing at all was scanned (the image
// could not be opened, or no volume was read): the batch calls such an
// image "not scanned" rather than "incomplete".
func NothingScanned(r *Report) bool {
	if r.Interrupted && len(r.Volumes) == 0 && len(r.Targets) == 0 {
		return true // cancelled before it started
	}
	for _, g := range Gaps(r) {
		if g.Kind == GapOpen || g.Kind == GapNothing {
			return true
		}
	}
	return false
}

// Verdict is the one-line conclusion of a report: "clean", "at risk: N
// findings of medium or worse", "incomplete: N errors", or several of them
// joined by "; ". It reads findings and errors as they are (after any
// filter).
func Verdict(r *Report) string {
	var parts []string
	for _, g := range Gaps(r) {
		if g.Kind == GapUnread {
			continue // said below as "incomplete: N errors", with the other errors
		}
		if g.Kind == GapOpen || g.Kind == GapNothing {
			parts = append(parts, "could not scan: "+g.Reason)
		} else {
			parts = append(parts, "incomplete: "+g.Reason)
		}
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
