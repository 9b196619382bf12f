package mutation

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// Mutants: every bundled image with a few bytes of its metadata changed, scanned with every check and the full
// content sweep. Knobs:
//
//	SNAPSCAN_MUTANTS=N        how many mutants (default 300, 150 with -short); seeds 1..N
//	SNAPSCAN_MUTANT_SEED=K    run only mutant K (to replay a failure; logs its report)
//	SNAPSCAN_MUTANT_LIMIT=D   time limit per scan (default 30s)
const (
	defaultMutants = 300
	shortMutants   = 150
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

	dir := t.TempDir()
	type tally struct{ mutants, visible, silentChange int }
	stats := map[string]*tally{}
	var slowest time.Duration
	var slowSeed int
	var peak uint64
	for seed := first; seed <= last; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
		pk := pairs[rng.IntN(len(pairs))]
		im, kind := pk.im, pk.kind
		rs := im.regions[kind]
		reg := rs[rng.IntN(len(rs))]
		data, edits := mutate(rng, im.data, reg)
		// Under the pristine name, so volume names ("linux-infected.img@2") compare with the pristine report's.
		path := filepath.Join(dir, strconv.Itoa(seed), im.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o444); err != nil {
			t.Fatal(err)
		}
		desc := fmt.Sprintf("seed=%d image=%s region=%s edits=%s", seed, im.name, reg, strings.Join(edits, ","))
		announce("mutation: %s", desc)

		o := scanBounded(path, limit, true, t)
		if probs := o.problems(limit); len(probs) > 0 {
			t.Errorf("mutant %s (replay: SNAPSCAN_MUTANT_SEED=%d):\n%s", desc, seed, strings.Join(probs, "\n"))
			if o.hung {
				t.FailNow() // the hung scan keeps its goroutines: later timings would mean nothing
			}
		}
		os.RemoveAll(filepath.Dir(path))
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
		if o.elapsed > slowest {
			slowest, slowSeed = o.elapsed, seed
		}
		peak = max(peak, o.peakHeap)
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
	t.Logf("mutants %d..%d; slowest scan %v (seed %d); peak heap %d MiB\n%s", first, last, slowest, slowSeed, peak>>20, b.String())
}

// Values that break size and count arithmetic: zero, one, sign boundaries, all ones.
var (
	interesting16 = []uint64{0, 1, 0x7f, 0xff, 0x7fff, 0x8000, 0xffff}
	interesting32 = []uint64{0, 1, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}
	interesting64 = []uint64{0, 1, 1 << 31, 1 << 32, 1 << 40, 1 << 62, 1<<63 - 1, 1 << 63, 1<<64 - 1}
)

// mutate returns a copy of src with 1–6 edits inside reg, each of which changes at least one byte, and a short
// description of each ("u32@123=0xffffffff").
func mutate(rng *rand.Rand, src []byte, reg region) ([]byte, []string) {
	out := append([]byte(nil), src...)
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
	return out, edits
}
