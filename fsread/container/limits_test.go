package container

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes the Go heap handed out while f ran: the cost
// of a hostile header, whatever the GC freed since.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Each container's header claims a table of gigabytes inside a file that is
// that large but sparse (a few KiB of real bytes): the claim must cost a
// page of the table, or be refused, never be allocated as asked.
func TestHugeClaimedTablesCostLittle(t *testing.T) {
	const huge = 64 << 30
	qcow, _ := buildQCOW2()
	vhd, _ := buildVHD(false)
	vmdk, _ := buildVMDK(false)
	vx, _ := buildVHDX(false)
	cases := []struct {
		name     string
		file     *sparseFile
		want     string // in the error; "" = opens and reads
		maxAlloc uint64
	}{
		{"qcow2 L1 of 3 GiB", func() *sparseFile {
			b := bytes.Clone(qcow)
			be.PutUint32(b[36:], 3<<30/8)
			return &sparseFile{size: huge, parts: []sparsePart{{0, b}}}
		}(), "over the 33554432-byte limit", 1 << 20},
		{"qcow2 L1 of 2^32-1 entries", func() *sparseFile {
			b := bytes.Clone(qcow)
			be.PutUint32(b[36:], 0xffffffff)
			return &sparseFile{size: huge, parts: []sparsePart{{0, b}}}
		}(), "refused", 1 << 20},
		{"qcow2 L1 longer than the virtual size needs", func() *sparseFile {
			// Legal (qemu allows up to 32 MiB), but only the one entry the
			// 8 KiB disk needs may be read.
			b := bytes.Clone(qcow)
			be.PutUint32(b[36:], qcow2MaxL1Entries)
			return &sparseFile{size: huge, parts: []sparsePart{{0, b}}}
		}(), "", 4 << 20},
		{"qcow2 header extensions past the first cluster", func() *sparseFile {
			b := bytes.Clone(qcow)
			for off := 104; off+8 <= 512; off += 8 {
				be.PutUint32(b[off:], 0x1234)
				be.PutUint32(b[off+4:], 0)
			}
			return &sparseFile{size: huge, parts: []sparsePart{{0, b[:512]}, {512, qcow[512:]}}}
		}(), "header extensions run past the first cluster", 1 << 20},
		{"vhd BAT of 2 GiB, data where entry 128 would be", func() *sparseFile {
			b := bytes.Clone(vhd[:2560+4096])
			size := uint64(2000 << 30)
			be.PutUint64(b[40:], size)
			be.PutUint64(b[48:], size)
			be.PutUint32(b[64:], vhdChecksum(b[:512], 64))
			be.PutUint32(b[512+28:], uint32(size/4096))
			tail := bytes.Clone(b[:512])
			return &sparseFile{size: huge, parts: []sparsePart{{0, b}, {huge - 512, tail}}}
		}(), "vhd BAT entry 128", 4 << 20},
		{"vmdk grain directory of 1 GiB", func() *sparseFile {
			b := bytes.Clone(vmdk)
			le.PutUint64(b[12:], 1<<44) // sectors: 2^28 grain tables of 512 grains
			return &sparseFile{size: huge, parts: []sparsePart{{0, b}}}
		}(), "", 4 << 20},
		{"vhdx metadata table of 65535 entries", func() *sparseFile {
			p := vx
			p.meta = bytes.Clone(p.meta)
			le.PutUint16(p.meta[10:], 0xffff)
			return vhdxFile(p, pattern(1<<20, 3))
		}(), "metadata table claims 65535 entries", 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = openAndRead(t, tc.file, tc.file.size) })
			if tc.want == "" && err != nil {
				t.Fatalf("error %v, want a readable disk", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			// openAndRead's own 64 KiB buffer is part of the count.
			if n > tc.maxAlloc {
				t.Errorf("allocated %d bytes for a header claiming huge tables, want at most %d", n, tc.maxAlloc)
			}
			t.Logf("%v; allocated %d KiB", err, n>>10)
		})
	}
}

// The largest L1 table qemu allows is read whole by the library: that is the
// documented worst case of a qcow2 open (twice 32 MiB), measured here.
func TestQCOW2LargestLegalL1(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 32 MiB of L1 table")
	}
	b, _ := buildQCOW2()
	b = bytes.Clone(b)
	be.PutUint32(b[36:], qcow2MaxL1Entries)
	// 64 KiB clusters: one L1 entry covers 512 MiB.
	be.PutUint32(b[20:], 16)
	be.PutUint64(b[24:], uint64(qcow2MaxL1Entries)<<29)
	be.PutUint64(b[40:], 1<<16)
	f := &sparseFile{size: 1 << 40, parts: []sparsePart{{0, b[:512]}}}
	var err error
	n := allocated(func() { _, err = Open(f, f.size, Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	if n > 80<<20 {
		t.Errorf("allocated %d MiB for the largest legal L1 table, want at most 80", n>>20)
	}
	t.Logf("largest legal L1 table (%d entries): %d MiB allocated", qcow2MaxL1Entries, n>>20)
}
