package hivelog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"reflect"
	"runtime"
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
// primary whose base block the fuzzer may also overwrite (hdr; with fix, its
// checksum and the entries' hashes are recomputed, so both the damaged and
// the valid base block paths and the logic behind the hashes are reached).
// Invariants: no panic; what was applied fits in the logs; the recovered
// hive is bounded by the cap and has a clean base block at the last applied
// sequence; memory stays within the logs' size; every sector that differs
// from the primary is one a log entry supplied; the same input gives the
// same result twice. Run with: go test -fuzz FuzzRecover ./artifact/hivelog
func FuzzRecover(f *testing.F) {
	// Small seeds (512-byte pages) keep mutations on the structure.
	small := func(seq uint32) testEntry {
		return testEntry{seq: seq, hbins: 4 * binAlign, pages: []testPage{{off: (seq % 4) * binAlign, size: sector, fill: byte(seq)}}}
	}
	f.Add(testNewLog(fuzzPrimary, small(10), small(11)), testNewLog(fuzzPrimary, small(12)), []byte(nil), false)
	f.Add(testNewLog(fuzzPrimary, small(12)), testNewLog(fuzzPrimary, small(10), small(11)), []byte(nil), true)
	f.Add(testNewLog(fuzzPrimary, entries(10, 11)...), testNewLog(fuzzPrimary, entries(12)...), []byte(nil), true)
	f.Add(testOldLog(fuzzPrimary, 11, []int{0, 1, 9}, 0xAB), []byte(nil), []byte(nil), false)
	f.Add(testNewLog(fuzzPrimary, testEntry{seq: 10, hbins: 8 * binAlign, pages: []testPage{{off: 7 * binAlign, size: sector, fill: 1}}}), []byte(nil), []byte(nil), true)
	f.Add(testNewLog(fuzzPrimary, entries(10)...), []byte(nil), []byte("regf\x0b\x00\x00\x00\x0a\x00\x00\x00\xff"), false)
	const maxHive = 1 << 20
	f.Fuzz(func(t *testing.T, l1, l2, hdr []byte, fix bool) {
		primary := fuzzPrimary
		if len(hdr) > 0 {
			primary = append([]byte(nil), fuzzPrimary...)
			copy(primary[:logHeaderSize], hdr)
			if fix {
				putChecksum(primary)
			}
		}
		if fix {
			l1, l2 = append([]byte(nil), l1...), append([]byte(nil), l2...)
			fixHashes(l1)
			fixHashes(l2)
		}
		run := func() (*Overlay, Record, []byte, error) {
			logs := []Log{memLog("LOG1", l1), memLog("LOG2", l2)}
			ov, rec, err := Recover(bytes.NewReader(primary), int64(len(primary)), logs, Options{MaxHiveSize: maxHive})
			if err != nil {
				return ov, rec, nil, err
			}
			return ov, rec, readAll(t, ov), nil
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		ov, rec, got, err := run()
		runtime.ReadMemStats(&m1)
		// Memory: entries read (never more than the logs hold), the base
		// block and bookkeeping, plus the materialized hive of the check.
		if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > uint64(2*(len(l1)+len(l2))+len(got)+len(primary)+128<<10) {
			t.Fatalf("recovery allocated %d bytes for %d+%d bytes of logs", alloc, len(l1), len(l2))
		}
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
		if int64(len(got)) > maxHive || len(got) < len(primary) {
			t.Fatalf("recovered %d bytes (primary %d, cap %d)", len(got), len(primary), maxHive)
		}
		if bb, err := ParseBaseBlock(got); err != nil || bb.Dirty() || bb.Seq1 != rec.LastSeq || int64(bb.HiveBinsSize)+BaseBlockSize > int64(len(got)) {
			t.Fatalf("recovered base block %+v %v, record %+v, %d bytes", bb, err, rec, len(got))
		}
		for off := BaseBlockSize; off+sector <= len(got); off += sector {
			var prim []byte
			if off+sector <= len(primary) {
				prim = primary[off : off+sector]
			} else {
				prim = make([]byte, sector)
			}
			if _, ok := ov.sectors[int64(off/sector)]; !ok && !bytes.Equal(got[off:off+sector], prim) {
				t.Fatalf("sector at %#x changed without a log page", off)
			}
		}
	})
}
