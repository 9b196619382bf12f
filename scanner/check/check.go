// Package check is the contract between the scanner and its checks. A check
// sees one OS root as an fsread.FS and reports findings, inventory and
// errors; it never knows which filesystem or image the bytes came from.
package check

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
)

// Target is one operating-system root to examine.
type Target struct {
	FS     fsread.FS
	Volume string // how evidence names the volume, e.g. "disk.img@2"
	OS     string // "linux" or "windows"
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
	return &File{Path: name, Data: data, Evidence: ev, Meta: m}, truncErr
}

// EvidenceFor fills the metadata part of Evidence (no hashes).
func EvidenceFor(t *Target, name string, m *fsread.Meta) report.Evidence {
	ev := report.Evidence{
		Volume: t.Volume,
		Path:   "/" + Clean(name),
		Inode:  m.Inode,
		Mode:   fsread.ModeString(m.Mode),
		Size:   m.Size,
		Mtime:  timePtr(m.Mtime),
		Atime:  timePtr(m.Atime),
		Ctime:  timePtr(m.Ctime),
		Btime:  timePtr(m.Btime),
		Flags:  m.FlagNames(),
	}
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
