// Package tmpcopy copies database files out of an image into a private
// temporary directory, bounded in size, for readers that need a real file
// (bbolt maps one, SQLite opens one with its write-ahead log beside it).
// The image is only read; the copy is the readers' to open.
package tmpcopy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Opener opens one file of a database by name, with its size;
// fs.ErrNotExist for one that is absent.
type Opener func(name string) (io.ReadCloser, int64, error)

// Files copies names[0] (required) and the rest (optional: absent ones are
// skipped) into a new temporary directory, at most max bytes in all. The
// caller removes the directory.
func Files(names []string, open Opener, max int64) (dir string, err error) {
	dir, err = os.MkdirTemp("", "snapscan-db-")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
			dir = ""
		}
	}()
	var total int64
	for i, name := range names {
		rc, size, err := open(name)
		if err != nil {
			if i > 0 && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return "", err
		}
		if total += size; total > max {
			rc.Close()
			return "", fmt.Errorf("%s: more than the %d bytes read", name, max)
		}
		n, err := copyTo(filepath.Join(dir, name), rc, max)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("copying %s: %w", name, err)
		}
		if n < size {
			return "", fmt.Errorf("%s: read %d of %d bytes", name, n, size)
		}
	}
	return dir, nil
}

// Reader is an Opener of one file whose bytes are r.
func Reader(name string, r io.Reader, size int64) Opener {
	return func(n string) (io.ReadCloser, int64, error) {
		if n != name {
			return nil, 0, fs.ErrNotExist
		}
		return io.NopCloser(r), size, nil
	}
}

func copyTo(p string, r io.Reader, max int64) (int64, error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, max))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
