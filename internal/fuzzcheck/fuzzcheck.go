// Package fuzzcheck is what the readers' fuzz targets share: an image view
// with the fuzzer's bytes laid over a fixed valid image (no copy of the image
// per input, so a target runs thousands of inputs a second), a time and
// allocation bound per input, and a walk that checks a filesystem listing is
// self-consistent and returns it, for the "same input, same result" check.
// Test code only: nothing outside *_test.go imports it.
package fuzzcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Patch replaces Data's length of bytes at Off.
type Patch struct {
	Off  int64
	Data []byte
}

// Overlay reads Base (Size bytes; shorter or longer than Base) with Patches
// laid over it, later patches over earlier ones. Bytes past Base read as
// zeros up to Size. It never writes Base.
type Overlay struct {
	Base    []byte
	Size    int64
	Patches []Patch
}

// NewOverlay views base with patches over it, size len(base).
func NewOverlay(base []byte, patches ...Patch) *Overlay {
	return &Overlay{Base: base, Size: int64(len(base)), Patches: patches}
}

// OutOfBounds counts every ReadAt of an Overlay at a negative offset or
// one past Size: readers bound their reads by the size they were given, so
// a fuzz target fails when one asks past it.
var OutOfBounds atomic.Int64

func (o *Overlay) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		OutOfBounds.Add(1)
		return 0, fmt.Errorf("overlay: negative offset %d", off)
	}
	if off >= o.Size {
		// At the end is how a reader learns it is the end; past it, the
		// reader did not bound its offsets by the size it was given.
		if off > o.Size {
			OutOfBounds.Add(1)
		}
		return 0, io.EOF
	}
	n := len(p)
	if rest := o.Size - off; int64(n) > rest {
		n = int(rest)
	}
	q := p[:n]
	c := 0
	if off < int64(len(o.Base)) {
		c = copy(q, o.Base[off:])
	}
	clear(q[c:])
	for _, pt := range o.Patches {
		lo, hi := max(off, pt.Off), min(off+int64(n), pt.Off+int64(len(pt.Data)))
		if lo < hi {
			copy(q[lo-off:hi-off], pt.Data[lo-pt.Off:hi-pt.Off])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Bytes returns a copy of the view, for a fuzz target's one-off checks and
// regression tests (not for the per-input path).
func (o *Overlay) Bytes() []byte {
	b := make([]byte, o.Size)
	o.ReadAt(b, 0)
	return b
}

// Limits bound one fuzz input.
type Limits struct {
	Time  time.Duration // default 10 s: a hang is a bug
	Alloc uint64        // bytes allocated by the process while f runs; default 256 MiB
	// PastEnd allows reads of an Overlay past its size. They are harmless
	// (io.EOF), but a reader that bounds its own offsets never makes them;
	// the container readers hand tables to third-party code that does.
	PastEnd bool
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

func allocated() uint64 {
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64()
}

// Run runs f within the limits, failing t with every goroutine's stack when
// f does not return in time, and when f allocated more than the bound (the
// readers document bounded memory; a hostile length field must not cost
// gigabytes). runtime/metrics is read without stopping the world, so the
// check costs nothing measurable per input.
func Run(t testing.TB, lim Limits, f func()) {
	t.Helper()
	if lim.Time == 0 {
		lim.Time = 10 * time.Second
	}
	if lim.Alloc == 0 {
		lim.Alloc = 256 << 20
	}
	before := allocated()
	oob := OutOfBounds.Load()
	// A panic in f crashes the worker with its own stack, which the fuzzer
	// records as a crasher like any other.
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(lim.Time)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		buf := make([]byte, 1<<20)
		t.Fatalf("no answer within %v:\n%s", lim.Time, buf[:runtime.Stack(buf, true)])
	}
	if got := allocated() - before; got > lim.Alloc {
		t.Fatalf("one input allocated %d MiB, bound %d MiB", got>>20, lim.Alloc>>20)
	}
	if n := OutOfBounds.Load() - oob; n != 0 && !lim.PastEnd {
		t.Fatalf("%d reads outside the image", n)
	}
}

// WalkLimits bound a Walk so that a hostile tree (a million entries, a file
// claiming a terabyte) costs the fuzzer little.
type WalkLimits struct {
	Entries int   // default 2000
	Read    int64 // bytes read per file, default 64 KiB
}

// Walk lists fsys with fs.WalkDir and checks, for every entry, what any
// correct reader guarantees whatever the image holds: the entry's name is
// its path's last element, ReadDir's type agrees with Lstat's, Info agrees
// with Lstat on type and size, a regular file's size is not negative, its
// reads never return more than asked nor more than its size, and a file no
// larger than the read limit reads exactly its size when no error is
// reported. The returned listing (paths, types, sizes, a CRC of the bytes
// read, which calls failed) is what a second Walk over the same image must
// return again.
func Walk(t testing.TB, fsys fs.FS, lim WalkLimits) string {
	t.Helper()
	if lim.Entries == 0 {
		lim.Entries = 2000
	}
	if lim.Read == 0 {
		lim.Read = 64 << 10
	}
	var sb strings.Builder
	buf := make([]byte, 4096)
	n := 0
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if n++; n > lim.Entries {
			return fs.SkipAll
		}
		if err != nil {
			fmt.Fprintf(&sb, "%s: error\n", p)
			return nil
		}
		if p != "." && d.Name() != path.Base(p) {
			t.Fatalf("%q listed under the name %q", p, d.Name())
		}
		fi, err := d.Info()
		if err != nil {
			fmt.Fprintf(&sb, "%s %v: info error\n", p, d.Type())
			return nil
		}
		if p != "." {
			if lfi, err := fs.Lstat(fsys, p); err == nil {
				if lfi.Mode().Type() != fi.Mode().Type() || lfi.Size() != fi.Size() {
					t.Fatalf("%q: Info says %v %d bytes, Lstat %v %d bytes", p, fi.Mode(), fi.Size(), lfi.Mode(), lfi.Size())
				}
				if d.Type() != lfi.Mode().Type() {
					t.Fatalf("%q: ReadDir type %v, Lstat type %v", p, d.Type(), lfi.Mode().Type())
				}
			} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
				fmt.Fprintf(&sb, "%s: lstat error\n", p)
			}
		}
		fmt.Fprintf(&sb, "%s %v %d", p, fi.Mode().Type(), fi.Size())
		if d.Type().IsRegular() {
			if fi.Size() < 0 {
				t.Fatalf("%q: size %d", p, fi.Size())
			}
			got, crc, err := readSome(fsys, p, buf, lim.Read)
			switch {
			case got > fi.Size():
				t.Fatalf("%q: read %d bytes of a %d-byte file", p, got, fi.Size())
			case err == nil && fi.Size() <= lim.Read && got != fi.Size():
				t.Fatalf("%q: read %d bytes of a %d-byte file and no error", p, got, fi.Size())
			case err != nil:
				fmt.Fprintf(&sb, " read %d error", got)
			default:
				fmt.Fprintf(&sb, " read %d crc %08x", got, crc)
			}
		}
		sb.WriteByte('\n')
		return nil
	})
	return sb.String()
}

// readSome reads up to limit bytes of name; err is nil when it read limit
// bytes or met a clean EOF.
func readSome(fsys fs.FS, name string, buf []byte, limit int64) (int64, uint32, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var total int64
	var crc uint32
	for total < limit {
		want := buf[:min(int64(len(buf)), limit-total)]
		m, err := f.Read(want)
		if m < 0 || m > len(want) {
			return total, crc, fmt.Errorf("Read returned %d for a %d-byte buffer", m, len(want))
		}
		crc = crc32.Update(crc, crc32.IEEETable, want[:m])
		total += int64(m)
		if err == io.EOF {
			return total, crc, nil
		}
		if err != nil {
			return total, crc, err
		}
		if m == 0 {
			return total, crc, io.ErrNoProgress
		}
	}
	return total, crc, nil
}

// Same fails t when a second pass over the same input gave another result.
func Same(t testing.TB, what, first, second string) {
	t.Helper()
	if first != second {
		t.Fatalf("%s differs between two passes over the same input:\nfirst:\n%s\nsecond:\n%s", what, first, second)
	}
}

// FixGPT recomputes a GPT header's CRC32s in place: the entry array's (over
// the entries the header counts, when arr holds them) and the header's own
// (over its first 92 bytes, when it says that is its size), so that a
// mutated table passes the checks and its entries are decoded.
func FixGPT(hdr, arr []byte) {
	if len(hdr) < 92 {
		return
	}
	le := binary.LittleEndian
	n, size := uint64(le.Uint32(hdr[80:])), uint64(le.Uint32(hdr[84:]))
	if n*size <= uint64(len(arr)) {
		le.PutUint32(hdr[88:], crc32.ChecksumIEEE(arr[:n*size]))
	}
	le.PutUint32(hdr[16:], 0)
	if le.Uint32(hdr[12:]) == 92 {
		le.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr[:92]))
	}
}

// GPTPatches lays header and entries over the primary GPT of disk
// (512-byte sectors: header in LBA 1, a 128-entry array from LBA 2), the
// rest of each structure kept from disk, with FixGPT applied when fixCRC
// is set.
func GPTPatches(disk, header, entries []byte, fixCRC bool) []Patch {
	hdr := bytes.Clone(disk[512 : 512+92])
	copy(hdr, header)
	arr := bytes.Clone(disk[1024 : 1024+128*128])
	copy(arr, entries)
	if fixCRC {
		FixGPT(hdr, arr)
	}
	return []Patch{{Off: 512, Data: hdr}, {Off: 1024, Data: arr}}
}
