package lvm

import (
	"fmt"
	"io"
	"sort"
)

// lvReader maps LV offsets onto the PV images. It holds no mutable state, so
// concurrent ReadAt calls are safe whenever the underlying readers' are.
type lvReader struct {
	size int64
	segs []mapped // sorted by lvOff, contiguous from 0
}

type mapped struct {
	lvOff, size int64
	stripeSize  int64 // 0: one stripe (linear)
	stripes     []stripeMap
}

type stripeMap struct {
	r   io.ReaderAt
	off int64 // byte offset of the stripe's first extent in its image
}

// locate returns where LV offset off lies and how many bytes from there stay
// within one contiguous run on one PV.
func (m *mapped) locate(off int64) (r io.ReaderAt, at, run int64) {
	rel := off - m.lvOff
	if m.stripeSize == 0 || len(m.stripes) == 1 {
		s := m.stripes[0]
		return s.r, s.off + rel, m.size - rel
	}
	n := int64(len(m.stripes))
	chunk := rel / m.stripeSize
	in := rel % m.stripeSize
	s := m.stripes[chunk%n]
	row := chunk / n
	return s.r, s.off + row*m.stripeSize + in, min(m.stripeSize-in, m.size-rel)
}

func (r *lvReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("lvm: negative offset %d", off)
	}
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		if pos >= r.size {
			return done, io.EOF
		}
		i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].lvOff+r.segs[i].size > pos })
		if i == len(r.segs) || r.segs[i].lvOff > pos {
			return done, fmt.Errorf("lvm: offset %d not mapped", pos)
		}
		src, at, run := r.segs[i].locate(pos)
		n := int(min(int64(len(p)-done), run))
		got, err := src.ReadAt(p[done:done+n], at)
		done += got
		if got < n {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return done, fmt.Errorf("lvm: read at LV offset %d: %w", pos, err)
		}
	}
	return done, nil
}
