package job

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParse: no panic; the same bytes decode the same twice; strings and
// triggers fit in the input; and what decodes re-encodes to a file that
// decodes to the same job (round trip through Encode).
// Run with: go test -fuzz FuzzParse ./artifact/job
func FuzzParse(f *testing.F) {
	f.Add(Encode(&Job{Application: "cmd.exe", Parameters: "/c calc", Triggers: []Trigger{{Type: "boot"}}}))
	f.Add(Encode(&Job{Application: `C:\a b\c.exe`, Author: "x", Comment: "y", Flags: FlagHidden}))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := Parse(b)
		j2, err2 := Parse(b)
		if !reflect.DeepEqual(j, j2) || (err == nil) != (err2 == nil) {
			t.Fatal("Parse differs between two runs")
		}
		if err != nil {
			return
		}
		n := 0
		for _, s := range []string{j.Application, j.Parameters, j.WorkingDirectory, j.Author, j.Comment} {
			n += utf8.RuneCountInString(s)
		}
		if 2*n > len(b) || 48*len(j.Triggers) > len(b) {
			t.Fatalf("decoded more than the %d-byte input holds", len(b))
		}
		back, err := Parse(Encode(j))
		if err != nil {
			t.Fatalf("re-encoded job does not parse: %v", err)
		}
		// Encode does not keep the UUID's neighbours or unknown trigger types
		// beyond 16 bits; everything Parse reports must survive.
		if back.Application != j.Application || back.Parameters != j.Parameters || back.Author != j.Author ||
			back.Flags != j.Flags || len(back.Triggers) != len(j.Triggers) || !back.LastRun.Equal(j.LastRun) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, j)
		}
	})
}
