// Package ntfs exposes an NTFS volume as an fsread.FS, read-only and without
// mounting. go-ntfs (www.velocidex.com/golang/go-ntfs) does the record
// fix-ups, attribute lists, runlists, sparse and LZNT1-compressed streams;
// this package decodes the typed attributes and directory indexes itself,
// with bounds checks, because go-ntfs lists unused index blocks, indexes
// that are not directories ($Secure:$SDH…), DOS 8.3 aliases, and refuses
// clusters over 64 KiB.
package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/internal/lru"
	"www.velocidex.com/golang/go-ntfs/parser"
)

// Attribute type codes.
const (
	atStandardInfo = 0x10
	atAttrList     = 0x20
	atFileName     = 0x30
	atVolumeName   = 0x60
	atVolumeInfo   = 0x70
	atData         = 0x80
	atIndexRoot    = 0x90
	atIndexAlloc   = 0xA0
	atBitmap       = 0xB0
	atReparse      = 0xC0
)

// $STANDARD_INFORMATION file attributes an examiner asks about.
const (
	AttrReadOnly   uint32 = 0x0001
	AttrHidden     uint32 = 0x0002
	AttrSystem     uint32 = 0x0004
	AttrDirectory  uint32 = 0x0010
	AttrArchive    uint32 = 0x0020
	AttrSparse     uint32 = 0x0200
	AttrReparse    uint32 = 0x0400
	AttrCompressed uint32 = 0x0800
	AttrEncrypted  uint32 = 0x4000
)

// Well-known MFT entries.
const (
	mftVolume = 3
	mftRoot   = 5
	mftUpCase = 10
)

// pageSize and cachePages bound the metadata cache: 4 MiB per volume.
const (
	pageSize   = 4096
	cachePages = 1024
)

type backend struct {
	ctx     *parser.NTFSContext // metadata: reads go through the paged cache
	data    *parser.NTFSContext // file content: reads go straight to the image
	boot    *boot
	records uint64 // entries in $MFT
	upcase  []byte // $UpCase as stored: 65536 little-endian uint16
	upOnce  sync.Once
	dirs    *dirCache
	infos   *lru.Cache[uint64, *entryInfo]
	recs    *lru.Cache[uint64, *parser.MFT_ENTRY]
}

// infoCacheEntries bounds the decoded MFT entries kept per volume (a few
// hundred bytes each, plus the 1 KiB record their attributes point into):
// a path lookup, Stat, Open and ReadDir each need the entry, and decoding
// it is most of what they cost. recordCacheEntries bounds the fixed-up
// records themselves (about 1 KiB each), which every index entry's
// freshness test and every Open read again otherwise.
const (
	infoCacheEntries   = 1024
	recordCacheEntries = 1024
)

// bounded refuses reads past the image's end with an error, so that a
// truncated image reads as an error, not as zeros (go-ntfs's page cache
// pads short reads).
type bounded struct {
	r    io.ReaderAt
	size int64
}

var errPastEnd = errors.New("read past the end of the image (truncated?)")

func (b bounded) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= b.size {
		return 0, fmt.Errorf("%w: offset %d, image size %d", errPastEnd, off, b.size)
	}
	if rest := b.size - off; int64(len(p)) > rest {
		n, err := b.r.ReadAt(p[:rest], off)
		if err == nil || n == int(rest) {
			err = io.EOF
		}
		return n, err
	}
	return b.r.ReadAt(p, off)
}

// New opens the NTFS volume held in r (size bytes; 0 takes the size the
// boot sector records). label names it in errors.
func New(r io.ReaderAt, size int64, label string) (f fsread.FS, err error) {
	return NewOpts(r, size, label, fsread.OpenOptions{})
}

// NewOpts is New with the options every reader takes. NTFS is always read
// as it is on disk ($LogFile redo is not implemented), so NoReplay changes
// nothing; the FS is an fsread.Recoverable that says whether that view is
// complete.
func NewOpts(r io.ReaderAt, size int64, label string, _ fsread.OpenOptions) (f fsread.FS, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%s: %w: %v", label, fsread.ErrCorrupt, p)
		}
	}()
	b, err := open(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return &volume{FS: fsread.NewFS[uint64](b, label), b: b}, nil
}

// volume keeps the backend reachable for the NTFS-only helpers (Streams).
type volume struct {
	fsread.FS
	b *backend

	recOnce sync.Once
	rec     fsread.Recovery
}

// Recovery says whether the volume was shut down cleanly: the dirty bit in
// $Volume, and whether $LogFile still has a client's restart area open.
// Read once, on first use, so that opening a volume costs no more.
func (v *volume) Recovery() fsread.Recovery {
	v.recOnce.Do(func() { v.rec = v.b.recovery() })
	return v.rec
}

// Probe reads the boot sector and $Volume: label, serial, geometry, dirty.
func Probe(r io.ReaderAt) (info *Info, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("%w: %v", fsread.ErrCorrupt, p)
		}
	}()
	bt, err := parseBoot(r)
	if err != nil {
		return nil, err
	}
	info = bt.info()
	b, err := open(r, bt.volumeBytes())
	if err != nil {
		// The boot sector is NTFS even when the MFT is unreadable: say what
		// is known and why the rest is not.
		return info, err
	}
	b.volumeInfo(info)
	return info, nil
}

func open(r io.ReaderAt, size int64) (*backend, error) {
	bt, err := parseBoot(r)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		size = bt.volumeBytes()
	}
	disk := bounded{r: r, size: size}
	paged, err := parser.NewPagedReader(disk, pageSize, cachePages)
	if err != nil {
		return nil, err
	}
	ctx := parser.GetNTFSContextFromRawMFT(nil, bt.clusterSize, bt.recordSize)
	ctx.DiskReader = paged
	ctx.Boot = &parser.NTFS_BOOT_SECTOR{Reader: paged, Profile: ctx.Profile}
	b := &backend{ctx: ctx, boot: bt, dirs: newDirCache(128), infos: lru.New[uint64, *entryInfo](infoCacheEntries),
		recs: lru.New[uint64, *parser.MFT_ENTRY](recordCacheEntries)}

	// Bootstrap the MFT from its own first record; parser.BootstrapMFT would
	// take the cluster size from go-ntfs's boot parser, which caps it at 64 KiB.
	off := int64(bt.mftLCN) * bt.clusterSize
	if off+bt.recordSize > size {
		return nil, fmt.Errorf("%w: $MFT at offset %d is past the image end %d", fsread.ErrCorrupt, off, size)
	}
	rec0, err := parser.GetFixedUpMFTEntry(ctx, paged, off)
	if err != nil {
		return nil, fmt.Errorf("%w: $MFT record 0: %v", fsread.ErrCorrupt, err)
	}
	if err := checkRecord(rec0, 0, bt.recordSize); err != nil {
		return nil, err
	}
	var first *parser.NTFS_ATTRIBUTE
	for _, a := range rec0.EnumerateAttributes(ctx) {
		if a.Type().Value == atData && a.Name() == "" && (a.IsResident() || a.Runlist_vcn_start() == 0) {
			first = a
			break
		}
	}
	if first == nil || first.IsResident() {
		return nil, fmt.Errorf("%w: $MFT has no non-resident $DATA", fsread.ErrCorrupt)
	}
	ctx.MFTReader = first.Data(ctx)
	// Record 0 again, now through the MFT stream, so that an attribute list
	// naming further $DATA extents (a fragmented $MFT) is followed.
	rec0, err = b.record(0)
	if err != nil {
		return nil, err
	}
	mft, err := parser.OpenStream(ctx, rec0, atData, parser.WILDCARD_STREAM_ID, "")
	if err != nil {
		return nil, fmt.Errorf("%w: $MFT data: %v", fsread.ErrCorrupt, err)
	}
	ctx.MFTReader = mft
	b.records = uint64(first.DataSize() / bt.recordSize)
	if maxRec := uint64(size / bt.recordSize); b.records > maxRec {
		b.records = maxRec
	}

	b.data = ctx.Copy()
	b.data.DiskReader = disk

	root, err := b.record(mftRoot)
	if err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	if !isDir(root) {
		return nil, fmt.Errorf("%w: MFT entry 5 is not a directory", fsread.ErrCorrupt)
	}
	return b, nil
}

func errCorrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{fsread.ErrCorrupt}, args...)...)
}

// checkRecord validates a fixed-up MFT record header: go-ntfs checks the
// fix-ups only, so a zeroed or foreign record would otherwise parse.
func checkRecord(e *parser.MFT_ENTRY, n uint64, recSize int64) error {
	var h [0x30]byte
	if _, err := e.Reader.ReadAt(h[:], e.Offset); err != nil && err != io.EOF {
		return errCorrupt("MFT entry %d: %v", n, err)
	}
	if string(h[:4]) != "FILE" {
		return errCorrupt("MFT entry %d: bad signature %q", n, h[:4])
	}
	if binary.LittleEndian.Uint16(h[0x16:])&1 == 0 {
		return fmt.Errorf("MFT entry %d is not in use: %w", n, fs.ErrNotExist)
	}
	if alloc := int64(binary.LittleEndian.Uint32(h[0x1C:])); alloc != recSize {
		return errCorrupt("MFT entry %d: allocated size %d, want %d", n, alloc, recSize)
	}
	if base := binary.LittleEndian.Uint64(h[0x20:]) & refMask; base != 0 {
		return errCorrupt("MFT entry %d is an extension of entry %d", n, base)
	}
	// NTFS 3.1 records their own number; 3.0 put the fix-up array there.
	if binary.LittleEndian.Uint16(h[4:]) >= 0x30 {
		if got := binary.LittleEndian.Uint32(h[0x2C:]); uint64(got) != n&0xFFFFFFFF {
			return errCorrupt("MFT entry %d records number %d", n, got)
		}
	}
	return nil
}

const refMask = 1<<48 - 1

func seqOf(e *parser.MFT_ENTRY) uint16 { return e.Sequence_value() }

func isDir(e *parser.MFT_ENTRY) bool { return e.Flags().Value&2 != 0 }

// record returns MFT entry n, validated and in use.
func (b *backend) record(n uint64) (*parser.MFT_ENTRY, error) {
	if n >= b.records && b.records != 0 {
		return nil, errCorrupt("MFT entry %d beyond the %d entries of $MFT", n, b.records)
	}
	if e, ok := b.recs.Get(n); ok {
		return e, nil
	}
	e, err := b.ctx.GetMFT(int64(n))
	if err != nil {
		return nil, errCorrupt("MFT entry %d: %v", n, err)
	}
	if err := checkRecord(e, n, b.boot.recordSize); err != nil {
		return nil, err
	}
	// Cached only once the $MFT stream is known: open reads record 0 first
	// from the boot sector's LCN, then again through the stream.
	if b.records != 0 {
		b.recs.Put(n, e, 1)
	}
	return e, nil
}

// attrBytes returns an attribute's content, at most limit bytes.
func (b *backend) attrBytes(a *parser.NTFS_ATTRIBUTE, limit int64) []byte {
	size := a.DataSize()
	if size <= 0 {
		return nil
	}
	buf := make([]byte, min(size, limit))
	n, _ := a.Data(b.ctx).ReadAt(buf, 0)
	return buf[:n]
}

// filetime converts 100 ns ticks since 1601; 0 is 1601-01-01, as Windows
// and ntfs-3g show it (mkntfs leaves some metafiles' times at 0).
func filetime(v uint64) time.Time {
	const epochDiff = 11644473600 // seconds from 1601-01-01 to 1970-01-01
	return time.Unix(int64(v/1e7)-epochDiff, int64(v%1e7)*100).UTC()
}

func utf16String(p []byte) string {
	u := make([]uint16, len(p)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(p[2*i:])
	}
	return string(utf16.Decode(u))
}

// FileName is one $FILE_NAME attribute of an MFT entry. Its times are set
// by the kernel on create/rename only, so they survive SetFileTime
// ("timestomping") that rewrites $STANDARD_INFORMATION.
type FileName struct {
	Name      string
	Namespace uint8  // 0 POSIX, 1 Win32, 2 DOS, 3 Win32+DOS
	Parent    uint64 // MFT entry of the directory holding this name
	ParentSeq uint16
	Btime     time.Time // created
	Mtime     time.Time // modified
	Ctime     time.Time // MFT entry modified
	Atime     time.Time // accessed
	Flags     uint32
}

const nsDOS = 2

// parseFileName decodes a $FILE_NAME body (also an index key).
func parseFileName(p []byte) (FileName, bool) {
	if len(p) < 0x42 {
		return FileName{}, false
	}
	n := int(p[0x40])
	if 0x42+2*n > len(p) || n == 0 {
		return FileName{}, false
	}
	ref := binary.LittleEndian.Uint64(p)
	return FileName{
		Name:      utf16String(p[0x42 : 0x42+2*n]),
		Namespace: p[0x41],
		Parent:    ref & refMask,
		ParentSeq: uint16(ref >> 48),
		Btime:     filetime(binary.LittleEndian.Uint64(p[0x08:])),
		Mtime:     filetime(binary.LittleEndian.Uint64(p[0x10:])),
		Ctime:     filetime(binary.LittleEndian.Uint64(p[0x18:])),
		Atime:     filetime(binary.LittleEndian.Uint64(p[0x20:])),
		Flags:     binary.LittleEndian.Uint32(p[0x38:]),
	}, true
}

// entryInfo is what one MFT entry says about itself.
type entryInfo struct {
	meta     fsread.Meta
	names    []FileName
	data     *parser.NTFS_ATTRIBUTE // unnamed $DATA, first extent
	reparse  uint32                 // reparse tag, 0 if none
	rpData   []byte
	streams  []Stream
	hasIndex bool
}

// Stream is one named $DATA stream (alternate data stream) of a file.
type Stream struct {
	Name string
	Size int64
}

// inspect decodes MFT entry n, from the cache when it can. The result is
// shared: callers must not modify it.
func (b *backend) inspect(n uint64) (*entryInfo, error) {
	if ei, ok := b.infos.Get(n); ok {
		return ei, nil
	}
	ei, err := b.decode(n)
	if err != nil {
		return nil, err
	}
	b.infos.Put(n, ei, 1)
	return ei, nil
}

func (b *backend) decode(n uint64) (*entryInfo, error) {
	e, err := b.record(n)
	if err != nil {
		return nil, err
	}
	ei := &entryInfo{}
	m := &ei.meta
	m.Inode = n
	var haveSI bool
	for _, a := range e.EnumerateAttributes(b.ctx) {
		switch a.Type().Value {
		case atStandardInfo:
			if haveSI {
				continue
			}
			p := b.attrBytes(a, 72)
			if len(p) < 0x24 {
				return nil, errCorrupt("MFT entry %d: short $STANDARD_INFORMATION", n)
			}
			haveSI = true
			m.Btime = filetime(binary.LittleEndian.Uint64(p[0x00:]))
			m.Mtime = filetime(binary.LittleEndian.Uint64(p[0x08:]))
			m.Ctime = filetime(binary.LittleEndian.Uint64(p[0x10:]))
			m.Atime = filetime(binary.LittleEndian.Uint64(p[0x18:]))
			m.Attributes = binary.LittleEndian.Uint32(p[0x20:])
			if len(p) >= 0x38 { // NTFS 3.0 and later: the owner is in $Secure
				m.SecurityID = binary.LittleEndian.Uint32(p[0x34:])
			}
		case atFileName:
			if fn, ok := parseFileName(b.attrBytes(a, 0x42+2*255)); ok {
				ei.names = append(ei.names, fn)
			}
		case atData:
			if !a.IsResident() && a.Runlist_vcn_start() != 0 {
				continue // a later extent of a stream already seen
			}
			// The size is a uint64 on disk that go-ntfs hands over as an
			// int64: past 2^63 it would be a negative file size.
			if sz := a.DataSize(); sz < 0 {
				return nil, errCorrupt("MFT entry %d: $DATA %q of %d bytes", n, a.Name(), uint64(sz))
			}
			if name := a.Name(); name != "" {
				ei.streams = append(ei.streams, Stream{Name: name, Size: a.DataSize()})
			} else if ei.data == nil {
				ei.data = a
			}
		case atIndexRoot:
			if a.Name() == "$I30" {
				ei.hasIndex = true
			}
		case atReparse:
			if ei.reparse == 0 {
				ei.rpData = b.attrBytes(a, 16<<10)
				if len(ei.rpData) >= 8 {
					ei.reparse = binary.LittleEndian.Uint32(ei.rpData)
				}
			}
		}
	}
	if !haveSI {
		return nil, errCorrupt("MFT entry %d has no $STANDARD_INFORMATION", n)
	}
	// The on-disk name, unless hard links give the entry different names:
	// then NewFS names it by the caller's path (ReadDir by the entry).
	ambiguous := false
	for _, fn := range ei.names {
		if fn.Namespace == nsDOS {
			continue
		}
		m.Nlink++
		if m.Name == "" {
			m.Name = fn.Name
		} else if m.Name != fn.Name {
			ambiguous = true
		}
	}
	if ambiguous {
		m.Name = ""
	}
	if ei.data != nil {
		m.Size = ei.data.DataSize()
	}
	switch {
	case isDir(e):
		m.Mode = fs.ModeDir | 0o755
		m.Size = 0
	default:
		m.Mode = 0o644
	}
	if target, ok := b.linkTarget(ei); ok {
		m.Mode = fs.ModeSymlink | 0o777
		m.LinkTarget = target
		m.Size = int64(len(target))
	}
	return ei, nil
}

func (b *backend) Root() uint64 { return mftRoot }

func (b *backend) Meta(n uint64) (*fsread.Meta, error) {
	ei, err := b.inspect(n)
	if err != nil {
		return nil, err
	}
	m := ei.meta // NewFS may fill in the name: the cached entry stays as decoded
	return &m, nil
}

func (b *backend) ReadLink(n uint64) (string, error) {
	ei, err := b.inspect(n)
	if err != nil {
		return "", err
	}
	if ei.meta.Mode&fs.ModeSymlink == 0 {
		return "", fs.ErrInvalid
	}
	return ei.meta.LinkTarget, nil
}

// Reparse tags whose content is not in the unnamed $DATA stream.
const (
	tagMountPoint = 0xA0000003
	tagSymlink    = 0xA000000C
	tagDedup      = 0x80000013
	tagWOF        = 0x80000017
)

func (b *backend) Open(n uint64) (io.ReaderAt, int64, error) {
	ei, err := b.inspect(n)
	if err != nil {
		return nil, 0, err
	}
	if !ei.meta.Mode.IsRegular() {
		return nil, 0, fmt.Errorf("MFT entry %d is not a regular file", n)
	}
	switch {
	case ei.reparse == tagWOF:
		return nil, 0, fmt.Errorf("MFT entry %d: WOF-compressed (Windows compact) content is not supported", n)
	case ei.reparse == tagDedup:
		return nil, 0, fmt.Errorf("MFT entry %d: deduplicated content lives in the chunk store, not supported", n)
	case ei.meta.Attributes&AttrEncrypted != 0:
		return nil, 0, fmt.Errorf("MFT entry %d: EFS-encrypted content is not readable", n)
	}
	if ei.data == nil {
		return emptyReader{}, 0, nil
	}
	return b.openStream(n, "", ei.data, ei.meta.Size)
}

func (b *backend) openStream(n uint64, name string, first *parser.NTFS_ATTRIBUTE, size int64) (io.ReaderAt, int64, error) {
	if size == 0 {
		return emptyReader{}, 0, nil
	}
	e, err := b.record(n)
	if err != nil {
		return nil, 0, err
	}
	r, err := parser.OpenStream(b.data, e, atData, parser.WILDCARD_STREAM_ID, name)
	if err != nil {
		return nil, 0, errCorrupt("MFT entry %d: opening $DATA %q: %v", n, name, err)
	}
	var unit int64
	if !first.IsResident() && parser.IsCompressed(first.Flags()) {
		if cu := first.Compression_unit_size(); cu > 0 && cu < 16 {
			unit = b.boot.clusterSize << cu
		}
	}
	return newStream(r, size, unit, n), size, nil
}

type emptyReader struct{}

func (emptyReader) ReadAt(p []byte, off int64) (int, error) { return 0, io.EOF }

// stream bounds a go-ntfs reader to the stream's size, turns the short
// reads it returns on a damaged runlist into errors, and keeps the last
// chunk read: go-ntfs decompresses a whole LZNT1 unit on every ReadAt, so
// small sequential reads of a compressed file would cost a unit each.
type stream struct {
	r     io.ReaderAt
	size  int64
	unit  int64 // compression unit in bytes; 0 if not compressed
	entry uint64

	mu     sync.Mutex
	buf    []byte
	bufOff int64 // -1 when empty
}

const chunkSize = 64 << 10

func newStream(r io.ReaderAt, size, unit int64, entry uint64) *stream {
	return &stream{r: r, size: size, unit: unit, entry: entry, bufOff: -1}
}

func (s *stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want, eof := p, false
	if int64(len(p)) > s.size-off {
		want, eof = p[:s.size-off], true
	}
	var n int
	var err error
	if len(want) >= chunkSize {
		n, err = s.fill(want, off)
	} else {
		n, err = s.cached(want, off)
	}
	if err == nil && eof {
		err = io.EOF
	}
	return n, err
}

// cached serves a small read from the chunk that holds it.
func (s *stream) cached(want []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(want) {
		pos := off + int64(n)
		if s.bufOff < 0 || pos < s.bufOff || pos >= s.bufOff+int64(len(s.buf)) {
			start := pos - pos%chunkSize
			if s.buf == nil {
				// A chunk is never longer than the stream: most files
				// are small, and a 64 KiB buffer per open would be most
				// of what reading them costs.
				s.buf = make([]byte, min(chunkSize, s.size))
			}
			s.buf = s.buf[:min(chunkSize, s.size-start)]
			s.bufOff = -1
			if _, err := s.fill(s.buf, start); err != nil {
				return n, err
			}
			s.bufOff = start
		}
		n += copy(want[n:], s.buf[pos-s.bufOff:])
	}
	return n, nil
}

// fill reads want (inside the stream) completely or fails.
func (s *stream) fill(want []byte, off int64) (int, error) {
	n := 0
	for n < len(want) {
		m, err := s.r.ReadAt(want[n:], off+int64(n))
		n += m
		if n >= len(want) {
			break
		}
		if err != nil && err != io.EOF {
			return n, err
		}
		if m > 0 {
			continue
		}
		if s.unit == 0 {
			return n, errCorrupt("MFT entry %d: $DATA ends at %d of %d bytes", s.entry, off+int64(n), s.size)
		}
		// An LZNT1 unit whose chunks end early: the rest of the unit is zeros.
		pos := off + int64(n)
		end := min((pos/s.unit+1)*s.unit-off, int64(len(want)))
		clear(want[n:end])
		n = int(end)
	}
	return n, nil
}

// volumeInfo fills label, version and dirty flag from $Volume.
func (b *backend) volumeInfo(info *Info) {
	e, err := b.record(mftVolume)
	if err != nil {
		return
	}
	for _, a := range e.EnumerateAttributes(b.ctx) {
		switch a.Type().Value {
		case atVolumeName:
			info.Label = utf16String(b.attrBytes(a, 512))
		case atVolumeInfo:
			if p := b.attrBytes(a, 16); len(p) >= 12 {
				info.Version = fmt.Sprintf("%d.%d", p[8], p[9])
				info.Dirty = binary.LittleEndian.Uint16(p[10:])&volInfoDirty != 0
				info.DirtyKnown = true
			}
		}
	}
}

// loadUpcase reads $UpCase, the table Windows folds names with.
func (b *backend) loadUpcase() {
	ei, err := b.inspect(mftUpCase)
	if err != nil || ei.data == nil || ei.meta.Size != 2*65536 {
		return
	}
	r, size, err := b.openStream(mftUpCase, "", ei.data, ei.meta.Size)
	if err != nil {
		return
	}
	// Kept as read: decoding 65536 entries up front would cost more than
	// opening the rest of a small volume.
	buf := make([]byte, size)
	if n, _ := r.ReadAt(buf, 0); n != len(buf) {
		return
	}
	b.upcase = buf
}

// fold maps a name to its case-insensitive key the way Windows does.
// $UpCase is read on the first fold: opening a volume to read its
// recovery state or one file by MFT entry needs none of its 128 KiB.
func (b *backend) fold(name string) string {
	b.upOnce.Do(b.loadUpcase)
	u := utf16.Encode([]rune(name))
	for i, c := range u {
		if b.upcase != nil {
			u[i] = binary.LittleEndian.Uint16(b.upcase[2*int(c):])
		} else if c < 0xD800 || c > 0xDFFF {
			u[i] = uint16(unicode.ToUpper(rune(c)))
		}
	}
	var sb strings.Builder
	sb.Grow(2 * len(u))
	for _, c := range u {
		sb.WriteByte(byte(c))
		sb.WriteByte(byte(c >> 8))
	}
	return sb.String()
}

// Streams lists the alternate data streams of the file name in an FS made
// by New; they are not part of the tree that ReadDir shows.
func Streams(fsys fsread.FS, name string) ([]Stream, error) {
	v, n, err := node(fsys, name)
	if err != nil {
		return nil, err
	}
	ei, err := v.b.inspect(n)
	if err != nil {
		return nil, &fs.PathError{Op: "streams", Path: name, Err: fmt.Errorf("%s: %w", fsys, err)}
	}
	return slices.Clone(ei.streams), nil
}

// OpenStream opens the alternate data stream stream of the file name.
func OpenStream(fsys fsread.FS, name, stream string) (r *io.SectionReader, err error) {
	v, n, err := node(fsys, name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", fsread.ErrCorrupt, p)
		}
		if err != nil {
			err = &fs.PathError{Op: "open", Path: name + ":" + stream, Err: fmt.Errorf("%s: %w", fsys, err)}
		}
	}()
	e, err := v.b.record(n)
	if err != nil {
		return nil, err
	}
	for _, a := range e.EnumerateAttributes(v.b.ctx) {
		if a.Type().Value == atData && a.Name() == stream && stream != "" &&
			(a.IsResident() || a.Runlist_vcn_start() == 0) {
			ra, size, err := v.b.openStream(n, stream, a, a.DataSize())
			if err != nil {
				return nil, err
			}
			return io.NewSectionReader(guarded{ra}, 0, size), nil
		}
	}
	return nil, fs.ErrNotExist
}

// FileNames returns the $FILE_NAME attributes of name (all namespaces),
// whose times a timestomping check compares with Meta's.
func FileNames(fsys fsread.FS, name string) ([]FileName, error) {
	v, n, err := node(fsys, name)
	if err != nil {
		return nil, err
	}
	ei, err := v.b.inspect(n)
	if err != nil {
		return nil, &fs.PathError{Op: "filenames", Path: name, Err: fmt.Errorf("%s: %w", fsys, err)}
	}
	return slices.Clone(ei.names), nil
}

func node(fsys fsread.FS, name string) (*volume, uint64, error) {
	v, ok := fsys.(*volume)
	if !ok {
		return nil, 0, &fs.PathError{Op: "ntfs", Path: name, Err: errors.New("not an NTFS filesystem from ntfs.New")}
	}
	fi, err := v.Lstat(name)
	if err != nil {
		return nil, 0, err
	}
	return v, fsread.MetaOf(fi).Inode, nil
}

// guarded contains go-ntfs panics on reads outside fsread's own guard.
type guarded struct{ r io.ReaderAt }

func (g guarded) ReadAt(p []byte, off int64) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", fsread.ErrCorrupt, r)
		}
	}()
	return g.r.ReadAt(p, off)
}

var _ fsread.Backend[uint64] = (*backend)(nil)
