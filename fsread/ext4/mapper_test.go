package ext4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

const fakeBS = 1024

// fakeVolume is a 64-block volume whose block contents the test writes
// directly; every block starts filled with its own number so misplaced
// reads show.
func fakeVolume() (*volume, []byte) {
	img := make([]byte, 64*fakeBS)
	for b := 0; b < 64; b++ {
		for i := 0; i < fakeBS; i++ {
			img[b*fakeBS+i] = byte(b)
		}
	}
	v := &volume{
		r: bytes.NewReader(img), size: int64(len(img)), bs: fakeBS, isz: 256,
		sb: &superblock{blocksCount: 64, blocksPerGroup: 64, inodesPerGroup: 16},
	}
	return v, img
}

func extentHeader(entries, depth int) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint16(b[0:], extentMagic)
	binary.LittleEndian.PutUint16(b[2:], uint16(entries))
	binary.LittleEndian.PutUint16(b[4:], uint16(entries))
	binary.LittleEndian.PutUint16(b[6:], uint16(depth))
	return b
}

func leaf(lblk uint32, n uint16, pblk uint32) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], lblk)
	binary.LittleEndian.PutUint16(b[4:], n)
	binary.LittleEndian.PutUint32(b[8:], pblk)
	return b
}

func index(lblk, child uint32) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], lblk)
	binary.LittleEndian.PutUint32(b[4:], child)
	return b
}

func fakeInode(flags uint32, size int64, iblock []byte) *inode {
	raw := make([]byte, 256)
	binary.LittleEndian.PutUint16(raw[0:], sIFREG|0o644)
	binary.LittleEndian.PutUint32(raw[0x20:], flags)
	copy(raw[0x28:0x64], iblock)
	return &inode{num: 99, raw: raw, mode: sIFREG | 0o644, flags: flags, size: size}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestMappingErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(img []byte) *inode
		want  string
	}{
		{"index loop", func(img []byte) *inode {
			copy(img[5*fakeBS:], cat(extentHeader(1, 1), index(0, 5)))
			return fakeInode(flagExtents, 10*fakeBS, cat(extentHeader(1, 2), index(0, 5)))
		}, "referenced twice"},
		{"node visited twice", func(img []byte) *inode {
			copy(img[5*fakeBS:], cat(extentHeader(1, 0), leaf(0, 1, 9)))
			return fakeInode(flagExtents, 10*fakeBS, cat(extentHeader(2, 1), index(0, 5), index(1, 5)))
		}, "referenced twice"},
		{"too deep", func(img []byte) *inode {
			return fakeInode(flagExtents, 10*fakeBS, extentHeader(0, 6))
		}, "depth 6"},
		{"bad magic", func(img []byte) *inode {
			return fakeInode(flagExtents, 10*fakeBS, make([]byte, 12))
		}, "bad extent header"},
		{"entries overrun the root", func(img []byte) *inode {
			return fakeInode(flagExtents, 10*fakeBS, extentHeader(5, 0))
		}, "overrun"},
		{"extent beyond the filesystem", func(img []byte) *inode {
			return fakeInode(flagExtents, 10*fakeBS, cat(extentHeader(1, 0), leaf(0, 8, 60)))
		}, "beyond the filesystem"},
		{"indirect self loop", func(img []byte) *inode {
			clear(img[7*fakeBS : 8*fakeBS])
			ib := make([]byte, 60)
			binary.LittleEndian.PutUint32(ib[4*13:], 7) // double indirect → 7
			binary.LittleEndian.PutUint32(img[7*fakeBS:], 7)
			return fakeInode(0, 1<<30, ib)
		}, "referenced twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, img := fakeVolume()
			in := c.setup(img)
			_, err := v.data(in)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, fsread.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt with %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "inode 99") {
				t.Errorf("error does not name the inode: %v", err)
			}
		})
	}
}

// TestMappingRead checks what a mapping reads as: overlapping extents
// trimmed, holes and uninitialized extents as zeros (the blocks beneath
// hold non-zero bytes), a two-level tree, a triple-indirect block map.
func TestMappingRead(t *testing.T) {
	blocks := func(ns ...int) []byte {
		var out []byte
		for _, n := range ns {
			out = append(out, bytes.Repeat([]byte{byte(n)}, fakeBS)...)
		}
		return out
	}
	cases := []struct {
		name  string
		setup func(img []byte) *inode
		want  []byte
	}{
		{"extents with overlap, hole, uninit", func(img []byte) *inode {
			return fakeInode(flagExtents, 7*fakeBS, cat(extentHeader(3, 0),
				leaf(0, 2, 10),        // blocks 0-1 → 10,11
				leaf(1, 3, 20),        // overlaps block 1; 2-3 → 21,22
				leaf(5, 32768+1, 30))) // block 5 uninitialized; 4 and 6 holes
		}, cat(blocks(10, 11, 21, 22), make([]byte, 3*fakeBS))},
		{"two-level tree", func(img []byte) *inode {
			copy(img[5*fakeBS:], cat(extentHeader(2, 0), leaf(0, 1, 40), leaf(1, 1, 41)))
			copy(img[6*fakeBS:], cat(extentHeader(1, 0), leaf(2, 1, 50)))
			return fakeInode(flagExtents, 3*fakeBS-100, cat(extentHeader(2, 1), index(0, 5), index(2, 6)))
		}, blocks(40, 41, 50)[:3*fakeBS-100]},
		{"triple indirect", func(img []byte) *inode {
			per := fakeBS / 4
			first := 12 + per + per*per     // first block under the triple indirect pointer
			clear(img[2*fakeBS : 5*fakeBS]) // pointer blocks: zero means hole
			ib := make([]byte, 60)
			binary.LittleEndian.PutUint32(ib[0:], 33)        // block 0 → 33
			binary.LittleEndian.PutUint32(ib[4*14:], 2)      // triple → 2
			binary.LittleEndian.PutUint32(img[2*fakeBS:], 3) // → double 3
			binary.LittleEndian.PutUint32(img[3*fakeBS:], 4) // → single 4
			binary.LittleEndian.PutUint32(img[4*fakeBS+4:], 44)
			in := fakeInode(0, int64(first+2)*fakeBS, ib)
			return in
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, img := fakeVolume()
			in := c.setup(img)
			d, err := v.data(in)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, in.size)
			if n, err := d.ReadAt(got, 0); n != len(got) || (err != nil && err != io.EOF) {
				t.Fatalf("read %d, %v", n, err)
			}
			if c.want == nil { // triple indirect: check the two mapped blocks, zeros elsewhere
				first := int64(12+256+256*256) * fakeBS
				if !bytes.Equal(got[:fakeBS], blocks(33)) || !bytes.Equal(got[first+fakeBS:], blocks(44)) ||
					bytes.ContainsFunc(got[fakeBS:first+fakeBS], func(r rune) bool { return r != 0 }) {
					t.Error("triple-indirect mapping read wrong")
				}
				return
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("content differs")
			}
			// Reads at every alignment agree with the whole.
			for off := int64(0); off < in.size; off += 333 {
				p := make([]byte, 777)
				n, _ := d.ReadAt(p, off)
				if !bytes.Equal(p[:n], c.want[off:off+int64(n)]) {
					t.Fatalf("read at %d differs", off)
				}
			}
		})
	}
}
