package ntfs

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/snapscan/snapscan/fsread"
	"www.velocidex.com/golang/go-ntfs/parser"
)

// ientry is one $I30 index entry: a name of a file in the directory.
type ientry struct {
	name string
	ref  uint64
	seq  uint16
	ns   uint8
}

// dirList is a parsed directory index. Lookup uses the case-folded map,
// which also holds the 8.3 aliases (Windows opens "PROGRA~1" too); the
// typed listing ReadDir shows (no aliases, no stale entries) costs a read
// of every child's MFT record and is made only when ReadDir asks, so that
// a targeted check looking up one name in System32 does not pay for it.
type dirList struct {
	raw    []ientry
	byFold map[string][]ientry

	once sync.Once
	ents []fsread.Dirent[uint64]
	err  error // a panic while typing the entries; sticks, as once does
}

const maxIndexBlocks = 1 << 20 // 4 GiB of index at 4 KiB blocks

// readIndex parses the $I30 index of directory n: the root node in
// $INDEX_ROOT and every block of $INDEX_ALLOCATION that $BITMAP marks in
// use (go-ntfs reads unused blocks too, listing deleted files as present).
func (b *backend) readIndex(n uint64) ([]ientry, error) {
	e, err := b.record(n)
	if err != nil {
		return nil, err
	}
	if !isDir(e) {
		return nil, fsread.ErrNotDir
	}
	var root, alloc, bitmap *parser.NTFS_ATTRIBUTE
	for _, a := range e.EnumerateAttributes(b.ctx) {
		if a.Name() != "$I30" {
			continue
		}
		switch a.Type().Value {
		case atIndexRoot:
			root = a
		case atIndexAlloc:
			if alloc == nil && (a.IsResident() || a.Runlist_vcn_start() == 0) {
				alloc = a
			}
		case atBitmap:
			if bitmap == nil && (a.IsResident() || a.Runlist_vcn_start() == 0) {
				bitmap = a
			}
		}
	}
	if root == nil {
		return nil, errCorrupt("directory %d has no $I30 $INDEX_ROOT", n)
	}
	rb := b.attrBytes(root, 64<<10)
	if len(rb) < 0x20 {
		return nil, errCorrupt("directory %d: short $INDEX_ROOT", n)
	}
	var out []ientry
	if err := parseNode(rb, 0x10, &out); err != nil {
		return nil, errCorrupt("directory %d: index root: %v", n, err)
	}
	if alloc == nil {
		return out, nil
	}
	bs := int64(binary.LittleEndian.Uint32(rb[8:]))
	if bs < 512 || bs > 64<<10 || bs&(bs-1) != 0 {
		return nil, errCorrupt("directory %d: index block size %d", n, bs)
	}
	blocks := alloc.DataSize() / bs
	if blocks > maxIndexBlocks {
		return nil, errCorrupt("directory %d: %d index blocks", n, blocks)
	}
	var bits []byte
	if bitmap != nil {
		bits = b.attrBytes(bitmap, (blocks+7)/8)
	}
	ar, err := parser.OpenStream(b.ctx, e, atIndexAlloc, parser.WILDCARD_STREAM_ID, "$I30")
	if err != nil {
		return nil, errCorrupt("directory %d: $INDEX_ALLOCATION: %v", n, err)
	}
	buf := make([]byte, bs)
	for i := int64(0); i < blocks; i++ {
		if bitmap != nil && (i/8 >= int64(len(bits)) || bits[i/8]&(1<<(i%8)) == 0) {
			continue
		}
		if m, err := ar.ReadAt(buf, i*bs); int64(m) < bs {
			return nil, errCorrupt("directory %d: index block %d: short read (%v)", n, i, err)
		}
		if string(buf[:4]) != "INDX" {
			if bitmap == nil {
				continue
			}
			return nil, errCorrupt("directory %d: index block %d in use but has signature %q", n, i, buf[:4])
		}
		if err := fixup(buf); err != nil {
			return nil, errCorrupt("directory %d: index block %d: %v", n, i, err)
		}
		if err := parseNode(buf, 0x18, &out); err != nil {
			return nil, errCorrupt("directory %d: index block %d: %v", n, i, err)
		}
	}
	return out, nil
}

// fixup applies the update sequence array of a multi-sector record.
func fixup(buf []byte) error {
	off := int(binary.LittleEndian.Uint16(buf[4:]))
	cnt := int(binary.LittleEndian.Uint16(buf[6:]))
	if cnt == 0 {
		return nil
	}
	if cnt-1 != len(buf)/512 || off+2*cnt > len(buf) {
		return fmt.Errorf("update sequence array (offset %d, %d entries)", off, cnt)
	}
	usn := buf[off : off+2]
	for i := 1; i < cnt; i++ {
		end := i*512 - 2
		if buf[end] != usn[0] || buf[end+1] != usn[1] {
			return fmt.Errorf("torn sector %d", i-1)
		}
		buf[end], buf[end+1] = buf[off+2*i], buf[off+2*i+1]
	}
	return nil
}

// parseNode reads the entries of the index node whose header is at h.
func parseNode(p []byte, h int, out *[]ientry) error {
	if h+16 > len(p) {
		return fmt.Errorf("node header out of bounds")
	}
	start := h + int(binary.LittleEndian.Uint32(p[h:]))
	end := h + int(binary.LittleEndian.Uint32(p[h+4:]))
	if end > len(p) || start < h+16 || start > end {
		return fmt.Errorf("node entries [%d,%d) out of bounds (%d)", start, end, len(p))
	}
	for pos := start; ; {
		if pos+16 > end {
			return fmt.Errorf("entry at %d overruns the node", pos)
		}
		elen := int(binary.LittleEndian.Uint16(p[pos+8:]))
		klen := int(binary.LittleEndian.Uint16(p[pos+10:]))
		flags := binary.LittleEndian.Uint32(p[pos+12:])
		if flags&2 != 0 {
			return nil // the last entry carries no key
		}
		if elen < 16 || elen%8 != 0 || pos+elen > end || 16+klen > elen {
			return fmt.Errorf("entry at %d: length %d, key %d", pos, elen, klen)
		}
		ref := binary.LittleEndian.Uint64(p[pos:])
		if fn, ok := parseFileName(p[pos+16 : pos+16+klen]); ok {
			*out = append(*out, ientry{name: fn.Name, ref: ref & refMask, seq: uint16(ref >> 48), ns: fn.Namespace})
		}
		pos += elen
	}
}

// list returns directory n's index, from the cache when it can.
func (b *backend) list(n uint64) (*dirList, error) {
	if d, ok := b.dirs.get(n); ok {
		return d, nil
	}
	raw, err := b.readIndex(n)
	if err != nil {
		return nil, err
	}
	d := &dirList{byFold: make(map[string][]ientry, len(raw))}
	seen := make(map[ientry]bool, len(raw))
	for _, ie := range raw {
		if ie.name == "." || ie.name == ".." || seen[ie] {
			continue // the root indexes itself as "."
		}
		seen[ie] = true
		d.raw = append(d.raw, ie)
		k := b.fold(ie.name)
		d.byFold[k] = append(d.byFold[k], ie)
	}
	b.dirs.put(n, d)
	return d, nil
}

// entries is the typed listing of d, made once.
func (b *backend) entries(d *dirList) ([]fsread.Dirent[uint64], error) {
	d.once.Do(func() {
		defer func() {
			if p := recover(); p != nil {
				d.ents, d.err = nil, errCorrupt("listing directory: %v", p)
			}
		}()
		for _, ie := range d.raw {
			if ie.ns == nsDOS || !b.fresh(ie) {
				continue
			}
			de := fsread.Dirent[uint64]{Name: ie.name, Node: ie.ref}
			if m, err := b.Meta(ie.ref); err == nil {
				de.Type, de.TypeKnown = m.Mode.Type(), true
			}
			d.ents = append(d.ents, de)
		}
	})
	return d.ents, d.err
}

// fresh reports whether an index entry still names the MFT entry it
// points to: a reused or freed entry has another sequence number.
func (b *backend) fresh(ie ientry) bool {
	e, err := b.record(ie.ref)
	if err != nil {
		// A corrupt target is still listed, so the error surfaces on Stat.
		return !isNotExist(err)
	}
	return ie.seq == 0 || seqOf(e) == ie.seq
}

func isNotExist(err error) bool { return err != nil && errors.Is(err, fs.ErrNotExist) }

func (b *backend) ReadDir(n uint64) ([]fsread.Dirent[uint64], error) {
	d, err := b.list(n)
	if err != nil {
		return nil, err
	}
	return b.entries(d)
}

// Lookup is case-insensitive as Windows is; an exact match wins where
// POSIX-namespace names differ only in case.
func (b *backend) Lookup(dir uint64, name string) (uint64, error) {
	d, err := b.list(dir)
	if err != nil {
		return 0, err
	}
	var cands []ientry
	for _, c := range d.byFold[b.fold(name)] {
		if b.fresh(c) {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return 0, fs.ErrNotExist
	}
	for _, c := range cands {
		if c.name == name {
			return c.ref, nil
		}
	}
	for _, c := range cands {
		if c.ns != nsDOS {
			return c.ref, nil
		}
	}
	return cands[0].ref, nil
}

// dirCache keeps the most recently used directory listings.
type dirCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[uint64]*list.Element
}

type dirCacheItem struct {
	n uint64
	d *dirList
}

func newDirCache(max int) *dirCache {
	return &dirCache{max: max, ll: list.New(), m: make(map[uint64]*list.Element)}
}

func (c *dirCache) get(n uint64) (*dirList, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[n]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*dirCacheItem).d, true
	}
	return nil, false
}

func (c *dirCache) put(n uint64, d *dirList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[n]; ok {
		el.Value.(*dirCacheItem).d = d
		c.ll.MoveToFront(el)
		return
	}
	c.m[n] = c.ll.PushFront(&dirCacheItem{n: n, d: d})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*dirCacheItem).n)
	}
}
