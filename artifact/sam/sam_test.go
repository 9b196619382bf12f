package sam

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// realValues loads the values exported from regipy's real SAM hive.
func realValues(t testing.TB) map[string][]byte {
	f, err := os.Open("testdata/regipy-sam.hex")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, h, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b
	}
	return out
}

// TestRealSAM decodes values of a real Windows 10 SAM; the expected times
// were computed independently from the raw FILETIMEs with Python datetime.
func TestRealSAM(t *testing.T) {
	v := realValues(t)
	cases := []struct {
		key       string
		rid       uint32
		flags     string
		name      string
		logons    uint16
		lastLogon string
		disabled  bool
	}{
		{"user-1000", 1000, "normal", "Preston", 4, "2014-09-30T02:59:34Z", false},
		{"user-500", 500, "disabled,normal,password-never-expires", "Administrator", 6, "2010-11-20T21:48:12Z", true},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			f, err := ParseFixed(v[c.key+"-F"])
			if err != nil {
				t.Fatal(err)
			}
			if f.RID != c.rid || FlagString(f.Flags) != c.flags || f.LogonCount != c.logons || f.Disabled() != c.disabled {
				t.Errorf("F: rid %d flags %s logons %d disabled %v", f.RID, FlagString(f.Flags), f.LogonCount, f.Disabled())
			}
			if got := f.LastLogon.Format(time.RFC3339); got != c.lastLogon {
				t.Errorf("last logon %s, want %s", got, c.lastLogon)
			}
			if !f.AccountExpires.IsZero() {
				t.Errorf("account expires %v, want never", f.AccountExpires)
			}
			vv, err := ParseVariable(v[c.key+"-V"])
			if err != nil {
				t.Fatal(err)
			}
			if vv.Name != c.name {
				t.Errorf("name %q, want %q", vv.Name, c.name)
			}
		})
	}
	a, err := ParseAlias(v["alias-544-C"])
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, m := range a.Members {
		members = append(members, m.String())
	}
	want := "S-1-5-21-1760460187-1592185332-161725925-500 S-1-5-21-1760460187-1592185332-161725925-1000"
	if a.RID != 544 || a.Name != "Administrators" || strings.Join(members, " ") != want {
		t.Errorf("alias: %d %q %v", a.RID, a.Name, members)
	}
	m, ok := MachineSID(v["domain-account-V"])
	if !ok || m.String() != "S-1-5-21-1760460187-1592185332-161725925" || a.Members[1].Domain() != m.String() {
		t.Errorf("machine SID %v %v", m, ok)
	}
	if r, ok := a.Members[1].RID(); !ok || r != 1000 {
		t.Errorf("member RID %d %v", r, ok)
	}
}

func TestBad(t *testing.T) {
	v := realValues(t)
	vv := append([]byte(nil), v["user-1000-V"]...)
	vv[0x10] = 0xff // name length past the value
	c := append([]byte(nil), v["alias-544-C"]...)
	c[0x30] = 3 // one member more than the list holds
	cases := []struct {
		name string
		fn   func() error
	}{
		{"short F", func() error { _, err := ParseFixed(make([]byte, 0x4f)); return err }},
		{"short V", func() error { _, err := ParseVariable(make([]byte, 0x10)); return err }},
		{"V name past end", func() error { _, err := ParseVariable(vv); return err }},
		{"short C", func() error { _, err := ParseAlias(make([]byte, 0x20)); return err }},
		{"C member count", func() error { _, err := ParseAlias(c); return err }},
		{"SID sub count", func() error { _, _, err := ParseSID([]byte{1, 16, 0, 0, 0, 0, 0, 5}); return err }},
	}
	for _, tc := range cases {
		if err := tc.fn(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
