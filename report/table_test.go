package report

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostileReport stretches every column: a path with no separator for 300
// characters, a rule name longer than the table, wide (CJK) characters,
// a 5 KB match, long errors and inventory lines.
func hostileReport() *Report {
	r := sampleReport()
	long := strings.Repeat("x", 300)
	r.Findings = append(r.Findings,
		Finding{Rule: "rule." + strings.Repeat("very-long-rule-name-", 8), Check: "c", Title: strings.Repeat("标题很长 ", 30), Severity: High,
			Technique: "T1053.003", Family: strings.Repeat("Family", 10),
			Evidence: Evidence{Volume: "v@" + strings.Repeat("9", 40), Path: "/" + long + "/" + strings.Repeat("路径", 60), Line: 123456,
				Key: strings.Repeat(`HKLM\Very\Long\Key`, 10), Match: strings.Repeat("m", 5000), LinkTarget: long},
			Remediation: strings.Repeat("do this; ", 40)},
	)
	r.Errors = append(r.Errors, ScanError{Volume: strings.Repeat("vol", 30), Path: "/" + long, Stage: "check:" + strings.Repeat("s", 50), Error: strings.Repeat("error ", 100)})
	r.Inventory = append(r.Inventory, InventoryItem{Kind: "cron", Volume: "v", Path: "/" + long, Line: 3, Summary: long, Fields: map[string]string{long: long}})
	r.Volumes = append(r.Volumes, Volume{Name: long, Filesystem: long, Label: long, Reason: long})
	r.Targets = append(r.Targets, Target{OS: "linux", Name: long, Volume: long, Mounts: map[string]string{long: long}})
	return r
}

func maxLineWidth(s string) (int, string) {
	w, line := 0, ""
	for _, l := range strings.Split(s, "\n") {
		if lw := width(l); lw > w {
			w, line = lw, l
		}
	}
	return w, line
}

func TestTableFitsWidth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report func() *Report
		width  int
		limit  int
	}{
		{"sample default", sampleReport, 0, DefaultWidth},
		{"hostile default", hostileReport, 0, DefaultWidth},
		{"hostile 80", hostileReport, 80, 80},
		{"hostile 60", hostileReport, MinWidth, MinWidth},
		{"below minimum is raised to it", hostileReport, 20, MinWidth},
		{"hostile 200", hostileReport, 200, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.report()
			Finalize(r)
			var buf bytes.Buffer
			if err := WriteTable(&buf, r, WriteOptions{Inventory: true, Width: tc.width}); err != nil {
				t.Fatal(err)
			}
			if w, line := maxLineWidth(buf.String()); w > tc.limit {
				t.Errorf("line is %d columns, limit %d:\n%s", w, tc.limit, line)
			}
		})
	}
}

func TestTableIsTerminalSafe(t *testing.T) {
	r := hostileReport()
	r.Findings[0].Evidence.Path = "/tmp/\x1b]0;pwned\x07evil\u202etxt.sh"
	r.Errors[0].Error = "bad \x1b[31mred\x1b[0m \xff\xfe bytes"
	r.Inventory[0].Summary = "line\nbreak\rreturn\u2028sep\u200bzw"
	Finalize(r)
	// Wide enough that nothing wraps: the escaped forms must appear whole.
	var buf bytes.Buffer
	if err := WriteTable(&buf, r, WriteOptions{Inventory: true, Width: 2000}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !utf8.ValidString(out) {
		t.Error("table output is not valid UTF-8")
	}
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\u2028", "\u200b"} {
		if strings.Contains(out, bad) {
			t.Errorf("table output contains raw %q", bad)
		}
	}
	for _, want := range []string{`\x1b]0;pwned\x07evil\u202etxt.sh`, `\x1b[31mred`, `\xff\xfe`} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks the escaped form %q", want)
		}
	}
}

func TestTableContent(t *testing.T) {
	r := sampleReport()
	r.Findings[1].Evidence.Match = strings.Repeat("A", 1000) + "TAIL"
	Finalize(r)
	var plain, inv bytes.Buffer
	if err := WriteTable(&plain, r, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteTable(&inv, r, WriteOptions{Inventory: true}); err != nil {
		t.Fatal(err)
	}
	out := plain.String()
	checks := []struct {
		name string
		ok   bool
	}{
		{"long match truncated with an ellipsis", strings.Contains(out, "A…") && !strings.Contains(out, "TAIL")},
		{"unscanned volume and its reason shown", strings.Contains(out, "NOT SCANNED: swap space holds no files")},
		{"every error shown", strings.Contains(out, "extent tree") && strings.Contains(out, "invalid UTF-16")},
		{"duplicate error listed once", strings.Count(out, "extent tree") == 1},
		{"skipped count by reason", strings.Contains(out, "3 files not swept: 2 larger than --max-file-size, 1 sparse")},
		{"severity groups critical first", strings.Index(out, "CRITICAL (1)") < strings.Index(out, "HIGH (2)") && strings.Index(out, "HIGH (2)") < strings.Index(out, "INFO (1)")},
		{"verdict", strings.Contains(out, "VERDICT  at risk: 4 findings of medium or worse; incomplete: 2 errors")},
		{"remediation shown", strings.Contains(out, "Remove line 9 from /etc/hosts.")},
		{"hashes shown", strings.Contains(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")},
		{"immutable flag shown", strings.Contains(out, "IMMUTABLE")},
		{"no inventory without the option", !strings.Contains(out, "INVENTORY")},
		{"inventory with the option, grouped by kind", strings.Contains(inv.String(), "INVENTORY  3 items") && strings.Contains(inv.String(), "cron (2)") && strings.Contains(inv.String(), "systemd (1)")},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not so in\n%s", c.name, out)
		}
	}
}

func TestTableEmptyAndIncomplete(t *testing.T) {
	r := &Report{Tool: "snapscan", Image: "broken.img", Errors: []ScanError{{Stage: "open", Error: "qcow2: backing file refused"}}}
	Finalize(r)
	var buf bytes.Buffer
	if err := WriteTable(&buf, r, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"VOLUMES  0 of 0 scanned", "none found", "FINDINGS  0 critical", "could not scan: the image could not be opened: qcow2: backing file refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}

	clean := &Report{Tool: "snapscan", Image: "ok.img", Volumes: []Volume{{Name: "ok.img@1", Filesystem: "ext4", Scanned: true}}}
	Finalize(clean)
	buf.Reset()
	if err := WriteTable(&buf, clean, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "VERDICT  clean") {
		t.Errorf("clean report not called clean:\n%s", buf.String())
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  []string
	}{
		{"short", 10, []string{"short"}},
		{"two words here", 9, []string{"two words", "here"}},
		{"/usr/local/lib/libsystem.so", 12, []string{"/usr/local/", "lib/", "libsystem.so"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{`HKLM\Software\Run`, 10, []string{`HKLM\`, `Software\`, "Run"}},
		{"a\nb", 5, []string{"a", "b"}},
		{"路径路径路径", 5, []string{"路径", "路径", "路径"}},
		{"", 5, []string{""}},
	}
	for _, tc := range tests {
		got := wrap(tc.in, tc.width)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
		for _, l := range got {
			if width(l) > tc.width {
				t.Errorf("wrap(%q, %d): line %q is %d wide", tc.in, tc.width, l, width(l))
			}
		}
		if j := strings.Join(got, ""); strings.ReplaceAll(strings.ReplaceAll(tc.in, " ", ""), "\n", "") != strings.ReplaceAll(j, " ", "") {
			t.Errorf("wrap(%q, %d) lost characters: %q", tc.in, tc.width, got)
		}
	}
}

func TestCleanAndTruncate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"tab\there", "tab here"},
		{"\x1b[2J", `\x1b[2J`},
		{"a\xffb", `a\xffb`},
		{"rtl\u202eoverride", `rtl\u202eoverride`},
		{"nbsp\u00a0ok", `nbsp\u00a0ok`}, // a space that is not a space disguises a path
		{"c1\u0085", `c1\u0085`},
		{"日本語", "日本語"},
	} {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		w    int
		want string
	}{
		{"abcdef", 6, "abcdef"},
		{"abcdefg", 6, "abcde…"},
		{"日本語日本語", 7, "日本語…"},
		{"abc", 0, ""},
	} {
		if got := truncate(tc.in, tc.w); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.want)
		}
	}
}

func TestFitWidths(t *testing.T) {
	for _, tc := range []struct {
		natural, min []int
		avail        int
		want         []int
	}{
		{[]int{5, 10}, []int{1, 1}, 20, []int{5, 10}},
		{[]int{5, 30}, []int{1, 1}, 20, []int{5, 15}},
		{[]int{30, 30}, []int{1, 1}, 20, []int{10, 10}},
		{[]int{30, 30}, []int{25, 1}, 30, []int{25, 5}},
		{[]int{2, 50}, []int{6, 1}, 10, []int{2, 8}}, // a minimum above natural does not widen
	} {
		got := fitWidths(tc.natural, tc.min, tc.avail)
		if !slices.Equal(got, tc.want) {
			t.Errorf("fitWidths(%v, %v, %d) = %v, want %v", tc.natural, tc.min, tc.avail, got, tc.want)
		}
	}
}

// Colour adds escapes around severities and nothing else: without them the
// table is the plain one, so widths and wrapping are the same.
func TestTableColorOnlyAddsEscapes(t *testing.T) {
	r := sampleReport()
	Finalize(r)
	for _, w := range []int{80, 200} {
		var plain, colored bytes.Buffer
		if err := WriteTable(&plain, r, WriteOptions{Width: w}); err != nil {
			t.Fatal(err)
		}
		if err := WriteTable(&colored, r, WriteOptions{Width: w, Color: true}); err != nil {
			t.Fatal(err)
		}
		sgr := regexp.MustCompile("\x1b\\[[0-9;]*m")
		n := len(sgr.FindAllString(colored.String(), -1))
		if stripped := sgr.ReplaceAllString(colored.String(), ""); stripped != plain.String() || n < 2*6 {
			t.Errorf("width %d: %d escapes; stripped output equals the plain one: %v", w, n, stripped == plain.String())
		}
		if strings.Contains(plain.String(), "\x1b") {
			t.Errorf("width %d: escapes without Color", w)
		}
		if !strings.Contains(colored.String(), "\x1b[1;31mCRITICAL\x1b[0m") {
			t.Errorf("width %d: critical not in bold red", w)
		}
	}
}
