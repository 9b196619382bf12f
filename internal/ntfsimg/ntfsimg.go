// Package ntfsimg builds and changes NTFS test images with the real tools:
// mkntfs formats, an ntfs-3g mount writes files and alternate data streams
// (ntfs-3g shows a file's named streams as user.* extended attributes).
// Tests that use it need root, FUSE and ntfs-3g, and skip without them.
package ntfsimg

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Stream is one alternate data stream to write: FILE:NAME = Data.
type Stream struct {
	File, Name, Data string
}

// Need skips the test unless root and the tools are there.
func Need(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the ntfs-3g mount needs root")
	}
	for _, tool := range []string{"mkntfs", "ntfs-3g", "setfattr", "mountpoint", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/deps.sh: ntfs-3g, attr)", tool)
		}
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse for the ntfs-3g mount")
	}
}

func sh(t testing.TB, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v %s", name, args, err, b)
	}
}

// New formats an empty NTFS image of size (truncate syntax, "8M") in a
// temporary directory and returns its path.
func New(t testing.TB, size string) string {
	t.Helper()
	Need(t)
	img := filepath.Join(t.TempDir(), "ntfs.img")
	sh(t, "truncate", "-s", size, img)
	sh(t, "mkntfs", "-F", "-f", "-q", img)
	return img
}

// Write mounts img read-write, writes files (path -> content, parents made)
// and then streams, and unmounts.
func Write(t testing.TB, img string, files map[string]string, streams []Stream) {
	t.Helper()
	Need(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// no_detach and no pipes: a daemonised ntfs-3g keeps an inherited output
	// pipe open, and a CombinedOutput call waiting on it never returns.
	mount := exec.Command("ntfs-3g", "-o", "no_detach,streams_interface=xattr", img, mnt)
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	mounted := false
	for i := 0; i < 200 && !mounted; i++ {
		if mounted = exec.Command("mountpoint", "-q", mnt).Run() == nil; !mounted {
			time.Sleep(50 * time.Millisecond)
		}
	}
	fail := func(err error) {
		exec.Command("umount", mnt).Run()
		mount.Wait()
		t.Fatal(err)
	}
	if !mounted {
		fail(os.ErrDeadlineExceeded)
	}
	for p, data := range files {
		full := filepath.Join(mnt, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			fail(err)
		}
	}
	for _, s := range streams {
		if b, err := exec.Command("setfattr", "-n", "user."+s.Name, "-v", "0x"+hexOf(s.Data), filepath.Join(mnt, filepath.FromSlash(s.File))).CombinedOutput(); err != nil {
			fail(&os.PathError{Op: "setfattr " + string(b), Path: s.File + ":" + s.Name, Err: err})
		}
	}
	sh(t, "umount", mnt)
	if err := mount.Wait(); err != nil {
		t.Fatalf("ntfs-3g on %s: %v", img, err)
	}
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(b)
}
