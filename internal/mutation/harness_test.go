package mutation

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/scanner/linux"
	"github.com/snapscan/snapscan/scanner/sweep"
	"github.com/snapscan/snapscan/scanner/windows"
	"github.com/snapscan/snapscan/signatures"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// heapCap is the most heap one scan of a small (≤ 20 MB) image may hold at any sampled moment. The readers cap
// their caches (4,096 inodes, 65,536 directory entries) and the sweep's buffers by workers × max file size (2 ×
// 64 MiB here), so anything near this cap means an allocation sized by a corrupt field.
const heapCap = 512 << 20

// heapBound is the cap a sampled heap is held to: heapCap per scan running at the time (the heap is sampled
// for the whole process, so parallel mutant workers each get one).
var heapBound uint64 = heapCap

func allChecks() []check.Check { return append(linux.Checks(), windows.Checks()...) }

var (
	sweeperOnce sync.Once
	theSweeper  *testSweeper
	sweeperErr  error
)

// testSweeper is the CLI's sweeper (cmd/snapscan/sweep.go) without the progress bar: sweep.Run with the
// embedded YARA rules and IOC lists, so every regular file of every volume is opened and read in full.
type testSweeper struct {
	rules *yarascan.Rules
	iocs  *signatures.IOCs
}

func (s *testSweeper) Sweep(ctx context.Context, fsys fsread.FS, volume, mountPoint string) scanner.SweepResult {
	res, err := sweep.Run(ctx, fsys, sweep.Options{
		Volume: volume, MountPoint: mountPoint, Rules: s.rules, IOCs: s.iocs, Workers: 2, Timeout: 5 * time.Second,
	})
	if err != nil {
		return scanner.SweepResult{Errors: []report.ScanError{{Volume: volume, Stage: sweep.CheckName, Error: err.Error()}}}
	}
	return scanner.SweepResult{Findings: res.Findings, Skipped: res.Skipped, Errors: res.Errors,
		Files: res.Stats.Files, Bytes: res.Stats.Bytes}
}

func sweeper(t testing.TB) *testSweeper {
	t.Helper()
	sweeperOnce.Do(func() {
		rules, _, err := yarascan.Compile(yarascan.Options{})
		if err != nil {
			sweeperErr = err
			return
		}
		iocs, err := signatures.LoadIOCs()
		if err != nil {
			sweeperErr = err
			return
		}
		theSweeper = &testSweeper{rules: rules, iocs: iocs}
	})
	if sweeperErr != nil {
		t.Fatal(sweeperErr)
	}
	return theSweeper
}

// outcome is one bounded scan.
type outcome struct {
	r        *report.Report
	panicked any
	stack    string
	elapsed  time.Duration
	peakHeap uint64
	hung     bool
	goro     string // every goroutine's stack when hung
	leaked   int    // goroutines still running a second after the report came back
	leakDump string
}

// scanBounded runs scanner.ScanImage on path in its own goroutine, sampling the heap while it runs, and gives up
// after limit (the goroutine is left behind: a hang cannot be stopped from outside, only reported). A panic in
// that goroutine (image open, layout, target discovery) is caught here; one in a goroutine the scanner starts
// itself cannot be caught by anyone and kills the test binary, which is why callers print the seed to stderr
// before each scan.
func scanBounded(path string, limit time.Duration, withSweep bool, t testing.TB) outcome {
	return scanBoundedLeaks(path, limit, withSweep, true, t)
}

// scanBoundedLeaks is scanBounded; checkLeaks false skips the per-scan goroutine count, which means nothing
// while other scans run in the same process (the parallel mutant workers check once, at the end).
func scanBoundedLeaks(path string, limit time.Duration, withSweep, checkLeaks bool, t testing.TB) outcome {
	opts := scanner.Options{Checks: allChecks(), Version: "mutation", Workers: 4}
	if withSweep {
		opts.Sweep = sweeper(t)
	}
	runtime.GC()
	before := runtime.NumGoroutine()
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				o.panicked, o.stack = p, string(debug.Stack())
			}
			done <- o
		}()
		o.r = scanner.ScanImage(context.Background(), path, opts)
		report.Finalize(o.r)
		// The writers see every field a corrupt image can put into a report (names, labels, errors).
		var buf bytes.Buffer
		if err := report.WriteJSON(&buf, o.r); err != nil {
			panic(fmt.Sprintf("report.WriteJSON: %v", err))
		}
		if err := report.Write(&buf, o.r, "table", report.WriteOptions{}); err != nil {
			panic(fmt.Sprintf("table writer: %v", err))
		}
	}()
	var peak uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		select {
		case o := <-done:
			sample()
			o.elapsed, o.peakHeap = time.Since(start), peak
			// A finished scan leaves nothing running: a walker or worker blocked on a channel nobody reads is
			// a leak per image, which a batch of thousands of images turns into an outage.
			for wait := 0; checkLeaks && wait < 100 && runtime.NumGoroutine() > before; wait++ {
				time.Sleep(10 * time.Millisecond)
			}
			if n := runtime.NumGoroutine() - before; checkLeaks && n > 0 {
				var b bytes.Buffer
				pprof.Lookup("goroutine").WriteTo(&b, 2)
				o.leaked, o.leakDump = n, b.String()
			}
			return o
		case <-tick.C:
			sample()
		case <-deadline.C:
			var b bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&b, 2)
			return outcome{hung: true, elapsed: time.Since(start), peakHeap: peak, goro: b.String()}
		}
	}
}

// problems lists what is wrong with a finished scan, whatever the image: the report is the only channel an
// examiner has, so a volume not read says why, an image not read says so, and nothing panicked on the way.
func (o outcome) problems(limit time.Duration) []string {
	var p []string
	switch {
	case o.hung:
		return []string{fmt.Sprintf("no report after %v (hang or runaway loop); goroutines:\n%s", limit, trimStacks(o.goro))}
	case o.panicked != nil:
		return []string{fmt.Sprintf("panic escaped ScanImage: %v\n%s", o.panicked, o.stack)}
	case o.r == nil:
		return []string{"ScanImage returned a nil report"}
	}
	if o.leaked > 0 {
		p = append(p, fmt.Sprintf("%d goroutines still running after ScanImage returned:\n%s", o.leaked, trimStacks(o.leakDump)))
	}
	if o.peakHeap > heapBound {
		p = append(p, fmt.Sprintf("heap in use reached %d MiB (cap %d MiB)", o.peakHeap>>20, heapBound>>20))
	}
	r := o.r
	if len(r.Volumes) == 0 && len(r.Errors) == 0 {
		p = append(p, "no volume and no error: the report does not say why nothing was scanned")
	}
	scanned := 0
	for _, v := range r.Volumes {
		if v.Scanned {
			scanned++
		} else if strings.TrimSpace(v.Reason) == "" {
			p = append(p, fmt.Sprintf("volume %s not scanned and no reason given", v.Name))
		}
	}
	if scanned == 0 && report.Verdict(r) == "clean" {
		p = append(p, "no volume scanned, yet the verdict is clean")
	}
	for _, e := range r.Errors {
		if strings.TrimSpace(e.Error) == "" {
			p = append(p, fmt.Sprintf("empty error text (stage %q, volume %q, path %q)", e.Stage, e.Volume, e.Path))
		}
		// Contained panics are still panics on image content (the project's first rule): the scanner turns a
		// check's panic into "check panicked: …", fsread.NewFS and image.Volume.FS turn a reader's into ErrCorrupt
		// carrying the runtime error's text.
		if containedPanic(e.Error) {
			p = append(p, fmt.Sprintf("contained panic in %s %s %s: %s", e.Stage, e.Volume, e.Path, firstLines(e.Error, 30)))
		}
	}
	for _, v := range r.Volumes {
		if containedPanic(v.Reason) {
			p = append(p, fmt.Sprintf("contained panic opening volume %s: %s", v.Name, firstLines(v.Reason, 30)))
		}
	}
	return p
}

func containedPanic(s string) bool {
	return strings.Contains(s, "panic") || strings.Contains(s, "runtime error")
}

// visible says whether the report admits that something could not be read that could be read in the pristine
// image: an error or an unread volume base does not have.
// Image paths are replaced, so the same problem on the mutant (at another path) matches.
func visible(r, base *report.Report) bool {
	had := problemSet(base)
	for p := range problemSet(r) {
		if !had[p] {
			return true
		}
	}
	return false
}

func problemSet(r *report.Report) map[string]bool {
	s := map[string]bool{}
	norm := func(x string) string { return strings.ReplaceAll(x, r.Image, "IMAGE") }
	for _, e := range r.Errors {
		s[norm(e.Stage+"|"+e.Volume+"|"+e.Path+"|"+e.Error)] = true
	}
	for _, v := range r.Volumes {
		if !v.Scanned {
			s[norm("volume|"+v.Name+"|"+v.Reason)] = true
		}
	}
	return s
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

// trimStacks keeps the goroutines that are inside snapscan's code: the ones a hang is about.
func trimStacks(all string) string {
	var keep []string
	for _, g := range strings.Split(all, "\n\n") {
		if strings.Contains(g, "snapscan/fsread") || strings.Contains(g, "snapscan/scanner") {
			keep = append(keep, firstLines(g, 40))
		}
	}
	if len(keep) == 0 {
		return firstLines(all, 80)
	}
	return strings.Join(keep, "\n\n")
}

// announce writes a line to the test binary's stderr, not through t.Log: go test shows it only when the package
// fails, and it is on screen even when a panic in a scanner goroutine kills the binary before t.Log is flushed.
func announce(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
