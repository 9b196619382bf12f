package fsread_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
)

func TestMountComposesVolumesAndResolvesLinksAcrossThem(t *testing.T) {
	rootDir, homeDir := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(rootDir, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n")
	write(filepath.Join(rootDir, "home/.hidden-under-mount"), "shadowed by the mount")
	write(filepath.Join(homeDir, "alice/.ssh/authorized_keys"), "ssh-ed25519 AAAA alice\n")
	if err := os.Symlink("/etc/passwd", filepath.Join(homeDir, "alice/pw")); err != nil {
		t.Fatal(err)
	}
	root, _ := dirfs.New(rootDir)
	home, _ := dirfs.New(homeDir)
	fsys := fsread.Mount(root, map[string]fsread.FS{"/home": home})

	for _, tc := range []struct{ path, want string }{
		{"home/alice/.ssh/authorized_keys", "ssh-ed25519 AAAA alice\n"},
		{"home/alice/pw", "root:x:0:0::/root:/bin/sh\n"}, // link on /home to the root volume
		{"etc/passwd", "root:x:0:0::/root:/bin/sh\n"},
	} {
		got, err := fs.ReadFile(fsys, tc.path)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.path, got, err, tc.want)
		}
	}
	if _, err := fs.Stat(fsys, "home/.hidden-under-mount"); err == nil {
		t.Error("a file under the mount point on the root volume is visible through the mount")
	}
	ents, err := fs.ReadDir(fsys, "home")
	if err != nil || len(ents) != 1 || ents[0].Name() != "alice" {
		t.Fatalf("home listing: %v %v", ents, err)
	}
	var walked []string
	fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			walked = append(walked, p)
		}
		return nil
	})
	if len(walked) != 2 {
		t.Errorf("walk saw %v, want etc/passwd and the authorized_keys", walked)
	}

	// Evidence names the volume that stores the file and its path there.
	for _, tc := range []struct{ path, mp, inner string }{
		{"home/alice/.ssh/authorized_keys", "/home", "alice/.ssh/authorized_keys"},
		{"home/alice/pw", "/", "etc/passwd"}, // the link's target is on the root
		{"etc/passwd", "/", "etc/passwd"},
		{"home", "/home", "."},
		{".", "/", "."},
	} {
		mp, inner, err := fsread.Locate(fsys, tc.path)
		if err != nil || mp != tc.mp || inner != tc.inner {
			t.Errorf("Locate(%s) = %q %q %v, want %q %q", tc.path, mp, inner, err, tc.mp, tc.inner)
		}
		// The address opens the same bytes on the volume alone.
		vol := root
		if tc.mp == "/home" {
			vol = home
		}
		a, errA := fs.Stat(fsys, tc.path)
		b, errB := fs.Stat(vol, inner)
		if errA != nil || errB != nil || fsread.MetaOf(a).Inode != fsread.MetaOf(b).Inode {
			t.Errorf("%s: inode through the mount %v %v, on its volume %v %v", tc.path, a, errA, b, errB)
		}
	}
	if _, _, err := fsread.Locate(fsys, "home/nobody"); err == nil {
		t.Error("Locate of a missing file: no error")
	}
	// Outside a Mount the volume is the FS itself; links are resolved.
	if mp, inner, err := fsread.Locate(home, "alice/pw"); err == nil || mp != "" {
		// alice/pw points at /etc/passwd, absent on the home volume alone
		t.Errorf("Locate on the bare home volume of a dangling link: %q %q %v", mp, inner, err)
	}
	if mp, inner, err := fsread.Locate(home, "alice/.ssh/authorized_keys"); err != nil || mp != "/" || inner != "alice/.ssh/authorized_keys" {
		t.Errorf("Locate on a bare volume: %q %q %v", mp, inner, err)
	}
}
