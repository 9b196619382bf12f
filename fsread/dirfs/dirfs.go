// Package dirfs exposes a directory on the host (a mounted image, an
// extracted tree, a test fixture) as an fsread.FS, so every check runs on it
// unchanged. Symlinks are resolved inside the directory, as they would be in
// the image it came from: "/usr/bin/x" means ROOT/usr/bin/x, never the host's.
package dirfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	"github.com/snapscan/snapscan/fsread"
)

// New returns the directory root as a read-only FS.
func New(root string) (fsread.FS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: root, Err: fsread.ErrNotDir}
	}
	return fsread.NewFS[string](backend{root: abs}, "dir "+abs), nil
}

// backend names nodes by their host path below root. Host symlinks are never
// followed by the OS: every component is resolved by fsread with Lstat.
type backend struct{ root string }

func (b backend) Root() string { return b.root }

func (b backend) Lookup(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); err != nil {
		return "", err
	}
	return p, nil
}

func (b backend) ReadDir(dir string) ([]fsread.Dirent[string], error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]fsread.Dirent[string], 0, len(ents))
	for _, e := range ents {
		out = append(out, fsread.Dirent[string]{
			Name: e.Name(), Node: filepath.Join(dir, e.Name()), Type: e.Type(), TypeKnown: true,
		})
	}
	return out, nil
}

func (b backend) ReadLink(n string) (string, error) { return os.Readlink(n) }

func (b backend) Open(n string) (io.ReaderAt, int64, error) {
	// O_NOFOLLOW and O_NONBLOCK: a node swapped for a link or FIFO between
	// Lstat and open must not escape root or hang the scan. O_NOATIME: an
	// access time is evidence, and reading must not replace it.
	f, err := openNoAtime(n, syscall.O_NOFOLLOW|syscall.O_NONBLOCK)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, &fs.PathError{Op: "open", Path: n, Err: fs.ErrInvalid}
	}
	return f, st.Size(), nil
}

func (b backend) Meta(n string) (*fsread.Meta, error) {
	st, err := os.Lstat(n)
	if err != nil {
		return nil, err
	}
	m := &fsread.Meta{Name: st.Name(), Mode: st.Mode(), Size: st.Size(), Mtime: st.ModTime().UTC()}
	if n == b.root {
		m.Name = "."
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		m.Inode = sys.Ino
		m.Nlink = uint32(sys.Nlink)
		m.Dev = uint64(sys.Dev) // a tree may span host filesystems, whose inode numbers repeat
		m.HasOwner, m.UID, m.GID = true, sys.Uid, sys.Gid
		m.Atime = time.Unix(sys.Atim.Sec, sys.Atim.Nsec).UTC()
		m.Ctime = time.Unix(sys.Ctim.Sec, sys.Ctim.Nsec).UTC()
		m.Btime = birthTime(n)
	}
	if st.Mode().IsRegular() || st.IsDir() {
		m.Flags = inodeFlags(n)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		m.LinkTarget, _ = os.Readlink(n)
	}
	return m, nil
}

// inodeFlags reads chattr flags through FS_IOC_GETFLAGS; filesystems that
// have none (tmpfs) give 0.
func inodeFlags(p string) uint32 {
	const fsIocGetflags = 0x80086601
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOATIME, 0)
	if err == syscall.EPERM {
		fd, err = syscall.Open(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		return 0
	}
	defer syscall.Close(fd)
	var flags uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), fsIocGetflags, uintptr(unsafe.Pointer(&flags))); e != 0 {
		return 0
	}
	return flags
}

// openNoAtime opens read-only without updating the access time where the
// kernel allows it (the file's owner or root); otherwise it opens plainly:
// mount the evidence ro,noatime to keep every atime.
func openNoAtime(p string, flags int) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|flags|syscall.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		f, err = os.OpenFile(p, os.O_RDONLY|flags, 0)
	}
	return f, err
}
