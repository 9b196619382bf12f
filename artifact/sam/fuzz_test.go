package sam

import (
	"bytes"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds one byte string to every decoder. Invariants: no panic;
// the same input decodes the same twice; names hold at most one rune per
// two bytes; every alias member re-encodes to bytes found in the input (the
// SID round trip); a decoded F's RID is the one at its offset.
// Run with: go test -fuzz FuzzParse ./artifact/sam
func FuzzParse(f *testing.F) {
	for _, b := range realValues(f) {
		f.Add(b)
	}
	f.Add([]byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xe8, 3, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fx, err1 := ParseFixed(b)
		fx2, err2 := ParseFixed(b)
		if !reflect.DeepEqual(fx, fx2) || (err1 == nil) != (err2 == nil) {
			t.Fatal("ParseFixed differs between two runs")
		}
		if err1 == nil && fx.RID != uint32(b[0x30])|uint32(b[0x31])<<8|uint32(b[0x32])<<16|uint32(b[0x33])<<24 {
			t.Fatal("RID not read from offset 0x30")
		}
		v, err := ParseVariable(b)
		if v2, _ := ParseVariable(b); !reflect.DeepEqual(v, v2) {
			t.Fatal("ParseVariable differs between two runs")
		}
		if err == nil {
			for _, s := range []string{v.Name, v.FullName, v.Comment} {
				if utf8.RuneCountInString(s) > len(b)/2 {
					t.Fatalf("name %q longer than the value allows", s)
				}
			}
		}
		a, err := ParseAlias(b)
		if a2, _ := ParseAlias(b); !reflect.DeepEqual(a, a2) {
			t.Fatal("ParseAlias differs between two runs")
		}
		if err == nil {
			for _, m := range a.Members {
				enc := m.Bytes()
				if !bytes.Contains(b, enc) {
					t.Fatalf("member %s re-encodes to bytes not in the value", m)
				}
				back, n, err := ParseSID(enc)
				if err != nil || n != len(enc) || !reflect.DeepEqual(back, m) {
					t.Fatalf("SID round trip: %v %d %v", back, n, err)
				}
			}
		}
		if s, n, err := ParseSID(b); err == nil {
			if n > len(b) || !bytes.Equal(s.Bytes(), b[:n]) {
				t.Fatal("ParseSID does not round-trip")
			}
		}
	})
}
