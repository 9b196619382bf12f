package fsread

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// FS is the read-only filesystem every check sees. Open and Stat follow
// symbolic links inside the filesystem (an absolute target is resolved from
// this filesystem's root, never from the host's); Lstat and ReadLink do not.
// Files returned by Open also implement io.ReaderAt and io.Seeker.
type FS interface {
	fs.ReadDirFS
	fs.StatFS
	fs.ReadLinkFS
	// String names the filesystem in errors, e.g. "disk.img@2 (ext4)".
	String() string
}

// Errors a backend or the resolver returns, wrapped with path and volume.
var (
	ErrLinkLoop = errors.New("too many levels of symbolic links")
	ErrNotDir   = errors.New("not a directory")
	ErrIsDir    = errors.New("is a directory")
	ErrCorrupt  = errors.New("corrupt filesystem metadata")
)

// maxLinkHops matches Linux's MAXSYMLINKS: an image may hold link loops.
const maxLinkHops = 40

// Backend is what a filesystem adapter implements: a tree of nodes named
// by N (inode number, MFT entry, host path). Path parsing, symlink
// resolution, loop limits, panic containment and error wrapping are done
// once, by NewFS, for every adapter. A Backend must be safe for concurrent
// use: checks and the content sweep read many files at once.
type Backend[N comparable] interface {
	Root() N
	// Meta returns the metadata of n; Name may be left empty.
	Meta(n N) (*Meta, error)
	// ReadDir lists a directory without "." and "..".
	ReadDir(dir N) ([]Dirent[N], error)
	// Lookup finds one name in a directory, fs.ErrNotExist when absent.
	Lookup(dir N, name string) (N, error)
	// ReadLink returns the stored target of a symbolic link.
	ReadLink(n N) (string, error)
	// Open returns a regular file's content and its size; holes read as
	// zeros. If the ReaderAt is also an io.Closer, closing the file closes it.
	Open(n N) (io.ReaderAt, int64, error)
}

// Dirent is one directory entry as a backend lists it. Type holds the type
// bits when the directory records them; TypeKnown is false otherwise.
type Dirent[N comparable] struct {
	Name      string
	Node      N
	Type      fs.FileMode
	TypeKnown bool
}

// NewFS wraps a backend into an FS. label names it in errors.
func NewFS[N comparable](b Backend[N], label string) FS {
	return &treeFS[N]{b: b, label: label}
}

type treeFS[N comparable] struct {
	b     Backend[N]
	label string
}

func (t *treeFS[N]) String() string { return t.label }

// guard turns a backend panic on hostile metadata into an error: a corrupt
// image must cost one file, never the scan.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrCorrupt, r)
	}
}

func (t *treeFS[N]) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == name {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%s: %w", t.label, err)}
}

// resolve walks name from the root. Intermediate symlinks are always
// followed; the last one only when follow is set.
func (t *treeFS[N]) resolve(name string, follow bool) (n N, err error) {
	defer guard(&err)
	if !validPath(name) {
		return n, fs.ErrInvalid
	}
	var parts []string
	if name != "." {
		parts = strings.Split(name, "/")
	}
	stack := []N{t.b.Root()} // ancestors, so ".." in link targets works
	hops := 0
	for len(parts) > 0 {
		comp := parts[0]
		parts = parts[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		cur := stack[len(stack)-1]
		next, err := t.b.Lookup(cur, comp)
		if err != nil {
			return n, err
		}
		last := len(parts) == 0
		if last && !follow {
			stack = append(stack, next)
			break
		}
		m, err := t.b.Meta(next)
		if err != nil {
			return n, err
		}
		if m.Mode&fs.ModeSymlink == 0 {
			if !last && !m.Mode.IsDir() {
				return n, ErrNotDir
			}
			stack = append(stack, next)
			continue
		}
		if hops++; hops > maxLinkHops {
			return n, ErrLinkLoop
		}
		target, err := t.b.ReadLink(next)
		if err != nil {
			return n, err
		}
		if strings.HasPrefix(target, "/") {
			stack = stack[:1]
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return stack[len(stack)-1], nil
}

func (t *treeFS[N]) meta(n N, name string) (m *Meta, err error) {
	defer guard(&err)
	m, err = t.b.Meta(n)
	if err != nil {
		return nil, err
	}
	if m.Name == "" {
		m.Name = path.Base(name)
		if name == "." {
			m.Name = "."
		}
	}
	return m, nil
}

// placer is a Backend that composes other filesystems (Mount): it says
// which one, by mount point, stores a node and under what path.
type placer[N comparable] interface {
	place(n N) (mountPoint, inner string)
}

// Locate tells where the file name (links followed, as Open and Stat do)
// is stored: the mount point of the volume that holds it in a composed
// tree ("/" for the root volume, and for any FS that is not a Mount), and
// its path on that volume in io/fs form, free of symbolic links. Inode
// numbers repeat across volumes: evidence names the volume Locate gives,
// so that an analyst opening that volume finds the same inode.
func Locate(fsys FS, name string) (mountPoint, inner string, err error) {
	if l, ok := fsys.(interface {
		locate(string) (string, string, error)
	}); ok {
		return l.locate(name)
	}
	return realLocation(fsys, name)
}

func realLocation(fsys fs.ReadLinkFS, name string) (string, string, error) {
	real, err := RealPath(fsys, name)
	if err != nil {
		return "", "", err
	}
	return "/", real, nil
}

func (t *treeFS[N]) locate(name string) (string, string, error) {
	p, ok := any(t.b).(placer[N])
	if !ok {
		return realLocation(t, name)
	}
	n, err := t.resolve(name, true)
	if err != nil {
		return "", "", t.wrap("locate", name, err)
	}
	mp, inner := p.place(n)
	return mp, inner, nil
}

func (t *treeFS[N]) Stat(name string) (fs.FileInfo, error) {
	n, err := t.resolve(name, true)
	if err != nil {
		return nil, t.wrap("stat", name, err)
	}
	m, err := t.meta(n, name)
	if err != nil {
		return nil, t.wrap("stat", name, err)
	}
	return m.Info(), nil
}

func (t *treeFS[N]) Lstat(name string) (fs.FileInfo, error) {
	n, err := t.resolve(name, false)
	if err != nil {
		return nil, t.wrap("lstat", name, err)
	}
	m, err := t.meta(n, name)
	if err != nil {
		return nil, t.wrap("lstat", name, err)
	}
	return m.Info(), nil
}

func (t *treeFS[N]) ReadLink(name string) (target string, err error) {
	n, err := t.resolve(name, false)
	if err != nil {
		return "", t.wrap("readlink", name, err)
	}
	defer func() { err = t.wrap("readlink", name, err) }()
	defer guard(&err)
	m, err := t.b.Meta(n)
	if err != nil {
		return "", err
	}
	if m.Mode&fs.ModeSymlink == 0 {
		return "", fs.ErrInvalid
	}
	return t.b.ReadLink(n)
}

func (t *treeFS[N]) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := t.resolve(name, true)
	if err != nil {
		return nil, t.wrap("readdir", name, err)
	}
	ents, err := t.readDir(n, name)
	return ents, t.wrap("readdir", name, err)
}

func (t *treeFS[N]) readDir(n N, name string) (out []fs.DirEntry, err error) {
	defer guard(&err)
	m, err := t.b.Meta(n)
	if err != nil {
		return nil, err
	}
	if !m.Mode.IsDir() {
		return nil, ErrNotDir
	}
	// A damaged directory returns what could be read with the error; both
	// reach the caller, as with os.ReadDir, so one bad block does not hide
	// the rest of the directory.
	ds, dirErr := t.b.ReadDir(n)
	if dirErr != nil && len(ds) == 0 {
		return nil, dirErr
	}
	out = make([]fs.DirEntry, 0, len(ds))
	for _, d := range ds {
		if d.Name == "" || d.Name == "." || d.Name == ".." || strings.Contains(d.Name, "/") {
			continue // a name io/fs cannot address; a corrupt or hostile entry
		}
		e := &dirEntry[N]{t: t, d: d, dir: name}
		if !d.TypeKnown {
			// ext2 without the filetype feature: the inode is the only source.
			if dm, err := t.meta(d.Node, d.Name); err == nil {
				e.m = dm
				e.d.Type = dm.Mode.Type()
			}
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, dirErr
}

type dirEntry[N comparable] struct {
	t   *treeFS[N]
	d   Dirent[N]
	dir string
	m   *Meta
}

func (e *dirEntry[N]) Name() string      { return e.d.Name }
func (e *dirEntry[N]) IsDir() bool       { return e.d.Type.IsDir() }
func (e *dirEntry[N]) Type() fs.FileMode { return e.d.Type.Type() }
func (e *dirEntry[N]) String() string    { return fs.FormatDirEntry(e) }
func (e *dirEntry[N]) Info() (fs.FileInfo, error) {
	if e.m == nil {
		m, err := e.t.meta(e.d.Node, e.d.Name)
		if err != nil {
			return nil, e.t.wrap("stat", path.Join(e.dir, e.d.Name), err)
		}
		m.Name = e.d.Name // a hard link's name is the entry's, not the inode's
		e.m = m
	}
	return e.m.Info(), nil
}

func (t *treeFS[N]) Open(name string) (fs.File, error) {
	n, err := t.resolve(name, true)
	if err != nil {
		return nil, t.wrap("open", name, err)
	}
	m, err := t.meta(n, name)
	if err != nil {
		return nil, t.wrap("open", name, err)
	}
	f := &file[N]{t: t, n: n, name: name, m: m}
	if m.Mode.IsRegular() {
		if err := f.openData(); err != nil {
			return nil, t.wrap("open", name, err)
		}
	} else if !m.Mode.IsDir() {
		// Device nodes, FIFOs and sockets have no content in an image; reading
		// them is how naive scanners hang on a mounted /dev.
		return nil, t.wrap("open", name, fmt.Errorf("not a regular file or directory (%s)", m.Mode.Type()))
	}
	return f, nil
}

func (f *file[N]) openData() (err error) {
	defer guard(&err)
	ra, size, err := f.t.b.Open(f.n)
	if err != nil {
		return err
	}
	f.ra = ra
	f.sr = io.NewSectionReader(safeReaderAt{ra}, 0, size)
	return nil
}

// safeReaderAt contains panics raised while reading file data.
type safeReaderAt struct{ r io.ReaderAt }

func (s safeReaderAt) ReadAt(p []byte, off int64) (n int, err error) {
	defer guard(&err)
	return s.r.ReadAt(p, off)
}

type file[N comparable] struct {
	t    *treeFS[N]
	n    N
	name string
	m    *Meta
	ra   io.ReaderAt
	sr   *io.SectionReader
	dir  []fs.DirEntry
	dirr bool
}

func (f *file[N]) Stat() (fs.FileInfo, error) { return f.m.Info(), nil }

// Close releases what the backend opened (a host file for a directory FS).
func (f *file[N]) Close() error {
	if f.sr != nil {
		if c, ok := f.ra.(io.Closer); ok {
			return c.Close()
		}
	}
	return nil
}

func (f *file[N]) Read(p []byte) (int, error) {
	if f.sr == nil {
		return 0, f.t.wrap("read", f.name, ErrIsDir)
	}
	n, err := f.sr.Read(p)
	if err != nil && err != io.EOF {
		err = f.t.wrap("read", f.name, err)
	}
	return n, err
}

func (f *file[N]) ReadAt(p []byte, off int64) (int, error) {
	if f.sr == nil {
		return 0, f.t.wrap("read", f.name, ErrIsDir)
	}
	n, err := f.sr.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = f.t.wrap("read", f.name, err)
	}
	return n, err
}

func (f *file[N]) Seek(off int64, whence int) (int64, error) {
	if f.sr == nil {
		return 0, f.t.wrap("seek", f.name, ErrIsDir)
	}
	return f.sr.Seek(off, whence)
}

func (f *file[N]) ReadDir(count int) ([]fs.DirEntry, error) {
	if !f.m.Mode.IsDir() {
		return nil, f.t.wrap("readdir", f.name, ErrNotDir)
	}
	if !f.dirr {
		ents, err := f.t.readDir(f.n, f.name)
		if err != nil {
			return nil, f.t.wrap("readdir", f.name, err)
		}
		f.dir, f.dirr = ents, true
	}
	if count <= 0 {
		out := f.dir
		f.dir = nil
		return out, nil
	}
	if len(f.dir) == 0 {
		return nil, io.EOF
	}
	k := min(count, len(f.dir))
	out := f.dir[:k]
	f.dir = f.dir[k:]
	return out, nil
}

// validPath is fs.ValidPath without its UTF-8 requirement: Linux names are
// bytes, and a name that is not UTF-8 must not hide a file from the checks.
func validPath(name string) bool {
	if name == "." {
		return true
	}
	for {
		i := strings.IndexByte(name, '/')
		elem := name
		if i >= 0 {
			elem = name[:i]
		}
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if i < 0 {
			return true
		}
		name = name[i+1:]
	}
}
