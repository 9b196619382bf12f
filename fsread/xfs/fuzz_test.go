package xfs

import (
	"bytes"
	"io"
	"io/fs"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// The seeds come from images mkfs.xfs builds at test time (no binary
// images in the repository); without xfsprogs the targets skip.

// FuzzNew feeds the superblock and the first inode chunk (the first 72 KiB
// of a v5 image, 68 KiB of a v4 one: the root inode is in there) to open
// and, when it accepts them, reads what it can.
func FuzzNew(f *testing.F) {
	for _, v := range []variant{variants[0], variants[3]} {
		img := loadImage(f, v)
		f.Add(img[:72<<10])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		exerciseBackend(v, 200)
		if _, err := Probe(bytes.NewReader(data)); err != nil {
			t.Errorf("open accepted what Probe refuses: %v", err)
		}
	})
}

// FuzzLookup patches bytes of a real image at a fuzzed offset (folded into
// the metadata-dense first 512 KiB of an AG), then resolves a path and
// walks the tree, both on the backend (panics surface) and through the FS
// every check sees.
func FuzzLookup(f *testing.F) {
	base := loadImage(f, variants[0])
	good, err := open(&overlay{base: base, size: int64(len(base))}, int64(len(base)))
	if err != nil {
		f.Fatal(err)
	}
	root, _ := good.inodeOffset(good.sb.rootIno)
	f.Add(uint32(0), []byte{}, "etc/passwd")
	f.Add(uint32(root+5), []byte{3}, "bigdir/entry-0001-z")
	f.Add(uint32(root+0x4c), []byte{0, 0, 0, 9}, "links/abs")
	f.Add(uint32(64<<10+0x38), []byte{0xff}, "small/c")
	agBytes := int64(good.sb.agblocks) * good.bs
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, name string) {
		if len(patch) > 4096 {
			return
		}
		o := &overlay{base: base, size: int64(len(base))}
		ag := int64(off>>24) % int64(good.sb.agcount)
		o.set(ag*agBytes+int64(off&(512<<10-1)), patch...)
		v, err := open(o, o.size)
		if err != nil {
			return
		}
		exerciseBackend(v, 300)
		fsys := fsread.NewFS[uint64](v, "fuzz")
		if !fs.ValidPath(name) {
			return
		}
		// Bounded: a damaged size may claim exabytes (fs.ReadFile would
		// allocate them), and that is the caller's limit to set.
		f, err := fsys.Open(name)
		noPanicText(t, err)
		if err == nil {
			_, err = io.CopyN(io.Discard, f, 1<<20)
			if err != io.EOF {
				noPanicText(t, err)
			}
			f.Close()
		}
	})
}
