package ext4

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/snapscan/snapscan/fsread"
)

// overlay is the replayed view: the filesystem blocks whose newest
// committed copy is in the journal, and where that copy lies in the image.
// It holds locations, not copies, so its size is bounded by the journal's
// block count; the copies are read on demand.
type overlay struct {
	bs   int64
	ents []ovEntry // sorted by blk
}

// search returns the index of the first entry at or after blk (without
// sort.Search, whose closure would cost an allocation per read).
func (o *overlay) search(blk uint64) int {
	lo, hi := 0, len(o.ents)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if o.ents[m].blk < blk {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// readOverlay is readFull over the replayed view: runs of blocks without a
// journal copy are read with one ReadAt, each overlaid block from its copy.
func (v *volume) readOverlay(p []byte, off int64) error {
	o := v.ov
	bs := o.bs
	first := uint64(off / bs)
	last := uint64((off + int64(len(p)) - 1) / bs)
	i := o.search(first)
	if i == len(o.ents) || o.ents[i].blk > last {
		return v.readRaw(p, off)
	}
	pos := off
	for len(p) > 0 {
		blk := uint64(pos / bs)
		within := pos - int64(blk)*bs
		if i < len(o.ents) && o.ents[i].blk == blk {
			e := o.ents[i]
			k := min(bs-within, int64(len(p)))
			if err := v.readRaw(p[:k], e.off+within); err != nil {
				return fmt.Errorf("journal copy of block %d: %w", blk, err)
			}
			if e.escape && within < 4 {
				// The log zeroes a copy's leading JBD2 magic so that it
				// cannot pass for a journal block; replay restores it.
				var m [4]byte
				binary.BigEndian.PutUint32(m[:], jbdMagic)
				copy(p[:k], m[within:])
			}
			p, pos = p[k:], pos+k
			i++
			continue
		}
		k := int64(len(p))
		if i < len(o.ents) {
			k = min(k, int64(o.ents[i].blk)*bs-pos)
		}
		if err := v.readRaw(p[:k], pos); err != nil {
			return err
		}
		p, pos = p[k:], pos+k
	}
	return nil
}

// readRaw reads exactly len(p) bytes of the image at off.
func (v *volume) readRaw(p []byte, off int64) error {
	if off < 0 || off > v.size || int64(len(p)) > v.size-off {
		return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, errTruncated)
	}
	n, err := v.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}

// inodeJournal reads an internal journal through its inode's block map,
// as it lies on disk (the kernel reads the journal inode before replay).
type inodeJournal struct {
	v    *volume
	runs []run
	n    uint64 // blocks the inode maps
	// win holds the journal blocks from winStart read ahead in one ReadAt
	// (the log is read front to back; a ReadAt per 4 KiB block cost the
	// 128 MiB replay most of its time). Used by the scan only, which runs
	// once, in one goroutine, at open.
	win      []byte
	winStart uint32
}

// readAhead is how many journal blocks one ReadAt fetches (128 KiB at 4 KiB,
// as the kernel's recovery reads ahead).
const readAhead = 32

func (j *inodeJournal) phys(n uint32) int64 {
	// A hand-written binary search: sort.Search's closure would cost an
	// allocation per journal block read.
	lo, hi := 0, len(j.runs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r := j.runs[m]; r.lblk+r.count > uint64(n) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	i := lo
	if i == len(j.runs) || j.runs[i].lblk > uint64(n) || j.runs[i].zero {
		return -1
	}
	r := j.runs[i]
	return int64(r.pblk+uint64(n)-r.lblk) * j.v.bs
}

func (j *inodeJournal) readJ(n uint32, p []byte) error {
	bs := j.v.bs
	if n >= j.winStart && int64(n-j.winStart) < int64(len(j.win))/bs {
		copy(p, j.win[int64(n-j.winStart)*bs:])
		return nil
	}
	off := j.phys(n)
	if off < 0 {
		return fmt.Errorf("journal block %d not mapped by the journal inode", n)
	}
	// Read ahead the physically contiguous blocks that follow, within the
	// image; fall back to the one block when that fails.
	k := int64(1)
	for k < readAhead && uint64(n)+uint64(k) < j.n && j.phys(n+uint32(k)) == off+k*bs && off+(k+1)*bs <= j.v.size {
		k++
	}
	if k > 1 {
		if cap(j.win) < int(readAhead*bs) {
			j.win = make([]byte, readAhead*bs)
		}
		j.win = j.win[:k*bs]
		if err := j.v.readRaw(j.win, off); err == nil {
			j.winStart = n
			copy(p, j.win)
			return nil
		}
		j.win = j.win[:0]
	}
	return j.v.readRaw(p, off)
}

// Journal superblock fields of the filesystem superblock.
const (
	sbJournalUUID = 0xD0
	sbJournalInum = 0xE0
	sbJournalDev  = 0xE4
)

// loadJournal opens the internal journal of v (on-disk view) and reads
// its superblock.
func (v *volume) loadJournal(inum uint32) (*inodeJournal, *jsuper, error) {
	in, err := v.inode(inum)
	if err != nil {
		return nil, nil, fmt.Errorf("journal inode %d: %w", inum, err)
	}
	if in.typ() != sIFREG || in.flags&flagInlineData != 0 {
		return nil, nil, fmt.Errorf("journal inode %d is not a regular file with blocks", inum)
	}
	d, err := v.data(in)
	if err != nil {
		return nil, nil, fmt.Errorf("journal inode %d: %w", inum, err)
	}
	// A journal is a plain file of distinct blocks; a crafted map repeating
	// blocks could make a small image's log 2^32 blocks long, and the
	// scan's memory and time with it. Distinct blocks bound the blocks a
	// scan can read (a block beyond the image fails the read and ends it)
	// by the image's size.
	if err := checkDistinct(d.runs); err != nil {
		return nil, nil, fmt.Errorf("journal inode %d: %w", inum, err)
	}
	j := &inodeJournal{v: v, runs: d.runs, n: v.nblocks(in.size)}
	b := make([]byte, v.bs)
	if err := j.readJ(0, b); err != nil {
		return nil, nil, fmt.Errorf("journal superblock: %w", err)
	}
	js, err := parseJSuper(b, j.n, uint32(v.bs))
	if err != nil {
		return nil, nil, err
	}
	return j, js, nil
}

// replayJournal fills f from the journal of the on-disk volume v: the
// Recovery record, the journal facts, and (when the journal holds
// committed transactions and replay is wanted) the replayed volume.
func replayJournal(v *volume, opt fsread.OpenOptions) (*volume, fsread.Recovery) {
	sb := v.sb
	info := v.info
	needs := sb.incompat&incompatRecover != 0
	clean := fsread.Recovery{State: fsread.RecoveryNone}
	dirty := func(reason string) fsread.Recovery {
		return fsread.Recovery{State: fsread.RecoveryDirty, Reason: reason}
	}
	if sb.compat&compatHasJournal == 0 {
		if needs {
			return v, dirty("needs_recovery set but the filesystem has no journal")
		}
		return v, clean
	}
	ji := &JournalInfo{}
	info.Journal = ji
	inum := le32(sb.raw, sbJournalInum)
	if inum == 0 {
		ji.External = true
		ji.UUID = uuidString(sb.raw[sbJournalUUID : sbJournalUUID+16])
		if needs {
			return v, dirty("external journal on another device: not available")
		}
		return v, clean
	}
	ji.Inode = inum
	j, js, err := v.loadJournal(inum)
	if err != nil {
		ji.Error = err.Error()
		if needs {
			return v, dirty(err.Error())
		}
		return v, clean
	}
	js.info(ji)
	if !needs {
		return v, clean
	}
	if opt.NoReplay {
		return v, dirty("journal replay disabled: on-disk view")
	}
	res := scanJournal(j, js, sb.blocksCount)
	ji.Transactions, ji.Overlaid, ji.LastTid, ji.Wrapped = res.transactions, len(res.ov), res.lastTid, res.wrapped
	rec := fsread.Recovery{State: fsread.RecoveryReplayed, Transactions: res.transactions, Blocks: len(res.ov), Warnings: res.warnings}
	if js.incompat&jbdIncompatFastCommit != 0 {
		// Fast-commit blocks are ext4-level records (inode and dentry
		// deltas), not block copies; what they add is not applied.
		rec.State, rec.Reason = fsread.RecoveryDirty, "fast-commit journal: full commits replayed, fast-commit records not applied"
	}
	if len(res.ov) == 0 {
		return v, rec
	}
	rv, err := openOn(v.r, v.size, &overlay{bs: v.bs, ents: res.ov})
	if err != nil {
		// The kernel would refuse to mount; the on-disk view is still
		// evidence, with the verdict saying it is not the whole story.
		return v, dirty(fmt.Sprintf("replayed metadata unusable (%v): on-disk view", err))
	}
	if rv.bs != v.bs {
		return v, dirty("replayed superblock changes the block size: on-disk view")
	}
	// The facts of the on-disk superblock that replay does not change.
	rv.info.NeedsRecovery, rv.info.Mounted = info.NeedsRecovery, info.Mounted
	rv.info.Journal = ji
	return rv, rec
}
