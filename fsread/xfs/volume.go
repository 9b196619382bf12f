package xfs

import (
	"github.com/snapscan/snapscan/fsread/internal/lru"

	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// errTruncated reports a read past the end of the image: the metadata may be
// fine and the image cut short.
var errTruncated = errors.New("beyond the end of the image (truncated image?)")

// ErrRealtime is returned for files on the realtime subvolume, a separate
// device this reader is not given.
var ErrRealtime = errors.New("file on the XFS realtime device: contents not in this image")

// volume is the immutable superblock geometry plus two bounded caches; all
// reads go straight to the ReaderAt, so it is safe for concurrent use.
type volume struct {
	r      io.ReaderAt
	size   int64
	sb     *superblock
	bs     int64
	v5     bool
	ftype  bool
	bigt   bool
	info   *Info
	dirBlk int64

	inodeCache *lru.Cache[uint64, *inode]
	dirCache   *lru.Cache[uint64, *dirList]

	// ov holds the blocks log replay changed (nil when nothing was
	// replayed); readFull lays it over every read.
	ov       *blockOverlay
	recovery fsread.Recovery
}

// xfsFS is the FS New returns: the shared resolver plus the superblock facts.
type xfsFS struct {
	fsread.FS
	info     *Info
	recovery fsread.Recovery
}

// Recovery says whether the log held pending writes and what replay did.
func (f *xfsFS) Recovery() fsread.Recovery { return f.recovery }

// Info returns the superblock facts of the filesystem.
func (f *xfsFS) Info() *Info { return f.info }

// InfoOf returns the superblock facts of an FS made by New (with Truncated
// set from the image size), and false for any other FS.
func InfoOf(fsys fsread.FS) (*Info, bool) {
	if f, ok := fsys.(*xfsFS); ok {
		return f.info, true
	}
	return nil, false
}

// New reads the superblock of the XFS filesystem in r (size bytes) and
// returns it as an FS, with the log replayed in memory when it is dirty.
// label names it in errors.
func New(r io.ReaderAt, size int64, label string) (fsread.FS, error) {
	return NewOpts(r, size, label, fsread.OpenOptions{})
}

// NewOpts is New with reader options: opt.NoReplay shows the on-disk view
// of a volume whose log is dirty (reported so).
func NewOpts(r io.ReaderAt, size int64, label string, opt fsread.OpenOptions) (fsread.FS, error) {
	v, err := openOpts(r, size, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return &xfsFS{FS: fsread.NewFS[uint64](v, label), info: v.info, recovery: v.recovery}, nil
}

func open(r io.ReaderAt, size int64) (*volume, error) {
	return openOpts(r, size, fsread.OpenOptions{})
}

func openOpts(r io.ReaderAt, size int64, opt fsread.OpenOptions) (*volume, error) {
	if size < sbSize {
		return nil, fmt.Errorf("image of %d bytes too small for XFS", size)
	}
	sb, err := readSuper(r)
	if err != nil {
		return nil, err
	}
	v := &volume{
		r:          r,
		size:       size,
		sb:         sb,
		bs:         int64(sb.blockSize),
		v5:         sb.version() == 5,
		ftype:      sb.hasFType(),
		bigt:       sb.bigtime(),
		info:       sb.info(),
		dirBlk:     int64(sb.blockSize) << sb.dirblkLog,
		inodeCache: lru.New[uint64, *inode](4096),
		dirCache:   lru.New[uint64, *dirList](1 << 18),
	}
	v.info.Truncated = sb.dblocks > uint64(size/v.bs)
	v.recover(opt)
	if _, err := v.inode(sb.rootIno); err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	return v, nil
}

// readFull reads exactly len(p) bytes at off, refusing anything outside the image.
func (v *volume) readFull(p []byte, off int64) error {
	if off < 0 || off > v.size || int64(len(p)) > v.size-off {
		return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, errTruncated)
	}
	n, err := v.r.ReadAt(p, off)
	if n == len(p) {
		if v.ov != nil {
			v.ov.patch(p, off)
		}
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}

// fsbToBlock turns a filesystem block number (AG number in the high bits,
// block within the AG in the low sb_agblklog bits) into a linear block.
func (v *volume) fsbToBlock(fsb uint64) (uint64, error) {
	sb := v.sb
	agno := fsb >> sb.agblkLog
	agbno := fsb & (uint64(1)<<sb.agblkLog - 1)
	if agno >= uint64(sb.agcount) || agbno >= uint64(sb.agblocks) {
		return 0, fmt.Errorf("%w: block %d (AG %d, block %d) outside the filesystem", fsread.ErrCorrupt, fsb, agno, agbno)
	}
	return agno*uint64(sb.agblocks) + agbno, nil
}

func (v *volume) Root() uint64 { return v.sb.rootIno }

func (v *volume) Meta(n uint64) (*fsread.Meta, error) {
	in, err := v.inode(n)
	if err != nil {
		return nil, err
	}
	m := &fsread.Meta{
		Inode:    n,
		Mode:     fsread.UnixMode(in.mode),
		Size:     in.size,
		Nlink:    in.nlink,
		HasOwner: true,
		UID:      in.uid,
		GID:      in.gid,
		Atime:    in.atime,
		Mtime:    in.mtime,
		Ctime:    in.ctime,
		Btime:    in.crtime,
		Flags:    in.fsFlags(),
	}
	if n == v.sb.rootIno {
		m.Name = "."
	}
	if in.mode&sIFMT == sIFLNK {
		// A broken link target is no reason to hide the rest of the stat.
		m.LinkTarget, _ = v.readLink(in)
	}
	return m, nil
}

func (v *volume) ReadLink(n uint64) (string, error) {
	in, err := v.inode(n)
	if err != nil {
		return "", err
	}
	if in.mode&sIFMT != sIFLNK {
		return "", fs.ErrInvalid
	}
	return v.readLink(in)
}

func (v *volume) Open(n uint64) (io.ReaderAt, int64, error) {
	in, err := v.inode(n)
	if err != nil {
		return nil, 0, err
	}
	switch in.mode & sIFMT {
	case sIFREG:
	case sIFDIR:
		return nil, 0, fsread.ErrIsDir
	default:
		return nil, 0, fmt.Errorf("inode %d is not a regular file", n)
	}
	fr, err := v.fork(in)
	if err != nil {
		return nil, 0, fmt.Errorf("inode %d: %w", n, err)
	}
	return fr, in.size, nil
}

const (
	sIFMT   = 0o170000
	sIFIFO  = 0o010000
	sIFCHR  = 0o020000
	sIFDIR  = 0o040000
	sIFBLK  = 0o060000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFSOCK = 0o140000
)

// xfsTime decodes an inode timestamp: seconds and nanoseconds as two
// 32-bit words, or with bigtime one count of nanoseconds since the most
// negative 32-bit second, so that old and new stamps sort alike.
func xfsTime(b []byte, big bool) time.Time {
	if big {
		ns := be64(b, 0)
		return time.Unix(int64(ns/1e9)-(1<<31), int64(ns%1e9)).UTC()
	}
	sec := int64(int32(be32(b, 0)))
	nsec := int64(be32(b, 4))
	if nsec >= 1e9 {
		nsec = 0 // not a valid stamp; keep the seconds
	}
	return time.Unix(sec, nsec).UTC()
}
