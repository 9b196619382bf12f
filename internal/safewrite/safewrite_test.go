package safewrite

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDestinations is the table of destination kinds: what is there after a
// write, and whether the thing at the path is still the same kind and (for
// in-place kinds) the same inode.
func TestDestinations(t *testing.T) {
	root := os.Geteuid() == 0
	type want struct {
		err      string // substring of the error; "" = success
		content  string // content of the resolved regular file after Commit
		inPlace  bool   // the path keeps its inode and kind
		readPipe bool   // a reader of the FIFO gets the data
	}
	cases := []struct {
		name  string
		root  bool // needs mknod
		setup func(t *testing.T, dir string) string
		want  want
	}{
		{"missing", false, func(t *testing.T, dir string) string { return filepath.Join(dir, "new.json") },
			want{content: "report"}},
		{"regular file", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "old.json")
			mustWrite(t, p, "old report, longer than the new one")
			return p
		}, want{content: "report"}},
		{"symlink to regular file", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "target.json")
			mustWrite(t, p, "old")
			l := filepath.Join(dir, "link.json")
			must(t, os.Symlink("target.json", l))
			return l
		}, want{content: "report"}},
		{"dangling symlink", false, func(t *testing.T, dir string) string {
			l := filepath.Join(dir, "dangling.json")
			must(t, os.Symlink("created.json", l))
			return l
		}, want{content: "report"}},
		{"symlink loop", false, func(t *testing.T, dir string) string {
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			must(t, os.Symlink("b", a))
			must(t, os.Symlink("a", b))
			return a
		}, want{err: "too many levels"}},
		{"read-only file", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "manifest.json")
			mustWrite(t, p, "evidence")
			must(t, os.Chmod(p, 0o444))
			return p
		}, want{err: "read-only"}},
		{"directory", false, func(t *testing.T, dir string) string { return dir }, want{err: "a directory"}},
		{"missing parent directory", false, func(t *testing.T, dir string) string { return filepath.Join(dir, "no", "x.json") },
			want{err: "no such file"}},
		{"socket", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "s.sock")
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Skipf("unix socket: %v", err)
			}
			t.Cleanup(func() { l.Close() })
			return p
		}, want{err: "a socket"}},
		{"fifo", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "fifo")
			must(t, syscall.Mkfifo(p, 0o600))
			return p
		}, want{inPlace: true, readPipe: true}},
		{"symlink to fifo", false, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "fifo2")
			must(t, syscall.Mkfifo(p, 0o600))
			l := filepath.Join(dir, "fifo-link")
			must(t, os.Symlink(p, l))
			return l
		}, want{inPlace: true, readPipe: true}},
		{"character device (null)", true, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "null")
			must(t, syscall.Mknod(p, syscall.S_IFCHR|0o666, int(mkdev(1, 3))))
			return p
		}, want{inPlace: true}},
		{"symlink to character device", true, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "null2")
			must(t, syscall.Mknod(p, syscall.S_IFCHR|0o666, int(mkdev(1, 3))))
			l := filepath.Join(dir, "null-link")
			must(t, os.Symlink(p, l))
			return l
		}, want{inPlace: true}},
		{"block device", true, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "loop")
			must(t, syscall.Mknod(p, syscall.S_IFBLK|0o600, int(mkdev(7, 200))))
			return p
		}, want{err: "a block device"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root && !root {
				t.Skip("needs root for mknod (CI runs as root)")
			}
			dir := t.TempDir()
			p := c.setup(t, dir)
			before, _ := os.Lstat(p)
			var target fs.FileInfo
			if st, err := os.Stat(p); err == nil {
				target = st
			}
			got := make(chan []byte, 1)
			if c.want.readPipe {
				go func() {
					f, err := os.Open(p)
					if err != nil {
						got <- nil
						return
					}
					b, _ := io.ReadAll(f)
					f.Close()
					got <- b
				}()
			}
			err := WriteFile(p, []byte("report"), Options{})
			if c.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.want.err) {
					t.Fatalf("err = %v, want %q", err, c.want.err)
				}
				if after, _ := os.Lstat(p); before != nil && (after == nil || !os.SameFile(before, after)) {
					t.Errorf("refused destination changed")
				}
				leftovers(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			after, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			if before != nil && before.Mode().Type() != after.Mode().Type() {
				t.Errorf("%s became %v (was %v)", p, after.Mode().Type(), before.Mode().Type())
			}
			if c.want.inPlace {
				st, _ := os.Stat(p)
				if !os.SameFile(st, target) {
					t.Errorf("in-place destination was replaced")
				}
			}
			if c.want.content != "" {
				b, err := os.ReadFile(p)
				if err != nil || string(b) != c.want.content {
					t.Errorf("content %q, %v; want %q", b, err, c.want.content)
				}
				if before != nil && before.Mode()&fs.ModeSymlink != 0 && after.Mode()&fs.ModeSymlink == 0 {
					t.Errorf("the symlink itself was replaced")
				}
			}
			if c.want.readPipe {
				select {
				case b := <-got:
					if string(b) != "report" {
						t.Errorf("FIFO reader got %q", b)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("FIFO reader got nothing")
				}
			}
			leftovers(t, dir)
		})
	}
}

// TestAbortLeavesOld: a write that fails keeps the old document whole and
// leaves no temp file.
func TestAbortLeavesOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	mustWrite(t, p, "old")
	must(t, os.Chmod(p, 0o600))
	f, err := Create(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half a rep"))
	f.Abort()
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("after abort: %q", b)
	}
	leftovers(t, dir)
	// A replaced file keeps its permissions.
	must(t, WriteFile(p, []byte("new"), Options{}))
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after replace %v, want 0600", st.Mode().Perm())
	}
}

func TestNoReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "manifest.json")
	must(t, WriteFile(p, []byte("first"), Options{NoReplace: true, Mode: 0o444}))
	if err := WriteFile(p, []byte("second"), Options{NoReplace: true}); !errors.Is(err, ErrExist) {
		t.Fatalf("second write: %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "first" {
		t.Errorf("content %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o444 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	// CreateTemp + CommitAs: the name is chosen after the content.
	f, err := CreateTemp(dir, Options{NoReplace: true, Mode: 0o444})
	must(t, err)
	f.Write([]byte("copy"))
	must(t, f.CommitAs(filepath.Join(dir, "abc")))
	if b, _ := os.ReadFile(filepath.Join(dir, "abc")); string(b) != "copy" {
		t.Errorf("CommitAs content %q", b)
	}
	leftovers(t, dir)
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	for _, p := range []string{"-", "/dev/stdout"} {
		buf.Reset()
		must(t, WriteFile(p, []byte("doc"), Options{Stdout: &buf}))
		if buf.String() != "doc" {
			t.Errorf("%s: %q", p, buf.String())
		}
	}
}

// TestGuard: an output that is an input (directly, through a symlink or a
// hard link) or lies inside a protected tree is refused, and the input is
// unchanged.
func TestGuard(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	mustWrite(t, img, "image bytes")
	tree := filepath.Join(dir, "evidence")
	must(t, os.MkdirAll(filepath.Join(tree, "etc"), 0o755))
	must(t, os.Symlink(img, filepath.Join(dir, "img-link")))
	must(t, os.Link(img, filepath.Join(dir, "img-hard")))
	must(t, os.Symlink(tree, filepath.Join(dir, "tree-link")))
	var g Guard
	g.Protect(img, filepath.Join(dir, "missing.img"))
	g.ProtectTree(tree)
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{img, false},
		{filepath.Join(dir, "img-link"), false},
		{filepath.Join(dir, "img-hard"), false},
		{filepath.Join(tree, "report.json"), false},
		{filepath.Join(tree, "etc", "x"), false},
		{filepath.Join(dir, "tree-link", "report.json"), false},
		{filepath.Join(dir, "evidence-report.json"), true},
	} {
		err := WriteFile(c.path, []byte("report"), Options{Guard: &g})
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.path, err, c.ok)
		}
	}
	if b, _ := os.ReadFile(img); string(b) != "image bytes" {
		t.Errorf("input changed: %q", b)
	}
}

func leftovers(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func mkdev(major, minor uint64) uint64 { return major<<8 | minor }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	must(t, os.WriteFile(p, []byte(s), 0o644))
}
