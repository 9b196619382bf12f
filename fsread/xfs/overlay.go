package xfs

import (
	"io"
	"slices"
	"sort"
)

// overlay holds the filesystem blocks log replay changed, by block number
// of the data device. Every read of the volume goes through patch, so
// metadata and file data alike see the replayed state; the image is never
// written. Built once by replay, then read-only (safe for concurrent use).
type blockOverlay struct {
	bs     int64
	blocks map[int64][]byte
	keys   []int64 // sorted, set by seal
	bytes  int64
	limit  int64 // bytes the blocks may take (set by replay)
	// undo holds the previous contents of blocks the current transaction
	// changed, so that a transaction that fails midway leaves no trace.
	undo map[int64][]byte
}

func newOverlay(bs int64) *blockOverlay {
	return &blockOverlay{bs: bs, blocks: map[int64][]byte{}, limit: maxReplayBytes}
}

// block returns the replayed contents of block n for changing, loading it
// from base the first time.
func (o *blockOverlay) block(base io.ReaderAt, n int64) ([]byte, error) {
	b, ok := o.blocks[n]
	if o.undo != nil {
		if _, saved := o.undo[n]; !saved {
			if ok {
				o.undo[n] = slices.Clone(b)
			} else {
				o.undo[n] = nil
			}
		}
	}
	if ok {
		return b, nil
	}
	if o.bytes+o.bs > o.limit {
		return nil, errReplayMemory
	}
	b = make([]byte, o.bs)
	if k, err := base.ReadAt(b, n*o.bs); k < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	o.blocks[n] = b
	o.bytes += o.bs
	return b, nil
}

func (o *blockOverlay) begin() { o.undo = map[int64][]byte{} }

func (o *blockOverlay) commit() { o.undo = nil }

func (o *blockOverlay) rollback() {
	for n, b := range o.undo {
		if b == nil {
			delete(o.blocks, n)
			o.bytes -= o.bs
		} else {
			o.blocks[n] = b
		}
	}
	o.undo = nil
}

// seal freezes the overlay for reading.
func (o *blockOverlay) seal() {
	o.keys = o.keys[:0]
	for k := range o.blocks {
		o.keys = append(o.keys, k)
	}
	slices.Sort(o.keys)
}

// patch copies the replayed blocks that overlap [off, off+len(p)) into p.
func (o *blockOverlay) patch(p []byte, off int64) {
	if len(o.keys) == 0 || len(p) == 0 {
		return
	}
	first, last := off/o.bs, (off+int64(len(p))-1)/o.bs
	i := sort.Search(len(o.keys), func(i int) bool { return o.keys[i] >= first })
	for ; i < len(o.keys) && o.keys[i] <= last; i++ {
		n := o.keys[i]
		b := o.blocks[n]
		start := n * o.bs
		lo, hi := max(start, off), min(start+o.bs, off+int64(len(p)))
		copy(p[lo-off:hi-off], b[lo-start:hi-start])
	}
}

// patchLive is patch while replay is still adding blocks (keys not sealed).
func (o *blockOverlay) patchLive(p []byte, off int64) {
	if len(p) == 0 {
		return
	}
	for n := off / o.bs; n <= (off+int64(len(p))-1)/o.bs; n++ {
		if b, ok := o.blocks[n]; ok {
			start := n * o.bs
			lo, hi := max(start, off), min(start+o.bs, off+int64(len(p)))
			copy(p[lo-off:hi-off], b[lo-start:hi-start])
		}
	}
}

// replayedReader reads the device as replay left it.
type replayedReader struct {
	r  io.ReaderAt
	ov *blockOverlay
}

func (x replayedReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := x.r.ReadAt(p, off)
	x.ov.patch(p[:n], off)
	return n, err
}
