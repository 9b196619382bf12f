package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/snapscan/snapscan/evidence"
	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/internal/safewrite"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
)

func init() { extraCommands = append(extraCommands, newScanCmd) }

type scanFlags struct {
	dir             string
	osHint          string
	format          string
	output          string
	inventory       bool
	severity        string
	exitCode        int
	failOn          string
	hashImage       bool
	noSweep         bool
	workers         int
	timeout         time.Duration
	noReplay        bool
	allowUnreplayed bool
	allowUnread     bool
	sweepFlags      sweepFlags
	ci              ciFlags
}

func newScanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [flags] IMAGE...",
		Short: "Scan disk images for cryptominer persistence and miners (detection only)",
		Long: `Scan one or more disk images, read-only. For every readable volume snapscan finds
the operating-system roots (Linux: /etc/os-release; its /etc/fstab mounts
/home, /var, /boot from other volumes of the same image; Windows:
Windows\System32\config\SOFTWARE), runs every persistence check in parallel,
sweeps every regular file with YARA and the IOC lists, and reports findings
with their evidence and the manual remediation step. It never changes the
image and never remediates.

Output formats: table (default, for a terminal), json (versioned schema, see
docs/report-schema.md), sarif (2.1.0, for code-scanning UIs), jsonl (one report
per line, for batches; merge shards with 'snapscan merge').

Many images (docs/batch-and-ci.md): give several IMAGEs, a directory, or
--from-file LIST; --parallel N scans N at once; --shard I/N takes a
deterministic share of the list; --at-risk-list and --clean-list write which
images to keep and which may be released (snapscan never deletes anything).
In CI: --ignorefile (.snapscanignore, with expiry dates), --baseline an earlier
JSON report to show only what is new, --evidence DIR to copy every file behind
a finding out of the image with a chain-of-custody manifest.

Crash-consistent snapshots: writes pending in an ext4 journal (and, where the
readers replay them, the XFS log and registry hive logs) are applied in
memory, never to the image; each volume's and hive's recovery state is in the
report. --no-journal-replay shows the on-disk view instead; a volume or hive
left with pending writes makes the verdict incomplete and the exit code 3
unless --allow-unreplayed-journal accepts that risk.

Ctrl-C, SIGTERM or --timeout stop the scan: the report of what was done is
still written, marked interrupted, and the exit code is not 0.

Exit codes (docs/exit-codes.md):
` + report.ExitCodeHelp() + `

Examples:
  snapscan scan disk.img
  snapscan scan --format sarif --output snapscan.sarif --exit-code 1 golden.img
  snapscan scan --severity high,critical --inventory disk.img
  snapscan scan --dir /mnt/evidence
  snapscan scan --from-file images.txt --parallel 2 -f jsonl -o audit.jsonl --at-risk-list keep.txt
  snapscan scan --baseline last-release.json --ignorefile .snapscanignore --exit-code 1 golden.img`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.dir == "" && len(args) == 0 && f.ci.fromFile == "" {
				return &exitError{report.ExitUsage, fmt.Errorf("scan needs an IMAGE or --dir PATH\nRun 'snapscan scan --help' for usage.")}
			}
			if f.dir != "" && len(args) > 0 {
				return &exitError{report.ExitUsage, fmt.Errorf("give either images or --dir, not both")}
			}
			return runScan(cmd, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "scan a directory tree (a mounted or extracted image) instead of an image file")
	fl.StringVar(&f.osHint, "os", "", "with --dir: the OS of the tree (linux, windows) when it cannot be detected")
	fl.StringVarP(&f.format, "format", "f", "table", "output format: "+strings.Join(report.Formats, ", "))
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.BoolVar(&f.inventory, "inventory", false, "include the full autostart inventory (every cron entry, unit, rc script, preload entry, Run value, service, task), not only findings; SSH authorized keys are always listed")
	fl.StringVar(&f.severity, "severity", "", "report only these severities: a list (high,critical) is exact, one name (medium) is a minimum; default all")
	fl.IntVar(&f.exitCode, "exit-code", 0, "exit with this code when findings at or above --fail-on remain (for CI)")
	fl.StringVar(&f.failOn, "fail-on", "medium", "lowest severity that makes --exit-code apply")
	fl.BoolVar(&f.hashImage, "hash-image", false, "put the image file's SHA-256 in the report header (reads the whole image once more)")
	fl.BoolVar(&f.noSweep, "no-sweep", false, "skip the content sweep (YARA and IOC hashes over every file); run the persistence checks only")
	fl.IntVar(&f.workers, "workers", 0, "parallel workers (default: depends on the number of cores)")
	fl.DurationVar(&f.timeout, "timeout", 0, "stop the whole scan after this long (e.g. 30m): the partial report is written, marked interrupted, exit code 3; 0 = no limit")
	fl.BoolVar(&f.noReplay, "no-journal-replay", false, "read each volume as it is on disk: do not apply writes pending in the ext4 journal, XFS log or hive logs (such a volume is reported dirty and the scan incomplete)")
	fl.BoolVar(&f.allowUnreplayed, "allow-unreplayed-journal", false, "accept the risk that a volume or hive with unapplied journal/log writes hides the newest changes: it no longer fails the exit code (the verdict still says incomplete)")
	fl.BoolVar(&f.allowUnread, "allow-unreadable-files", false, "accept the risk that files or directories that could not be read or parsed hide a finding: they no longer fail the exit code (the verdict still says incomplete and the report lists them)")
	addSweepFlags(fl, &f.sweepFlags)
	addCIFlags(fl, &f.ci)
	return cmd
}

func runScan(cmd *cobra.Command, f *scanFlags, images []string) error {
	failOn, err := report.ParseSeverity(f.failOn)
	if err != nil {
		return &exitError{report.ExitUsage, err}
	}
	keep := report.AllSeverities
	if f.severity != "" {
		if keep, err = report.ParseSeveritySet(f.severity); err != nil {
			return &exitError{report.ExitUsage, err}
		}
	}
	if !validFormat(f.format) {
		return &exitError{report.ExitUsage, fmt.Errorf("unknown format %q (valid formats: %s)", f.format, strings.Join(report.Formats, ", "))}
	}
	if f.timeout < 0 {
		return &exitError{report.ExitUsage, fmt.Errorf("--timeout %s: want 0 (no limit) or more", f.timeout)}
	}
	if err := f.ci.prepare(cmd); err != nil {
		return err
	}
	images, placeholders, err := f.ci.images(cmd, images)
	if err != nil {
		return err
	}
	for _, r := range placeholders {
		r.Version = version
	}
	if strings.EqualFold(f.format, "sarif") && len(images)+len(placeholders) > 1 {
		return &exitError{report.ExitUsage, fmt.Errorf("sarif output takes one image per run; scan the images one at a time or use --format json")}
	}

	// Nothing this run writes may land on its inputs or in a scanned tree;
	// reports and lists not in the evidence directory either.
	inputs := &safewrite.Guard{}
	inputs.Protect(images...)
	inputs.Protect(f.ci.baseline, f.ci.fromFile, f.ci.ignoreFile, configPath(cmd))
	inputs.ProtectTree(f.dir)
	outputs := inputs.Clone()
	outputs.ProtectTree(f.ci.evidenceDir)
	evidence.WriteGuard = inputs
	for _, o := range []struct{ flag, path string }{{"--output", f.output}, {"--at-risk-list", f.ci.atRiskList}, {"--clean-list", f.ci.cleanList}} {
		if o.path == "" {
			continue
		}
		if err := safewrite.Check(o.path, safewrite.Options{Guard: outputs}); err != nil {
			return &exitError{report.ExitUsage, fmt.Errorf("%s: %w", o.flag, err)}
		}
	}
	if f.ci.evidenceDir != "" {
		if err := inputs.Check(filepath.Join(f.ci.evidenceDir, "manifest.json")); err != nil {
			return &exitError{report.ExitUsage, fmt.Errorf("--evidence: %w", err)}
		}
	}

	opts := scanner.Options{Checks: allChecks(), Workers: f.workers, Version: version, NoReplay: f.noReplay}
	if opts.MaxMemory, err = f.sweepFlags.scanMemory(f.ci.parallel); err != nil {
		return &exitError{report.ExitUsage, err}
	}
	if quiet(cmd) {
		f.sweepFlags.noProgress = true
	}
	scans := len(images)
	if f.dir != "" {
		scans++
	}
	prog := newProgress(scans, f.sweepFlags.noProgress)
	defer prog.finish()
	if !f.noSweep {
		sw, err := newSweeper(cmd, &f.sweepFlags, f.workers)
		if err != nil {
			return &exitError{report.ExitUsage, err}
		}
		sw.progress = prog
		opts.Sweep = sw
	}

	ctx, stop := interruptible(cmd, f.timeout)
	defer stop()

	reports := placeholders
	if f.dir != "" {
		done := prog.image(f.dir)
		reports = append(reports, scanner.ScanDir(ctx, f.dir, f.osHint, opts))
		done()
	}
	reports = append(reports, f.ci.scanAll(ctx, images, func(ctx context.Context, img string) *report.Report {
		defer prog.image(img)()
		r := scanner.ScanImage(ctx, img, opts)
		if f.hashImage && ctx.Err() == nil {
			if sum, err := evidence.ImageSHA256(img); err == nil {
				r.ImageSHA256 = sum
			} else {
				r.Errors = append(r.Errors, report.ScanError{Stage: "hash-image", Error: err.Error()})
			}
		}
		return r
	})...)
	report.SortBatch(reports)

	code := report.ExitClean
	policy := report.DefaultPolicy()
	policy.FailOn, policy.FindingsCode, policy.AllowUnreplayed, policy.AllowUnread = failOn, f.exitCode, f.allowUnreplayed, f.allowUnread
	for _, r := range reports {
		report.Finalize(r)
		f.ci.apply(r)
		report.FilterSet(r, keep)
		if !f.inventory {
			// SSH keys are always listed (threats.md: report every key);
			// the rest of the autostart inventory only on request.
			var keys []report.InventoryItem
			for _, it := range r.Inventory {
				if it.Kind == "ssh-key" {
					keys = append(keys, it)
				}
			}
			r.Inventory = keys
		}
		code = worseExit(code, report.ExitCode(r, policy), f.exitCode)
		printVerdictChanges(cmd, r, policy, quiet(cmd))
	}

	prog.finish() // the report starts on a clean line
	if err := writeTo(f.output, cmd.OutOrStdout(), outputs, func(w io.Writer) error {
		return writeReports(w, reports, f)
	}); err != nil {
		// Findings or an incomplete scan keep their code; the failure to
		// write is said either way (docs/exit-codes.md).
		err = fmt.Errorf("writing the report: %w", err)
		if code == report.ExitClean {
			return &exitError{report.ExitError, err}
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "snapscan:", err)
		return &exitError{code, errSilent}
	}
	if err := f.ci.finish(cmd, reports, failOn, outputs, image.Options{FS: fsread.OpenOptions{NoReplay: f.noReplay}}); err != nil {
		// Findings or an incomplete scan decide the exit code before a
		// failure to write lists or evidence (docs/exit-codes.md).
		if code == report.ExitClean {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "snapscan:", err)
	}
	if code != report.ExitClean {
		return &exitError{code, errSilent}
	}
	return nil
}

// worseExit combines the exit codes of a batch's images: findings (the
// --exit-code value) win, as they do within one image; otherwise the
// highest code.
func worseExit(a, b, findingsCode int) int {
	switch {
	case findingsCode != 0 && (a == findingsCode || b == findingsCode):
		return findingsCode
	case b > a:
		return b
	}
	return a
}

// interruptible is the scan's context: SIGINT and SIGTERM cancel it (a
// second signal exits at once), and so does --timeout. The cause says which,
// for the report's "interrupted" error.
func interruptible(cmd *cobra.Command, timeout time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stopTimer := func() bool { return false }
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() {
			cancel(fmt.Errorf("--timeout %s reached", timeout))
		})
		stopTimer = t.Stop
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(fmt.Errorf("received %v", sig))
			fmt.Fprintf(cmd.ErrOrStderr(), "snapscan: %v: stopping, writing the partial report (again to exit at once)\n", sig)
		case <-done:
			return
		}
		select {
		case <-sigs:
			os.Exit(report.ExitIncomplete)
		case <-done:
		}
	}()
	return ctx, func() {
		stopTimer()
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// maxErrorLines bounds the per-file errors printed for one image; the
// report lists them all.
const maxErrorLines = 10

// printVerdictChanges writes to stderr, one line each, everything that
// keeps r from a clean verdict besides findings: why it is incomplete, and
// the errors on single files. The report may be in a file (-o): a CI log
// must still say why the gate failed.
func printVerdictChanges(cmd *cobra.Command, r *report.Report, p report.Policy, quiet bool) {
	w := cmd.ErrOrStderr()
	name := report.Printable(r.Image)
	gapStage := map[string]bool{"open": true, "filesystem": true, report.StageInterrupted: true}
	for _, g := range report.Gaps(r) {
		line := fmt.Sprintf("snapscan: %s: incomplete: %s", name, report.Printable(g.Reason))
		if g.Kind == report.GapOpen || g.Kind == report.GapNothing {
			line = fmt.Sprintf("snapscan: %s: not scanned: %s", name, report.Printable(g.Reason))
		}
		switch {
		case g.Kind == report.GapUnreplayed && p.AllowUnreplayed:
			line += " (accepted by --allow-unreplayed-journal)"
		case g.Kind == report.GapUnreplayed:
			line += " (fails the exit code; --allow-unreplayed-journal accepts the risk)"
		case g.Kind == report.GapUnread && p.AllowUnread:
			line += " (accepted by --allow-unreadable-files)"
		case g.Kind == report.GapUnread:
			line += " (fails the exit code; --allow-unreadable-files accepts the risk)"
		}
		fmt.Fprintln(w, line)
	}
	var rest []report.ScanError
	for _, e := range r.Errors {
		if !gapStage[e.Stage] {
			rest = append(rest, e)
		}
	}
	if quiet && len(rest) > 0 {
		noun := "errors"
		if len(rest) == 1 {
			noun = "error"
		}
		fmt.Fprintf(w, "snapscan: %s: %d %s (see the report)\n", name, len(rest), noun)
		return
	}
	for i, e := range rest {
		if i == maxErrorLines {
			fmt.Fprintf(w, "snapscan: %s: ... and %d more errors (see the report)\n", name, len(rest)-i)
			break
		}
		where := e.Volume
		if e.Path != "" {
			where += ":" + e.Path
		}
		if where != "" {
			where += ": "
		}
		fmt.Fprintf(w, "snapscan: %s: error: %s%s: %s\n", name, report.Printable(where), e.Stage, report.Printable(e.Error))
	}
}

// quiet is --quiet: no progress and no informational messages; what
// changes the verdict is still said.
func quiet(cmd *cobra.Command) bool {
	q, _ := cmd.Flags().GetBool("quiet")
	return q
}

// configPath is the config file this run read, to protect it.
func configPath(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("config"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return defaultConfigFile
}

func writeReports(w io.Writer, reports []*report.Report, f *scanFlags) error {
	wo := report.WriteOptions{Inventory: f.inventory}
	wo.Width, wo.Color = tableOptions(w)
	switch {
	case strings.EqualFold(f.format, "json"):
		// One shape whatever the number of images (docs/report-schema.md).
		return report.WriteJSONArray(w, reports)
	case strings.EqualFold(f.format, "sarif") && len(reports) == 0:
		// An empty shard: still a valid SARIF log, whose one run says so.
		empty := &report.Report{Tool: "snapscan", Version: version, Image: "(no image in this shard)", Started: time.Now().UTC(),
			Errors: []report.ScanError{{Stage: "open", Error: "this shard of the image list is empty"}}}
		report.Finalize(empty)
		return report.WriteSARIF(w, empty)
	}
	table := strings.EqualFold(f.format, "table")
	for i, r := range reports {
		if i > 0 && !strings.EqualFold(f.format, "jsonl") {
			fmt.Fprintln(w)
		}
		if err := report.Write(w, r, f.format, wo); err != nil {
			return err
		}
		if table && f.ci.showSuppressed {
			if err := report.WriteSuppressed(w, r); err != nil {
				return err
			}
		}
	}
	if table && len(reports) > 1 {
		fmt.Fprintln(w)
		failOn, _ := report.ParseSeverity(f.failOn)
		return report.WriteSummary(w, reports, failOn)
	}
	return nil
}

func validFormat(s string) bool {
	for _, f := range report.Formats {
		if strings.EqualFold(s, f) {
			return true
		}
	}
	return false
}
