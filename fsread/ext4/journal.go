package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// JBD2 on-disk constants, as include/linux/jbd2.h names them. Journal
// structures are big-endian.
const (
	jbdMagic      = 0xC03B3998
	jbdDescriptor = 1
	jbdCommit     = 2
	jbdSuperV1    = 3
	jbdSuperV2    = 4
	jbdRevoke     = 5

	jbdCompatChecksum     = 0x1
	jbdIncompatRevoke     = 0x1
	jbdIncompat64bit      = 0x2
	jbdIncompatAsync      = 0x4
	jbdIncompatCsumV2     = 0x8
	jbdIncompatCsumV3     = 0x10
	jbdIncompatFastCommit = 0x20
	jbdIncompatKnown      = 0x3F

	tagEscape   = 0x1
	tagSameUUID = 0x2
	tagLast     = 0x8

	jbdCRC32  = 1 // commit block h_chksum_type of COMPAT_CHECKSUM
	jbdCRC32C = 4 // s_checksum_type of csum v2/v3

	jbdDefaultFCBlocks = 256
	jbdSuperSize       = 1024
)

// maxRevokes bounds the revoke table (16 bytes an entry in a map, so about
// 64 MiB): a journal can hold bs/4 records per block, far more than any
// real one uses.
const maxRevokes = 1 << 22

func be32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }
func be16(b []byte, off int) uint16 { return binary.BigEndian.Uint16(b[off:]) }

// jsuper is the journal superblock (journal_superblock_t).
type jsuper struct {
	version                    int
	blocksize                  uint32
	maxlen, first              uint32
	sequence, start            uint32
	compat, incompat, rocompat uint32
	csumType                   uint8
	numFC                      uint32
	uuid                       [16]byte
	seed                       uint32 // j_csum_seed: crc32c of the UUID
	last                       uint32 // end of the log area (j_last)
}

func (js *jsuper) csumV23() bool { return js.incompat&(jbdIncompatCsumV2|jbdIncompatCsumV3) != 0 }
func (js *jsuper) v1csum() bool  { return js.compat&jbdCompatChecksum != 0 }

// tagBytes is the kernel's journal_tag_bytes.
func (js *jsuper) tagBytes() int {
	if js.incompat&jbdIncompatCsumV3 != 0 {
		return 16
	}
	sz := 12
	if js.incompat&jbdIncompatCsumV2 != 0 {
		sz += 2
	}
	if js.incompat&jbdIncompat64bit != 0 {
		return sz
	}
	return sz - 4
}

// tailBytes is the block tail (jbd2_journal_block_tail) that csum v2/v3
// keep at the end of descriptor and revoke blocks.
func (js *jsuper) tailBytes() int {
	if js.csumV23() {
		return 4
	}
	return 0
}

// checksum names the journal's checksum scheme for Info.
func (js *jsuper) checksum() string {
	switch {
	case js.incompat&jbdIncompatCsumV3 != 0:
		return "v3 (crc32c)"
	case js.incompat&jbdIncompatCsumV2 != 0:
		return "v2 (crc32c)"
	case js.v1csum():
		return "v1 (crc32 of commits)"
	}
	return "none"
}

// parseJSuper reads block 0 of a journal of nblocks blocks whose
// filesystem uses blocks of fsbs bytes. Errors are phrased for a Reason.
func parseJSuper(b []byte, nblocks uint64, fsbs uint32) (*jsuper, error) {
	if len(b) < jbdSuperSize {
		return nil, errors.New("journal superblock truncated")
	}
	if be32(b, 0) != jbdMagic {
		return nil, errors.New("journal superblock has no JBD2 magic")
	}
	js := &jsuper{
		blocksize: be32(b, 0xC),
		maxlen:    be32(b, 0x10),
		first:     be32(b, 0x14),
		sequence:  be32(b, 0x18),
		start:     be32(b, 0x1C),
	}
	switch be32(b, 4) {
	case jbdSuperV1:
		js.version = 1
	case jbdSuperV2:
		js.version = 2
		js.compat, js.incompat, js.rocompat = be32(b, 0x24), be32(b, 0x28), be32(b, 0x2C)
		copy(js.uuid[:], b[0x30:0x40])
		js.csumType = b[0x50]
		js.numFC = be32(b, 0x54)
	default:
		return nil, fmt.Errorf("journal superblock of unknown type %d", be32(b, 4))
	}
	switch {
	case js.blocksize != fsbs:
		return nil, fmt.Errorf("journal block size %d differs from the filesystem's %d", js.blocksize, fsbs)
	case uint64(js.maxlen) > nblocks:
		return nil, fmt.Errorf("journal claims %d blocks, its inode maps %d", js.maxlen, nblocks)
	case js.first == 0 || js.first >= js.maxlen:
		return nil, fmt.Errorf("journal log starts at block %d of %d", js.first, js.maxlen)
	case js.incompat&^jbdIncompatKnown != 0:
		return nil, fmt.Errorf("journal has unknown incompatible features 0x%x", js.incompat&^jbdIncompatKnown)
	case js.incompat&jbdIncompatCsumV2 != 0 && js.incompat&jbdIncompatCsumV3 != 0:
		return nil, errors.New("journal claims checksum v2 and v3 at once")
	case js.csumV23() && js.v1csum():
		return nil, errors.New("journal claims checksum v1 and v2/v3 at once")
	}
	js.last = js.maxlen
	if js.incompat&jbdIncompatFastCommit != 0 {
		fc := js.numFC
		if fc == 0 {
			fc = jbdDefaultFCBlocks
		}
		if fc >= js.maxlen-js.first {
			return nil, fmt.Errorf("journal's %d fast-commit blocks leave no log", fc)
		}
		js.last = js.maxlen - fc
	}
	if js.start != 0 && (js.start < js.first || js.start >= js.last) {
		return nil, fmt.Errorf("journal log start %d outside the log (%d..%d)", js.start, js.first, js.last-1)
	}
	if js.csumV23() {
		if js.csumType != jbdCRC32C {
			return nil, fmt.Errorf("journal checksum type %d unknown", js.csumType)
		}
		c := make([]byte, jbdSuperSize)
		copy(c, b)
		clear(c[0xFC:0x100])
		if crc32c(^uint32(0), c) != be32(b, 0xFC) {
			return nil, errors.New("journal superblock checksum mismatch")
		}
		js.seed = crc32c(^uint32(0), js.uuid[:])
	}
	return js, nil
}

func (js *jsuper) features() []string {
	var out []string
	add := func(set uint32, bit uint32, name string) {
		if set&bit != 0 {
			out = append(out, name)
		}
	}
	add(js.compat, jbdCompatChecksum, "journal_checksum")
	add(js.incompat, jbdIncompatRevoke, "journal_incompat_revoke")
	add(js.incompat, jbdIncompat64bit, "journal_64bit")
	add(js.incompat, jbdIncompatAsync, "journal_async_commit")
	add(js.incompat, jbdIncompatCsumV2, "journal_checksum_v2")
	add(js.incompat, jbdIncompatCsumV3, "journal_checksum_v3")
	add(js.incompat, jbdIncompatFastCommit, "journal_fast_commit")
	return out
}

// jdev reads journal block n (0 = the journal superblock) into p.
type jdev interface {
	readJ(n uint32, p []byte) error
	// phys is where journal block n lies in the image, in bytes.
	phys(n uint32) int64
}

// jtag is one journaled copy: filesystem block blk is at journal block at.
type jtag struct {
	blk    uint64
	at     uint32
	tid    uint32
	escape bool
}

// ovEntry is one overlaid block: fs block blk reads from the image at off
// (its newest committed copy in the journal).
type ovEntry struct {
	blk    uint64
	off    int64
	escape bool // the copy's first 4 bytes were the JBD2 magic, zeroed in the log
}

// replay is the outcome of the three passes.
type replay struct {
	ov           []ovEntry // sorted by blk
	transactions int
	lastTid      uint32 // the last transaction applied
	wrapped      bool   // the applied log ran past the end of the journal
	warnings     []string
	revoked      int // journaled copies skipped because a later transaction revoked them
}

// tidGT is the kernel's tid_gt: transaction ids wrap at 2^32.
func tidGT(x, y uint32) bool { return int32(x-y) > 0 }

// txn is the transaction being scanned: its copies and revokes count only
// once its commit block is found valid.
type txn struct {
	tags    []jtag
	revokes []uint64
	crc     uint32 // running crc32_be of COMPAT_CHECKSUM
	suspect string // a descriptor or revoke block failed its checksum
	bad     string // corruption that ends replay if the commit is valid
}

// scanJournal does what fs/jbd2/recovery.c's three passes do (scan,
// revoke, replay), reading the log once: copies and revokes are kept per
// transaction until its commit block is validated, so an uncommitted or
// corrupt transaction contributes nothing. fsBlocks bounds the block
// numbers a tag may name. Memory is bounded by the journal's length (one
// jtag per logged block) and maxRevokes.
func scanJournal(d jdev, js *jsuper, fsBlocks uint64) *replay {
	res := &replay{}
	if js.start == 0 {
		return res // journal empty: the kernel's "no recovery required"
	}
	bs := int(js.blocksize)
	buf, desc := make([]byte, bs), make([]byte, bs)
	next, tid := js.start, js.sequence
	lap := js.last - js.first
	var used uint32
	wrappedSoFar := false
	var committed []jtag
	revoked := map[uint64]uint32{}
	var lastCommit uint64
	haveCommit := false
	cur := &txn{crc: ^uint32(0)}
	tagBytes, tail := js.tagBytes(), js.tailBytes()
	warn := func(format string, a ...any) {
		res.warnings = append(res.warnings, fmt.Sprintf(format, a...))
	}
	stop := func(why string) {
		if res.transactions == 0 {
			warn("transaction %d: %s; nothing replayed", tid, why)
		} else {
			warn("transaction %d: %s; replay ends at transaction %d", tid, why, tid-1)
		}
	}
	// read fetches the next log block, wrapping like the kernel's wrap().
	read := func() (uint32, error) {
		if used >= lap {
			return 0, errLap
		}
		n := next
		used++
		if next++; next >= js.last {
			next -= lap
			wrappedSoFar = true
		}
		return n, d.readJ(n, buf)
	}
scan:
	for {
		at, err := read()
		if err != nil {
			if err != errLap {
				stop(fmt.Sprintf("journal block %d unreadable (%v)", at, err))
			} else if len(cur.tags) > 0 || len(cur.revokes) > 0 {
				stop("runs past one lap of the journal")
			}
			break
		}
		if be32(buf, 0) != jbdMagic {
			break // end of the log
		}
		typ, seq := be32(buf, 4), be32(buf, 8)
		if seq != tid {
			if tidGT(seq, tid) && typ >= jbdDescriptor && typ <= jbdRevoke {
				stop(fmt.Sprintf("journal block %d holds transaction %d out of order", at, seq))
			}
			break // an older lap: the end of the log
		}
		switch typ {
		case jbdDescriptor:
			if tail > 0 && !js.tailOK(buf) && cur.suspect == "" {
				cur.suspect = fmt.Sprintf("descriptor block %d checksum mismatch", at)
			}
			if js.v1csum() {
				cur.crc = crc32be(cur.crc, buf)
			}
			copy(desc, buf)
			for off := 12; off+tagBytes <= bs-tail; {
				t := desc[off:]
				var flags uint32
				blk := uint64(be32(t, 0))
				if js.incompat&jbdIncompatCsumV3 != 0 {
					flags = be32(t, 4)
				} else {
					flags = uint32(be16(t, 6))
				}
				if js.incompat&jbdIncompat64bit != 0 {
					blk |= uint64(be32(t, 8)) << 32
				}
				dat, err := read()
				if err != nil {
					if err == errLap {
						stop("runs past one lap of the journal")
					} else {
						stop(fmt.Sprintf("journal block %d unreadable (%v)", dat, err))
					}
					break scan
				}
				if js.v1csum() {
					cur.crc = crc32be(cur.crc, buf)
				}
				switch {
				case cur.bad != "":
				case blk >= fsBlocks:
					cur.bad = fmt.Sprintf("descriptor block %d names block %d beyond the filesystem's %d blocks", at, blk, fsBlocks)
				case !js.tagOK(t, buf, seq):
					cur.bad = fmt.Sprintf("checksum mismatch of the copy of block %d in journal block %d", blk, dat)
				}
				cur.tags = append(cur.tags, jtag{blk: blk, at: dat, tid: seq, escape: flags&tagEscape != 0})
				off += tagBytes
				if flags&tagSameUUID == 0 {
					off += 16
				}
				if flags&tagLast != 0 {
					break
				}
			}
		case jbdRevoke:
			if tail > 0 && !js.tailOK(buf) && cur.suspect == "" {
				cur.suspect = fmt.Sprintf("revoke block %d checksum mismatch", at)
			}
			rcount := int(be32(buf, 12))
			if rcount > bs-tail {
				if cur.bad == "" {
					cur.bad = fmt.Sprintf("revoke block %d claims %d bytes of records, more than the block", at, rcount)
				}
				continue
			}
			rl := 4
			if js.incompat&jbdIncompat64bit != 0 {
				rl = 8
			}
			for off := 16; off+rl <= rcount; off += rl {
				r := uint64(be32(buf, off))
				if rl == 8 {
					r = binary.BigEndian.Uint64(buf[off:])
				}
				cur.revokes = append(cur.revokes, r)
			}
		case jbdCommit:
			ct := binary.BigEndian.Uint64(buf[0x30:])
			stale := haveCommit && ct < lastCommit
			why := cur.suspect
			if why == "" && js.v1csum() {
				found, ctype, csize := be32(buf, 0x10), buf[0xC], buf[0xD]
				if !(found == cur.crc && ctype == jbdCRC32 && csize == 4) && !(ctype == 0 && csize == 0 && found == 0) {
					why = fmt.Sprintf("commit block %d: crc32 %08x, the transaction's is %08x", at, found, cur.crc)
				}
			}
			if why == "" && js.csumV23() && !js.commitOK(buf) {
				why = fmt.Sprintf("commit block %d checksum mismatch", at)
			}
			if why != "" {
				if !stale {
					// A stale block from an older use of the journal (lazy
					// init) ends the log quietly, as in the kernel.
					stop(why)
				}
				break scan
			}
			if cur.bad != "" {
				stop(cur.bad)
				break scan
			}
			if len(revoked)+len(cur.revokes) > maxRevokes {
				stop(fmt.Sprintf("more than %d revoke records", maxRevokes))
				break scan
			}
			for _, r := range cur.revokes {
				if old, ok := revoked[r]; !ok || tidGT(tid, old) {
					revoked[r] = tid
				}
			}
			committed = append(committed, cur.tags...)
			res.transactions++
			res.lastTid = tid
			res.wrapped = wrappedSoFar
			lastCommit, haveCommit = ct, true
			cur = &txn{crc: ^uint32(0), tags: cur.tags[:0], revokes: cur.revokes[:0]}
			tid++
		default:
			break scan
		}
	}
	// Replay: the newest unrevoked copy of each block wins.
	newest := make(map[uint64]jtag, len(committed))
	for _, t := range committed {
		if r, ok := revoked[t.blk]; ok && !tidGT(t.tid, r) {
			res.revoked++
			continue
		}
		newest[t.blk] = t
	}
	res.ov = make([]ovEntry, 0, len(newest))
	for _, t := range newest {
		res.ov = append(res.ov, ovEntry{blk: t.blk, off: d.phys(t.at), escape: t.escape})
	}
	slices.SortFunc(res.ov, func(a, b ovEntry) int { return cmpU64(a.blk, b.blk) })
	return res
}

var errLap = errors.New("log longer than the journal")

// tailOK verifies the csum v2/v3 tail of a descriptor or revoke block.
func (js *jsuper) tailOK(b []byte) bool {
	n := len(b) - 4
	want := be32(b, n)
	return crc32cBE32(crc32c(js.seed, b[:n]), 0) == want
}

// commitOK verifies a v2/v3 commit block: crc32c of the block with
// h_chksum[0] zeroed.
func (js *jsuper) commitOK(b []byte) bool {
	c := crc32cBE32(crc32c(js.seed, b[:0x10]), 0)
	c = crc32c(c, b[0x14:])
	return c == be32(b, 0x10)
}

// tagOK verifies a tag's checksum of the copy data (as logged, escaped)
// in transaction seq: 32 bits in tag3, the low 16 in v2 tags.
func (js *jsuper) tagOK(tag, data []byte, seq uint32) bool {
	if !js.csumV23() {
		return true
	}
	c := crc32c(crc32cBE32(js.seed, seq), data)
	if js.incompat&jbdIncompatCsumV3 != 0 {
		return be32(tag, 12) == c
	}
	return be16(tag, 4) == uint16(c)
}

// JournalInfo describes an ext3/ext4 journal for `inspect`.
type JournalInfo struct {
	// External: the journal lives on another device (UUID), which an
	// image of one filesystem does not hold.
	External bool
	UUID     string // external journal device's UUID
	Inode    uint32 // internal journal inode (normally 8)
	Version  int    // journal superblock v1 or v2
	Blocks   uint32 // s_maxlen
	Features []string
	Checksum string
	Sequence uint32 // first transaction expected in the log
	Start    uint32 // first log block, 0 when the journal is empty
	// Replay facts, when a replay ran.
	Transactions int
	Overlaid     int    // distinct filesystem blocks the replay overlays
	LastTid      uint32 // last transaction applied
	Wrapped      bool   // the applied log wrapped past the journal's end
	Error        string // why the journal could not be read
}

func (js *jsuper) info(in *JournalInfo) {
	in.Version = js.version
	in.Blocks = js.maxlen
	in.Features = js.features()
	in.Checksum = js.checksum()
	in.Sequence = js.sequence
	in.Start = js.start
}

func uuidString(u []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func joinWarnings(w []string) string { return strings.Join(w, "; ") }
