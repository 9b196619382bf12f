package container

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf16"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

// A sector whose bitmap bit is clear reads as zeros, whatever bytes the
// block holds there (qemu ignores the bitmap; the specification does not).
func TestVHDSectorBitmap(t *testing.T) {
	file, disk := buildVHD(true)
	d, err := openAndRead(t, bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, d.Size)
	if _, err := d.ReaderAt.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(got, disk); i >= 0 {
		t.Fatalf("first difference at %d (sector %d)", i, i/512)
	}
	// Reads that start and end inside sectors of mixed presence.
	for _, r := range [][2]int{{100, 900}, {511, 2}, {1000, 3000}, {4000, 200}} {
		b := make([]byte, r[1])
		if _, err := d.ReaderAt.ReadAt(b, int64(r[0])); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, disk[r[0]:r[0]+r[1]]) {
			t.Errorf("read of %d at %d differs", r[1], r[0])
		}
	}
}

func TestVHDDifferencingNamesParent(t *testing.T) {
	file, _ := buildVHD(false)
	copy(file, vhdFooterBytes(vhdDifferencing, 8192, 512))
	copy(file[len(file)-512:], file[:512])
	h := file[512:1536]
	for i, c := range utf16.Encode([]rune("parent-disk.vhd")) {
		be.PutUint16(h[64+2*i:], c)
	}
	_, err := Open(bytes.NewReader(file), int64(len(file)), Options{})
	var u *UnsupportedError
	if !errors.As(err, &u) || !bytes.Contains([]byte(err.Error()), []byte(`parent "parent-disk.vhd" not followed`)) {
		t.Fatalf("Open = %v, want an UnsupportedError naming the parent", err)
	}
}

func TestVHDCorrupt(t *testing.T) {
	file, _ := buildVHD(false)
	hdr := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte {
			be.PutUint32(b[512+off:], v)
			return b
		}
	}
	checkCorruptions(t, file, []corruption{
		{"footer cut off", func(b []byte) []byte { return b[:len(b)-512] }, "", "copy at offset 0"},
		{"block cut short", func(b []byte) []byte { return b[:3000] }, "outside the file", ""},
		{"BAT entry past EOF", func(b []byte) []byte { be.PutUint32(b[1536:], 1<<30); return b }, "outside the file", ""},
		{"BAT too small", hdr(28, 1), "cannot hold", ""},
		{"BAT past EOF", func(b []byte) []byte { be.PutUint64(b[512+16:], 1<<40); return b }, "BAT", ""},
		{"block size 0", hdr(32, 0), "block size", ""},
		{"block size 3000", hdr(32, 3000), "block size", ""},
		{"dynamic header past EOF", func(b []byte) []byte {
			for _, at := range []int{0, len(b) - 512} {
				be.PutUint64(b[at+16:], 1<<40)
			}
			return b
		}, "dynamic header", ""},
		{"no cxsparse", func(b []byte) []byte { copy(b[512:], "xxxxxxxx"); return b }, "cxsparse", ""},
		{"disk type 7", func(b []byte) []byte { be.PutUint32(b[len(b)-512+60:], 7); return b }, "disk type", ""},
		{"all blocks alias one", func(b []byte) []byte { be.PutUint32(b[1540:], 4); return b }, "", ""},
	})
	fixed, _ := buildFixedVHD()
	checkCorruptions(t, fixed, []corruption{
		{"fixed: data shorter than size", func(b []byte) []byte {
			return append(b[:4096], vhdFooterBytes(vhdFixed, 8192, ^uint64(0))...)
		}, "truncated", ""},
		{"fixed: footer only at start", func(b []byte) []byte {
			return append(b[len(b)-512:], b[:len(b)-512]...)
		}, "truncated", ""},
	})
}

func FuzzVHD(f *testing.F) {
	dyn, _ := buildVHD(true)
	fixed, _ := buildFixedVHD()
	f.Add(dyn)
	f.Add(fixed)
	f.Add(dyn[:1536])
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOpen(t, fuzzcheck.NewOverlay(data), int64(len(data)))
		// Again with the checksums of the footer, its copy and the
		// dynamic header recomputed, so mutations reach the BAT and the
		// block reads behind them instead of only the checksum notes.
		if fixed := vhdWithChecksums(data); !bytes.Equal(fixed, data) {
			fuzzOpen(t, fuzzcheck.NewOverlay(fixed), int64(len(fixed)))
		}
	})
}

// vhdWithChecksums returns a copy of a VHD file with the checksums of its
// footer (at the end and the copy at 0) and of its dynamic header (where
// the footer's data offset points) recomputed.
func vhdWithChecksums(data []byte) []byte {
	out := bytes.Clone(data)
	fix := func(b []byte, at int) { be.PutUint32(b[at:], vhdChecksum(b, at)) }
	for _, off := range []int{len(out) - 512, 0} {
		if off < 0 || off+512 > len(out) || string(out[off:off+8]) != "conectix" {
			continue
		}
		fix(out[off:off+512], 64)
		if h := be.Uint64(out[off+16:]); h < uint64(len(out)) && h+1024 <= uint64(len(out)) && string(out[h:h+8]) == "cxsparse" {
			fix(out[h:h+1024], 36)
		}
	}
	return out
}
