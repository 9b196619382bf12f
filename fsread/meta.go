// Package fsread is the seam between where bytes come from (an image, a
// volume, a filesystem, a directory) and what snapscan looks for. Every
// filesystem adapter is exposed as an FS: a read-only io/fs.FS whose
// FileInfo.Sys() is a *Meta carrying the forensic metadata checks need.
package fsread

import (
	"io/fs"
	"time"
)

// Inode flags (ext4 i_flags numbering, XFS mapped to it) that matter to an
// examiner. Only the
// anti-removal pair is judged by checks; the raw value is kept for display.
const (
	FlagImmutable  uint32 = 0x10 // chattr +i
	FlagAppendOnly uint32 = 0x20 // chattr +a
)

// Meta is the forensic stat of one directory entry. Fields a filesystem
// does not record stay zero and the matching Has* flag says so, so that a
// report never presents "uid 0" for an NTFS file whose owner is a SID.
type Meta struct {
	Name  string // base name as stored on disk
	Inode uint64 // ext inode number or NTFS MFT entry number
	// Dev tells filesystems apart inside a composed tree (fsread.Mount):
	// inode numbers repeat across volumes. Zero outside one.
	Dev   uint64
	Mode  fs.FileMode // type bits plus permission, setuid, setgid, sticky
	Size  int64
	Nlink uint32

	HasOwner bool
	UID, GID uint32
	// SecurityID is an NTFS file's security id ($STANDARD_INFORMATION):
	// its owner is in the volume's $Secure (fsread/ntfsowner). Zero
	// elsewhere.
	SecurityID uint32

	// Times are UTC; a zero time means the filesystem keeps no such stamp.
	Mtime, Atime, Ctime, Btime time.Time

	// Flags holds inode flags in the numbering lsattr uses (ext2/3/4
	// i_flags; XFS di_flags mapped to it, so immutable is 0x10 on both).
	// Attributes holds NTFS file attributes ($STANDARD_INFORMATION).
	Flags      uint32
	Attributes uint32

	LinkTarget string // for symlinks, the stored target, not resolved
}

// Immutable reports the ext4 immutable flag (chattr +i).
func (m *Meta) Immutable() bool { return m.Flags&FlagImmutable != 0 }

// AppendOnly reports the ext4 append-only flag (chattr +a).
func (m *Meta) AppendOnly() bool { return m.Flags&FlagAppendOnly != 0 }

// FlagNames lists the anti-removal flags set, for display.
func (m *Meta) FlagNames() []string {
	var out []string
	if m.Immutable() {
		out = append(out, "immutable")
	}
	if m.AppendOnly() {
		out = append(out, "append-only")
	}
	return out
}

// Info adapts a Meta to fs.FileInfo and fs.DirEntry.
func (m *Meta) Info() fs.FileInfo { return fileInfo{m} }

type fileInfo struct{ m *Meta }

func (fi fileInfo) Name() string               { return fi.m.Name }
func (fi fileInfo) Size() int64                { return fi.m.Size }
func (fi fileInfo) Mode() fs.FileMode          { return fi.m.Mode }
func (fi fileInfo) ModTime() time.Time         { return fi.m.Mtime }
func (fi fileInfo) IsDir() bool                { return fi.m.Mode.IsDir() }
func (fi fileInfo) Sys() any                   { return fi.m }
func (fi fileInfo) Type() fs.FileMode          { return fi.m.Mode.Type() }
func (fi fileInfo) Info() (fs.FileInfo, error) { return fi, nil }
func (fi fileInfo) String() string             { return fs.FormatFileInfo(fi) }

// MetaOf returns the forensic metadata behind a FileInfo from any snapscan
// FS. For a FileInfo from elsewhere it returns what the interface offers.
func MetaOf(fi fs.FileInfo) *Meta {
	if m, ok := fi.Sys().(*Meta); ok {
		return m
	}
	return &Meta{Name: fi.Name(), Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime()}
}

// ModeString renders a mode the way ls -l does ("drwxrwxrwt",
// "-rwsr-xr-x"), which is what examiners read; Go's FileMode.String differs.
func ModeString(m fs.FileMode) string {
	b := []byte("----------")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	special := func(pos int, set bool, exec, noexec byte) {
		if !set {
			return
		}
		if b[pos] == '-' {
			b[pos] = noexec
		} else {
			b[pos] = exec
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b)
}
