package hivelog

import (
	"encoding/binary"
	"fmt"
	"io"
)

const entryHeaderSize = 40

// page is one dirty page of a log entry, at an absolute hive offset.
type page struct {
	off  int64
	data []byte
}

// entry is one verified HvLE log entry.
type entry struct {
	logOff int64
	size   uint32
	seq    uint32
	flags  uint32
	hbins  uint32
	pages  []page
}

// readEntry reads and verifies the log entry at off. end is true where no
// entry starts (the log's unused tail). On a bad entry, e.seq is still the
// header's number when the header could be read, so the caller can tell a
// stale remnant from a torn newest entry.
func readEntry(r io.ReaderAt, logSize, off int64, maxHbins uint32) (e entry, end bool, err error) {
	var hdr [entryHeaderSize]byte
	if off+entryHeaderSize > logSize {
		return e, true, nil
	}
	if _, err := r.ReadAt(hdr[:], off); err != nil {
		return e, false, fmt.Errorf("reading entry header: %w", err)
	}
	if string(hdr[:4]) != "HvLE" {
		return e, true, nil
	}
	le := binary.LittleEndian
	e = entry{logOff: off, size: le.Uint32(hdr[4:]), flags: le.Uint32(hdr[8:]), seq: le.Uint32(hdr[12:]), hbins: le.Uint32(hdr[16:])}
	count := le.Uint32(hdr[20:])
	switch {
	case e.size < entryHeaderSize || e.size%sector != 0:
		return e, false, fmt.Errorf("size %d is not a positive multiple of 512", e.size)
	case int64(e.size) > logSize-off:
		return e, false, fmt.Errorf("claims %d bytes, only %d left in the log", e.size, logSize-off)
	case e.hbins == 0 || e.hbins%binAlign != 0:
		return e, false, fmt.Errorf("hive bins data size %d is not a positive multiple of 4096", e.hbins)
	case e.hbins > maxHbins:
		return e, false, fmt.Errorf("hive bins data size %d exceeds the %d-byte cap", e.hbins, maxHbins)
	case uint64(count)*8 > uint64(e.size-entryHeaderSize):
		return e, false, fmt.Errorf("%d dirty page references do not fit in %d bytes", count, e.size)
	}
	buf := make([]byte, e.size)
	if _, err := r.ReadAt(buf, off); err != nil {
		return e, false, fmt.Errorf("reading %d bytes: %w", e.size, err)
	}
	// Hash-2 covers the header including Hash-1, so it is checked first:
	// it is cheap and catches a torn header before 1 MiB is hashed.
	if h := Marvin32(buf[:32], MarvinSeed); h != le.Uint64(buf[32:]) {
		return e, false, fmt.Errorf("bad hash-2 %#x (computed %#x)", le.Uint64(buf[32:]), h)
	}
	if h := Marvin32(buf[entryHeaderSize:], MarvinSeed); h != le.Uint64(buf[24:]) {
		return e, false, fmt.Errorf("bad hash-1 %#x (computed %#x)", le.Uint64(buf[24:]), h)
	}
	pos := uint64(entryHeaderSize) + uint64(count)*8
	e.pages = make([]page, 0, count)
	for i := uint32(0); i < count; i++ {
		ref := buf[entryHeaderSize+8*i:]
		po, ps := uint64(le.Uint32(ref)), uint64(le.Uint32(ref[4:]))
		switch {
		case ps == 0 || ps%sector != 0 || po%sector != 0:
			return e, false, fmt.Errorf("dirty page %d at %#x size %d is not sector-aligned", i, po, ps)
		case po+ps > uint64(e.hbins):
			return e, false, fmt.Errorf("dirty page %d at %#x size %d lies beyond the hive bins data (%d bytes)", i, po, ps, e.hbins)
		case pos+ps > uint64(e.size):
			return e, false, fmt.Errorf("dirty page %d (%d bytes) runs past the entry's end", i, ps)
		}
		e.pages = append(e.pages, page{off: BaseBlockSize + int64(po), data: buf[pos : pos+ps]})
		pos += ps
	}
	return e, false, nil
}

// newLog is one new-format log's verified run of entries, numbered
// consecutively from its first.
type newLog struct {
	name    string
	base    BaseBlock
	header  []byte // the log's base block sector
	entries []entry
	warn    string // why reading stopped early, when that may lose data
}

// readEntries collects consecutive valid entries from the second sector on.
// It stops, as Windows does, at the first entry that is invalid or does not
// continue the numbering. A lower number there is an older entry left over
// from before the log was rewritten (normal); a bad entry carrying the next
// number, or a jump forward, is a lost write and gets a warning.
func readEntries(l Log, maxHbins uint32) (entries []entry, warn string) {
	off := int64(logHeaderSize)
	for off < l.Size {
		e, end, err := readEntry(l.R, l.Size, off, maxHbins)
		if end {
			break
		}
		if err != nil {
			if len(entries) == 0 || e.seq == entries[len(entries)-1].seq+1 {
				warn = fmt.Sprintf("%s: log entry at offset %#x (sequence %d): %v", l.Name, off, e.seq, err)
				if len(entries) > 0 {
					warn += fmt.Sprintf("; recovery stopped after sequence %d", entries[len(entries)-1].seq)
				}
			}
			break
		}
		if n := len(entries); n > 0 && e.seq != entries[n-1].seq+1 {
			if !seqBefore(e.seq, entries[n-1].seq) {
				warn = fmt.Sprintf("%s: sequence %d follows %d at offset %#x (entries missing); recovery stopped after %d", l.Name, e.seq, entries[n-1].seq, off, entries[n-1].seq)
			}
			break
		}
		entries = append(entries, e)
		off += int64(e.size)
	}
	return entries, warn
}
