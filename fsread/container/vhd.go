package container

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// VHD footer: the last 512 bytes of every VHD (dynamic disks also keep a
// copy at offset 0). Big-endian throughout.
type vhdFooter struct {
	dataOffset  uint64
	creatorApp  string
	currentSize uint64
	cyls        uint16
	heads       uint8
	secs        uint8
	diskType    uint32
	checksumOK  bool
}

// vhdMaxSize is far above the format's 2040 GiB, which some tools exceed,
// and keeps sizes positive as int64.
const vhdMaxSize = 1 << 50

const (
	vhdFixed        = 2
	vhdDynamic      = 3
	vhdDifferencing = 4
)

func vhdChecksum(b []byte, at int) uint32 {
	var sum uint32
	for i, c := range b {
		if i >= at && i < at+4 {
			continue
		}
		sum += uint32(c)
	}
	return ^sum
}

func parseVHDFooter(b []byte) vhdFooter {
	be := binary.BigEndian
	return vhdFooter{
		dataOffset:  be.Uint64(b[16:]),
		creatorApp:  string(b[28:32]),
		currentSize: be.Uint64(b[48:]),
		cyls:        be.Uint16(b[56:]),
		heads:       b[58],
		secs:        b[59],
		diskType:    be.Uint32(b[60:]),
		checksumOK:  vhdChecksum(b[:512], 64) == be.Uint32(b[64:]),
	}
}

// size follows qemu's rule (block/vpc.c), the oracle these readers are
// tested against: Virtual PC and qemu's own old images size the disk by
// CHS geometry, everything else (Hyper-V, disk2vhd, qemu "qem2") by
// current_size; the maximum geometry means current_size too.
// qemu also uses CHS for creators it does not know; here those get
// current_size, with a note: a size cut to the geometry would hide the
// end of the disk.
func (ft vhdFooter) size() (uint64, string) {
	chs := uint64(ft.cyls) * uint64(ft.heads) * uint64(ft.secs) * 512
	if ft.cyls == 65535 && ft.heads == 16 && ft.secs == 255 {
		return ft.currentSize, ""
	}
	switch ft.creatorApp {
	case "vpc ", "qemu":
		return chs, ""
	case "win ", "qem2", "d2v ", "tap\x00", "CTXS":
		return ft.currentSize, ""
	}
	if chs != ft.currentSize {
		return ft.currentSize, fmt.Sprintf("VHD from creator %q: size %d from the footer used; its CHS geometry gives %d (qemu would use that)", ft.creatorApp, ft.currentSize, chs)
	}
	return ft.currentSize, ""
}

func openVHD(f *file) (*Disk, error) {
	var notes []string
	var ft vhdFooter
	tail, _ := f.read("vhd footer", f.size-512, 512)
	head, _ := f.read("vhd footer copy", 0, 512)
	switch {
	case tail != nil && string(tail[:8]) == "conectix":
		ft = parseVHDFooter(tail)
		if !ft.checksumOK {
			notes = append(notes, "VHD footer checksum does not match; footer used anyway")
		}
	case head != nil && string(head[:8]) == "conectix":
		// Only dynamic disks keep a copy at the start; without the one at
		// the end the file was cut short.
		ft = parseVHDFooter(head)
		if ft.diskType == vhdFixed {
			return nil, fmt.Errorf("vhd: footer missing at the end of the file: truncated")
		}
		notes = append(notes, "VHD footer missing at the end of the file (truncated?); the copy at offset 0 was used")
		if !ft.checksumOK {
			notes = append(notes, "VHD footer checksum does not match; footer used anyway")
		}
	default:
		return nil, fmt.Errorf("vhd: no footer")
	}
	size, note := ft.size()
	// As for QCOW2: no real disk is this big, and a size past int64 would
	// turn negative in Disk.Size.
	if size > 1<<61 {
		return nil, fmt.Errorf("vhd: virtual size %d is not plausible", size)
	}
	if note != "" {
		notes = append(notes, note)
	}
	if size > vhdMaxSize {
		return nil, fmt.Errorf("vhd: virtual size %d is beyond the format's 2040 GiB (and any disk): corrupt", size)
	}
	switch ft.diskType {
	case vhdFixed:
		if tail == nil || string(tail[:8]) != "conectix" {
			return nil, fmt.Errorf("vhd: fixed disk without footer")
		}
		data := f.size - 512
		if size > uint64(data) {
			notes = append(notes, fmt.Sprintf("VHD fixed disk: the footer says %d bytes but the file holds %d; the rest reads as an error", size, data))
		}
		return &Disk{Format: "vhd (fixed)", Size: int64(size), ReaderAt: &boundedRaw{f: f, data: data}, Notes: notes}, nil
	case vhdDynamic, vhdDifferencing:
		return openDynamicVHD(f, ft, size, notes)
	default:
		return nil, &UnsupportedError{"vhd", fmt.Sprintf("disk type %d", ft.diskType)}
	}
}

// boundedRaw reads a raw disk that takes the first data bytes of the file:
// reading past them is the truncation it is.
type boundedRaw struct {
	f    *file
	data int64
}

func (b *boundedRaw) ReadAt(p []byte, off int64) (int, error) {
	if off < b.data && int64(len(p)) <= b.data-off {
		return b.f.r.ReadAt(p, off)
	}
	n := 0
	if off < b.data {
		n, _ = b.f.r.ReadAt(p[:b.data-off], off)
	}
	return n, fmt.Errorf("virtual offset %d lies past the data the file holds (%d bytes): truncated", off+int64(n), b.data)
}

// dynamicVHD reads a dynamic disk: a BAT of block offsets (in sectors),
// each block a sector bitmap then the data. A block not in the BAT, or a
// sector whose bitmap bit is clear, reads as zeros.
type dynamicVHD struct {
	f          *file
	bat        *tablePages
	batOff     int64
	blocks     int64 // BAT entries the virtual size needs
	blockSize  int64
	bitmapSize int64
}

func openDynamicVHD(f *file, ft vhdFooter, size uint64, notes []string) (*Disk, error) {
	if ft.dataOffset > uint64(f.size) {
		return nil, fmt.Errorf("vhd: dynamic header at offset %d lies outside the file (%d bytes)", ft.dataOffset, f.size)
	}
	h, err := f.read("vhd dynamic header", int64(ft.dataOffset), 1024)
	if err != nil {
		return nil, fmt.Errorf("vhd: %w", err)
	}
	if string(h[:8]) != "cxsparse" {
		return nil, fmt.Errorf("vhd: no dynamic disk header (cxsparse) at offset %d", ft.dataOffset)
	}
	be := binary.BigEndian
	if vhdChecksum(h, 36) != be.Uint32(h[36:]) {
		notes = append(notes, "VHD dynamic header checksum does not match; header used anyway")
	}
	if ft.diskType == vhdDifferencing {
		return nil, &UnsupportedError{"vhd (differencing)", "parent " + vhdParent(f, h) + " not followed"}
	}
	tableOff := be.Uint64(h[16:])
	entries := be.Uint32(h[28:])
	blockSize := int64(be.Uint32(h[32:]))
	if blockSize < 512 || blockSize > 256<<20 || blockSize&(blockSize-1) != 0 {
		return nil, fmt.Errorf("vhd: block size %d is not a power of two in 512 B..256 MiB", blockSize)
	}
	if uint64(entries)*uint64(blockSize) < size {
		return nil, fmt.Errorf("vhd: BAT of %d blocks of %d bytes cannot hold the virtual size %d", entries, blockSize, size)
	}
	if tableOff > uint64(f.size) {
		return nil, fmt.Errorf("vhd: BAT at offset %d lies outside the file (%d bytes)", tableOff, f.size)
	}
	// Only the entries the virtual size needs are used (the table may be
	// longer); they must lie in the file, and are read a page at a time
	// when the disk is read there, never whole.
	need := (int64(size) + blockSize - 1) / blockSize
	if need*4 > f.size-int64(tableOff) {
		return nil, fmt.Errorf("vhd: BAT at offset %d (%d entries) lies outside the file (%d bytes): truncated or corrupt", tableOff, need, f.size)
	}
	d := &dynamicVHD{f: f, bat: newTablePages(f, be), batOff: int64(tableOff), blocks: need, blockSize: blockSize}
	// One bit per sector, padded to whole sectors.
	d.bitmapSize = (blockSize/512/8 + 511) / 512 * 512
	return &Disk{Format: "vhd (dynamic)", Size: int64(size), ReaderAt: d, Notes: notes}, nil
}

func (d *dynamicVHD) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		cur := off + int64(n)
		blk := cur / d.blockSize
		in := cur % d.blockSize
		chunk := p[n:min(len(p), n+int(d.blockSize-in))]
		if blk >= d.blocks {
			return n, fmt.Errorf("virtual offset %d is past the BAT", cur)
		}
		if err := d.readBlock(chunk, blk, in); err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return n, nil
}

func (d *dynamicVHD) readBlock(p []byte, blk, in int64) error {
	e, err := d.bat.u32(d.batOff+4*blk, fmt.Sprintf("vhd BAT entry %d", blk))
	if err != nil {
		return err
	}
	if e == 0xffffffff {
		zero(p)
		return nil
	}
	base := int64(e) * 512
	what := fmt.Sprintf("vhd BAT entry %d", blk)
	first, last := in/512, (in+int64(len(p))-1)/512
	bm := make([]byte, last/8-first/8+1)
	if err := d.f.readFull(bm, base+first/8, what+" (sector bitmap)"); err != nil {
		return err
	}
	// Runs of sectors present in the file are read in one go; absent ones
	// are zeros.
	pos := int64(0)
	for pos < int64(len(p)) {
		sec := (in + pos) / 512
		present := bm[sec/8-first/8]&(0x80>>(sec%8)) != 0
		end := pos
		for end < int64(len(p)) {
			s := (in + end) / 512
			if (bm[s/8-first/8]&(0x80>>(s%8)) != 0) != present {
				break
			}
			end = (s+1)*512 - in
		}
		end = min(end, int64(len(p)))
		if present {
			if err := d.f.readFull(p[pos:end], base+d.bitmapSize+in+pos, what); err != nil {
				return err
			}
		} else {
			zero(p[pos:end])
		}
		pos = end
	}
	return nil
}

// vhdParent names a differencing disk's parent: the Unicode name in the
// header and, when present, the relative or absolute locator path.
func vhdParent(f *file, h []byte) string {
	name := utf16BE(h[64 : 64+512])
	var locs []string
	for i := 0; i < 8; i++ {
		e := h[576+24*i : 576+24*(i+1)]
		code := string(e[:4])
		length := binary.BigEndian.Uint32(e[8:])
		off := binary.BigEndian.Uint64(e[16:])
		if (code != "W2ru" && code != "W2ku") || length == 0 || length > 64<<10 || off > uint64(f.size) {
			continue
		}
		b, err := f.read("vhd parent locator", int64(off), int64(length))
		if err != nil {
			continue
		}
		locs = append(locs, code+"="+utf16LE(b))
	}
	s := fmt.Sprintf("%q", name)
	if len(locs) > 0 {
		s += fmt.Sprintf(" (locators %q)", strings.Join(locs, ", "))
	}
	return s
}

func utf16BE(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.BigEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func utf16LE(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
