package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snapscan/snapscan/batch"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
	"github.com/snapscan/snapscan/scanner/linux"
	"github.com/snapscan/snapscan/scanner/windows"
)

func scanFunc() func(context.Context, string) *report.Report {
	opts := scanner.Options{Checks: append(linux.Checks(), windows.Checks()...), Workers: 4, Version: "test"}
	return func(ctx context.Context, p string) *report.Report {
		r := scanner.ScanImage(ctx, p, opts)
		report.Finalize(r)
		return r
	}
}

// TestBatchOverImages scans real images with a corrupt one and a missing
// one in the middle: those two are "not scanned" with a reason, the others
// are scanned all the same, and the lists and summary say so.
func TestBatchOverImages(t *testing.T) {
	infected := testimg.Path(t, "linux-infected.img")
	clean := testimg.Path(t, "linux-clean.img")
	bare := testimg.Path(t, "ext4-bare.img")
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.img")
	junk := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(rng.IntN(256))
	}
	if err := os.WriteFile(corrupt, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.img")
	// The first 2 MiB of an 8 MiB ext4 image: read as far as it goes, but
	// never "clean" (issue 17: a truncated copy was on the clean list).
	whole, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.img")
	if err := os.WriteFile(truncated, whole[:2<<20], 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []string{infected, corrupt, missing, clean, bare, truncated}

	var reports []*report.Report
	start := time.Now()
	batch.Run(context.Background(), paths, 2, scanFunc(), func(r *report.Report) { reports = append(reports, r) })
	t.Logf("6 images, 2 at a time: %v", time.Since(start))
	report.SortBatch(reports)

	want := map[string]report.BatchStatus{
		infected: report.StatusAtRisk, clean: report.StatusClean, bare: report.StatusClean,
		corrupt: report.StatusNotScanned, missing: report.StatusNotScanned, truncated: report.StatusIncomplete,
	}
	if len(reports) != len(paths) {
		t.Fatalf("%d reports for %d images", len(reports), len(paths))
	}
	for _, r := range reports {
		st, why := report.Status(r, report.Medium)
		if st != want[r.Image] {
			t.Errorf("%s: %s (%s), want %s", filepath.Base(r.Image), st, why, want[r.Image])
		}
		if st == report.StatusNotScanned && why == "" {
			t.Errorf("%s: not scanned without a reason", r.Image)
		}
	}

	var risky, ok bytes.Buffer
	if err := batch.WriteLists(reports, report.Medium, &risky, &ok); err != nil {
		t.Fatal(err)
	}
	if risky.String() != infected+"\n" {
		t.Errorf("at-risk list %q", risky.String())
	}
	wantClean := []string{clean, bare}
	slices.Sort(wantClean)
	if ok.String() != strings.Join(wantClean, "\n")+"\n" {
		t.Errorf("clean list %q", ok.String())
	}
	for _, l := range []string{risky.String(), ok.String()} {
		if strings.Contains(l, corrupt) || strings.Contains(l, missing) || strings.Contains(l, truncated) {
			t.Errorf("an image that was not scanned is on a list: %q", l)
		}
	}

	var sum bytes.Buffer
	if err := report.WriteSummary(&sum, reports, report.Medium); err != nil {
		t.Fatal(err)
	}
	s := sum.String()
	t.Logf("summary:\n%s", s)
	for _, part := range []string{"6 images: 1 at risk, 2 clean, 1 incomplete, 2 not scanned", "Not scanned (on neither", "Incomplete (on neither",
		filepath.Base(truncated) + ": volume truncated.img is truncated: its ext4 filesystem claims 8.0 MiB",
		filepath.Base(corrupt) + ": none of the", filepath.Base(missing) + ": the image could not be opened"} {
		if !strings.Contains(s, part) {
			t.Errorf("summary lacks %q", part)
		}
	}
	// The infected image's top finding is its most severe one.
	var inf *report.Report
	for _, r := range reports {
		if r.Image == infected {
			inf = r
		}
	}
	if max, _ := inf.Max(); !strings.Contains(s, max.String()+" "+inf.Findings[0].Rule) {
		t.Errorf("summary does not show the top finding %s %s", max, inf.Findings[0].Rule)
	}

	// The shards' JSONL merge back into the same reports, byte for byte.
	var shards []*bytes.Buffer
	for i := range 2 {
		part := batch.Shard(paths, i, 2)
		var b bytes.Buffer
		for _, r := range reports {
			if slices.Contains(part, r.Image) {
				if err := report.WriteJSONL(&b, r); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := strings.Count(b.String(), "\n"); n != len(part) {
			t.Errorf("shard %d: %d lines for %d images", i, n, len(part))
		}
		shards = append(shards, &b)
	}
	merged, err := batch.Merge(shards[0], shards[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(merged) != len(reports) {
		t.Fatalf("merged %d reports, want %d", len(merged), len(reports))
	}
	for i := range merged {
		var a, b bytes.Buffer
		report.WriteJSON(&a, reports[i])
		report.WriteJSON(&b, merged[i])
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: JSONL round trip changed the report", reports[i].Image)
		}
	}
}

func TestRunNeverStops(t *testing.T) {
	paths := make([]string, 40)
	for i := range paths {
		paths[i] = fmt.Sprintf("img-%02d", i)
	}
	var inFlight, peak atomic.Int32
	scan := func(_ context.Context, p string) *report.Report {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		switch p {
		case "img-03":
			panic("hostile image")
		case "img-07":
			return nil
		}
		return &report.Report{Image: p, Volumes: []report.Volume{{Name: p, Scanned: true}}}
	}
	var mu sync.Mutex
	emitting := false
	seen := map[string]int{}
	batch.Run(context.Background(), paths, 3, scan, func(r *report.Report) {
		if emitting {
			t.Error("emit calls overlap")
		}
		emitting = true
		mu.Lock()
		seen[r.Image]++
		mu.Unlock()
		emitting = false
	})
	if len(seen) != len(paths) {
		t.Errorf("%d images emitted, want %d", len(seen), len(paths))
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s emitted %d times", p, n)
		}
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("%d scans at once with parallel 3", p)
	}

	// Panics and nil reports are "not scanned", with the reason.
	var got []*report.Report
	batch.Run(context.Background(), []string{"img-03", "img-07", "img-01"}, 2, scan, func(r *report.Report) { got = append(got, r) })
	report.SortBatch(got)
	for i, want := range []report.BatchStatus{report.StatusClean, report.StatusNotScanned, report.StatusNotScanned} {
		st, why := report.Status(got[i], report.Medium)
		if st != want {
			t.Errorf("%s: %s (%s), want %s", got[i].Image, st, why, want)
		}
	}
	if !strings.Contains(got[1].Errors[0].Error, "panicked: hostile image") || !strings.Contains(got[2].Errors[0].Error, "no report") {
		t.Errorf("reasons: %q / %q", got[1].Errors[0].Error, got[2].Errors[0].Error)
	}

	// A cancelled batch still accounts for every image.
	ctx, cancel := context.WithCancel(context.Background())
	count := 0
	batch.Run(ctx, paths, 2, func(ctx context.Context, p string) *report.Report {
		cancel()
		return scan(ctx, p)
	}, func(r *report.Report) { count++ })
	if count != len(paths) {
		t.Errorf("cancelled batch emitted %d of %d", count, len(paths))
	}
}

func TestShard(t *testing.T) {
	paths := make([]string, 1001)
	for i := range paths {
		paths[i] = fmt.Sprintf("/images/%x.img", i*7919)
	}
	shuffled := slices.Clone(paths)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	withDup := append(slices.Clone(shuffled), paths[10], paths[500])
	for _, n := range []int{1, 2, 3, 7, 16, 2000} {
		owner := map[string]int{}
		minSize, maxSize := len(paths), 0
		for i := range n {
			s := batch.Shard(paths, i, n)
			if !slices.Equal(s, batch.Shard(shuffled, i, n)) || !slices.Equal(s, batch.Shard(withDup, i, n)) {
				t.Errorf("n=%d shard %d depends on input order or duplicates", n, i)
			}
			for _, p := range s {
				if prev, ok := owner[p]; ok {
					t.Errorf("n=%d: %s in shards %d and %d", n, p, prev, i)
				}
				owner[p] = i
			}
			minSize, maxSize = min(minSize, len(s)), max(maxSize, len(s))
		}
		if len(owner) != len(paths) {
			t.Errorf("n=%d: %d of %d paths in some shard", n, len(owner), len(paths))
		}
		if maxSize-minSize > 1 {
			t.Errorf("n=%d: shard sizes %d..%d", n, minSize, maxSize)
		}
	}
	for _, bad := range [][2]int{{-1, 2}, {2, 2}, {0, 0}} {
		if s := batch.Shard(paths, bad[0], bad[1]); s != nil {
			t.Errorf("Shard(%d/%d) = %d paths, want none", bad[0], bad[1], len(s))
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i, n int
		ok   bool
	}{
		{"0/4", 0, 4, true}, {"3/4", 3, 4, true}, {" 0/1 ", 0, 1, true},
		{"4/4", 0, 0, false}, {"-1/4", 0, 0, false}, {"1/0", 0, 0, false}, {"1", 0, 0, false},
		{"a/b", 0, 0, false}, {"$(JOB_COMPLETION_INDEX)/4", 0, 0, false}, {"", 0, 0, false},
	} {
		i, n, err := batch.ParseShard(tc.in)
		if (err == nil) != tc.ok || i != tc.i || n != tc.n {
			t.Errorf("ParseShard(%q) = %d, %d, %v", tc.in, i, n, err)
		}
	}
}

func TestReadList(t *testing.T) {
	got, err := batch.ReadList(strings.NewReader("# images of web tier\n/a.img\n\n   /b b.img  \n#/c.img\n\t\n/d.img"))
	if err != nil || !slices.Equal(got, []string{"/a.img", "/b b.img", "/d.img"}) {
		t.Errorf("%q %v", got, err)
	}
	if _, err := batch.ReadList(strings.NewReader("/a\n/b\x00c\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("NUL: %v", err)
	}
}

func TestExpandDirs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.img", "a.qcow2", ".hidden"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "sub", "deep.img"), []byte("x"), 0o600)
	os.Symlink(filepath.Join(dir, "b.img"), filepath.Join(dir, "link.img"))
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling.img"))
	other := filepath.Join(t.TempDir(), "missing.img")
	emptyDir := t.TempDir()
	os.Mkdir(filepath.Join(emptyDir, "only-a-subdir"), 0o700)
	got, empty, err := batch.ExpandDirs([]string{other, dir, emptyDir})
	want := []string{other, filepath.Join(dir, ".hidden"), filepath.Join(dir, "a.qcow2"), filepath.Join(dir, "b.img"), filepath.Join(dir, "link.img")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q %v\nwant %q", got, err, want)
	}
	// A directory with nothing to scan is named, never silently dropped.
	if !slices.Equal(empty, []string{emptyDir}) {
		t.Errorf("empty dirs %q, want %q", empty, emptyDir)
	}
}

func TestMergeErrors(t *testing.T) {
	good := `{"schema":"1.0","image":"a"}` + "\n"
	if _, err := batch.Merge(strings.NewReader(good), strings.NewReader(good+"{oops\n")); err == nil ||
		!strings.Contains(err.Error(), "input 2: record 2") {
		t.Errorf("error %v, want input 2: record 2", err)
	}
	p := filepath.Join(t.TempDir(), "shard-1.jsonl")
	os.WriteFile(p, []byte(`{"version":"2.1.0","runs":[]}`), 0o600)
	if _, err := batch.MergeFiles(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "not a snapscan") {
		t.Errorf("sarif merge: %v", err)
	}
}
