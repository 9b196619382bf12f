package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStreamsLsCat builds a small NTFS image with mkntfs and an ntfs-3g
// mount (root) holding a file with two alternate data streams, and reads
// them back: ls lists FILE:STREAM after the file, cat FILE:STREAM writes
// the stream, and a stream that does not exist is an error.
func TestStreamsLsCat(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the ntfs-3g mount needs root")
	}
	for _, tool := range []string{"mkntfs", "ntfs-3g", "setfattr", "mountpoint"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "ads.img"), filepath.Join(dir, "mnt")
	sh := func(name string, args ...string) {
		if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v %s", name, args, err, b)
		}
	}
	sh("truncate", "-s", "8M", img)
	sh("mkntfs", "-F", "-f", "-q", "-L", "ads", img)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// no_detach and no pipes: a daemonised ntfs-3g would hold an output pipe open.
	mount := exec.Command("ntfs-3g", "-o", "no_detach,streams_interface=xattr", img, mnt)
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && exec.Command("mountpoint", "-q", mnt).Run() != nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(mnt, "notes.txt"), []byte("main\n"), 0o644); err != nil {
		exec.Command("umount", mnt).Run()
		t.Fatal(err)
	}
	sh("setfattr", "-n", "user.Zone.Identifier", "-v", "[ZoneTransfer] ZoneId=3", filepath.Join(mnt, "notes.txt"))
	sh("setfattr", "-n", "user.hidden.exe", "-v", "MZ-stand-in", filepath.Join(mnt, "notes.txt"))
	sh("umount", mnt)
	if err := mount.Wait(); err != nil {
		t.Fatalf("ntfs-3g: %v", err)
	}

	out, errs, code := run(t, "ls", img+":/")
	if code != 0 || !strings.Contains(out, "notes.txt\nnotes.txt:Zone.Identifier\nnotes.txt:hidden.exe\n") && !strings.Contains(out, "notes.txt\nnotes.txt:hidden.exe\nnotes.txt:Zone.Identifier\n") {
		t.Errorf("ls: code %d, out %q, err %q", code, out, errs)
	}
	out, _, code = run(t, "ls", "-l", img+":/notes.txt")
	if code != 0 || !strings.Contains(out, " 11 ") || !strings.Contains(out, "notes.txt:hidden.exe") {
		t.Errorf("ls -l: code %d, out %q", code, out)
	}
	for stream, want := range map[string]string{"": "main\n", ":hidden.exe": "MZ-stand-in", ":Zone.Identifier": "[ZoneTransfer] ZoneId=3"} {
		out, errs, code := run(t, "cat", img+":/notes.txt"+stream)
		if code != 0 || out != want {
			t.Errorf("cat notes.txt%s: code %d, out %q, err %q", stream, code, out, errs)
		}
	}
	if _, _, code := run(t, "cat", img+":/notes.txt:absent"); code == 0 {
		t.Errorf("cat of an absent stream succeeded")
	}
}
