package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/snapscan/snapscan/evidence"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
)

func init() { extraCommands = append(extraCommands, newScanCmd) }

type scanFlags struct {
	dir        string
	osHint     string
	format     string
	output     string
	inventory  bool
	severity   string
	exitCode   int
	failOn     string
	hashImage  bool
	noSweep    bool
	workers    int
	sweepFlags sweepFlags
	ci         ciFlags
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

Exit codes (docs/exit-codes.md):
  0  scan done; no finding fails the policy (always 0 without --exit-code)
  N  --exit-code N given and findings at or above --fail-on remain
  2  usage error
  3  could not scan: the image could not be opened or no volume was readable
  4  the scan ran but the report could not be written

Examples:
  snapscan scan disk.img
  snapscan scan --format sarif --output snapscan.sarif --exit-code 1 golden.img
  snapscan scan --severity high,critical --inventory disk.img
  snapscan scan --dir /mnt/evidence
  snapscan scan --from-file images.txt --parallel 2 -f jsonl -o audit.jsonl --at-risk-list keep.txt
  snapscan scan --baseline last-release.json --ignorefile .snapscanignore --exit-code 1 golden.img`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.dir == "" && len(args) == 0 && f.ci.fromFile == "" {
				return &exitError{exitUsage, fmt.Errorf("scan needs an IMAGE or --dir PATH\nRun 'snapscan scan --help' for usage.")}
			}
			if f.dir != "" && len(args) > 0 {
				return &exitError{exitUsage, fmt.Errorf("give either images or --dir, not both")}
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
	addSweepFlags(fl, &f.sweepFlags)
	addCIFlags(fl, &f.ci)
	return cmd
}

func runScan(cmd *cobra.Command, f *scanFlags, images []string) error {
	failOn, err := report.ParseSeverity(f.failOn)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	keep := report.AllSeverities
	if f.severity != "" {
		if keep, err = report.ParseSeveritySet(f.severity); err != nil {
			return &exitError{exitUsage, err}
		}
	}
	if !validFormat(f.format) {
		return &exitError{exitUsage, fmt.Errorf("unknown format %q (valid formats: %s)", f.format, strings.Join(report.Formats, ", "))}
	}
	if err := f.ci.prepare(cmd); err != nil {
		return err
	}
	if images, err = f.ci.images(cmd, images); err != nil {
		return err
	}
	// Nothing this run writes may land on its inputs or in a scanned tree.
	protect(append(append([]string(nil), images...), f.ci.baseline, f.ci.fromFile, f.ci.ignoreFile), f.dir)
	if f.ci.evidenceDir != "" {
		if err := checkOutput(filepath.Join(f.ci.evidenceDir, "manifest.json")); err != nil {
			return &exitError{exitUsage, fmt.Errorf("--evidence: %w", err)}
		}
	}
	if strings.EqualFold(f.format, "sarif") && len(images) > 1 {
		return &exitError{exitUsage, fmt.Errorf("sarif output takes one image per run; scan the images one at a time or use --format json")}
	}

	opts := scanner.Options{Checks: allChecks(), Workers: f.workers, Version: version}
	if opts.MaxMemory, err = f.sweepFlags.scanMemory(f.ci.parallel); err != nil {
		return &exitError{exitUsage, err}
	}
	if !f.noSweep {
		sw, err := newSweeper(cmd, &f.sweepFlags, f.workers)
		if err != nil {
			return &exitError{exitUsage, err}
		}
		opts.Sweep = sw
		defer sw.Close()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var reports []*report.Report
	if f.dir != "" {
		reports = append(reports, scanner.ScanDir(ctx, f.dir, f.osHint, opts))
	}
	reports = append(reports, f.ci.scanAll(ctx, images, func(ctx context.Context, img string) *report.Report {
		r := scanner.ScanImage(ctx, img, opts)
		if f.hashImage {
			if sum, err := evidence.ImageSHA256(img); err == nil {
				r.ImageSHA256 = sum
			} else {
				r.Errors = append(r.Errors, report.ScanError{Stage: "hash-image", Error: err.Error()})
			}
		}
		return r
	})...)

	code := exitOK
	policy := report.DefaultPolicy()
	policy.FailOn, policy.FindingsCode = failOn, f.exitCode
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
		if c := report.ExitCode(r, policy); c > code {
			code = c
		}
	}

	out := cmd.OutOrStdout()
	var file *outputFile
	if f.output != "" {
		if file, err = createOutput(f.output); err != nil {
			return &exitError{report.ExitError, err}
		}
		out = file
	}
	if err := writeReports(out, reports, f); err != nil {
		if file != nil {
			file.abort()
		}
		return &exitError{report.ExitError, err}
	}
	if file != nil {
		if err := file.commit(); err != nil {
			return &exitError{report.ExitError, err}
		}
	}
	if err := f.ci.finish(cmd, reports, failOn); err != nil {
		// Findings or an incomplete scan decide the exit code before a
		// failure to write lists or evidence (docs/exit-codes.md).
		if code == exitOK {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "snapscan:", err)
	}
	if code != exitOK {
		return &exitError{code, errSilent}
	}
	return nil
}

func writeReports(w io.Writer, reports []*report.Report, f *scanFlags) error {
	wo := report.WriteOptions{Inventory: f.inventory}
	if strings.EqualFold(f.format, "json") && len(reports) > 1 {
		return report.WriteJSONArray(w, reports)
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
