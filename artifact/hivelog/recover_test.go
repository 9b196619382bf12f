package hivelog

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
)

// TestMarvin32Vectors: the published Marvin32 test vectors (.NET's
// MarvinTests, seed 0x004FB61A001BDBCC), so the hash is right independently
// of the logs below.
func TestMarvin32Vectors(t *testing.T) {
	const seed = 0x004FB61A001BDBCC
	cases := []struct {
		in   []byte
		want uint64
	}{
		{[]byte{0xAF}, 0x48E73FC77D75DDC1},
		{[]byte{0xE7, 0x0F}, 0xB5F6E1FC485DBFF8},
		{[]byte{0x37, 0xF4, 0x95}, 0xF0B07C789B8CF7E8},
		{[]byte{0x86, 0x42, 0xDC, 0x59}, 0x7008F2E87E9CF556},
		{[]byte{0x15, 0x3F, 0xB7, 0x98, 0x26}, 0xE6C08C6DA2AFA997},
		{[]byte{0x09, 0x32, 0xE6, 0x24, 0x6C, 0x47}, 0x6F04BF1A5EA24060},
		{[]byte{0xAB, 0x42, 0x7E, 0xA8, 0xD1, 0x0F, 0xC7}, 0xE11847E4F0678C41},
	}
	for _, c := range cases {
		if got := Marvin32(c.in, seed); got != c.want {
			t.Errorf("Marvin32(% x) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

// TestRealDirtyHives recovers the dirty hives of regipy's test suite with
// their real logs. regipy's published tests (regipy_tests/tests.py,
// test_ntuser_apply_transaction_logs and test_system_apply_transaction_logs)
// expect 132 restored pages for transactions_NTUSER.DAT with its .log1 and
// 315 for SYSTEM_B with LOG1 and LOG2; every entry's two Marvin32 hashes
// must verify for those counts to be reached.
func TestRealDirtyHives(t *testing.T) {
	const dir = "hives/regipy/"
	cases := []struct {
		name      string
		hive      string
		logs      []string
		wantErr   error
		entries   int
		pages     int // regipy's recovered_dirty_pages_count
		applied   []string
		seq       [2]uint32 // first and last sequence applied
		warnMatch string
	}{
		{"SYSTEM_B, LOG1 then LOG2", "SYSTEM_B.xz", []string{"SYSTEM_B.LOG1.xz", "SYSTEM_B.LOG2.xz"}, nil,
			24, 315, []string{"SYSTEM_B.LOG1.xz", "SYSTEM_B.LOG2.xz"}, [2]uint32{2107, 2130}, "partially reconciled"},
		{"SYSTEM_B, logs given in the other order", "SYSTEM_B.xz", []string{"SYSTEM_B.LOG2.xz", "SYSTEM_B.LOG1.xz"}, nil,
			24, 315, []string{"SYSTEM_B.LOG1.xz", "SYSTEM_B.LOG2.xz"}, [2]uint32{2107, 2130}, "partially reconciled"},
		{"NTUSER, log1 (log2 is older than the base block)", "transactions_NTUSER.DAT.xz",
			[]string{"transactions_ntuser.dat.log1.xz", "transactions_ntuser.dat.log2.xz"}, nil,
			23, 132, []string{"transactions_ntuser.dat.log1.xz"}, [2]uint32{566, 588}, ""},
		{"NTUSER, log1 only", "transactions_NTUSER.DAT.xz", []string{"transactions_ntuser.dat.log1.xz"}, nil,
			23, 132, []string{"transactions_ntuser.dat.log1.xz"}, [2]uint32{566, 588}, ""},
		{"NTUSER, log2 only: nothing newer than the base block", "transactions_NTUSER.DAT.xz",
			[]string{"transactions_ntuser.dat.log2.xz"}, ErrNoLog, 0, 0, nil, [2]uint32{}, ""},
		{"SYSTEM 1709, dirty without logs", "SYSTEM_WIN_10_1709.xz", nil, ErrNoLog, 0, 0, nil, [2]uint32{}, ""},
		{"clean NTUSER", "NTUSER.DAT.xz", nil, ErrNotDirty, 0, 0, nil, [2]uint32{}, ""},
		{"clean SAM", "SAM.xz", nil, ErrNotDirty, 0, 0, nil, [2]uint32{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			primary := testimg.ReadExternal(t, dir+c.hive)
			var logs []Log
			for _, l := range c.logs {
				logs = append(logs, memLog(l, testimg.ReadExternal(t, dir+l)))
			}
			ov, rec, err := Recover(bytes.NewReader(primary), int64(len(primary)), logs, Options{})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || ov != nil {
					t.Fatalf("err %v, overlay %v; want %v", err, ov != nil, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", rec)
			if rec.Entries != c.entries || rec.Pages != c.pages || !slices.Equal(rec.Logs, c.applied) || rec.FirstSeq != c.seq[0] || rec.LastSeq != c.seq[1] {
				t.Errorf("record %+v: want %d entries, %d pages from %v, sequence %v", rec, c.entries, c.pages, c.applied, c.seq)
			}
			if c.warnMatch == "" && len(rec.Warnings) > 0 || c.warnMatch != "" && !strings.Contains(strings.Join(rec.Warnings, "\n"), c.warnMatch) {
				t.Errorf("warnings %q, want %q", rec.Warnings, c.warnMatch)
			}
			got := readAll(t, ov)
			bb, err := ParseBaseBlock(got)
			if err != nil || bb.Dirty() || bb.Seq1 != c.seq[1] || bb.FileType != typePrimary {
				t.Errorf("recovered base block %+v (%v): want clean at sequence %d", bb, err, c.seq[1])
			}
			if int64(len(got)) < int64(BaseBlockSize)+int64(bb.HiveBinsSize) {
				t.Errorf("recovered hive of %d bytes shorter than its bins (%d)", len(got), bb.HiveBinsSize)
			}
			checkPagesApplied(t, primary, got, logs)
		})
	}
}

// checkPagesApplied: outside the pages the applied entries name, the
// recovered hive is the primary byte for byte; inside, it is the newest
// page the logs hold for that sector.
func checkPagesApplied(t *testing.T, primary, got []byte, logs []Log) {
	t.Helper()
	newest := map[int64][]byte{}
	for _, l := range logs {
		entries, _ := readEntries(l, 1<<31)
		for _, e := range entries {
			for _, p := range e.pages {
				for i := 0; i < len(p.data); i += sector {
					s := (p.off + int64(i)) / sector
					if old, ok := newest[s]; !ok || !bytes.Equal(old, p.data[i:i+sector]) {
						newest[s] = p.data[i : i+sector]
					}
				}
			}
		}
	}
	changed, fromLog := 0, 0
	for off := int64(BaseBlockSize); off+sector <= int64(len(got)); off += sector {
		g := got[off : off+sector]
		if off+sector <= int64(len(primary)) && bytes.Equal(g, primary[off:off+sector]) {
			continue
		}
		changed++
		if _, ok := newest[off/sector]; ok {
			fromLog++
		}
	}
	if changed == 0 || changed != fromLog {
		t.Errorf("%d sectors differ from the primary, %d of them named by a log entry", changed, fromLog)
	}
}

// TestCleanExternalHives: every clean hive in shared/external stays clean,
// whatever log lies beside it (dfwinreg's NTUSER.DAT.LOG holds an entry
// older than its base block).
func TestCleanExternalHives(t *testing.T) {
	for _, rel := range []string{
		"hives/dfwinreg/NTUSER.DAT", "hives/dfwinreg/SAM", "hives/dfwinreg/SECURITY", "hives/dfwinreg/UsrClass.dat",
		"hives/plaso/NTUSER-WIN7.DAT", "hives/plaso/NTUSER-CCLEANER.DAT", "hives/plaso/NTUSER-RunTests.DAT",
		"hives/regparser/NTUSER.DAT", "hives/artemis/NTUSER.DAT", "hives/artemis/NTUSER_Bad.DAT",
		"hives/python-registry/UNICODE_TESTS", "hives/python-registry/REORGANIZED_VALUES_TESTS", "hives/python-registry/issue22.hive",
		"hives/regipy/NTUSER.DAT.xz", "hives/regipy/SAM.xz",
		"hives/regipy/SYSTEM.xz", "hives/regipy/ntuser_software_partial.xz", "hives/regipy/corrupted_system_hive.xz",
	} {
		p := testimg.ReadExternal(t, rel)
		var logs []Log
		if rel == "hives/dfwinreg/NTUSER.DAT" {
			logs = append(logs, memLog("NTUSER.DAT.LOG", testimg.ReadExternal(t, "hives/dfwinreg/NTUSER.DAT.LOG")))
		}
		bb, err := ParseBaseBlock(p)
		if err != nil || bb.Dirty() {
			t.Errorf("%s: base block %+v %v, want clean", rel, bb, err)
		}
		if _, _, err := Recover(bytes.NewReader(p), int64(len(p)), logs, Options{}); !errors.Is(err, ErrNotDirty) {
			t.Errorf("%s: %v, want ErrNotDirty", rel, err)
		}
	}
}

// TestStaleRealLog: dfwinreg's NTUSER.DAT made dirty by hand keeps its
// base block's sequence 132; its real .LOG holds only entry 131, already
// applied, so nothing may be replayed and the reason says why.
func TestStaleRealLog(t *testing.T) {
	p := append([]byte(nil), testimg.ReadExternal(t, "hives/dfwinreg/NTUSER.DAT")...)
	p[4]++ // primary sequence 133 != secondary 132: a write began
	putChecksum(p)
	l := memLog("NTUSER.DAT.LOG", testimg.ReadExternal(t, "hives/dfwinreg/NTUSER.DAT.LOG"))
	_, _, err := Recover(bytes.NewReader(p), int64(len(p)), []Log{l}, Options{})
	if !errors.Is(err, ErrNoLog) || !strings.Contains(err.Error(), "entries 131..131 precede the base block's sequence 132") {
		t.Fatalf("err %v", err)
	}
}

func putChecksum(b []byte) {
	c := Checksum(b)
	b[checksumSpan], b[checksumSpan+1], b[checksumSpan+2], b[checksumSpan+3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
}
