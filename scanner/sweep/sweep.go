// Package sweep is the content sweep: every regular file of one volume read
// once, hashed, matched against hash and file-name IOCs and scanned with the
// compiled YARA rules, by a bounded pool of workers each owning one YARA
// scanner and one buffer. It reports one finding per file with all of that
// file's matches, the files it skipped and why, and what it could not read.
package sweep

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/scanner/sweep/hook"
	"github.com/snapscan/snapscan/signatures"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxFileSize = 64 << 20
	DefaultTimeout     = 60 * time.Second
	// MaxWorkers is libyara's limit on scanners in use at once.
	MaxWorkers = 32
)

// CheckName is Finding.Check and the ScanError stage of the sweep.
const CheckName = "sweep"

// Options configures one sweep of one volume.
type Options struct {
	// Volume names the volume in evidence, e.g. "disk.img@2".
	Volume string
	// Root is the directory of the FS to sweep ("" or "." = all of it).
	Root string
	// MountPoint is where this volume sits in its OS ("/usr", "/home"; from
	// fstab), prepended to paths for filename IOCs and the YARA path
	// externals so they see /usr/bin/x, not /bin/x. Evidence has both:
	// Path as the OS saw it, VolumePath inside the volume.
	MountPoint string
	// PathStyle is the form of the YARA external `filepath`: "unix"
	// (/usr/bin) or "windows" (\Windows\Temp, how LOKI's public rules test
	// Windows paths). "" detects it: windows when Root holds
	// Windows/System32.
	PathStyle string

	// Rules are the compiled YARA rules; nil sweeps with IOCs only.
	Rules *yarascan.Rules
	// IOCs are hash and file-name indicators; nil for none.
	IOCs *signatures.IOCs

	// Workers bounds the files in flight (default GOMAXPROCS, at most
	// MaxWorkers). Memory is bounded by Workers × MaxFileSize, and by
	// MaxMemory when it is set.
	Workers int
	// MaxMemory bounds the file content held by all workers at once
	// (0: Workers × MaxFileSize). Big files then run fewer at a time; a
	// file larger than MaxMemory is skipped and listed with the reason.
	MaxMemory int64
	// MaxFileSize: larger files are not read and are listed as skipped
	// (default DefaultMaxFileSize).
	MaxFileSize int64
	// Timeout bounds the YARA scan of one file (default DefaultTimeout;
	// values under a second are raised to one, libyara's resolution).
	Timeout time.Duration

	// Exclude, when set, is asked about every path (slash form, no leading
	// '/'); an excluded directory is not descended. Excluded paths are not
	// listed as skipped: the caller chose them.
	Exclude func(p string, d fs.DirEntry) bool
	// Owner names a file's owner for the YARA external `owner` (LOKI and
	// THOR give the account name: root, NT AUTHORITY\SYSTEM); nil uses
	// the decimal uid where the filesystem records one.
	Owner func(m *fsread.Meta) string
	// Progress, when set, is called after every file from one goroutine.
	Progress func(Progress)
	// Hooks see every regular file of the walk (package hook).
	Hooks []hook.Hook
	// SkipVerified skips YARA on files a hook.Verifier vouches for (bytes
	// equal to their package's recorded digest); they are counted in
	// Stats.VerifiedNotSwept. Hash IOCs are still matched.
	SkipVerified bool
}

// Progress is the state of a running sweep, for a progress bar. FilesSeen
// grows while the walk is still discovering files; WalkDone says it is final.
// The last call of a sweep has WalkDone set and an empty Current.
type Progress struct {
	FilesDone int64
	FilesSeen int64
	BytesDone int64
	// BytesSeen is the size of the files found that will be read (those
	// under MaxFileSize): with WalkDone, the total BytesDone will reach.
	BytesSeen int64
	Current   string
	WalkDone  bool
}

// Stats counts the work of one sweep.
type Stats struct {
	Files   int64 `json:"files"`   // regular files read and scanned
	Bytes   int64 `json:"bytes"`   // bytes read and scanned
	Skipped int64 `json:"skipped"` // files listed in Result.Skipped
	// VerifiedNotSwept counts files read and hashed whose YARA scan was
	// skipped because a hook verified them (Options.SkipVerified).
	VerifiedNotSwept int64 `json:"verified_not_swept"`
	Findings         int64 `json:"findings"`
	Errors           int64 `json:"errors"`
	// Links counts names of files with several hard links whose content
	// was swept under another name, listed in Skipped up to maxLinksListed.
	Links   int64         `json:"links"`
	Elapsed time.Duration `json:"elapsed"`
}

// maxLinksListed bounds the hard links one sweep lists as skipped; the rest
// are counted in Stats.Links. 10^5 links to one file are one read, not a
// report of 10^5 lines.
const maxLinksListed = 1000

// Result is what one sweep produced, sorted by path.
type Result struct {
	Findings []report.Finding
	Skipped  []report.Skipped
	Errors   []report.ScanError
	// Inventory is what the Hooks recorded.
	Inventory []report.InventoryItem
	Stats     Stats
}

// job is one regular file found by the walk.
type job struct {
	path string
	meta *fsread.Meta
}

// outcome is what a worker made of one job.
type outcome struct {
	path    string
	fromJob bool // counts towards Progress.FilesDone
	bytes   int64
	scanned bool
	finding *report.Finding
	skipped *report.Skipped
	errs    []report.ScanError
	link    bool // a later name of a hard-linked file, not read
	// extra and extraSkipped are the file's NTFS alternate data streams
	// (streams.go).
	extra        []report.Finding
	extraSkipped []report.Skipped
	// verifiedSkipped: read and hashed, YARA skipped (Options.SkipVerified).
	verifiedSkipped bool
}

// Run sweeps fsys. It returns an error only when the sweep could not run
// at all (no scanner) or was cancelled; then the Result holds what was done.
// Problems with single files are in Result.Errors.
func Run(ctx context.Context, fsys fsread.FS, opts Options) (*Result, error) {
	start := time.Now()
	opts = withDefaults(opts)
	detectPathStyle(fsys, &opts)
	// Evidence names a file by its path in the OS (MountPoint prepended)
	// and by its path on this volume, as the checks do.
	tgt := &check.Target{FS: fsys, Volume: opts.Volume, MountPoint: opts.MountPoint}

	// Create the scanners before walking: a rule set libyara refuses must
	// fail the sweep up front, not once per file.
	workers := make([]*worker, opts.Workers)
	mem := newBudget(opts.MaxMemory)
	for i := range workers {
		w := &worker{opts: &opts, fsys: fsys, tgt: tgt, mem: mem}
		if opts.Rules != nil && opts.Rules.Len() > 0 {
			sc, err := opts.Rules.NewScanner(opts.Timeout)
			if err != nil {
				for _, w := range workers[:i] {
					w.close()
				}
				return nil, fmt.Errorf("sweep %s: %w", opts.Volume, err)
			}
			w.sc = sc
		}
		workers[i] = w
	}

	res := &Result{}
	jobs := make(chan job, opts.Workers*4)
	outs := make(chan outcome, opts.Workers*4)
	var seen, bytesSeen atomic.Int64
	var walkDone atomic.Bool
	var links check.Links
	var linksSeen atomic.Int64

	// The walker lists; it never opens a file. Non-regular entries are
	// settled here so that no worker is ever handed one.
	go func() {
		defer close(jobs)
		defer walkDone.Store(true)
		root := opts.Root
		err := fsread.Walk(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return fs.SkipAll
			}
			if err != nil {
				outs <- outcome{path: p, errs: []report.ScanError{scanError(opts.Volume, p, err)}}
				return nil
			}
			if opts.Exclude != nil && p != root && opts.Exclude(p, d) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if ntfsMetafile(p, d) {
				// $MFT, $LogFile, $Extend...: the filesystem's own records.
				// They hold copies and leftovers of other files (deleted ones
				// too), so a match there is not a live file on the host.
				outs <- outcome{path: p, skipped: &report.Skipped{
					Volume: opts.Volume, Path: "/" + check.Clean(p), Reason: "NTFS metadata file (holds copies and leftovers of other files), not content-scanned"}}
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			t := d.Type()
			if t.IsDir() || t&fs.ModeSymlink != 0 {
				return nil // a link's target is swept under its own path
			}
			info, err := d.Info()
			if err != nil {
				outs <- outcome{path: p, errs: []report.ScanError{scanError(opts.Volume, p, err)}}
				return nil
			}
			m := fsread.MetaOf(info)
			if !m.Mode.IsRegular() {
				if m.Mode&fs.ModeSymlink != 0 || m.Mode.IsDir() {
					return nil
				}
				outs <- outcome{path: p, skipped: &report.Skipped{
					Volume: opts.Volume, Path: "/" + check.Clean(p), Size: m.Size, Reason: irregular(m.Mode)}}
				return nil
			}
			if first, dup := links.First(m, "", p); dup {
				// One inode, one read: its content was (or will be)
				// swept under its first name.
				o := outcome{path: p, link: true}
				if opts.IOCs != nil {
					// The name is new even if the bytes are not: file-name
					// indicators are matched on every name, at no read.
					var hits []hit
					for _, fn := range opts.IOCs.MatchPath(osPathOf(&opts, "/"+check.Clean(p)), opts.PathStyle == "windows") {
						hits = append(hits, filenameHit(fn))
					}
					if len(hits) > 0 {
						o.finding = buildFinding(check.EvidenceFor(tgt, p, m), hits)
					}
				}
				if linksSeen.Add(1) <= maxLinksListed {
					o.skipped = &report.Skipped{Volume: opts.Volume, Path: "/" + check.Clean(p), Size: m.Size,
						Reason: fmt.Sprintf("hard link of /%s (inode %d): content swept once, under that name", check.Clean(first), m.Inode)}
				}
				outs <- o
				return nil
			}
			seen.Add(1)
			if m.Size > 0 && m.Size <= opts.MaxFileSize {
				bytesSeen.Add(m.Size)
			}
			select {
			case jobs <- job{path: p, meta: m}:
			case <-ctx.Done():
				return fs.SkipAll
			}
			return nil
		})
		if err != nil {
			outs <- outcome{path: root, errs: []report.ScanError{scanError(opts.Volume, root, err)}}
		}
	}()

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			defer w.close()
			for j := range jobs {
				if ctx.Err() != nil {
					continue // drain: the walker stops soon
				}
				outs <- w.do(j)
			}
		}(w)
	}
	go func() {
		wg.Wait()
		close(outs)
	}()

	var done int64
	for o := range outs {
		if o.fromJob {
			done++
		}
		if o.link {
			res.Stats.Links++
		}
		if o.scanned {
			res.Stats.Files++
			res.Stats.Bytes += o.bytes
		}
		if o.verifiedSkipped {
			res.Stats.VerifiedNotSwept++
		}
		if o.finding != nil {
			res.Findings = append(res.Findings, *o.finding)
		}
		if o.skipped != nil {
			res.Skipped = append(res.Skipped, *o.skipped)
		}
		res.Findings = append(res.Findings, o.extra...)
		res.Skipped = append(res.Skipped, o.extraSkipped...)
		res.Errors = append(res.Errors, o.errs...)
		if opts.Progress != nil {
			opts.Progress(Progress{FilesDone: done, FilesSeen: seen.Load(), BytesDone: res.Stats.Bytes, BytesSeen: bytesSeen.Load(),
				Current: o.path, WalkDone: walkDone.Load()})
		}
	}
	if opts.Progress != nil {
		// The last file may finish before the walk has left its last
		// directories: one final call says the totals are final.
		opts.Progress(Progress{FilesDone: done, FilesSeen: seen.Load(), BytesDone: res.Stats.Bytes, BytesSeen: bytesSeen.Load(), WalkDone: true})
	}

	for _, h := range opts.Hooks {
		fs, inv, errs := h.Done()
		res.Findings = append(res.Findings, fs...)
		res.Inventory = append(res.Inventory, inv...)
		res.Errors = append(res.Errors, errs...)
	}
	sort.Slice(res.Findings, func(i, j int) bool { return res.Findings[i].Evidence.Path < res.Findings[j].Evidence.Path })
	sort.Slice(res.Skipped, func(i, j int) bool { return res.Skipped[i].Path < res.Skipped[j].Path })
	sort.SliceStable(res.Errors, func(i, j int) bool { return res.Errors[i].Path < res.Errors[j].Path })
	res.Stats.Skipped = int64(len(res.Skipped))
	res.Stats.Findings = int64(len(res.Findings))
	res.Stats.Errors = int64(len(res.Errors))
	res.Stats.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("sweep %s: %w", opts.Volume, err)
	}
	return res, nil
}

func withDefaults(o Options) Options {
	if o.Root == "" {
		o.Root = "."
	}
	o.Root = check.Clean(o.Root)
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	o.Workers = min(o.Workers, MaxWorkers)
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	o.Timeout = max(o.Timeout, yarascan.MinTimeout)
	if o.MaxMemory <= 0 {
		o.MaxMemory = int64(o.Workers) * o.MaxFileSize
	}
	return o
}

// detectPathStyle settles PathStyle "" by looking for a Windows system
// directory (a lookup, no read).
func detectPathStyle(fsys fsread.FS, o *Options) {
	if o.PathStyle != "" {
		return
	}
	o.PathStyle = "unix"
	if st, err := fsys.Stat(path.Join(o.Root, "Windows", "System32")); err == nil && st.IsDir() {
		o.PathStyle = "windows"
	}
}

func irregular(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO): no content in an image, never opened"
	case m&fs.ModeSocket != 0:
		return "socket: no content in an image, never opened"
	case m&fs.ModeCharDevice != 0:
		return "character device: never opened"
	case m&fs.ModeDevice != 0:
		return "block device: never opened"
	}
	return fmt.Sprintf("not a regular file (%s): never opened", m.Type())
}

func scanError(volume, p string, err error) report.ScanError {
	return report.ScanError{Volume: volume, Path: "/" + check.Clean(p), Stage: CheckName, Error: err.Error()}
}

// worker owns one YARA scanner and one buffer; it is used by one goroutine.
type worker struct {
	opts *Options
	fsys fsread.FS
	tgt  *check.Target
	mem  *budget
	held int64 // of mem: the size of buf
	sc   *yarascan.Scanner
	buf  []byte
	md5  hash.Hash
	sha1 hash.Hash
	sha2 hash.Hash
}

// release gives the worker's buffer back to the budget. A big one is
// collected first: another worker may allocate its bytes at once, and the
// heap would otherwise hold both until the next collection.
func (w *worker) release() {
	w.buf = nil
	if w.held >= collectAbove {
		runtime.GC()
	}
	w.mem.give(w.held)
	w.held = 0
}

// collectAbove is the buffer size whose release is worth a collection.
const collectAbove = 16 << 20

func (w *worker) close() {
	w.release()
	if w.sc != nil {
		w.sc.Close()
		w.sc = nil
	}
}

// readChunk is how much is read and hashed at a time: hashing a chunk right
// after it lands keeps it in cache.
const readChunk = 1 << 20

// read fills w.buf with the file's content, hashing as it goes: the one
// read of the file. A file shorter than its metadata claims yields what
// there was, with an error.
func (w *worker) read(f fs.File, size int64, hs []hash.Hash) ([]byte, error) {
	if int64(cap(w.buf)) < size {
		w.buf = make([]byte, size) // bounded by MaxFileSize, checked before
	}
	buf := w.buf[:size]
	for _, h := range hs {
		h.Reset()
	}
	var off int64
	for off < size {
		end := min(off+readChunk, size)
		n, err := io.ReadFull(f, buf[off:end])
		for _, h := range hs {
			h.Write(buf[off : off+int64(n)])
		}
		off += int64(n)
		if err != nil {
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				return buf[:off], fmt.Errorf("short read: %d of %d bytes", off, size)
			}
			return buf[:off], err
		}
	}
	return buf, nil
}

func (w *worker) do(j job) outcome {
	o := outcome{path: j.path, fromJob: true}
	evPath := "/" + check.Clean(j.path)
	if j.meta.Size < 0 {
		o.errs = append(o.errs, scanError(w.opts.Volume, j.path, fmt.Errorf("%w: negative size %d", fsread.ErrCorrupt, j.meta.Size)))
		return o
	}
	if j.meta.Size > w.opts.MaxFileSize {
		o.skipped = &report.Skipped{Volume: w.opts.Volume, Path: evPath, Size: j.meta.Size,
			Reason: fmt.Sprintf("larger than the size cap (%d > %d bytes); not read", j.meta.Size, w.opts.MaxFileSize)}
		w.hookFile(j, osPathOf(w.opts, evPath), "", "", "", nil)
		return o
	}
	if j.meta.Size > w.opts.MaxMemory {
		o.skipped = &report.Skipped{Volume: w.opts.Volume, Path: evPath, Size: j.meta.Size,
			Reason: fmt.Sprintf("larger than the memory budget for file contents (%d > %d bytes of --max-memory); not read", j.meta.Size, w.opts.MaxMemory)}
		return o
	}
	if j.meta.Size > int64(cap(w.buf)) {
		// A worker keeps its buffer between files (a new one per file
		// would leave the old ones to the garbage collector: twice the
		// memory). Its bytes are the budget's: a bigger one is taken from
		// the budget before it exists, the old one given back first.
		w.release()
		w.mem.take(j.meta.Size)
		w.held = j.meta.Size
		w.buf = make([]byte, j.meta.Size)
	}
	f, err := w.fsys.Open(j.path)
	if err != nil {
		o.errs = append(o.errs, scanError(w.opts.Volume, j.path, err))
		w.hookFile(j, osPathOf(w.opts, evPath), "", "", "", nil)
		return o
	}
	defer f.Close()

	if w.md5 == nil {
		w.md5, w.sha1, w.sha2 = md5.New(), sha1.New(), sha256.New()
	}
	hs := []hash.Hash{w.md5, w.sha2}
	needSHA1 := w.opts.IOCs != nil && w.opts.IOCs.NeedSHA1() || hooksWantSHA1(w.opts.Hooks)
	if needSHA1 {
		hs = append(hs, w.sha1)
	}
	data, rerr := w.read(f, j.meta.Size, hs)
	if rerr != nil {
		o.errs = append(o.errs, scanError(w.opts.Volume, j.path, rerr))
	}
	o.scanned, o.bytes = true, int64(len(data))
	osPath := osPathOf(w.opts, evPath)
	// Hashes of a partial read would name content that is not the file's:
	// evidence and hash IOCs get none; YARA still sees what was read.
	var md5hex, sha1hex, sha2hex string
	if rerr == nil {
		md5hex = hex.EncodeToString(w.md5.Sum(nil))
		sha2hex = hex.EncodeToString(w.sha2.Sum(nil))
		if needSHA1 {
			sha1hex = hex.EncodeToString(w.sha1.Sum(nil))
		}
	}

	verified := w.hookFile(j, osPath, md5hex, sha1hex, sha2hex, data)
	if verified && w.opts.SkipVerified {
		o.verifiedSkipped = true
	}
	w.sweepStreams(j, &o)

	var hits []hit
	if w.opts.IOCs != nil {
		for _, h := range w.opts.IOCs.MatchHashes(md5hex, sha1hex, sha2hex) {
			hits = append(hits, hashHit(h))
		}
		for _, fn := range w.opts.IOCs.MatchPath(osPath, w.opts.PathStyle == "windows") {
			hits = append(hits, filenameHit(fn))
		}
	}
	if w.sc != nil && !o.verifiedSkipped {
		ms, err := w.sc.Scan(data, w.vars(j, osPath, data, md5hex))
		if err != nil {
			o.errs = append(o.errs, scanError(w.opts.Volume, j.path, fmt.Errorf("yara: %w", err)))
		}
		for _, m := range ms {
			hits = append(hits, yaraHit(m))
		}
	}
	if len(hits) > 0 {
		ev := check.EvidenceFor(w.tgt, j.path, j.meta)
		ev.MD5, ev.SHA256 = md5hex, sha2hex
		ev.Binary = check.Binary(data)
		if !ev.Binary {
			// A text file's matches are placed by line too (SARIF regions).
			for i := range hits {
				for k := range hits[i].match.Strings {
					if sm := &hits[i].match.Strings[k]; hits[i].rule != "ioc.hash" && hits[i].rule != "ioc.filename" {
						sm.Line = check.LineAt(data, sm.Offset)
					}
				}
			}
		}
		o.finding = buildFinding(ev, hits)
	}
	return o
}

// osPathOf is where evPath (a path in the volume) sits in its OS, for the
// filename IOCs and YARA's path externals.
func osPathOf(o *Options, evPath string) string {
	if mp := strings.TrimRight(o.MountPoint, "/"); mp != "" {
		return path.Clean("/" + mp + evPath)
	}
	return evPath
}

// vars are the LOKI externals for one file at osPath.
func (w *worker) vars(j job, osPath string, data []byte, md5hex string) yarascan.Vars {
	dir, base := path.Split(osPath)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "/"
	}
	if w.opts.PathStyle == "windows" {
		dir = strings.ReplaceAll(dir, "/", `\`)
	}
	v := yarascan.Vars{
		Filename:  base,
		Filepath:  dir,
		Extension: strings.ToLower(path.Ext(base)),
		Filetype:  yarascan.Filetype(data),
		MD5:       md5hex,
	}
	switch {
	case w.opts.Owner != nil:
		v.Owner = w.opts.Owner(j.meta)
	case j.meta.HasOwner:
		v.Owner = strconv.FormatUint(uint64(j.meta.UID), 10)
	}
	return v
}

// ntfsMetafile recognises NTFS's own files at the volume root: a '$' name on
// one of the first MFT records, which NTFS reserves, marked hidden and
// system. A user file named "$MFT" on ext4 or NTFS meets none of that.
func ntfsMetafile(p string, d fs.DirEntry) bool {
	if strings.Contains(p, "/") || !strings.HasPrefix(p, "$") {
		return false
	}
	info, err := d.Info()
	if err != nil {
		return false
	}
	const hiddenSystem = 0x2 | 0x4
	m := fsread.MetaOf(info)
	return m.Inode < 27 && m.Attributes&hiddenSystem == hiddenSystem
}
