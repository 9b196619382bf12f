// Package boltdb opens a bbolt database found in an image safely: bbolt
// needs a file it can mmap, so the bytes are copied (bounded) into a
// temporary directory of our own, checked against the size their meta pages
// claim, and opened read-only; bbolt's panics on corrupt pages and faults
// on pages past the end of the mapping become errors.
package boltdb

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/snapscan/snapscan/artifact/tmpcopy"
)

// MaxSize bounds the copy (a busy Kubernetes node's meta.db is tens of MiB).
const MaxSize = 512 << 20

// View copies r (size bytes of the database called name in errors) and
// runs fn in a read-only transaction on the copy.
func View(name string, r io.Reader, size int64, fn func(*bolt.Tx) error) (err error) {
	if size > MaxSize {
		return fmt.Errorf("%s is %d bytes, more than the %d read", name, size, MaxSize)
	}
	dir, err := tmpcopy.Files([]string{"db"}, tmpcopy.Reader("db", r, size), MaxSize)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "db")
	if err := checkSize(name, p); err != nil {
		return err
	}
	db, err := bolt.Open(p, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer db.Close()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: corrupt database: %v", name, p)
		}
	}()
	return db.View(fn)
}

// checkSize compares the file with the high-water mark its meta pages
// claim: a truncated copy is named as such before bbolt maps it.
func checkSize(name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := make([]byte, 64)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return fmt.Errorf("%s: %d bytes, too short for a bbolt file", name, fi.Size())
	}
	// Page header (16 bytes), then meta: magic, version, page size.
	if binary.LittleEndian.Uint32(hdr[16:]) != 0xED0CDAED {
		return fmt.Errorf("%s: not a bbolt file (bad magic)", name)
	}
	ps := int64(binary.LittleEndian.Uint32(hdr[24:]))
	if ps < 512 || ps > 1<<16 {
		return fmt.Errorf("%s: page size %d", name, ps)
	}
	var hwm int64
	for i := int64(0); i < 2; i++ {
		m := make([]byte, 64)
		if _, err := f.ReadAt(m, i*ps); err != nil {
			continue
		}
		// meta: magic 4, version 4, pageSize 4, flags 4, root 16, freelist 8, pgid 8.
		if pg := int64(binary.LittleEndian.Uint64(m[16+40:])); pg > hwm && binary.LittleEndian.Uint32(m[16:]) == 0xED0CDAED {
			hwm = pg
		}
	}
	if hwm*ps > fi.Size() {
		return fmt.Errorf("%s: truncated: %d bytes, its meta pages claim %d pages of %d bytes", name, fi.Size(), hwm, ps)
	}
	return nil
}
