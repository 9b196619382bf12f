package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
)

// TestScanBatchFlags runs scan as a batch with the CI flags: a list with a
// corrupt image in the middle, two shards in JSONL, the lists, a
// suppression file with a live and an expired entry, a baseline and
// evidence capture.
func TestScanBatchFlags(t *testing.T) {
	dir := t.TempDir()
	infected, clean := img(t, "linux-infected.img"), img(t, "linux-clean.img")
	corrupt := filepath.Join(dir, "corrupt.img")
	os.WriteFile(corrupt, []byte(strings.Repeat("not a disk image ", 70000)), 0o600)
	list := filepath.Join(dir, "images.txt")
	os.WriteFile(list, []byte("# batch\n"+infected+"\n"+corrupt+"\n\n"+clean+"\n"), 0o600)

	var shards []string
	for _, s := range []string{"0/2", "1/2"} {
		out := filepath.Join(dir, "shard-"+s[:1]+".jsonl")
		_, errs, code := run(t, "scan", "--no-sweep", "--from-file", list, "--shard", s, "--parallel", "2", "-f", "jsonl", "-o", out,
			"--at-risk-list", filepath.Join(dir, "risk-"+s[:1]), "--clean-list", filepath.Join(dir, "clean-"+s[:1]))
		if code != 0 && code != report.ExitIncomplete {
			t.Fatalf("shard %s: exit %d %s", s, code, errs)
		}
		shards = append(shards, out)
	}
	var risk, clean2 string
	for _, i := range []string{"0", "1"} {
		b, _ := os.ReadFile(filepath.Join(dir, "risk-"+i))
		risk += string(b)
		b, _ = os.ReadFile(filepath.Join(dir, "clean-"+i))
		clean2 += string(b)
	}
	if risk != infected+"\n" || clean2 != clean+"\n" {
		t.Errorf("lists: at risk %q, clean %q", risk, clean2)
	}
	out, _, _ := run(t, append([]string{"merge"}, shards...)...)
	if !strings.Contains(out, "3 images: 1 at risk, 1 clean, 0 incomplete, 1 not scanned") {
		t.Errorf("merge summary:\n%s", out)
	}

	// Suppressions and baseline.
	base := filepath.Join(dir, "base.json")
	if _, errs, code := run(t, "scan", "--no-sweep", "-f", "json", "-o", base, infected); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	var full report.Report
	b, _ := os.ReadFile(base)
	json.Unmarshal(oneJSON(t, string(b)), &full)
	ignore := filepath.Join(dir, "ignore.yaml")
	os.WriteFile(ignore, []byte("suppressions:\n  - id: "+full.Findings[0].ID+"\n    reason: accepted\n    expires: 2999-01-01\n"+
		"  - id: "+full.Findings[1].ID+"\n    reason: old\n    expires: 2001-01-01\n"), 0o600)
	stdout, errs, _ := run(t, "scan", "--no-sweep", "-f", "json", "--ignorefile", ignore, "--show-suppressed", infected)
	var r report.Report
	json.Unmarshal(oneJSON(t, stdout), &r)
	if len(r.Findings) != len(full.Findings)-1 || r.Stats.FindingsSuppressed != 1 || len(r.Suppressed) != 1 || r.Suppressed[0].Finding.ID != full.Findings[0].ID {
		t.Errorf("suppressed %d (%d listed), %d findings of %d", r.Stats.FindingsSuppressed, len(r.Suppressed), len(r.Findings), len(full.Findings))
	}
	if !strings.Contains(errs, "ignore.yaml:5: suppression of id "+full.Findings[1].ID+" expired") {
		t.Errorf("no expiry warning: %q", errs)
	}
	stdout, _, _ = run(t, "scan", "--no-sweep", "-f", "json", "--baseline", base, infected)
	r = report.Report{}
	json.Unmarshal(oneJSON(t, stdout), &r)
	if len(r.Findings) != 0 || r.Stats.FindingsInBaseline != len(full.Findings) {
		t.Errorf("baseline: %d new, %d known of %d", len(r.Findings), r.Stats.FindingsInBaseline, len(full.Findings))
	}

	// Evidence.
	ev := filepath.Join(dir, "ev")
	if _, errs, code := run(t, "scan", "--no-sweep", "-f", "json", "-o", filepath.Join(dir, "r.json"), "--evidence", ev, infected); code != 0 || !strings.Contains(errs, "manifest") {
		t.Fatalf("exit %d %s", code, errs)
	}
	ms, _ := filepath.Glob(filepath.Join(ev, "manifest-linux-infected.img-*.json"))
	files, _ := os.ReadDir(filepath.Join(ev, "files"))
	if len(ms) != 1 || len(files) < 10 {
		t.Errorf("%d manifests, %d files", len(ms), len(files))
	}

	// Bad suppression file: usage error naming file and line.
	os.WriteFile(ignore, []byte("suppressions:\n  - rule: x\n"), 0o600)
	if _, errs, code := run(t, "scan", "--no-sweep", "--ignorefile", ignore, infected); code != report.ExitUsage || !strings.Contains(errs, "ignore.yaml:2:") {
		t.Errorf("bad ignore file: exit %d %q", code, errs)
	}
}
