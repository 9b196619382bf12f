package xfs

import (
	"fmt"
	"io/fs"

	"github.com/snapscan/snapscan/fsread"
)

const (
	// Directory data blocks live below this byte offset of the directory;
	// leaf and free-index blocks above it repeat nothing a listing needs.
	dirLeafOffset = int64(1) << 35

	dirBlockMagicV4 = 0x58443242 // "XD2B": single-block directory
	dirDataMagicV4  = 0x58443244 // "XD2D"
	dirBlockMagicV5 = 0x58444233 // "XDB3"
	dirDataMagicV5  = 0x58444433 // "XDD3"
	dirFreeTag      = 0xffff

	// maxDirEntries bounds one listing: far above what any real directory
	// holds in a forensic image, far below what exhausts memory.
	maxDirEntries = 1 << 22
)

// dirList is a parsed directory, cached as a whole: Lookup during path
// resolution asks the same directories again and again.
type dirList struct {
	ents  []fsread.Dirent[uint64]
	index map[string]int
}

func newDirList(ents []fsread.Dirent[uint64]) *dirList {
	d := &dirList{ents: ents, index: make(map[string]int, len(ents))}
	for i, e := range ents {
		if _, dup := d.index[e.Name]; !dup {
			d.index[e.Name] = i
		}
	}
	return d
}

func (v *volume) ReadDir(dir uint64) ([]fsread.Dirent[uint64], error) {
	d, err := v.dir(dir)
	if err != nil {
		return nil, err
	}
	// The cached slice is shared: callers get their own copy.
	out := make([]fsread.Dirent[uint64], len(d.ents))
	copy(out, d.ents)
	return out, nil
}

func (v *volume) Lookup(dir uint64, name string) (uint64, error) {
	d, err := v.dir(dir)
	if err != nil {
		return 0, err
	}
	if i, ok := d.index[name]; ok {
		return d.ents[i].Node, nil
	}
	return 0, fs.ErrNotExist
}

func (v *volume) dir(n uint64) (*dirList, error) {
	if d, ok := v.dirCache.Get(n); ok {
		return d, nil
	}
	in, err := v.inode(n)
	if err != nil {
		return nil, err
	}
	if in.mode&sIFMT != sIFDIR {
		return nil, fsread.ErrNotDir
	}
	var ents []fsread.Dirent[uint64]
	switch in.format {
	case fmtLocal:
		ents, err = v.shortform(in)
	case fmtExtents, fmtBtree:
		ents, err = v.dataBlocks(in)
	default:
		err = fmt.Errorf("%w: directory data fork format %d", fsread.ErrCorrupt, in.format)
	}
	if err != nil {
		return nil, fmt.Errorf("directory inode %d: %w", n, err)
	}
	d := newDirList(ents)
	v.dirCache.Put(n, d, len(ents))
	return d, nil
}

func (v *volume) dirent(name []byte, ino uint64, ft byte) fsread.Dirent[uint64] {
	d := fsread.Dirent[uint64]{Name: string(name), Node: ino}
	if v.ftype {
		d.Type, d.TypeKnown = fsread.DirentFileType(ft)
	}
	return d
}

// shortform parses a directory kept inside the inode: a header (count,
// count of 8-byte inode numbers, parent) and packed entries.
func (v *volume) shortform(in *inode) ([]fsread.Dirent[uint64], error) {
	if in.size > int64(len(in.fork)) || in.size < 6 {
		return nil, fmt.Errorf("%w: short-form directory of %d bytes in a %d-byte fork", fsread.ErrCorrupt, in.size, len(in.fork))
	}
	b := in.fork[:in.size]
	// count is every entry; a non-zero i8count makes every inode number
	// (the parent's too) 8 bytes wide.
	count, isz := int(b[0]), 4
	if b[1] > 0 {
		isz = 8
	}
	pos := 2 + isz
	ents := make([]fsread.Dirent[uint64], 0, count)
	for i := 0; i < count; i++ {
		if pos+3 > len(b) {
			return nil, fmt.Errorf("%w: short-form entry %d past the end", fsread.ErrCorrupt, i)
		}
		nl := int(b[pos])
		need := 3 + nl + isz
		if v.ftype {
			need++
		}
		if nl == 0 || pos+need > len(b) {
			return nil, fmt.Errorf("%w: short-form entry %d past the end", fsread.ErrCorrupt, i)
		}
		name := b[pos+3 : pos+3+nl]
		p := pos + 3 + nl
		var ft byte
		if v.ftype {
			ft = b[p]
			p++
		}
		var ino uint64
		if isz == 8 {
			ino = be64(b, p)
		} else {
			ino = uint64(be32(b, p))
		}
		ents = append(ents, v.dirent(name, ino, ft))
		pos += need
	}
	return ents, nil
}

// dataBlocks lists a block, leaf or node directory by reading its data
// blocks in order: they hold every entry, the hash index is not needed.
func (v *volume) dataBlocks(in *inode) ([]fsread.Dirent[uint64], error) {
	ext, err := v.extents(in)
	if err != nil {
		return nil, err
	}
	end := min(in.size, dirLeafOffset)
	fr := &fileReader{v: v, ext: ext, size: end}
	blkShift := uint(v.sb.dirblkLog)
	var ents []fsread.Dirent[uint64]
	buf := make([]byte, v.dirBlk)
	last := int64(-1)
	// Distinct data blocks are distinct blocks of the image: that bounds the
	// reads a hostile extent map can ask for.
	budget := v.size/v.dirBlk + 1
	for _, e := range ext {
		for b := e.off; b < e.off+e.n; b++ {
			// Compared before multiplying: a hostile 54-bit offset would overflow.
			if b>>blkShift >= uint64((end+v.dirBlk-1)/v.dirBlk) {
				break
			}
			db := int64(b >> blkShift)
			off := db * v.dirBlk
			if db == last {
				continue
			}
			last = db
			if budget--; budget < 0 {
				return nil, fmt.Errorf("%w: more directory blocks than the image holds", fsread.ErrCorrupt)
			}
			if n, err := fr.ReadAt(buf, off); n < len(buf) {
				return nil, fmt.Errorf("directory block %d: %w", db, err)
			}
			if ents, err = v.parseDataBlock(buf, ents); err != nil {
				return nil, fmt.Errorf("directory block %d: %w", db, err)
			}
			if len(ents) > maxDirEntries {
				return nil, fmt.Errorf("%w: more than %d entries", fsread.ErrCorrupt, maxDirEntries)
			}
			if e.n > 1 && blkShift > 0 {
				// Skip the rest of this directory block's fs blocks.
				next := uint64(db+1) << blkShift
				if next > b+1 {
					b = next - 1
				}
			}
		}
	}
	return ents, nil
}

func (v *volume) parseDataBlock(b []byte, ents []fsread.Dirent[uint64]) ([]fsread.Dirent[uint64], error) {
	hdr, end := 16, len(b)
	magic := be32(b, 0)
	block := false
	switch {
	case !v.v5 && magic == dirBlockMagicV4:
		block = true
	case !v.v5 && magic == dirDataMagicV4:
	case v.v5 && magic == dirBlockMagicV5:
		hdr, block = 64, true
	case v.v5 && magic == dirDataMagicV5:
		hdr = 64
	default:
		return ents, fmt.Errorf("%w: bad directory data magic 0x%08x", fsread.ErrCorrupt, magic)
	}
	if block {
		// A single-block directory ends with its hash index and a tail
		// (leaf count, stale count); entries stop before them.
		count := int64(be32(b, len(b)-8))
		e := int64(len(b)) - 8 - count*8
		if count > int64(len(b)) || e < int64(hdr) {
			return ents, fmt.Errorf("%w: block directory tail counts %d leaf entries", fsread.ErrCorrupt, count)
		}
		end = int(e)
	}
	pos := hdr
	for pos+8 <= end {
		if be16(b, pos) == dirFreeTag {
			l := int(be16(b, pos+2))
			if l < 8 || l%8 != 0 || pos+l > end {
				return ents, fmt.Errorf("%w: free space of %d bytes at %d", fsread.ErrCorrupt, l, pos)
			}
			pos += l
			continue
		}
		if pos+16 > end {
			return ents, fmt.Errorf("%w: entry at %d overruns the block", fsread.ErrCorrupt, pos)
		}
		ino := be64(b, pos)
		nl := int(b[pos+8])
		raw := 8 + 1 + nl + 2
		if v.ftype {
			raw++
		}
		size := (raw + 7) &^ 7
		if nl == 0 || pos+size > end {
			return ents, fmt.Errorf("%w: entry at %d overruns the block", fsread.ErrCorrupt, pos)
		}
		name := b[pos+9 : pos+9+nl]
		var ft byte
		if v.ftype {
			ft = b[pos+9+nl]
		}
		if s := string(name); s != "." && s != ".." {
			ents = append(ents, v.dirent(name, ino, ft))
		}
		pos += size
	}
	return ents, nil
}
