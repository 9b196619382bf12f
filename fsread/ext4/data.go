package ext4

import (
	"fmt"
	"io"
	"slices"
	"sort"
)

const (
	extentMagic    = 0xF30A
	maxExtentDepth = 5 // the kernel allows 5; deeper means a hostile tree
	// maxRuns bounds the mapping of one file (32 bytes each): a crafted
	// block map cannot make us hold more than this in memory.
	maxRuns = 1 << 22
	// maxMapNodes bounds the extent index and indirect blocks read to map one file.
	maxMapNodes = 1 << 20
)

// run maps count logical blocks from lblk to physical blocks from pblk;
// zero marks an uninitialized extent, which reads as zeros.
type run struct {
	lblk, pblk, count uint64
	zero              bool
}

// fileData is a file's content: the block mapping built once at open, read
// through the volume's ReaderAt in as few calls as the layout allows.
type fileData struct {
	v      *volume
	ino    uint32
	size   int64
	runs   []run
	inline []byte // inline_data content; bytes past it read as zeros
	isInl  bool
}

func (v *volume) Open(n uint32) (io.ReaderAt, int64, error) {
	in, err := v.inode(n)
	if err != nil {
		return nil, 0, err
	}
	if in.typ() != sIFREG {
		return nil, 0, fmt.Errorf("inode %d: not a regular file", n)
	}
	d, err := v.data(in)
	if err != nil {
		return nil, 0, err
	}
	return d, in.size, nil
}

// data builds the mapping of a regular file, directory or slow symlink.
func (v *volume) data(in *inode) (*fileData, error) {
	if in.flags&flagEncrypt != 0 {
		return nil, fmt.Errorf("inode %d: %w", in.num, ErrEncrypted)
	}
	d := &fileData{v: v, ino: in.num, size: in.size}
	var err error
	switch {
	case in.flags&flagInlineData != 0:
		d.isInl = true
		x, err := in.inlineXattr()
		if err != nil {
			return nil, err
		}
		ib := in.iblock()
		d.inline = make([]byte, 0, len(ib)+len(x))
		d.inline = append(append(d.inline, ib...), x...)
	case in.flags&flagExtents != 0:
		d.runs, err = v.extentRuns(in)
	default:
		d.runs, err = v.blockMapRuns(in)
	}
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", in.num, err)
	}
	return d, nil
}

// nblocks is how many logical blocks the file's size covers.
func (v *volume) nblocks(size int64) uint64 {
	return uint64((size + v.bs - 1) / v.bs)
}

type mapper struct {
	v       *volume
	runs    []run
	visited map[uint64]bool
	limit   uint64 // logical blocks beyond this are past EOF
}

func (m *mapper) add(lblk, pblk, count uint64, zero bool) error {
	if count == 0 || lblk >= m.limit {
		return nil
	}
	count = min(count, m.limit-lblk)
	if pblk+count < pblk || pblk+count > m.v.sb.blocksCount {
		return corrupt("blocks %d+%d beyond the filesystem's %d blocks", pblk, count, m.v.sb.blocksCount)
	}
	if n := len(m.runs); n > 0 {
		last := &m.runs[n-1]
		if last.lblk+last.count == lblk && last.zero == zero && (zero || last.pblk+last.count == pblk) {
			last.count += count
			return nil
		}
	}
	if len(m.runs) >= maxRuns {
		return corrupt("more than %d fragments", maxRuns)
	}
	m.runs = append(m.runs, run{lblk: lblk, pblk: pblk, count: count, zero: zero})
	return nil
}

// node reads a mapping block (extent index/leaf or indirect block) once:
// a block met twice in one file's tree is a cycle or a hostile DAG.
func (m *mapper) node(blk uint64) ([]byte, error) {
	if m.visited[blk] {
		return nil, corrupt("block %d referenced twice in the block map (loop)", blk)
	}
	if len(m.visited) >= maxMapNodes {
		return nil, corrupt("block map larger than %d blocks", maxMapNodes)
	}
	m.visited[blk] = true
	return m.v.readBlock(blk)
}

func (v *volume) newMapper(in *inode) *mapper {
	return &mapper{v: v, visited: map[uint64]bool{}, limit: v.nblocks(in.size)}
}

func (v *volume) extentRuns(in *inode) ([]run, error) {
	m := v.newMapper(in)
	if err := m.extents(in.iblock(), -1); err != nil {
		return nil, err
	}
	return m.finish(), nil
}

// extents walks one extent tree node; want is the depth its parent implies
// (-1 at the root).
func (m *mapper) extents(b []byte, want int) error {
	if len(b) < 12 || le16(b, 0) != extentMagic {
		return corrupt("bad extent header")
	}
	entries := int(le16(b, 2))
	depth := int(le16(b, 6))
	if depth > maxExtentDepth || (want >= 0 && depth != want) {
		return corrupt("extent tree depth %d (expected %d)", depth, want)
	}
	if 12+12*entries > len(b) {
		return corrupt("%d extents overrun their node", entries)
	}
	for i := 0; i < entries; i++ {
		e := b[12+12*i:]
		lblk := uint64(le32(e, 0))
		if depth == 0 {
			n := uint64(le16(e, 4))
			zero := false
			if n > 32768 {
				n -= 32768
				zero = true
			}
			p := uint64(le16(e, 6))<<32 | uint64(le32(e, 8))
			if err := m.add(lblk, p, n, zero); err != nil {
				return err
			}
			continue
		}
		if lblk >= m.limit {
			continue // index covers only blocks past EOF
		}
		child := uint64(le32(e, 4)) | uint64(le16(e, 8))<<32
		cb, err := m.node(child)
		if err != nil {
			return err
		}
		if err := m.extents(cb, depth-1); err != nil {
			return err
		}
	}
	return nil
}

func (v *volume) blockMapRuns(in *inode) ([]run, error) {
	m := v.newMapper(in)
	ib := in.iblock()
	per := uint64(v.bs / 4)
	for i := 0; i < 12; i++ {
		if p := uint64(le32(ib, 4*i)); p != 0 {
			if err := m.add(uint64(i), p, 1, false); err != nil {
				return nil, err
			}
		}
	}
	base, span := uint64(12), per
	for level := 1; level <= 3; level++ {
		if base >= m.limit {
			break
		}
		if p := uint64(le32(ib, 4*(11+level))); p != 0 {
			if err := m.indirect(p, level, base); err != nil {
				return nil, err
			}
		}
		base += span
		span *= per
	}
	return m.finish(), nil
}

// indirect maps the blocks under an indirect block of the given level
// (1 = pointers to data) whose first logical block is base.
func (m *mapper) indirect(blk uint64, level int, base uint64) error {
	b, err := m.node(blk)
	if err != nil {
		return err
	}
	per := uint64(len(b) / 4)
	span := uint64(1)
	for i := 1; i < level; i++ {
		span *= per
	}
	for i := uint64(0); i < per; i++ {
		lb := base + i*span
		if lb >= m.limit {
			break
		}
		p := uint64(le32(b, int(4*i)))
		if p == 0 {
			continue
		}
		if level == 1 {
			err = m.add(lb, p, 1, false)
		} else {
			err = m.indirect(p, level-1, lb)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// finish sorts the runs and trims overlaps a corrupt tree may contain, so
// ReadAt can binary-search them.
func (m *mapper) finish() []run {
	r := m.runs
	if !slices.IsSortedFunc(r, func(a, b run) int { return cmpU64(a.lblk, b.lblk) }) {
		slices.SortStableFunc(r, func(a, b run) int { return cmpU64(a.lblk, b.lblk) })
	}
	out := r[:0]
	var end uint64
	for _, x := range r {
		if x.lblk < end {
			cut := end - x.lblk
			if cut >= x.count {
				continue
			}
			x.lblk += cut
			x.count -= cut
			if !x.zero {
				x.pblk += cut
			}
		}
		out = append(out, x)
		end = x.lblk + x.count
	}
	return out
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReadAt fills p from the file at off: mapped runs with one ReadAt each,
// holes and uninitialized extents with zeros.
func (d *fileData) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("inode %d: negative offset", d.ino)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p = p[:d.size-off]
		eof = io.EOF
	}
	n := len(p)
	if d.isInl {
		k := 0
		if off < int64(len(d.inline)) {
			k = copy(p, d.inline[off:])
		}
		clear(p[k:])
		return n, eof
	}
	bs := d.v.bs
	pos := off
	i := sort.Search(len(d.runs), func(i int) bool {
		r := d.runs[i]
		return int64(r.lblk+r.count)*bs > pos
	})
	for len(p) > 0 {
		if i < len(d.runs) && int64(d.runs[i].lblk)*bs <= pos {
			r := d.runs[i]
			within := pos - int64(r.lblk)*bs
			k := min(int64(r.count)*bs-within, int64(len(p)))
			if r.zero {
				clear(p[:k])
			} else if err := d.v.readFull(p[:k], int64(r.pblk)*bs+within); err != nil {
				return n - len(p), fmt.Errorf("inode %d: %w", d.ino, err)
			}
			p, pos = p[k:], pos+k
			i++
			continue
		}
		k := int64(len(p))
		if i < len(d.runs) {
			k = min(k, int64(d.runs[i].lblk)*bs-pos)
		}
		clear(p[:k])
		p, pos = p[k:], pos+k
	}
	return n, eof
}
