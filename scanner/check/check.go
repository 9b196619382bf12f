// Package check is the contract between the scanner and its checks. A check
// sees one OS root as an fsread.FS and reports findings, inventory and
// errors; it never knows which filesystem or image the bytes came from.
package check

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
)

// Target is one operating-system root to examine.
type Target struct {
	FS     fsread.FS
	Volume string // how evidence names the volume, e.g. "disk.img@2"
	OS     string // "linux" or "windows"
	// Mounts names the volume mounted at each mount point of a composed
	// root (fsread.Mount), e.g. "/home" -> "disk.img@2": evidence names
	// the volume that stores a file, not the root it was reached from.
	Mounts map[string]string
	// MountPoint is where FS sits in its OS when FS is one volume seen on
	// its own (the content sweep of /home): evidence paths are the paths
	// the running system used, "/home/bob/x", not "/bob/x".
	MountPoint string

	// shared holds what several checks of this target read: built once,
	// dropped with the target at the end of the scan.
	shared sync.Map
}

type sharedEntry struct {
	once sync.Once
	v    any
	err  error
}

// Shared returns what build makes for key, built once per target however
// many checks ask (a registry hive six checks parse; issue 18's "a file
// needed by several checks is read once"). The value must be safe to read
// concurrently and never changed after build.
func (t *Target) Shared(key string, build func() (any, error)) (any, error) {
	e, _ := t.shared.LoadOrStore(key, &sharedEntry{})
	se := e.(*sharedEntry)
	se.once.Do(func() { se.v, se.err = build() })
	return se.v, se.err
}

// Place names the volume that stores the file at osPath (as the OS sees
// it, links followed) and its path there when that differs: for what a
// check reports without reading through ReadFile (inventory items).
func (t *Target) Place(osPath string) (volume, volPath string) {
	p := "/" + Clean(osPath)
	return t.place(Clean(osPath), p, nil)
}

// place names where name is stored: the volume and, when it differs from
// the path the OS used (a mount, a symbolic link), the path on that volume.
// m is name's metadata; a symbolic link's own metadata places the link.
func (t *Target) place(name, osPath string, m *fsread.Meta) (volume, volPath string) {
	loc := name
	if m != nil && m.Mode&fs.ModeSymlink != 0 {
		loc = path.Dir(name)
	}
	mp, inner, err := fsread.Locate(t.FS, loc)
	if err != nil {
		return t.Volume, ""
	}
	if loc != name {
		inner = path.Join(inner, path.Base(name))
	}
	volume = t.Volume
	if mp != "/" {
		v, ok := t.Mounts[mp]
		if !ok {
			return t.Volume, ""
		}
		volume = v
	}
	if p := "/" + Clean(inner); p != osPath {
		volPath = p
	}
	return volume, volPath
}

// Sink receives what a check produces. Implementations are safe for
// concurrent use: checks run in parallel.
type Sink interface {
	Finding(report.Finding)
	Inventory(report.InventoryItem)
	// Error records a file or directory that could not be read or parsed.
	// A missing file is not an error: most places are absent on most hosts.
	Error(path string, err error)
}

// Check is one persistence place or family of markers. Adding a check is one
// file and one line in its OS's registry.
type Check interface {
	Name() string
	// OS is the target OS the check applies to ("linux", "windows").
	OS() string
	Run(ctx context.Context, t *Target, out Sink) error
}

// MaxArtifactSize caps how much of a persistence file a check reads: crontabs,
// units and keys are small, and a hostile image may claim any size.
const MaxArtifactSize = 16 << 20

// File is a persistence file read once: its bytes and the evidence about it
// (metadata and hashes of exactly those bytes).
type File struct {
	Path     string
	Data     []byte
	Evidence report.Evidence
	Meta     *fsread.Meta
}

// ReadFile reads name (following symlinks, as the OS would) up to
// MaxArtifactSize and returns its bytes with evidence. Truncation is
// reported as an error alongside the partial content.
func ReadFile(t *Target, name string) (*File, error) { return ReadFileMax(t, name, MaxArtifactSize) }

// ErrTooLarge marks a file read only in part because of the size cap.
var ErrTooLarge = errors.New("larger than the size cap; only the head was read")

// ReadFileMax is ReadFile with another cap, for artifacts that are
// legitimately large (registry hives).
func ReadFileMax(t *Target, name string, max int) (*File, error) {
	return ReadFileOnce(t, name, max, nil, "")
}

// LinkedError is ReadFileOnce's answer for a name whose inode was already
// read under another name: nothing was read.
type LinkedError struct {
	Path, First string
	Inode       uint64
}

func (e *LinkedError) Error() string {
	return "/" + e.Path + " is a hard link of /" + e.First + ": content judged once, there"
}

// ReadFileOnce is ReadFileMax that reads each multiply-linked inode once per
// scope of links: a later name returns a nil File and a *LinkedError naming
// the first. links nil reads every name.
func ReadFileOnce(t *Target, name string, max int, links *Links, scope string) (*File, error) {
	name = Clean(name)
	f, err := t.FS.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fsread.ErrIsDir}
	}
	if links != nil {
		m := fsread.MetaOf(info)
		if first, seen := links.First(m, scope, name); seen {
			return nil, &LinkedError{Path: name, First: first, Inode: m.Inode}
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	var truncErr error
	if len(data) > max {
		data = data[:max]
		truncErr = &fs.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	m := fsread.MetaOf(info)
	ev := EvidenceFor(t, name, m)
	if lm, err := t.FS.Lstat(name); err == nil && lm.Mode()&fs.ModeSymlink != 0 {
		ev.LinkTarget = fsread.MetaOf(lm).LinkTarget
	}
	md := md5.Sum(data)
	sh := sha256.Sum256(data)
	ev.MD5, ev.SHA256 = hex.EncodeToString(md[:]), hex.EncodeToString(sh[:])
	ev.Binary = Binary(data)
	return &File{Path: name, Data: data, Evidence: ev, Meta: m}, truncErr
}

// EvidenceFor fills the metadata part of Evidence (no hashes): the path as
// the OS saw it, and the volume (with the path on it) that stores the file.
func EvidenceFor(t *Target, name string, m *fsread.Meta) report.Evidence {
	osPath := "/" + Clean(name)
	if mp := strings.Trim(t.MountPoint, "/"); mp != "" {
		osPath = path.Clean("/" + mp + osPath)
	}
	ev := report.Evidence{
		Path:  osPath,
		Inode: m.Inode,
		Mode:  fsread.ModeString(m.Mode),
		Size:  m.Size,
		Mtime: timePtr(m.Mtime),
		Atime: timePtr(m.Atime),
		Ctime: timePtr(m.Ctime),
		Btime: timePtr(m.Btime),
		Flags: m.FlagNames(),
	}
	ev.Volume, ev.VolumePath = t.place(Clean(name), osPath, m)
	if m.HasOwner {
		uid, gid := m.UID, m.GID
		ev.UID, ev.GID = &uid, &gid
	}
	if m.Mode&fs.ModeSymlink != 0 {
		ev.LinkTarget = m.LinkTarget
	}
	return ev
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// textProbe is how much of a file Binary looks at, as git does.
const textProbe = 8000

// Binary reports whether content is not text: a NUL byte in its first 8000
// bytes (git's test). Text files are placed by line, binaries by offset.
func Binary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), textProbe)], 0) >= 0
}

// LineAt is the 1-based line holding byte offset off of a text file.
func LineAt(data []byte, off uint64) int {
	if off > uint64(len(data)) {
		off = uint64(len(data))
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// Clean turns an absolute image path ("/etc/crontab") into the io/fs form
// ("etc/crontab").
func Clean(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// Deadline is a convenience for checks that loop over many entries.
func Deadline(ctx context.Context) bool { return ctx.Err() != nil }
