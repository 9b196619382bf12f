package mutation

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// Mutants: every bundled image with a few bytes of its metadata changed, scanned with every check and the full
// content sweep. Knobs:
//
//	SNAPSCAN_MUTANTS=N        how many mutants (default 1000, 300 with -short); seeds 1..N
//	SNAPSCAN_MUTANT_WORKERS=W scans run side by side (default GOMAXPROCS; 1 when replaying one seed)
//	SNAPSCAN_MUTANT_SEED=K    run only mutant K (to replay a failure; logs its report)
//	SNAPSCAN_MUTANT_LIMIT=D   time limit per scan (default 30s)
const (
	defaultMutants = 1000
	shortMutants   = 300
)

type pristine struct {
	name    string
	data    []byte
	kinds   []string
	regions map[string][]region
	base    *report.Report
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a number", name, v)
	}
	return n
}

func TestMutatedImages(t *testing.T) {
	n := envInt(t, "SNAPSCAN_MUTANTS", defaultMutants)
	if testing.Short() && os.Getenv("SNAPSCAN_MUTANTS") == "" {
		n = shortMutants
	}
	first, last := 1, n
	if k := envInt(t, "SNAPSCAN_MUTANT_SEED", 0); k > 0 {
		first, last = k, k
	}
	limit := 30 * time.Second
	if v := os.Getenv("SNAPSCAN_MUTANT_LIMIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SNAPSCAN_MUTANT_LIMIT: %v", err)
		}
		limit = d
	}

	// A seed picks an (image, structure) pair: each structure of each image is equally likely, so the one
	// superblock gets as many mutants as the hundreds of inodes, and the refused containers few.
	type pick struct {
		im   *pristine
		kind string
	}
	var imgs []*pristine
	var pairs []pick
	for _, name := range testimg.Names(t) {
		p := testimg.Path(t, name)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		kinds, regions := byKind(layout(t, p, data))
		if len(kinds) == 0 {
			t.Fatalf("%s: no metadata region found to mutate", name)
		}
		// The pristine scan is the yardstick for "something changed" and must itself be sound.
		o := scanBounded(p, limit, true, t)
		if probs := o.problems(limit); len(probs) > 0 {
			t.Fatalf("pristine %s: %s", name, strings.Join(probs, "\n"))
		}
		im := &pristine{name, data, kinds, regions, o.r}
		imgs = append(imgs, im)
		for _, k := range kinds {
			pairs = append(pairs, pick{im, k})
		}
		t.Logf("pristine %s: %v, peak heap %d MiB, %d files swept, %d findings", name, o.elapsed.Round(time.Millisecond),
			o.peakHeap>>20, o.r.Stats.FilesSwept, len(o.r.Findings))
	}

	// Workers scan mutants in parallel. Each keeps one copy of every image on disk and a buffer equal to it:
	// a mutant is its edited region written over the copy, scanned, and written back (the scanner's API
	// takes a path, so the file is what is shared; no image is copied per mutant).
	workers := envInt(t, "SNAPSCAN_MUTANT_WORKERS", runtime.GOMAXPROCS(0))
	if workers < 1 || first == last {
		workers = 1
	}
	heapBound = heapCap * uint64(workers)
	defer func() { heapBound = heapCap }()
	dir := t.TempDir()
	results := make([]mutantResult, last-first+1)
	var next atomic.Int64
	next.Store(int64(first))
	var hung atomic.Bool
	goroutinesBefore := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copies := map[*pristine]*workCopy{}
			defer func() {
				for _, wc := range copies {
					wc.f.Close()
				}
			}()
			for !hung.Load() {
				seed := int(next.Add(1) - 1)
				if seed > last {
					return
				}
				rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
				pk := pairs[rng.IntN(len(pairs))]
				im, kind := pk.im, pk.kind
				rs := im.regions[kind]
				reg := rs[rng.IntN(len(rs))]
				wc := copies[im]
				if wc == nil {
					var err error
					// Under the pristine name, so volume names ("linux-infected.img@2") compare with the
					// pristine report's.
					if wc, err = newWorkCopy(filepath.Join(dir, strconv.Itoa(w), im.name), im.data); err != nil {
						t.Error(err)
						return
					}
					copies[im] = wc
				}
				edits := mutateInto(rng, im.data, wc.buf, reg)
				res := &results[seed-first]
				res.im, res.kind = im, kind
				res.desc = fmt.Sprintf("seed=%d image=%s region=%s edits=%s", seed, im.name, reg, strings.Join(edits, ","))
				announce("mutation: %s", res.desc)
				if err := wc.apply(reg); err != nil {
					t.Error(err)
					return
				}
				o := scanBoundedLeaks(wc.path, limit, true, workers == 1, t)
				if err := wc.revert(im.data, reg); err != nil {
					t.Error(err)
					return
				}
				res.done, res.o = true, o
				res.probs = o.problems(limit)
				if o.hung {
					hung.Store(true) // the hung scan keeps its goroutines: later timings would mean nothing
				}
				if o.r != nil {
					res.class = classify(o.r, im.base)
					if res.class != classScanned && report.Verdict(o.r) == "clean" {
						res.probs = append(res.probs, classNames[res.class]+", yet the verdict is clean")
					}
				}
			}
		}()
	}
	wg.Wait()

	type tally struct{ mutants, visible, silentChange int }
	stats := map[string]*tally{}
	perImage := map[string]*[numClasses]int{}
	var slowest time.Duration
	var slowSeed, ran int
	var peak uint64
	for i, res := range results {
		seed := first + i
		if !res.done {
			continue
		}
		ran++
		o, im, kind := res.o, res.im, res.kind
		if len(res.probs) > 0 {
			t.Errorf("mutant %s (replay: SNAPSCAN_MUTANT_SEED=%d):\n%s", res.desc, seed, strings.Join(res.probs, "\n"))
		}
		if o.r == nil {
			continue
		}
		if first == last {
			for _, v := range o.r.Volumes {
				t.Logf("volume %s scanned=%v reason=%q", v.Name, v.Scanned, v.Reason)
			}
			for _, e := range o.r.Errors {
				t.Logf("error: %s %s %s: %s", e.Stage, e.Volume, e.Path, e.Error)
			}
			t.Logf("files swept %d (pristine %d), findings %d (pristine %d), %v, peak heap %d MiB",
				o.r.Stats.FilesSwept, im.base.Stats.FilesSwept, len(o.r.Findings), len(im.base.Findings), o.elapsed, o.peakHeap>>20)
		}
		st := stats[kind]
		if st == nil {
			st = &tally{}
			stats[kind] = st
		}
		st.mutants++
		changed := o.r.Stats.FilesSwept != im.base.Stats.FilesSwept || len(o.r.Findings) != len(im.base.Findings) ||
			len(o.r.Inventory) != len(im.base.Inventory)
		switch {
		case visible(o.r, im.base):
			st.visible++
		case changed:
			st.silentChange++
		}
		pc := perImage[im.name]
		if pc == nil {
			pc = &[numClasses]int{}
			perImage[im.name] = pc
		}
		pc[res.class]++
		if o.elapsed > slowest {
			slowest, slowSeed = o.elapsed, seed
		}
		peak = max(peak, o.peakHeap)
	}
	if hung.Load() {
		t.Fatalf("a scan hung (see the mutant above); %d of %d mutants ran", ran, len(results))
	}
	// Per-scan goroutine counts mean nothing while scans run side by side; once all are done, nothing may be
	// left running.
	if workers > 1 {
		for wait := 0; wait < 200 && runtime.NumGoroutine() > goroutinesBefore; wait++ {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine() - goroutinesBefore; n > 0 {
			var b bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&b, 2)
			t.Errorf("%d goroutines still running after every scan returned (replay with SNAPSCAN_MUTANT_WORKERS=1 to "+
				"find the mutant):\n%s", n, trimStacks(b.String()))
		}
	}
	// What the corruption did, per structure: "reported" mutants made the report list an error or an unread
	// volume; "silent" ones changed what was found (files swept, findings, inventory) without any error — the
	// readers do not verify metadata_csum or NTFS update sequences, so a changed name or size reads as valid.
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %7s %9s %7s\n", "region", "mutants", "reported", "silent")
	for _, k := range slices.Sorted(maps.Keys(stats)) {
		s := stats[k]
		fmt.Fprintf(&b, "%-20s %7d %9d %7d\n", k, s.mutants, s.visible, s.silentChange)
	}
	// And per image, what the report said: every volume scanned with no error the pristine scan lacks, a new
	// error reported, or a volume (or the whole image) not scanned, with its reason. Only the first may be
	// clean.
	fmt.Fprintf(&b, "\n%-22s %7s %8s %15s %12s\n", "image", "mutants", "scanned", "error reported", "not scanned")
	for _, name := range slices.Sorted(maps.Keys(perImage)) {
		c := perImage[name]
		fmt.Fprintf(&b, "%-22s %7d %8d %15d %12d\n", name, c[0]+c[1]+c[2], c[classScanned], c[classError], c[classNotScanned])
	}
	t.Logf("mutants %d..%d (%d run, %d workers); slowest scan %v (seed %d); peak heap %d MiB\n%s",
		first, last, ran, workers, slowest, slowSeed, peak>>20, b.String())
}

// mutantResult is one mutant's scan, kept until all are done so the summary is in seed order.
type mutantResult struct {
	done  bool
	im    *pristine
	kind  string
	desc  string
	o     outcome
	probs []string
	class int
}

// What a mutant's report says, against its pristine image's.
const (
	classScanned    = iota // every volume the pristine scan read was read, and no new error
	classError             // a new error is reported
	classNotScanned        // a volume (or the whole image) was not scanned, with the reason
	numClasses
)

var classNames = [numClasses]string{"scanned", "error reported", "not scanned"}

func classify(r, base *report.Report) int {
	was := map[string]bool{}
	for _, v := range base.Volumes {
		if v.Scanned {
			was[v.Name] = true
		}
	}
	n := 0
	for _, v := range r.Volumes {
		if v.Scanned {
			n++
		} else if was[v.Name] {
			return classNotScanned
		}
	}
	if n == 0 && len(was) > 0 {
		return classNotScanned
	}
	if visible(r, base) {
		return classError
	}
	return classScanned
}

// workCopy is one worker's copy of an image: the file the scanner opens and a buffer equal to it.
type workCopy struct {
	path string
	f    *os.File
	buf  []byte
}

func newWorkCopy(path string, data []byte) (*workCopy, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return &workCopy{path: path, f: f, buf: bytes.Clone(data)}, nil
}

// apply writes the mutated region of buf to the file; revert restores both from src.
func (w *workCopy) apply(reg region) error {
	_, err := w.f.WriteAt(w.buf[reg.off:reg.off+reg.len], reg.off)
	return err
}

func (w *workCopy) revert(src []byte, reg region) error {
	copy(w.buf[reg.off:reg.off+reg.len], src[reg.off:reg.off+reg.len])
	_, err := w.f.WriteAt(w.buf[reg.off:reg.off+reg.len], reg.off)
	return err
}

// Values that break size and count arithmetic: zero, one, sign boundaries, all ones.
var (
	interesting16 = []uint64{0, 1, 0x7f, 0xff, 0x7fff, 0x8000, 0xffff}
	interesting32 = []uint64{0, 1, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}
	interesting64 = []uint64{0, 1, 1 << 31, 1 << 32, 1 << 40, 1 << 62, 1<<63 - 1, 1 << 63, 1<<64 - 1}
)

// mutateInto makes 1–6 edits inside reg of out, which holds src's bytes, each of which changes at least one
// byte, and returns a short description of each ("u32@123=0xffffffff").
func mutateInto(rng *rand.Rand, src, out []byte, reg region) []string {
	var edits []string
	for want := 1 + rng.IntN(6); len(edits) < want; {
		at := func(align int64) int64 {
			n := max(reg.len/align, 1)
			return reg.off + rng.Int64N(n)*align
		}
		var off int64
		var desc string
		switch op := rng.IntN(7); op {
		case 0:
			off = at(1)
			out[off] = byte(rng.UintN(256))
			desc = fmt.Sprintf("b@%d=%#x", off, out[off])
		case 1:
			off = at(1)
			bit := rng.UintN(8)
			out[off] ^= 1 << bit
			desc = fmt.Sprintf("bit%d@%d", bit, off)
		case 2, 3, 4:
			size := []int64{2, 4, 8}[op-2]
			vals := [][]uint64{interesting16, interesting32, interesting64}[op-2]
			off = at(size)
			if off+size > int64(len(out)) {
				continue
			}
			v := vals[rng.IntN(len(vals))]
			switch size {
			case 2:
				le.PutUint16(out[off:], uint16(v))
			case 4:
				le.PutUint32(out[off:], uint32(v))
			case 8:
				le.PutUint64(out[off:], v)
			}
			desc = fmt.Sprintf("u%d@%d=%#x", size*8, off, v)
		case 5:
			off = at(1)
			n := min(16+rng.Int64N(48), reg.off+reg.len-off)
			clear(out[off : off+n])
			desc = fmt.Sprintf("zero@%d+%d", off, n)
		case 6:
			off = at(1)
			from := at(1)
			n := min(16, reg.off+reg.len-off, reg.off+reg.len-from)
			copy(out[off:off+n], src[from:from+n])
			desc = fmt.Sprintf("copy@%d<-%d+%d", off, from, n)
		}
		if string(out[reg.off:reg.off+reg.len]) == string(src[reg.off:reg.off+reg.len]) && len(edits)+1 == want {
			continue // every mutant must differ from its pristine image
		}
		edits = append(edits, desc)
	}
	return edits
}
