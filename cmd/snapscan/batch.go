package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/snapscan/snapscan/batch"
	"github.com/snapscan/snapscan/evidence"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/internal/safewrite"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/report/baseline"
	"github.com/snapscan/snapscan/report/suppress"
)

func init() { extraCommands = append(extraCommands, newMergeCmd) }

// defaultIgnoreFile is read when present; --ignorefile names another one,
// which must then exist.
const defaultIgnoreFile = ".snapscanignore"

// ciFlags are the flags for CI gates and batches: suppressions, baseline,
// image lists, shards, the at-risk and clean lists, evidence capture.
type ciFlags struct {
	ignoreFile     string
	showSuppressed bool
	baseline       string
	fromFile       string
	parallel       int
	shard          string
	atRiskList     string
	cleanList      string
	evidenceDir    string
	evidenceMax    string

	// loaded by prepare
	ignore    *suppress.File
	base      *baseline.Baseline
	now       time.Time
	ignoreSet bool
	stderr    io.Writer
}

func addCIFlags(fl *pflag.FlagSet, c *ciFlags) {
	fl.StringVar(&c.ignoreFile, "ignorefile", defaultIgnoreFile, "suppression file (YAML): findings by id or rule+path glob, each with a reason and an optional expiry after which it stops working")
	fl.BoolVar(&c.showSuppressed, "show-suppressed", false, "list the suppressed findings in the report (they are always counted)")
	fl.StringVar(&c.baseline, "baseline", "", "earlier JSON/JSONL report: report only findings that are not in it")
	fl.StringVar(&c.fromFile, "from-file", "", "read image paths from this file, one per line (# comments); '-' is standard input")
	fl.IntVar(&c.parallel, "parallel", 1, "scan this many images at once")
	fl.StringVar(&c.shard, "shard", "", "scan only shard I/N of the sorted image list (I from 0, as JOB_COMPLETION_INDEX)")
	fl.StringVar(&c.atRiskList, "at-risk-list", "", "write the paths of images with findings at or above --fail-on to this file")
	fl.StringVar(&c.cleanList, "clean-list", "", "write the paths of images scanned without such findings to this file (images that could not be scanned are on neither list)")
	fl.StringVar(&c.evidenceDir, "evidence", "", "copy every file behind a finding out of the image into this directory, with a JSON manifest (content-addressed, read-only copies)")
	fl.StringVar(&c.evidenceMax, "evidence-max-size", "4GiB", "with --evidence: larger files are not copied, and the manifest says so")
}

// prepare loads the suppression file and the baseline. Errors are usage
// errors: a CI gate with a broken suppression file must not run.
func (c *ciFlags) prepare(cmd *cobra.Command) error {
	c.now = time.Now().UTC()
	c.stderr = cmd.ErrOrStderr()
	if c.evidenceDir != "" {
		max, err := parseSize(c.evidenceMax)
		if err != nil {
			return &exitError{report.ExitUsage, fmt.Errorf("--evidence-max-size: %w", err)}
		}
		evidence.MaxCopySize = max
	}
	c.ignoreSet = cmd.Flags().Changed("ignorefile")
	if c.ignoreFile != "" {
		f, err := suppress.Load(c.ignoreFile)
		switch {
		case err == nil:
			c.ignore = f
			for _, w := range f.Warnings(c.now) {
				fmt.Fprintln(cmd.ErrOrStderr(), "snapscan: warning:", w)
			}
		case !c.ignoreSet && errors.Is(err, fs.ErrNotExist):
		default:
			return &exitError{report.ExitUsage, err}
		}
	}
	if c.baseline != "" {
		b, err := baseline.Load(c.baseline)
		if err != nil {
			return &exitError{report.ExitUsage, err}
		}
		c.base = b
	}
	if c.parallel < 1 {
		return &exitError{report.ExitUsage, fmt.Errorf("--parallel %d: want 1 or more", c.parallel)}
	}
	return nil
}

// images builds the image list: the arguments plus --from-file, each
// directory replaced by the files in it, then the --shard of it. An empty
// directory or an empty --from-file list is not "nothing to do": it comes
// back as the report of something that was asked for and not scanned, so
// that the run cannot pass as clean.
func (c *ciFlags) images(cmd *cobra.Command, args []string) ([]string, []*report.Report, error) {
	var empty []*report.Report
	all := append([]string(nil), args...)
	if c.fromFile != "" {
		var rd io.Reader = cmd.InOrStdin()
		if c.fromFile != "-" {
			f, err := os.Open(c.fromFile)
			if err != nil {
				return nil, nil, &exitError{report.ExitUsage, fmt.Errorf("--from-file: %w", err)}
			}
			defer f.Close()
			rd = f
		}
		list, err := batch.ReadList(rd)
		if err != nil {
			return nil, nil, &exitError{report.ExitUsage, fmt.Errorf("--from-file %s: %w", c.fromFile, err)}
		}
		if len(list) == 0 {
			empty = append(empty, batch.NotScanned(c.fromFile, "the --from-file list names no image"))
		}
		all = append(all, list...)
	}
	all, emptyDirs, err := batch.ExpandDirs(all)
	if err != nil {
		return nil, nil, &exitError{report.ExitUsage, err}
	}
	for _, d := range emptyDirs {
		empty = append(empty, batch.NotScanned(d, "the directory holds no file to scan"))
	}
	if c.shard != "" {
		i, n, err := batch.ParseShard(c.shard)
		if err != nil {
			return nil, nil, &exitError{report.ExitUsage, fmt.Errorf("--shard: %w", err)}
		}
		// The empty inputs belong to shard 0: reported once, not N times.
		if i != 0 {
			empty = nil
		}
		all = batch.Shard(all, i, n)
		if len(all) == 0 && len(empty) == 0 && !quiet(cmd) {
			// More shards than images: this shard has nothing to do, and
			// its (empty) output merges as nothing.
			fmt.Fprintf(cmd.ErrOrStderr(), "snapscan: shard %d/%d: no image in this shard\n", i, n)
		}
	}
	return all, empty, nil
}

// scanAll scans images, --parallel at a time; one image that fails does
// not stop the others. Reports come back sorted by image.
func (c *ciFlags) scanAll(ctx context.Context, images []string, scan func(context.Context, string) *report.Report) []*report.Report {
	var out []*report.Report
	batch.Run(ctx, images, c.parallel, scan, func(r *report.Report) { out = append(out, r) })
	report.SortBatch(out)
	return out
}

// apply runs after report.Finalize and before the severity filter:
// suppressions first (an accepted finding is not "new"), then the baseline.
func (c *ciFlags) apply(r *report.Report) {
	suppress.Apply(r, c.ignore, c.now)
	for _, m := range c.ignore.Migrations() {
		fmt.Fprintln(c.stderr, "snapscan: warning:", m)
	}
	if !c.showSuppressed {
		r.Suppressed = nil
	}
	baseline.New(r, c.base)
}

// finish captures evidence and writes the lists, after filtering.
func (c *ciFlags) finish(cmd *cobra.Command, reports []*report.Report, failOn report.Severity, guard *safewrite.Guard, opts image.Options) error {
	if c.evidenceDir != "" {
		for _, r := range reports {
			if err := c.capture(cmd, r, opts); err != nil {
				return &exitError{report.ExitError, err}
			}
		}
	}
	return writeLists(reports, failOn, c.atRiskList, c.cleanList, guard)
}

func (c *ciFlags) capture(cmd *cobra.Command, r *report.Report, opts image.Options) error {
	if len(r.Findings) == 0 {
		return nil
	}
	var open evidence.OpenFunc
	if r.Container == "directory" {
		o, err := evidence.DirOpener(r.Image)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "snapscan: evidence: %s: %v\n", r.Image, err)
			return nil
		}
		open = o
	} else {
		o, closeImg, err := evidence.ImageOpenerWith(r.Image, opts)
		if err != nil {
			// The scan already says the image could not be opened.
			fmt.Fprintf(cmd.ErrOrStderr(), "snapscan: evidence: %s: %v\n", r.Image, err)
			return nil
		}
		defer closeImg()
		open = o
	}
	m, err := evidence.Capture(c.evidenceDir, r, open, time.Now(), version)
	if err != nil {
		return err
	}
	failed := 0
	for _, e := range m.Entries {
		if e.Error != "" || e.HashCheck == "mismatch" {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "snapscan: evidence: %d files of %s captured, manifest %s (%d not captured or changed since the scan: see the manifest)\n", len(m.Entries)-failed, r.Image, m.Path, failed)
	} else if !quiet(cmd) {
		fmt.Fprintf(cmd.ErrOrStderr(), "snapscan: evidence: %d files of %s captured, manifest %s\n", len(m.Entries), r.Image, m.Path)
	}
	return nil
}

// writeLists writes --at-risk-list and --clean-list (always both files
// when asked, empty or not, so that a CI step can read them).
func writeLists(reports []*report.Report, failOn report.Severity, atRiskPath, cleanPath string, guard *safewrite.Guard) error {
	if atRiskPath == "" && cleanPath == "" {
		return nil
	}
	var risky, clean bytes.Buffer
	if err := batch.WriteLists(reports, failOn, &risky, &clean); err != nil {
		return &exitError{report.ExitError, err}
	}
	for _, l := range []struct {
		path string
		data []byte
	}{{atRiskPath, risky.Bytes()}, {cleanPath, clean.Bytes()}} {
		if l.path == "" {
			continue
		}
		if err := writeOutputFile(l.path, guard, l.data); err != nil {
			return &exitError{report.ExitError, err}
		}
	}
	return nil
}

type mergeFlags struct {
	allowUnreplayed bool
	allowUnread     bool
	format          string
	output          string
	failOn          string
	exitCode        int
	atRiskList      string
	cleanList       string
}

func newMergeCmd() *cobra.Command {
	var f mergeFlags
	cmd := &cobra.Command{
		Use:   "merge [flags] FILE.jsonl...",
		Short: "Join the JSONL reports of a sharded batch and summarise them",
		Long: `Read the reports that 'snapscan scan --format jsonl' wrote (one JSON report per
line; JSON reports and arrays of them are read too), typically one file per
shard of a Kubernetes Indexed Job, and write them as one batch: a summary
table (image, verdict, counts by severity, errors, top finding, time), or all
reports as JSONL or as one JSON array. Images that could not be scanned are
listed with the reason and are on neither the at-risk nor the clean list.

Examples:
  snapscan merge results/shard-*.jsonl
  snapscan merge --format jsonl -o all.jsonl results/shard-*.jsonl
  snapscan merge --at-risk-list at-risk.txt --exit-code 1 results/*.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitError{report.ExitUsage, fmt.Errorf("merge needs at least one FILE.jsonl\nRun 'snapscan merge --help' for usage.")}
			}
			return runMerge(cmd, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.format, "format", "f", "table", "output format: table (batch summary), json (array of reports), jsonl")
	fl.StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	fl.StringVar(&f.failOn, "fail-on", "medium", "lowest severity that makes an image at risk")
	fl.IntVar(&f.exitCode, "exit-code", 0, "exit with this code when an image is at risk")
	fl.StringVar(&f.atRiskList, "at-risk-list", "", "write the paths of at-risk images to this file")
	fl.StringVar(&f.cleanList, "clean-list", "", "write the paths of clean images to this file")
	fl.BoolVar(&f.allowUnreplayed, "allow-unreplayed-journal", false, "as for scan: a volume or hive with unapplied journal/log writes does not fail the exit code")
	fl.BoolVar(&f.allowUnread, "allow-unreadable-files", false, "as for scan: files that could not be read do not fail the exit code")
	return cmd
}

func runMerge(cmd *cobra.Command, f *mergeFlags, files []string) error {
	failOn, err := report.ParseSeverity(f.failOn)
	if err != nil {
		return &exitError{report.ExitUsage, err}
	}
	format := strings.ToLower(f.format)
	if format != "table" && format != "json" && format != "jsonl" {
		return &exitError{report.ExitUsage, fmt.Errorf("unknown format %q (valid formats for merge: table, json, jsonl)", f.format)}
	}
	reports, err := batch.MergeFiles(files...)
	if err != nil {
		return cannotRead(err)
	}
	guard := &safewrite.Guard{}
	guard.Protect(files...)
	if err := writeTo(f.output, cmd.OutOrStdout(), guard, func(w io.Writer) error {
		return writeMerged(w, reports, format, failOn)
	}); err != nil {
		return &exitError{report.ExitError, err}
	}
	if err := writeLists(reports, failOn, f.atRiskList, f.cleanList, guard); err != nil {
		return err
	}
	// The same table as scan: findings (with --exit-code) first, then any
	// image that was not fully scanned.
	code := report.ExitClean
	policy := report.Policy{FailOn: failOn, FindingsCode: f.exitCode, AllowUnreplayed: f.allowUnreplayed, AllowUnread: f.allowUnread}
	for _, r := range reports {
		code = worseExit(code, report.ExitCode(r, policy), f.exitCode)
	}
	if code != report.ExitClean {
		return &exitError{code, errSilent}
	}
	return nil
}

func writeMerged(w io.Writer, reports []*report.Report, format string, failOn report.Severity) error {
	switch format {
	case "jsonl":
		for _, r := range reports {
			if err := report.WriteJSONL(w, r); err != nil {
				return err
			}
		}
		return nil
	case "json":
		return report.WriteJSONArray(w, reports)
	}
	return report.WriteSummary(w, reports, failOn)
}
