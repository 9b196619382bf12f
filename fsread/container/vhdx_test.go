package container

import (
	"errors"
	"strings"
	"testing"
)

func TestVHDXBuilt(t *testing.T) {
	for _, dirty := range []bool{false, true} {
		p, disk := buildVHDX(dirty)
		f := vhdxFile(p, pattern(1<<20, 3))
		d, err := openAndRead(t, f, f.size)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, d.Size)
		if _, err := d.ReaderAt.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(got, disk); i >= 0 {
			t.Fatalf("first difference at %d", i)
		}
		notes := strings.Join(d.Notes, "\n")
		if dirty != strings.Contains(notes, "log is dirty, not replayed") {
			t.Errorf("dirty=%v, notes %q", dirty, d.Notes)
		}
	}
}

func TestVHDXCorrupt(t *testing.T) {
	type tc struct {
		name   string
		mutate func(*vhdxParts, *sparseFile)
		want   string
	}
	meta := func(item int, data []byte) func(*vhdxParts, *sparseFile) {
		return func(p *vhdxParts, _ *sparseFile) { copy(p.meta[64<<10+16*item:], data) }
	}
	for _, c := range []tc{
		{"truncated to 100 KiB", func(_ *vhdxParts, f *sparseFile) { f.size = 100 << 10 }, "outside the file"},
		{"bad header checksums", func(p *vhdxParts, _ *sparseFile) { p.header[100] ^= 1 }, "neither header"},
		{"bad region checksum", func(p *vhdxParts, _ *sparseFile) { p.region[100] ^= 1 }, "region table"},
		{"region entries 100000", func(p *vhdxParts, _ *sparseFile) { le.PutUint32(p.region[8:], 100000); crcFix(p.region) }, "2047"},
		{"region past EOF", func(p *vhdxParts, _ *sparseFile) { le.PutUint64(p.region[32:], 1<<40); crcFix(p.region) }, "outside the file"},
		{"BAT entry past EOF", func(p *vhdxParts, _ *sparseFile) { le.PutUint64(p.bat, 6|1<<50) }, "ends before"},
		{"block size 3", meta(0, le.AppendUint32(nil, 3)), "block size"},
		{"block size 512 MiB", meta(0, le.AppendUint32(nil, 512<<20)), "block size"},
		{"virtual size 1 PiB", meta(1, le.AppendUint64(nil, 1<<50)), "64 TiB"},
		{"sector size 1000", meta(3, le.AppendUint32(nil, 1000)), "sector size"},
		{"differencing", meta(0, le.AppendUint32(le.AppendUint32(nil, 1<<20), 2)), "not followed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := buildVHDX(false)
			f := vhdxFile(p, pattern(1<<20, 3))
			c.mutate(&p, f)
			f = &sparseFile{size: f.size, parts: vhdxFile(p, pattern(1<<20, 3)).parts}
			_, err := openAndRead(t, f, f.size)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			t.Log(err)
		})
	}
	p, _ := buildVHDX(false)
	copy(p.meta[64<<10:], le.AppendUint32(le.AppendUint32(nil, 1<<20), 2))
	f := vhdxFile(p, nil)
	var u *UnsupportedError
	if _, err := Open(f, f.size, Options{}); !errors.As(err, &u) {
		t.Errorf("differencing VHDX: %v, want an UnsupportedError", err)
	}
}

// FuzzVHDX mutates the structures, not the megabytes of zeros between them:
// the harness lays them out at their offsets, optionally with checksums
// recomputed so mutations get past the CRC checks.
func FuzzVHDX(f *testing.F) {
	for _, dirty := range []bool{false, true} {
		p, _ := buildVHDX(dirty)
		f.Add(p.header, p.region[:512], p.meta[:32*6], p.meta[64<<10:64<<10+80], p.bat, true)
	}
	f.Fuzz(func(t *testing.T, header, region, metaTable, metaItems, bat []byte, fixCRC bool) {
		p := vhdxParts{
			header: make([]byte, 4096),
			region: make([]byte, 64<<10),
			meta:   make([]byte, 64<<10+4096),
			bat:    bat[:min(len(bat), 64<<10)],
		}
		copy(p.header, header)
		copy(p.region, region)
		copy(p.meta, metaTable[:min(len(metaTable), 64<<10)])
		copy(p.meta[64<<10:], metaItems)
		if fixCRC {
			crcFix(p.header)
			crcFix(p.region)
		}
		sf := vhdxFile(p, []byte("block data"))
		fuzzOpen(t, sf, sf.size)
	})
}
