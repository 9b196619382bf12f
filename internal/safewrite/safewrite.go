// Package safewrite writes every file snapscan writes (reports, image lists,
// evidence copies and manifests) so that a write never destroys what is at
// the destination and never lands in what the run examines:
//
//   - a missing destination or a regular file is written atomically: a temp
//     file in the same directory, fsync, rename over the destination, fsync
//     of the directory. A failed or aborted write leaves the old file, or
//     nothing, never half a document.
//   - "-" (standard output), a FIFO, a character device (/dev/null) or a
//     terminal is opened O_WRONLY and written in place: it is never replaced
//     by a regular file.
//   - a symbolic link is followed to its target, which is treated by the same
//     rules (a dangling link creates its target).
//   - anything else (a directory, a socket, a block device) is refused.
//
// A Guard names the run's inputs (images, reports read) and trees (a --dir
// evidence tree): a destination that resolves to one of them is refused.
package safewrite

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrExist is returned by Commit with Options.NoReplace when the destination
// already exists; it is kept as it was.
var ErrExist = fs.ErrExist

// Options tune one write.
type Options struct {
	// Mode of a newly created file (default 0644). A regular file that is
	// replaced keeps its own permission bits.
	Mode fs.FileMode
	// NoReplace keeps an existing destination: Commit then returns
	// ErrExist. Evidence is written this way: a second capture never
	// replaces the first.
	NoReplace bool
	// Guard refuses destinations that are inputs of the run (nil: none).
	Guard *Guard
	// Stdout is what "-" writes to (default os.Stdout).
	Stdout io.Writer
}

// File is a destination being written. Write to it, then Commit (or Abort
// on failure). For an in-place destination (stdout, FIFO, device) Abort
// cannot take back what was written; it only closes.
type File struct {
	w      io.Writer
	f      *os.File // temp file, or the in-place destination; nil for stdout
	dest   string   // final path (atomic writes)
	mode   fs.FileMode
	atomic bool
	noRepl bool
	guard  *Guard
	done   bool
}

func (f *File) Write(p []byte) (int, error) { return f.w.Write(p) }

// Terminal returns the file written in place when it is a terminal (for
// the table's width and colour), or nil.
func (f *File) Terminal() *os.File {
	out, ok := f.w.(*os.File)
	if !ok || f.atomic {
		return nil
	}
	if fi, err := out.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return out
}

// Name is the destination as resolved (the target of a symbolic link).
func (f *File) Name() string {
	if f.atomic {
		return f.dest
	}
	if f.f != nil {
		return f.f.Name()
	}
	return "-"
}

// maxLinks bounds a chain of symbolic links, as the kernel's ELOOP does.
const maxLinks = 40

// Create opens dest for writing by the rules in the package comment.
func Create(dest string, o Options) (*File, error) {
	if dest == "" {
		return nil, errors.New("empty output path")
	}
	if isStdout(dest) {
		w := o.Stdout
		if w == nil {
			w = os.Stdout
		}
		return &File{w: w}, nil
	}
	target, fi, err := plan(dest, o)
	if err != nil {
		return nil, err
	}
	if fi != nil {
		if m := fi.Mode(); m.IsRegular() {
			return createTemp(target, m.Perm(), o)
		}
		// Opening O_WRONLY without O_CREATE or O_TRUNC: a FIFO waits for
		// its reader, as a shell redirect does; a device stays a device.
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &File{w: f, f: f}, nil
	}
	mode := o.Mode
	if mode == 0 {
		mode = 0o644
	}
	return createTemp(target, mode, o)
}

// Check tells whether Create(dest, o) would be refused, without creating
// or opening anything: a run checks its outputs before it scans for an
// hour.
func Check(dest string, o Options) error {
	if dest == "" {
		return errors.New("empty output path")
	}
	if isStdout(dest) {
		return nil
	}
	_, _, err := plan(dest, o)
	return err
}

// plan resolves dest and applies the rules: the path to write and what is
// there now (nil: nothing).
func plan(dest string, o Options) (string, fs.FileInfo, error) {
	target, fi, err := resolve(dest)
	if err != nil {
		return "", nil, err
	}
	if err := o.Guard.Check(target); err != nil {
		return "", nil, err
	}
	if fi == nil {
		return target, nil, nil
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		if o.NoReplace {
			return "", nil, fmt.Errorf("%s: %w", dest, ErrExist)
		}
		if m.Perm()&0o222 == 0 {
			// Read-only (an evidence copy, a manifest): the shell would
			// refuse '>' here, and root must not replace it either.
			return "", nil, fmt.Errorf("%s: a read-only file: refusing to replace it", dest)
		}
	case m&fs.ModeNamedPipe != 0, m&fs.ModeCharDevice != 0:
	default:
		return "", nil, fmt.Errorf("%s: %s: refusing to write there (want a regular file, a FIFO, a character device or -)", dest, kind(m))
	}
	return target, fi, nil
}

// CreateTemp starts a file in dir whose name is decided at the end
// (CommitAs): a content-addressed evidence copy is named by its hash.
func CreateTemp(dir string, o Options) (*File, error) {
	if err := o.Guard.Check(filepath.Join(dir, ".probe")); err != nil {
		return nil, err
	}
	mode := o.Mode
	if mode == 0 {
		mode = 0o644
	}
	return createTemp(filepath.Join(dir, ".snapscan"), mode, o)
}

func createTemp(dest string, mode fs.FileMode, o Options) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{w: tmp, f: tmp, dest: dest, mode: mode, atomic: true, noRepl: o.NoReplace, guard: o.Guard}, nil
}

// Commit makes the write final: for an atomic write, fsync, rename (or
// link, with NoReplace) into place and fsync the directory.
func (f *File) Commit() error { return f.CommitAs(f.dest) }

// CommitAs commits an atomic write under another name in the same
// directory (a CreateTemp file). In-place writes ignore the name.
func (f *File) CommitAs(dest string) error {
	if f.done {
		return errors.New("safewrite: file already committed or aborted")
	}
	f.done = true
	if !f.atomic {
		if f.f != nil {
			return f.f.Close()
		}
		return nil
	}
	tmp := f.f.Name()
	if filepath.Dir(dest) != filepath.Dir(f.dest) {
		f.cleanup()
		return fmt.Errorf("safewrite: %s is not in %s", dest, filepath.Dir(f.dest))
	}
	err := f.f.Chmod(f.mode)
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.guard.Check(dest)
	}
	if err == nil {
		err = publish(tmp, dest, f.noRepl)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	return syncDir(filepath.Dir(dest))
}

// Abort gives up the write: an atomic destination is left as it was.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.cleanup()
}

func (f *File) cleanup() {
	if f.f == nil {
		return
	}
	f.f.Close()
	if f.atomic {
		os.Remove(f.f.Name())
	}
}

// publish moves tmp to dest. With noReplace a hard link refuses an existing
// dest atomically; hosts without hard links fall back to a checked rename.
func publish(tmp, dest string, noReplace bool) error {
	if !noReplace {
		return os.Rename(tmp, dest)
	}
	err := os.Link(tmp, dest)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return ErrExist
	}
	if _, serr := os.Lstat(dest); serr == nil {
		return ErrExist
	}
	return os.Rename(tmp, dest)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some filesystems cannot fsync a directory (EINVAL); the rename itself
	// has happened.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// WriteFile writes data to dest through Create and Commit.
func WriteFile(dest string, data []byte, o Options) error {
	f, err := Create(dest, o)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	return f.Commit()
}

// isStdout: "-" and the names of the process's own standard output are
// written to the stream itself, never resolved through /proc.
func isStdout(p string) bool {
	switch p {
	case "-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return true
	}
	return false
}

// resolve follows symbolic links from p to the path that will be written
// and returns it with its FileInfo (nil when it does not exist yet).
func resolve(p string) (string, fs.FileInfo, error) {
	cur := p
	for range maxLinks {
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			// Missing: it will be created in its directory, which must
			// exist (no silent mkdir -p of a mistyped path).
			dir := filepath.Dir(cur)
			dfi, derr := os.Stat(dir)
			if derr != nil {
				return "", nil, fmt.Errorf("%s: directory %s: %w", p, dir, derr)
			}
			if !dfi.IsDir() {
				return "", nil, fmt.Errorf("%s: %s is not a directory", p, dir)
			}
			return cur, nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return cur, fi, nil
		}
		link, err := os.Readlink(cur)
		if err != nil {
			return "", nil, err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(cur), link)
		}
		cur = link
	}
	return "", nil, fmt.Errorf("%s: too many levels of symbolic links", p)
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "not a regular file (" + m.String() + ")"
}

// Guard is the set of paths a run must not write: its inputs (files) and
// trees (directories scanned as evidence). The zero Guard and a nil *Guard
// protect nothing.
type Guard struct {
	files []guarded
	trees []string
}

type guarded struct {
	path string
	fi   fs.FileInfo
}

// Protect adds input files (images, reports, lists); missing ones are
// ignored (the scan reports them).
func (g *Guard) Protect(paths ...string) {
	for _, p := range paths {
		if p == "" || p == "-" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			g.files = append(g.files, guarded{p, fi})
		}
	}
}

// ProtectTree adds directories nothing may be written into.
func (g *Guard) ProtectTree(dirs ...string) {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if abs, err := realPath(d); err == nil {
			g.trees = append(g.trees, abs)
		}
	}
}

// Clone copies g, so that one command can protect more than another.
func (g *Guard) Clone() *Guard {
	if g == nil {
		return &Guard{}
	}
	return &Guard{files: append([]guarded(nil), g.files...), trees: append([]string(nil), g.trees...)}
}

// Check refuses path when it is (or resolves to) a protected file or lies
// inside a protected tree.
func (g *Guard) Check(path string) error {
	if g == nil {
		return nil
	}
	if fi, err := os.Stat(path); err == nil {
		for _, in := range g.files {
			if os.SameFile(fi, in.fi) {
				return fmt.Errorf("%s is %s, an input of this run: refusing to overwrite evidence", path, in.path)
			}
		}
	}
	real, err := realPath(path)
	if err != nil {
		return err
	}
	for _, d := range g.trees {
		if real == d || strings.HasPrefix(real, d+string(filepath.Separator)) {
			return fmt.Errorf("%s is inside %s, which this run examines: refusing to write into evidence", path, d)
		}
	}
	return nil
}

// realPath is path made absolute with every symbolic link in it resolved,
// as far as it exists.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	dir, base := filepath.Split(abs)
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(r, base), nil
	}
	return abs, nil
}
