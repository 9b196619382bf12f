// Package xfs reads XFS filesystems (v4 and v5) read-only, straight from an
// io.ReaderAt, without the kernel: superblock, inodes, the three data fork
// formats, version 2 directories and symlinks. It exists because the only
// pure-Go reader available corrupts parallel reads and returns no metadata.
package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/snapscan/snapscan/fsread"
)

const (
	sbMagic  = 0x58465342 // "XFSB"
	sbSize   = 512        // the on-disk superblock fits the first sector
	minBlock = 512
	maxBlock = 65536
)

// Feature bits (xfs_format.h) this reader names or acts on.
const (
	versionNumMask   = 0x000f
	versionAttrBit   = 0x0010
	versionNlinkBit  = 0x0020
	versionQuotaBit  = 0x0040
	versionAlignBit  = 0x0080
	versionDalignBit = 0x0100
	versionLogV2Bit  = 0x0400
	versionSectorBit = 0x0800
	versionExtFlgBit = 0x1000
	versionDirV2Bit  = 0x2000
	versionBorgBit   = 0x4000
	versionMoreBits  = 0x8000

	features2LazySB  = 0x0002
	features2Attr2   = 0x0008
	features2Parent  = 0x0010
	features2ProjID  = 0x0080
	features2CRC     = 0x0100
	features2FType   = 0x0200
	roCompatFinobt   = 0x1
	roCompatRmapbt   = 0x2
	roCompatReflink  = 0x4
	roCompatInobtCnt = 0x8
	incompatFType    = 0x01
	incompatSpinodes = 0x02
	incompatMetaUUID = 0x04
	incompatBigtime  = 0x08
	incompatRepair   = 0x10
	incompatNrext64  = 0x20
	// The incompat bits this reader understands; anything else may change
	// the on-disk layout under us.
	incompatKnown = incompatFType | incompatSpinodes | incompatMetaUUID | incompatBigtime | incompatRepair | incompatNrext64
)

// Info is what the superblock says about the filesystem.
type Info struct {
	Label      string
	UUID       string // canonical 8-4-4-4-12 form
	Version    int    // 4 or 5 (v5 = metadata CRCs)
	BlockSize  uint32
	Blocks     uint64 // data blocks (sb_dblocks)
	AGCount    uint32
	InodeSize  uint16
	DirBlock   uint32   // directory block size in bytes
	Features   []string // xfs_info / mkfs.xfs names
	Realtime   bool     // has a realtime subvolume (its files are not readable here)
	Truncated  bool     // image shorter than sb_dblocks says (set by New)
	InProgress bool     // mkfs did not finish
}

type superblock struct {
	blockSize   uint32
	dblocks     uint64
	rblocks     uint64
	uuid        [16]byte
	logstart    uint64
	rootIno     uint64
	agblocks    uint32
	agcount     uint32
	versionNum  uint16
	sectSize    uint16
	inodeSize   uint16
	inoPerBlock uint16
	fname       [12]byte
	blockLog    uint8
	inodeLog    uint8
	inopbLog    uint8
	agblkLog    uint8
	inprogress  uint8
	dirblkLog   uint8
	features2   uint32
	roCompat    uint32
	incompat    uint32
	logBlocks   uint32
	inoAlign    uint32
	metaUUID    [16]byte // what v5 metadata blocks record: sb_meta_uuid or sb_uuid
}

func be16(b []byte, o int) uint16 { return binary.BigEndian.Uint16(b[o:]) }
func be32(b []byte, o int) uint32 { return binary.BigEndian.Uint32(b[o:]) }
func be64(b []byte, o int) uint64 { return binary.BigEndian.Uint64(b[o:]) }

func parseSuper(b []byte) (*superblock, error) {
	if len(b) < sbSize {
		return nil, errors.New("superblock too short")
	}
	if be32(b, 0) != sbMagic {
		return nil, errors.New("no XFS superblock (bad magic)")
	}
	sb := &superblock{
		blockSize:   be32(b, 0x04),
		dblocks:     be64(b, 0x08),
		rblocks:     be64(b, 0x10),
		logstart:    be64(b, 0x30),
		rootIno:     be64(b, 0x38),
		agblocks:    be32(b, 0x54),
		agcount:     be32(b, 0x58),
		versionNum:  be16(b, 0x64),
		sectSize:    be16(b, 0x66),
		inodeSize:   be16(b, 0x68),
		inoPerBlock: be16(b, 0x6a),
		blockLog:    b[0x78],
		inodeLog:    b[0x7a],
		inopbLog:    b[0x7b],
		agblkLog:    b[0x7c],
		inprogress:  b[0x7e],
		dirblkLog:   b[0xc0],
		features2:   be32(b, 0xc8),
		logBlocks:   be32(b, 0x60),
		inoAlign:    be32(b, 0xb4),
	}
	copy(sb.uuid[:], b[0x20:0x30])
	sb.metaUUID = sb.uuid
	copy(sb.fname[:], b[0x6c:0x78])
	if sb.version() == 5 {
		sb.roCompat = be32(b, 0xd4)
		sb.incompat = be32(b, 0xd8)
		if sb.incompat&incompatMetaUUID != 0 {
			copy(sb.metaUUID[:], b[0xf8:0x108])
		}
	}
	return sb, nil
}

func (sb *superblock) version() int { return int(sb.versionNum & versionNumMask) }

// validate checks every geometry field the reader computes with, so that
// later arithmetic cannot overflow or divide by zero.
func (sb *superblock) validate() error {
	switch v := sb.version(); v {
	case 4, 5:
	default:
		return fmt.Errorf("unsupported XFS version %d", v)
	}
	if sb.version() == 4 && sb.versionNum&versionDirV2Bit == 0 {
		return errors.New("version 1 directories are not supported")
	}
	bs := sb.blockSize
	if bs < minBlock || bs > maxBlock || bs&(bs-1) != 0 || uint32(1)<<sb.blockLog != bs {
		return fmt.Errorf("bad block size %d (log %d)", bs, sb.blockLog)
	}
	is := uint32(sb.inodeSize)
	if is < 256 || is > 2048 || is&(is-1) != 0 || uint32(1)<<sb.inodeLog != is || is > bs {
		return fmt.Errorf("bad inode size %d (log %d)", is, sb.inodeLog)
	}
	if uint32(sb.inoPerBlock) != bs/is || uint32(1)<<sb.inopbLog != bs/is {
		return fmt.Errorf("inodes per block %d (log %d) do not match block/inode size", sb.inoPerBlock, sb.inopbLog)
	}
	if sb.agblocks < 1 || sb.agblkLog > 31 || uint64(1)<<sb.agblkLog < uint64(sb.agblocks) ||
		(sb.agblkLog > 0 && uint64(1)<<(sb.agblkLog-1) >= uint64(sb.agblocks)) {
		return fmt.Errorf("bad AG size %d blocks (log %d)", sb.agblocks, sb.agblkLog)
	}
	if sb.agcount < 1 || uint64(sb.agcount)*uint64(sb.agblocks) < sb.dblocks ||
		uint64(sb.agcount-1)*uint64(sb.agblocks) >= sb.dblocks {
		return fmt.Errorf("%d AGs of %d blocks do not match %d data blocks", sb.agcount, sb.agblocks, sb.dblocks)
	}
	if sb.dblocks > (1<<62)/uint64(bs) {
		return fmt.Errorf("%d blocks overflow byte offsets", sb.dblocks)
	}
	if int(sb.agblkLog)+int(sb.inopbLog) > 56 {
		return errors.New("inode number layout too wide")
	}
	if sb.dirblkLog > 16 || bs<<sb.dirblkLog > 65536 {
		return fmt.Errorf("bad directory block log %d", sb.dirblkLog)
	}
	if sb.version() == 5 {
		if unk := sb.incompat &^ incompatKnown; unk != 0 {
			return fmt.Errorf("unknown incompatible features 0x%x", unk)
		}
	}
	return nil
}

func (sb *superblock) hasFType() bool {
	if sb.version() == 5 {
		return sb.incompat&incompatFType != 0
	}
	return sb.versionNum&versionMoreBits != 0 && sb.features2&features2FType != 0
}

func (sb *superblock) bigtime() bool {
	return sb.version() == 5 && sb.incompat&incompatBigtime != 0
}

func (sb *superblock) info() *Info {
	u := sb.uuid
	inf := &Info{
		Label:      strings.TrimRight(string(sb.fname[:]), "\x00"),
		UUID:       fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]),
		Version:    sb.version(),
		BlockSize:  sb.blockSize,
		Blocks:     sb.dblocks,
		AGCount:    sb.agcount,
		InodeSize:  sb.inodeSize,
		DirBlock:   sb.blockSize << sb.dirblkLog,
		Realtime:   sb.rblocks > 0,
		InProgress: sb.inprogress != 0,
	}
	add := func(cond bool, name string) {
		if cond {
			inf.Features = append(inf.Features, name)
		}
	}
	v5 := sb.version() == 5
	more := sb.versionNum&versionMoreBits != 0
	add(v5, "crc")
	add(sb.hasFType(), "ftype")
	add(v5 && sb.roCompat&roCompatFinobt != 0, "finobt")
	add(v5 && sb.roCompat&roCompatRmapbt != 0, "rmapbt")
	add(v5 && sb.roCompat&roCompatReflink != 0, "reflink")
	add(v5 && sb.roCompat&roCompatInobtCnt != 0, "inobtcount")
	add(v5 && sb.incompat&incompatSpinodes != 0, "sparse")
	add(v5 && sb.incompat&incompatMetaUUID != 0, "meta_uuid")
	add(v5 && sb.incompat&incompatBigtime != 0, "bigtime")
	add(v5 && sb.incompat&incompatRepair != 0, "needsrepair")
	add(v5 && sb.incompat&incompatNrext64 != 0, "nrext64")
	add(more && sb.features2&features2LazySB != 0, "lazy-count")
	add(more && sb.features2&features2Attr2 != 0, "attr2")
	add(more && sb.features2&features2ProjID != 0, "projid32bit")
	add(sb.versionNum&versionLogV2Bit != 0, "logv2")
	if v5 {
		for _, x := range []struct {
			v     uint32
			kind  string
			known uint32
		}{{sb.roCompat, "ro_compat", roCompatFinobt | roCompatRmapbt | roCompatReflink | roCompatInobtCnt}, {sb.incompat, "incompat", incompatKnown}} {
			if unk := x.v &^ x.known; unk != 0 {
				inf.Features = append(inf.Features, fmt.Sprintf("%s_0x%x", x.kind, unk))
			}
		}
	}
	return inf
}

// Probe reads and checks the superblock and returns what it says.
func Probe(r io.ReaderAt) (*Info, error) {
	sb, err := readSuper(r)
	if err != nil {
		return nil, err
	}
	return sb.info(), nil
}

func readSuper(r io.ReaderAt) (*superblock, error) {
	b := make([]byte, sbSize)
	if n, err := r.ReadAt(b, 0); n < sbSize {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading XFS superblock: %w", err)
	}
	sb, err := parseSuper(b)
	if err != nil {
		return nil, err
	}
	if err := sb.validate(); err != nil {
		return nil, fmt.Errorf("%w: XFS superblock: %v", fsread.ErrCorrupt, err)
	}
	return sb, nil
}
