package lvm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

// Run with: go test -run '^$' -fuzz FuzzLabel ./fsread/lvm (likewise
// FuzzMetadataText, FuzzOpen, FuzzMetadataArea), or scripts/fuzz.sh.

func FuzzLabel(f *testing.F) {
	img := gunzip(f, "testdata/lvm1.img.gz")
	l := layoutOf(f, img)
	f.Add(img[:2048])
	f.Add(img[l.mdaStart : l.mdaStart+512])
	f.Add([]byte("LABELONE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if lb, err := parseLabel(b); err == nil {
			if len(lb.Data) > maxAreas || len(lb.Metadata) > maxAreas {
				t.Fatalf("%d/%d areas", len(lb.Data), len(lb.Metadata))
			}
		}
		if h, err := parseMDAHeader(b); err == nil {
			for _, rl := range h.Locns {
				// Any location the header names must be read within the given bytes or refused.
				text, err := readText(bytes.NewReader(b), int64(len(b)), 0, uint64(len(b)), rl)
				if err == nil && uint64(len(text)) != rl.Size {
					t.Fatalf("text of %d bytes for a %d-byte location", len(text), rl.Size)
				}
			}
		}
	})
}

func FuzzMetadataText(f *testing.F) {
	backup, err := os.ReadFile("testdata/lvm1.meta.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(backup)
	f.Add([]byte(vgTextFor("u", 8, lvDef("a", vis, seg(1, 0, 2, `type = "striped"`+"\nstripe_count = 2\nstripe_size = 8\nstripes = [\"pv0\", 0, \"pv0\", 4]")))))
	f.Add([]byte("a { b = [1, \"x\", 2.5] # c\n}\n"))
	disk := make([]byte, 64<<10)
	for i := range disk {
		disk[i] = byte(i * 7)
	}
	d := &pvDisk{Disk: Disk{bytes.NewReader(disk), int64(len(disk))}, label: &pvLabel{UUID: "u"}}
	pass := func(t *testing.T, text []byte) string {
		m, err := decodeVGText(text)
		if err != nil {
			return "decode: " + err.Error()
		}
		vg, err := build(m.root, m.vgKey, []*pvDisk{d})
		if err != nil {
			return "build: " + err.Error()
		}
		var sb strings.Builder
		for _, lv := range vg.LVs {
			fmt.Fprintf(&sb, "%s %d %s\n", lv.Name, lv.Size, readLV(t, lv))
		}
		return sb.String()
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		var first, second string
		fuzzcheck.Run(t, fuzzcheck.Limits{}, func() { first, second = pass(t, text), pass(t, text) })
		fuzzcheck.Same(t, "volume group", first, second)
	})
}

// compactSeed is the committed real PV (made by pvcreate/vgcreate/lvcreate,
// testdata/mklvm.sh) shrunk to 16 KiB: its label, a 4 KiB metadata area
// holding a VG with a two-segment linear LV and a striped one, and the
// extents after pe_start. Small extents keep every LV inside the image.
func compactSeed(t testing.TB) []byte {
	img := gunzip(t, "testdata/lvm1.img.gz")
	uuid := layoutUUID(t, img)
	text := vgTextFor(uuid, 1, lvDef("a", vis, seg(1, 0, 2, lin("pv0", 0)), seg(2, 2, 2, lin("pv0", 3)))+
		lvDef("s", vis, seg(1, 0, 4, `type = "striped"`+"\nstripe_count = 2\nstripe_size = 1\nstripes = [\"pv0\", 5, \"pv0\", 7]")))
	text = strings.ReplaceAll(text, "pe_start = 2048", "pe_start = 16")
	seed := compact(t, img, text, 4096, 16<<10)
	if vg, err := Open(bytes.NewReader(seed), int64(len(seed))); err != nil || len(vg.LVs) != 2 || !vg.LVs[0].Supported || !vg.LVs[1].Supported {
		t.Fatalf("seed does not open with 2 readable LVs: %+v, %v", vg, err)
	}
	return seed
}

// FuzzOpen mutates the whole compact PV: label, PV header, metadata area
// header and text, extents.
func FuzzOpen(f *testing.F) {
	f.Add(compactSeed(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkOpen(t, fuzzcheck.NewOverlay(b))
	})
}

// FuzzMetadataArea lays the fuzzer's text into the compact PV's metadata
// area, as LVM writes a new copy: at the start of the ring, with the
// metadata area header's location, size and checksum of the text and the
// header's own checksum recomputed, so the parser and the VG builder are
// reached by every input rather than stopped by a checksum.
func FuzzMetadataArea(f *testing.F) {
	base := compactSeed(f)
	l := layoutOf(f, base)
	ring := int(l.mdaSize) - mdaHeaderSize
	text, err := readText(bytes.NewReader(base), int64(len(base)), l.mdaStart, l.mdaSize, rawLocnOf(base, l))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(text)
	backup, err := os.ReadFile("testdata/lvm1.meta.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(backup[:min(len(backup), ring-1)])
	f.Fuzz(func(t *testing.T, text []byte) {
		text = text[:min(len(text), ring-1)]
		h := bytes.Clone(base[l.mdaStart : l.mdaStart+mdaHeaderSize])
		le := binary.LittleEndian
		le.PutUint64(h[40:], mdaHeaderSize)
		le.PutUint64(h[48:], uint64(len(text)))
		le.PutUint32(h[56:], lvmCRC(text))
		le.PutUint32(h[60:], 0)
		le.PutUint32(h, lvmCRC(h[4:]))
		ringBytes := make([]byte, ring) // no older copy to fall back on
		copy(ringBytes, text)
		checkOpen(t, fuzzcheck.NewOverlay(base,
			fuzzcheck.Patch{Off: int64(l.mdaStart), Data: h},
			fuzzcheck.Patch{Off: int64(l.mdaStart) + mdaHeaderSize, Data: ringBytes}))
	})
}

// rawLocnOf is the first metadata location the compact PV's area header
// records.
func rawLocnOf(img []byte, l pvLayout) rawLocn {
	h, err := parseMDAHeader(img[l.mdaStart : l.mdaStart+mdaHeaderSize])
	if err != nil || len(h.Locns) == 0 {
		panic(fmt.Sprintf("compact seed: metadata area header: %v", err))
	}
	return h.Locns[0]
}

// checkOpen opens the PV twice and asserts what holds whatever the bytes:
// no panic or hang, bounded allocation, no read outside the image (the
// overlay counts them), the same VG or error both times, and for every LV
// readable ranges that read fully or fail, never past the LV's size.
func checkOpen(t *testing.T, img *fuzzcheck.Overlay) {
	var first, second string
	fuzzcheck.Run(t, fuzzcheck.Limits{}, func() {
		first = openPass(t, img)
		second = openPass(t, img)
	})
	fuzzcheck.Same(t, "volume group", first, second)
}

func openPass(t *testing.T, img *fuzzcheck.Overlay) string {
	vg, err := Open(img, img.Size)
	if err != nil {
		return "error: " + err.Error()
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s seq %d extent %d notes %q\n", vg.Name, vg.UUID, vg.Seqno, vg.ExtentSize, vg.Notes)
	for _, lv := range vg.LVs {
		fmt.Fprintf(&sb, "%s %d %v %q %d segments: %s\n", lv.Name, lv.Size, lv.Supported, lv.Reason, len(lv.Segments), readLV(t, lv))
	}
	return sb.String()
}

// readLV reads a few ranges of a readable LV (start, middle, end, past
// the end) and returns what they gave.
func readLV(t *testing.T, lv LV) string {
	if !lv.Supported {
		if lv.ReaderAt != nil || lv.Reason == "" {
			t.Fatalf("LV %s: unsupported with reader %v, reason %q", lv.Name, lv.ReaderAt, lv.Reason)
		}
		return "unsupported"
	}
	if lv.Size < 0 || lv.ReaderAt == nil {
		t.Fatalf("LV %s: size %d, reader %v", lv.Name, lv.Size, lv.ReaderAt)
	}
	var sb strings.Builder
	buf := make([]byte, 4096)
	for _, off := range []int64{0, lv.Size / 2, lv.Size - 4096, lv.Size - 1, lv.Size} {
		if off < 0 {
			continue
		}
		n, err := lv.ReaderAt.ReadAt(buf, off)
		want := int(min(int64(len(buf)), lv.Size-off))
		switch {
		case n > want:
			t.Fatalf("LV %s: %d bytes at %d of %d", lv.Name, n, off, lv.Size)
		case n < len(buf) && err == nil:
			t.Fatalf("LV %s: short read %d at %d without an error", lv.Name, n, off)
		case n < want && err == io.EOF:
			t.Fatalf("LV %s: EOF after %d bytes at %d, inside the %d-byte LV", lv.Name, n, off, lv.Size)
		}
		fmt.Fprintf(&sb, "%d:%d:%08x:%v ", off, n, crc32.ChecksumIEEE(buf[:n]), err != nil)
	}
	return sb.String()
}

func layoutUUID(t testing.TB, img []byte) string {
	vg, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	return vg.PVs[0].UUID
}
