package hivelog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// entryFor is test entry seq: one 4 KiB page over bin seq%4 filled with
// the low byte of seq, in a hive of 4 bins.
func entryFor(seq uint32) testEntry {
	return testEntry{seq: seq, hbins: 4 * binAlign, pages: []testPage{{off: (seq % 4) * binAlign, size: binAlign, fill: byte(seq)}}}
}

func entries(seqs ...uint32) []testEntry {
	var out []testEntry
	for _, s := range seqs {
		out = append(out, entryFor(s))
	}
	return out
}

// entryAt returns the byte offset of the i-th entry of a new-format log.
func entryAt(log []byte, i int) int {
	off := logHeaderSize
	for ; i > 0; i-- {
		off += int(binary.LittleEndian.Uint32(log[off+4:]))
	}
	return off
}

// TestBadLogs: corrupt, truncated and hostile logs end recovery at the last
// valid entry with a warning naming the log and the entry, or leave the hive
// dirty with the reason; never a panic, never memory beyond the logs.
func TestBadLogs(t *testing.T) {
	primary := testHive(4, 11, 10) // a write began after sequence 10
	log1 := testNewLog(primary, entries(10, 11, 12)...)
	log2 := testNewLog(primary, entries(13, 14)...)
	edit := func(b []byte, f func([]byte)) []byte {
		b = append([]byte(nil), b...)
		f(b)
		return b
	}
	le := binary.LittleEndian
	cases := []struct {
		name     string
		primary  []byte
		logs     [][]byte // LOG1, LOG2
		wantErr  error
		entries  int
		lastSeq  uint32
		warn     []string // substrings of the warnings or of the error
		hiveSize int64
	}{
		{"both logs in sequence", primary, [][]byte{log1, log2}, nil, 5, 14, nil, 0},
		{"LOG2 given before LOG1", primary, [][]byte{log2, log1}, nil, 5, 14, nil, 0},
		{"truncated inside entry 12", primary, [][]byte{log1[:entryAt(log1, 2)+1024], log2}, nil, 2, 11,
			[]string{"LOG1: log entry at offset 0x2600 (sequence 12): claims", "stopped after sequence 11", "LOG2: entries 13..14 do not continue sequence 11"}, 0},
		{"bad hash-1 in entry 11", primary, [][]byte{edit(log1, func(b []byte) { b[entryAt(b, 1)+100] ^= 1 }), log2}, nil, 1, 10,
			[]string{"(sequence 11): bad hash-1", "stopped after sequence 10"}, 0},
		{"bad hash-2 in entry 11", primary, [][]byte{edit(log1, func(b []byte) { b[entryAt(b, 1)+8] ^= 1 }), log2}, nil, 1, 10,
			[]string{"(sequence 11): bad hash-2"}, 0},
		{"sequence gap 11 -> 15", primary, [][]byte{testNewLog(primary, entries(10, 11, 15)...)}, nil, 2, 11,
			[]string{"sequence 15 follows 11", "entries missing"}, 0},
		{"older remnant after the newest entry", primary, [][]byte{testNewLog(primary, entries(10, 11, 3)...)}, nil, 2, 11, nil, 0},
		{"entry claiming 4 GiB", primary, [][]byte{edit(log1, func(b []byte) { le.PutUint32(b[entryAt(b, 1)+4:], 0xFFFFFE00) })}, nil, 1, 10,
			[]string{"claims 4294966784 bytes"}, 0},
		{"hive bins claiming 4 GiB", primary, [][]byte{edit(log1, func(b []byte) {
			e := b[entryAt(b, 1):]
			le.PutUint32(e[16:], 0xFFFFF000)
			rehash(e)
		})}, nil, 1, 10, []string{"hive bins data size 4294963200 exceeds"}, 0},
		{"dirty page beyond the hive bins", primary, [][]byte{edit(log1, func(b []byte) {
			e := b[entryAt(b, 1):]
			le.PutUint32(e[entryHeaderSize:], 4*binAlign)
			rehash(e)
		})}, nil, 1, 10, []string{"lies beyond the hive bins data"}, 0},
		{"misaligned dirty page", primary, [][]byte{edit(log1, func(b []byte) {
			e := b[entryAt(b, 1):]
			le.PutUint32(e[entryHeaderSize:], 100)
			rehash(e)
		})}, nil, 1, 10, []string{"not sector-aligned"}, 0},
		{"page count beyond the entry", primary, [][]byte{edit(log1, func(b []byte) {
			e := b[entryAt(b, 1):]
			le.PutUint32(e[20:], 0x7FFFFFFF)
			rehash(e)
		})}, nil, 1, 10, []string{"dirty page references do not fit"}, 0},
		{"both logs corrupt", primary, [][]byte{
			edit(log1, func(b []byte) { b[entryAt(b, 0)+200] ^= 1 }),
			edit(log2, func(b []byte) { b[entryAt(b, 0)+12] ^= 1 }),
		}, ErrNoLog, 0, 0, []string{"LOG1: log entry at offset 0x200 (sequence 10): bad hash-1", "LOG2: log entry at offset 0x200", "bad hash-2", "LOG1: no valid log entry"}, 0},
		{"log older than the base block", primary, [][]byte{testNewLog(primary, entries(5, 6)...)}, ErrNoLog, 0, 0,
			[]string{"entries 5..6 precede the base block's sequence 10"}, 0},
		{"empty logs", primary, [][]byte{nil, make([]byte, 100)}, ErrNoLog, 0, 0, []string{"LOG1: empty", "LOG2: empty"}, 0},
		{"log without entries", primary, [][]byte{append(logHeader(primary, typeLogNew, 10), make([]byte, sector)...)}, ErrNoLog, 0, 0, []string{"holds no log entries"}, 0},
		{"no logs", primary, nil, ErrNoLog, 0, 0, []string{"no .LOG1, .LOG2 or .LOG file"}, 0},
		{"clean hive", testHive(4, 10, 10), [][]byte{log1}, ErrNotDirty, 0, 0, nil, 0},
		{"entry grows the hive", primary, [][]byte{testNewLog(primary, append(entries(10), testEntry{seq: 11, hbins: 7 * binAlign,
			pages: []testPage{{off: 6 * binAlign, size: binAlign, fill: 0xEE}}})...)}, nil, 2, 11, nil, BaseBlockSize + 7*binAlign},
		{"primary base block damaged", edit(primary, func(b []byte) { b[100] ^= 0xFF }), [][]byte{log1, log2}, nil, 5, 14,
			[]string{"primary base block checksum is bad; base block taken from LOG1"}, 0},
		{"old format", primary, [][]byte{testOldLog(primary, 11, []int{0, 1, 2, 3, 4, 5, 6, 7, 17}, 0xAB)}, nil, 1, 11, nil, 0},
		{"old format, other timestamp", primary, [][]byte{edit(testOldLog(primary, 11, []int{3}, 0xAB), func(b []byte) {
			b[12] ^= 1
			putChecksum(b)
		})}, ErrNoLog, 0, 0, []string{"last written timestamp differs"}, 0},
		{"old format, log incomplete", primary, [][]byte{edit(testOldLog(primary, 11, []int{3}, 0xAB), func(b []byte) {
			b[4] ^= 1
			putChecksum(b)
		})}, ErrNoLog, 0, 0, []string{"log itself incomplete"}, 0},
		{"old format, truncated", primary, [][]byte{testOldLog(primary, 11, []int{1, 2, 3}, 0xAB)[:1024+512]}, ErrNoLog, 0, 0,
			[]string{"truncated: 3 dirty pages announced, room for 1"}, 0},
		{"old format, bad bin header", primary, [][]byte{edit(testOldLog(primary, 11, []int{3, 8}, 0xAB), func(b []byte) {
			le.PutUint32(b[1024+512+4:], 0x9000)
		})}, nil, 1, 11, []string{"dirty hive bin at 0x1000 claims offset 0x9000", "stopped there"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs []Log
			for i, b := range c.logs {
				logs = append(logs, memLog([]string{"LOG1", "LOG2"}[i], b))
			}
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			ov, rec, err := Recover(bytes.NewReader(c.primary), int64(len(c.primary)), logs, Options{})
			runtime.ReadMemStats(&ms1)
			var logBytes int
			for _, b := range c.logs {
				logBytes += len(b)
			}
			// Memory: the base block, the entries read (never more than the
			// logs hold) and bookkeeping.
			if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > uint64(2*logBytes+64<<10) {
				t.Errorf("allocated %d bytes for %d bytes of logs", alloc, logBytes)
			}
			all := strings.Join(rec.Warnings, "\n")
			if err != nil {
				all += "\n" + err.Error()
			}
			for _, w := range c.warn {
				if !strings.Contains(all, w) {
					t.Errorf("warnings/error %q do not mention %q", all, w)
				}
			}
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || ov != nil {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.warn) == 0 && len(rec.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", rec.Warnings)
			}
			if rec.Entries != c.entries || rec.LastSeq != c.lastSeq {
				t.Errorf("record %+v, want %d entries ending at %d", rec, c.entries, c.lastSeq)
			}
			got := readAll(t, ov)
			if bb, _ := ParseBaseBlock(got); bb.Dirty() || bb.Seq1 != c.lastSeq {
				t.Errorf("recovered base block %+v, want clean at %d", bb, c.lastSeq)
			}
			want := c.hiveSize
			if want == 0 {
				want = int64(len(c.primary))
			}
			if int64(len(got)) != want {
				t.Errorf("recovered %d bytes, want %d", len(got), want)
			}
			switch {
			case c.hiveSize != 0:
				// Grown: the new bin's page is there, the gap before it reads
				// as zeros.
				if got[BaseBlockSize+6*binAlign+100] != 0xEE || got[BaseBlockSize+4*binAlign+100] != 0 {
					t.Error("grown hive: page or gap wrong")
				}
			case rec.Format == "new":
				checkNewest(t, got, c.primary, rec)
			case c.name == "old format":
				// Sectors 0-7 (bin 0) and 17 come from the log; 16 does not.
				if got[BaseBlockSize+100] != 0xAB || got[BaseBlockSize+17*sector+5] != 0xAB || got[BaseBlockSize+16*sector+5] != c.primary[BaseBlockSize+16*sector+5] || rec.Pages != 9 {
					t.Errorf("old-format pages not applied as the dirty vector says (%d pages)", rec.Pages)
				}
			}
		})
	}
}

// checkNewest: in a test log, entry s overwrites bin s%4 with byte s; after
// recovery each bin holds the last applied entry's byte, or the primary's.
func checkNewest(t *testing.T, got, primary []byte, rec Record) {
	t.Helper()
	for bin := 0; bin < 4; bin++ {
		want := primary[BaseBlockSize+bin*binAlign+100]
		for s := rec.FirstSeq; s <= rec.LastSeq; s++ {
			if int(s%4) == bin {
				want = byte(s)
			}
		}
		if g := got[BaseBlockSize+bin*binAlign+100]; g != want {
			t.Errorf("bin %d holds %#x, want %#x", bin, g, want)
		}
	}
}

// TestOverlayReadAt: reads of any offset and length agree with the
// materialized hive, short at the end with io.EOF.
func TestOverlayReadAt(t *testing.T) {
	primary := testHive(4, 11, 10)
	ov, _, err := Recover(bytes.NewReader(primary), int64(len(primary)), []Log{memLog("LOG1", testNewLog(primary, entries(10, 11, 12)...))}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := readAll(t, ov)
	for _, c := range [][2]int64{{0, 1}, {4000, 200}, {4095, 2}, {5000, 9000}, {int64(len(all)) - 10, 10}, {int64(len(all)) - 10, 50}, {0, int64(len(all))}} {
		b := make([]byte, c[1])
		n, err := ov.ReadAt(b, c[0])
		wantN := min(c[1], int64(len(all))-c[0])
		if int64(n) != wantN || !bytes.Equal(b[:n], all[c[0]:c[0]+wantN]) || (int64(n) < c[1]) != (err != nil) {
			t.Errorf("ReadAt(%d, %d) = %d, %v", c[0], c[1], n, err)
		}
	}
	if _, err := ov.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
}
