package scanner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// Stratum protocol strings only, no miner name or pool host: the checks'
// string judgement of a followed binary has nothing to go on, the sweep's
// SNAP_Miner_Binary_Generic rule has (3 protocol methods and a miner option).
const stratumOnlyC = `#include <stdio.h>
static const char *m[] = {"mining.subscribe", "mining.authorize", "mining.submit", "--max-cpu-usage"};
int main(void) { for (int i = 0; i < 4; i++) puts(m[i]); return 0; }
`

const helloC = `#include <stdio.h>
int main(void) { puts("backup done"); return 0; }
`

// gcc builds an ELF from C source (a repository file or text).
func gcc(t *testing.T, out, srcFile, srcText string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed: cannot build the test ELFs")
	}
	if srcFile == "" {
		srcFile = filepath.Join(t.TempDir(), "x.c")
		if err := os.WriteFile(srcFile, []byte(srcText), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("gcc", "-O2", "-s", "-o", out, srcFile).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, b)
	}
}

// A cron line that runs an innocuous-named ELF in the image: the content
// sweep's YARA verdict on the ELF joins the autostart (report.Finalize),
// so the finding names the chain, carries cron's technique and is high;
// the same line running an ordinary program stays below medium. Without
// --inventory the join still happens (it precedes the output filter).
func TestCronRunsYARAMatchedBinary(t *testing.T) {
	rules, _, err := yarascan.Compile(yarascan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(testimg.RepoRoot(t), "testdata", "images", "src", "fakeminer.c")
	for _, tc := range []struct {
		name, src, text string
		yara            string // rule the chained finding names; "" for the benign twin
	}{
		{name: "fake XMRig ELF", src: fake, yara: "SNAP_XMRig_Binary"},
		{name: "stratum-only ELF", text: stratumOnlyC, yara: "SNAP_Miner_Binary_Generic"},
		{name: "ordinary ELF", text: helloC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, s := range map[string]string{
				"etc/passwd":         "root:x:0:0:root:/root:/bin/bash\n",
				"etc/os-release":     "ID=debian\nVERSION_ID=12\n",
				"etc/cron.d/sysstat": "SHELL=/bin/sh\n*/10 * * * * root cd /opt/sysstat && ./sa1 1 1\n",
			} {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			gcc(t, filepath.Join(root, "opt", "sysstat", "sa1"), tc.src, tc.text)
			r := ScanDir(context.Background(), root, "linux", Options{Checks: checks(), Sweep: ruleSweeper{rules}, Version: "test"})
			report.Finalize(r)
			var chained *report.Finding
			worst := report.Info
			for i, f := range r.Findings {
				worst = max(worst, f.Severity)
				if f.Rule == "cron.target-yara" {
					chained = &r.Findings[i]
				}
				t.Logf("%s %s %s %s", f.Severity, f.Rule, f.Evidence.Path, f.Description)
			}
			if tc.yara == "" {
				if chained != nil || worst >= report.Medium {
					t.Errorf("benign twin: worst %s, chained %v", worst, chained)
				}
				return
			}
			if chained == nil {
				t.Fatal("no cron.target-yara finding")
			}
			for _, s := range []string{"/etc/cron.d/sysstat line 2 runs /opt/sysstat/sa1", tc.yara} {
				if !strings.Contains(chained.Description, s) {
					t.Errorf("description %q lacks %q", chained.Description, s)
				}
			}
			if chained.Severity < report.High || chained.Technique != "T1053.003" || chained.Evidence.Path != "/opt/sysstat/sa1" || chained.Evidence.SHA256 == "" {
				t.Errorf("chained finding %s %s at %s (sha256 %q)", chained.Severity, chained.Technique, chained.Evidence.Path, chained.Evidence.SHA256)
			}
		})
	}
}
