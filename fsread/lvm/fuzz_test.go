package lvm

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// Run with: go test -run '^$' -fuzz FuzzLabel ./fsread/lvm (likewise FuzzMetadataText, FuzzOpen).

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
	f.Fuzz(func(t *testing.T, text []byte) {
		m, err := decodeVGText(text)
		if err != nil {
			return
		}
		d := &pvDisk{Disk: Disk{bytes.NewReader(disk), int64(len(disk))}, label: &pvLabel{UUID: "u"}}
		vg, err := build(m.root, m.vgKey, []*pvDisk{d})
		if err != nil {
			return
		}
		readAll(t, vg)
	})
}

func FuzzOpen(f *testing.F) {
	img := gunzip(f, "testdata/lvm1.img.gz")
	uuid := layoutUUID(f, img)
	text := vgTextFor(uuid, 1, lvDef("a", vis, seg(1, 0, 2, lin("pv0", 0)), seg(2, 2, 2, lin("pv0", 3)))+
		lvDef("s", vis, seg(1, 0, 4, `type = "striped"`+"\nstripe_count = 2\nstripe_size = 1\nstripes = [\"pv0\", 5, \"pv0\", 7]")))
	// Small extents and a small metadata area keep the seed at 16 KiB: the
	// fuzzer's minimisation is slow on large inputs.
	text = strings.ReplaceAll(text, "pe_start = 2048", "pe_start = 16")
	seed := compact(f, img, text, 4096, 16<<10)
	if vg, err := Open(bytes.NewReader(seed), int64(len(seed))); err != nil || len(vg.LVs) != 2 || !vg.LVs[0].Supported || !vg.LVs[1].Supported {
		f.Fatalf("seed does not open with 2 readable LVs: %+v, %v", vg, err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		vg, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		readAll(t, vg)
	})
}

func layoutUUID(t testing.TB, img []byte) string {
	vg, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	return vg.PVs[0].UUID
}

// readAll reads every readable LV to its end: mapping errors must surface as
// errors, never as panics or short reads without one.
func readAll(t *testing.T, vg *VG) {
	for _, lv := range vg.LVs {
		if !lv.Supported {
			if lv.ReaderAt != nil || lv.Reason == "" {
				t.Fatalf("LV %s: unsupported with reader %v, reason %q", lv.Name, lv.ReaderAt, lv.Reason)
			}
			continue
		}
		if lv.Size > 1<<20 {
			continue
		}
		n, err := io.Copy(io.Discard, io.NewSectionReader(lv.ReaderAt, 0, lv.Size))
		if err != nil || n != lv.Size {
			t.Fatalf("LV %s: read %d of %d: %v", lv.Name, n, lv.Size, err)
		}
	}
}
