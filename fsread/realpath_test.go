package fsread_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
)

func TestRealPath(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib/systemd/system"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	os.Symlink("/usr/lib/systemd", filepath.Join(root, "usr/sd"))
	os.Symlink("../../../../..", filepath.Join(root, "usr/lib/up"))
	os.Symlink("b", filepath.Join(root, "a"))
	os.Symlink("a", filepath.Join(root, "b"))
	fsys, _ := dirfs.New(root)
	for _, tc := range []struct{ in, want string }{
		{"lib/systemd/system", "usr/lib/systemd/system"},
		{"usr/sd/system", "usr/lib/systemd/system"},
		{"usr/lib/up/lib", "usr/lib"}, // ".." past the root stays at the root
		{".", "."},
	} {
		got, err := fsread.RealPath(fsys, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("RealPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := fsread.RealPath(fsys, "a/x"); !errors.Is(err, fsread.ErrLinkLoop) {
		t.Errorf("loop: %v", err)
	}
	if _, err := fsread.RealPath(fsys, "nope/x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
