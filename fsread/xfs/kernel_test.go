package xfs

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/snapscan/snapscan/fsread"
)

var kernelCompared atomic.Int64

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop mount (kernel oracle)")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("needs mount(8)")
	}
}

func mount(t *testing.T, img, opts string) (string, func()) {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "xfs", "-o", opts, img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount %s (%v): %s", img, err, out)
	}
	done := false
	umount := func() {
		if done {
			return
		}
		for i := 0; i < 5; i++ {
			if exec.Command("umount", mnt).Run() == nil {
				done = true
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("could not unmount %s", mnt)
	}
	t.Cleanup(umount)
	return mnt, umount
}

// mutate adds, through the kernel, what mkfs.xfs -p cannot make: hard
// links, holes, unwritten extents, a bmap btree, reflinked blocks, an
// attribute fork, remote symlinks with v5 headers, the anti-removal flags
// and timestamps outside 1970..2038.
func mutate(t *testing.T, mnt string, v variant) {
	t.Helper()
	p := func(s string) string { return filepath.Join(mnt, s) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	xfsIO := func(file string, cmds ...string) {
		t.Helper()
		args := []string{}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		args = append(args, file)
		if out, err := exec.Command("xfs_io", args...).CombinedOutput(); err != nil {
			t.Fatalf("xfs_io %v: %v\n%s", args, err, out)
		}
	}
	must(os.Link(p("etc/passwd"), p("etc/passwd.hard")))
	must(os.Link(p("etc/passwd"), p("home/miner/passwd-link")))

	// Holes: data at 0, 10 MB and a tail, size 20 MB.
	f, err := os.Create(p("sparse"))
	must(err)
	for _, off := range []int64{0, 10 << 20, 20<<20 - 100} {
		_, err := f.WriteAt([]byte(strings.Repeat(fmt.Sprintf("data@%d;", off), 12)), off)
		must(err)
	}
	must(f.Close())

	// Hundreds of extents: beyond what the inode holds, so a bmap btree.
	f, err = os.Create(p("fragmented"))
	must(err)
	for i := int64(0); i < 600; i++ {
		_, err := f.WriteAt([]byte(strings.Repeat(fmt.Sprintf("%06d", i), 500)), i*16384)
		must(err)
	}
	must(f.Sync())
	must(f.Close())

	// Preallocated (unwritten) extent with written data in the middle.
	must(os.WriteFile(p("prealloc"), nil, 0o644))
	xfsIO(p("prealloc"), "falloc 0 1m", "pwrite -S 0x61 300k 8k", "truncate 1m")

	if !v.v4() {
		if out, err := exec.Command("cp", "--reflink=always", p("bin/busybox"), p("bin/busybox.reflink")).CombinedOutput(); err != nil {
			t.Fatalf("cp --reflink: %v: %s", err, out)
		}
	}
	must(unix.Setxattr(p("etc/cron.d/miner"), "user.big", []byte(strings.Repeat("x", 200)), 0))
	must(unix.Setxattr(p("links"), "user.tag", []byte("t"), 0))

	for _, s := range remoteLinkSpecs() {
		if _, err := os.Lstat(p(s.path)); err != nil {
			must(os.Symlink(s.target, p(s.path)))
		}
	}

	must(os.WriteFile(p("immutable"), []byte("can't touch this\n"), 0o644))
	must(os.WriteFile(p("appendonly"), []byte("log\n"), 0o644))
	xfsIO(p("immutable"), "chattr +i")
	xfsIO(p("appendonly"), "chattr +a")
	xfsIO(p("bin/busybox"), "chattr +i")

	must(os.Chtimes(p("etc/shadow"), time.Unix(-1e9, 123456789), time.Unix(-2e9, 987654321)))
	must(os.Chtimes(p("etc/passwd"), time.Unix(1, 1), time.Date(2100, 1, 2, 3, 4, 5, 6, time.UTC)))
	must(os.Chtimes(p("small/a"), time.Unix(1700000000, 1), time.Unix(1700000000, 999999999)))
}

type kstat struct {
	mode                      fs.FileMode
	ino                       uint64
	nlink, uid, gid           uint32
	size                      int64
	atime, mtime, ctime, btim time.Time
	immutable, appendOnly     bool
}

func kernelStat(t *testing.T, p string) kstat {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_ALL|unix.STATX_BTIME, &sx); err != nil {
		t.Fatalf("statx %s: %v", p, err)
	}
	ts := func(x unix.StatxTimestamp) time.Time { return time.Unix(x.Sec, int64(x.Nsec)).UTC() }
	k := kstat{
		mode:  fsread.UnixMode(sx.Mode),
		ino:   sx.Ino,
		nlink: sx.Nlink, uid: sx.Uid, gid: sx.Gid,
		size:  int64(sx.Size),
		atime: ts(sx.Atime), mtime: ts(sx.Mtime), ctime: ts(sx.Ctime),
		immutable:  sx.Attributes&unix.STATX_ATTR_IMMUTABLE != 0,
		appendOnly: sx.Attributes&unix.STATX_ATTR_APPEND != 0,
	}
	if sx.Mask&unix.STATX_BTIME != 0 {
		k.btim = ts(sx.Btime)
	}
	return k
}

func hashFile(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// TestKernel is the oracle: for each variant, the kernel mounts the image
// read-only and every entry must match it in name, type, mode, owner,
// nlink, inode number, size, all four times (ns), link target, flags and
// the SHA-256 of its content.
func TestKernel(t *testing.T) {
	needRoot(t)
	needTool(t, "xfs_io")
	total := 0
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			src := buildImage(t, v)
			img := filepath.Join(t.TempDir(), v.name+"-k.img")
			if out, err := exec.Command("cp", "--sparse=always", src, img).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v: %s", err, out)
			}
			mnt, umount := mount(t, img, "loop")
			mutate(t, mnt, v)
			umount()
			if out, err := exec.Command("xfs_db", "-r", "-c", "path /fragmented", "-c", "print core.format", img).CombinedOutput(); err != nil || !strings.Contains(string(out), "btree") {
				t.Errorf("fragmented is not a btree-format file: %v %s", err, out)
			}
			mnt, _ = mount(t, img, "loop,ro,norecovery")
			n := compareKernel(t, openImage(t, img), mnt)
			t.Logf("%s: %d entries compared with the kernel", v.name, n)
			total += n
		})
	}
	kernelCompared.Add(int64(total))
}

func compareKernel(t *testing.T, fsys fsread.FS, mnt string) int {
	seen := map[string]bool{}
	n := 0
	err := filepath.WalkDir(mnt, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(mnt, hp)
		seen[rel] = true
		k := kernelStat(t, hp)
		fi, err := fsys.Lstat(rel)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		n++
		m := fsread.MetaOf(fi)
		got := kstat{mode: m.Mode, ino: m.Inode, nlink: m.Nlink, uid: m.UID, gid: m.GID, size: m.Size,
			atime: m.Atime, mtime: m.Mtime, ctime: m.Ctime, btim: m.Btime,
			immutable: m.Immutable(), appendOnly: m.AppendOnly()}
		if got != k {
			t.Errorf("%s:\n ours   %+v\n kernel %+v", rel, got, k)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			want, err := os.Readlink(hp)
			if err != nil {
				t.Fatal(err)
			}
			tgt, err := fsys.ReadLink(rel)
			if err != nil || tgt != want || m.LinkTarget != want {
				t.Errorf("%s: link %q (%v), Meta %q, kernel %q", rel, tgt, err, m.LinkTarget, want)
			}
		case d.Type().IsRegular():
			hf, err := os.Open(hp)
			if err != nil {
				t.Fatal(err)
			}
			want, err := hashFile(hf)
			hf.Close()
			if err != nil {
				t.Fatal(err)
			}
			f, err := fsys.Open(rel)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			sum, err := hashFile(f)
			f.Close()
			if err != nil || sum != want {
				t.Errorf("%s: content hash %s (%v), kernel %s", rel, sum, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// And nothing the kernel does not list.
	err = fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		if !seen[p] {
			t.Errorf("%s: listed by us, not by the kernel", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
