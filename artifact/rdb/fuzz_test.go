package rdb

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// FuzzParse: never a panic; the limits hold; the same bytes give the same
// dump; a clean parse ends inside the input and ignores what follows End.
func FuzzParse(f *testing.F) {
	for _, n := range []string{"attack.rdb", "lzf.rdb"} {
		if b, err := os.ReadFile("testdata/" + n); err == nil {
			f.Add(b)
		}
	}
	e := head(9)
	e.b(TypeZset).str("z").len(1).str("m").b(2, '1', '5')
	e.b(TypeString).str("c").b(0xc3).len(6).len(16).b(0x01, 'a', 'b', 0xe0, 0x05, 0x01)
	f.Add(e.end(9))
	lim := Limits{MaxString: 4096, MaxStrings: 256, MaxTotal: 64 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data, lim)
		if d == nil {
			return
		}
		total, n := 0, 0
		for _, s := range d.Strings() {
			if len(s) > lim.MaxString {
				t.Fatalf("string of %d bytes", len(s))
			}
			total += len(s)
			n++
		}
		for _, a := range d.Aux {
			total += len(a.Key) + len(a.Value)
			n += 2
		}
		if total > lim.MaxTotal || n > lim.MaxStrings {
			t.Fatalf("%d strings, %d bytes kept", n, total)
		}
		for _, k := range d.Keys {
			if k.Offset < 9 || k.Offset >= int64(len(data)) {
				t.Fatalf("key offset %d", k.Offset)
			}
		}
		d2, err2 := Parse(data, lim)
		if !reflect.DeepEqual(d, d2) || (err == nil) != (err2 == nil) {
			t.Fatal("second parse differs")
		}
		if err != nil {
			return
		}
		if d.End > int64(len(data)) {
			t.Fatalf("end %d past %d", d.End, len(data))
		}
		d3, err3 := Parse(append(bytes.Clone(data[:d.End]), "trailing junk"...), lim)
		if err3 != nil || !reflect.DeepEqual(d, d3) {
			t.Fatalf("trailing bytes changed the parse: %v", err3)
		}
	})
}
