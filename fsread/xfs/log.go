package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The XFS log, as xfs_log_recover.c reads it: a circular area of 512-byte
// basic blocks (BBs) holding log records. Every BB's first word is the
// cycle number of the pass that wrote it (a record header keeps the magic
// there and the cycle in its second word; the data words a cycle stamp
// displaced are kept in the header). The head is where the newest pass
// stops, the tail is what the newest record says is still unwritten back.
const (
	bbSize          = 512
	logMagic        = 0xFEEDBABE
	logVersion2     = 2
	cycleDataSize   = 32 << 10 // bytes of record data one header sector covers
	maxRecordSize   = 256 << 10
	maxIclogs       = 8
	opHeaderSize    = 12
	transHeaderSize = 16
	transMagic      = 0x5452414e // "TRAN"

	clientTransaction = 0x69
	clientLog         = 0xaa

	opStart    = 0x01
	opCommit   = 0x02
	opContinue = 0x04
	opWasCont  = 0x08
	opEnd      = 0x10
	opUnmount  = 0x20

	// maxRegionsInItem is XLOG_MAX_REGIONS_IN_ITEM: a 64 KiB buffer in
	// 128-byte chunks, every other one dirty, plus the format region.
	maxRegionsInItem = 65536/128/2 + 1

	// maxLogBBs is the largest log XFS makes (2 GiB).
	maxLogBBs = 2 << 30 / bbSize
)

// maxReplayBytes caps what replay keeps in memory: the log data of the
// committed transactions (with a per-operation overhead) plus the overlay of
// replayed blocks. A log whose replay needs more is reported dirty rather
// than exhausting memory. A variable only so that a test can lower it.
var maxReplayBytes int64 = 256 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errLogCorrupt marks a log that cannot be trusted from some point on.
var errLogCorrupt = errors.New("log corrupt")

func logCorrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errLogCorrupt, fmt.Sprintf(format, a...))
}

// logDev is the log area of the data device.
type logDev struct {
	r     io.ReaderAt
	start int64 // byte offset of BB 0
	bbs   int64
	v2    bool // version 2 log: extended headers, h_size
	uuid  [16]byte
}

// read copies len(p) bytes from BB blk on, wrapping at the end of the log.
func (l *logDev) read(p []byte, blk int64) error {
	blk = l.wrap(blk)
	for len(p) > 0 {
		n := min(int64(len(p)), (l.bbs-blk)*bbSize)
		if k, err := l.r.ReadAt(p[:n], l.start+blk*bbSize); int64(k) < n {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading log block %d: %w", blk, err)
		}
		p = p[n:]
		blk = 0
	}
	return nil
}

func (l *logDev) wrap(blk int64) int64 {
	blk %= l.bbs
	if blk < 0 {
		blk += l.bbs
	}
	return blk
}

// dist is how many BBs lie from a forward to b.
func (l *logDev) dist(a, b int64) int64 { return l.wrap(b - a) }

// cycle is the cycle number BB blk was written in (xlog_get_cycle).
func (l *logDev) cycle(blk int64) (uint32, bool, error) {
	var b [8]byte
	if err := l.read(b[:], blk); err != nil {
		return 0, false, err
	}
	if be32(b[:], 0) == logMagic {
		return be32(b[:], 4), true, nil
	}
	return be32(b[:], 0), false, nil
}

// firstCycle returns the first BB in [from, to) written in cycle c, or -1.
func (l *logDev) firstCycle(from, to int64, c uint32) (int64, error) {
	const chunk = 2048 // BBs per read
	buf := make([]byte, min(chunk, max(to-from, 1))*bbSize)
	for b := from; b < to; b += chunk {
		n := min(chunk, to-b)
		if err := l.read(buf[:n*bbSize], b); err != nil {
			return -1, err
		}
		for i := int64(0); i < n; i++ {
			w := buf[i*bbSize:]
			cy := be32(w, 0)
			if cy == logMagic {
				cy = be32(w, 4)
			}
			if cy == c {
				return b + i, nil
			}
		}
	}
	return -1, nil
}

// scanWindow is XLOG_TOTAL_REC_SHIFT: how far back from the head a torn or
// out-of-order write of the last in-core logs can reach.
const scanWindow = maxIclogs * maxRecordSize / bbSize

// findHead is xlog_find_head: the first BB of the oldest cycle, found by
// binary search on the cycle numbers and confirmed over the window the
// in-flight log buffers can have torn. zeroed means the log was never
// written (mkfs leaves an unmount record, so that is unusual).
func (l *logDev) findHead() (head int64, zeroed bool, err error) {
	first, _, err := l.cycle(0)
	if err != nil {
		return 0, false, err
	}
	if first == 0 {
		return 0, true, nil
	}
	last, _, err := l.cycle(l.bbs - 1)
	if err != nil {
		return 0, false, err
	}
	if first == last {
		// The whole log has the newest cycle but for, perhaps, a hole of
		// the previous one left by a torn write near the end.
		head = l.bbs
		start := max(0, l.bbs-scanWindow)
		i, err := l.firstCycle(start, l.bbs, last-1)
		if err != nil {
			return 0, false, err
		}
		if i >= 0 {
			head = i
		}
		return l.wrap(head), false, nil
	}
	// first = x+1 (or x on a log that has not wrapped, last = 0): head is
	// the first block of cycle last.
	lo, hi := int64(0), l.bbs-1
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		c, _, err := l.cycle(mid)
		if err != nil {
			return 0, false, err
		}
		if c == last {
			hi = mid
		} else {
			lo = mid
		}
	}
	head = hi
	start := max(0, head-scanWindow)
	i, err := l.firstCycle(start, head, last)
	if err != nil {
		return 0, false, err
	}
	if i >= 0 {
		head = i
	}
	return head, false, nil
}

// recHeader is a parsed log record header (xlog_rec_header).
type recHeader struct {
	blk      int64
	cycle    uint32
	version  uint32
	length   int // h_len: bytes of data
	lsn      uint64
	tailLSN  uint64
	crc      uint32
	numOps   int
	fmt      uint32
	size     int // h_size: the in-core log buffer size
	hblks    int64
	raw      []byte // header and extended header sectors
	dataBBs  int64
	totalBBs int64
}

func lsnCycle(lsn uint64) uint32 { return uint32(lsn >> 32) }
func lsnBlock(lsn uint64) int64  { return int64(uint32(lsn)) }

// header reads and checks the record header at blk (xlog_valid_rec_header).
func (l *logDev) header(blk int64) (*recHeader, error) {
	b := make([]byte, bbSize)
	if err := l.read(b, blk); err != nil {
		return nil, err
	}
	if be32(b, 0) != logMagic {
		return nil, logCorrupt("no record header at log block %d", blk)
	}
	h := &recHeader{
		blk:     l.wrap(blk),
		cycle:   be32(b, 4),
		version: be32(b, 8),
		length:  int(int32(be32(b, 12))),
		lsn:     be64(b, 16),
		tailLSN: be64(b, 24),
		crc:     binary.LittleEndian.Uint32(b[32:]),
		numOps:  int(int32(be32(b, 40))),
		fmt:     be32(b, 300),
		size:    int(int32(be32(b, 320))),
		hblks:   1,
	}
	if h.version == 0 || h.version&^3 != 0 {
		return nil, logCorrupt("record at log block %d: version %d", blk, h.version)
	}
	bufSize := 32 << 10
	if l.v2 {
		if h.version&logVersion2 != 0 && h.size > cycleDataSize {
			if h.size > maxRecordSize {
				return nil, logCorrupt("record at log block %d: buffer size %d", blk, h.size)
			}
			h.hblks = int64((h.size + cycleDataSize - 1) / cycleDataSize)
		}
		if h.size > 0 && h.size <= maxRecordSize {
			bufSize = max(bufSize, h.size)
		}
	}
	if h.length <= 0 || h.length > bufSize {
		return nil, logCorrupt("record at log block %d claims %d bytes (buffer %d)", blk, h.length, bufSize)
	}
	if h.numOps < 0 {
		return nil, logCorrupt("record at log block %d: %d operations", blk, h.numOps)
	}
	h.dataBBs = int64((h.length + bbSize - 1) / bbSize)
	h.totalBBs = h.hblks + h.dataBBs
	if h.totalBBs > l.bbs {
		return nil, logCorrupt("record at log block %d larger than the log", blk)
	}
	h.raw = b
	if h.hblks > 1 {
		h.raw = make([]byte, h.hblks*bbSize)
		copy(h.raw, b)
		if err := l.read(h.raw[bbSize:], blk+1); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// data reads a record's data, checks its CRC and puts back the words the
// cycle stamps displaced (xlog_recover_process + xlog_unpack_data).
func (l *logDev) data(h *recHeader) ([]byte, error) {
	d := make([]byte, h.length)
	if err := l.read(d, h.blk+h.hblks); err != nil {
		return nil, err
	}
	// mkfs writes its unmount record with a zero CRC, which the kernel
	// accepts on v5 too; any other value must match.
	if h.crc != 0 {
		if got := recordCRC(h, d, l.v2); got != h.crc {
			return nil, logCorrupt("record at log block %d: bad CRC 0x%08x, computed 0x%08x", h.blk, h.crc, got)
		}
	}
	for i := 0; i*bbSize < len(d); i++ {
		var w []byte
		j, k := i/(cycleDataSize/bbSize), i%(cycleDataSize/bbSize)
		switch {
		case j == 0:
			w = h.raw[44+k*4:]
		case l.v2 && int64(j) < h.hblks:
			w = h.raw[j*bbSize+4+k*4:]
		default:
			return nil, logCorrupt("record at log block %d: no cycle data for sector %d", h.blk, i)
		}
		copy(d[i*bbSize:i*bbSize+4], w[:4])
	}
	return d, nil
}

// recordCRC is xlog_cksum: the header up to its fixed size with the CRC
// field zeroed, the extended headers' cycle words and data, then the data
// as written.
func recordCRC(h *recHeader, d []byte, v2 bool) uint32 {
	const hdrLen = 328 // sizeof(struct xlog_rec_header), padded to 8
	var zero [4]byte
	crc := crc32.Update(0, castagnoli, h.raw[:32])
	crc = crc32.Update(crc, castagnoli, zero[:])
	crc = crc32.Update(crc, castagnoli, h.raw[36:hdrLen])
	if v2 {
		xheads := (len(d) + cycleDataSize - 1) / cycleDataSize
		for i := 1; i < xheads && int64(i) < h.hblks; i++ {
			crc = crc32.Update(crc, castagnoli, h.raw[i*bbSize:i*bbSize+260])
		}
	}
	return crc32.Update(crc, castagnoli, d)
}

// lastHeader finds the record header nearest before blk (xlog_rseek_logrec_hdr).
func (l *logDev) lastHeader(blk int64) (int64, error) {
	limit := min(l.bbs, 2*(maxRecordSize/bbSize+maxRecordSize/cycleDataSize))
	// Usually the header is a few blocks back: start small.
	chunk := int64(8)
	var buf []byte
	for i := int64(1); i <= limit; i, chunk = i+chunk, 64 {
		// BBs blk-i-chunk+1 .. blk-i, read forward, searched backward.
		n := min(chunk, limit-i+1)
		if int64(len(buf)) < n*bbSize {
			buf = make([]byte, n*bbSize)
		}
		if err := l.read(buf[:n*bbSize], blk-i-n+1); err != nil {
			return 0, err
		}
		for j := n - 1; j >= 0; j-- {
			if be32(buf, int(j)*bbSize) == logMagic {
				return l.wrap(blk - i - (n - 1 - j)), nil
			}
		}
	}
	return 0, logCorrupt("no record header in the %d log blocks before block %d", limit, blk)
}

// logState is what the head and tail search found.
type logState struct {
	head, tail int64
	clean      bool
	// tornFrom is the first of the last maxIclogs records before the head:
	// damage from there on is what a crash leaves (in-core log buffers
	// written out of order), which the kernel discards quietly; damage
	// before it is corruption.
	tornFrom int64
	warnings []string
}

// findTail is xlog_find_tail: the record before the head names the tail;
// a record holding only an unmount record means a clean unmount. A torn
// last record (bad CRC, or shorter than its header says) moves the head
// back, as the kernel does.
func (l *logDev) findTail() (*logState, error) {
	head, zeroed, err := l.findHead()
	if err != nil {
		return nil, err
	}
	if zeroed {
		return &logState{clean: true}, nil
	}
	st := &logState{}
	for tries := 0; ; tries++ {
		r, err := l.lastHeader(head)
		if err != nil {
			return nil, err
		}
		h, err := l.header(r)
		if err == nil {
			if ext := h.totalBBs; l.dist(r, head) != ext%l.bbs && !(l.dist(r, head) == 0 && ext == l.bbs) {
				// Shorter than it says: the write never finished.
				if tries < maxIclogs {
					st.warnings = append(st.warnings, fmt.Sprintf("log record at block %d incomplete (torn write): head moved back from %d", r, head))
					head = r
					continue
				}
				return nil, logCorrupt("record at log block %d ends at %d, head is %d", r, l.wrap(r+ext), head)
			}
			if _, err = l.data(h); err == nil {
				st.head = head
				st.tail = lsnBlock(h.tailLSN)
				if st.tail >= l.bbs {
					return nil, logCorrupt("tail block %d beyond the log of %d blocks", st.tail, l.bbs)
				}
				if h.numOps == 1 && l.isUnmount(h) {
					st.tail = head
				}
				st.clean = st.tail == st.head
				if !st.clean {
					st.tornFrom = l.tornFrom(st, r)
				}
				return st, nil
			}
		}
		if tries >= maxIclogs || !errors.Is(err, errLogCorrupt) {
			return nil, err
		}
		st.warnings = append(st.warnings, fmt.Sprintf("log record at block %d: %v (torn write): head moved back from %d", r, err, head))
		head = r
	}
}

// isUnmount says whether a record's only operation is an unmount record.
func (l *logDev) isUnmount(h *recHeader) bool {
	d, err := l.data(h)
	if err != nil || len(d) < opHeaderSize {
		return false
	}
	return d[9]&opUnmount != 0
}

// tornFrom walks back up to maxIclogs record headers from last, not past
// the tail (xlog_verify_head's window).
func (l *logDev) tornFrom(st *logState, last int64) int64 {
	r := last
	for i := 1; i < maxIclogs; i++ {
		p, err := l.lastHeader(r)
		if err != nil || l.dist(st.tail, p) > l.dist(st.tail, r) || p == r {
			break
		}
		r = p
	}
	return r
}
