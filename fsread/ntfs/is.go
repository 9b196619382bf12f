package ntfs

import "github.com/snapscan/snapscan/fsread"

// Is says whether fsys is an NTFS volume made by New, on which Streams,
// OpenStream and FileNames work; callers that look at alternate data
// streams skip other filesystems with it instead of an error.
func Is(fsys fsread.FS) bool {
	_, ok := fsys.(*volume)
	return ok
}
