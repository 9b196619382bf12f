package xfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// overlay is an image with some byte ranges replaced and possibly cut
// short, without copying it: corruption cases and fuzzing share one base.
type overlay struct {
	base  []byte
	size  int64
	patch []patchRange
}

type patchRange struct {
	off int64
	b   []byte
}

func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	n := copy(p, o.base[off:min(o.size, int64(len(o.base)))])
	for _, r := range o.patch { // in order: later patches win
		lo, hi := max(off, r.off), min(off+int64(n), r.off+int64(len(r.b)))
		if lo < hi {
			copy(p[lo-off:hi-off], r.b[lo-r.off:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o *overlay) set(off int64, b ...byte) {
	o.patch = append(o.patch, patchRange{off, append([]byte(nil), b...)})
}

func loadImage(t testing.TB, v variant) []byte {
	b, err := os.ReadFile(buildImage(t, v))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exercise walks fsys and reads (a bounded prefix of) every file, the way
// the checks and the content sweep do. It returns the number of errors.
func exercise(fsys fsread.FS, maxEntries int) int {
	errs, n := 0, 0
	fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if n++; n > maxEntries {
			return fs.SkipAll
		}
		if err != nil {
			errs++
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			errs++
			return nil
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if _, err := fsys.ReadLink(p); err != nil {
				errs++
			}
		case fi.Mode().IsRegular():
			f, err := fsys.Open(p)
			if err != nil {
				errs++
				return nil
			}
			if _, err := io.CopyN(io.Discard, f, 1<<20); err != nil && err != io.EOF {
				errs++
			}
			f.Close()
		}
		return nil
	})
	return errs
}

// withTimeout fails the test if fn runs longer than d: a corrupt image
// must cost an error, never a hang.
func withTimeout(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
	}
}

func noPanicText(t testing.TB, err error) {
	if err != nil && strings.Contains(err.Error(), "runtime error") {
		t.Fatalf("panic behind the guard: %v", err)
	}
}

// TestCorrupt damages a real image in targeted ways; each case must end in
// a clear error (or a readable image), promptly and without panicking.
func TestCorrupt(t *testing.T) {
	v := variants[0]
	base := loadImage(t, v)
	good, err := open(&overlay{base: base, size: int64(len(base))}, int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	fsys := fsread.NewFS[uint64](good, "good")
	ino := func(p string) int64 {
		fi, err := fsys.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		off, err := good.inodeOffset(fsread.MetaOf(fi).Inode)
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	root, _ := good.inodeOffset(good.sb.rootIno)
	bigdir, busybox, link := ino("bigdir"), ino("bin/busybox"), ino("links/abs")
	// The first block of an extents-format inode's data (v5 literal area).
	firstExtent := func(off int64) int64 {
		e, err := good.unpackExtent(base[off+176:])
		if err != nil {
			t.Fatal(err)
		}
		return int64(e.blk) * good.bs
	}
	dirBlock := firstExtent(bigdir)
	for _, tc := range []struct {
		name    string
		size    int64
		patch   func(o *overlay)
		newErr  string // substring of New's error; "" when New must succeed
		path    string // then this path must fail with this substring
		pathErr string
	}{
		{name: "zeroed superblock", patch: func(o *overlay) { o.set(0, make([]byte, 512)...) }, newErr: "bad magic"},
		{name: "tiny image", size: 100, newErr: "too small"},
		{name: "block size not a power of two", patch: func(o *overlay) { o.set(4, 0, 0, 0x10, 1) }, newErr: "bad block size"},
		{name: "AG count zero", patch: func(o *overlay) { o.set(0x58, 0, 0, 0, 0) }, newErr: "AGs"},
		{name: "unknown incompat feature", patch: func(o *overlay) { o.set(0xd8, 0x80, 0, 0, 1) }, newErr: "unknown incompatible"},
		{name: "root inode magic", patch: func(o *overlay) { o.set(root, 'X', 'X') }, newErr: "bad magic"},
		{name: "root inode number outside", patch: func(o *overlay) { o.set(0x38, 0x7f, 0, 0, 0, 0, 0, 0, 0) }, newErr: "outside the filesystem"},
		{name: "truncated to 1 MiB", size: 1 << 20, path: "bigdir/entry-0001-z", pathErr: "truncated"},
		{name: "directory inode records another number", patch: func(o *overlay) { o.set(bigdir+0x98+7, 1) }, path: "bigdir/entry-0001-z", pathErr: "records inode number"},
		{name: "directory format byte", patch: func(o *overlay) { o.set(bigdir+5, 9) }, path: "bigdir/entry-0001-z", pathErr: "format 9"},
		{name: "huge extent count", patch: func(o *overlay) { o.set(busybox+0x4c, 0xff, 0xff, 0xff, 0xff) }, path: "bin/busybox", pathErr: "extents"},
		{name: "fork offset past the inode", patch: func(o *overlay) { o.set(busybox+0x52, 0xff) }, path: "bin/busybox", pathErr: "attribute fork offset"},
		{name: "directory block magic", patch: func(o *overlay) { o.set(dirBlock, 0, 0, 0, 0) }, path: "bigdir/entry-0001-z", pathErr: "directory data magic"},
		{name: "directory entry length", patch: func(o *overlay) { o.set(dirBlock+64, 0xff, 0xff, 0xff, 0xf8) }, path: "bigdir/entry-0001-z", pathErr: "free space"},
		{name: "symlink size", patch: func(o *overlay) { o.set(link+0x38, 0, 0, 0, 0, 0, 0, 0x10, 0) }, path: "links/abs", pathErr: "symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &overlay{base: base, size: int64(len(base))}
			if tc.size > 0 {
				o.size = tc.size
			}
			if tc.patch != nil {
				tc.patch(o)
			}
			withTimeout(t, 10*time.Second, func() {
				fsys, err := New(o, o.size, "bad.img")
				if tc.newErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.newErr) {
						t.Errorf("New: %v, want an error with %q", err, tc.newErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if inf, _ := InfoOf(fsys); inf.Truncated != (tc.size > 0) {
					t.Errorf("Info.Truncated = %v for an image of %d bytes", inf.Truncated, o.size)
				}
				_, err = fs.ReadFile(fsys, tc.path)
				if err == nil || !strings.Contains(err.Error(), tc.pathErr) || !strings.Contains(err.Error(), tc.path) {
					t.Errorf("%s: %v, want an error naming the path with %q", tc.path, err, tc.pathErr)
				}
				noPanicText(t, err)
				exercise(fsys, 5000)
			})
		})
	}
}

// TestRandomDamage flips random bytes in the metadata of a real image, many
// times over; the backend (not behind NewFS's recover) must never panic.
func TestRandomDamage(t *testing.T) {
	v := variants[0]
	base := loadImage(t, v)
	good, err := open(&overlay{base: base, size: int64(len(base))}, int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	// Metadata lies in the first blocks of each AG and in the directory and
	// inode blocks mkfs wrote near them.
	agBytes := int64(good.sb.agblocks) * good.bs
	rng := rand.New(rand.NewPCG(7, 7))
	opened := 0
	for i := 0; i < 150; i++ {
		o := &overlay{base: base, size: int64(len(base))}
		for j := 0; j < 1+rng.IntN(64); j++ {
			ag := int64(rng.IntN(int(good.sb.agcount)))
			off := ag*agBytes + rng.Int64N(512<<10)
			o.set(off, byte(rng.UintN(256)))
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			withTimeout(t, 10*time.Second, func() {
				vol, err := open(o, o.size)
				if err != nil {
					return
				}
				opened++
				exerciseBackend(vol, 3000)
			})
		})
	}
	t.Logf("%d of 150 damaged images opened and walked", opened)
}

// exerciseBackend is exercise without NewFS, so that a panic fails the test
// instead of turning into an error.
func exerciseBackend(v *volume, budget int) {
	queue := []uint64{v.Root()}
	seen := map[uint64]bool{}
	for len(queue) > 0 && budget > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		budget--
		m, err := v.Meta(n)
		if err != nil {
			continue
		}
		switch {
		case m.Mode.IsDir():
			ents, _ := v.ReadDir(n)
			for _, e := range ents {
				queue = append(queue, e.Node)
				v.Lookup(n, e.Name)
			}
		case m.Mode&fs.ModeSymlink != 0:
			v.ReadLink(n)
		case m.Mode.IsRegular():
			if ra, size, err := v.Open(n); err == nil {
				buf := make([]byte, 64<<10)
				for off := int64(0); off < min(size, 1<<20); off += int64(len(buf)) {
					if _, err := ra.ReadAt(buf, off); err != nil && err != io.EOF {
						break
					}
				}
			}
		}
	}
}
