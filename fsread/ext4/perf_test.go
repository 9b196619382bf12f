package ext4

import (
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"testing"
)

type countingReaderAt struct {
	r     io.ReaderAt
	calls atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	return c.r.ReadAt(p, off)
}

// TestReadAtEconomy pins the I/O shape: path lookups are served from the
// directory cache instead of re-reading every parent, and file data goes
// out in one ReadAt per contiguous run, not one per block.
func TestReadAtEconomy(t *testing.T) {
	for _, v := range []variant{variantNamed("ext2"), variantNamed("ext4")} {
		t.Run(v.name, func(t *testing.T) {
			f, err := os.Open(image(t, v))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			c := &countingReaderAt{r: f}
			fsys, err := New(c, st.Size(), v.name)
			if err != nil {
				t.Fatal(err)
			}
			ents, err := fsys.ReadDir("many")
			if err != nil {
				t.Fatal(err)
			}
			before := c.calls.Load()
			for _, e := range ents {
				b, err := fs.ReadFile(fsys, "many/"+e.Name())
				if err != nil || len(b) == 0 {
					t.Fatalf("%s: %v", e.Name(), err)
				}
			}
			// Per file: its inode (if not cached) and one data read.
			if per := float64(c.calls.Load()-before) / float64(len(ents)); per > 2.1 {
				t.Errorf("%.2f ReadAt calls per small file opened by path", per)
			}

			fl, err := fsys.Open("big.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer fl.Close()
			buf := make([]byte, 6<<20)
			before = c.calls.Load()
			n, err := fl.(io.ReaderAt).ReadAt(buf, 0)
			if n != 5<<20+17 || err != io.EOF {
				t.Fatalf("read %d, %v", n, err)
			}
			// 5 MiB is 5120 blocks of 1 KiB; a block map interleaves an
			// indirect block every 256 data blocks, so ~20 runs at most.
			if calls := c.calls.Load() - before; calls > 32 {
				t.Errorf("%d ReadAt calls for one 5 MiB read", calls)
			}
		})
	}
}
