// Package container maps a virtual-disk container file (QCOW2, VHD, VHDX,
// VMDK) to the virtual disk it holds, as a read-only io.ReaderAt that is safe
// for concurrent use. The container is recognised by its own header, never by
// the file name: exported snapshots are often renamed. Nothing here writes,
// and nothing here opens another file unless Options.FollowBacking asks.
package container

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
)

// Disk is the virtual disk inside a container.
type Disk struct {
	Format   string // "raw", "qcow2", "vhdx", "vhd (fixed)", "vhd (dynamic)", "vmdk (monolithicSparse)", ...
	Size     int64  // virtual disk size in bytes
	ReaderAt io.ReaderAt
	// Notes are facts an examiner should know about the container (backing
	// file not followed, dirty log not replayed); they do not stop a scan.
	Notes []string
}

// Options control how far Open goes beyond the one file it is given.
type Options struct {
	// FollowBacking opens backing files named inside a QCOW2 image. Off by
	// default: the name comes from untrusted content and may point anywhere
	// on the examiner's machine.
	FollowBacking bool
}

// UnsupportedError names a recognised container this package cannot read.
type UnsupportedError struct {
	Format string
	Detail string
}

func (e *UnsupportedError) Error() string {
	if e.Detail == "" {
		return e.Format + " is not supported"
	}
	return e.Format + " is not supported: " + e.Detail
}

// ErrInternal marks a panic caught at the package boundary: a bug here, not
// a property of the image. Fuzz tests fail on it.
var ErrInternal = errors.New("internal error in container reader")

// Open detects the container in r (size bytes) by its own header and returns
// the virtual disk. A file with no container header is raw and returned as
// is. Recognised formats this package cannot read return an
// *UnsupportedError that names the format.
func Open(r io.ReaderAt, size int64, opts Options) (d *Disk, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%w: %v\n%s", ErrInternal, p, debug.Stack())
		}
	}()
	if size < 0 {
		return nil, fmt.Errorf("negative file size %d", size)
	}
	f := &file{r: r, size: size}
	switch {
	case f.has(0, "QFI\xfb"):
		d, err = openQCOW2(f, opts)
	case f.has(0, "vhdxfile"):
		d, err = openVHDX(f)
	case f.has(0, "KDMV"):
		d, err = openVMDK(f)
	case f.has(0, "COWD"):
		return nil, &UnsupportedError{"vmdk (ESX COWD sparse extent)", "convert it first"}
	case f.has(0, "# Disk DescriptorFile"):
		return nil, vmdkDescriptorOnly(f)
	case f.has(size-512, "conectix"), f.has(0, "conectix"):
		d, err = openVHD(f)
	case f.has(64, "\x7f\x10\xda\xbe"):
		return nil, &UnsupportedError{"vdi (VirtualBox)", "convert it first"}
	case f.has(0, "EVF\x09\x0d\x0a\xff\x00"):
		return nil, &UnsupportedError{"ewf (E01)", "EnCase evidence files are not read by this version"}
	case f.has(0, "EVF2\x0d\x0a\x81\x00"):
		return nil, &UnsupportedError{"ewf2 (Ex01)", "EnCase evidence files are not read by this version"}
	case f.has(0, "WithoutFreeSpace"), f.has(0, "WithouFreSpacExt"):
		return nil, &UnsupportedError{"parallels", "convert it first"}
	default:
		return &Disk{Format: "raw", Size: size, ReaderAt: r}, nil
	}
	if err != nil {
		return nil, err
	}
	d.ReaderAt = &guarded{r: d.ReaderAt, size: d.Size, format: d.Format}
	return d, nil
}

// file is the container file with bounds-checked helpers.
type file struct {
	r    io.ReaderAt
	size int64
}

func (f *file) has(off int64, magic string) bool {
	if off < 0 || off+int64(len(magic)) > f.size {
		return false
	}
	b := make([]byte, len(magic))
	n, _ := f.r.ReadAt(b, off)
	return n == len(b) && bytes.Equal(b, []byte(magic))
}

// read returns n bytes at off, or an error naming what was being read when
// that range is not inside the file. n is bounded by the file size, so a
// hostile length cannot make it allocate more than the file holds.
func (f *file) read(what string, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || n > f.size || off > f.size-n {
		return nil, fmt.Errorf("%s at offset %d (%d bytes) lies outside the file (%d bytes): truncated or corrupt", what, off, n, f.size)
	}
	b := make([]byte, n)
	if m, err := f.r.ReadAt(b, off); m != len(b) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %s at offset %d: %w", what, off, err)
	}
	return b, nil
}

// guarded is every Disk's ReaderAt: it enforces the virtual size, turns a
// panic in a reader into an error, and makes short reads report io.EOF only
// at the end of the disk, as io.ReaderAt requires.
type guarded struct {
	r      io.ReaderAt
	size   int64
	format string
}

func (g *guarded) ReadAt(p []byte, off int64) (n int, err error) {
	defer func() {
		if x := recover(); x != nil {
			n, err = 0, fmt.Errorf("%s: %w at offset %d: %v", g.format, ErrInternal, off, x)
		}
	}()
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", g.format, off)
	}
	if off >= g.size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > g.size-off {
		want = p[:g.size-off]
	}
	for n < len(want) {
		m, err := g.r.ReadAt(want[n:], off+int64(n))
		if m < 0 || m > len(want)-n {
			return n, fmt.Errorf("%s: reader returned %d bytes for %d", g.format, m, len(want)-n)
		}
		n += m
		if n == len(want) {
			break
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if m > 0 {
					// Some readers stop at a cluster's end with io.EOF.
					continue
				}
				// The virtual disk is not over, so the container ran out.
				return n, fmt.Errorf("%s: container data ends before virtual offset %d (%v): %w", g.format, off+int64(n), err, io.ErrUnexpectedEOF)
			}
			return n, fmt.Errorf("%s at virtual offset %d: %w", g.format, off+int64(n), err)
		}
		if m == 0 {
			return n, fmt.Errorf("%s: no progress reading at virtual offset %d", g.format, off+int64(n))
		}
	}
	if len(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readFull reads exactly len(p) bytes of the container at off, for readers
// that map virtual ranges to file ranges: a range past the end of the file is
// corruption, reported with where it was pointed from.
func (f *file) readFull(p []byte, off int64, what string) error {
	if off < 0 || off > f.size || int64(len(p)) > f.size-off {
		return fmt.Errorf("%s points to offset %d (%d bytes), outside the file (%d bytes): truncated or corrupt", what, off, len(p), f.size)
	}
	n, err := f.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s at offset %d: %w", what, off, err)
}

func zero(p []byte) {
	for i := range p {
		p[i] = 0
	}
}
