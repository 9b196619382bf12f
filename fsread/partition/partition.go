// Package partition reads a disk's partition table: GPT and the MBR's
// primary entries through go-diskfs, the MBR's extended-partition chain
// (which go-diskfs does not follow) here.
package partition

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

// Partition is one entry of a table, in bytes.
type Partition struct {
	Index    int    // 1-based, as Linux numbers them (logical partitions from 5)
	Start    int64  // byte offset on the disk
	Size     int64  // bytes
	Type     string // GPT type GUID, or MBR id as "0x83"
	TypeName string // human name when known
	Name     string // GPT partition name
	GUID     string // GPT unique partition GUID
	// Clipped: the partition runs past the end of the image, which holds
	// only its head (Size is what the image holds).
	Clipped bool
}

// Table is a disk's partition table.
type Table struct {
	Scheme     string // "gpt", "mbr", or "" when the disk has none
	SectorSize int
	DiskGUID   string
	Partitions []Partition
	// Warnings are oddities that did not stop reading (backup GPT used,
	// entries past the end of the disk, a looping extended chain).
	Warnings []string
}

// ErrNoTable means no partition table was found; the disk may be a bare
// filesystem.
var ErrNoTable = errors.New("no partition table")

// maxLogical bounds the extended-partition chain: a crafted image can make
// it loop.
const maxLogical = 128

// Read finds the partition table of the disk in r (size bytes).
func Read(r io.ReaderAt, size int64) (*Table, error) {
	for _, ss := range []int{512, 4096} {
		if t, err := readGPT(r, size, ss); err == nil {
			return t, nil
		}
	}
	return readMBR(r, size)
}

func readGPT(r io.ReaderAt, size int64, ss int) (t *Table, err error) {
	hdr := make([]byte, 92)
	if n, _ := r.ReadAt(hdr, int64(ss)); n != len(hdr) || string(hdr[:8]) != "EFI PART" {
		return nil, ErrNoTable
	}
	// go-diskfs allocates entries × entry size as the header says, before
	// any check: a crafted header would exhaust memory, which no recover
	// catches. The UEFI spec's array is 16 KiB; allow 1 MiB.
	entries, entrySize := uint64(le32(hdr[80:])), uint64(le32(hdr[84:]))
	if entrySize < 128 || entrySize > 4096 || entries*entrySize > 1<<20 || int64(entries*entrySize) > size {
		return nil, fmt.Errorf("GPT: header claims %d entries of %d bytes: not a plausible partition array", entries, entrySize)
	}
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("corrupt GPT: %v", p)
		}
	}()
	g, err := gpt.Read(newFile(r, size), ss, ss)
	if err != nil {
		return nil, fmt.Errorf("GPT: %w", err)
	}
	t = &Table{Scheme: "gpt", SectorSize: ss, DiskGUID: strings.ToLower(g.GUID)}
	if g.RecoveredFromBackup {
		t.Warnings = append(t.Warnings, "primary GPT header invalid: partitions read from the backup GPT")
	}
	for _, p := range g.Partitions {
		if p.Type == gpt.Unused {
			continue
		}
		if p.End < p.Start || p.Start > uint64(size) || p.End > uint64(size) {
			t.Warnings = append(t.Warnings, fmt.Sprintf("partition %d has an impossible extent (sectors %d-%d on a disk of %d bytes)", p.Index, p.Start, p.End, size))
			if p.End < p.Start || p.Start > uint64(size) {
				continue
			}
		}
		typ := strings.ToUpper(string(p.Type))
		part := Partition{
			Index: p.Index, Start: int64(p.Start) * int64(ss), Size: int64(p.End-p.Start+1) * int64(ss),
			Type: typ, TypeName: gptTypeNames[typ], Name: p.Name, GUID: strings.ToLower(p.GUID),
		}
		t.add(part, size)
	}
	return t, nil
}

func readMBR(r io.ReaderAt, size int64) (t *Table, err error) {
	b := make([]byte, 512)
	if n, _ := r.ReadAt(b, 0); n != 512 || b[510] != 0x55 || b[511] != 0xAA {
		return nil, ErrNoTable
	}
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("corrupt MBR: %v", p)
		}
	}()
	m, err := mbr.Read(newFile(r, size), 512, 512)
	if err != nil {
		return nil, fmt.Errorf("MBR: %w", err)
	}
	t = &Table{Scheme: "mbr", SectorSize: 512}
	for i, p := range m.Partitions {
		if p.Type == mbr.Empty || p.Size == 0 {
			continue
		}
		// A partition entry must have a status byte of 0x00 or 0x80; anything
		// else means these 64 bytes are not a partition table (boot code, or
		// a filesystem's boot sector).
		if s := b[446+16*i]; s != 0 && s != 0x80 {
			return nil, ErrNoTable
		}
		part := Partition{
			Index: i + 1, Start: int64(p.Start) * 512, Size: int64(p.Size) * 512,
			Type: fmt.Sprintf("0x%02x", byte(p.Type)), TypeName: mbrTypeNames[byte(p.Type)],
		}
		if isExtended(byte(p.Type)) {
			t.readLogical(r, size, part.Start)
			continue
		}
		t.add(part, size)
	}
	if len(t.Partitions) == 0 && len(t.Warnings) == 0 {
		return nil, ErrNoTable
	}
	return t, nil
}

func isExtended(typ byte) bool { return typ == 0x05 || typ == 0x0f || typ == 0x85 }

// readLogical follows the EBR chain: each EBR holds one logical partition
// (relative to that EBR) and a link to the next EBR (relative to the start
// of the extended partition).
func (t *Table) readLogical(r io.ReaderAt, size, extStart int64) {
	seen := map[int64]bool{}
	ebr := extStart
	for idx := 5; idx < 5+maxLogical; idx++ {
		if seen[ebr] {
			t.Warnings = append(t.Warnings, fmt.Sprintf("extended partition chain loops at byte %d", ebr))
			return
		}
		seen[ebr] = true
		b := make([]byte, 512)
		if n, _ := r.ReadAt(b, ebr); n != 512 || b[510] != 0x55 || b[511] != 0xAA {
			t.Warnings = append(t.Warnings, fmt.Sprintf("extended boot record at byte %d unreadable or unsigned", ebr))
			return
		}
		e1, e2 := b[446:462], b[462:478]
		if typ := e1[4]; typ != 0 {
			start := ebr + int64(le32(e1[8:]))*512
			t.add(Partition{
				Index: idx, Start: start, Size: int64(le32(e1[12:])) * 512,
				Type: fmt.Sprintf("0x%02x", typ), TypeName: mbrTypeNames[typ],
			}, size)
		}
		if !isExtended(e2[4]) || le32(e2[8:]) == 0 {
			return
		}
		ebr = extStart + int64(le32(e2[8:]))*512
	}
	t.Warnings = append(t.Warnings, fmt.Sprintf("more than %d logical partitions; the rest were not read", maxLogical))
}

// add keeps a partition, clipping one that runs past the end of the image
// (a truncated image) and saying so.
func (t *Table) add(p Partition, disk int64) {
	switch {
	case p.Start < 0 || p.Size < 0:
		t.Warnings = append(t.Warnings, fmt.Sprintf("partition %d has an impossible extent (start %d, size %d): ignored", p.Index, p.Start, p.Size))
		return
	case p.Start >= disk:
		t.Warnings = append(t.Warnings, fmt.Sprintf("partition %d starts at byte %d, past the end of the image (%d bytes): truncated image?", p.Index, p.Start, disk))
		p.Size, p.Clipped = 0, true
	case p.Start+p.Size > disk:
		t.Warnings = append(t.Warnings, fmt.Sprintf("partition %d ends past the end of the image by %d bytes: truncated image?", p.Index, p.Start+p.Size-disk))
		p.Size, p.Clipped = disk-p.Start, true
	}
	t.Partitions = append(t.Partitions, p)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// file adapts an io.ReaderAt to the backend.File go-diskfs reads through.
// It has no WriteAt: go-diskfs cannot write through it even by mistake.
type file struct {
	r    io.ReaderAt
	size int64
	off  int64
}

func newFile(r io.ReaderAt, size int64) *file { return &file{r: r, size: size} }

func (f *file) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }
func (f *file) Read(p []byte) (int, error) {
	n, err := f.r.ReadAt(p, f.off)
	f.off += int64(n)
	return n, err
}
func (f *file) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		off += f.size
	}
	if off < 0 {
		return 0, fs.ErrInvalid
	}
	f.off = off
	return off, nil
}
func (f *file) Close() error               { return nil }
func (f *file) Stat() (fs.FileInfo, error) { return fileInfo{f.size}, nil }

type fileInfo struct{ size int64 }

func (i fileInfo) Name() string       { return "disk" }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
