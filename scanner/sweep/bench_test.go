package sweep

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/fsread/dirfs"
)

// benchTree writes n files (text, and binary-looking bytes with the odd
// ELF header) of 1 KiB to 64 KiB and returns the root and total size.
func benchTree(b *testing.B, n int) (string, int64) {
	root := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	text := []byte("Lorem ipsum dolor sit amet, stratum of prose, pools of words; nothing to mine here.\n")
	var total int64
	for i := 0; i < n; i++ {
		size := 1024 + rng.IntN(63*1024)
		buf := make([]byte, size)
		if i%2 == 0 {
			for j := range buf {
				buf[j] = text[j%len(text)]
			}
		} else {
			for j := range buf {
				buf[j] = byte(rng.UintN(256))
			}
			if i%10 == 1 {
				copy(buf, "\x7fELF\x02\x01\x01")
			}
		}
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%05d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(size)
	}
	return root, total
}

// BenchmarkSweep sweeps 3,000 files (~96 MiB) with the embedded rules and
// IOC lists; the page cache holds the tree after the first iteration, so
// this measures hashing, YARA and the pool, not the disk.
func BenchmarkSweep(b *testing.B) {
	root, total := benchTree(b, 3000)
	fsys, err := dirfs.New(root)
	if err != nil {
		b.Fatal(err)
	}
	r, iocs := embeddedRules(b), embeddedIOCs(b)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(total)
			for i := 0; i < b.N; i++ {
				res, err := Run(context.Background(), fsys, Options{Volume: "bench", Rules: r, IOCs: iocs, Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				if res.Stats.Files != 3000 || len(res.Findings) != 0 {
					b.Fatalf("files %d findings %d", res.Stats.Files, len(res.Findings))
				}
				b.ReportMetric(float64(res.Stats.Files)/res.Stats.Elapsed.Seconds(), "files/s")
			}
		})
	}
}
