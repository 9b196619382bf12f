package windows

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/snapscan/snapscan/artifact/hivelog"
	"github.com/snapscan/snapscan/report"
)

// FuzzRecoveredHive drives what a check does with a dirty hive and a hostile
// log: recovery, parsing (with the fall back to the primary) and a bounded
// walk, over a small real hive (python-registry's UNICODE_TESTS, made dirty)
// and an arbitrary .LOG1. Invariants: no panic; the hive is always read,
// replayed or dirty, never clean; a replay names at least one entry; the
// walk ends; the same log gives the same hive twice.
// Run with: go test -fuzz FuzzRecoveredHive ./scanner/windows
func FuzzRecoveredHive(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(f), "..", "shared", "external", "hives", "python-registry", "UNICODE_TESTS"))
	if err != nil {
		f.Skipf("external hive absent (%v); it comes from shared/external", err)
	}
	primary := append([]byte(nil), raw...)
	seq := binary.LittleEndian.Uint32(primary[8:])
	binary.LittleEndian.PutUint32(primary[4:], seq+1)
	binary.LittleEndian.PutUint32(primary[508:], hivelog.Checksum(primary))
	hbins := binary.LittleEndian.Uint32(primary[40:])
	header := primary[:512]
	f.Add(append(append([]byte(nil), header...), hvleEntry(seq, hbins, 0, 0)...), true)
	// An entry whose page is the first bin itself: the replay gives a
	// readable hive for mutations to start from.
	entry := hvleEntry(seq, hbins, 0, 0)
	copy(entry[48:48+4096], primary[4096:])
	resign(entry)
	f.Add(append(append([]byte(nil), header...), entry...), true)
	f.Add(append(append([]byte(nil), header...), "DIRT\x01"...), false)
	f.Fuzz(func(t *testing.T, log []byte, fix bool) {
		if fix {
			// Re-sign the first entry so mutations reach page application
			// and the hive parser behind it.
			log = append([]byte(nil), log...)
			if len(log) >= 512+40 && string(log[512:516]) == "HvLE" {
				if n := int(binary.LittleEndian.Uint32(log[516:])); n >= 40 && 512+n <= len(log) {
					resign(log[512 : 512+n])
				}
			}
		}
		read := func() (*hive, []string) {
			data, rec := applyLogs(primary, []hivelog.Log{{Name: "NTUSER.DAT.LOG1", R: bytes.NewReader(log), Size: int64(len(log))}}, nil)
			h, err := parseRecovered(primary, data, rec)
			if err != nil {
				t.Fatalf("neither the recovered hive nor the primary could be read: %v", err)
			}
			var keys []string
			_ = walkHive(h, 32, func(p string, k *regKey) error {
				keys = append(keys, p)
				if len(keys) > 10000 {
					return errHiveBudget
				}
				return nil
			})
			return h, keys
		}
		h, keys := read()
		h2, keys2 := read()
		switch {
		case h.recovery.State != report.RecoveryReplayed && h.recovery.State != report.RecoveryDirty:
			t.Fatalf("state %q for a dirty hive", h.recovery.State)
		case h.recovery.State == report.RecoveryReplayed && h.recovery.Transactions < 1:
			t.Fatalf("replayed with %d entries", h.recovery.Transactions)
		case !reflect.DeepEqual(h.recovery, h2.recovery) || !bytes.Equal(h.data, h2.data) || !reflect.DeepEqual(keys, keys2):
			t.Fatal("two reads of the same log differ")
		}
	})
}
