package ext4

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
)

type countingReaderAt struct {
	r     io.ReaderAt
	calls atomic.Int64
	bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	c.bytes.Add(int64(len(p)))
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

// TestHugeDirectoryLookupsDoNotReparse: a directory too large for the
// shared cache is parsed once, not once per lookup (quadratic time on a
// spool with 100,000 files).
func TestHugeDirectoryLookupsDoNotReparse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a 17,000-file image")
	}
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Skip("mke2fs not installed")
	}
	src := t.TempDir()
	dir := filepath.Join(src, "spool")
	os.Mkdir(dir, 0o755)
	const n = bigDirEntries + 1000
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "huge.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-N", fmt.Sprint(n+64), "-d", src, img, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v %s", err, out)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	c := &countingReaderAt{r: f}
	fsys, err := New(c, st.Size(), "huge")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat("spool/f000000"); err != nil {
		t.Fatal(err)
	}
	// Visit a small directory in between, as a walk does.
	fsys.ReadDir(".")
	before := c.bytes.Load()
	for i := 1; i < 2000; i++ {
		if _, err := fsys.Lstat(fmt.Sprintf("spool/f%06d", i*7%n)); err != nil {
			t.Fatal(err)
		}
	}
	// Each Lstat may read an inode-table block; re-parsing the directory
	// would read its whole listing (hundreds of KiB) per lookup.
	perLookup := (c.bytes.Load() - before) / 2000
	t.Logf("%d bytes read per lookup", perLookup)
	if perLookup > 16<<10 {
		t.Errorf("%d bytes read per lookup in a %d-entry directory: the listing is being re-read", perLookup, n)
	}
}
