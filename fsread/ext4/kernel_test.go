package ext4

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/snapscan/snapscan/fsread"
)

// userVisibleFlags is EXT4_FL_USER_VISIBLE: FS_IOC_GETFLAGS masks i_flags with it.
const userVisibleFlags = 0x705BDFFF

var kernelCompared atomic.Int64

// mountRO loop-mounts img read-only and unmounts it when the test ends.
func mountRO(t *testing.T, img string, journal bool) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop mount (kernel oracle)")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("needs mount(8)")
	}
	mnt := t.TempDir()
	opts := "loop,ro"
	if journal {
		opts += ",noload" // never replay: read the image as it lies, as we do
	}
	if out, err := exec.Command("mount", "-o", opts, img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount %s (%v): %s", img, err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 5; i++ {
			if exec.Command("umount", mnt).Run() == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("could not unmount %s", mnt)
	})
	return mnt
}

type kstat struct {
	mode             fs.FileMode
	ino              uint64
	nlink, uid, gid  uint32
	size             int64
	mtime, atime     time.Time
	ctime, btime     time.Time
	flags            uint32
	hasFlags         bool
	target, checksum string
}

func kernelStat(t *testing.T, p string) kstat {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	k := kstat{
		mode: fi.Mode(), ino: st.Ino, nlink: uint32(st.Nlink), uid: st.Uid, gid: st.Gid, size: st.Size,
		mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC(),
		atime: time.Unix(st.Atim.Sec, st.Atim.Nsec).UTC(),
		ctime: time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC(),
	}
	var sx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &sx) == nil && sx.Mask&unix.STATX_BTIME != 0 {
		k.btime = time.Unix(sx.Btime.Sec, int64(sx.Btime.Nsec)).UTC()
	}
	if fi.Mode().IsRegular() || fi.IsDir() {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err == nil {
			const fsIocGetflags = 0x80086601
			if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), fsIocGetflags, uintptr(unsafe.Pointer(&k.flags))); e == 0 {
				k.hasFlags = true
			}
			syscall.Close(fd)
		}
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		k.target, err = os.Readlink(p)
	case fi.Mode().IsRegular():
		k.checksum, err = hashFile(p)
	}
	if err != nil {
		t.Errorf("kernel %s: %v", p, err)
	}
	return k
}

// compareKernel walks both trees and requires every fact to match.
func compareKernel(t *testing.T, fsys fsread.FS, mnt string) int {
	ours, _ := walkOurs(t, fsys)
	var theirs []string
	err := filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(mnt, p)
		theirs = append(theirs, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for p := range ours {
		mine = append(mine, p)
	}
	slices.Sort(mine)
	slices.Sort(theirs)
	if !slices.Equal(mine, theirs) {
		t.Errorf("trees differ:\n ours   %d entries\n kernel %d entries", len(mine), len(theirs))
		for _, p := range theirs {
			if _, ok := ours[p]; !ok {
				t.Errorf("  missing from ours: %q", p)
			}
		}
	}
	n := 0
	for _, p := range theirs {
		m, ok := ours[p]
		if !ok {
			continue
		}
		n++
		k := kernelStat(t, filepath.Join(mnt, p))
		if m.Mode != k.mode || m.Inode != k.ino || m.Nlink != k.nlink || m.UID != k.uid || m.GID != k.gid || m.Size != k.size {
			t.Errorf("%s: mode %v ino %d nlink %d uid %d gid %d size %d; kernel %v %d %d %d %d %d",
				p, m.Mode, m.Inode, m.Nlink, m.UID, m.GID, m.Size, k.mode, k.ino, k.nlink, k.uid, k.gid, k.size)
		}
		if !m.Mtime.Equal(k.mtime) || !m.Atime.Equal(k.atime) || !m.Ctime.Equal(k.ctime) || !m.Btime.Equal(k.btime) {
			t.Errorf("%s: times m %v a %v c %v b %v; kernel %v %v %v %v", p, m.Mtime, m.Atime, m.Ctime, m.Btime, k.mtime, k.atime, k.ctime, k.btime)
		}
		if k.hasFlags && m.Flags&userVisibleFlags != k.flags {
			t.Errorf("%s: flags %#x, kernel %#x", p, m.Flags&userVisibleFlags, k.flags)
		}
		switch {
		case k.mode&fs.ModeSymlink != 0:
			got, err := fsys.ReadLink(p)
			if err != nil || got != k.target || m.LinkTarget != k.target {
				t.Errorf("%s: link %q (%v), kernel %q", p, got, err, k.target)
			}
		case k.mode.IsRegular():
			got, err := hashFS(fsys, p)
			if err != nil || got != k.checksum {
				t.Errorf("%s: sha256 %s (%v), kernel %s", p, got, err, k.checksum)
			}
		}
	}
	kernelCompared.Add(int64(n))
	return n
}

func TestKernelOracle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop mount (kernel oracle)")
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img := image(t, v)
			fsys := openImage(t, img)
			journal := v.name == "ext3" || strings.HasPrefix(v.name, "ext4")
			mnt := mountRO(t, img, journal)
			n := compareKernel(t, fsys, mnt)
			t.Logf("%d entries compared with the kernel", n)
		})
	}
	t.Logf("kernel oracle: %d entries compared in all", kernelCompared.Load())
}
