package main

import (
	"errors"
	"io"
	"io/fs"
	"strings"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/ntfs"
)

// fileStreams lists the named $DATA streams (alternate data streams) of p on
// an NTFS volume; other filesystems have none.
func fileStreams(fsys fsread.FS, p string) []ntfs.Stream {
	if !ntfs.Is(fsys) {
		return nil
	}
	s, err := ntfs.Streams(fsys, p)
	if err != nil {
		return nil
	}
	return s
}

// openFileOrStream opens p, or, when p is FILE:STREAM on NTFS (no NTFS name
// holds a ':'), that alternate data stream of FILE.
func openFileOrStream(fsys fsread.FS, p string) (io.ReadCloser, error) {
	f, err := fsys.Open(p)
	if err == nil {
		return f, nil
	}
	i := strings.LastIndexByte(p, ':')
	if i <= 0 || !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	r, serr := ntfs.OpenStream(fsys, p[:i], p[i+1:])
	if serr != nil {
		return nil, err
	}
	return io.NopCloser(r), nil
}
