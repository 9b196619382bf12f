package container

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Small containers built byte by byte from the format specifications, for
// fuzz seeds and corruption tests. Each builder returns the file and the
// virtual disk it must read as; TestBuildersAgreeWithQemuImg checks that
// qemu-img reads them the same way, so the builders are not just this
// package's understanding mirrored back.

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

var be, le = binary.BigEndian, binary.LittleEndian

// buildQCOW2 makes a v3 qcow2 with 512-byte clusters: cluster 0 plain,
// cluster 1 deflate-compressed, cluster 2 flagged all-zero (with garbage
// behind it), the rest unallocated.
func buildQCOW2() (file, disk []byte) {
	const cs = 512
	size := 16 * cs
	disk = make([]byte, size)
	a, b := pattern(cs, 1), bytes.Repeat([]byte("compressible "), cs/13+1)[:cs]
	copy(disk, a)
	copy(disk[cs:], b)
	var zb bytes.Buffer
	zw, _ := flate.NewWriter(&zb, flate.BestCompression)
	zw.Write(b)
	zw.Close()
	file = make([]byte, 8*cs)
	h := file[:cs]
	copy(h, "QFI\xfb")
	be.PutUint32(h[4:], 3)
	be.PutUint32(h[20:], 9) // cluster bits
	be.PutUint64(h[24:], uint64(size))
	be.PutUint32(h[36:], 1)    // L1 entries
	be.PutUint64(h[40:], 1*cs) // L1 offset
	be.PutUint64(h[48:], 6*cs) // refcount table
	be.PutUint32(h[56:], 1)
	be.PutUint32(h[96:], 4)    // refcount order
	be.PutUint32(h[100:], 104) // header length
	be.PutUint64(file[1*cs:], 1<<63|2*cs)
	l2 := file[2*cs:]
	be.PutUint64(l2[0:], 1<<63|3*cs)
	// Compressed: bit 62, host offset in the low 61 bits (cluster bits 9),
	// no additional sectors.
	be.PutUint64(l2[8:], 1<<62|4*cs)
	be.PutUint64(l2[16:], 1<<63|5*cs|1) // all-zero flag
	copy(file[3*cs:], a)
	copy(file[4*cs:], zb.Bytes())
	copy(file[5*cs:], pattern(cs, 99))
	be.PutUint64(file[6*cs:], 7*cs)
	for i := 0; i < 8; i++ {
		be.PutUint16(file[7*cs+2*i:], 1)
	}
	return file, disk
}

func vhdFooterBytes(diskType uint32, size uint64, dataOffset uint64) []byte {
	f := make([]byte, 512)
	copy(f, "conectix")
	be.PutUint32(f[8:], 2)
	be.PutUint32(f[12:], 0x00010000)
	be.PutUint64(f[16:], dataOffset)
	copy(f[28:], "win ") // Hyper-V: current_size is the size, for qemu too
	copy(f[36:], "Wi2k")
	be.PutUint64(f[40:], size)
	be.PutUint64(f[48:], size)
	be.PutUint16(f[56:], 16)
	f[58], f[59] = 4, 17
	be.PutUint32(f[60:], diskType)
	copy(f[68:], "0123456789abcdef")
	be.PutUint32(f[64:], vhdChecksum(f, 64))
	return f
}

// buildVHD makes a dynamic VHD with 4 KiB blocks: block 0 present with a
// sector bitmap marking sectors 0, 2 and 3; block 1 not allocated. With
// garbage, the sectors the bitmap leaves out hold bytes that must not be
// read (qemu reads them anyway, so the qemu check uses garbage=false).
func buildVHD(garbage bool) (file, disk []byte) {
	const bs = 4096
	size := 2 * bs
	disk = make([]byte, size)
	file = make([]byte, 512+1024+512+512+bs+512)
	copy(file, vhdFooterBytes(vhdDynamic, uint64(size), 512))
	h := file[512:1536]
	copy(h, "cxsparse")
	be.PutUint64(h[8:], ^uint64(0))
	be.PutUint64(h[16:], 1536)
	be.PutUint32(h[24:], 0x00010000)
	be.PutUint32(h[28:], 2)
	be.PutUint32(h[32:], bs)
	be.PutUint32(h[36:], vhdChecksum(h, 36))
	bat := file[1536:2048]
	for i := 0; i < len(bat); i += 4 {
		be.PutUint32(bat[i:], 0xffffffff)
	}
	be.PutUint32(bat, 2048/512)
	file[2048] = 0b1011_0000
	data := file[2560 : 2560+bs]
	for _, s := range []int{0, 2, 3} {
		copy(data[s*512:], pattern(512, byte(s)))
		copy(disk[s*512:], pattern(512, byte(s)))
	}
	if garbage {
		copy(data[512:1024], pattern(512, 200))
	}
	copy(file[len(file)-512:], file[:512])
	return file, disk
}

func buildFixedVHD() (file, disk []byte) {
	disk = pattern(8192, 5)
	return append(bytes.Clone(disk), vhdFooterBytes(vhdFixed, 8192, ^uint64(0))...), disk
}

// buildVMDK makes a monolithicSparse (or, compressed, a streamOptimized-
// style) VMDK with 4 KiB grains: grain 0 present, grain 1 not.
func buildVMDK(compressed bool) (file, disk []byte) {
	const gs = 4096
	size := 2 * gs
	disk = make([]byte, size)
	g0 := bytes.Repeat([]byte("grain zero "), gs/11+1)[:gs]
	copy(disk, g0)
	file = make([]byte, 512*(7+8+1))
	h := file[:512]
	copy(h, "KDMV")
	flags := uint32(3)
	ct := "monolithicSparse"
	version := uint32(1)
	if compressed {
		flags |= vmdkFlagCompressed | vmdkFlagMarkers
		ct = "streamOptimized"
		version = 3
	}
	le.PutUint32(h[4:], version)
	le.PutUint32(h[8:], flags)
	le.PutUint64(h[12:], uint64(size/512))
	le.PutUint64(h[20:], gs/512)
	le.PutUint64(h[28:], 1) // descriptor sector
	le.PutUint64(h[36:], 1)
	le.PutUint32(h[44:], 512)
	le.PutUint64(h[56:], 2) // GD sector
	le.PutUint64(h[64:], 7) // overhead
	copy(h[73:], "\n \r\n")
	if compressed {
		le.PutUint16(h[77:], 1)
	}
	copy(file[512:], "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\""+ct+"\"\n# Extent description\nRW 16 SPARSE \"t.vmdk\"\n")
	le.PutUint32(file[1024:], 3) // GD[0] = GT at sector 3
	le.PutUint32(file[1536:], 7) // GT[0] = grain at sector 7
	if compressed {
		var zb bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&zb, zlib.BestCompression)
		zw.Write(g0)
		zw.Close()
		le.PutUint64(file[7*512:], 0)
		le.PutUint32(file[7*512+8:], uint32(zb.Len()))
		copy(file[7*512+12:], zb.Bytes())
	} else {
		copy(file[7*512:], g0)
	}
	return file, disk
}

var vhdxGUIDs = struct{ fileParams, size, logical, physical, page83 []byte }{
	[]byte("\x37\x67\xa1\xca\x36\xfa\x43\x4d\xb3\xb6\x33\xf0\xaa\x44\xe7\x6b"),
	[]byte("\x24\x42\xa5\x2f\x1b\xcd\x76\x48\xb2\x11\x5d\xbe\xd8\x3b\xf4\xb8"),
	[]byte("\x1d\xbf\x41\x81\x6f\xa9\x09\x47\xba\x47\xf2\x33\xa8\xfa\xab\x5f"),
	[]byte("\xc7\x48\xa3\xcd\x5d\x44\x71\x44\x9c\xc9\xe9\x88\x52\x51\xc5\x56"),
	[]byte("\xab\x12\xca\xbe\xe6\xb2\x23\x45\x93\xef\xc3\x09\xe0\x00\xc7\x46"),
}

func crcFix(b []byte) {
	copy(b[4:8], []byte{0, 0, 0, 0})
	le.PutUint32(b[4:], crc32.Checksum(b, castagnoli))
}

// vhdxParts are the structures of a VHDX, placed at fixed offsets by
// vhdxFile: header (64 KiB and 128 KiB), region table (192 and 256 KiB),
// metadata (2 MiB), BAT (3 MiB); the one data block is at 4 MiB.
type vhdxParts struct{ header, region, meta, bat []byte }

const (
	vhdxMeta  = 2 << 20
	vhdxBAT   = 3 << 20
	vhdxData  = 4 << 20
	vhdxFileN = 5 << 20
)

// buildVHDX makes a dynamic VHDX of 2 MiB: block 0 present at 4 MiB,
// block 1 not. dirty sets a LogGuid (log not replayed).
func buildVHDX(dirty bool) (vhdxParts, []byte) {
	disk := make([]byte, 2<<20)
	copy(disk, pattern(1<<20, 3))
	h := make([]byte, 4096)
	copy(h, "head")
	le.PutUint64(h[8:], 1)
	copy(h[16:], "file-write-guid!")
	copy(h[32:], "data-write-guid!")
	if dirty {
		copy(h[48:], "log-guid-set-now")
	}
	le.PutUint16(h[66:], 1)
	le.PutUint32(h[68:], 1<<20)
	le.PutUint64(h[72:], 1<<20)
	crcFix(h)
	r := make([]byte, 64<<10)
	copy(r, "regi")
	le.PutUint32(r[8:], 2)
	copy(r[16:], vhdxBATGUID)
	le.PutUint64(r[32:], vhdxBAT)
	le.PutUint32(r[40:], 1<<20)
	le.PutUint32(r[44:], 1)
	copy(r[48:], vhdxMetadataGUID)
	le.PutUint64(r[64:], vhdxMeta)
	le.PutUint32(r[72:], 1<<20)
	le.PutUint32(r[76:], 1)
	crcFix(r)
	m := make([]byte, 64<<10+4096)
	copy(m, "metadata")
	items := []struct {
		id    []byte
		data  []byte
		flags uint32
	}{
		{vhdxGUIDs.fileParams, le.AppendUint32(le.AppendUint32(nil, 1<<20), 0), 4},
		{vhdxGUIDs.size, le.AppendUint64(nil, uint64(len(disk))), 6},
		{vhdxGUIDs.page83, []byte("page-83-data-id!"), 6},
		{vhdxGUIDs.logical, le.AppendUint32(nil, 512), 6},
		{vhdxGUIDs.physical, le.AppendUint32(nil, 4096), 6},
	}
	le.PutUint16(m[10:], uint16(len(items)))
	at := 64 << 10
	for i, it := range items {
		e := m[32+32*i:]
		copy(e, it.id)
		le.PutUint32(e[16:], uint32(at))
		le.PutUint32(e[20:], uint32(len(it.data)))
		le.PutUint32(e[24:], it.flags)
		copy(m[at:], it.data)
		at += 16
	}
	bat := make([]byte, 16)
	le.PutUint64(bat, 6|uint64(vhdxData>>20)<<20)
	return vhdxParts{h, r, m, bat}, disk
}

// sparseFile is a zero file of size bytes with parts laid over it: a
// VHDX's structures are spread over megabytes that are mostly zeros.
type sparseFile struct {
	size  int64
	parts []sparsePart
}

type sparsePart struct {
	off  int64
	data []byte
}

func (s *sparseFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, errEOF
	}
	n := len(p)
	if int64(n) > s.size-off {
		n = int(s.size - off)
	}
	zero(p[:n])
	for _, pt := range s.parts {
		lo, hi := max(off, pt.off), min(off+int64(n), pt.off+int64(len(pt.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], pt.data[lo-pt.off:hi-pt.off])
		}
	}
	if n < len(p) {
		return n, errEOF
	}
	return n, nil
}

func vhdxFile(p vhdxParts, block []byte) *sparseFile {
	return &sparseFile{size: vhdxFileN, parts: []sparsePart{
		{0, []byte("vhdxfile")},
		{64 << 10, p.header}, {128 << 10, p.header},
		{192 << 10, p.region}, {256 << 10, p.region},
		{vhdxMeta, p.meta}, {vhdxBAT, p.bat}, {vhdxData, block},
	}}
}

func (s *sparseFile) bytes() []byte {
	b := make([]byte, s.size)
	s.ReadAt(b, 0)
	return b
}

// Qemu is the oracle for the builders: it must read each built file as the
// disk the builder says it holds.
func TestBuildersAgreeWithQemuImg(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	vx, vxDisk := buildVHDX(false)
	type built struct {
		name, format string
		file, disk   []byte
	}
	var all []built
	add := func(name, format string, f, d []byte) { all = append(all, built{name, format, f, d}) }
	f, d := buildQCOW2()
	add("q.qcow2", "qcow2", f, d)
	f, d = buildVHD(false)
	add("d.vhd", "vpc", f, d)
	f, d = buildFixedVHD()
	add("f.vhd", "vpc", f, d)
	f, d = buildVMDK(false)
	add("s.vmdk", "vmdk", f, d)
	f, d = buildVMDK(true)
	add("c.vmdk", "vmdk", f, d)
	add("x.vhdx", "vhdx", vhdxFile(vx, pattern(1<<20, 3)).bytes(), vxDisk)
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			in, out := filepath.Join(dir, b.name), filepath.Join(dir, b.name+".raw")
			if err := os.WriteFile(in, b.file, 0o644); err != nil {
				t.Fatal(err)
			}
			qemuImg(t, "convert", "-f", b.format, "-O", "raw", in, out)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(got, b.disk); i >= 0 || len(got) != len(b.disk) {
				t.Fatalf("qemu-img reads %d bytes, builder says %d; first difference at %d", len(got), len(b.disk), i)
			}
			dk, err := Open(bytes.NewReader(b.file), int64(len(b.file)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, b.disk, 0o644); err != nil {
				t.Fatal(err)
			}
			sameAsRaw(t, dk, out)
		})
	}
}

var errEOF = io.EOF
