package xfs

import (
	"fmt"
	"slices"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

const (
	inodeMagic = 0x494e // "IN"

	fmtDev     = 0
	fmtLocal   = 1
	fmtExtents = 2
	fmtBtree   = 3

	diflagRealtime = 0x0001
	diflagImmut    = 0x0008
	diflagAppend   = 0x0010
	diflagSync     = 0x0020
	diflagNoatime  = 0x0040
	diflagNodump   = 0x0080
	diflag2Bigtime = 1 << 3
	diflag2Nrext64 = 1 << 4

	// FS_IOC_GETFLAGS values (the ext4 i_flags numbering fsread.Meta uses).
	fsSyncFl    = 0x08
	fsNodumpFl  = 0x40
	fsNoatimeFl = 0x80

	maxBtreeDepth = 8
)

// inode is the parsed core of an on-disk inode plus a copy of its data
// fork's literal area. It is shared through the cache: never modified.
type inode struct {
	ino                 uint64
	mode                uint16
	format              uint8
	uid, gid, nlink     uint32
	atime, mtime, ctime time.Time
	crtime              time.Time
	size                int64
	nextents            uint64
	flags               uint16
	flags2              uint64
	fork                []byte
}

// fsFlags maps di_flags to the FS_IOC_GETFLAGS numbering, which is what
// lsattr shows on XFS too, so that the immutable check works unchanged.
func (in *inode) fsFlags() uint32 {
	var f uint32
	for _, m := range []struct {
		x  uint16
		fs uint32
	}{{diflagImmut, fsread.FlagImmutable}, {diflagAppend, fsread.FlagAppendOnly}, {diflagSync, fsSyncFl}, {diflagNoatime, fsNoatimeFl}, {diflagNodump, fsNodumpFl}} {
		if in.flags&m.x != 0 {
			f |= m.fs
		}
	}
	return f
}

// inode reads inode n, whose number encodes where it lies: AG, block within
// the AG, and slot within the block.
func (v *volume) inode(n uint64) (*inode, error) {
	if in, ok := v.inodeCache.Get(n); ok {
		return in, nil
	}
	off, err := v.inodeOffset(n)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, v.sb.inodeSize)
	if err := v.readFull(raw, off); err != nil {
		return nil, fmt.Errorf("inode %d: %w", n, err)
	}
	in, err := v.parseInode(n, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: inode %d: %v", fsread.ErrCorrupt, n, err)
	}
	v.inodeCache.Put(n, in, 1)
	return in, nil
}

// inodeOffset locates inode n: its number is AG, block within the AG and
// slot within the block, packed with sb_agblklog and sb_inopblog bits.
func (v *volume) inodeOffset(n uint64) (int64, error) {
	sb := v.sb
	slotBits := sb.inopbLog
	agino := n & (uint64(1)<<(sb.agblkLog+slotBits) - 1)
	agno := n >> (sb.agblkLog + slotBits)
	agbno := agino >> slotBits
	slot := agino & (uint64(1)<<slotBits - 1)
	if agno >= uint64(sb.agcount) || agbno >= uint64(sb.agblocks) || n == 0 {
		return 0, fmt.Errorf("%w: inode number %d outside the filesystem", fsread.ErrCorrupt, n)
	}
	return int64(agno*uint64(sb.agblocks)+agbno)*v.bs + int64(slot)*int64(sb.inodeSize), nil
}

func (v *volume) parseInode(n uint64, raw []byte) (*inode, error) {
	if be16(raw, 0) != inodeMagic {
		return nil, fmt.Errorf("bad magic 0x%04x (not an allocated inode?)", be16(raw, 0))
	}
	ver := raw[4]
	lit := 100
	switch {
	case ver == 3 && v.v5:
		lit = 176
		if got := be64(raw, 0x98); got != n {
			return nil, fmt.Errorf("records inode number %d", got)
		}
	case (ver == 1 || ver == 2) && !v.v5:
	default:
		return nil, fmt.Errorf("inode version %d on a v%d filesystem", ver, v.sb.version())
	}
	in := &inode{
		ino:    n,
		mode:   be16(raw, 2),
		format: raw[5],
		uid:    be32(raw, 0x08),
		gid:    be32(raw, 0x0c),
		nlink:  be32(raw, 0x10),
		flags:  be16(raw, 0x5a),
	}
	if ver == 1 {
		in.nlink = uint32(be16(raw, 0x06))
	}
	if ver == 3 {
		in.flags2 = be64(raw, 0x78)
	}
	big := v.bigt && in.flags2&diflag2Bigtime != 0
	in.atime = xfsTime(raw[0x20:], big)
	in.mtime = xfsTime(raw[0x28:], big)
	in.ctime = xfsTime(raw[0x30:], big)
	if ver == 3 {
		in.crtime = xfsTime(raw[0x90:], big)
	}
	size := be64(raw, 0x38)
	if size > 1<<62 {
		return nil, fmt.Errorf("size %d", size)
	}
	in.size = int64(size)
	if ver == 3 && in.flags2&diflag2Nrext64 != 0 {
		in.nextents = be64(raw, 0x18)
	} else {
		in.nextents = uint64(be32(raw, 0x4c))
	}
	forkSize := len(raw) - lit
	if off := int(raw[0x52]) * 8; off != 0 {
		if off > forkSize {
			return nil, fmt.Errorf("attribute fork offset %d beyond the inode", off)
		}
		forkSize = off
	}
	in.fork = slices.Clone(raw[lit : lit+forkSize])
	return in, nil
}

// extent maps file blocks [off, off+n) to linear device blocks [blk, blk+n).
type extent struct {
	off, blk, n uint64
	unwritten   bool
}

// unpackExtent decodes a 128-bit bmbt record: flag (1 bit), file offset
// (54), start block (52), block count (21).
func (v *volume) unpackExtent(b []byte) (extent, error) {
	l0, l1 := be64(b, 0), be64(b, 8)
	e := extent{
		unwritten: l0>>63 != 0,
		off:       (l0 & (1<<63 - 1)) >> 9,
		n:         l1 & (1<<21 - 1),
	}
	fsb := (l0&0x1ff)<<43 | l1>>21
	if e.n == 0 {
		return e, fmt.Errorf("%w: empty extent", fsread.ErrCorrupt)
	}
	blk, err := v.fsbToBlock(fsb)
	if err != nil {
		return e, err
	}
	if blk+e.n > v.sb.dblocks {
		return e, fmt.Errorf("%w: extent of %d blocks at %d beyond the filesystem", fsread.ErrCorrupt, e.n, blk)
	}
	e.blk = blk
	return e, nil
}

// extents returns the sorted, non-overlapping extent list of a data fork in
// extents or btree format.
func (v *volume) extents(in *inode) ([]extent, error) {
	// Every record sits somewhere in the image: that caps what we allocate
	// whatever the inode claims.
	limit := in.nextents
	if c := uint64(v.size / 16); limit > c {
		return nil, fmt.Errorf("%w: %d extents cannot fit the image", fsread.ErrCorrupt, in.nextents)
	}
	var out []extent
	switch in.format {
	case fmtExtents:
		if limit*16 > uint64(len(in.fork)) {
			return nil, fmt.Errorf("%w: %d extents do not fit the inode", fsread.ErrCorrupt, limit)
		}
		out = make([]extent, 0, limit)
		for i := uint64(0); i < limit; i++ {
			e, err := v.unpackExtent(in.fork[i*16:])
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	case fmtBtree:
		w := &btreeWalk{v: v, limit: limit, budget: 2*limit + 64, owner: in.ino}
		if err := w.root(in.fork); err != nil {
			return nil, err
		}
		out = w.out
	default:
		return nil, fmt.Errorf("%w: data fork format %d has no extents", fsread.ErrCorrupt, in.format)
	}
	slices.SortFunc(out, func(a, b extent) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	for i := 1; i < len(out); i++ {
		p := out[i-1]
		if p.off+p.n > out[i].off || p.off+p.n < p.off {
			return nil, fmt.Errorf("%w: overlapping extents at file block %d", fsread.ErrCorrupt, out[i].off)
		}
	}
	return out, nil
}

// btreeWalk collects the leaf records of a bmap btree. budget bounds the
// blocks read, so a hostile tree whose pointers form a DAG cannot make the
// walk exponential.
type btreeWalk struct {
	v      *volume
	limit  uint64
	budget uint64
	owner  uint64
	out    []extent
}

func (w *btreeWalk) root(fork []byte) error {
	if len(fork) < 4 {
		return fmt.Errorf("%w: btree root too small", fsread.ErrCorrupt)
	}
	level, nrecs := int(be16(fork, 0)), int(be16(fork, 2))
	maxrecs := (len(fork) - 4) / 16
	if level < 1 || level > maxBtreeDepth || nrecs > maxrecs {
		return fmt.Errorf("%w: btree root level %d with %d records", fsread.ErrCorrupt, level, nrecs)
	}
	ptrs := 4 + maxrecs*8
	for i := 0; i < nrecs; i++ {
		if err := w.node(be64(fork, ptrs+i*8), level-1); err != nil {
			return err
		}
	}
	return nil
}

func (w *btreeWalk) node(fsb uint64, level int) error {
	v := w.v
	if w.budget == 0 {
		return fmt.Errorf("%w: bmap btree larger than its extent count", fsread.ErrCorrupt)
	}
	w.budget--
	blk, err := v.fsbToBlock(fsb)
	if err != nil {
		return err
	}
	b := make([]byte, v.bs)
	if err := v.readFull(b, int64(blk)*v.bs); err != nil {
		return fmt.Errorf("bmap btree block %d: %w", blk, err)
	}
	hdr, magic := 24, uint32(0x424d4150) // "BMAP"
	if v.v5 {
		hdr, magic = 72, 0x424d4133 // "BMA3"
	}
	if be32(b, 0) != magic {
		return fmt.Errorf("%w: bmap btree block %d: bad magic 0x%08x", fsread.ErrCorrupt, blk, be32(b, 0))
	}
	if v.v5 && be64(b, 0x38) != w.owner {
		return fmt.Errorf("%w: bmap btree block %d belongs to inode %d", fsread.ErrCorrupt, blk, be64(b, 0x38))
	}
	if got := int(be16(b, 4)); got != level {
		return fmt.Errorf("%w: bmap btree block %d at level %d, expected %d", fsread.ErrCorrupt, blk, got, level)
	}
	nrecs := int(be16(b, 6))
	if level == 0 {
		if nrecs > (len(b)-hdr)/16 || uint64(len(w.out)+nrecs) > w.limit {
			return fmt.Errorf("%w: bmap btree leaf %d holds %d records, more than fit or the inode counts", fsread.ErrCorrupt, blk, nrecs)
		}
		for i := 0; i < nrecs; i++ {
			e, err := v.unpackExtent(b[hdr+i*16:])
			if err != nil {
				return err
			}
			w.out = append(w.out, e)
		}
		return nil
	}
	maxrecs := (len(b) - hdr) / 16
	if nrecs > maxrecs {
		return fmt.Errorf("%w: bmap btree node %d holds %d records", fsread.ErrCorrupt, blk, nrecs)
	}
	ptrs := hdr + maxrecs*8
	for i := 0; i < nrecs; i++ {
		if err := w.node(be64(b, ptrs+i*8), level-1); err != nil {
			return err
		}
	}
	return nil
}
