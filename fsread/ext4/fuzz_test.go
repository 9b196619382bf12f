package ext4

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// Seed images made by testdata/mktiny.sh (96 KiB each).
var seedImages = []string{"testdata/tiny-ext4.img", "testdata/tiny-ext2.img"}

func loadSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, p := range seedImages {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// noPanicText fails when an error is a panic that NewFS's guard turned
// into an error: the guard protects the scan, it must not hide our bugs.
func noPanicText(t *testing.T, err error) {
	if err != nil && strings.Contains(err.Error(), "runtime error") {
		t.Fatalf("panic behind the guard: %v", err)
	}
}

// FuzzNew feeds superblock and group descriptor bytes (the first 8 KiB of
// an image) to New and, when it accepts them, reads what it can.
func FuzzNew(f *testing.F) {
	for _, img := range loadSeeds(f) {
		f.Add(img[:8192])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		exercise(v, 200, 1<<16)
		if _, err := Probe(bytes.NewReader(data)); err != nil {
			t.Errorf("New accepted what Probe refuses: %v", err)
		}
	})
}

// FuzzLookup patches bytes of a real image, then opens it, walks it and
// reads every file, both on the backend (panics surface) and through the
// FS every check sees.
func FuzzLookup(f *testing.F) {
	seeds := loadSeeds(f)
	f.Add(uint8(0), uint32(0), []byte{})
	f.Add(uint8(1), uint32(0), []byte{})
	f.Add(uint8(0), uint32(1024+0x28), []byte{1, 0, 0, 0})          // inodes per group
	f.Add(uint8(0), uint32(5*1024+256+0x28), []byte{0xff, 0xff})    // root inode's i_block
	f.Add(uint8(1), uint32(5*1024+256+0x28), []byte{0x20, 0, 0, 0}) // root dir block pointer
	f.Fuzz(func(t *testing.T, which uint8, off uint32, patch []byte) {
		img := bytes.Clone(seeds[int(which)%len(seeds)])
		if len(patch) > 0 {
			copy(img[int(off)%len(img):], patch)
		}
		checkImage(t, img)
	})
}

// checkImage opens img, walks it and reads every file, both on the backend
// (panics surface) and through the FS every check sees.
func checkImage(t *testing.T, img []byte) {
	v, err := open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		return
	}
	exercise(v, 500, 1<<20)

	fsys, err := New(bytes.NewReader(img), int64(len(img)), "fuzz")
	if err != nil {
		t.Fatalf("New after open succeeded: %v", err)
	}
	n := 0
	fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		noPanicText(t, err)
		if n++; n > 500 {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			_, err := fsys.ReadLink(p)
			noPanicText(t, err)
		}
		fl, err := fsys.Open(p)
		noPanicText(t, err)
		if err == nil {
			_, err = io.CopyN(io.Discard, fl, 1<<20)
			if err != io.EOF {
				noPanicText(t, err)
			}
			fl.Close()
		}
		return nil
	})
}
