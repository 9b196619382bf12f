package container

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	vhdx "github.com/Velocidex/go-vhdx/parser"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	vhdxBATGUID      = []byte{0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08}
	vhdxMetadataGUID = []byte{0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e}
)

// vhdxChecked verifies a 4 KiB header or 64 KiB region table: signature
// and CRC-32C over the structure with its checksum field zeroed.
func vhdxChecked(b []byte, sig string) bool {
	if string(b[:4]) != sig {
		return false
	}
	want := binary.LittleEndian.Uint32(b[4:])
	c := bytes.Clone(b)
	copy(c[4:8], []byte{0, 0, 0, 0})
	return crc32.Checksum(c, castagnoli) == want
}

// openVHDX checks what the library takes on trust (which header is
// current, table sizes, region bounds, the log) and then reads through it.
func openVHDX(f *file) (*Disk, error) {
	var notes []string
	var cur []byte
	var seq uint64
	for _, off := range []int64{64 << 10, 128 << 10} {
		b, err := f.read("vhdx header", off, 4096)
		if err != nil {
			continue
		}
		if vhdxChecked(b, "head") {
			if s := binary.LittleEndian.Uint64(b[8:]); cur == nil || s > seq {
				cur, seq = b, s
			}
		}
	}
	if cur == nil {
		return nil, fmt.Errorf("vhdx: neither header (at 64 KiB and 128 KiB) has a valid signature and checksum: truncated or corrupt")
	}
	if v := binary.LittleEndian.Uint16(cur[66:]); v != 1 {
		return nil, &UnsupportedError{fmt.Sprintf("vhdx version %d", v), "only version 1 is read"}
	}
	if !bytes.Equal(cur[48:64], make([]byte, 16)) {
		// A non-empty LogGuid means the log holds writes not yet applied
		// to the data: Hyper-V would replay them on open; this reader must
		// not write, so the examiner is told the disk may be stale.
		notes = append(notes, "VHDX log is dirty, not replayed: the most recent writes may be missing from the virtual disk")
	}
	// The library reads the first region table only.
	rt, err := f.read("region table", 192<<10, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("vhdx: %w", err)
	}
	if !vhdxChecked(rt, "regi") {
		return nil, fmt.Errorf("vhdx: region table at 192 KiB has a bad signature or checksum: corrupt")
	}
	count := binary.LittleEndian.Uint32(rt[8:])
	if count > 2047 {
		return nil, fmt.Errorf("vhdx: region table claims %d entries, the format allows 2047", count)
	}
	var haveBAT, haveMeta bool
	var metaOff uint64
	for i := uint32(0); i < count; i++ {
		e := rt[16+32*i : 16+32*(i+1)]
		off := binary.LittleEndian.Uint64(e[16:])
		length := binary.LittleEndian.Uint32(e[24:])
		if off > uint64(f.size) || uint64(length) > uint64(f.size)-off {
			return nil, fmt.Errorf("vhdx: region %d at offset %d (%d bytes) lies outside the file (%d bytes): truncated or corrupt", i, off, length, f.size)
		}
		switch {
		case bytes.Equal(e[:16], vhdxBATGUID):
			haveBAT = true
		case bytes.Equal(e[:16], vhdxMetadataGUID):
			haveMeta, metaOff = true, off
		}
	}
	if !haveBAT || !haveMeta {
		return nil, fmt.Errorf("vhdx: region table lacks the BAT or metadata region")
	}
	// The library makes one entry per metadata table entry the table header
	// claims; the format allows 2047.
	if mh, err := f.read("vhdx metadata table header", int64(metaOff), 32); err != nil {
		return nil, fmt.Errorf("vhdx: %w", err)
	} else if n := binary.LittleEndian.Uint16(mh[10:]); string(mh[:8]) == "metadata" && n > 2047 {
		return nil, fmt.Errorf("vhdx: metadata table claims %d entries, the format allows 2047", n)
	}
	v, err := vhdx.NewVHDXFile(f.r)
	if err != nil {
		return nil, fmt.Errorf("vhdx: %w", err)
	}
	m := v.Metadata
	if m.HasParent {
		return nil, &UnsupportedError{"vhdx (differencing)", "parent disk not followed"}
	}
	bs := m.BlockSize
	if bs < 1<<20 || bs > 256<<20 || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("vhdx: block size %d is not a power of two in 1..256 MiB", bs)
	}
	if m.LogicalSectorSize != 512 && m.LogicalSectorSize != 4096 {
		return nil, fmt.Errorf("vhdx: logical sector size %d is neither 512 nor 4096", m.LogicalSectorSize)
	}
	if m.VirtualDiskSize > 64<<40 {
		return nil, fmt.Errorf("vhdx: virtual size %d exceeds the 64 TiB the format allows", m.VirtualDiskSize)
	}
	return &Disk{Format: "vhdx", Size: int64(m.VirtualDiskSize), ReaderAt: v, Notes: notes}, nil
}
