package hivelog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"reflect"
	"testing"
)

// fuzzPrimary is the fixed primary the fuzzed logs apply to (built once per
// process): 4 bins, a write begun after sequence 10.
var fuzzPrimary = testHive(4, 11, 10)

// fixHashes recomputes the hashes of every entry whose header is plausible,
// so mutations get past the Marvin32 checks to the reference, sequence and
// bounds logic behind them.
func fixHashes(log []byte) {
	off := logHeaderSize
	for off+entryHeaderSize <= len(log) && string(log[off:off+4]) == "HvLE" {
		size := int(binary.LittleEndian.Uint32(log[off+4:]))
		if size < entryHeaderSize || size%sector != 0 || size > len(log)-off {
			return
		}
		rehash(log[off : off+size])
		off += size
	}
}

// FuzzRecover drives log recovery with two arbitrary logs over a fixed
// primary. Invariants: no panic; what was applied fits in the logs; the
// recovered hive is bounded by the cap and has a clean base block at the
// last applied sequence; every sector that differs from the primary is one
// a log entry supplied; the same input gives the same result twice.
// Run with: go test -fuzz FuzzRecover ./artifact/hivelog
func FuzzRecover(f *testing.F) {
	f.Add(testNewLog(fuzzPrimary, entries(10, 11)...), testNewLog(fuzzPrimary, entries(12)...), false)
	f.Add(testNewLog(fuzzPrimary, entries(12)...), testNewLog(fuzzPrimary, entries(10, 11)...), true)
	f.Add(testOldLog(fuzzPrimary, 11, []int{0, 1, 9}, 0xAB), []byte(nil), false)
	f.Add(testNewLog(fuzzPrimary, testEntry{seq: 10, hbins: 8 * binAlign, pages: []testPage{{off: 7 * binAlign, size: sector, fill: 1}}}), []byte(nil), true)
	const maxHive = 1 << 20
	f.Fuzz(func(t *testing.T, l1, l2 []byte, fix bool) {
		if fix {
			l1, l2 = append([]byte(nil), l1...), append([]byte(nil), l2...)
			fixHashes(l1)
			fixHashes(l2)
		}
		run := func() (*Overlay, Record, []byte, error) {
			logs := []Log{memLog("LOG1", l1), memLog("LOG2", l2)}
			ov, rec, err := Recover(bytes.NewReader(fuzzPrimary), int64(len(fuzzPrimary)), logs, Options{MaxHiveSize: maxHive})
			if err != nil {
				return ov, rec, nil, err
			}
			return ov, rec, readAll(t, ov), nil
		}
		ov, rec, got, err := run()
		_, rec2, got2, err2 := run()
		if !reflect.DeepEqual(rec, rec2) || (err == nil) != (err2 == nil) || sha256.Sum256(got) != sha256.Sum256(got2) {
			t.Fatalf("two runs differ: %+v %v / %+v %v", rec, err, rec2, err2)
		}
		if err != nil {
			if ov != nil {
				t.Fatal("overlay returned with an error")
			}
			return
		}
		logBytes := len(l1) + len(l2)
		if rec.Entries < 1 || rec.Entries > logBytes/sector || rec.Pages > logBytes/sector || rec.Bytes > int64(logBytes) {
			t.Fatalf("record %+v does not fit in %d bytes of logs", rec, logBytes)
		}
		if int64(len(got)) > maxHive || len(got) < len(fuzzPrimary) {
			t.Fatalf("recovered %d bytes (primary %d, cap %d)", len(got), len(fuzzPrimary), maxHive)
		}
		if bb, err := ParseBaseBlock(got); err != nil || bb.Dirty() || bb.Seq1 != rec.LastSeq || int64(bb.HiveBinsSize)+BaseBlockSize > int64(len(got)) {
			t.Fatalf("recovered base block %+v %v, record %+v, %d bytes", bb, err, rec, len(got))
		}
		for off := BaseBlockSize; off+sector <= len(got); off += sector {
			var prim []byte
			if off+sector <= len(fuzzPrimary) {
				prim = fuzzPrimary[off : off+sector]
			} else {
				prim = make([]byte, sector)
			}
			if _, ok := ov.sectors[int64(off/sector)]; !ok && !bytes.Equal(got[off:off+sector], prim) {
				t.Fatalf("sector at %#x changed without a log page", off)
			}
		}
	})
}
