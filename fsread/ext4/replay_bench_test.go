package ext4

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

var (
	fullOnce sync.Once
	fullImg  string
)

// fullJournal is make-dirty-ext4.sh d-full: a 128 MiB journal holding 32
// committed transactions that copy 32,569 distinct blocks (built once).
func fullJournal(b *testing.B) string {
	fullOnce.Do(func() {
		img := filepath.Join(imgDir, "full.img")
		cmdOut, err := runScript(b, img, "d-full")
		if err != nil {
			b.Fatalf("make-dirty-ext4.sh d-full: %v\n%s", err, cmdOut)
		}
		fullImg = img
	})
	if fullImg == "" {
		b.Skip("no full-journal image")
	}
	return fullImg
}

// BenchmarkReplay128MiB opens the full-journal image: the scan reads all
// 32,760 log blocks once and builds the overlay (locations only). B/op is
// the memory a replay allocates; the overlay itself is 24 bytes a block.
func BenchmarkReplay128MiB(b *testing.B) {
	needTools(b, "mke2fs", "debugfs")
	img := fullJournal(b)
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	// Warm the page cache: the benchmark measures the replay, not the disk.
	if _, err := io.Copy(io.Discard, io.NewSectionReader(f, 0, st.Size())); err != nil {
		b.Fatal(err)
	}
	// What an opened volume keeps (overlay, caches' bookkeeping), measured once.
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	kept, err := NewOpts(f, st.Size(), "full", fsread.OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	retained := float64(ms1.HeapAlloc-ms0.HeapAlloc) / (1 << 20)
	runtime.KeepAlive(kept)
	b.ReportAllocs()
	var rec fsread.Recovery
	for b.Loop() {
		fsys, err := NewOpts(f, st.Size(), "full", fsread.OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rec = fsread.RecoveryOf(fsys)
	}
	if rec.State != fsread.RecoveryReplayed || rec.Transactions != 32 || rec.Blocks != 31*1024+825 {
		b.Fatalf("recovery %+v", rec)
	}
	b.ReportMetric(float64(rec.Blocks), "blocks")
	b.ReportMetric(128*float64(b.N)/b.Elapsed().Seconds(), "journal-MiB/s")
	b.ReportMetric(retained, "retained-MiB")
}

// BenchmarkBlockRead is the per-block cost every reader pays: "disk" is
// the pre-replay read (readRaw, what readFull was), "clean" the readFull
// of a volume without a journal to replay (one nil check more), and the
// overlay cases a volume with the full journal's 32,569-entry overlay, for
// a block it does not hold and one it does. The image reads as zeros from
// no storage, so the lookup is not hidden behind I/O or copying.
func BenchmarkBlockRead(b *testing.B) {
	const bs = 4096
	ents := make([]ovEntry, 0, 31*1024+825)
	for i := range cap(ents) {
		ents = append(ents, ovEntry{blk: uint64(100000 + i), off: int64(i) * bs})
	}
	clean := &volume{r: zeroReader{}, size: 1 << 30, bs: bs}
	over := &volume{r: zeroReader{}, size: 1 << 30, bs: bs, ov: &overlay{bs: bs, ents: ents}}
	p := make([]byte, bs)
	const miss, hit = 5000, 100000 + 20000
	for _, c := range []struct {
		name string
		read func(i int) error
	}{
		{"disk", func(i int) error { return clean.readRaw(p, int64(miss+i%1024)*bs) }},
		{"clean", func(i int) error { return clean.readFull(p, int64(miss+i%1024)*bs) }},
		{"overlay-miss", func(i int) error { return over.readFull(p, int64(miss+i%1024)*bs) }},
		{"overlay-hit", func(i int) error { return over.readFull(p, int64(hit+i%1024)*bs) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(bs)
			i := 0
			for b.Loop() {
				if err := c.read(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}
