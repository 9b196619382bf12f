package hivelog

import (
	"errors"
	"io"
)

// Overlay is a recovered hive: a rewritten base block and the log's dirty
// pages over the unchanged primary file, zeros where the hive grew past the
// primary's end. It holds the pages it applied (at most the logs' size) and
// reads the primary on demand.
type Overlay struct {
	primary io.ReaderAt
	plen    int64 // primary bytes available
	size    int64
	base    []byte           // BaseBlockSize bytes
	sectors map[int64][]byte // absolute offset / 512 -> 512 bytes
}

func newOverlay(primary io.ReaderAt, plen int64, base []byte) *Overlay {
	return &Overlay{primary: primary, plen: plen, size: plen, base: base, sectors: map[int64][]byte{}}
}

// Size is the recovered hive's length.
func (o *Overlay) Size() int64 { return o.size }

// put places data (a whole number of sectors) at an absolute hive offset.
// Later entries overwrite earlier ones, as Windows applies them in order.
func (o *Overlay) put(off int64, data []byte) {
	for i := 0; i+sector <= len(data); i += sector {
		o.sectors[(off+int64(i))/sector] = data[i : i+sector]
	}
	if end := off + int64(len(data)); end > o.size {
		o.size = end
	}
}

func (o *Overlay) grow(n int64) {
	if n > o.size {
		o.size = n
	}
}

// ReadAt implements io.ReaderAt over the recovered hive.
func (o *Overlay) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("hivelog: negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	end := off + int64(len(p))
	var tailErr error
	if end > o.size {
		end, tailErr = o.size, io.EOF
	}
	pos := off
	for pos < end {
		if pos < BaseBlockSize {
			n := copy(p[pos-off:end-off], o.base[pos:])
			pos += int64(n)
			continue
		}
		if d, ok := o.sectors[pos/sector]; ok {
			n := copy(p[pos-off:end-off], d[pos%sector:])
			pos += int64(n)
			continue
		}
		// A run of sectors the logs did not touch comes from the primary
		// in one read.
		run := (pos/sector + 1) * sector
		for run < end {
			if _, ok := o.sectors[run/sector]; ok {
				break
			}
			run += sector
		}
		if run > end {
			run = end
		}
		if err := o.readPrimary(p[pos-off:run-off], pos); err != nil {
			return int(pos - off), err
		}
		pos = run
	}
	return int(end - off), tailErr
}

// readPrimary fills b from the primary at off, zeros past its end.
func (o *Overlay) readPrimary(b []byte, off int64) error {
	n := int64(0)
	if off < o.plen {
		n = o.plen - off
		if n > int64(len(b)) {
			n = int64(len(b))
		}
		got, err := o.primary.ReadAt(b[:n], off)
		if int64(got) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	clear(b[n:])
	return nil
}
