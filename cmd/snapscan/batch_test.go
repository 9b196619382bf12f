package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/snapscan/snapscan/report"
)

// TestMerge joins reports written by scan (JSON files, as shards would
// write JSONL) and checks the summary, the lists, the formats and the exit
// code.
func TestMerge(t *testing.T) {
	dir := t.TempDir()
	infected, clean := img(t, "linux-infected.img"), img(t, "linux-clean.img")
	var files []string
	for i, im := range []string{infected, clean, filepath.Join(dir, "missing.img")} {
		p := filepath.Join(dir, "shard-"+string(rune('0'+i))+".json")
		if _, errs, code := run(t, "scan", "--no-sweep", "-f", "json", "-o", p, im); code != 0 && code != report.ExitIncomplete {
			t.Fatalf("scan %s: exit %d %s", im, code, errs)
		}
		files = append(files, p)
	}
	risk, ok := filepath.Join(dir, "risk.txt"), filepath.Join(dir, "clean.txt")
	out, errs, code := run(t, append([]string{"merge", "--at-risk-list", risk, "--clean-list", ok, "--exit-code", "5"}, files...)...)
	if code != 5 {
		t.Errorf("exit %d (%s), want 5: an image is at risk", code, errs)
	}
	for _, part := range []string{"3 images: 1 at risk, 1 clean, 0 incomplete, 1 not scanned", "missing.img: the image could not be opened"} {
		if !strings.Contains(out, part) {
			t.Errorf("summary lacks %q:\n%s", part, out)
		}
	}
	if b, _ := os.ReadFile(risk); string(b) != infected+"\n" {
		t.Errorf("at-risk list %q", b)
	}
	if b, _ := os.ReadFile(ok); string(b) != clean+"\n" {
		t.Errorf("clean list %q", b)
	}

	// JSONL out, merged again: the same reports, one per line.
	jl := filepath.Join(dir, "all.jsonl")
	// missing.img was not scanned: merge says 3, as scan did.
	if _, errs, code := run(t, append([]string{"merge", "-f", "jsonl", "-o", jl}, files...)...); code != report.ExitIncomplete {
		t.Fatalf("merge -f jsonl: exit %d %s", code, errs)
	}
	b, _ := os.ReadFile(jl)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d JSONL lines, want 3", len(lines))
	}
	var images []string
	for _, l := range lines {
		var r report.Report
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		images = append(images, r.Image)
	}
	if !slices.IsSorted(images) || !slices.Contains(images, infected) {
		t.Errorf("images %v", images)
	}
	again, _, code := run(t, "merge", "-f", "json", jl)
	var arr []report.Report
	if err := json.Unmarshal([]byte(again), &arr); err != nil || len(arr) != 3 || code != report.ExitIncomplete {
		t.Errorf("merge -f json of the JSONL: %d reports, exit %d, %v", len(arr), code, err)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"merge"}, report.ExitUsage, "at least one"},
		{[]string{"merge", "-f", "sarif", jl}, report.ExitUsage, "valid formats for merge"},
		{[]string{"merge", "--fail-on", "severe", jl}, report.ExitUsage, "unknown severity"},
		{[]string{"merge", filepath.Join(dir, "nope.jsonl")}, report.ExitIncomplete, "nope.jsonl"},
	} {
		_, errs, code := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
}

// TestCIFlags exercises the helpers scan uses for batches, on a bare
// command with only these flags.
func TestCIFlags(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.img", "b.img", "c.img", "d.img"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("# comment\n/x/extra.img\n\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("suppressions:\n  - rule: cron.*\n    reason: r\n    expires: tomorrow\n"), 0o600)

	newCmd := func(args ...string) (*cobra.Command, *ciFlags, error) {
		var c ciFlags
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		addCIFlags(cmd.Flags(), &c)
		cmd.SetErr(&bytes.Buffer{})
		return cmd, &c, cmd.ParseFlags(args)
	}

	var union []string
	for _, shard := range []string{"0/2", "1/2"} {
		cmd, c, err := newCmd("--from-file", list, "--shard", shard)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := c.images(cmd, []string{dir})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 3 || len(got) > 4 { // 7 paths in 2 shards
			t.Errorf("shard %s: %v", shard, got)
		}
		union = append(union, got...)
	}
	slices.Sort(union)
	want := []string{"/x/extra.img", filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img"), filepath.Join(dir, "bad.yaml"),
		filepath.Join(dir, "c.img"), filepath.Join(dir, "d.img"), filepath.Join(dir, "list.txt")}
	slices.Sort(want)
	if !slices.Equal(union, want) {
		t.Errorf("shards together %v, want %v", union, want)
	}

	for _, tc := range []struct {
		args []string
		code int // 0: no error
		msg  string
	}{
		{[]string{"--ignorefile", bad}, report.ExitUsage, "bad.yaml:4: expires"},
		{[]string{"--ignorefile", filepath.Join(dir, "absent")}, report.ExitUsage, "absent"},
		{nil, 0, ""}, // the default .snapscanignore may be absent
		{[]string{"--baseline", list}, report.ExitUsage, "record 1"},
		{[]string{"--parallel", "0"}, report.ExitUsage, "--parallel"},
	} {
		cmd, c, err := newCmd(tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		err = c.prepare(cmd)
		var ee *exitError
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.code != 0 && (err == nil || !errors.As(err, &ee) || ee.code != tc.code || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%v: %v, want exit %d and %q", tc.args, err, tc.code, tc.msg)
		}
	}
	cmd, c, _ := newCmd("--shard", "2/2")
	if _, _, err := c.images(cmd, []string{"a"}); err == nil || !strings.Contains(err.Error(), "--shard") {
		t.Errorf("bad shard: %v", err)
	}
}
