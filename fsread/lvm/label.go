package lvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk layout from LVM2's lib/format_text/layout.h and lib/label/label.h.
const (
	sectorSize    = 512
	labelScan     = 4 // the label sits in one of the first four sectors
	labelID       = "LABELONE"
	labelType     = "LVM2 001"
	mdaMagic      = "\x20LVM2 x[5A%r0N*>"
	mdaHeaderSize = 512
	initialCRC    = 0xf597a6cf
	rawLocnIgnore = 1
	maxAreas      = 8 // LVM writes at most 1 data area and 2 metadata areas
)

// ErrNotLVM is returned when no LVM2 label is found.
var ErrNotLVM = errors.New("lvm: no LVM2 physical volume label in the first 4 sectors")

// lvmCRC is LVM's calc_crc: a reflected CRC-32 (IEEE polynomial) with its own
// initial value and no final inversion, which crc32.Update expresses with
// complements on the way in and out.
func lvmCRC(b []byte) uint32 {
	return ^crc32.Update(^uint32(initialCRC), crc32.IEEETable, b)
}

// area is a byte range on the PV, as listed in the PV header.
type area struct{ Offset, Size uint64 }

// pvLabel is what the label sector and PV header say about one PV.
type pvLabel struct {
	Sector   int64 // sector holding the label
	UUID     string
	DevSize  uint64
	Data     []area
	Metadata []area
}

// formatUUID inserts LVM's dashes (6-4-4-4-4-4-6) into a 32-character UUID.
func formatUUID(raw []byte) string {
	if len(raw) != 32 {
		return string(raw)
	}
	var b bytes.Buffer
	for i, n := range []int{6, 4, 4, 4, 4, 4, 6} {
		if i > 0 {
			b.WriteByte('-')
		}
		b.Write(raw[:n])
		raw = raw[n:]
	}
	return b.String()
}

// parseLabel finds and decodes the label and PV header in the first 4 sectors
// (buf holds them; it may be shorter on a tiny image).
func parseLabel(buf []byte) (*pvLabel, error) {
	for s := 0; s < labelScan && (s+1)*sectorSize <= len(buf); s++ {
		sec := buf[s*sectorSize : (s+1)*sectorSize]
		if string(sec[:8]) != labelID || string(sec[24:32]) != labelType {
			continue
		}
		le := binary.LittleEndian
		if got := le.Uint64(sec[8:]); got != uint64(s) {
			return nil, fmt.Errorf("lvm: label in sector %d claims sector %d", s, got)
		}
		if want, got := le.Uint32(sec[16:]), lvmCRC(sec[20:]); want != got {
			return nil, fmt.Errorf("lvm: label checksum %#x, computed %#x", want, got)
		}
		off := int(le.Uint32(sec[20:]))
		// The PV header (UUID, size, two zero-terminated area lists) must fit in the sector.
		if off < 32 || off > sectorSize-32-8 {
			return nil, fmt.Errorf("lvm: PV header offset %d outside the label sector", off)
		}
		h := sec[off:]
		l := &pvLabel{Sector: int64(s), UUID: formatUUID(h[:32]), DevSize: le.Uint64(h[32:])}
		p := 40
		var err error
		if l.Data, p, err = areaList(h, p); err != nil {
			return nil, fmt.Errorf("lvm: PV data areas: %w", err)
		}
		if l.Metadata, _, err = areaList(h, p); err != nil {
			return nil, fmt.Errorf("lvm: PV metadata areas: %w", err)
		}
		return l, nil
	}
	return nil, ErrNotLVM
}

func areaList(h []byte, p int) ([]area, int, error) {
	var out []area
	for {
		if p+16 > len(h) {
			return nil, p, errors.New("list runs past the label sector")
		}
		a := area{binary.LittleEndian.Uint64(h[p:]), binary.LittleEndian.Uint64(h[p+8:])}
		p += 16
		if a.Offset == 0 {
			return out, p, nil
		}
		if len(out) == maxAreas {
			return nil, p, fmt.Errorf("more than %d areas", maxAreas)
		}
		out = append(out, a)
	}
}

// rawLocn points at one copy of the metadata text inside a metadata area.
type rawLocn struct {
	Offset, Size uint64 // Offset relative to the area start
	Checksum     uint32
	Flags        uint32
}

// mdaHeader is the header at the start of a metadata area.
type mdaHeader struct {
	Start, Size uint64
	Locns       []rawLocn
}

func parseMDAHeader(b []byte) (*mdaHeader, error) {
	if len(b) < mdaHeaderSize {
		return nil, io.ErrUnexpectedEOF
	}
	b = b[:mdaHeaderSize]
	le := binary.LittleEndian
	if string(b[4:20]) != mdaMagic {
		return nil, errors.New("no metadata area magic")
	}
	if want, got := le.Uint32(b), lvmCRC(b[4:]); want != got {
		return nil, fmt.Errorf("metadata area header checksum %#x, computed %#x", want, got)
	}
	if v := le.Uint32(b[20:]); v != 1 {
		return nil, fmt.Errorf("metadata area header version %d", v)
	}
	h := &mdaHeader{Start: le.Uint64(b[24:]), Size: le.Uint64(b[32:])}
	for p := 40; p+24 <= len(b); p += 24 {
		l := rawLocn{le.Uint64(b[p:]), le.Uint64(b[p+8:]), le.Uint32(b[p+16:]), le.Uint32(b[p+20:])}
		if l.Offset == 0 {
			break
		}
		h.Locns = append(h.Locns, l)
	}
	return h, nil
}

// readText reads one metadata copy from the circular buffer that follows the
// area header: text that runs past the end of the area wraps to just after the
// header. mdaStart/mdaSize come from the PV header; the copy must lie inside.
func readText(r io.ReaderAt, imgSize int64, mdaStart, mdaSize uint64, l rawLocn) ([]byte, error) {
	if mdaSize <= mdaHeaderSize || mdaStart > uint64(imgSize) || mdaSize > uint64(imgSize)-mdaStart {
		return nil, fmt.Errorf("metadata area %d+%d outside the %d-byte image", mdaStart, mdaSize, imgSize)
	}
	ring := mdaSize - mdaHeaderSize
	if l.Offset < mdaHeaderSize || l.Offset >= mdaSize || l.Size == 0 || l.Size > ring || l.Size > maxTextSize {
		return nil, fmt.Errorf("metadata copy %d+%d does not fit the %d-byte area", l.Offset, l.Size, mdaSize)
	}
	text := make([]byte, l.Size)
	first := min(l.Size, mdaSize-l.Offset)
	if err := readFull(r, text[:first], int64(mdaStart+l.Offset)); err != nil {
		return nil, err
	}
	if first < l.Size {
		if err := readFull(r, text[first:], int64(mdaStart+mdaHeaderSize)); err != nil {
			return nil, err
		}
	}
	if got := lvmCRC(text); got != l.Checksum {
		return nil, fmt.Errorf("metadata text checksum %#x, computed %#x", l.Checksum, got)
	}
	return text, nil
}

func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at %d: %w", len(p), off, err)
}
