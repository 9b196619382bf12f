package windows

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/snapscan/snapscan/artifact/hivelog"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// hiveKeys is what regipy's compare_hives looks at: every key path with its
// last-written time, and the values it holds as (name, datum) pairs.
type hiveKeys map[string]keyInfo

type keyInfo struct {
	lastWrite int64
	values    []nameDatum
}

type nameDatum struct {
	name, datum string
	// unsure marks a REG_NONE value with no data, stored in the offset
	// field: today's regipy reads it as 0 and leaves it out, the version
	// that wrote the expected counts may not have.
	unsure bool
}

// keysOf walks a hive as the checks read it.
func keysOf(t *testing.T, data []byte) hiveKeys {
	t.Helper()
	h, err := parseHive(data)
	if err != nil {
		t.Fatal(err)
	}
	out := hiveKeys{}
	err = walkHive(h, 512, func(p string, k *regKey) error {
		ki := keyInfo{lastWrite: k.LastWrite().UnixNano()}
		for _, v := range rawValues(k) {
			ki.values = append(ki.values, datums(v)...)
		}
		out[p] = ki
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawValue is a decoded value with how its data is stored, which regipy's
// view of it depends on.
type rawValue struct {
	regValue
	inline     bool   // data in the value cell's offset field
	dataOffset uint32 // that field
}

// rawValues lists a key's values as Values does, keeping the storage.
func rawValues(k *regKey) []rawValue {
	var out []rawValue
	vl := k.nk.ValueList()
	abs, ok := k.h.cellAt(vl.List())
	if !ok {
		return nil
	}
	count := min(int64(vl.Count()), (k.h.cellSize(abs)-4)/4)
	for i := int64(0); i < count; i++ {
		vabs, ok := k.h.cellAt(binary.LittleEndian.Uint32(k.h.data[abs+4+i*4:]))
		if !ok || k.h.cellSize(vabs) < 4+0x14 || string(k.h.data[vabs+4:vabs+6]) != "vk" {
			continue
		}
		vk := k.h.reg.Profile.CM_KEY_VALUE(k.h.reg.Reader, vabs+4)
		out = append(out, rawValue{k.h.value(vk), vk.DataLength()&0x80000000 != 0, vk.Data()})
	}
	return out
}

// datums mirrors regipy's _get_name_value_tuples over its iter_values: a
// value with empty or zero data is left out, a multi-string gives one pair
// per string, the types iter_values skips (DEVPROP types above 0xffff0000,
// and 0x200000) give none, and data stored in the offset field of a string,
// binary, none or number value is that field, a pair when it is not 0.
func datums(v rawValue) []nameDatum {
	switch v.Type {
	case 0, 1, 2, 3, 4, 11:
		if v.inline {
			if v.dataOffset == 0 {
				if v.Type == 0 {
					return []nameDatum{{name: v.Name, unsure: true}}
				}
				return nil
			}
			return []nameDatum{{name: v.Name, datum: fmt.Sprint(v.dataOffset)}}
		}
	}
	switch {
	case v.DataErr != nil || v.Size == 0 || v.Type > 0xffff0000 || v.Type == 0x200000:
		return nil
	case v.Type == 7: // REG_MULTI_SZ
		var out []nameDatum
		for _, s := range v.Multi {
			out = append(out, nameDatum{name: v.Name, datum: s})
		}
		return out
	case v.HasNum:
		if v.Number == 0 {
			return nil
		}
	case v.Type == 1 || v.Type == 2: // REG_SZ, REG_EXPAND_SZ
		if v.String == "" {
			return nil
		}
	}
	return []nameDatum{{name: v.Name, datum: v.Text()}}
}

// compareHives counts what regipy's compare_hives reports: key paths in one
// hive and not the other, and, in keys present in both with another
// last-written time, values whose name only one of them has. unsure counts
// such values that regipy versions read differently (see nameDatum).
func compareHives(a, b hiveKeys) (newKeys, newValues, unsure int) {
	for p := range a {
		if _, ok := b[p]; !ok {
			newKeys++
		}
	}
	names := func(vs []nameDatum) map[string]bool {
		m := map[string]bool{}
		for _, v := range vs {
			m[v.name] = true
		}
		return m
	}
	count := func(vs []nameDatum, other map[string]bool) {
		for _, v := range vs {
			switch {
			case other[v.name]:
			case v.unsure:
				unsure++
			default:
				newValues++
			}
		}
	}
	for p, kb := range b {
		ka, ok := a[p]
		if !ok {
			newKeys++
			continue
		}
		if ka.lastWrite != kb.lastWrite {
			count(ka.values, names(kb.values))
			count(kb.values, names(ka.values))
		}
	}
	return newKeys, newValues, unsure
}

func recoverBytes(t *testing.T, primary []byte, logs ...string) ([]byte, hivelog.Record) {
	t.Helper()
	var ls []hivelog.Log
	for _, l := range logs {
		b := testimg.ReadExternal(t, "hives/regipy/"+l)
		ls = append(ls, hivelog.Log{Name: l, R: bytes.NewReader(b), Size: int64(len(b))})
	}
	ov, rec, err := hivelog.Recover(bytes.NewReader(primary), int64(len(primary)), ls, hivelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, ov.Size())
	if _, err := ov.ReadAt(out, 0); err != nil {
		t.Fatal(err)
	}
	return out, rec
}

// TestRegipyCompareHives: regipy's test_ntuser_apply_transaction_logs
// recovers transactions_NTUSER.DAT with its .log1 and finds, with
// compare_hives, 527 new subkeys and 60 new values against the primary. The
// hive the checks read after recovery must differ from the on-disk one in
// the same way.
func TestRegipyCompareHives(t *testing.T) {
	primary := testimg.ReadExternal(t, "hives/regipy/transactions_NTUSER.DAT.xz")
	recovered, rec := recoverBytes(t, primary, "transactions_ntuser.dat.log1.xz")
	if rec.Pages != 132 {
		t.Errorf("%d pages restored, regipy: 132", rec.Pages)
	}
	keys, values, unsure := compareHives(keysOf(t, primary), keysOf(t, recovered))
	t.Logf("new subkeys %d, new values %d (+%d unsure)", keys, values, unsure)
	if keys != 527 || values != 60 || unsure != 0 {
		t.Errorf("recovered hive differs by %d keys and %d values; regipy: 527 and 60", keys, values)
	}
}

// TestRegipySystemB: regipy's test_system_apply_transaction_logs applies
// SYSTEM_B.LOG2 and then SYSTEM_B.LOG1 (315 pages) and finds 2458 new
// subkeys and 53 new values. Windows applies LOG1 (sequence 2107..2110)
// before LOG2 (2111..2130), as we do; regipy's order is reproduced here by
// applying LOG2 and then LOG1 over the result, to compare with its numbers
// page for page.
func TestRegipySystemB(t *testing.T) {
	primary := testimg.ReadExternal(t, "hives/regipy/SYSTEM_B.xz")
	before := keysOf(t, primary)

	windows, rec := recoverBytes(t, primary, "SYSTEM_B.LOG1.xz", "SYSTEM_B.LOG2.xz")
	wk, wv, wu := compareHives(before, keysOf(t, windows))
	t.Logf("Windows order: %d entries, %d pages; new subkeys %d, new values %d (+%d unsure)", rec.Entries, rec.Pages, wk, wv, wu)

	step1, rec2 := recoverBytes(t, primary, "SYSTEM_B.LOG2.xz")
	// Mark the result dirty again at LOG1's first sequence so that LOG1 is
	// applied on top, as regipy does.
	redo := append([]byte(nil), step1...)
	binary.LittleEndian.PutUint32(redo[4:], 2108)
	binary.LittleEndian.PutUint32(redo[8:], 2107)
	binary.LittleEndian.PutUint32(redo[508:], hivelog.Checksum(redo))
	regipyOrder, rec1 := recoverBytes(t, redo, "SYSTEM_B.LOG1.xz")
	rk, rv, ru := compareHives(before, keysOf(t, regipyOrder))
	t.Logf("regipy order: %d + %d pages; new subkeys %d, new values %d (+%d unsure)", rec2.Pages, rec1.Pages, rk, rv, ru)
	if rec.Pages != 315 || rec1.Pages+rec2.Pages != 315 {
		t.Errorf("pages %d and %d+%d, regipy: 315", rec.Pages, rec2.Pages, rec1.Pages)
	}
	if rk != 2458 || rv > 53 || rv+ru < 53 {
		t.Errorf("regipy's order gives %d new subkeys and %d new values (+%d unsure); regipy: 2458 and 53", rk, rv, ru)
	}
}

// TestRecoveredValuesThroughOpenHive: values that exist or change only in
// the real logs are seen through openHive and key/value lookup, the path
// every check takes, and not when the logs are absent.
func TestRecoveredValuesThroughOpenHive(t *testing.T) {
	rx := func(rel string) []byte { return testimg.ReadExternal(t, "hives/regipy/"+rel) }
	cases := []struct {
		name, hive string
		files      map[string][]byte // beside the hive; the hive itself is files[hive]
		key, value string
		want       string
		before     string // on disk, logs not applied
	}{
		{"NTUSER Explorer setting", "NTUSER.DAT", map[string][]byte{
			"NTUSER.DAT": rx("transactions_NTUSER.DAT.xz"), "NTUSER.DAT.LOG1": rx("transactions_ntuser.dat.log1.xz"),
		}, `Software\Microsoft\Windows\CurrentVersion\Explorer\Advanced`, "ShowSuperHidden", "1", "0"},
		{"NTUSER RunMRU typed command", "NTUSER.DAT", map[string][]byte{
			"NTUSER.DAT": rx("transactions_NTUSER.DAT.xz"), "ntuser.dat.log1": rx("transactions_ntuser.dat.log1.xz"),
		}, `Software\Microsoft\Windows\CurrentVersion\Explorer\RunMRU`, "b", `c:\Windows\System32\config\1`, ""},
		{"SYSTEM driver service", "SYSTEM", map[string][]byte{
			"SYSTEM": rx("SYSTEM_B.xz"), "SYSTEM.LOG1": rx("SYSTEM_B.LOG1.xz"), "SYSTEM.LOG2": rx("SYSTEM_B.LOG2.xz"),
		}, `ControlSet001\Services\ad_driver`, "ImagePath", `\??\C:\Users\jcloudy\AppData\Local\Temp\ad_driver.sys`, ""},
	}
	for _, c := range cases {
		for _, withLogs := range []bool{true, false} {
			files := map[string][]byte{c.hive: c.files[c.hive]}
			if withLogs {
				files = c.files
			}
			h, err := openHive(targetFor(t, tree(t, files)), c.hive)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got := ""
			if k, err := h.open(c.key); err == nil && k != nil {
				if v, ok, _ := k.Value(c.value); ok {
					got = v.Text()
				}
			}
			want, state := c.before, report.RecoveryDirty
			if withLogs {
				want, state = c.want, report.RecoveryReplayed
			}
			if got != want || h.recovery.State != state {
				t.Errorf("%s (logs %v): %s\\%s = %q, hive %s; want %q, %s", c.name, withLogs, c.key, c.value, got, h.recovery.State, want, state)
			}
		}
	}
}

// hvleEntry encodes one new-format log entry with valid hashes: pages of
// 4 KiB filled with fill at the given offsets of the hive bins data.
func hvleEntry(seq, hbins uint32, fill byte, offs ...uint32) []byte {
	le := binary.LittleEndian
	size := (40 + 8*len(offs) + 4096*len(offs) + 511) / 512 * 512
	b := make([]byte, size)
	copy(b, "HvLE")
	le.PutUint32(b[4:], uint32(size))
	le.PutUint32(b[12:], seq)
	le.PutUint32(b[16:], hbins)
	le.PutUint32(b[20:], uint32(len(offs)))
	for i, o := range offs {
		le.PutUint32(b[40+8*i:], o)
		le.PutUint32(b[44+8*i:], 4096)
	}
	for i := 40 + 8*len(offs); i < 40+8*len(offs)+4096*len(offs); i++ {
		b[i] = fill
	}
	resign(b)
	return b
}

// resign recomputes a log entry's two Marvin32 hashes.
func resign(e []byte) {
	binary.LittleEndian.PutUint64(e[24:], hivelog.Marvin32(e[40:], hivelog.MarvinSeed))
	binary.LittleEndian.PutUint64(e[32:], hivelog.Marvin32(e[:32], hivelog.MarvinSeed))
}

// TestUnreadableRecoveredHive: a log that verifies but wipes the bin holding
// the root key leaves a hive nobody can read; the primary is read instead,
// reported dirty with the reason, so the checks still see what is on disk.
func TestUnreadableRecoveredHive(t *testing.T) {
	primary := append([]byte(nil), testimg.ReadExternal(t, "hives/python-registry/UNICODE_TESTS")...)
	seq := binary.LittleEndian.Uint32(primary[8:])
	binary.LittleEndian.PutUint32(primary[4:], seq+1) // a write began
	binary.LittleEndian.PutUint32(primary[508:], hivelog.Checksum(primary))
	log := append(append([]byte(nil), primary[:512]...), hvleEntry(seq, binary.LittleEndian.Uint32(primary[40:]), 0, 0)...)
	h, err := openHive(targetFor(t, tree(t, map[string][]byte{"NTUSER.DAT": primary, "NTUSER.DAT.LOG1": log})), "NTUSER.DAT")
	if err != nil {
		t.Fatal(err)
	}
	if !h.dirty() || !strings.Contains(h.recovery.Reason, "recovered from its logs is unreadable") {
		t.Errorf("recovery %+v, want dirty: recovered hive unreadable", h.recovery)
	}
	if _, err := h.root(); err != nil {
		t.Errorf("primary not read instead: %v", err)
	}
}

// TestRecoveredHivesHivex: libhivex (hivexregedit), a parser independent of
// ours and of regipy, reads the recovered hives as valid and lists exactly
// the key paths our walk finds: the replay produced a consistent hive, not
// only the expected page count.
func TestRecoveredHivesHivex(t *testing.T) {
	if testing.Short() {
		t.Skip("hivexregedit exports take seconds")
	}
	if _, err := exec.LookPath("hivexregedit"); err != nil {
		t.Skip("hivexregedit not installed (libwin-hivex-perl, scripts/deps.sh)")
	}
	cases := []struct {
		hive string
		logs []string
	}{
		{"transactions_NTUSER.DAT.xz", []string{"transactions_ntuser.dat.log1.xz", "transactions_ntuser.dat.log2.xz"}},
		{"SYSTEM_B.xz", []string{"SYSTEM_B.LOG1.xz", "SYSTEM_B.LOG2.xz"}},
	}
	for _, c := range cases {
		recovered, _ := recoverBytes(t, testimg.ReadExternal(t, "hives/regipy/"+c.hive), c.logs...)
		p := filepath.Join(t.TempDir(), "recovered")
		if err := os.WriteFile(p, recovered, 0o444); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("hivexregedit", "--export", p, `\`).Output()
		if err != nil {
			t.Fatalf("%s: hivexregedit cannot read the recovered hive: %v", c.hive, err)
		}
		theirs := map[string]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			if !utf8.ValidString(line) {
				// hivex writes names stored as Latin-1 ("compressed") as
				// they are, and UTF-16 names as UTF-8.
				line = decodeName([]byte(line), true)
			}
			if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
				theirs[strings.TrimSuffix(line[1:len(line)-1], `\`)] = true
			}
		}
		ours := keysOf(t, recovered)
		missing, extra := 0, 0
		for k := range ours {
			if !theirs[k] {
				missing++
			}
		}
		for k := range theirs {
			if _, ok := ours[k]; !ok {
				extra++
			}
		}
		t.Logf("%s recovered: %d keys (hivex %d)", c.hive, len(ours), len(theirs))
		if missing != 0 || extra != 0 || len(ours) < 1000 {
			t.Errorf("%s: %d keys of ours not in hivex's export, %d of hivex's not ours (of %d)", c.hive, missing, extra, len(ours))
		}
	}
}
