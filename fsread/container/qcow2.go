package container

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/lima-vm/go-qcow2reader/image"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
	qlog "github.com/lima-vm/go-qcow2reader/log"
)

func init() {
	// The library logs header oddities to the process log; the ones that
	// matter are parsed here and reported as Notes instead.
	qlog.SetWarnFunc(nil)
	qcow2.SetDecompressor(qcow2.CompressionTypeZstd, func(r io.Reader) (io.ReadCloser, error) {
		// One cluster is at most 2 MiB; the memory cap keeps a hostile frame
		// header from asking for more.
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	})
}

// qcow2Header is what is checked before the library sees the file: the
// library trusts the header's sizes (an L1 table of 2^32 entries would be
// allocated as asked) and opens any backing file it names.
type qcow2Header struct {
	version      uint32
	backingOff   uint64
	backingSize  uint32
	clusterBits  uint32
	size         uint64
	cryptMethod  uint32
	l1Size       uint32
	l1Off        uint64
	incompatible uint64
	headerLength uint32
	compression  uint8
	backingName  string
	clusterSize  int64
	l1Used       uint32 // entries the virtual size needs, <= l1Size
}

// qcow2MaxL1Entries is qemu's QCOW_MAX_L1_SIZE (32 MiB of 8-byte entries):
// qemu refuses a larger active L1 table, so no image it wrote has one, and
// the library's whole-table read costs at most twice that.
const qcow2MaxL1Entries = 32 << 20 / 8

const (
	qcow2IncompatDirty      = 1 << 0
	qcow2IncompatCorrupt    = 1 << 1
	qcow2IncompatExtData    = 1 << 2
	qcow2IncompatCompType   = 1 << 3
	qcow2IncompatExtendedL2 = 1 << 4
	qcow2IncompatKnown      = 1<<5 - 1
)

func parseQCOW2Header(f *file) (*qcow2Header, []string, error) {
	b, err := f.read("qcow2 header", 0, 72)
	if err != nil {
		return nil, nil, err
	}
	be := binary.BigEndian
	h := &qcow2Header{
		version:     be.Uint32(b[4:]),
		backingOff:  be.Uint64(b[8:]),
		backingSize: be.Uint32(b[16:]),
		clusterBits: be.Uint32(b[20:]),
		size:        be.Uint64(b[24:]),
		cryptMethod: be.Uint32(b[32:]),
		l1Size:      be.Uint32(b[36:]),
		l1Off:       be.Uint64(b[40:]),
	}
	var notes []string
	if n := be.Uint32(b[60:]); n > 0 {
		notes = append(notes, fmt.Sprintf("qcow2 holds %d internal snapshot(s); only the current state is read", n))
	}
	switch h.version {
	case 2:
		h.headerLength = 72
	case 3:
		v3, err := f.read("qcow2 v3 header", 72, 32)
		if err != nil {
			return nil, nil, err
		}
		h.incompatible = be.Uint64(v3[0:])
		h.headerLength = be.Uint32(v3[28:])
		if h.headerLength < 104 {
			return nil, nil, fmt.Errorf("qcow2: header length %d is shorter than the v3 minimum 104", h.headerLength)
		}
		if h.headerLength > 104 {
			c, err := f.read("qcow2 compression type", 104, 1)
			if err != nil {
				return nil, nil, err
			}
			h.compression = c[0]
		}
	default:
		return nil, nil, &UnsupportedError{fmt.Sprintf("qcow2 version %d", h.version), "only versions 2 and 3 are read"}
	}
	// qemu's own limits: 512-byte to 2 MiB clusters.
	if h.clusterBits < 9 || h.clusterBits > 21 {
		return nil, nil, fmt.Errorf("qcow2: cluster bits %d outside 9..21", h.clusterBits)
	}
	h.clusterSize = 1 << h.clusterBits
	if int64(h.headerLength) > h.clusterSize {
		return nil, nil, fmt.Errorf("qcow2: header length %d exceeds the cluster size %d", h.headerLength, h.clusterSize)
	}
	if h.size > 1<<61 {
		return nil, nil, fmt.Errorf("qcow2: virtual size %d is beyond what qemu allows", h.size)
	}
	if h.cryptMethod != 0 {
		return nil, nil, &UnsupportedError{"qcow2 (encrypted)", fmt.Sprintf("encryption method %d", h.cryptMethod)}
	}
	if h.incompatible&^qcow2IncompatKnown != 0 {
		return nil, nil, &UnsupportedError{"qcow2", fmt.Sprintf("unknown incompatible feature bits %#x", h.incompatible&^qcow2IncompatKnown)}
	}
	if h.incompatible&qcow2IncompatExtData != 0 {
		return nil, nil, &UnsupportedError{"qcow2 (external data file)", "the data lives in a separate file"}
	}
	if h.incompatible&qcow2IncompatCompType != 0 && h.compression > 1 {
		return nil, nil, &UnsupportedError{"qcow2", fmt.Sprintf("compression type %d", h.compression)}
	}
	if h.incompatible&qcow2IncompatDirty != 0 {
		notes = append(notes, "qcow2 dirty bit set: the image was not closed cleanly (refcounts may be stale); data is read as the L1/L2 tables say")
	}
	if h.incompatible&qcow2IncompatCorrupt != 0 {
		notes = append(notes, "qcow2 corrupt bit set: qemu found metadata corruption in this image; data is read as the L1/L2 tables say")
	}
	if h.incompatible&qcow2IncompatExtendedL2 != 0 {
		notes = append(notes, "qcow2 extended L2 entries (subclusters): read through the library's experimental support")
	}
	// Every cluster of the virtual disk needs an L1 slot; the table itself
	// must be in the file, which also bounds the library's allocation.
	l2Entries := uint64(h.clusterSize / 8)
	if h.incompatible&qcow2IncompatExtendedL2 != 0 {
		l2Entries = uint64(h.clusterSize / 16)
	}
	perL1 := l2Entries * uint64(h.clusterSize)
	need := (h.size + perL1 - 1) / perL1
	if uint64(h.l1Size) < need {
		return nil, nil, fmt.Errorf("qcow2: L1 table has %d entries, the virtual size %d needs %d", h.l1Size, h.size, need)
	}
	if uint64(h.l1Size) > qcow2MaxL1Entries {
		return nil, nil, fmt.Errorf("qcow2: L1 table claims %d entries (%d bytes), over the %d-byte limit qemu also enforces: refused", h.l1Size, uint64(h.l1Size)*8, qcow2MaxL1Entries*8)
	}
	// The library reads the L1 table whole; only the entries the virtual
	// size needs are ever used, so it is shown a header with that many.
	h.l1Used = uint32(need)
	if h.l1Size > 0 {
		if h.l1Off == 0 || h.l1Off > uint64(f.size) || uint64(h.l1Size)*8 > uint64(f.size)-h.l1Off {
			return nil, nil, fmt.Errorf("qcow2: L1 table at offset %d (%d entries) lies outside the file (%d bytes): truncated or corrupt", h.l1Off, h.l1Size, f.size)
		}
	}
	if h.backingOff != 0 {
		if h.backingSize == 0 || h.backingSize > 1023 {
			return nil, nil, fmt.Errorf("qcow2: backing file name length %d outside 1..1023", h.backingSize)
		}
		if h.backingOff > uint64(f.size) {
			return nil, nil, fmt.Errorf("qcow2: backing file name at offset %d lies outside the file (%d bytes)", h.backingOff, f.size)
		}
		name, err := f.read("qcow2 backing file name", int64(h.backingOff), int64(h.backingSize))
		if err != nil {
			return nil, nil, err
		}
		h.backingName = string(name)
	}
	if err := qcow2Extensions(f, h); err != nil {
		return nil, nil, err
	}
	return h, notes, nil
}

// qcow2Extensions checks that the header extensions end inside the first
// cluster, as qemu requires: the library reads extensions until it finds the
// end marker, keeping each one, however far into the file that is.
func qcow2Extensions(f *file, h *qcow2Header) error {
	off := int64(h.headerLength)
	end := min(h.clusterSize, f.size)
	if h.backingOff != 0 && int64(h.backingOff) < end && int64(h.backingOff) >= off {
		end = int64(h.backingOff)
	}
	for {
		if off+8 > end {
			return fmt.Errorf("qcow2: header extensions run past the first cluster (%d bytes): corrupt", h.clusterSize)
		}
		b, err := f.read("qcow2 header extension", off, 8)
		if err != nil {
			return err
		}
		typ, length := binary.BigEndian.Uint32(b), int64(binary.BigEndian.Uint32(b[4:]))
		if typ == 0 {
			return nil
		}
		off += 8 + (length+7)&^7
	}
}

func openQCOW2(f *file, opts Options) (*Disk, error) {
	h, notes, err := parseQCOW2Header(f)
	if err != nil {
		return nil, err
	}
	if h.l1Used == 0 {
		// Nothing allocated (the library refuses an empty L1): the disk is
		// zeros, or its backing file, which is not followed here.
		if h.backingName != "" {
			notes = append(notes, fmt.Sprintf("backing file %q not followed: the whole disk reads as zeros", h.backingName))
		}
		return &Disk{Format: "qcow2", Size: int64(h.size), ReaderAt: zeroReader{}, Notes: notes}, nil
	}
	var edits []patch
	if h.l1Used < h.l1Size {
		l1 := make([]byte, 4)
		binary.BigEndian.PutUint32(l1, h.l1Used)
		edits = append(edits, patch{off: 36, data: l1})
	}
	var depth int
	var opener image.OpenWithType
	switch {
	case h.backingName != "" && !opts.FollowBacking:
		// The library opens whatever the header names, so it is shown a
		// header without one. Clusters this image does not hold then read
		// as zeros, which is what the examiner is told.
		edits = append(edits, patch{off: 8, data: make([]byte, 12)})
		notes = append(notes, fmt.Sprintf("backing file %q not followed: clusters this image does not hold read as zeros", h.backingName))
	case h.backingName != "":
		notes = append(notes, fmt.Sprintf("backing file %q followed", h.backingName))
		opener = func(br io.ReaderAt, t image.Type) (image.Image, error) {
			img, err := openBacking(br, &depth, opener)
			if err != nil {
				// The library closes what it is handed even on failure.
				return rawImage{}, err
			}
			return img, nil
		}
	}
	var ra io.ReaderAt = f.r
	if len(edits) > 0 {
		ra = &patched{r: f.r, edits: edits}
	}
	var lib io.ReaderAt = noClose{ra}
	if nm, ok := ra.(interface{ Name() string }); ok && opener != nil {
		// Following: relative backing names resolve beside this file.
		lib = namedNoClose{noClose{ra}, nm.Name()}
	}
	img, err := qcow2.Open(lib, opener)
	if err != nil {
		return nil, fmt.Errorf("qcow2: %w", err)
	}
	if err := img.Readable(); err != nil {
		if h.backingName != "" && opts.FollowBacking {
			return nil, fmt.Errorf("qcow2: backing file %q: %w", h.backingName, err)
		}
		return nil, fmt.Errorf("qcow2: %w", err)
	}
	return &Disk{Format: "qcow2", Size: int64(h.size), ReaderAt: img, Notes: notes}, nil
}

// openBacking opens one backing file the library has opened by name.
func openBacking(br io.ReaderAt, depth *int, opener image.OpenWithType) (image.Image, error) {
	// A chain that names itself would recurse for ever.
	*depth++
	if *depth > 16 {
		return nil, fmt.Errorf("qcow2: backing chain deeper than 16 files (a loop?)")
	}
	bf, ok := br.(*os.File)
	if !ok {
		return nil, fmt.Errorf("qcow2: backing file is not a file")
	}
	st, err := bf.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("qcow2: backing file %s is not a regular file", bf.Name())
	}
	sub := &file{r: br, size: st.Size()}
	if !sub.has(0, "QFI\xfb") {
		return rawImage{r: br, size: st.Size()}, nil
	}
	if _, _, err := parseQCOW2Header(sub); err != nil {
		return nil, fmt.Errorf("backing file %s: %w", bf.Name(), err)
	}
	img, err := qcow2.Open(br, opener)
	if err == nil {
		// The library records a broken chain in Readable, not as an error.
		err = img.Readable()
	}
	if err != nil {
		return nil, fmt.Errorf("backing file %s: %w", bf.Name(), err)
	}
	return img, nil
}

// noClose keeps the library's Close from closing the examiner's file, and
// hides its Name so the library cannot resolve a relative backing path
// through it unless following was asked for.
type noClose struct{ r io.ReaderAt }

func (n noClose) ReadAt(p []byte, off int64) (int, error) { return n.r.ReadAt(p, off) }

type namedNoClose struct {
	noClose
	name string
}

func (n namedNoClose) Name() string { return n.name }

// patched overlays edits on r: a read-only edit of the header the library
// is shown, never written to the file.
type patched struct {
	r     io.ReaderAt
	edits []patch
}

type patch struct {
	off  int64
	data []byte
}

func (p *patched) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	for _, e := range p.edits {
		end := e.off + int64(len(e.data))
		if off < end && off+int64(n) > e.off {
			for i := max(off, e.off); i < min(off+int64(n), end); i++ {
				b[i-off] = e.data[i-e.off]
			}
		}
	}
	return n, err
}

type zeroReader struct{}

func (zeroReader) ReadAt(p []byte, off int64) (int, error) { zero(p); return len(p), nil }

// rawImage is a raw backing file as the library's image.Image.
type rawImage struct {
	r    io.ReaderAt
	size int64
}

func (r rawImage) ReadAt(p []byte, off int64) (int, error) { return r.r.ReadAt(p, off) }
func (r rawImage) Close() error                            { return nil }
func (r rawImage) Type() image.Type                        { return "raw" }
func (r rawImage) Size() int64                             { return r.size }
func (r rawImage) Readable() error                         { return nil }
func (r rawImage) Extent(start, length int64) (image.Extent, error) {
	return image.Extent{Start: start, Length: length, Allocated: true}, nil
}
