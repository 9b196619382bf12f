package container

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

func TestQCOW2Built(t *testing.T) {
	file, disk := buildQCOW2()
	d, err := openAndRead(t, bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, d.Size)
	if _, err := d.ReaderAt.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	// Cluster 2 is flagged all-zero though its host cluster has bytes.
	if i := firstDiff(got, disk); i >= 0 {
		t.Fatalf("first difference at %d", i)
	}
}

func TestQCOW2Corrupt(t *testing.T) {
	file, _ := buildQCOW2()
	put := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { be.PutUint64(b[off:], v); return b }
	}
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { be.PutUint32(b[off:], v); return b }
	}
	checkCorruptions(t, file, []corruption{
		{"truncated header", func(b []byte) []byte { return b[:100] }, "outside the file", ""},
		{"truncated data cluster", func(b []byte) []byte { return b[:3*512+100] }, "ends before", ""},
		{"L1 past EOF", put(40, 1<<40), "L1 table", ""},
		{"L1 size 2^32-1", put32(36, 0xffffffff), "L1 table", ""},
		{"L1 too small for size", put(24, 1<<50), "needs", ""},
		{"cluster bits 63", put32(20, 63), "cluster bits", ""},
		{"L2 table past EOF", put(512, 1<<63|1<<40), "EOF", ""},
		{"data cluster past EOF", put(1024, 1<<63|1<<40), "ends before", ""},
		{"compressed cluster past EOF", put(1032, 1<<62|1<<40), "compressed", ""},
		{"encrypted", put32(32, 1), "not supported", ""},
		{"unknown incompatible feature", put(72, 1<<40), "not supported", ""},
		{"backing name past EOF", func(b []byte) []byte { be.PutUint64(b[8:], 1<<40); be.PutUint32(b[16:], 10); return b }, "backing file name", ""},
		{"backing name too long", func(b []byte) []byte { be.PutUint64(b[8:], 200); be.PutUint32(b[16:], 5000); return b }, "backing file name", ""},
		{"dirty bit", put(72, 1), "", "dirty"},
		{"internal snapshots", put32(60, 2), "", "2 internal snapshot(s)"},
		{"backing file named", func(b []byte) []byte {
			copy(b[200:], "/etc/passwd")
			be.PutUint64(b[8:], 200)
			be.PutUint32(b[16:], 11)
			return b
		}, "", `backing file "/etc/passwd" not followed`},
	})
}

func FuzzQCOW2(f *testing.F) {
	file, _ := buildQCOW2()
	f.Add(file)
	f.Add(file[:104])
	v2 := bytes.Clone(file)
	be.PutUint32(v2[4:], 2)
	f.Add(v2)
	if seed, err := qemuQCOW2(f.TempDir()); err == nil {
		f.Add(seed)
	} else {
		f.Logf("no qemu-img seed: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOpen(t, fuzzcheck.NewOverlay(data), int64(len(data)))
	})
}

// qemuQCOW2 is a real qcow2 (qemu-img's own layout: refcount blocks, L1
// and L2 tables where qemu puts them) of a 16 KiB disk whose first 2 KiB
// hold data, 512-byte clusters: about 5 KiB of file.
func qemuQCOW2(dir string) ([]byte, error) {
	qemu, err := exec.LookPath("qemu-img")
	if err != nil {
		return nil, err
	}
	raw, out := filepath.Join(dir, "seed.raw"), filepath.Join(dir, "seed.qcow2")
	if err := os.WriteFile(raw, append(pattern(2048, 5), make([]byte, 14<<10)...), 0o644); err != nil {
		return nil, err
	}
	if msg, err := exec.Command(qemu, "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=512", raw, out).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu-img convert: %v: %s", err, msg)
	}
	return os.ReadFile(out)
}
