// Package scanner runs one scan: it opens the image, finds the OS roots on
// its volumes (composing each Linux root with the volumes its fstab mounts),
// runs every check in parallel, runs the content sweep over every readable
// volume, and collects findings, inventory and errors into a report.
package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Options configure a scan.
type Options struct {
	Checks []check.Check
	// Sweep, when set, is run over every readable volume.
	Sweep Sweeper
	// Workers bounds how many checks run at once (default: 2 × cores;
	// checks are small reads, mostly waiting on I/O).
	Workers int
	Version string
	// NoReplay (--no-journal-replay) reads each volume as it is on disk:
	// pending journal/log writes are not applied, and such a volume is
	// reported dirty (the verdict is then incomplete).
	NoReplay bool
	// MaxMemory is the scan's memory budget in bytes (0: DefaultMaxMemory).
	// The checks get ReservedMemory of it (fewer check workers when it is
	// small); the sweep, given SweepMemory(MaxMemory) by its caller, the
	// rest. It is recorded in Stats.MemoryLimit.
	MaxMemory int64
}

// Memory budget defaults (docs/limits.md). DefaultMaxMemory suits a
// 2-core/4 GiB runner with room for the page cache and a second scan.
const (
	DefaultMaxMemory = 1 << 30
	// ReservedMemory is what the checks and the readers are sized to: check
	// workers × a 16 MiB artifact × its parse, the readers' caches and the
	// largest container table (a 32 MiB qcow2 L1 read twice).
	ReservedMemory = 256 << 20
	// minSweepMemory is the sweep's share when the budget is smaller than
	// the reserve: small files still get swept.
	minSweepMemory = 32 << 20
)

// SweepMemory is the share of a --max-memory budget the content sweep may
// hold in file contents (sweep.Options.MaxMemory).
func SweepMemory(maxMemory int64) int64 {
	if maxMemory <= 0 {
		maxMemory = DefaultMaxMemory
	}
	return max(maxMemory-ReservedMemory, minSweepMemory)
}

// Caps on what one scan keeps of the checks' output (docs/limits.md): past
// them items are counted in Stats, not listed.
const (
	maxInventoryPerFile = 1000
	maxInventory        = 100000
	maxErrorsPerFile    = 100
)

// Sweeper is the content sweep over one volume.
type Sweeper interface {
	// mountPoint is where the volume sits in its OS ("/", "/home"), or ""
	// when no OS root mounts it.
	Sweep(ctx context.Context, fsys fsread.FS, volume, mountPoint string) SweepResult
}

// SweepResult is what a sweep of one volume produced.
type SweepResult struct {
	Findings     []report.Finding
	Skipped      []report.Skipped
	Errors       []report.ScanError
	Inventory    []report.InventoryItem // what the sweep's file hooks recorded
	Files, Bytes int64
	// Links counts later names of hard-linked files, swept once.
	Links int64
	// VerifiedNotSwept: files whose package vouched for them and that
	// --skip-verified kept from YARA.
	VerifiedNotSwept int64
}

// ScanImage scans one image file. It always returns a report: an image that
// cannot be opened is a report with no volume scanned and the reason.
func ScanImage(ctx context.Context, path string, opts Options) *report.Report {
	r := newReport(path, opts)
	img, err := image.OpenWith(path, image.Options{FS: fsread.OpenOptions{NoReplay: opts.NoReplay}})
	if err != nil {
		r.Errors = append(r.Errors, report.ScanError{Stage: "open", Error: err.Error()})
		return finish(ctx, r, opts)
	}
	defer img.Close()
	r.Container, r.ImageSize = img.Container, img.Size
	for _, w := range img.Warnings {
		r.Errors = append(r.Errors, report.ScanError{Stage: "partition", Error: w})
	}

	var vols []*openVolume
	for _, v := range img.Volumes {
		rv := report.Volume{
			Name: v.Name, Index: v.Index, Start: v.Start, Size: v.Size,
			Filesystem: string(v.Detect.Kind), Label: v.Detect.Label, UUID: v.Detect.UUID, Reason: v.Reason,
		}
		rv.HoldsVolumes = v.HoldsVolumes
		if v.Part != nil {
			if v.Part.Clipped {
				rv.Truncated, rv.Reason = true, "the partition table places it past the end of the image"
			}
			rv.PartType, rv.PartName, rv.PartUUID = v.Part.Type, v.Part.Name, v.Part.GUID
			if v.Part.TypeName != "" {
				rv.PartType += " (" + v.Part.TypeName + ")"
			}
		}
		if v.Part != nil && v.Part.InTable() && v.Detect.Kind == detect.Unknown && !v.Part.Clipped && !v.Part.HoldsNoFilesystem() {
			// A partition meant to hold data whose content nothing here
			// recognises: what it holds was not read, so the scan is not
			// complete (a blank one, or a BIOS boot or reserved partition,
			// holds nothing to read).
			r.Errors = append(r.Errors, report.ScanError{Volume: v.Name, Stage: "filesystem",
				Error: fmt.Sprintf("partition type %s, but no known filesystem signature: its content was not read", rv.PartType)})
		}
		if !v.Scannable && strings.Contains(v.Reason, "beyond the end of the image") {
			// An LVM logical volume whose extents the image does not hold.
			rv.Truncated = true
		}
		if v.Scannable {
			if fsys, err := v.FS(); err != nil {
				rv.Reason = err.Error()
				r.Errors = append(r.Errors, report.ScanError{Volume: v.Name, Stage: "filesystem", Error: err.Error()})
			} else {
				rec := recoveryOf(fsys)
				rv.Recovery = &rec
				if why := truncation(v, fsys); why != "" {
					// Read what is there (a miner in the head of a truncated
					// copy is still a miner), but never call it scanned.
					rv.Truncated, rv.Reason = true, why
				} else if !rv.Truncated {
					rv.Scanned = true
				}
				vols = append(vols, &openVolume{vol: v, fsys: fsys, os: image.LooksLikeRoot(fsys)})
			}
		}
		r.Volumes = append(r.Volumes, rv)
	}

	var targets []*check.Target
	mountedAt := map[*openVolume]string{}
	for _, ov := range vols {
		if ov.os == "" {
			continue
		}
		if ov.os == "linux" {
			mountedAt[ov] = "/"
		}
		t := &check.Target{FS: ov.fsys, Volume: ov.vol.Name, OS: ov.os}
		rt := report.Target{OS: ov.os, Volume: ov.vol.Name, Name: prettyName(ov.fsys, ov.os)}
		if ov.os == "linux" {
			mounts, notes := linuxMounts(ov, vols)
			if len(mounts) > 0 {
				m := map[string]fsread.FS{}
				rt.Mounts = map[string]string{}
				for mp, mv := range mounts {
					m[mp], rt.Mounts[mp] = mv.fsys, mv.vol.Name
					mountedAt[mv] = mp
				}
				t.FS = fsread.Mount(ov.fsys, m)
				t.Mounts = mountPoints(rt.Mounts)
			}
			rt.Comment = strings.Join(notes, "; ")
		}
		targets = append(targets, t)
		r.Targets = append(r.Targets, rt)
	}
	sweepFS := make([]sweepUnit, 0, len(vols))
	for _, ov := range vols {
		sweepFS = append(sweepFS, sweepUnit{ov.fsys, ov.vol.Name, mountedAt[ov]})
	}
	// Roots first: a sweeper learns the accounts (file owners' names) from
	// a root before it sweeps the volumes that root mounts.
	sort.SliceStable(sweepFS, func(i, j int) bool { return sweepFS[i].mountPoint == "/" && sweepFS[j].mountPoint != "/" })
	run(ctx, r, targets, sweepFS, opts)
	return finish(ctx, r, opts)
}

// ScanDir scans a directory tree as one OS root (a mounted or extracted
// image). The OS is detected as on an image; osHint overrides it.
func ScanDir(ctx context.Context, dir, osHint string, opts Options) *report.Report {
	r := newReport(dir, opts)
	r.Container = "directory"
	fsys, err := dirfs.New(dir)
	if err != nil {
		r.Errors = append(r.Errors, report.ScanError{Stage: "open", Error: err.Error()})
		return finish(ctx, r, opts)
	}
	name := filepath.Base(filepath.Clean(dir))
	osName := osHint
	if osName == "" {
		osName = image.LooksLikeRoot(fsys)
	}
	r.Volumes = []report.Volume{{Name: name, Filesystem: "directory", Scanned: true}}
	var targets []*check.Target
	if osName != "" {
		targets = append(targets, &check.Target{FS: fsys, Volume: name, OS: osName})
		r.Targets = append(r.Targets, report.Target{OS: osName, Volume: name, Name: prettyName(fsys, osName)})
	}
	mp := ""
	if osName == "linux" {
		mp = "/"
	}
	run(ctx, r, targets, []sweepUnit{{fsys, name, mp}}, opts)
	return finish(ctx, r, opts)
}

// mountPoints keys mounts by the mount point in the form fsread.Locate
// gives ("/home", "/var/lib"), whatever fstab wrote ("/home/").
func mountPoints(mounts map[string]string) map[string]string {
	out := make(map[string]string, len(mounts))
	for mp, v := range mounts {
		out[path.Clean("/"+mp)] = v
	}
	return out
}

type sweepUnit struct {
	fsys       fsread.FS
	name       string
	mountPoint string
}

func newReport(path string, opts Options) *report.Report {
	return &report.Report{
		Schema: report.SchemaVersion, Tool: "snapscan", Version: opts.Version,
		Image: path, Started: time.Now().UTC(),
		Volumes: []report.Volume{}, Targets: []report.Target{}, Findings: []report.Finding{}, Errors: []report.ScanError{},
		Stats: report.Stats{MemoryLimit: memoryOf(opts)},
	}
}

func memoryOf(opts Options) int64 {
	if opts.MaxMemory > 0 {
		return opts.MaxMemory
	}
	return DefaultMaxMemory
}

func finish(ctx context.Context, r *report.Report, opts Options) *report.Report {
	r.Duration = time.Since(r.Started).Seconds()
	if err := ctx.Err(); err != nil {
		r.Interrupted = true
		why := err.Error()
		if c := context.Cause(ctx); c != nil && c != err {
			why = c.Error()
		}
		r.Errors = append(r.Errors, report.ScanError{Stage: report.StageInterrupted, Error: why})
	}
	if len(r.Targets) == 0 && anyScanned(r) {
		msg := "no operating-system root found on any volume: persistence checks did not run"
		if opts.Sweep != nil {
			msg += ", only the content sweep"
		}
		r.Errors = append(r.Errors, report.ScanError{Stage: "targets", Error: msg})
	}
	return r
}

func anyScanned(r *report.Report) bool {
	for _, v := range r.Volumes {
		if v.Scanned {
			return true
		}
	}
	return false
}

// run executes checks and sweeps concurrently and merges their output.
func run(ctx context.Context, r *report.Report, targets []*check.Target, sweeps []sweepUnit, opts Options) {
	workers := opts.Workers
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	budget := memoryOf(opts)
	// A check may hold one artifact and its parse (about three times its
	// bytes) at a time.
	workers = max(1, min(workers, int(min(budget, ReservedMemory)/(3*check.MaxArtifactSize))))
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, workers)
		sink = &collector{r: r, mu: &mu}
	)
	for i, t := range targets {
		for _, c := range opts.Checks {
			if c.OS() != t.OS {
				continue
			}
			r.Targets[i].Checks = append(r.Targets[i].Checks, c.Name())
			wg.Add(1)
			go func(i int, t *check.Target, c check.Check) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				runCheck(ctx, t, c, sink.forCheck(c.Name(), t, i))
			}(i, t, c)
		}
	}
	if opts.Sweep != nil {
		// Volumes are swept one after another, each with its own bounded
		// worker pool: memory and libyara's limit of 32 scanners stay those
		// of one sweep, however many volumes the image has.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range sweeps {
				var res SweepResult
				if err := ctx.Err(); err != nil {
					res.Errors = []report.ScanError{{Volume: s.name, Stage: "sweep", Error: "not swept: " + err.Error()}}
				} else {
					res = opts.Sweep.Sweep(ctx, s.fsys, s.name, s.mountPoint)
				}
				mu.Lock()
				r.Findings = append(r.Findings, res.Findings...)
				r.Skipped = append(r.Skipped, res.Skipped...)
				r.Errors = append(r.Errors, res.Errors...)
				r.Inventory = append(r.Inventory, res.Inventory...)
				r.Stats.FilesSwept += res.Files
				r.Stats.BytesSwept += res.Bytes
				r.Stats.FilesSkipped += int64(len(res.Skipped))
				r.Stats.LinksJudgedOnce += res.Links
				r.Stats.FilesVerifiedNotSwept += res.VerifiedNotSwept
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sink.summarize()
	for i := range r.Targets {
		sort.Strings(r.Targets[i].Checks)
	}
	linkContainerLayers(r)
}

// runCheck contains a check's panic: one broken check, or one hostile file
// that trips it, costs that check's results, not the scan.
func runCheck(ctx context.Context, t *check.Target, c check.Check, sink *checkSink) {
	defer func() {
		if p := recover(); p != nil {
			sink.Error("", fmt.Errorf("check panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	if err := c.Run(ctx, t, sink); err != nil {
		sink.Error("", err)
	}
}

type collector struct {
	r  *report.Report
	mu *sync.Mutex
	// perFile counts inventory items and errors by volume and path, for
	// the per-file caps; omitted counts the errors past the cap by file.
	invPerFile map[fileKey]int
	errPerFile map[fileKey]int
	omitted    map[fileKey]int
}

type fileKey struct{ stage, volume, path string }

func (c *collector) forCheck(name string, t *check.Target, index int) *checkSink {
	return &checkSink{c: c, check: name, volume: t.Volume, target: t, index: index}
}

// summarize names each file whose errors were cut, with the count.
func (c *collector) summarize() {
	keys := make([]fileKey, 0, len(c.omitted))
	for k := range c.omitted {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].path < keys[j].path })
	for _, k := range keys {
		c.r.Errors = append(c.r.Errors, report.ScanError{Volume: k.volume, Path: k.path, Stage: k.stage,
			Error: fmt.Sprintf("%d more errors in this file not listed (at most %d per file)", c.omitted[k], maxErrorsPerFile)})
	}
}

// checkSink stamps what a check reports with the check's name and volume.
type checkSink struct {
	c      *collector
	check  string
	volume string
	target *check.Target
	index  int // of the target in r.Targets
}

// Hive records a registry hive the check read (check.HiveReporter); the
// same hive read by several checks is listed once, dirty if any saw it so.
func (s *checkSink) Hive(h report.HiveState) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	t := &s.c.r.Targets[s.index]
	for i := range t.Hives {
		if strings.EqualFold(t.Hives[i].Path, h.Path) {
			if h.Recovery.State == report.RecoveryDirty {
				t.Hives[i].Recovery = h.Recovery
			}
			return
		}
	}
	t.Hives = append(t.Hives, h)
	sort.Slice(t.Hives, func(a, b int) bool { return t.Hives[a].Path < t.Hives[b].Path })
}

func (s *checkSink) Finding(f report.Finding) {
	if f.Check == "" {
		f.Check = s.check
	}
	if f.Evidence.Volume == "" {
		f.Evidence.Volume = s.volume
	}
	s.c.mu.Lock()
	s.c.r.Findings = append(s.c.r.Findings, f)
	s.c.mu.Unlock()
}

// Inventory keeps at most maxInventoryPerFile items of one file and
// maxInventory of the scan; the rest are counted in Stats.InventoryOmitted.
func (s *checkSink) Inventory(it report.InventoryItem) {
	if it.Volume == "" {
		it.Volume = s.volume
	}
	// An item from a volume the root mounts (/home's authorized keys) is
	// named by that volume, as findings are.
	if it.Volume == s.volume && it.VolumePath == "" && len(s.target.Mounts) > 0 && it.Path != "" {
		it.Volume, it.VolumePath = s.target.Place(it.Path)
	}
	k := fileKey{s.check, it.Volume, it.Path}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if it.Kind == "hardlink" {
		s.c.r.Stats.LinksJudgedOnce++
	}
	if s.c.invPerFile == nil {
		s.c.invPerFile = map[fileKey]int{}
	}
	if s.c.invPerFile[k] >= maxInventoryPerFile || len(s.c.r.Inventory) >= maxInventory {
		s.c.r.Stats.InventoryOmitted++
		return
	}
	s.c.invPerFile[k]++
	s.c.r.Inventory = append(s.c.r.Inventory, it)
}

// Error keeps at most maxErrorsPerFile errors of one file (a crontab of ten
// million bad lines is one file's problem, not ten million report lines).
func (s *checkSink) Error(path string, err error) {
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return
	}
	e := report.ScanError{Volume: s.volume, Path: path, Stage: "check:" + s.check, Error: err.Error()}
	k := fileKey{e.Stage, e.Volume, path}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.c.errPerFile == nil {
		s.c.errPerFile, s.c.omitted = map[fileKey]int{}, map[fileKey]int{}
	}
	if path != "" && s.c.errPerFile[k] >= maxErrorsPerFile {
		s.c.omitted[k]++
		s.c.r.Stats.ErrorsOmitted++
		return
	}
	s.c.errPerFile[k]++
	s.c.r.Errors = append(s.c.r.Errors, e)
}

// prettyName reads the distribution or product name for the report header.
func prettyName(fsys fsread.FS, osKind string) string {
	if osKind != "linux" {
		return ""
	}
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err := readHead(fsys, p, 64<<10)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				return strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
	}
	return ""
}

// readHead reads at most max bytes of name: an inode may claim any size, and
// the OS-identification files the scanner itself reads are small.
func readHead(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
