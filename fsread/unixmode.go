package fsread

import "io/fs"

// UnixMode converts an on-disk st_mode (ext2/3/4, XFS) to an fs.FileMode.
// An unknown type is ModeIrregular: never opened, always shown.
func UnixMode(mode uint16) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch mode & 0o170000 {
	case 0o100000:
	case 0o040000:
		m |= fs.ModeDir
	case 0o120000:
		m |= fs.ModeSymlink
	case 0o010000:
		m |= fs.ModeNamedPipe
	case 0o140000:
		m |= fs.ModeSocket
	case 0o020000:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		m |= fs.ModeDevice
	default:
		m |= fs.ModeIrregular
	}
	return m
}

// DirentFileType maps the file-type byte that ext4 (filetype feature) and
// XFS (ftype) store in directory entries; both use the same codes. ok is
// false for 0 (unknown) and anything else neither writes.
func DirentFileType(ft uint8) (fs.FileMode, bool) {
	switch ft {
	case 1:
		return 0, true
	case 2:
		return fs.ModeDir, true
	case 3:
		return fs.ModeDevice | fs.ModeCharDevice, true
	case 4:
		return fs.ModeDevice, true
	case 5:
		return fs.ModeNamedPipe, true
	case 6:
		return fs.ModeSocket, true
	case 7:
		return fs.ModeSymlink, true
	}
	return 0, false
}
