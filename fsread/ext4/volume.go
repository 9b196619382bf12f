package ext4

import (
	"github.com/snapscan/snapscan/fsread/internal/lru"

	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/snapscan/snapscan/fsread"
)

// ErrEncrypted is returned for fscrypt-encrypted inodes: their names and
// contents are ciphertext, and garbage must not reach a check.
var ErrEncrypted = errors.New("encrypted inode (fscrypt): contents not readable without the key")

// errTruncated reports a read past the end of the image: the metadata may be
// fine and the image cut short.
var errTruncated = errors.New("beyond the end of the image (truncated image?)")

// volume is the immutable state loaded by New plus two bounded caches; all
// reads go straight to the ReaderAt, so it is safe for concurrent use.
type volume struct {
	r        io.ReaderAt
	size     int64
	sb       *superblock
	bs       int64  // block size
	isz      int64  // inode record size
	ipg      uint32 // inodes per group
	inodes   uint32 // highest valid inode number
	itable   []uint64
	filetype bool
	extra    bool // 256-byte-style inodes may carry i_extra_isize
	huge     bool // huge_file
	info     *Info
	// ov is the replayed journal, nil for the on-disk view.
	ov *overlay

	inodeCache *lru.Cache[uint32, []byte]
	dirCache   *lru.Cache[uint32, *dirList]
	bigDir     atomic.Pointer[bigDir]
}

// extFS is the FS New returns: the shared resolver plus the superblock facts.
type extFS struct {
	fsread.FS
	info     *Info
	recovery fsread.Recovery
}

// Info returns the superblock facts of the filesystem.
func (f *extFS) Info() *Info { return f.info }

// InfoOf returns the superblock facts of an FS made by New (with Truncated
// set from the image size), and false for any other FS.
func InfoOf(fsys fsread.FS) (*Info, bool) {
	if f, ok := fsys.(*extFS); ok {
		return f.info, true
	}
	return nil, false
}

// New reads the superblock and group descriptors of the filesystem in r
// (size bytes) and returns it as an FS, with its journal replayed in
// memory when it holds pending writes (see NewOpts). label names it in
// errors.
func New(r io.ReaderAt, size int64, label string) (fsread.FS, error) {
	return NewOpts(r, size, label, fsread.OpenOptions{})
}

// NewOpts is New with reader options. When the superblock says
// needs_recovery, the committed transactions of the internal journal are
// replayed in memory (see replayJournal) unless opt.NoReplay; the image is
// never written. Recovery says what was done.
func NewOpts(r io.ReaderAt, size int64, label string, opt fsread.OpenOptions) (fsread.FS, error) {
	v, err := open(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	v, rec := replayJournal(v, opt)
	return &extFS{FS: fsread.NewFS[uint32](v, label), info: v.info, recovery: rec}, nil
}

// Recovery says whether the journal held pending writes and what was done.
func (f *extFS) Recovery() fsread.Recovery { return f.recovery }

func open(r io.ReaderAt, size int64) (*volume, error) { return openOn(r, size, nil) }

// openOn loads the volume as seen through ov (nil: as it lies on disk);
// the superblock and group descriptors may themselves be journaled.
func openOn(r io.ReaderAt, size int64, ov *overlay) (*volume, error) {
	if size < superOffset+superSize {
		return nil, fmt.Errorf("image of %d bytes too small for ext2/3/4", size)
	}
	v := &volume{r: r, size: size, ov: ov}
	b := make([]byte, superSize)
	if err := v.readFull(b, superOffset); err != nil {
		return nil, fmt.Errorf("reading superblock: %w", err)
	}
	sb, err := parseSuper(b)
	if err != nil {
		return nil, err
	}
	if err := sb.validate(); err != nil {
		return nil, fmt.Errorf("%w: superblock: %v", fsread.ErrCorrupt, err)
	}
	if sb.incompat&incompatJournalDev != 0 {
		return nil, errors.New("external journal device, not a filesystem")
	}
	*v = volume{
		r:          r,
		size:       size,
		ov:         ov,
		sb:         sb,
		bs:         1024 << sb.logBlockSize,
		isz:        int64(sb.inodeSize),
		ipg:        sb.inodesPerGroup,
		filetype:   sb.incompat&incompatFiletype != 0,
		extra:      sb.inodeSize > 128,
		huge:       sb.roCompat&roCompatHugeFile != 0,
		info:       sb.info(),
		inodeCache: lru.New[uint32, []byte](4096),
		dirCache:   lru.New[uint32, *dirList](1 << 16),
	}
	v.info.Truncated = sb.blocksCount > uint64(size/v.bs)
	if err := v.loadGroups(); err != nil {
		return nil, err
	}
	return v, nil
}

// loadGroups reads every group descriptor and keeps only the inode table
// location, which is all a reader needs.
func (v *volume) loadGroups() error {
	sb := v.sb
	ngroups := (sb.blocksCount - uint64(sb.firstDataBlock) + uint64(sb.blocksPerGroup) - 1) / uint64(sb.blocksPerGroup)
	dsz := int64(32)
	if sb.incompat&incompat64bit != 0 {
		dsz = int64(sb.descSize)
	}
	perBlock := uint64(v.bs / dsz)
	nblocks := (ngroups + perBlock - 1) / perBlock
	// The descriptors must be in the image; this also caps the table we allocate.
	if nblocks*uint64(v.bs) > uint64(v.size) {
		return fmt.Errorf("%w: %d groups need %d descriptor blocks, more than the image holds", fsread.ErrCorrupt, ngroups, nblocks)
	}
	if uint64(sb.inodesPerGroup)*ngroups < uint64(sb.inodesCount) {
		return fmt.Errorf("%w: %d inodes do not fit %d groups of %d", fsread.ErrCorrupt, sb.inodesCount, ngroups, sb.inodesPerGroup)
	}
	v.inodes = sb.inodesCount
	v.itable = make([]uint64, ngroups)
	buf := make([]byte, v.bs)
	for i := uint64(0); i < nblocks; i++ {
		blk := v.descBlock(i)
		if err := v.readFull(buf, int64(blk)*v.bs); err != nil {
			return fmt.Errorf("group descriptor block %d (at block %d): %w", i, blk, err)
		}
		for j := uint64(0); j < perBlock && i*perBlock+j < ngroups; j++ {
			d := buf[j*uint64(dsz):]
			t := uint64(le32(d, 0x8))
			if dsz >= 64 {
				t |= uint64(le32(d, 0x28)) << 32
			}
			v.itable[i*perBlock+j] = t
		}
	}
	return nil
}

// descBlock locates descriptor block i: contiguous after the superblock,
// except meta_bg groups, whose descriptors sit in the first group of each
// meta group (after its superblock backup, if it has one).
func (v *volume) descBlock(i uint64) uint64 {
	sb := v.sb
	first := uint64(sb.firstDataBlock)
	if sb.incompat&incompatMetaBG == 0 || i < uint64(sb.firstMetaBG) {
		return first + 1 + i
	}
	g := i * uint64(v.bs/v.descSize())
	blk := first + g*uint64(sb.blocksPerGroup)
	if v.hasSuper(g) {
		blk++
	}
	if v.bs == 1024 && i == 0 && first == 0 {
		blk++ // bigalloc with 1 KiB blocks: block 0 is not the superblock
	}
	return blk
}

func (v *volume) descSize() int64 {
	if v.sb.incompat&incompat64bit != 0 {
		return int64(v.sb.descSize)
	}
	return 32
}

func (v *volume) hasSuper(g uint64) bool {
	sb := v.sb
	if g == 0 {
		return true
	}
	if sb.compat&compatSparseSuper != 0 {
		return g == uint64(sb.backupBGs[0]) || g == uint64(sb.backupBGs[1])
	}
	if sb.roCompat&roCompatSparseSuper == 0 || g == 1 {
		return true
	}
	for _, p := range []uint64{3, 5, 7} {
		n := p
		for n < g {
			n *= p
		}
		if n == g {
			return true
		}
	}
	return false
}

// readFull reads exactly len(p) bytes at off, refusing anything outside
// the image, through the replayed journal when there is one.
func (v *volume) readFull(p []byte, off int64) error {
	if v.ov == nil || len(p) == 0 {
		return v.readRaw(p, off)
	}
	if off < 0 || off > v.size || int64(len(p)) > v.size-off {
		return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, errTruncated)
	}
	return v.readOverlay(p, off)
}

// readBlock reads one filesystem block.
func (v *volume) readBlock(blk uint64) ([]byte, error) {
	if blk >= v.sb.blocksCount {
		return nil, fmt.Errorf("%w: block %d beyond the filesystem's %d blocks", fsread.ErrCorrupt, blk, v.sb.blocksCount)
	}
	b := make([]byte, v.bs)
	if err := v.readFull(b, int64(blk)*v.bs); err != nil {
		return nil, err
	}
	return b, nil
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", fsread.ErrCorrupt, fmt.Sprintf(format, a...))
}
