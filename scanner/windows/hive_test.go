package windows

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// readExternal reads a hive below shared/external, decompressing the regipy .xz files.
func readExternal(t testing.TB, rel string) []byte { return testimg.ReadExternal(t, rel) }

// tree writes files (path -> content) under a temporary directory.
func tree(t testing.TB, files map[string][]byte) string {
	dir := t.TempDir()
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestExternalUserHives runs the runkeys check on real NTUSER.DAT hives made
// by Windows: their Run values (Sidebar, Google Update, Skype, Spotify,
// ctfmon, OneDrive) must all be in the inventory and none may be a finding
// of medium or worse.
func TestExternalUserHives(t *testing.T) {
	cases := []struct {
		hive   string
		values []string // Run/RunOnce value names that must be inventoried
	}{
		{"hives/regparser/NTUSER.DAT", []string{"ctfmon.exe"}},
		{"hives/plaso/NTUSER-WIN7.DAT", []string{"Google Update", "Skype"}},
		{"hives/plaso/NTUSER-RunTests.DAT", []string{"Sidebar", "mctadmin"}},
		{"hives/dfwinreg/NTUSER.DAT", []string{"Spotify", "Spotify Web Helper"}},
		{"hives/artemis/NTUSER.DAT", []string{"OneDriveSetup", "WAB Migrate"}},
		{"hives/regipy/NTUSER.DAT.xz", []string{"Sidebar"}},
		{"hives/regipy/transactions_NTUSER.DAT.xz", []string{"OneDrive"}},
		// The hive that sends naive parsers into endless recursion
		// (Console\Console lists itself): the Run key is still read.
		{"hives/artemis/NTUSER_Bad.DAT", []string{"OneDriveSetup"}},
	}
	for _, c := range cases {
		t.Run(c.hive, func(t *testing.T) {
			dir := tree(t, map[string][]byte{"Users/someone/NTUSER.DAT": readExternal(t, c.hive)})
			s := newSink()
			if err := (RunKeys{}).Run(context.Background(), targetFor(t, dir), s); err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, i := range s.inventory {
				if i.Kind == "run-key" {
					names[i.Fields["key"][strings.LastIndexByte(i.Fields["key"], '\\')+1:]] = true
					if i.Fields["user"] != "someone" || i.Fields["last_write"] == "" {
						t.Errorf("inventory %s: user %q last_write %q", i.Summary, i.Fields["user"], i.Fields["last_write"])
					}
				}
			}
			for _, v := range c.values {
				if !names[v] {
					t.Errorf("Run value %q not in inventory (have %v)", v, names)
				}
			}
			for _, f := range s.findings {
				if f.Severity >= report.Medium {
					t.Errorf("benign Run value judged %s: %s %s", f.Severity, f.Rule, f.Evidence.Match)
				}
			}
		})
	}
}

// TestExternalSoftwarePartial reads the OneDrive Run and RunOnce cleanup
// values from a partial SOFTWARE-like hive (keys without the Software\ prefix
// since it was exported from HKCU\Software).
func TestExternalSoftwarePartial(t *testing.T) {
	h, err := parseHive(readExternal(t, "hives/regipy/ntuser_software_partial.xz"))
	if err != nil {
		t.Fatal(err)
	}
	r := mustRules(t)
	k, err := h.open(`Microsoft\Windows\CurrentVersion\RunOnce`)
	if err != nil || k == nil {
		t.Fatalf("RunOnce: %v", err)
	}
	vals, err := k.Values()
	if err != nil || len(vals) != 4 {
		t.Fatalf("RunOnce values: %d, %v; want 4", len(vals), err)
	}
	for _, v := range vals {
		if strings.ContainsRune(v.String, 0) || !strings.HasPrefix(v.String, `C:\WINDOWS\system32\cmd.exe /q /c `) {
			t.Errorf("value %q = %q: trailing NUL or wrong data", v.Name, v.String)
		}
		for _, h := range r.judge(v.String, "tony", logonPlace) {
			if h.Severity >= report.Medium {
				t.Errorf("OneDrive cleanup %q judged %s %s", v.String, h.Rule, h.Severity)
			}
		}
	}
}

func TestHiveNamesAndWalk(t *testing.T) {
	cases := []struct {
		hive     string
		keys     int // as counted by hivexregedit (LISTING.txt)
		wantLoop bool
	}{
		{"hives/regparser/NTUSER.DAT", 1127, false},
		{"hives/plaso/NTUSER-WIN7.DAT", 2288, false},
		{"hives/dfwinreg/UsrClass.dat", 7505, false},
		{"hives/artemis/NTUSER_Bad.DAT", -1, true},
	}
	for _, c := range cases {
		h, err := parseHive(readExternal(t, c.hive))
		if err != nil {
			t.Fatalf("%s: %v", c.hive, err)
		}
		n := 0
		err = walkHive(h, 512, func(string, *regKey) error { n++; return nil })
		if (err != nil) != c.wantLoop {
			t.Errorf("%s: walk error %v, want loop error = %v", c.hive, err, c.wantLoop)
		}
		if c.keys >= 0 && n != c.keys {
			t.Errorf("%s: walked %d keys, hivex exports %d", c.hive, n, c.keys)
		}
	}

	// Non-ASCII names are stored as UTF-16LE and must not come back garbled.
	h, err := parseHive(readExternal(t, "hives/python-registry/UNICODE_TESTS"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := h.open(`ASCII_KEY_NAME0`)
	if err != nil || k == nil {
		t.Fatalf("ASCII_KEY_NAME0: %v", err)
	}
	v, ok, err := k.Value("UNICODE_JUMBLE_{H~░ô«}3")
	if !ok || err != nil || v.String != "ASCII_VALUE_VALUE2" {
		t.Errorf("unicode value name: ok=%v err=%v data=%q", ok, err, v.String)
	}
	v, ok, _ = k.Value("ASCII_VALUE_NAME0")
	if !ok || v.String != "UNICODE_JUMBLE_{H~░ô«}1" {
		t.Errorf("unicode value data: %q", v.String)
	}
}

// setSeq rewrites the second sequence number of a hive's base block and its
// checksum, as Windows leaves a hive it did not finish writing.
func setSeq(b []byte, seq2 uint32) []byte {
	b = append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(b[8:], seq2)
	var sum uint32
	for i := 0; i < 508; i += 4 {
		sum ^= binary.LittleEndian.Uint32(b[i:])
	}
	binary.LittleEndian.PutUint32(b[508:], sum)
	return b
}

// TestDirtyHive: a hive whose sequence numbers differ is read through its
// transaction logs; without a usable log it is read as it is, and the report
// says so, naming the hive and why the logs were not applied.
func TestDirtyHive(t *testing.T) {
	system := readExternal(t, "hives/regipy/SYSTEM_B.xz")
	log1 := readExternal(t, "hives/regipy/SYSTEM_B.LOG1.xz")
	log2 := readExternal(t, "hives/regipy/SYSTEM_B.LOG2.xz")
	cases := []struct {
		name      string
		files     map[string][]byte
		wantErr   []string // substrings of the error on the hive; nil = none
		wantState string
		wantHigh  string // the one medium+ finding's match, "" = none
	}{
		{"dirty with logs", map[string][]byte{
			"Windows/System32/config/SYSTEM":      system,
			"Windows/System32/config/system.log1": log1, // NTFS names are case-insensitive
			"Windows/System32/config/SYSTEM.LOG2": log2,
			// The recovered hive holds a kernel driver service loaded from a
			// user's Temp folder (FTK Imager's ad_driver.sys, by its name)
			// that exists only in the logs: the on-disk view misses it.
		}, nil, "replayed", `\??\C:\Users\jcloudy\AppData\Local\Temp\ad_driver.sys`},
		{"dirty without logs", map[string][]byte{"Windows/System32/config/SYSTEM": system},
			[]string{"dirty", "1622 != 1621", "not replayed", "no usable transaction log", "test:"}, "dirty", ""},
		{"dirty with unusable logs", map[string][]byte{
			"Windows/System32/config/SYSTEM":      system,
			"Windows/System32/config/SYSTEM.LOG1": log1[:512],
			"Windows/System32/config/SYSTEM.LOG":  nil,
		}, []string{"dirty", "SYSTEM.LOG1", "SYSTEM.LOG:", "not replayed"}, "dirty", ""},
		{"clean", map[string][]byte{"Windows/System32/config/SYSTEM": setSeq(system, 1622)}, nil, "clean", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSink()
			if err := (Services{}).Run(context.Background(), targetFor(t, tree(t, c.files)), s); err != nil {
				t.Fatal(err)
			}
			errs := s.errors["/Windows/System32/config/SYSTEM"]
			if c.wantErr == nil && len(errs) != 0 {
				t.Errorf("unexpected errors: %v", errs)
			}
			if c.wantErr != nil {
				if len(errs) != 1 {
					t.Fatalf("errors: %v, want one dirty-hive warning", errs)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(errs[0].Error(), w) {
						t.Errorf("warning %q does not mention %q", errs[0], w)
					}
				}
			}
			if len(s.hives) != 1 || s.hives[0].Path != "/Windows/System32/config/SYSTEM" || s.hives[0].Recovery.State != c.wantState {
				t.Errorf("hive states %+v, want one SYSTEM %s", s.hives, c.wantState)
			}
			if len(s.inventory) < 300 {
				t.Errorf("only %d services read from a real SYSTEM hive", len(s.inventory))
			}
			var high []string
			for _, f := range s.findings {
				if f.Severity >= report.Medium {
					high = append(high, f.Evidence.Match)
				}
			}
			if want := []string{c.wantHigh}; (c.wantHigh == "" && len(high) > 0) || (c.wantHigh != "" && !slices.Equal(high, want)) {
				t.Errorf("medium+ findings %q, want %q", high, c.wantHigh)
			}
		})
	}
}

// TestExternalSystemHives: real SYSTEM hives give their services and no
// medium+ findings; the XP hive from regipy's "corrupted" sample still holds
// the msdirectx.sys rootkit driver in a user's Desktop folder, which must be
// found.
func TestExternalSystemHives(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses tens of MiB of hives")
	}
	cases := []struct {
		hive     string
		minSvc   int
		findings []string // rule@service, medium+
	}{
		{"hives/regipy/SYSTEM.xz", 300, nil},
		{"hives/regipy/corrupted_system_hive.xz", 100, []string{"service.odd-place@msdirectx"}},
	}
	for _, c := range cases {
		t.Run(c.hive, func(t *testing.T) {
			s := newSink()
			dir := tree(t, map[string][]byte{"Windows/System32/config/SYSTEM": readExternal(t, c.hive)})
			if err := (Services{}).Run(context.Background(), targetFor(t, dir), s); err != nil {
				t.Fatal(err)
			}
			if len(s.inventory) < c.minSvc {
				t.Errorf("%d services, want at least %d", len(s.inventory), c.minSvc)
			}
			var got []string
			for _, f := range s.findings {
				if f.Severity >= report.Medium {
					svc := strings.Split(f.Evidence.Key, `\`)[4]
					got = append(got, f.Rule+"@"+svc)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.findings, ",") {
				t.Errorf("medium+ findings %v, want %v", got, c.findings)
			}
		})
	}
}

// TestMalformedHives: broken hives give one error for that file, never a
// panic or a hang, and the other checks and hives are still processed.
func TestMalformedHives(t *testing.T) {
	good := readExternal(t, "hives/regparser/NTUSER.DAT")
	trunc := good[:0x1000+0x800]
	flipped := append([]byte(nil), good...)
	for i := 0x1000; i < len(flipped); i += 97 {
		flipped[i] ^= 0x5a
	}
	cases := []struct {
		name    string
		hive    []byte
		wantErr bool
	}{
		{"empty", nil, true},
		{"garbage", bytes.Repeat([]byte("snapscan"), 1024), true},
		{"header only", good[:0x1000], true},
		{"truncated bins", trunc, false}, // the root is there; deeper cells are not
		{"bit-flipped bins", flipped, false},
		{"zeroed root", append(append([]byte(nil), good[:0x1000]...), make([]byte, 0x2000)...), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tree(t, map[string][]byte{
				"Users/bad/NTUSER.DAT":        c.hive,
				"Users/good/NTUSER.DAT":       good,
				"Windows/System32/Tasks/Good": []byte(`<?xml version="1.0"?><Task><Actions><Exec><Command>C:\Windows\System32\defrag.exe</Command></Exec></Actions></Task>`),
			})
			s := runAll(t, targetFor(t, dir))
			errs := s.errors["/Users/bad/NTUSER.DAT"]
			if c.wantErr && len(errs) == 0 {
				t.Errorf("no error for a broken hive")
			}
			for _, e := range errs {
				if !strings.Contains(e.Error(), "test:") {
					t.Errorf("error %q does not name the volume", e)
				}
			}
			ctf, task := false, false
			for _, i := range s.inventory {
				ctf = ctf || (i.Fields["user"] == "good" && strings.HasSuffix(i.Fields["key"], `\ctfmon.exe`))
				task = task || i.Kind == "task"
			}
			if !ctf || !task {
				t.Errorf("other hive read: %v, task read: %v", ctf, task)
			}
		})
	}
}

// loopHive returns an empty hive (minimal-hive.pl) whose root key's subkey
// list is replaced by a hostile index cell built by fill(cellOffset).
func loopHive(t *testing.T, fill func(rel uint32) []byte) []byte {
	p := filepath.Join(t.TempDir(), "h")
	if out, err := exec.Command("perl", filepath.Join(repoRoot(t), "testdata/images/src/windows-hives/minimal-hive.pl"), p).CombinedOutput(); err != nil {
		t.Skipf("perl: %v %s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Find the free cell after the root key and its security cell.
	off := 0x20
	for {
		sz := int32(binary.LittleEndian.Uint32(b[0x1000+off:]))
		if sz > 0 {
			break
		}
		off += int(-sz)
	}
	cell := fill(uint32(off))
	free := int32(binary.LittleEndian.Uint32(b[0x1000+off:]))
	binary.LittleEndian.PutUint32(b[0x1000+off:], uint32(-int32(len(cell)+4)))
	copy(b[0x1000+off+4:], cell)
	rest := int(free) - (len(cell) + 4)
	binary.LittleEndian.PutUint32(b[0x1000+off+len(cell)+4:], uint32(rest))
	root := 0x1000 + 0x20 + 4                                 // the nk structure of the root key
	binary.LittleEndian.PutUint32(b[root+0x14:], 1)           // one subkey
	binary.LittleEndian.PutUint32(b[root+0x1c:], uint32(off)) // its list
	return b
}

// TestHostileIndexes: index cells that point at themselves or list the key
// itself end with an error instead of recursing forever (regparser's own
// Subkeys would overflow the stack on the first).
func TestHostileIndexes(t *testing.T) {
	cases := []struct {
		name string
		cell func(rel uint32) []byte
		want string
	}{
		{"ri lists itself", func(rel uint32) []byte {
			c := []byte("ri\x02\x00")
			c = binary.LittleEndian.AppendUint32(c, rel)
			return binary.LittleEndian.AppendUint32(c, rel)
		}, "subkey index loop"},
		{"lf lists the root key", func(rel uint32) []byte {
			c := []byte("lf\x01\x00")
			c = binary.LittleEndian.AppendUint32(c, 0x20)
			return append(c, 'R', 'O', 'O', 'T')
		}, "its own ancestor"},
		{"li count beyond its cell", func(rel uint32) []byte {
			c := []byte("li\xff\xff")
			return binary.LittleEndian.AppendUint32(c, 0x20)
		}, "its own ancestor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := parseHive(loopHive(t, c.cell))
			if err != nil {
				t.Fatal(err)
			}
			err = walkHive(h, 512, func(string, *regKey) error { return nil })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("walk: %v, want %q", err, c.want)
			}
			if k, _ := h.open(`Software\Microsoft\Windows\CurrentVersion\Run`); k != nil {
				t.Errorf("found a Run key in an empty hive")
			}
		})
	}
}
