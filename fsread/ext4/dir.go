package ext4

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/snapscan/snapscan/fsread"
)

// maxDirSize caps how much of one directory is read: ext4's largest
// three-level htree directories stay far below it, so more is hostile.
const maxDirSize = 256 << 20

// dirReadChunk is how many blocks of a contiguous directory run are read
// with one ReadAt.
const dirReadChunk = 64

const flagCasefold = 0x40000000

type dirList struct {
	ents     []fsread.Dirent[uint32]
	byName   map[string]uint32
	casefold bool
	// damage is set when some blocks or records could not be parsed: the
	// entries of the good blocks are kept, as the kernel does, and the
	// damage is reported with them.
	damage error
}

func (v *volume) ReadDir(n uint32) ([]fsread.Dirent[uint32], error) {
	dl, err := v.dir(n)
	if err != nil {
		return nil, err
	}
	// Callers own what they get; the cached list must stay intact.
	return append([]fsread.Dirent[uint32](nil), dl.ents...), dl.damage
}

func (v *volume) Lookup(dir uint32, name string) (uint32, error) {
	dl, err := v.dir(dir)
	if err != nil {
		return 0, err
	}
	if n, ok := dl.byName[name]; ok {
		return n, nil
	}
	if dl.casefold {
		// Approximates the kernel's Unicode casefolding for the common case.
		for _, e := range dl.ents {
			if strings.EqualFold(e.Name, name) {
				return e.Node, nil
			}
		}
	}
	if dl.damage != nil {
		// Not found, but the name may sit in the damaged part: say so
		// rather than report the file absent.
		return 0, fmt.Errorf("%q not found in the readable part of the directory: %w", name, dl.damage)
	}
	return 0, fs.ErrNotExist
}

// dir returns the parsed entries of directory n, from the bounded cache
// when the resolver walked through it recently.
func (v *volume) dir(n uint32) (*dirList, error) {
	if dl, ok := v.dirCache.Get(n); ok {
		return dl, nil
	}
	if b := v.bigDir.Load(); b != nil && b.ino == n {
		return b.dl, nil
	}
	in, err := v.inode(n)
	if err != nil {
		return nil, err
	}
	if in.typ() != sIFDIR {
		return nil, fmt.Errorf("inode %d: %w", n, fsread.ErrNotDir)
	}
	if in.flags&flagEncrypt != 0 {
		return nil, fmt.Errorf("inode %d: %w", n, ErrEncrypted)
	}
	if in.size > maxDirSize {
		return nil, corrupt("inode %d: directory of %d bytes exceeds the %d-byte cap", n, in.size, maxDirSize)
	}
	p := &dirParser{v: v, ino: n}
	if in.flags&flagInlineData != 0 {
		err = p.inline(in)
	} else {
		err = p.blocks(in)
	}
	if err != nil {
		return nil, err
	}
	dl := &dirList{ents: p.out, byName: make(map[string]uint32, len(p.out)), casefold: in.flags&flagCasefold != 0}
	if len(p.damage) > 0 {
		msg := p.damage[0].Error()
		if len(p.damage) > 1 {
			msg += fmt.Sprintf(" (and %d more damaged places)", len(p.damage)-1)
		}
		dl.damage = fmt.Errorf("%w: %s", fsread.ErrCorrupt, msg)
	}
	for _, e := range p.out {
		if _, dup := dl.byName[e.Name]; !dup {
			dl.byName[e.Name] = e.Node
		}
	}
	if len(p.out) > bigDirEntries {
		// Too large for the shared cache; kept in a slot of its own so that
		// the lookups of a walk through it (a spool with 100,000 files) do
		// not re-parse it each time, which would be quadratic.
		v.bigDir.Store(&bigDir{ino: n, dl: dl})
	} else {
		v.dirCache.Put(n, dl, len(p.out))
	}
	return dl, nil
}

// bigDirEntries is the size above which a listing skips the shared cache.
const bigDirEntries = 1 << 14

// bigDir is the most recent directory too large for the shared cache.
type bigDir struct {
	ino uint32
	dl  *dirList
}

type dirParser struct {
	v      *volume
	ino    uint32
	out    []fsread.Dirent[uint32]
	damage []error // blocks and entries skipped, as the kernel skips them
}

func (p *dirParser) inline(in *inode) error {
	// i_block starts with the parent's inode number in place of "." and "..".
	if err := p.parse(in.iblock()[4:], "inline data"); err != nil {
		return err
	}
	x, err := in.inlineXattr()
	if err != nil {
		return err
	}
	if len(x) > 0 {
		return p.parse(x, "inline data attribute")
	}
	return nil
}

// blocks reads the directory linearly. An htree's index blocks look like
// empty entries (inode 0 spanning the block) and the dx_root hides inside
// "..", so a linear scan sees every name exactly once.
func (p *dirParser) blocks(in *inode) error {
	d, err := p.v.data(in)
	if err != nil {
		return err
	}
	bs := p.v.bs
	if err := checkDistinct(d.runs); err != nil {
		return fmt.Errorf("inode %d: %w", p.ino, err)
	}
	// Most directories are one block: size the buffer to the directory,
	// not to a 64-block chunk.
	var longest uint64
	for _, r := range d.runs {
		if !r.zero {
			longest = max(longest, min(r.count, dirReadChunk))
		}
	}
	buf := make([]byte, 0, longest*uint64(bs))
	for _, r := range d.runs {
		if r.zero {
			continue
		}
		for done := uint64(0); done < r.count; {
			k := min(r.count-done, dirReadChunk)
			b := buf[:k*uint64(bs)]
			if err := p.v.readFull(b, int64(r.pblk+done)*bs); err != nil {
				return fmt.Errorf("inode %d: directory block %d: %w", p.ino, r.lblk+done, err)
			}
			for j := uint64(0); j < k; j++ {
				where := fmt.Sprintf("block %d", r.lblk+done+j)
				if err := p.parse(b[j*uint64(bs):(j+1)*uint64(bs)], where); err != nil {
					// The rest of this block is lost; the next blocks are not.
					p.damage = append(p.damage, err)
				}
			}
			done += k
		}
	}
	return nil
}

// checkDistinct refuses a mapping that uses a physical block twice: a
// directory or the journal never shares blocks with itself, and a crafted
// map repeating one block would multiply its entries (or log) without bound.
func checkDistinct(runs []run) error {
	phys := make([]run, 0, len(runs))
	for _, r := range runs {
		if !r.zero {
			phys = append(phys, r)
		}
	}
	slices.SortFunc(phys, func(a, b run) int { return cmpU64(a.pblk, b.pblk) })
	for i := 1; i < len(phys); i++ {
		if prev := phys[i-1]; phys[i].pblk < prev.pblk+prev.count {
			return corrupt("block %d mapped twice", phys[i].pblk)
		}
	}
	return nil
}

// parse reads the ext4_dir_entry_2 records of one block (or inline area).
func (p *dirParser) parse(b []byte, where string) error {
	v := p.v
	for off := 0; off+8 <= len(b); {
		ino := le32(b, off)
		rl := int(le16(b, off+4))
		if v.bs >= 65536 && (rl == 65535 || rl == 0) {
			rl = 65536
		}
		nl := int(b[off+6])
		ft := b[off+7]
		if !v.filetype {
			nl = int(le16(b, off+6))
		}
		if rl < 8 || rl%4 != 0 || rl > len(b)-off || nl+8 > rl {
			return corrupt("inode %d: bad directory entry in %s at offset %d (rec_len %d, name_len %d)", p.ino, where, off, rl, nl)
		}
		if ino != 0 && nl > 0 {
			if ino > v.inodes {
				p.damage = append(p.damage, corrupt("inode %d: directory entry in %s names inode %d beyond %d", p.ino, where, ino, v.inodes))
				off += rl
				continue
			}
			name := string(b[off+8 : off+8+nl])
			if name != "." && name != ".." {
				e := fsread.Dirent[uint32]{Name: name, Node: ino}
				if v.filetype {
					e.Type, e.TypeKnown = fsread.DirentFileType(ft)
				}
				p.out = append(p.out, e)
			}
		}
		off += rl
	}
	return nil
}
