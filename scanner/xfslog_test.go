package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// A crash-consistent snapshot of an XFS Linux root whose malicious cron
// job exists only in the log (made by the kernel: files written, then the
// filesystem shut down before the metadata reached its place) must be
// judged on the replayed view: the cron finding is there, and the volume is
// not reported clean-and-unreplayed.
func TestScanDirtyXFSFindsJournalOnlyCron(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the dirty XFS image is made through a loop mount")
	}
	for _, tool := range []string{"mkfs.xfs", "xfs_io", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (xfsprogs, util-linux)", tool)
		}
	}
	if b, _ := os.ReadFile("/proc/filesystems"); !bytes.Contains(b, []byte("\txfs\n")) {
		t.Skip("the kernel has no XFS")
	}
	img := filepath.Join(t.TempDir(), "dirty-xfs-root.img")
	script := filepath.Join(testimg.RepoRoot(t), "testdata/images/make-dirty-xfs.sh")
	if out, err := exec.Command("bash", script, img, "v5").CombinedOutput(); err != nil {
		if strings.Contains(string(out), "mount") {
			t.Skipf("cannot make the dirty image: %s", out)
		}
		t.Fatalf("make-dirty-xfs.sh: %v\n%s", err, out)
	}
	before := fileSum(t, img)

	r := ScanImage(context.Background(), img, Options{Checks: checks(), Version: "test"})
	report.Finalize(r)
	if fileSum(t, img) != before {
		t.Fatal("scanning changed the image")
	}
	if len(r.Targets) != 1 || r.Targets[0].OS != "linux" {
		t.Fatalf("targets %+v, want one Linux root", r.Targets)
	}
	var cron *report.Finding
	for i, f := range r.Findings {
		if strings.HasSuffix(f.Evidence.Path, "etc/cron.d/0miner") && strings.HasPrefix(f.Rule, "cron.") {
			cron = &r.Findings[i]
		}
	}
	if cron == nil {
		var got []string
		for _, f := range r.Findings {
			got = append(got, f.Rule+" "+f.Evidence.Path)
		}
		t.Fatalf("no cron finding for the journal-only /etc/cron.d/0miner; findings: %q", got)
	}
	if cron.Severity != report.High && cron.Severity != report.Critical {
		t.Errorf("cron finding severity %v", cron.Severity)
	}
	for _, v := range r.Volumes {
		if !v.Scanned {
			t.Errorf("volume %s not scanned: %s", v.Name, v.Reason)
		}
		// Filled in by the scanner once the recovery record is wired to
		// the report; when it is, it must say replayed.
		if v.Recovery != nil && v.Recovery.State != "replayed" {
			t.Errorf("volume %s recovery %+v, want replayed", v.Name, v.Recovery)
		}
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
