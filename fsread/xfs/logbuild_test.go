package xfs

import (
	"encoding/binary"
	"hash/crc32"
)

// logOp is one operation a test or fuzz input puts in a log record.
type logOp struct {
	tid   uint32
	flags byte
	body  []byte
}

// buildLog writes records of ops the way the kernel does -- header with
// LSN, tail LSN (the first record), cycle 1, one cycle stamp per sector with
// the displaced words in the header, CRC -- into a log of bbs blocks, the
// rest left zero (never written), so the head is right after the last
// record. It is the inverse of scanLog for the fuzz round trip.
func buildLog(bbs int64, uuid [16]byte, recs [][]logOp) []byte {
	return buildLogAt(bbs, 0, uuid, recs)
}

// buildLogAt is buildLog with the first record at block start (and the
// blocks before it left as a zeroed, never-written cycle-0 area would not
// be: they carry cycle 1 stamps, as a log whose older records were
// overwritten by nothing does).
func buildLogAt(bbs, start int64, uuid [16]byte, recs [][]logOp) []byte {
	log := make([]byte, bbs*bbSize)
	for b := int64(0); b < start; b++ {
		binary.BigEndian.PutUint32(log[b*bbSize:], 1)
	}
	blk := start
	for _, ops := range recs {
		var d []byte
		for _, o := range ops {
			d = binary.BigEndian.AppendUint32(d, o.tid)
			d = binary.BigEndian.AppendUint32(d, uint32(len(o.body)))
			d = append(d, clientTransaction, o.flags, 0, 0)
			d = append(d, o.body...)
		}
		if len(d) == 0 {
			d = make([]byte, 8)
		}
		d = append(d, make([]byte, (bbSize-len(d)%bbSize)%bbSize)...)
		if len(d) > cycleDataSize || blk+1+int64(len(d)/bbSize) > bbs {
			break
		}
		h := make([]byte, bbSize)
		be := binary.BigEndian
		be.PutUint32(h[0:], logMagic)
		be.PutUint32(h[4:], 1)
		be.PutUint32(h[8:], logVersion2)
		be.PutUint32(h[12:], uint32(len(d)))
		be.PutUint64(h[16:], 1<<32|uint64(blk))
		be.PutUint64(h[24:], 1<<32|uint64(start))
		be.PutUint32(h[40:], uint32(len(ops)))
		be.PutUint32(h[300:], 1) // little-endian items
		copy(h[304:], uuid[:])
		be.PutUint32(h[320:], cycleDataSize)
		if blk > 0 {
			be.PutUint32(h[36:], uint32(blk-1))
		}
		for i := 0; i*bbSize < len(d); i++ {
			copy(h[44+4*i:], d[i*bbSize:i*bbSize+4])
			be.PutUint32(d[i*bbSize:], 1)
		}
		rh := &recHeader{raw: h, hblks: 1}
		binary.LittleEndian.PutUint32(h[32:], recordCRC(rh, d, true))
		copy(log[blk*bbSize:], h)
		copy(log[(blk+1)*bbSize:], d)
		blk += 1 + int64(len(d)/bbSize)
	}
	return log
}

var _ = crc32.Castagnoli

// Item encoders for synthetic seeds and tests, in the little-endian layout
// a Linux x86 kernel writes.
func transHeader() []byte {
	b := make([]byte, transHeaderSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], transMagic)
	le.PutUint32(b[4:], 40) // XFS_TRANS_CHECKPOINT
	le.PutUint32(b[12:], 1)
	return b
}

// bufFormat is an xfs_buf_log_format for a buffer of nbb sectors at daddr
// with the given 128-byte chunks dirty, and regions the count of data
// regions that follow.
func bufFormat(daddr int64, nbb int, flags uint16, chunks []int, regions int) []byte {
	le := binary.LittleEndian
	words := (nbb*bbSize/blfChunk + 31) / 32
	b := make([]byte, 20+4*words)
	le.PutUint16(b[0:], liBuf)
	le.PutUint16(b[2:], uint16(1+regions))
	le.PutUint16(b[4:], flags)
	le.PutUint16(b[6:], uint16(nbb))
	le.PutUint64(b[8:], uint64(daddr))
	le.PutUint32(b[16:], uint32(words))
	for _, c := range chunks {
		w := le.Uint32(b[20+4*(c/32):])
		le.PutUint32(b[20+4*(c/32):], w|1<<(c%32))
	}
	return b
}

func icreateItem(agno, agbno, count, isize, length, gen uint32) []byte {
	b := make([]byte, 28)
	binary.LittleEndian.PutUint16(b[0:], liIcreate)
	binary.LittleEndian.PutUint16(b[2:], 1)
	be := binary.BigEndian
	for i, x := range []uint32{agno, agbno, count, isize, length, gen} {
		be.PutUint32(b[4+4*i:], x)
	}
	return b
}

func intentItem(typ uint16, id uint64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], typ)
	binary.LittleEndian.PutUint16(b[2:], 1)
	binary.LittleEndian.PutUint64(b[8:], id)
	return b
}

// txn is the operations of one transaction: start, header, the item
// regions, commit.
func txn(tid uint32, regions ...[]byte) []logOp {
	ops := []logOp{{tid: tid, flags: opStart}, {tid: tid, body: transHeader()}}
	for _, r := range regions {
		ops = append(ops, logOp{tid: tid, body: r})
	}
	return append(ops, logOp{tid: tid, flags: opCommit})
}
