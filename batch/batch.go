// Package batch scans many images in one run: it builds the image list
// (--from-file, directories), splits it into shards for parallel jobs
// (--shard I/N, a Kubernetes Indexed Job), runs scans a few at a time
// without letting one bad image stop the others, writes the at-risk and
// clean lists, and merges the JSONL output of the shards again.
package batch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/snapscan/snapscan/report"
)

// Shard returns the paths of shard i (0-based) of n.
//
// The list is sorted and deduplicated, then dealt round-robin: the k-th
// path goes to shard k mod n. Every path is in exactly one shard, shards
// differ in size by at most one, and the result does not depend on the
// order the paths were given in, so every pod of an Indexed Job computes
// the same split from the same list (same --from-file or directory) with
// no coordination. Adding images to the list can move others to another
// shard; a batch is one run over one list, so that costs nothing.
func Shard(paths []string, i, n int) []string {
	if n <= 0 || i < 0 || i >= n {
		return nil
	}
	all := slices.Clone(paths)
	slices.Sort(all)
	all = slices.Compact(all)
	var out []string
	for k := i; k < len(all); k += n {
		out = append(out, all[k])
	}
	return out
}

// ParseShard reads "I/N": I from 0 to N-1, as JOB_COMPLETION_INDEX counts.
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: want I/N with 0 <= I < N, e.g. 0/4 (I is the 0-based JOB_COMPLETION_INDEX)", s)
	}
	return i, n, nil
}

// ReadList reads an image list (--from-file): one path per line; blank
// lines and lines starting with # are ignored, surrounding spaces trimmed.
func ReadList(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []string
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsRune(line, 0) {
			return out, fmt.Errorf("line %d: NUL byte in a path", n)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("image list: %w", err)
	}
	return out, nil
}

// ExpandDirs replaces each directory among args with the regular files
// directly in it (following symbolic links to files), sorted; other
// arguments are kept as given, missing ones included, so that the scan
// reports them as not scanned instead of the batch dropping them silently.
// Files that are not images are not guessed at: the scanner says so.
//
// empty lists the directories that held no regular file: the caller must
// not treat "nothing found to scan" as a clean scan.
func ExpandDirs(args []string) (out, empty []string, err error) {
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			out = append(out, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return out, empty, fmt.Errorf("image directory %s: %w", a, err)
		}
		var files []string
		for _, e := range ents {
			p := filepath.Join(a, e.Name())
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				files = append(files, p)
			}
		}
		slices.Sort(files)
		if len(files) == 0 {
			empty = append(empty, a)
		}
		out = append(out, files...)
	}
	return out, empty, nil
}

// Run scans paths, parallel at a time (at least 1), and calls emit with
// each report as it finishes; emit calls never overlap. scan must return a
// report; a nil report or a panic becomes a report of an image that could
// not be scanned, and the batch goes on. When ctx ends, images not yet
// started are emitted as not scanned ("cancelled") so that the summary
// still accounts for every path.
func Run(ctx context.Context, paths []string, parallel int, scan func(context.Context, string) *report.Report, emit func(*report.Report)) {
	if parallel < 1 {
		parallel = 1
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		jobs = make(chan string)
	)
	out := func(r *report.Report) {
		mu.Lock()
		defer mu.Unlock()
		emit(r)
	}
	for range min(parallel, max(len(paths), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				out(scanOne(ctx, p, scan))
			}
		}()
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			out(cancelled(ctx, p))
			continue
		}
		select {
		case jobs <- p:
		case <-ctx.Done():
			out(cancelled(ctx, p))
		}
	}
	close(jobs)
	wg.Wait()
}

func scanOne(ctx context.Context, p string, scan func(context.Context, string) *report.Report) (r *report.Report) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			r = notScanned(p, fmt.Sprintf("scan panicked: %v\n%s", v, debug.Stack()))
			r.Started, r.Duration = start.UTC(), time.Since(start).Seconds()
		}
	}()
	r = scan(ctx, p)
	if r == nil {
		r = notScanned(p, "the scan returned no report")
		r.Started, r.Duration = start.UTC(), time.Since(start).Seconds()
	}
	return r
}

// cancelled is the report of an image the batch never started because the
// run was interrupted.
func cancelled(ctx context.Context, p string) *report.Report {
	r := &report.Report{Schema: report.SchemaVersion, Tool: "snapscan", Image: p, Started: time.Now().UTC(), Interrupted: true,
		Errors: []report.ScanError{{Stage: report.StageInterrupted, Error: "cancelled before the scan started: " + context.Cause(ctx).Error()}}}
	report.Finalize(r)
	return r
}

// NotScanned is the report of something asked for that could not be
// scanned at all (an empty directory or list): every format can render it,
// and it counts as not scanned.
func NotScanned(p, why string) *report.Report { return notScanned(p, why) }

// notScanned is the report of an image the batch could not scan. The
// "open" stage makes report.Incomplete (and so Status) say not scanned.
func notScanned(p, why string) *report.Report {
	r := &report.Report{Schema: report.SchemaVersion, Tool: "snapscan", Image: p, Started: time.Now().UTC(),
		Errors: []report.ScanError{{Stage: "open", Error: why}}}
	report.Finalize(r)
	return r
}

// WriteLists writes the image path of every at-risk report (findings at or
// above min remain) to atRisk and of every clean one to clean, one per
// line, sorted. An image that could not be scanned goes on neither list:
// it is neither known bad nor known good (WriteSummary lists it). Either
// writer may be nil.
func WriteLists(reports []*report.Report, min report.Severity, atRisk, clean io.Writer) error {
	var risky, ok []string
	for _, r := range reports {
		switch st, _ := report.Status(r, min); st {
		case report.StatusAtRisk:
			risky = append(risky, r.Image)
		case report.StatusClean:
			ok = append(ok, r.Image)
		}
	}
	for _, l := range []struct {
		w     io.Writer
		names []string
	}{{atRisk, risky}, {clean, ok}} {
		if l.w == nil {
			continue
		}
		slices.Sort(l.names)
		for _, n := range slices.Compact(l.names) {
			if _, err := fmt.Fprintln(l.w, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Merge reads JSONL (or JSON) report files, as the shards of a batch wrote
// them, into one list sorted by image. Each reader's errors name its
// position; MergeFiles names the files.
func Merge(readers ...io.Reader) ([]*report.Report, error) {
	var all []*report.Report
	for i, rd := range readers {
		rs, err := report.ReadReports(rd)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i+1, err)
		}
		all = append(all, rs...)
	}
	report.SortBatch(all)
	return all, nil
}

// MergeFiles is Merge over files, with errors naming the file.
func MergeFiles(paths ...string) ([]*report.Report, error) {
	var all []*report.Report
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		rs, err := report.ReadReports(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all = append(all, rs...)
	}
	report.SortBatch(all)
	return all, nil
}
