package fuzzcheck

import (
	"bytes"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestOverlayReadAt(t *testing.T) {
	base := []byte("0123456789")
	o := &Overlay{Base: base, Size: 12, Patches: []Patch{{Off: 2, Data: []byte("ab")}, {Off: 3, Data: []byte("XYZ")}, {Off: 11, Data: []byte("!?")}}}
	tests := []struct {
		off     int64
		n       int
		want    string
		wantErr error
		oob     int64
	}{
		{0, 4, "01aX", nil, 0},
		{3, 4, "XYZ6", nil, 0},
		{8, 4, "89\x00!", nil, 0}, // past Base reads zeros; a patch past Size is cut
		{10, 4, "\x00!", io.EOF, 0},
		{12, 4, "", io.EOF, 0}, // at the end: how a reader learns it is the end
		{13, 1, "", io.EOF, 1}, // past it: counted
		{-1, 1, "", nil, 1},
	}
	for _, tc := range tests {
		before := OutOfBounds.Load()
		p := make([]byte, tc.n)
		n, err := o.ReadAt(p, tc.off)
		if got := string(p[:n]); got != tc.want || (tc.wantErr != nil && err != tc.wantErr) || (tc.wantErr == nil && tc.off >= 0 && err != nil) {
			t.Errorf("ReadAt(%d, %d) = %q, %v; want %q, %v", tc.n, tc.off, got, err, tc.want, tc.wantErr)
		}
		if d := OutOfBounds.Load() - before; d != tc.oob {
			t.Errorf("ReadAt(%d, %d): %d reads counted out of bounds, want %d", tc.n, tc.off, d, tc.oob)
		}
	}
	if !bytes.Equal(base, []byte("0123456789")) {
		t.Errorf("the base was written: %q", base)
	}
	if got := string(o.Bytes()); got != "01aXYZ6789\x00!" {
		t.Errorf("Bytes() = %q", got)
	}
}

// liar is an FS whose Stat disagrees with its directory listing on size.
type liar struct{ fstest.MapFS }

func (l liar) Lstat(name string) (fs.FileInfo, error) {
	fi, err := fs.Stat(l.MapFS, name)
	if err != nil || fi.IsDir() {
		return fi, err
	}
	return bigger{fi}, nil
}

type bigger struct{ fs.FileInfo }

func (b bigger) Size() int64 { return b.FileInfo.Size() + 1 }

func (l liar) ReadLink(name string) (string, error) { return "", fs.ErrInvalid }

func TestWalk(t *testing.T) {
	good := fstest.MapFS{"a/b.txt": {Data: []byte("hello")}, "c": {Data: bytes.Repeat([]byte("x"), 100)}}
	listing := Walk(t, good, WalkLimits{Read: 64})
	for _, want := range []string{"a/b.txt ---------- 5 read 5 crc", "c ---------- 100 read 64 crc"} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %q:\n%s", want, listing)
		}
	}
	if again := Walk(t, good, WalkLimits{Read: 64}); again != listing {
		t.Errorf("two walks of the same FS differ:\n%s\n%s", listing, again)
	}
	// A check that cannot fail is no check: run Walk against a lying FS in
	// a sub-test whose failure is the expected outcome.
	ft := &fakeT{TB: t}
	func() {
		defer func() { recover() }()
		Walk(ft, liar{good}, WalkLimits{})
	}()
	if !ft.failed || !strings.Contains(ft.msg, "Lstat") {
		t.Errorf("Walk accepted an FS whose Lstat disagrees with its listing (%q)", ft.msg)
	}
}

// fakeT records a Fatalf instead of ending the test.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = format
	panic("fatal")
}
