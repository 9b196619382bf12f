package dirfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc/cron.d"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc/crontab"), []byte("* * * * * root true\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "usr/bin/real"), []byte("binary"), 0o755))
	// An absolute link must resolve inside the tree, as it would in the image.
	must(os.Symlink("/usr/bin/real", filepath.Join(root, "usr/bin/abs")))
	must(os.Symlink("../bin/real", filepath.Join(root, "usr/bin/rel")))
	must(os.Symlink("/etc", filepath.Join(root, "etclink")))
	must(os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "loop2")))
	// Escapes: ".." past the root stays at the root, like a chroot.
	must(os.Symlink("../../../../etc/crontab", filepath.Join(root, "usr/bin/escape")))
	return root
}

func TestDirFSPassesFSTest(t *testing.T) {
	root := tree(t)
	// fstest cannot follow looping links; give it a tree without them.
	os.Remove(filepath.Join(root, "loop1"))
	os.Remove(filepath.Join(root, "loop2"))
	fsys, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, "etc/crontab", "usr/bin/real", "etc/cron.d"); err != nil {
		t.Fatal(err)
	}
}

func TestSymlinksResolveInsideRoot(t *testing.T) {
	fsys, err := New(tree(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
	}{
		{"usr/bin/abs", "binary"},
		{"usr/bin/rel", "binary"},
		{"etclink/crontab", "* * * * * root true\n"},
		{"usr/bin/escape", "* * * * * root true\n"},
	} {
		got, err := fs.ReadFile(fsys, tc.name)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := fs.ReadFile(fsys, "loop1"); !errors.Is(err, fsread.ErrLinkLoop) {
		t.Errorf("loop: got %v, want ErrLinkLoop", err)
	}
	target, err := fsys.ReadLink("usr/bin/abs")
	if err != nil || target != "/usr/bin/real" {
		t.Errorf("readlink: %q %v", target, err)
	}
	li, err := fsys.Lstat("usr/bin/abs")
	if err != nil || li.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("lstat: %v %v", li, err)
	}
	if m := fsread.MetaOf(li); m.LinkTarget != "/usr/bin/real" || m.Inode == 0 || !m.HasOwner {
		t.Errorf("lstat meta: %+v", m)
	}
	if _, err := fsys.Open("etc/crontab/x"); err == nil {
		t.Error("path through a regular file opened")
	}
}

// Reading a tree must not replace its access times: they are evidence.
func TestReadingKeepsAccessTimes(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "cron")
	os.WriteFile(p, []byte("* * * * * root true\n"), 0o644)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	fsys, _ := New(root)
	for i := 0; i < 2; i++ {
		if _, err := fs.ReadFile(fsys, "cron"); err != nil {
			t.Fatal(err)
		}
	}
	var st syscall.Stat_t
	syscall.Stat(p, &st)
	if got := time.Unix(st.Atim.Sec, st.Atim.Nsec).UTC(); !got.Equal(old) {
		if os.Geteuid() != 0 {
			t.Skipf("O_NOATIME needs the file's owner or root here; atime became %s", got)
		}
		t.Errorf("atime changed from %s to %s by reading", old, got)
	}
}
