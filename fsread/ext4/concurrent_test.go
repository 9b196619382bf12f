package ext4

import (
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
)

// TestConcurrentReads reads different files of one image from 8 goroutines
// at once, each checking its bytes against the source tree the image was
// made from. Run with -race.
func TestConcurrentReads(t *testing.T) {
	for _, v := range []variant{variantNamed("ext2"), variantNamed("ext4")} { // block maps, extents
		t.Run(v.name, func(t *testing.T) {
			img := image(t, v)
			src := filepath.Join(imgDir, "src-false")
			fsys := openImage(t, img)
			files := []string{
				"big.bin", "sparse.bin", "sizes/f65536", "sizes/f4097",
				"flags/immutable", "many/entry-123-with-a-longer-name-for-htree",
				"dir1/dir2/dir3/deep.txt", unicodeName,
			}
			var wg sync.WaitGroup
			for i, p := range files {
				want, err := os.ReadFile(filepath.Join(src, p))
				if err != nil {
					t.Fatal(err)
				}
				wantSum := sha256.Sum256(want)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for round := 0; round < 3; round++ {
						f, err := fsys.Open(p)
						if err != nil {
							t.Error(err)
							return
						}
						h := sha256.New()
						// Odd buffer sizes so reads straddle block and run boundaries.
						buf := make([]byte, 4096*(i+1)+i*7+1)
						_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
						f.Close()
						if err != nil {
							t.Error(err)
							return
						}
						if !bytes.Equal(h.Sum(nil), wantSum[:]) {
							t.Errorf("%s: content differs from the source (round %d)", p, round)
						}
						// Lookups of other paths race with the reads through the caches.
						if _, err := fs.Stat(fsys, files[(i+round+1)%len(files)]); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestFSTest runs testing/fstest on the subtrees io/fs can fully open: the
// special files and dangling or looping links elsewhere are refused by
// design (Open reads only regular files and directories).
func TestFSTest(t *testing.T) {
	img := image(t, variantNamed("ext4"))
	fsys := openImage(t, img)
	for _, c := range []struct {
		dir      string
		expected []string
	}{
		{"dir1", []string{"hl", "dir2/dir3/deep.txt"}},
		{"many", []string{"entry-000-with-a-longer-name-for-htree", "entry-299-with-a-longer-name-for-htree"}},
		{"sizes", []string{"empty", "size1", "f4097", "f65536"}},
		{"hard", []string{"a", "b"}},
		{"modes", []string{"setuid", "sticky"}},
	} {
		t.Run(c.dir, func(t *testing.T) {
			sub, err := fs.Sub(fsys, c.dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := fstest.TestFS(sub, c.expected...); err != nil {
				t.Error(err)
			}
		})
	}
}
