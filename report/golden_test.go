package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden renders the fixed sample in every format and compares it with
// the reviewed output in testdata/. Run with -update after an intended
// change and review the diff.
func TestGolden(t *testing.T) {
	tests := []struct {
		format string
		opts   WriteOptions
		file   string
	}{
		{"table", WriteOptions{Inventory: true}, "sample.table.golden"},
		{"table", WriteOptions{Width: 80}, "sample.table80.golden"},
		{"table", WriteOptions{Width: 200}, "sample.table200.golden"},
		{"table", WriteOptions{Width: 80, Color: true}, "sample.table80-color.golden"},
		{"json", WriteOptions{}, "sample.json.golden"},
		{"sarif", WriteOptions{}, "sample.sarif.golden"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			r := sampleReport()
			Finalize(r)
			var buf bytes.Buffer
			if err := Write(&buf, r, tc.format, tc.opts); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s output differs from %s (rerun with -update if intended):\n%s", tc.format, path, firstDiff(want, buf.Bytes()))
			}
		})
	}
}

// firstDiff shows the first differing line, enough to see what changed.
func firstDiff(want, got []byte) string {
	wl := bytes.Split(want, []byte("\n"))
	gl := bytes.Split(got, []byte("\n"))
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + string(w) + "\n  got:  " + string(g)
		}
	}
	return "(no line differs: trailing bytes)"
}
