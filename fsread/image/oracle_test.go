package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/internal/testimg"
)

// entry is what both readers must agree on for one path.
type entry struct {
	typ    fs.FileMode
	perm   fs.FileMode
	uid    uint32
	gid    uint32
	size   int64
	mtime  time.Time
	target string
	sha    string
}

func (e entry) String() string {
	return fmt.Sprintf("type=%v perm=%o uid=%d gid=%d size=%d mtime=%s target=%q sha=%.12s",
		e.typ, e.perm, e.uid, e.gid, e.size, e.mtime.UTC().Format(time.RFC3339Nano), e.target, e.sha)
}

func hashReader(r io.Reader) string {
	h := sha256.New()
	io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}

// ours lists a volume through snapscan's readers.
func ours(t *testing.T, fsys fsread.FS) map[string]entry {
	out := map[string]entry{}
	err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		if p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			t.Errorf("info %s: %v", p, err)
			return nil
		}
		m := fsread.MetaOf(info)
		e := entry{typ: m.Mode.Type(), perm: m.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), uid: m.UID, gid: m.GID, size: m.Size, mtime: m.Mtime, target: m.LinkTarget}
		if m.Mode.IsRegular() {
			f, err := fsys.Open(p)
			if err != nil {
				t.Errorf("open %s: %v", p, err)
				return nil
			}
			e.sha = hashReader(f)
			f.Close()
		}
		out[p] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kernels lists a mounted tree through the host's kernel.
func kernels(t *testing.T, root string) map[string]entry {
	out := map[string]entry{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("kernel walk %s: %v", p, err)
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			t.Errorf("lstat %s: %v", p, err)
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		e := entry{typ: info.Mode().Type(), perm: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), uid: st.Uid, gid: st.Gid, size: info.Size(), mtime: info.ModTime()}
		if info.Mode()&fs.ModeSymlink != 0 {
			e.target, _ = os.Readlink(p)
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err == nil {
				e.sha = hashReader(f)
				f.Close()
			}
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	return out
}

// TestBundledImagesAgreeWithKernel reads every file of every ext2/3/4 and
// NTFS volume of every bundled image through snapscan and through the host
// (the kernel's ext4, ntfs-3g for NTFS) and requires the same names, types,
// sizes, modes, owners, mtimes, link targets and contents.
func TestBundledImagesAgreeWithKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop mounts are the oracle")
	}
	total := 0
	for _, name := range testimg.Names(t) {
		if !strings.HasSuffix(name, ".img") {
			continue // containers are compared block by block elsewhere
		}
		path := testimg.Path(t, name)
		testimg.Unchanged(t, path)
		img, err := Open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range img.Volumes {
			k := v.Detect.Kind
			if !v.Scannable || !(k.IsExt() || k == detect.NTFS) {
				continue
			}
			t.Run(v.Name, func(t *testing.T) {
				fsys, err := v.FS()
				if err != nil {
					t.Fatal(err)
				}
				mnt := t.TempDir()
				var mount *exec.Cmd
				opts := fmt.Sprintf("ro,loop,offset=%d,sizelimit=%d", v.Start, v.Size)
				if k == detect.NTFS {
					mount = exec.Command("ntfs-3g", "-o", opts, path, mnt)
				} else {
					mount = exec.Command("mount", "-t", string(k), "-o", opts+",noload", path, mnt)
				}
				// ntfs-3g's FUSE daemon can keep the output pipe open after
				// the mount command exited: bound the wait for it.
				mount.WaitDelay = 5 * time.Second
				if out, err := mount.CombinedOutput(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
					t.Skipf("cannot mount %s here (%v): %s", v.Name, err, out)
				}
				defer exec.Command("umount", mnt).Run()
				want, got := kernels(t, mnt), ours(t, fsys)
				var diffs []string
				for p, w := range want {
					g, ok := got[p]
					if !ok {
						diffs = append(diffs, "missing in snapscan: "+p)
						continue
					}
					if k == detect.NTFS {
						// ntfs-3g invents owners and modes, and reports the
						// index size of directories; compare what NTFS stores.
						w.perm, g.perm, w.uid, g.uid, w.gid, g.gid = 0, 0, 0, 0, 0, 0
						if w.typ.IsDir() {
							w.size, g.size = 0, 0
						}
					}
					if g.typ.IsDir() && k.IsExt() {
						w.mtime, g.mtime = w.mtime.Truncate(time.Second), g.mtime.Truncate(time.Second)
					}
					if w.String() != g.String() {
						diffs = append(diffs, fmt.Sprintf("%s:\n  kernel:   %s\n  snapscan: %s", p, w, g))
					}
				}
				for p := range got {
					if _, ok := want[p]; !ok && !(k == detect.NTFS && strings.HasPrefix(p, "$")) {
						diffs = append(diffs, "only in snapscan: "+p)
					}
				}
				sort.Strings(diffs)
				for i, d := range diffs {
					if i == 20 {
						t.Errorf("... and %d more", len(diffs)-20)
						break
					}
					t.Error(d)
				}
				total += len(want)
				t.Logf("%s: %d entries compared", v.Name, len(want))
			})
		}
		img.Close()
	}
	t.Logf("%d entries compared in all", total)
}
