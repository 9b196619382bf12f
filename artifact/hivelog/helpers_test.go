package hivelog

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

func memLog(name string, b []byte) Log {
	return Log{Name: name, R: bytes.NewReader(b), Size: int64(len(b))}
}

// readAll materializes an overlay.
func readAll(t testing.TB, ov *Overlay) []byte {
	t.Helper()
	b := make([]byte, ov.Size())
	if n, err := ov.ReadAt(b, 0); n != len(b) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt: %d of %d bytes, %v", n, len(b), err)
	}
	return b
}

// The writers below build small hives and logs for the bad-input table and
// the fuzz seeds. They follow the specification, not a Windows capture, so
// they are never an oracle: the real hives in recover_test.go are.

// testHive is a primary file of nbins 4 KiB bins whose base block carries
// the given sequence numbers.
func testHive(nbins int, seq1, seq2 uint32) []byte {
	b := make([]byte, BaseBlockSize+nbins*binAlign)
	copy(b, "regf")
	le := binary.LittleEndian
	le.PutUint32(b[4:], seq1)
	le.PutUint32(b[8:], seq2)
	le.PutUint64(b[12:], 0x01d0000000000000)
	le.PutUint32(b[20:], 1)
	le.PutUint32(b[24:], 5)
	le.PutUint32(b[32:], 1)
	le.PutUint32(b[36:], 0x20)
	le.PutUint32(b[40:], uint32(nbins*binAlign))
	le.PutUint32(b[44:], 1)
	for i := 0; i < nbins; i++ {
		bin := b[BaseBlockSize+i*binAlign:]
		copy(bin, "hbin")
		le.PutUint32(bin[4:], uint32(i*binAlign))
		le.PutUint32(bin[8:], binAlign)
		for j := 32; j < binAlign; j++ {
			bin[j] = byte(i + 1) // primary content: the bin's number
		}
	}
	le.PutUint32(b[checksumSpan:], Checksum(b))
	return b
}

// testPage is one dirty page of a test log entry: size bytes of fill at
// offset (relative to the hive bins data).
type testPage struct {
	off, size uint32
	fill      byte
}

type testEntry struct {
	seq, hbins uint32
	pages      []testPage
}

// logHeader is the first sector of a log: the primary's base block with
// the log's file type and sequence numbers.
func logHeader(primary []byte, fileType, seq uint32) []byte {
	h := append([]byte(nil), primary[:logHeaderSize]...)
	le := binary.LittleEndian
	le.PutUint32(h[4:], seq)
	le.PutUint32(h[8:], seq)
	le.PutUint32(h[28:], fileType)
	le.PutUint32(h[checksumSpan:], Checksum(h))
	return h
}

// encodeEntry builds one HvLE entry with valid hashes.
func encodeEntry(e testEntry) []byte {
	le := binary.LittleEndian
	size := entryHeaderSize + 8*len(e.pages)
	for _, p := range e.pages {
		size += int(p.size)
	}
	size = (size + sector - 1) / sector * sector
	b := make([]byte, size)
	copy(b, "HvLE")
	le.PutUint32(b[4:], uint32(size))
	le.PutUint32(b[12:], e.seq)
	le.PutUint32(b[16:], e.hbins)
	le.PutUint32(b[20:], uint32(len(e.pages)))
	pos := entryHeaderSize + 8*len(e.pages)
	for i, p := range e.pages {
		le.PutUint32(b[entryHeaderSize+8*i:], p.off)
		le.PutUint32(b[entryHeaderSize+8*i+4:], p.size)
		for j := 0; j < int(p.size); j++ {
			b[pos+j] = p.fill
		}
		if p.off%binAlign == 0 && p.size >= 32 {
			copy(b[pos:], "hbin")
			le.PutUint32(b[pos+4:], p.off)
			le.PutUint32(b[pos+8:], binAlign)
		}
		pos += int(p.size)
	}
	rehash(b)
	return b
}

// rehash recomputes an entry's two hashes after a test changed it.
func rehash(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[24:], Marvin32(b[entryHeaderSize:le.Uint32(b[4:])], MarvinSeed))
	le.PutUint64(b[32:], Marvin32(b[:32], MarvinSeed))
}

// testNewLog is a new-format log holding entries in order.
func testNewLog(primary []byte, entries ...testEntry) []byte {
	seq := uint32(0)
	if len(entries) > 0 {
		seq = entries[0].seq
	}
	b := logHeader(primary, typeLogNew, seq)
	for _, e := range entries {
		b = append(b, encodeEntry(e)...)
	}
	return b
}

// testOldLog is an old-format log: base block copy, dirty vector with the
// given 512-byte pages set (index within the hive bins data), and the pages
// filled with fill.
func testOldLog(primary []byte, seq uint32, dirty []int, fill byte) []byte {
	le := binary.LittleEndian
	hbins := le.Uint32(primary[40:])
	b := logHeader(primary, typeLogOld, seq)
	vec := make([]byte, hbins/binAlign)
	for _, i := range dirty {
		vec[i/8] |= 1 << (i % 8)
	}
	b = append(b, "DIRT"...)
	b = append(b, vec...)
	for len(b)%sector != 0 {
		b = append(b, 0)
	}
	for _, i := range dirty {
		p := bytes.Repeat([]byte{fill}, sector)
		if i*sector%binAlign == 0 {
			copy(p, "hbin")
			le.PutUint32(p[4:], uint32(i*sector))
			le.PutUint32(p[8:], binAlign)
		}
		b = append(b, p...)
	}
	return b
}
