package container

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

func TestVMDKBuilt(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		file, disk := buildVMDK(compressed)
		d, err := openAndRead(t, bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "vmdk (monolithicSparse)", true: "vmdk (streamOptimized)"}[compressed]
		if d.Format != want {
			t.Errorf("format %q, want %q", d.Format, want)
		}
		got := make([]byte, d.Size)
		if _, err := d.ReaderAt.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(got, disk); i >= 0 {
			t.Fatalf("compressed=%v: first difference at %d", compressed, i)
		}
	}
}

func TestVMDKCorrupt(t *testing.T) {
	setDesc := func(text string) func([]byte) []byte {
		return func(b []byte) []byte {
			copy(b[512:1024], make([]byte, 512))
			copy(b[512:], text)
			return b
		}
	}
	put64 := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint64(b[off:], v); return b }
	}
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint32(b[off:], v); return b }
	}
	sparse, _ := buildVMDK(false)
	checkCorruptions(t, sparse, []corruption{
		{"truncated header", func(b []byte) []byte { return b[:100] }, "outside the file", ""},
		{"grain cut short", func(b []byte) []byte { return b[:7*512+100] }, "outside the file", ""},
		{"GD past EOF", put64(56, 1<<40), "grain directory", ""},
		{"GT past EOF", put32(1024, 1<<30), "grain table", ""},
		{"grain past EOF", put32(1536, 1<<30), "outside the file", ""},
		{"huge capacity", put64(12, 1<<50), "grain directory", ""},
		{"grain size 3", put64(20, 3), "grain size", ""},
		{"1000 GTEs", put32(44, 1000), "grain table", ""},
		{"GT is the GD", put32(1024, 2), "", ""},
		{"version 9", put32(4, 9), "not supported", ""},
		{"no extent in descriptor", setDesc("# Disk DescriptorFile\nversion=1\n"), "no extent", ""},
		{"child disk", setDesc("# Disk DescriptorFile\nparentCID=0badcafe\nparentFileNameHint=\"base.vmdk\"\nRW 16 SPARSE \"t.vmdk\"\n"), "base.vmdk", ""},
		{"two extents", setDesc("# Disk DescriptorFile\nRW 8 SPARSE \"a.vmdk\"\nRW 8 SPARSE \"b.vmdk\"\n"), "multi-extent", ""},
		{"no descriptor", func(b []byte) []byte { le.PutUint64(b[28:], 0); le.PutUint64(b[36:], 0); return b }, "", "without an embedded descriptor"},
	})
	stream, _ := buildVMDK(true)
	checkCorruptions(t, stream, []corruption{
		{"compressed size past EOF", put32(7*512+8, 1<<30), "does not fit", ""},
		{"compressed garbage", func(b []byte) []byte { copy(b[7*512+12:], "not zlib at all"); return b }, "compressed grain", ""},
		{"GD at end without footer", put64(56, vmdkGDAtEnd), "footer", ""},
		{"compression algorithm 7", func(b []byte) []byte { le.PutUint16(b[77:], 7); return b }, "not supported", ""},
	})
}

func TestVMDKDescriptorOnly(t *testing.T) {
	desc := "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\n# Extent description\nRW 2048 FLAT \"disk-flat.vmdk\" 0\n"
	_, err := Open(strings.NewReader(desc), int64(len(desc)), Options{})
	var u *UnsupportedError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "disk-flat.vmdk") || !strings.Contains(err.Error(), "monolithicFlat") {
		t.Fatalf("Open = %v, want an UnsupportedError naming the extent file and type", err)
	}
}

func FuzzVMDK(f *testing.F) {
	sparse, _ := buildVMDK(false)
	stream, _ := buildVMDK(true)
	f.Add(sparse)
	f.Add(stream)
	f.Add([]byte("# Disk DescriptorFile\ncreateType=\"twoGbMaxExtentSparse\"\nRW 8 SPARSE \"a-s001.vmdk\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOpen(t, fuzzcheck.NewOverlay(data), int64(len(data)))
	})
}
