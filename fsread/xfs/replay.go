package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
)

// Log item types (xfs_log_format.h).
const (
	liEFI     = 0x1236
	liEFD     = 0x1237
	liIunlink = 0x1238
	liInode   = 0x123b
	liBuf     = 0x123c
	liDquot   = 0x123d
	liQuotaOf = 0x123e
	liIcreate = 0x123f
	liRUI     = 0x1240
	liRUD     = 0x1241
	liCUI     = 0x1242
	liCUD     = 0x1243
	liBUI     = 0x1244
	liBUD     = 0x1245
	liATTRI   = 0x1246
	liATTRD   = 0x1247
	liXMI     = 0x1248
	liXMD     = 0x1249

	blfInodeBuf = 1 << 0
	blfCancel   = 1 << 1
	blfQuota    = 1<<2 | 1<<3 | 1<<4
	blfChunk    = 128
	blfMapWords = 65536/blfChunk/32 + 1

	ilogCore   = 0x001
	ilogDData  = 0x002
	ilogDExt   = 0x004
	ilogDBroot = 0x008
	ilogDev    = 0x010
	ilogAData  = 0x040
	ilogAExt   = 0x080
	ilogABroot = 0x100
	ilogDOwner = 0x200
	ilogAOwner = 0x400
	ilogDFork  = ilogDData | ilogDExt | ilogDBroot
	ilogAFork  = ilogAData | ilogAExt | ilogABroot

	dinodeV3Size = 176
	dinodeV2Size = 100
	nullAgino    = 0xffffffff
)

var errReplayMemory = errors.New("replay memory cap (maxReplayBytes, 256 MiB) reached: log data and replayed blocks")

// intentNames names the intent/done item pairs replay does not redo. An
// intent whose done item is in the log left nothing pending; the rest are
// what the kernel would finish after replay. contentAffecting: a pending
// intent of that kind changes what files read (mappings, attributes).
var intentNames = map[uint16]struct {
	name             string
	done             uint16
	contentAffecting bool
}{
	liEFI:   {"extent-free intent (EFI)", liEFD, false},
	liRUI:   {"reverse-map update intent (RUI)", liRUD, false},
	liCUI:   {"refcount update intent (CUI)", liCUD, false},
	liBUI:   {"block-mapping update intent (BUI)", liBUD, true},
	liATTRI: {"attribute intent (ATTRI)", liATTRD, true},
	liXMI:   {"file-mapping exchange intent (XMI)", liXMD, true},
}

type bufKey struct {
	blkno int64
	nbb   int
}

type segment struct {
	off  int
	data []byte
}

// ritem is a decoded log item, checked against the geometry.
type ritem struct {
	typ uint16
	// buffer
	buf   bufKey
	flags uint16
	segs  []segment
	// inode
	ino         uint64
	fields      uint32
	boff        int
	core        []byte
	dfork, afor []byte
	rdev        uint32
	// icreate
	agno, agbno, count, isize, length, gen uint32
	// intents and done items
	id uint64
}

type rtrans struct {
	tid   uint32
	lsn   uint64
	items []*ritem
}

// replayer applies committed transactions to an overlay the way
// xlog_recover_commit_trans does: pass 1 collects cancelled buffers over
// the whole log, pass 2 applies buffer, inode and inode-create items in
// each transaction's recovery order.
type replayer struct {
	v       *volume
	bo      binary.ByteOrder
	ov      *blockOverlay
	cancel  map[bufKey]int
	open    map[uint16]map[uint64]bool
	closed  map[uint16]int // intents whose done item followed
	skipped map[string]int
	// incomplete names what was left unapplied that files can depend on.
	incomplete []string
	applied    int
}

func (v *volume) newReplayer(bo binary.ByteOrder) *replayer {
	return &replayer{v: v, bo: bo, ov: newOverlay(v.bs), cancel: map[bufKey]int{},
		open: map[uint16]map[uint64]bool{}, closed: map[uint16]int{}, skipped: map[string]int{}}
}

// decode checks and decodes every item of a committed transaction.
func (rp *replayer) decode(c committed) (*rtrans, error) {
	t := &rtrans{tid: c.tid, lsn: c.lsn}
	var bufs, others, ibufs, cancels []*ritem
	for _, it := range c.items {
		ri, err := rp.decodeItem(it)
		if err != nil {
			return nil, err
		}
		switch {
		case ri.typ == liBuf && ri.flags&blfCancel != 0:
			cancels = append(cancels, ri)
		case ri.typ == liBuf && ri.flags&blfInodeBuf != 0:
			ibufs = append(ibufs, ri)
		case ri.typ == liBuf:
			bufs = append(bufs, ri)
		default:
			others = append(others, ri)
		}
	}
	// xlog_recover_reorder_trans: buffers, then the other items, then
	// inode buffers, then cancellations.
	for _, l := range [][]*ritem{bufs, others, ibufs, cancels} {
		t.items = append(t.items, l...)
	}
	return t, nil
}

func (rp *replayer) decodeItem(it *logItem) (*ritem, error) {
	bo := rp.bo
	r0 := it.regs[0]
	ri := &ritem{typ: it.typ(bo)}
	switch ri.typ {
	case liBuf:
		return ri, rp.decodeBuf(ri, it)
	case liInode:
		return ri, rp.decodeInode(ri, it)
	case liIcreate:
		if len(r0) < 28 {
			return nil, fmt.Errorf("inode-create item of %d bytes", len(r0))
		}
		ri.agno, ri.agbno, ri.count = be32(r0, 4), be32(r0, 8), be32(r0, 12)
		ri.isize, ri.length, ri.gen = be32(r0, 16), be32(r0, 20), be32(r0, 24)
		sb := rp.v.sb
		if ri.agno >= sb.agcount || ri.agbno >= sb.agblocks || ri.length == 0 || uint64(ri.agbno)+uint64(ri.length) > uint64(sb.agblocks) ||
			ri.isize != uint32(sb.inodeSize) || ri.count>>sb.inopbLog != ri.length || ri.length > 1024 {
			return nil, fmt.Errorf("inode-create item for %d inodes at AG %d block %d outside the filesystem", ri.count, ri.agno, ri.agbno)
		}
		return ri, nil
	case liDquot, liQuotaOf, liIunlink:
		return ri, nil
	}
	if _, ok := intentNames[ri.typ]; ok || isDone(ri.typ) {
		if len(r0) < 16 {
			return nil, fmt.Errorf("log item 0x%x of %d bytes", ri.typ, len(r0))
		}
		ri.id = bo.Uint64(r0[8:])
		return ri, nil
	}
	return nil, fmt.Errorf("unknown log item type 0x%x", ri.typ)
}

func isDone(t uint16) bool {
	for _, n := range intentNames {
		if n.done == t {
			return true
		}
	}
	return false
}

// checkRange refuses a buffer outside the data device or the image.
func (rp *replayer) checkRange(blkno int64, nbb int) error {
	end := (blkno + int64(nbb)) * bbSize
	if blkno < 0 || nbb <= 0 || nbb > 128 || blkno > 1<<53 || uint64(end) > rp.v.sb.dblocks*uint64(rp.v.bs) || end > rp.v.size {
		return fmt.Errorf("buffer of %d blocks at daddr %d outside the filesystem", nbb, blkno)
	}
	return nil
}

func (rp *replayer) decodeBuf(ri *ritem, it *logItem) error {
	bo, r0 := rp.bo, it.regs[0]
	if len(r0) < 20 {
		return fmt.Errorf("buffer item format of %d bytes", len(r0))
	}
	ri.flags = bo.Uint16(r0[4:])
	ri.buf = bufKey{int64(bo.Uint64(r0[8:])), int(bo.Uint16(r0[6:]))}
	if err := rp.checkRange(ri.buf.blkno, ri.buf.nbb); err != nil {
		return err
	}
	if ri.flags&blfCancel != 0 {
		return nil
	}
	words := int(bo.Uint32(r0[16:]))
	if words > blfMapWords || 20+4*words > len(r0) {
		return fmt.Errorf("buffer item bitmap of %d words", words)
	}
	bit := func(i int) bool { return bo.Uint32(r0[20+4*(i/32):])&(1<<(i%32)) != 0 }
	nbits := words * 32
	size := ri.buf.nbb * bbSize
	reg := 1
	for b := 0; b < nbits; {
		if !bit(b) {
			b++
			continue
		}
		n := 1
		for b+n < nbits && bit(b+n) {
			n++
		}
		if reg >= len(it.regs) {
			return fmt.Errorf("buffer item at daddr %d: dirty bitmap names more regions than the %d logged", ri.buf.blkno, len(it.regs)-1)
		}
		d := it.regs[reg]
		// A contiguous dirty range may have been logged as several
		// regions (split at a page boundary): trim to this one.
		if len(d) < n*blfChunk {
			n = len(d) / blfChunk
		}
		if n == 0 || (b+n)*blfChunk > size {
			return fmt.Errorf("buffer item at daddr %d: region %d of %d bytes at chunk %d does not fit the buffer of %d bytes", ri.buf.blkno, reg, len(d), b, size)
		}
		ri.segs = append(ri.segs, segment{b * blfChunk, d[:n*blfChunk]})
		reg++
		b += n
	}
	return nil
}

func (rp *replayer) decodeInode(ri *ritem, it *logItem) error {
	bo, r0 := rp.bo, it.regs[0]
	var blkno int64
	var nbb int
	switch len(r0) {
	case 52: // xfs_inode_log_format_32, packed
		ri.ino, ri.rdev = bo.Uint64(r0[12:]), bo.Uint32(r0[20:])
		blkno, nbb, ri.boff = int64(bo.Uint64(r0[36:])), int(int32(bo.Uint32(r0[44:]))), int(int32(bo.Uint32(r0[48:])))
	case 56:
		ri.ino, ri.rdev = bo.Uint64(r0[16:]), bo.Uint32(r0[24:])
		blkno, nbb, ri.boff = int64(bo.Uint64(r0[40:])), int(int32(bo.Uint32(r0[48:]))), int(int32(bo.Uint32(r0[52:])))
	default:
		return fmt.Errorf("inode item format of %d bytes", len(r0))
	}
	ri.fields = bo.Uint32(r0[4:])
	ri.buf = bufKey{blkno, nbb}
	if err := rp.checkRange(blkno, nbb); err != nil {
		return fmt.Errorf("inode %d: %w", ri.ino, err)
	}
	isz := int(rp.v.sb.inodeSize)
	off, err := rp.v.inodeOffset(ri.ino)
	if err != nil || ri.boff < 0 || ri.boff+isz > nbb*bbSize || off != blkno*bbSize+int64(ri.boff) {
		return fmt.Errorf("inode item for inode %d at daddr %d+%d does not locate it", ri.ino, blkno, ri.boff)
	}
	if len(it.regs) < 2 {
		return fmt.Errorf("inode %d: item without its core", ri.ino)
	}
	ri.core = it.regs[1]
	if len(ri.core) < 96 || len(ri.core) > dinodeV3Size || rp.bo.Uint16(ri.core) != inodeMagic {
		return fmt.Errorf("inode %d: logged core of %d bytes, magic 0x%x", ri.ino, len(ri.core), rp.bo.Uint16(ri.core))
	}
	idx := 2
	if d := ri.fields & ilogDFork; d != 0 {
		if d&(d-1) != 0 || idx >= len(it.regs) {
			return fmt.Errorf("inode %d: data fork fields 0x%x with %d regions", ri.ino, ri.fields, len(it.regs))
		}
		ri.dfork = it.regs[idx]
		idx++
	}
	if a := ri.fields & ilogAFork; a != 0 {
		if a&(a-1) != 0 || idx >= len(it.regs) {
			return fmt.Errorf("inode %d: attribute fork fields 0x%x with %d regions", ri.ino, ri.fields, len(it.regs))
		}
		ri.afor = it.regs[idx]
	}
	return nil
}

// run replays the committed transactions of s into the overlay and
// returns the recovery record.
func (rp *replayer) run(s *logScan) (rec recoveryResult) {
	var ts []*rtrans
	var warns []string
	// The log's own damage (from scanLog) and a transaction that cannot
	// be decoded or applied are reported each; either ends replay.
	var failed error
	// One budget for both: the log data kept until pass 2 and the blocks
	// replayed into.
	rp.ov.limit = maxReplayBytes - s.bytes
	for _, c := range s.trans {
		t, err := rp.decode(c)
		if err != nil {
			failed = fmt.Errorf("transaction %#x at LSN %d/%d: %w", c.tid, lsnCycle(c.lsn), lsnBlock(c.lsn), err)
			break
		}
		ts = append(ts, t)
	}
	// Pass 1: every cancellation in the log, before anything is applied.
	for _, t := range ts {
		for _, it := range t.items {
			if it.typ == liBuf && it.flags&blfCancel != 0 {
				rp.cancel[it.buf]++
			}
		}
	}
	done := 0
	for _, t := range ts {
		rp.ov.begin()
		err := rp.apply(t)
		if err != nil {
			rp.ov.rollback()
			failed = fmt.Errorf("transaction %#x at LSN %d/%d: %w", t.tid, lsnCycle(t.lsn), lsnBlock(t.lsn), err)
			break
		}
		rp.ov.commit()
		done++
	}
	rp.ov.seal()
	rec.transactions = done
	rec.blocks = len(rp.ov.blocks)
	if s.stop != nil {
		if s.torn && failed == nil {
			warns = append(warns, fmt.Sprintf("log ends in a torn write, discarded as the kernel does: %v", s.stop))
		} else {
			rec.incomplete = true
			warns = append(warns, fmt.Sprintf("log read up to damage: %v", s.stop))
		}
	}
	if failed != nil {
		rec.incomplete = true
		warns = append(warns, fmt.Sprintf("replay ended after %d transactions: %v", done, failed))
	}
	var more []string
	for typ, ids := range rp.open {
		n := intentNames[typ]
		if len(ids) == 0 {
			continue
		}
		more = append(more, fmt.Sprintf("%d pending %s not applied", len(ids), n.name))
		if n.contentAffecting {
			rec.incomplete = true
		}
	}
	for typ, n := range rp.closed {
		more = append(more, fmt.Sprintf("%d %s paired with done items: not replayed, nothing pending", n, intentNames[typ].name))
	}
	for what, n := range rp.skipped {
		more = append(more, fmt.Sprintf("%d %s not applied", n, what))
	}
	sort.Strings(more)
	if len(rp.incomplete) > 0 {
		rec.incomplete = true
		more = append(more, rp.incomplete...)
	}
	rec.warnings = append(warns, more...)
	return rec
}

type recoveryResult struct {
	transactions, blocks int
	incomplete           bool
	warnings             []string
}

func (rp *replayer) apply(t *rtrans) error {
	for _, it := range t.items {
		var err error
		switch it.typ {
		case liBuf:
			err = rp.applyBuf(it, t.lsn)
		case liInode:
			err = rp.applyInode(it, t.lsn)
		case liIcreate:
			err = rp.applyIcreate(it)
		case liDquot, liQuotaOf:
			rp.skipped["quota log items (quota is not read)"]++
		case liIunlink:
		default:
			if _, ok := intentNames[it.typ]; ok {
				if rp.open[it.typ] == nil {
					rp.open[it.typ] = map[uint64]bool{}
				}
				rp.open[it.typ][it.id] = true
			} else {
				for typ, n := range intentNames {
					if n.done == it.typ && rp.open[typ][it.id] {
						delete(rp.open[typ], it.id)
						rp.closed[typ]++
					}
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// bytesAt returns the replayed bytes of [off, off+n) for changing; the
// range must not cross a filesystem block (inodes and chunks never do).
func (rp *replayer) bytesAt(off int64, n int) ([]byte, error) {
	bs := rp.v.bs
	if off/bs != (off+int64(n)-1)/bs {
		return nil, fmt.Errorf("range of %d bytes at %d crosses a block", n, off)
	}
	b, err := rp.ov.block(rp.v.r, off/bs)
	if err != nil {
		return nil, err
	}
	return b[off%bs : off%bs+int64(n)], nil
}

// writeAt copies p over the replayed view at off, block by block.
func (rp *replayer) writeAt(p []byte, off int64) error {
	bs := rp.v.bs
	for len(p) > 0 {
		b, err := rp.ov.block(rp.v.r, off/bs)
		if err != nil {
			return err
		}
		n := copy(b[off%bs:], p)
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// readAt reads the replayed view (for the LSN checks).
func (rp *replayer) readAt(p []byte, off int64) error {
	if k, err := rp.v.r.ReadAt(p, off); k < len(p) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	rp.ov.patchLive(p, off)
	return nil
}

func (rp *replayer) applyBuf(it *ritem, lsn uint64) error {
	if it.flags&blfCancel != 0 {
		if rp.cancel[it.buf]--; rp.cancel[it.buf] <= 0 {
			delete(rp.cancel, it.buf)
		}
		return nil
	}
	if rp.cancel[it.buf] > 0 {
		return nil // freed later in the log: its contents are stale
	}
	if it.flags&blfQuota != 0 {
		rp.skipped["quota buffers (quota is not read)"]++
		return nil
	}
	base := it.buf.blkno * bbSize
	if rp.v.v5 && len(it.segs) > 0 {
		head := make([]byte, min(it.buf.nbb*bbSize, bbSize))
		if err := rp.readAt(head, base); err != nil {
			return fmt.Errorf("buffer at daddr %d: %w", it.buf.blkno, err)
		}
		if got := rp.bufLSN(head); got != 0 && got != ^uint64(0) && got >= lsn {
			return nil // the disk already holds a newer version
		}
	}
	if it.flags&blfInodeBuf != 0 {
		return rp.applyInodeBuf(it)
	}
	for _, s := range it.segs {
		if err := rp.writeAt(s.data, base+int64(s.off)); err != nil {
			return fmt.Errorf("buffer at daddr %d: %w", it.buf.blkno, err)
		}
	}
	rp.applied++
	return nil
}

// applyInodeBuf is xlog_recover_do_inode_buffer: of an inode buffer only
// the unlinked-list pointers are replayed; the inodes come from inode items.
func (rp *replayer) applyInodeBuf(it *ritem) error {
	isz := int(rp.v.sb.inodeSize)
	base := it.buf.blkno * bbSize
	for i := 0; i < it.buf.nbb*bbSize/isz; i++ {
		o := i*isz + 0x60
		for _, s := range it.segs {
			if o >= s.off && o+4 <= s.off+len(s.data) {
				ptr := s.data[o-s.off : o-s.off+4]
				if be32(ptr, 0) == 0 {
					return fmt.Errorf("inode buffer at daddr %d: zero unlinked pointer", it.buf.blkno)
				}
				d, err := rp.bytesAt(base+int64(i*isz), isz)
				if err != nil {
					return err
				}
				copy(d[0x60:], ptr)
				rp.inodeCRC(d)
			}
		}
	}
	rp.applied++
	return nil
}

func (rp *replayer) inodeCRC(d []byte) {
	if !rp.v.v5 || be16(d, 0) != inodeMagic || d[4] != 3 {
		return
	}
	var zero [4]byte
	c := crc32.Update(0, castagnoli, d[:0x64])
	c = crc32.Update(c, castagnoli, zero[:])
	c = crc32.Update(c, castagnoli, d[0x68:])
	binary.LittleEndian.PutUint32(d[0x64:], c)
}

// bufLSN is xlog_recover_get_buf_lsn: the LSN a v5 metadata block records
// of its last write, found by its magic; 0 when it has none we know.
func (rp *replayer) bufLSN(b []byte) uint64 {
	at := func(lsnOff, uuidOff int) uint64 {
		if len(b) < uuidOff+16 || len(b) < lsnOff+8 || [16]byte(b[uuidOff:uuidOff+16]) != rp.v.metaUUID() {
			return ^uint64(0)
		}
		return be64(b, lsnOff)
	}
	if len(b) < 12 {
		return 0
	}
	switch be32(b, 0) {
	case 0x41423342, 0x41423343, 0x49414233, 0x46494233, 0x524d4233, 0x52334643: // AB3B AB3C IAB3 FIB3 RMB3 R3FC
		return at(24, 32)
	case 0x424d4133: // BMA3
		return at(32, 40)
	case 0x58414746: // XAGF
		return at(208, 64) // agf_lsn, agf_uuid
	case 0x58414749: // XAGI
		return at(320, 296) // agi_lsn, agi_uuid
	case 0x5841464c: // XAFL
		return at(24, 8) // agfl_lsn, agfl_uuid
	case sbMagic:
		if rp.v.sb.incompat&incompatMetaUUID != 0 {
			return at(240, 248) // sb_lsn, sb_meta_uuid
		}
		return at(240, 32) // sb_lsn, sb_uuid
	case 0x5841524d: // XARM: remote attribute values are written, not logged: no ordered LSN
		return 0
	case dirBlockMagicV5, dirDataMagicV5, 0x58444633: // XDB3 XDD3 XDF3 (free index)
		return at(16, 24)
	case symlinkMagic:
		return at(48, 16)
	}
	switch be16(b, 8) {
	case 0x3df1, 0x3dff, 0x3ebe, 0x3bee: // DIR3 LEAF1, LEAFN, DA3 NODE, ATTR3 LEAF
		return at(24, 32)
	}
	return 0
}

func (v *volume) metaUUID() [16]byte {
	return v.sb.metaUUID
}

// applyInode is xlog_recover_inode_commit_pass2.
func (rp *replayer) applyInode(it *ritem, lsn uint64) error {
	if rp.cancel[it.buf] > 0 {
		return nil
	}
	v := rp.v
	isz := int(v.sb.inodeSize)
	dip, err := rp.bytesAt(it.buf.blkno*bbSize+int64(it.boff), isz)
	if err != nil {
		return fmt.Errorf("inode %d: %w", it.ino, err)
	}
	if be16(dip, 0) != inodeMagic {
		return fmt.Errorf("inode %d: the place to replay it does not hold an inode (magic 0x%04x)", it.ino, be16(dip, 0))
	}
	bo := rp.bo
	ld := make([]byte, dinodeV3Size)
	copy(ld, it.core)
	if dip[4] >= 3 {
		if dl := be64(dip, 0x70); dl != 0 && dl != ^uint64(0) && dl > lsn {
			return rp.ownerChange(it) // the disk holds a newer inode
		}
	}
	if !v.v5 {
		lf, df := bo.Uint16(ld[30:]), be16(dip, 0x1e)
		if lf < df && !(df == 0xffff && lf < 0x7fff) {
			return nil
		}
	}
	mode := bo.Uint16(ld[2:])
	format := ld[5]
	switch mode & sIFMT {
	case sIFREG:
		if format != fmtExtents && format != fmtBtree {
			return fmt.Errorf("inode %d: regular file in fork format %d", it.ino, format)
		}
	case sIFDIR:
		if format != fmtExtents && format != fmtBtree && format != fmtLocal {
			return fmt.Errorf("inode %d: directory in fork format %d", it.ino, format)
		}
	}
	flags2 := bo.Uint64(ld[120:])
	nrext64 := ld[4] >= 3 && flags2&diflag2Nrext64 != 0
	nblocks := bo.Uint64(ld[64:])
	var next, anext uint64
	if nrext64 {
		next, anext = bo.Uint64(ld[24:]), uint64(bo.Uint32(ld[76:]))
	} else {
		next, anext = uint64(bo.Uint32(ld[76:])), uint64(bo.Uint16(ld[80:]))
	}
	if next+anext > nblocks {
		return fmt.Errorf("inode %d: %d extents in %d blocks", it.ino, next+anext, nblocks)
	}
	forkoff := int(ld[82]) * 8
	core := dinodeV2Size
	if ld[4] >= 3 {
		core = dinodeV3Size
	}
	if forkoff > isz-core {
		return fmt.Errorf("inode %d: attribute fork offset %d", it.ino, forkoff)
	}
	rp.logDinodeToDisk(dip, ld, lsn, nrext64)
	if it.fields&ilogDev != 0 {
		binary.BigEndian.PutUint32(dip[core:], it.rdev)
	}
	lit := isz - core
	dsize, asize := lit, 0
	if forkoff != 0 {
		dsize, asize = forkoff, lit-forkoff
	}
	if d := it.dfork; d != nil {
		dst := dip[core : core+dsize]
		if it.fields&ilogDBroot != 0 {
			if err := rp.bmbtToBmdr(d, dst); err != nil {
				return fmt.Errorf("inode %d: data fork root: %w", it.ino, err)
			}
		} else {
			if len(d) > dsize {
				return fmt.Errorf("inode %d: %d bytes of data fork in %d", it.ino, len(d), dsize)
			}
			copy(dst, d)
		}
	}
	if a := it.afor; a != nil {
		if asize == 0 {
			return fmt.Errorf("inode %d: attribute fork logged without a fork offset", it.ino)
		}
		dst := dip[core+forkoff : isz]
		if it.fields&ilogABroot != 0 {
			if err := rp.bmbtToBmdr(a, dst); err != nil {
				return fmt.Errorf("inode %d: attribute fork root: %w", it.ino, err)
			}
		} else {
			if len(a) > asize {
				return fmt.Errorf("inode %d: %d bytes of attribute fork in %d", it.ino, len(a), asize)
			}
			copy(dst, a)
		}
	}
	if err := rp.ownerChange(it); err != nil {
		return err
	}
	rp.inodeCRC(dip)
	rp.applied++
	return nil
}

func (rp *replayer) ownerChange(it *ritem) error {
	if it.fields&(ilogDOwner|ilogAOwner) != 0 {
		rp.incomplete = append(rp.incomplete, fmt.Sprintf("inode %d: block-map owner change (swapext) not applied", it.ino))
	}
	return nil
}

// logDinodeToDisk is xfs_log_dinode_to_disk: the logged core is in the
// writer's byte order; the on-disk inode keeps its unlinked pointer and
// takes the transaction's LSN.
func (rp *replayer) logDinodeToDisk(to, from []byte, lsn uint64, nrext64 bool) {
	bo, be := rp.bo, binary.BigEndian
	ver := from[4]
	big := ver >= 3 && bo.Uint64(from[120:])&diflag2Bigtime != 0
	ts := func(o int) {
		if big {
			be.PutUint64(to[o:], bo.Uint64(from[o:]))
		} else {
			be.PutUint32(to[o:], bo.Uint32(from[o:]))
			be.PutUint32(to[o+4:], bo.Uint32(from[o+4:]))
		}
	}
	be.PutUint16(to[0:], bo.Uint16(from[0:]))
	be.PutUint16(to[2:], bo.Uint16(from[2:]))
	to[4], to[5] = from[4], from[5]
	be.PutUint16(to[6:], 0)
	for _, o := range []int{8, 12, 16} {
		be.PutUint32(to[o:], bo.Uint32(from[o:]))
	}
	be.PutUint16(to[20:], bo.Uint16(from[20:]))
	be.PutUint16(to[22:], bo.Uint16(from[22:]))
	ts(32)
	ts(40)
	ts(48)
	be.PutUint64(to[56:], bo.Uint64(from[56:]))
	be.PutUint64(to[64:], bo.Uint64(from[64:]))
	be.PutUint32(to[72:], bo.Uint32(from[72:]))
	to[82], to[83] = from[82], from[83]
	be.PutUint32(to[84:], bo.Uint32(from[84:]))
	be.PutUint16(to[88:], bo.Uint16(from[88:]))
	be.PutUint16(to[90:], bo.Uint16(from[90:]))
	be.PutUint32(to[92:], bo.Uint32(from[92:]))
	if ver >= 3 {
		be.PutUint64(to[104:], bo.Uint64(from[104:]))
		ts(144)
		be.PutUint64(to[120:], bo.Uint64(from[120:]))
		be.PutUint32(to[128:], bo.Uint32(from[128:]))
		be.PutUint64(to[152:], bo.Uint64(from[152:]))
		be.PutUint64(to[112:], lsn)
		clear(to[132:144])
		copy(to[160:176], from[160:176])
		be.PutUint64(to[24:], 0)
	} else {
		clear(to[24:30])
		be.PutUint16(to[30:], 0) // the flush counter restarts, as in recovery
	}
	if nrext64 {
		be.PutUint64(to[24:], bo.Uint64(from[24:]))
		be.PutUint32(to[76:], bo.Uint32(from[76:]))
		be.PutUint16(to[80:], bo.Uint16(from[80:]))
	} else {
		be.PutUint32(to[76:], bo.Uint32(from[76:]))
		be.PutUint16(to[80:], bo.Uint16(from[80:]))
	}
}

// bmbtToBmdr is xfs_bmbt_to_bmdr: a logged bmap btree root is a whole
// in-memory btree block (long header, keys, pointers spaced for its own
// size); the inode keeps level, count, then keys and pointers spaced for
// the fork.
func (rp *replayer) bmbtToBmdr(src, dst []byte) error {
	hdr := 24
	if rp.v.v5 {
		hdr = 72
	}
	if len(src) < hdr || len(dst) < 4 {
		return fmt.Errorf("root of %d bytes", len(src))
	}
	smax := (len(src) - hdr) / 16
	dmax := (len(dst) - 4) / 16
	n := int(be16(src, 6))
	if n > smax || n > dmax {
		return fmt.Errorf("root with %d records (room for %d)", n, min(smax, dmax))
	}
	// Like the kernel, only the used keys and pointers are written: the
	// rest of the fork keeps what the disk held.
	copy(dst[0:2], src[4:6])
	copy(dst[2:4], src[6:8])
	copy(dst[4:4+8*n], src[hdr:hdr+8*n])
	copy(dst[4+dmax*8:4+dmax*8+8*n], src[hdr+smax*8:hdr+smax*8+8*n])
	return nil
}

// clusterBlocks is the inode cluster size in filesystem blocks.
func (v *volume) clusterBlocks() int64 {
	size := int64(8192)
	if v.v5 {
		if big := size * int64(v.sb.inodeSize) / 256; int64(v.sb.inoAlign) >= big/v.bs {
			size = big
		}
	}
	return max(1, size/v.bs)
}

// applyIcreate is xlog_recover_icreate_commit_pass2 + xfs_ialloc_inode_init:
// a new inode chunk is zeroed and each inode given magic, version,
// generation, an empty unlinked pointer and (v5) its number and UUID.
func (rp *replayer) applyIcreate(it *ritem) error {
	v := rp.v
	sb := v.sb
	agStart := int64(it.agno) * int64(sb.agblocks)
	bpc := v.clusterBlocks()
	nbufs := int64(it.length) / bpc
	cancelled := 0
	for i := int64(0); i < nbufs; i++ {
		blk := agStart + int64(it.agbno) + i*bpc
		if rp.cancel[bufKey{blk * v.bs / bbSize, int(bpc * v.bs / bbSize)}] > 0 {
			cancelled++
		}
	}
	if cancelled > 0 {
		return nil
	}
	isz := int64(sb.inodeSize)
	ver := byte(2)
	if v.v5 {
		ver = 3
	}
	uuid := v.metaUUID()
	for b := int64(0); b < int64(it.length); b++ {
		blk := agStart + int64(it.agbno) + b
		d, err := rp.bytesAt(blk*v.bs, int(v.bs))
		if err != nil {
			return fmt.Errorf("inode chunk at AG %d block %d: %w", it.agno, it.agbno, err)
		}
		clear(d)
		for i := int64(0); i < v.bs/isz; i++ {
			in := d[i*isz : (i+1)*isz]
			binary.BigEndian.PutUint16(in[0:], inodeMagic)
			in[4] = ver
			binary.BigEndian.PutUint32(in[0x5c:], it.gen)
			binary.BigEndian.PutUint32(in[0x60:], nullAgino)
			if ver == 3 {
				ino := uint64(it.agno)<<(sb.agblkLog+sb.inopbLog) | uint64(int64(it.agbno)+b)<<sb.inopbLog | uint64(i)
				binary.BigEndian.PutUint64(in[0x98:], ino)
				copy(in[0xa0:0xb0], uuid[:])
				rp.inodeCRC(in)
			}
		}
	}
	rp.applied++
	return nil
}
