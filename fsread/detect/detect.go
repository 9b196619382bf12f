// Package detect names what a volume holds from its own magic numbers, never
// from the partition type: partition types lie (a "Linux" partition holding
// NTFS, an unlabelled bare disk), superblocks do not.
package detect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Kind is the content of a volume as detected.
type Kind string

const (
	Unknown   Kind = "unknown"
	Empty     Kind = "empty" // the probed regions are all zero
	Ext2      Kind = "ext2"
	Ext3      Kind = "ext3"
	Ext4      Kind = "ext4"
	NTFS      Kind = "ntfs"
	FAT       Kind = "vfat"
	ExFAT     Kind = "exfat"
	XFS       Kind = "xfs"
	Btrfs     Kind = "btrfs"
	LVM2      Kind = "lvm2-pv"
	LUKS      Kind = "luks"
	BitLocker Kind = "bitlocker"
	Swap      Kind = "swap"
	ISO9660   Kind = "iso9660"
	Squashfs  Kind = "squashfs"
	ZFS       Kind = "zfs-member"
	MDRAID    Kind = "linux-raid-member"
)

// Result is what the probe found.
type Result struct {
	Kind  Kind
	Label string
	UUID  string
	// Note is a detail worth showing (FAT variant, LUKS version).
	Note string
}

// IsExt reports whether k is one of the ext family.
func (k Kind) IsExt() bool { return k == Ext2 || k == Ext3 || k == Ext4 }

// Encrypted reports whether the content cannot be read without a key.
func (k Kind) Encrypted() bool { return k == LUKS || k == BitLocker }

// probeLen covers every magic below except btrfs's and ISO's, read lazily.
const probeLen = 8192

// Probe reads the first sectors of r (size bytes) and names the content.
// Short reads are fine: a truncated volume probes as what it still shows.
func Probe(r io.ReaderAt, size int64) (Result, error) {
	head := make([]byte, min(int64(probeLen), max(size, 0)))
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF && n == 0 {
		return Result{Kind: Unknown}, fmt.Errorf("reading volume head: %w", err)
	}
	head = head[:n]
	at := func(off int, magic string) bool {
		return off+len(magic) <= len(head) && string(head[off:off+len(magic)]) == magic
	}

	switch {
	case at(3, "NTFS    ") && len(head) >= 512:
		return Result{Kind: NTFS, UUID: fmt.Sprintf("%016X", le64(head, 0x48))}, nil
	case at(3, "-FVE-FS-"):
		return Result{Kind: BitLocker}, nil
	case at(3, "EXFAT   ") && len(head) >= 512:
		return Result{Kind: ExFAT, UUID: fmt.Sprintf("%08X", le32(head, 100))}, nil
	case at(0, "LUKS\xba\xbe") && len(head) >= 8:
		v := binary.BigEndian.Uint16(head[6:8])
		res := Result{Kind: LUKS, Note: fmt.Sprintf("LUKS%d", v)}
		if len(head) >= 168+40 {
			res.UUID = cstr(head[168 : 168+40])
		}
		return res, nil
	case at(0, "XFSB"):
		res := Result{Kind: XFS}
		if len(head) >= 120 {
			res.UUID = uuid(head[32:48])
			res.Label = cstr(head[108:120])
		}
		return res, nil
	case at(0, "hsqs"):
		return Result{Kind: Squashfs}, nil
	}
	if len(head) >= 1024+136 && le16(head, 1024+56) == 0xEF53 {
		return probeExt(head[1024:]), nil
	}
	for _, off := range []int{0, 512, 1024, 1536} {
		if at(off, "LABELONE") && at(off+24, "LVM2 001") {
			return Result{Kind: LVM2, UUID: cstr(head[off+32 : off+64])}, nil
		}
	}
	if len(head) >= 4096 && (at(4096-10, "SWAPSPACE2") || at(4096-10, "SWAP-SPACE")) {
		res := Result{Kind: Swap}
		if len(head) >= 1024+0x1c+16+16 {
			res.UUID = uuid(head[1024+0xc : 1024+0x1c])
			res.Label = cstr(head[1024+0x1c : 1024+0x2c])
		}
		return res, nil
	}
	if len(head) >= 4096+4 && le32(head, 4096) == 0xa92b4efc {
		return Result{Kind: MDRAID}, nil
	}
	if fat, ok := probeFAT(head); ok {
		return fat, nil
	}
	if size > 0x10040+8 {
		b := make([]byte, 0x10040+0x12b-0x10000)
		if n, _ := r.ReadAt(b, 0x10000); n == len(b) && string(b[0x40:0x48]) == "_BHRfS_M" {
			return Result{Kind: Btrfs, UUID: uuid(b[0x20:0x30]), Label: cstr(b[0x12b-0x100:])}, nil
		}
		iso := make([]byte, 6)
		if n, _ := r.ReadAt(iso, 0x8000); n == 6 && string(iso[1:6]) == "CD001" {
			return Result{Kind: ISO9660}, nil
		}
	}
	if len(head) > 0 && allZero(head) {
		return Result{Kind: Empty}, nil
	}
	return Result{Kind: Unknown}, nil
}

// probeExt tells ext2/3/4 apart the way blkid does: by feature flags.
func probeExt(sb []byte) Result {
	compat, incompat, roCompat := le32(sb, 0x5C), le32(sb, 0x60), le32(sb, 0x64)
	res := Result{Kind: Ext2, UUID: uuid(sb[0x68:0x78]), Label: cstr(sb[0x78:0x88])}
	const (
		compatJournal = 0x4
		ext4Incompat  = 0x40 | 0x80 | 0x200 | 0x400 | 0x8000 | 0x10000 // extents, 64bit, flex_bg, ea_inode, inline_data, encrypt
		ext4RoCompat  = 0x8 | 0x10 | 0x20 | 0x40 | 0x400               // huge_file, gdt_csum, dir_nlink, extra_isize, metadata_csum
	)
	switch {
	case incompat&ext4Incompat != 0 || roCompat&ext4RoCompat != 0:
		res.Kind = Ext4
	case compat&compatJournal != 0:
		res.Kind = Ext3
	}
	if incompat&0x4 != 0 {
		res.Note = "journal needs recovery (replayed in memory by default; see the volume's recovery state)"
	}
	return res
}

func probeFAT(b []byte) (Result, bool) {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return Result{}, false
	}
	bps := le16(b, 11)
	if bps != 512 && bps != 1024 && bps != 2048 && bps != 4096 {
		return Result{}, false
	}
	switch {
	case string(b[82:87]) == "FAT32":
		return Result{Kind: FAT, Note: "FAT32", UUID: fatSerial(b, 67), Label: fatLabel(b[71:82])}, true
	case string(b[54:59]) == "FAT16" || string(b[54:59]) == "FAT12":
		return Result{Kind: FAT, Note: string(b[54:59]), UUID: fatSerial(b, 39), Label: fatLabel(b[43:54])}, true
	}
	return Result{}, false
}

func fatSerial(b []byte, off int) string {
	v := le32(b, off)
	return fmt.Sprintf("%04X-%04X", v>>16, v&0xffff)
}

func fatLabel(b []byte) string {
	l := strings.TrimRight(string(b), " \x00")
	if l == "NO NAME" {
		return ""
	}
	return l
}

func uuid(b []byte) string {
	if allZero(b) {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(strings.TrimSpace(string(b)), "?")
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
