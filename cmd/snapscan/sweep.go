package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/ntfsowner"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
	"github.com/snapscan/snapscan/scanner/linux"
	"github.com/snapscan/snapscan/scanner/sweep"
	"github.com/snapscan/snapscan/signatures"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

type sweepFlags struct {
	rules       []string
	iocs        []string
	maxFileSize string
	timeout     time.Duration
	noProgress  bool
	maxMemory   string
	memory      int64 // parsed --max-memory, per scan
	skipVerif   bool
	verifyPkgs  bool
}

func addSweepFlags(fl *pflag.FlagSet, f *sweepFlags) {
	fl.StringArrayVar(&f.rules, "rules", nil, "add YARA rules: a .yar/.yara file, a compiled rules file, or a directory of them (repeatable); LOKI/THOR externals (filename, filepath, extension, filetype, md5, owner: the account name, from the image's /etc/passwd or the NTFS owner SID) are defined")
	fl.StringArrayVar(&f.iocs, "ioc", nil, "add IOC lists in LOKI's format as signature-base publishes them: hash-iocs.txt, filename-iocs.txt (Windows paths match NTFS files), c2-iocs.txt (servers searched in file contents), ... or a directory of them (repeatable)")
	fl.StringVar(&f.maxFileSize, "max-file-size", "64MiB", "files larger than this are not content-scanned and are listed as skipped (e.g. 16MiB, 1GiB)")
	fl.DurationVar(&f.timeout, "file-timeout", sweep.DefaultTimeout, "YARA time limit per file (at least 1s)")
	fl.BoolVar(&f.skipVerif, "skip-verified", false, "do not YARA-scan files whose bytes match their package's recorded digest (dpkg MD5); they are still hashed, verified and counted in the report")
	fl.BoolVar(&f.verifyPkgs, "verify-packages", true, "check every packaged file against dpkg's recorded MD5 during the sweep (same read; =false only to measure its cost)")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress line (it is shown only when standard error is a terminal, and erased before the report)")
	fl.StringVar(&f.maxMemory, "max-memory", "1GiB", "memory budget of the whole run (checks, readers and content sweep; split between --parallel scans): beyond it the sweep runs fewer files at once and skips, with the reason, files it cannot hold (docs/limits.md)")
}

// scanMemory parses --max-memory, tells the Go runtime (so garbage is
// collected before the budget is reached) and returns each scan's share.
func (f *sweepFlags) scanMemory(parallel int) (int64, error) {
	total, err := parseSize(f.maxMemory)
	if err != nil {
		return 0, fmt.Errorf("--max-memory: %w", err)
	}
	debug.SetMemoryLimit(total)
	f.memory = total / int64(max(parallel, 1))
	return f.memory, nil
}

// yaraSweeper runs the content sweep with one compiled rule set shared by
// every volume of every image in this run.
type yaraSweeper struct {
	rules    *yarascan.Rules
	iocs     *signatures.IOCs
	workers  int
	maxSize  int64
	timeout  time.Duration
	progress *progress // the scan's status line; nil for none
	memory   int64     // the sweep's share of --max-memory

	skipVerified bool
	verifyPkgs   bool

	mu     sync.Mutex
	owners map[string]func(*fsread.Meta) string // by image (volume name before '@')
}

// imageKey is the image part of a volume name: disk.img of disk.img@2.
func imageKey(volume string) string {
	if i := strings.LastIndexByte(volume, '@'); i > 0 {
		return volume[:i]
	}
	return volume
}

// ownersOf maps uids to account names from the root's own /etc/passwd, as
// LOKI and THOR define the YARA external 'owner' (a name, not a number);
// a uid the file does not name stays a number.
func ownersOf(fsys fsread.FS) func(*fsread.Meta) string {
	f, err := fsys.Open("etc/passwd")
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return nil
	}
	entries, _ := linux.ParsePasswd(data)
	names := map[uint32]string{}
	for _, e := range entries {
		if _, dup := names[e.UID]; !dup {
			names[e.UID] = e.Name
		}
	}
	return func(m *fsread.Meta) string {
		if !m.HasOwner {
			return ""
		}
		if n, ok := names[m.UID]; ok {
			return n
		}
		return strconv.FormatUint(uint64(m.UID), 10)
	}
}

func newSweeper(cmd *cobra.Command, f *sweepFlags, workers int) (*yaraSweeper, error) {
	maxSize, err := parseSize(f.maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("--max-file-size: %w", err)
	}
	iocs, err := signatures.LoadIOCs(f.iocs...)
	if err != nil {
		return nil, err
	}
	// C2 servers (LOKI c2-iocs.txt) are searched in file contents by
	// libyara, with the rules.
	rules, diags, err := yarascan.Compile(yarascan.Options{Paths: f.rules, Sources: map[string]string{"ioc:c2": iocs.C2YARA()}})
	printDiagnostics(cmd, diags)
	if err != nil {
		return nil, err
	}
	return &yaraSweeper{rules: rules, iocs: iocs, workers: workers, maxSize: maxSize, timeout: f.timeout, memory: scanner.SweepMemory(f.memory),
		skipVerified: f.skipVerif, verifyPkgs: f.verifyPkgs}, nil
}

func (s *yaraSweeper) Sweep(ctx context.Context, fsys fsread.FS, volume, mountPoint string) scanner.SweepResult {
	opts := sweep.Options{
		Volume: volume, MountPoint: mountPoint, Rules: s.rules, IOCs: s.iocs,
		Workers: s.workers, MaxFileSize: s.maxSize, Timeout: s.timeout, MaxMemory: s.memory, SkipVerified: s.skipVerified,
	}
	opts.Progress = s.progress.sweep(volume)
	// The scanner sweeps an image's roots before the volumes they mount,
	// so /home's files are named by the root's accounts.
	s.mu.Lock()
	if s.owners == nil {
		s.owners = map[string]func(*fsread.Meta) string{}
	}
	if mountPoint == "/" {
		s.owners[imageKey(volume)] = ownersOf(fsys)
	}
	if mountPoint != "" {
		opts.Owner = s.owners[imageKey(volume)]
	}
	s.mu.Unlock()
	// NTFS: the owner SID of each file, from the volume's $Secure.
	if o, err := ntfsowner.Load(fsys); err == nil {
		opts.Owner = o.Name
	}
	if mountPoint != "" {
		// A volume a Linux root mounts: SUID/SGID files and stray kernel
		// modules are judged during the sweep's walk.
		opts.Hooks = append(opts.Hooks, linux.NewFileHook(fsys, volume, mountPoint))
		// Packaged files are verified against dpkg's digests in the same read.
		if ph := linux.NewPackageHook(fsys, volume, mountPoint); ph != nil && s.verifyPkgs {
			opts.Hooks = append(opts.Hooks, ph)
		}
	}
	res, err := sweep.Run(ctx, fsys, opts)
	if res == nil {
		res = &sweep.Result{}
	}
	out := scanner.SweepResult{
		Findings: res.Findings, Skipped: res.Skipped, Errors: res.Errors, Inventory: res.Inventory,
		Files: res.Stats.Files, Bytes: res.Stats.Bytes, Links: res.Stats.Links, VerifiedNotSwept: res.Stats.VerifiedNotSwept,
	}
	if err != nil {
		// Interrupted: keep what was swept and say the rest was not.
		out.Errors = append(out.Errors, report.ScanError{Volume: volume, Stage: sweep.CheckName, Error: "sweep incomplete: " + err.Error()})
	}
	return out
}

// parseSize reads 64MiB, 1GiB, 500MB, 1048576.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 64MiB)", s)
	}
	return int64(n * float64(mult)), nil
}

func init() { extraCommands = append(extraCommands, newRulesCmd) }

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check and list YARA rules (embedded and your own)",
	}
	check := &cobra.Command{
		Use:   "check PATH...",
		Short: "Compile rule files or directories and report every error and warning with file and line",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			diags := yarascan.Check(args)
			for _, d := range diags {
				fmt.Fprintln(cmd.OutOrStdout(), d)
			}
			if yarascan.Errors(diags) {
				return &exitError{report.ExitUsage, errSilent}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s compile (with the LOKI/THOR externals defined)\n", strings.Join(args, ", "))
			return nil
		},
	}
	var listPaths []string
	var noEmbedded, asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the rules a scan would use: name, severity, ATT&CK technique, family, source",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			infos, diags, err := yarascan.List(yarascan.Options{Paths: listPaths, NoEmbedded: noEmbedded})
			printDiagnostics(cmd, diags)
			if err != nil {
				return &exitError{report.ExitUsage, err}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), infos)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-40s %-9s %-10s %-14s %s\n", "RULE", "SEVERITY", "TECHNIQUE", "FAMILY", "SOURCE")
			for _, ri := range infos {
				fmt.Fprintf(w, "%-40s %-9s %-10s %-14s %s\n", ri.Namespace+":"+ri.Name, ri.Severity, dash(ri.Technique), dash(ri.Family), ri.Source)
			}
			return nil
		},
	}
	list.Flags().StringArrayVar(&listPaths, "rules", nil, "also list these rule files or directories")
	list.Flags().BoolVar(&noEmbedded, "no-embedded", false, "leave out snapscan's own rules")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(check, list)
	return cmd
}

// printDiagnostics shows rule compiler output. Our own rules' performance
// warnings are known and tested; the user's rules get every diagnostic.
func printDiagnostics(cmd *cobra.Command, diags []yarascan.Diagnostic) {
	for _, d := range diags {
		if d.Level == "warning" && strings.HasPrefix(d.File, yarascan.EmbeddedSource) {
			continue
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "snapscan: rules:", d)
	}
}
