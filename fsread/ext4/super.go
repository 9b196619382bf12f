// Package ext4 reads ext2, ext3 and ext4 filesystems from an io.ReaderAt
// without mounting them and without writing: superblock, group descriptors
// (32-bit, 64bit, meta_bg), inodes of any size, extent trees and classic
// block maps, inline data, linear directory scans and symbolic links.
//
// It exists because no Go module read every ext variant correctly (see
// DESIGN.md). A journal awaiting recovery is replayed in memory (JBD2, as
// the kernel does on mount) so that every reader sees what the running
// system saw; the image is never written, and NewOpts can show the on-disk
// view instead.
package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

const (
	superOffset = 1024
	superSize   = 1024
	superMagic  = 0xEF53
	rootIno     = 2
)

// Feature bits, named as e2fsprogs names them.
const (
	compatHasJournal  = 0x4
	compatSparseSuper = 0x200 // sparse_super2

	incompatCompression = 0x1
	incompatFiletype    = 0x2
	incompatRecover     = 0x4
	incompatJournalDev  = 0x8
	incompatMetaBG      = 0x10
	incompatExtents     = 0x40
	incompat64bit       = 0x80
	incompatDirdata     = 0x1000
	incompatInlineData  = 0x8000

	roCompatSparseSuper = 0x1
	roCompatHugeFile    = 0x8
	roCompatBigalloc    = 0x200
	incompatLargeDir    = 0x4000
)

var compatNames = []string{
	0: "dir_prealloc", 1: "imagic_inodes", 2: "has_journal", 3: "ext_attr", 4: "resize_inode",
	5: "dir_index", 6: "lazy_bg", 7: "exclude_inode", 8: "exclude_bitmap", 9: "sparse_super2",
	10: "fast_commit", 11: "stable_inodes", 12: "orphan_file",
}

var incompatNames = []string{
	0: "compression", 1: "filetype", 2: "needs_recovery", 3: "journal_dev", 4: "meta_bg",
	6: "extent", 7: "64bit", 8: "mmp", 9: "flex_bg", 10: "ea_inode", 12: "dirdata",
	13: "metadata_csum_seed", 14: "large_dir", 15: "inline_data", 16: "encrypt", 17: "casefold",
}

var roCompatNames = []string{
	0: "sparse_super", 1: "large_file", 2: "btree_dir", 3: "huge_file", 4: "uninit_bg",
	5: "dir_nlink", 6: "extra_isize", 7: "snapshot_bitmap", 8: "quota", 9: "bigalloc",
	10: "metadata_csum", 11: "replica", 12: "read-only", 13: "project", 14: "shared_blocks",
	15: "verity", 16: "orphan_present",
}

// incompatible features this reader understands; any other incompat bit
// changes the on-disk layout in a way we would misread, so New refuses.
const incompatKnown = 0x2 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000

// Info is what `snapscan inspect` shows about an ext filesystem.
type Info struct {
	Kind      string // "ext2", "ext3" or "ext4"
	Label     string
	UUID      string // canonical 8-4-4-4-12 form
	BlockSize uint32
	Blocks    uint64
	Inodes    uint32
	InodeSize uint16   // 128, or more when inodes carry nanoseconds and crtime
	Features  []string // e2fsprogs names; unknown bits as compat_0x…, incompat_0x…, ro_compat_0x…

	// Mounted is true when the image was taken while the filesystem was
	// mounted or after a crash: not marked clean, or a journal awaiting
	// replay. NeedsRecovery is the on-disk needs_recovery feature alone:
	// the journal holds updates (New replays them; see the FS's Recovery).
	Mounted       bool
	NeedsRecovery bool
	// Journal describes the ext3/ext4 journal (set by New, nil from Probe
	// and for ext2).
	Journal *JournalInfo
	Errors  bool // the kernel recorded errors (s_state)
	// Truncated: the image is shorter than the block count says (set by
	// New, which knows the image size; Probe cannot tell).
	Truncated bool

	LastMount     time.Time // zero when never mounted
	LastMountPath string
	LastWrite     time.Time
	Created       time.Time // mkfs time; zero when not recorded
}

type superblock struct {
	inodesCount    uint32
	blocksCount    uint64
	firstDataBlock uint32
	logBlockSize   uint32
	blocksPerGroup uint32
	inodesPerGroup uint32
	state          uint16
	revLevel       uint32
	inodeSize      uint16
	compat         uint32
	incompat       uint32
	roCompat       uint32
	descSize       uint16
	firstMetaBG    uint32
	backupBGs      [2]uint32
	raw            []byte
}

func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func parseSuper(b []byte) (*superblock, error) {
	if len(b) < superSize {
		return nil, fmt.Errorf("superblock: %w", io.ErrUnexpectedEOF)
	}
	if le16(b, 0x38) != superMagic {
		return nil, errors.New("no ext2/3/4 superblock (bad magic)")
	}
	sb := &superblock{
		inodesCount:    le32(b, 0x0),
		blocksCount:    uint64(le32(b, 0x4)),
		firstDataBlock: le32(b, 0x14),
		logBlockSize:   le32(b, 0x18),
		blocksPerGroup: le32(b, 0x20),
		inodesPerGroup: le32(b, 0x28),
		state:          le16(b, 0x3A),
		revLevel:       le32(b, 0x4C),
		inodeSize:      128,
		compat:         le32(b, 0x5C),
		incompat:       le32(b, 0x60),
		roCompat:       le32(b, 0x64),
		descSize:       32,
		firstMetaBG:    le32(b, 0x104),
		backupBGs:      [2]uint32{le32(b, 0x24C), le32(b, 0x250)},
		raw:            b[:superSize],
	}
	if sb.revLevel == 0 {
		// GOOD_OLD_REV: no feature fields, fixed 128-byte inodes.
		sb.compat, sb.incompat, sb.roCompat = 0, 0, 0
	} else {
		sb.inodeSize = le16(b, 0x58)
	}
	if sb.incompat&incompat64bit != 0 {
		sb.blocksCount |= uint64(le32(b, 0x150)) << 32
		sb.descSize = le16(b, 0xFE)
	}
	return sb, nil
}

// blockSize validates the geometry New relies on for bounds arithmetic.
func (sb *superblock) validate() error {
	if sb.logBlockSize > 6 {
		return fmt.Errorf("block size 1024<<%d unsupported", sb.logBlockSize)
	}
	bs := uint32(1024) << sb.logBlockSize
	switch {
	case sb.inodeSize < 128 || sb.inodeSize&(sb.inodeSize-1) != 0 || uint32(sb.inodeSize) > bs:
		return fmt.Errorf("inode size %d invalid", sb.inodeSize)
	case sb.blocksPerGroup == 0 || sb.blocksPerGroup > 8*bs:
		return fmt.Errorf("blocks per group %d invalid", sb.blocksPerGroup)
	case sb.inodesPerGroup == 0 || sb.inodesPerGroup > 8*bs:
		return fmt.Errorf("inodes per group %d invalid", sb.inodesPerGroup)
	case sb.inodesCount < rootIno:
		return fmt.Errorf("inode count %d invalid", sb.inodesCount)
	case sb.blocksCount <= uint64(sb.firstDataBlock):
		return fmt.Errorf("block count %d invalid", sb.blocksCount)
	case sb.blocksCount > math.MaxInt64/uint64(bs):
		return fmt.Errorf("block count %d too large", sb.blocksCount)
	case bs == 1024 && sb.firstDataBlock != 1 && sb.roCompat&roCompatBigalloc == 0:
		return fmt.Errorf("first data block %d invalid for 1 KiB blocks", sb.firstDataBlock)
	case bs > 1024 && sb.firstDataBlock != 0:
		return fmt.Errorf("first data block %d invalid", sb.firstDataBlock)
	}
	if sb.incompat&incompat64bit != 0 {
		d := sb.descSize
		if d < 64 || d&(d-1) != 0 || uint32(d) > bs {
			return fmt.Errorf("group descriptor size %d invalid", d)
		}
	}
	if bad := sb.incompat &^ incompatKnown; bad != 0 {
		return fmt.Errorf("unsupported incompatible features %s", strings.Join(featureNames(0, bad, 0), ","))
	}
	return nil
}

func featureNames(compat, incompat, ro uint32) []string {
	var out []string
	add := func(v uint32, names []string, prefix string) {
		for i := 0; i < 32; i++ {
			if v&(1<<i) == 0 {
				continue
			}
			if i < len(names) && names[i] != "" {
				out = append(out, names[i])
			} else {
				out = append(out, fmt.Sprintf("%s_0x%x", prefix, uint32(1)<<i))
			}
		}
	}
	add(compat, compatNames, "compat")
	add(incompat, incompatNames, "incompat")
	add(ro, roCompatNames, "ro_compat")
	return out
}

// kind follows blkid: ext4 when any feature ext3 lacks is on, ext3 when a
// journal is present, ext2 otherwise.
func (sb *superblock) kind() string {
	const ext3Incompat = incompatFiletype | incompatRecover | incompatMetaBG
	const ext3RoCompat = 0x1 | 0x2 | 0x4
	switch {
	case sb.incompat&^ext3Incompat != 0 || sb.roCompat&^ext3RoCompat != 0:
		return "ext4"
	case sb.compat&compatHasJournal != 0:
		return "ext3"
	}
	return "ext2"
}

func cstring(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// sbTime combines a 32-bit seconds field with its 8-bit high byte.
func sbTime(b []byte, lo, hi int) time.Time {
	s := int64(le32(b, lo)) | int64(b[hi])<<32
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func (sb *superblock) info() *Info {
	b := sb.raw
	u := b[0x68:0x78]
	in := &Info{
		Kind:          sb.kind(),
		Label:         cstring(b[0x78:0x88]),
		UUID:          fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]),
		BlockSize:     1024 << min(sb.logBlockSize, 22),
		Blocks:        sb.blocksCount,
		Inodes:        sb.inodesCount,
		InodeSize:     sb.inodeSize,
		Features:      featureNames(sb.compat, sb.incompat, sb.roCompat),
		NeedsRecovery: sb.incompat&incompatRecover != 0,
		Errors:        sb.state&2 != 0,
		LastMount:     sbTime(b, 0x2C, 0x275),
		LastMountPath: cstring(b[0x88:0xC8]),
		LastWrite:     sbTime(b, 0x30, 0x274),
		Created:       sbTime(b, 0x108, 0x276),
	}
	in.Mounted = in.NeedsRecovery || sb.state&1 == 0
	return in
}

// Probe returns superblock facts without reading anything else.
func Probe(r io.ReaderAt) (*Info, error) {
	b := make([]byte, superSize)
	if n, err := r.ReadAt(b, superOffset); n < superSize {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("ext: reading superblock: %w", err)
	}
	sb, err := parseSuper(b)
	if err != nil {
		return nil, fmt.Errorf("ext: %w", err)
	}
	return sb.info(), nil
}
