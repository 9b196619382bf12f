package container

import (
	"encoding/binary"
	"fmt"

	"github.com/snapscan/snapscan/fsread/internal/lru"
)

// Limits on what a container's own tables may cost. The tables a header
// claims (a VHD BAT, a VMDK grain directory and its grain tables) are read a
// page at a time, on the first access to an entry, through one bounded cache
// per disk: a header claiming a table of gigabytes costs nothing until the
// disk is read there, and then one page. docs/limits.md lists them.
const (
	tablePage = 4 << 10
	// tableCacheBytes bounds the cached table pages of one open disk.
	tableCacheBytes = 1 << 20
)

// tablePages reads fixed-width entries of on-disk tables through a page
// cache keyed by file offset. It is safe for concurrent use.
type tablePages struct {
	f     *file
	order binary.ByteOrder
	cache *lru.Cache[int64, []byte]
}

func newTablePages(f *file, order binary.ByteOrder) *tablePages {
	return &tablePages{f: f, order: order, cache: lru.New[int64, []byte](tableCacheBytes)}
}

// u32 returns the 4-byte entry at file offset off; what names the table for
// the error when the entry lies outside the file.
func (t *tablePages) u32(off int64, what string) (uint32, error) {
	if off < 0 || off > t.f.size-4 {
		return 0, fmt.Errorf("%s at offset %d lies outside the file (%d bytes): truncated or corrupt", what, off, t.f.size)
	}
	page := off &^ (tablePage - 1)
	in := off - page
	if in+4 > tablePage {
		// An entry across a page boundary (a table at an odd offset) is
		// read on its own.
		var b [4]byte
		if err := t.f.readFull(b[:], off, what); err != nil {
			return 0, err
		}
		return t.order.Uint32(b[:]), nil
	}
	p, ok := t.cache.Get(page)
	if !ok {
		n := min(int64(tablePage), t.f.size-page)
		p = make([]byte, n)
		if err := t.f.readFull(p, page, what); err != nil {
			return 0, err
		}
		t.cache.Put(page, p, len(p))
	}
	return t.order.Uint32(p[in:]), nil
}
