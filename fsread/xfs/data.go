package xfs

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/snapscan/snapscan/fsread"
)

const (
	symlinkMax   = 1024 // XFS_SYMLINK_MAXLEN
	symlinkMagic = 0x58534c4d
	symlinkHdr   = 56
)

// fileReader reads a data fork through its extent map. It holds no mutable
// state, so one may be shared by goroutines.
type fileReader struct {
	v    *volume
	ext  []extent
	size int64
}

// localReader serves a data fork kept inside the inode.
type localReader struct{ b []byte }

func (l localReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(l.b)) {
		return 0, io.EOF
	}
	n := copy(p, l.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fork returns a reader of in's data fork, bounded by in.size.
func (v *volume) fork(in *inode) (io.ReaderAt, error) {
	if in.flags&diflagRealtime != 0 {
		return nil, ErrRealtime
	}
	switch in.format {
	case fmtLocal:
		if in.size > int64(len(in.fork)) {
			return nil, fmt.Errorf("%w: inline data of %d bytes in a %d-byte fork", fsread.ErrCorrupt, in.size, len(in.fork))
		}
		return localReader{in.fork[:in.size]}, nil
	case fmtExtents, fmtBtree:
		ext, err := v.extents(in)
		if err != nil {
			return nil, err
		}
		return &fileReader{v: v, ext: ext, size: in.size}, nil
	}
	return nil, fmt.Errorf("%w: data fork format %d", fsread.ErrCorrupt, in.format)
}

func (f *fileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := p
	if rem := f.size - off; int64(len(want)) > rem {
		want = want[:rem]
	}
	bs := f.v.bs
	done := 0
	for done < len(want) {
		pos := off + int64(done)
		blk := uint64(pos / bs)
		in := pos % bs
		// First extent ending after blk.
		i := sort.Search(len(f.ext), func(i int) bool { return f.ext[i].off+f.ext[i].n > blk })
		var chunk int64
		switch {
		case i == len(f.ext) || f.ext[i].off > blk:
			// A hole: zeros up to the next extent.
			chunk = int64(len(want) - done)
			if i < len(f.ext) {
				chunk = min(chunk, spanBytes(f.ext[i].off-blk, bs)-in)
			}
			clear(want[done : done+int(chunk)])
		default:
			e := f.ext[i]
			chunk = min(int64(len(want)-done), spanBytes(e.off+e.n-blk, bs)-in)
			dst := want[done : done+int(chunk)]
			if e.unwritten {
				clear(dst) // preallocated, never written: reads as zeros
			} else if err := f.v.readFull(dst, int64(e.blk+(blk-e.off))*bs+in); err != nil {
				return done, err
			}
		}
		done += int(chunk)
	}
	if done < len(p) {
		return done, io.EOF
	}
	return done, nil
}

// spanBytes is blocks*bs, clamped far above any single read so that a
// hostile 54-bit file offset cannot overflow into a zero or negative chunk.
func spanBytes(blocks uint64, bs int64) int64 {
	return int64(min(blocks, 1<<40)) * bs
}

// readLink returns a symlink's target: inline in the inode, or in remote
// blocks that on v5 each start with a header.
func (v *volume) readLink(in *inode) (string, error) {
	if in.size <= 0 || in.size > symlinkMax {
		return "", fmt.Errorf("%w: symlink inode %d of %d bytes", fsread.ErrCorrupt, in.ino, in.size)
	}
	if in.format == fmtLocal {
		if in.size > int64(len(in.fork)) {
			return "", fmt.Errorf("%w: inline symlink of %d bytes in a %d-byte fork", fsread.ErrCorrupt, in.size, len(in.fork))
		}
		return string(in.fork[:in.size]), nil
	}
	if in.format != fmtExtents && in.format != fmtBtree {
		return "", fmt.Errorf("%w: symlink data fork format %d", fsread.ErrCorrupt, in.format)
	}
	ext, err := v.extents(in)
	if err != nil {
		return "", err
	}
	if !v.v5 {
		b := make([]byte, in.size)
		fr := &fileReader{v: v, ext: ext, size: in.size}
		if n, err := fr.ReadAt(b, 0); n < len(b) {
			return "", fmt.Errorf("symlink inode %d: %w", in.ino, err)
		}
		return string(b), nil
	}
	// As the kernel writes them: one header per mapped extent (not per
	// block), followed by that extent's share of the target.
	out := make([]byte, 0, in.size)
	for _, e := range ext {
		if int64(len(out)) == in.size {
			break
		}
		if e.unwritten || e.n > 4 {
			return "", fmt.Errorf("%w: symlink inode %d: implausible extent of %d blocks", fsread.ErrCorrupt, in.ino, e.n)
		}
		b := make([]byte, int64(e.n)*v.bs)
		if err := v.readFull(b, int64(e.blk)*v.bs); err != nil {
			return "", fmt.Errorf("symlink inode %d: %w", in.ino, err)
		}
		if be32(b, 0) != symlinkMagic || int64(be32(b, 4)) != int64(len(out)) {
			return "", fmt.Errorf("%w: symlink inode %d: bad remote block header", fsread.ErrCorrupt, in.ino)
		}
		take := min(int64(len(b))-symlinkHdr, in.size-int64(len(out)))
		out = append(out, b[symlinkHdr:symlinkHdr+take]...)
	}
	if int64(len(out)) != in.size {
		return "", fmt.Errorf("%w: symlink inode %d: %d of %d bytes mapped", fsread.ErrCorrupt, in.ino, len(out), in.size)
	}
	return string(out), nil
}
