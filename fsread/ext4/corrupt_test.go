package ext4

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// exercise drives the backend directly, without NewFS's panic guard, so a
// panic on hostile metadata fails the test instead of becoming an error.
// It visits at most maxEntries entries and reads at most maxRead bytes of
// each file, and returns the errors met.
func exercise(v *volume, maxEntries int, maxRead int64) []error {
	var errs []error
	seen := map[uint32]bool{rootIno: true}
	queue := []uint32{rootIno}
	buf := make([]byte, min(64<<10, max(maxRead, 1)))
	entries := 0
	for len(queue) > 0 && entries < maxEntries {
		dir := queue[0]
		queue = queue[1:]
		ents, err := v.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range ents {
			if entries++; entries > maxEntries {
				break
			}
			if _, err := v.Lookup(dir, e.Name); err != nil {
				errs = append(errs, fmt.Errorf("lookup %q: %w", e.Name, err))
			}
			m, err := v.Meta(e.Node)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			switch {
			case m.Mode.IsDir():
				if !seen[e.Node] {
					seen[e.Node] = true
					queue = append(queue, e.Node)
				}
			case m.Mode&fs.ModeSymlink != 0:
				if _, err := v.ReadLink(e.Node); err != nil {
					errs = append(errs, err)
				}
			case m.Mode.IsRegular():
				ra, size, err := v.Open(e.Node)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for off := int64(0); off < min(size, maxRead); off += int64(len(buf)) {
					if _, err := ra.ReadAt(buf, off); err != nil && err != io.EOF {
						errs = append(errs, err)
						break
					}
				}
			}
		}
	}
	return errs
}

// withTimeout fails the test if f does not return in time: a hang on a
// hostile image is as bad as a panic.
func withTimeout(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("no result after %v: hang on a corrupt image", d)
	}
}

func copyImage(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "c.img")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func openVolume(t *testing.T, img string) (*volume, error) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	return open(f, st.Size())
}

var reBmap = regexp.MustCompile(`^\d+`)

func TestCorruption(t *testing.T) {
	needTools(t, "mke2fs", "debugfs")
	base := image(t, variantNamed("ext4"))
	v0, err := openVolume(t, base)
	if err != nil {
		t.Fatal(err)
	}
	itable := int64(v0.itable[0]) * v0.bs
	bigBlock, err := strconv.ParseInt(reBmap.FindString(runCmd(t, "debugfs", "-R", "bmap /big.bin 100", base)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		damage func(t *testing.T, img string)
		// newErr: New must fail with an error matching this.
		newErr string
		check  func(t *testing.T, img string, v *volume)
	}{
		{
			name: "zeroed superblock",
			damage: func(t *testing.T, img string) {
				patch(t, img, superOffset, make([]byte, superSize))
			},
			newErr: "bad magic",
		},
		{
			name:   "truncated at half",
			damage: func(t *testing.T, img string) { truncateTo(t, img, 0.5) },
			check: func(t *testing.T, img string, v *volume) {
				if !v.info.Truncated {
					t.Error("Info.Truncated not set")
				}
				exercise(v, 10000, 1<<30) // must not panic or hang; errors allowed
			},
		},
		{
			name: "truncated inside big.bin",
			damage: func(t *testing.T, img string) {
				if err := os.Truncate(img, bigBlock*v0.bs+10); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, img string, v *volume) {
				errs := exercise(v, 10000, 1<<30)
				if !anyMatch(errs, "truncated image") {
					t.Errorf("no clear truncation error among %v", errs)
				}
			},
		},
		{
			name: "directory loop",
			damage: func(t *testing.T, img string) {
				debugfsW(t, img, "ln /dir1 /dir1/dir2/loop")
			},
			check: func(t *testing.T, img string, v *volume) {
				fsys := fsread.NewFS[uint32](v, "loop")
				var loops int
				err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
					if errors.Is(err, fsread.ErrDirLoop) {
						loops++
					}
					return nil
				})
				if err != nil || loops != 1 {
					t.Errorf("walk: %v, %d loops reported", err, loops)
				}
				if _, err := fs.ReadFile(fsys, "dir1/dir2/loop/dir2/loop/dir2/dir3/deep.txt"); err != nil {
					t.Errorf("path through the loop: %v", err)
				}
			},
		},
		{
			name: "size claims 1 TiB",
			damage: func(t *testing.T, img string) {
				debugfsW(t, img, "sif /sizes/f4097 size 0x10000000000")
			},
			check: func(t *testing.T, img string, v *volume) {
				fsys := fsread.NewFS[uint32](v, "huge")
				f, err := fsys.Open("sizes/f4097")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if st, _ := f.Stat(); st.Size() != 1<<40 {
					t.Errorf("size %d", st.Size())
				}
				ra := f.(io.ReaderAt)
				tail := make([]byte, 1<<20)
				if n, err := ra.ReadAt(tail, 1<<40-int64(len(tail))); n != len(tail) || (err != nil && err != io.EOF) {
					t.Errorf("read at the end: %d, %v", n, err)
				}
				head := make([]byte, 4097)
				if _, err := ra.ReadAt(head, 0); err != nil || string(head) != string(pattern(4097, 4097)) {
					t.Errorf("head of the file wrong: %v", err)
				}
				// A bounded stream over the claimed size must not buffer it.
				if n, err := io.CopyN(io.Discard, f, 32<<20); n != 32<<20 || err != nil {
					t.Errorf("stream: %d, %v", n, err)
				}
			},
		},
		{
			name: "superblock claims too many groups",
			damage: func(t *testing.T, img string) {
				patch(t, img, superOffset+0x150, []byte{0xff, 0xff, 0, 0}) // s_blocks_count_hi (64bit)
			},
			newErr: "more than the image holds",
		},
		{
			name: "zeroed group descriptors",
			damage: func(t *testing.T, img string) {
				patch(t, img, int64(v0.descBlock(0))*v0.bs, make([]byte, v0.bs))
			},
			check: func(t *testing.T, img string, v *volume) {
				if errs := exercise(v, 100, 1<<20); !anyMatch(errs, "inode table") {
					t.Errorf("no clear error: %v", errs)
				}
			},
		},
	}
	for seed := uint64(1); seed <= 20; seed++ {
		cases = append(cases, struct {
			name   string
			damage func(t *testing.T, img string)
			newErr string
			check  func(t *testing.T, img string, v *volume)
		}{
			name: fmt.Sprintf("inode table flips %d", seed),
			damage: func(t *testing.T, img string) {
				f, err := os.OpenFile(img, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				r := rand.New(rand.NewPCG(seed, 7))
				// The first 400 inodes hold every file of the tree.
				span := 400 * v0.isz
				for i := 0; i < 200; i++ {
					b := []byte{byte(r.Uint32())}
					if _, err := f.WriteAt(b, itable+r.Int64N(span)); err != nil {
						t.Fatal(err)
					}
				}
			},
			check: func(t *testing.T, img string, v *volume) {
				for _, err := range exercise(v, 10000, 1<<24) {
					if !errors.Is(err, fsread.ErrCorrupt) && !errors.Is(err, fsread.ErrNotDir) &&
						!errors.Is(err, ErrEncrypted) && !strings.Contains(err.Error(), "truncated") {
						t.Errorf("unclear error: %v", err)
					}
				}
			},
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := copyImage(t, base)
			c.damage(t, img)
			withTimeout(t, 20*time.Second, func() {
				v, err := openVolume(t, img)
				if c.newErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.newErr) {
						t.Errorf("New: %v, want an error with %q", err, c.newErr)
					}
					return
				}
				if err != nil {
					if c.name == "truncated at half" {
						return // refusing is a clear answer too
					}
					t.Fatalf("New: %v", err)
				}
				c.check(t, img, v)
			})
		})
	}
}

func patch(t *testing.T, img string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func truncateTo(t *testing.T, img string, frac float64) {
	t.Helper()
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, int64(float64(st.Size())*frac)); err != nil {
		t.Fatal(err)
	}
}

func anyMatch(errs []error, s string) bool {
	for _, e := range errs {
		if strings.Contains(e.Error(), s) {
			return true
		}
	}
	return false
}

// TestEncrypted: fscrypt inodes keep their stat but refuse their content
// with ErrEncrypted instead of handing ciphertext to a check.
func TestEncrypted(t *testing.T) {
	img := copyImage(t, image(t, variantNamed("ext4")))
	for _, p := range []string{"/dir1", "/sizes/f4097", "/links/slow"} {
		orFlags(t, img, p, flagEncrypt)
	}
	fsys := openImage(t, img)
	if _, err := fsys.ReadDir("dir1"); !errors.Is(err, ErrEncrypted) {
		t.Errorf("ReadDir: %v", err)
	}
	if _, err := fsys.Open("sizes/f4097"); !errors.Is(err, ErrEncrypted) {
		t.Errorf("Open: %v", err)
	}
	if _, err := fsys.ReadLink("links/slow"); !errors.Is(err, ErrEncrypted) {
		t.Errorf("ReadLink: %v", err)
	}
	fi, err := fsys.Lstat("sizes/f4097")
	if err != nil || fi.Size() != 4097 || fsread.MetaOf(fi).Flags&flagEncrypt == 0 {
		t.Errorf("Lstat of an encrypted file: %v, %v", fi, err)
	}
	if _, err := fs.ReadFile(fsys, "sizes/f4096"); err != nil {
		t.Errorf("a plain file next to it: %v", err)
	}
}

// TestRepeatedDirBlock: a block map naming one directory block twice must
// be refused, not listed twice (or a million times).
func TestRepeatedDirBlock(t *testing.T) {
	img := copyImage(t, image(t, variantNamed("ext2"))) // ext2: block maps
	blk := reLeadingNum.FindString(runCmd(t, "debugfs", "-R", "bmap /many 0", img))
	debugfsW(t, img, "sif /many block[1] "+blk)
	fsys := openImage(t, img)
	withTimeout(t, 20*time.Second, func() {
		if _, err := fsys.ReadDir("many"); err == nil || !strings.Contains(err.Error(), "mapped twice") {
			t.Errorf("ReadDir: %v", err)
		}
	})
}
