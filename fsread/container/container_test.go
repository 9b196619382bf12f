package container

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
	"github.com/snapscan/snapscan/internal/testimg"
)

// openFile opens a container file through Open, as the image layer does.
func openFile(t *testing.T, path string, opts Options) (*Disk, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return Open(f, st.Size(), opts)
}

// sameAsRaw checks the virtual disk against a raw file byte for byte:
// sequentially in 1 MiB blocks, then from 8 goroutines at random offsets
// and lengths (run under -race this also checks the reader shares no
// unguarded state).
func sameAsRaw(t *testing.T, d *Disk, rawPath string) {
	t.Helper()
	want, err := os.ReadFile(rawPath)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != int64(len(want)) {
		t.Fatalf("%s: virtual size %d, raw image has %d bytes", d.Format, d.Size, len(want))
	}
	got := make([]byte, 1<<20)
	for off := int64(0); off < d.Size; off += 1 << 20 {
		n := min(int64(len(got)), d.Size-off)
		m, err := d.ReaderAt.ReadAt(got[:n], off)
		if int64(m) != n || (err != nil && !(errors.Is(err, io.EOF) && off+n == d.Size)) {
			t.Fatalf("%s: ReadAt(%d bytes at %d) = %d, %v", d.Format, n, off, m, err)
		}
		if i := firstDiff(got[:n], want[off:off+n]); i >= 0 {
			t.Fatalf("%s: first differing byte at offset %d: got %#02x, want %#02x", d.Format, off+int64(i), got[i], want[off+int64(i)])
		}
	}
	// Past the end: nothing, and io.EOF.
	if n, err := d.ReaderAt.ReadAt(make([]byte, 1), d.Size); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("%s: ReadAt at the end = %d, %v; want 0, io.EOF", d.Format, n, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			buf := make([]byte, 128<<10)
			for i := 0; i < 100; i++ {
				off := rng.Int63n(d.Size)
				n := min(int64(1+rng.Intn(len(buf))), d.Size-off)
				m, err := d.ReaderAt.ReadAt(buf[:n], off)
				if int64(m) != n || (err != nil && !errors.Is(err, io.EOF)) {
					errs <- fmt.Errorf("ReadAt(%d at %d) = %d, %v", n, off, m, err)
					return
				}
				if j := firstDiff(buf[:n], want[off:off+n]); j >= 0 {
					errs <- fmt.Errorf("parallel read of %d at %d: first differing byte at offset %d", n, off, off+int64(j))
					return
				}
			}
		}(int64(w))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%s: %v", d.Format, err)
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func needQemuImg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed: cannot make or cross-check containers")
	}
	return p
}

func qemuImg(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(needQemuImg(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The committed containers are qemu-img conversions of gpt-efi-ext4.img.
func TestCommittedContainersEqualRaw(t *testing.T) {
	raw := testimg.Path(t, "gpt-efi-ext4.img")
	for _, tc := range []struct{ name, format string }{
		{"disk.qcow2", "qcow2"},
		{"disk.vhdx", "vhdx"},
		{"disk.vpc", "vhd (dynamic)"},
		{"disk.vmdk", "vmdk (monolithicSparse)"},
		{"disk-stream.vmdk", "vmdk (streamOptimized)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := openFile(t, testimg.Path(t, tc.name), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Format != tc.format {
				t.Errorf("format %q, want %q", d.Format, tc.format)
			}
			sameAsRaw(t, d, raw)
		})
	}
}

// Containers made here by qemu-img from the raw test disk, in the variants
// the committed ones do not cover.
func TestGeneratedContainersEqualRaw(t *testing.T) {
	needQemuImg(t)
	raw := testimg.Path(t, "gpt-efi-ext4.img")
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		format string
		note   string
	}{
		{"v2.qcow2", []string{"-O", "qcow2", "-o", "compat=0.10"}, "qcow2", ""},
		{"zlib.qcow2", []string{"-c", "-O", "qcow2"}, "qcow2", ""},
		{"zstd.qcow2", []string{"-c", "-O", "qcow2", "-o", "compression_type=zstd"}, "qcow2", ""},
		{"small-cluster.qcow2", []string{"-O", "qcow2", "-o", "cluster_size=512"}, "qcow2", ""},
		{"fixed.vhd", []string{"-O", "vpc", "-o", "subformat=fixed,force_size=on"}, "vhd (fixed)", ""},
		{"dynamic.vhd", []string{"-O", "vpc", "-o", "subformat=dynamic,force_size=on"}, "vhd (dynamic)", ""},
		{"fixed.vhdx", []string{"-O", "vhdx", "-o", "subformat=fixed"}, "vhdx", ""},
		{"dynamic.vhdx", []string{"-O", "vhdx"}, "vhdx", ""},
		{"stream.vmdk", []string{"-O", "vmdk", "-o", "subformat=streamOptimized"}, "vmdk (streamOptimized)", ""},
		{"sparse.vmdk", []string{"-O", "vmdk", "-o", "subformat=monolithicSparse,compat6"}, "vmdk (monolithicSparse)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			qemuImg(t, append(append([]string{"convert", "-f", "raw"}, tc.args...), raw, out)...)
			d, err := openFile(t, out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Format != tc.format {
				t.Errorf("format %q, want %q", d.Format, tc.format)
			}
			if len(d.Notes) != 0 {
				t.Errorf("unexpected notes: %q", d.Notes)
			}
			sameAsRaw(t, d, raw)
		})
	}
}

// A qcow2 overlay names its backing file; the reader reports it and reads
// only what the overlay holds unless told to follow.
func TestQCOW2BackingFileNotFollowed(t *testing.T) {
	needQemuImg(t)
	raw := testimg.Path(t, "gpt-efi-ext4.img")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	overlay := filepath.Join(dir, "overlay.qcow2")
	qemuImg(t, "convert", "-f", "raw", "-O", "qcow2", raw, base)
	qemuImg(t, "create", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay)
	d, err := openFile(t, overlay, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "not followed") || !strings.Contains(d.Notes[0], base) {
		t.Errorf("notes %q, want one saying backing file %s is not followed", d.Notes, base)
	}
	// Nothing allocated in the overlay: the disk reads as zeros, not as
	// the base's GPT.
	b := make([]byte, 4096)
	if _, err := d.ReaderAt.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, make([]byte, len(b))) {
		t.Error("unfollowed backing file was read anyway: first 4 KiB are not zeros")
	}

	// Followed on request, the chain reads as the raw image.
	d, err = openFile(t, overlay, Options{FollowBacking: true})
	if err != nil {
		t.Fatal(err)
	}
	sameAsRaw(t, d, raw)
}

// A backing chain that names itself must end in an error, not recursion.
func TestQCOW2BackingLoop(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.qcow2")
	b := filepath.Join(dir, "b.qcow2")
	qemuImg(t, "create", "-f", "qcow2", a, "1M")
	qemuImg(t, "create", "-f", "qcow2", "-F", "qcow2", "-b", a, b, "1M")
	// Point a at b without qemu-img checking the chain.
	qemuImg(t, "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", b, a)
	_, err := openFile(t, b, Options{FollowBacking: true})
	if err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("Open of a backing loop = %v, want an error naming the loop", err)
	}
	d, err := openFile(t, b, Options{})
	if err != nil {
		t.Fatalf("not following, the loop does not matter: %v", err)
	}
	if len(d.Notes) == 0 {
		t.Error("backing file not reported")
	}
}

func TestRawIsReturnedAsIs(t *testing.T) {
	raw := testimg.Path(t, "gpt-efi-ext4.img")
	d, err := openFile(t, raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != "raw" {
		t.Fatalf("format %q, want raw", d.Format)
	}
	if _, ok := d.ReaderAt.(*os.File); !ok {
		t.Errorf("raw disk is %T, want the file itself", d.ReaderAt)
	}
}

func TestUnsupportedFormatsAreNamed(t *testing.T) {
	pad := func(off int, magic string) []byte {
		b := make([]byte, 4096)
		copy(b[off:], magic)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"E01", pad(0, "EVF\x09\x0d\x0a\xff\x00"), "E01"},
		{"Ex01", pad(0, "EVF2\x0d\x0a\x81\x00"), "Ex01"},
		{"VDI", pad(64, "\x7f\x10\xda\xbe"), "vdi"},
		{"descriptor", []byte("# Disk DescriptorFile\nversion=1\ncreateType=\"twoGbMaxExtentSparse\"\nRW 4192256 SPARSE \"d-s001.vmdk\"\nRW 4192256 SPARSE \"d-s002.vmdk\"\n"), "d-s001.vmdk"},
		{"flat", []byte("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"d-flat.vmdk\" 0\n"), "monolithicFlat"},
		{"COWD", pad(0, "COWD"), "COWD"},
		{"qcow1", append([]byte("QFI\xfb\x00\x00\x00\x01"), make([]byte, 100)...), "version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), Options{})
			var u *UnsupportedError
			if !errors.As(err, &u) {
				t.Fatalf("Open = %v, want an UnsupportedError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "not supported") {
				t.Errorf("error %q does not name %q and say it is not supported", err, tc.want)
			}
		})
	}
}

// openAndRead opens a container and reads (up to 1 MiB of) its disk, with a
// deadline: corrupt input must end in an error, never a hang or a panic.
func openAndRead(t *testing.T, r io.ReaderAt, size int64) (*Disk, error) {
	t.Helper()
	type result struct {
		d   *Disk
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := Open(r, size, Options{})
		if err != nil {
			done <- result{nil, err}
			return
		}
		buf := make([]byte, 64<<10)
		for off := int64(0); off < min(d.Size, 1<<20); off += int64(len(buf)) {
			if _, err := d.ReaderAt.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
				done <- result{d, err}
				return
			}
		}
		done <- result{d, nil}
	}()
	select {
	case res := <-done:
		if errors.Is(res.err, ErrInternal) {
			t.Fatalf("panic inside the reader: %v", res.err)
		}
		return res.d, res.err
	case <-time.After(10 * time.Second):
		t.Fatal("no result after 10 s: the reader hangs")
		return nil, nil
	}
}

type corruption struct {
	name   string
	mutate func([]byte) []byte // on a copy of the built file
	want   string              // in the Open or read error; "" = must read fine
	note   string              // in a Note (when want is "")
}

func checkCorruptions(t *testing.T, file []byte, cases []corruption) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(bytes.Clone(file))
			d, err := openAndRead(t, bytes.NewReader(b), int64(len(b)))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("error %v, want a readable disk", err)
				}
				if tc.note != "" && !strings.Contains(strings.Join(d.Notes, "\n"), tc.note) {
					t.Errorf("notes %q do not say %q", d.Notes, tc.note)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// fuzzOpen is every fuzz target's body. Whatever the bytes: no panic
// (ErrInternal) or hang, allocation bounded, the same disk (format, size, notes) or error from two Opens, a size
// that is not negative, and reads at the start, middle and end of the
// disk that return what was asked up to the disk's end or an error, never
// more, and the same bytes when read again.
func fuzzOpen(t *testing.T, r io.ReaderAt, size int64) {
	var first, second string
	// Reads past the end of the file are allowed: go-qcow2reader and the
	// block readers read a table or block whose offset a header names and
	// report the short read as an error, which is what Open returns.
	fuzzcheck.Run(t, fuzzcheck.Limits{PastEnd: true}, func() {
		first = openPass(t, r, size)
		second = openPass(t, r, size)
	})
	fuzzcheck.Same(t, "disk", first, second)
}

func openPass(t *testing.T, r io.ReaderAt, size int64) string {
	d, err := Open(r, size, Options{})
	if errors.Is(err, ErrInternal) {
		t.Fatal(err)
	}
	if err != nil {
		return "error: " + err.Error()
	}
	if d.Size < 0 {
		t.Fatalf("negative size %d", d.Size)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %d %q\n", d.Format, d.Size, d.Notes)
	buf, again := make([]byte, 4096), make([]byte, 4096)
	for _, off := range []int64{0, 4096, d.Size / 2, d.Size - 4096, d.Size - 1, d.Size} {
		if off < 0 || off > d.Size {
			continue
		}
		n, err := d.ReaderAt.ReadAt(buf, off)
		if errors.Is(err, ErrInternal) {
			t.Fatal(err)
		}
		want := int(min(int64(len(buf)), d.Size-off))
		switch {
		case n < 0 || n > want:
			t.Fatalf("%d bytes at %d of a %d-byte disk", n, off, d.Size)
		case n < len(buf) && err == nil:
			t.Fatalf("short read of %d bytes at %d without an error", n, off)
		}
		if m, err2 := d.ReaderAt.ReadAt(again, off); m != n || (err == nil) != (err2 == nil) || !bytes.Equal(buf[:n], again[:m]) {
			t.Fatalf("two reads at %d differ: %d bytes (%v), then %d (%v)", off, n, err, m, err2)
		}
		fmt.Fprintf(&sb, "%d:%d:%08x:%v ", off, n, crc32.ChecksumIEEE(buf[:n]), err != nil)
	}
	return sb.String()
}

// BenchmarkSequentialRead reads each committed container's whole disk in
// 1 MiB blocks (the raw image as the baseline).
func BenchmarkSequentialRead(b *testing.B) {
	for _, name := range []string{"gpt-efi-ext4.img", "disk.qcow2", "disk.vhdx", "disk.vpc", "disk.vmdk", "disk-stream.vmdk"} {
		b.Run(name, func(b *testing.B) {
			f, err := os.Open(testimg.Path(b, name))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			d, err := Open(f, st.Size(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 1<<20)
			b.SetBytes(d.Size)
			for b.Loop() {
				for off := int64(0); off < d.Size; off += int64(len(buf)) {
					if _, err := d.ReaderAt.ReadAt(buf[:min(int64(len(buf)), d.Size-off)], off); err != nil && !errors.Is(err, io.EOF) {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
