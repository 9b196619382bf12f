// Package hivelog applies a registry hive's transaction logs (.LOG1, .LOG2,
// .LOG) in memory, as Windows does when it loads a hive that was not cleanly
// written back: the newest changes of a running system may exist only there.
//
// Both log formats are read: the new one of Windows 8.1 and later (HvLE log
// entries with Marvin32 hashes) and the old one (a base block copy, a dirty
// vector "DIRT" bitmap and 512-byte dirty pages). The layout follows Maxim
// Suhanov's "Windows registry file format specification". The result is an
// io.ReaderAt overlay of the log's pages over the primary file; nothing is
// ever written. The package knows nothing about keys and values.
package hivelog

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes fixed by the format.
const (
	BaseBlockSize = 4096 // base block of a primary file
	logHeaderSize = 512  // a log keeps only the first sector of the base block
	sector        = 512  // unit of log entries and of old-format dirty pages
	binAlign      = 4096 // hive bins data grows in 4 KiB steps
	checksumSpan  = 508
)

// File types in the base block. Recovery tells the log formats apart by
// what follows the log's base block (HvLE or DIRT), not by this field.
const (
	typePrimary = 0
	typeLogOld  = 1
	typeLogNew  = 6
)

// BaseBlock is the part of a "regf" header that recovery needs.
type BaseBlock struct {
	Seq1, Seq2   uint32 // primary and secondary sequence numbers
	Timestamp    uint64 // last written, FILETIME
	FileType     uint32
	HiveBinsSize uint32
	Flags        uint32 // KTM flags (Windows 10), copied from log entries
	Checksum     uint32
	ChecksumOK   bool
}

// Dirty is the condition under which Windows recovers a hive from its logs:
// a write began and did not end (sequence numbers differ), or the base block
// itself is damaged.
func (b BaseBlock) Dirty() bool { return b.Seq1 != b.Seq2 || !b.ChecksumOK }

var errNoRegf = errors.New("no regf signature")

// ParseBaseBlock reads the first sector of a primary file or of a log.
func ParseBaseBlock(b []byte) (BaseBlock, error) {
	if len(b) < logHeaderSize {
		return BaseBlock{}, fmt.Errorf("base block: %d bytes, need %d", len(b), logHeaderSize)
	}
	if string(b[:4]) != "regf" {
		return BaseBlock{}, errNoRegf
	}
	le := binary.LittleEndian
	bb := BaseBlock{
		Seq1:         le.Uint32(b[4:]),
		Seq2:         le.Uint32(b[8:]),
		Timestamp:    le.Uint64(b[12:]),
		FileType:     le.Uint32(b[28:]),
		HiveBinsSize: le.Uint32(b[40:]),
		Flags:        le.Uint32(b[144:]),
		Checksum:     le.Uint32(b[checksumSpan:]),
	}
	bb.ChecksumOK = bb.Checksum == Checksum(b)
	return bb, nil
}

// Checksum is the base block's XOR-32 of its first 508 bytes. Windows
// (HvpHeaderCheckSum) never stores 0 or 0xFFFFFFFF: they become 1 and
// 0xFFFFFFFE, so an all-zero or all-ones sector cannot pass as valid.
func Checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < checksumSpan; i += 4 {
		sum ^= binary.LittleEndian.Uint32(b[i:])
	}
	switch sum {
	case 0:
		return 1
	case 0xffffffff:
		return 0xfffffffe
	}
	return sum
}

// finishBaseBlock rewrites a recovered base block the way a successful write
// leaves it: both sequence numbers equal, the primary file type, the new hive
// bins size and a recomputed checksum.
func finishBaseBlock(b []byte, seq, hbins, flags uint32, setFlags bool) {
	le := binary.LittleEndian
	le.PutUint32(b[4:], seq)
	le.PutUint32(b[8:], seq)
	le.PutUint32(b[28:], typePrimary)
	le.PutUint32(b[40:], hbins)
	if setFlags {
		le.PutUint32(b[144:], flags)
	}
	le.PutUint32(b[checksumSpan:], Checksum(b))
}

// seqBefore compares sequence numbers as Windows does, modulo 2^32: a
// number just after a wrap is still "after".
func seqBefore(a, b uint32) bool { return int32(a-b) < 0 }
