package scanner

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// A snapshot taken mid-write: the malicious cron file exists only in the
// ext4 journal (testdata/images/make-dirty-ext4.sh d-ext4: needs_recovery
// set, three committed transactions). The default scan replays the journal
// in memory and finds it; the on-disk view, asked for explicitly, does not
// have the file; the image is not written.
func TestJournalOnlyCronIsFound(t *testing.T) {
	for _, tool := range []string{"mke2fs", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (e2fsprogs) to build the dirty image", tool)
		}
	}
	img := filepath.Join(t.TempDir(), "dirty.img")
	script := filepath.Join(testimg.RepoRoot(t), "testdata/images/make-dirty-ext4.sh")
	if out, err := exec.Command("bash", script, img, "d-ext4").CombinedOutput(); err != nil {
		t.Fatalf("make-dirty-ext4.sh: %v\n%s", err, out)
	}
	testimg.Unchanged(t, img)

	r := ScanImage(context.Background(), img, Options{Checks: checks()})
	report.Finalize(r)
	found := slices.ContainsFunc(r.Findings, func(f report.Finding) bool {
		return f.Rule == "cron.download-exec" && f.Evidence.Path == "/etc/cron.d/miner"
	})
	if !found {
		t.Fatalf("the journal-only cron file was not reported: %v (errors %v)", findingSet(r, img), r.Errors)
	}
	if len(r.Volumes) != 1 {
		t.Fatalf("volumes %+v", r.Volumes)
	}
	if rec := r.Volumes[0].Recovery; rec != nil && rec.State != string(fsread.RecoveryReplayed) {
		t.Errorf("volume recovery %+v, want replayed", rec)
	}

	// The benign twin on the same image: the stock backup cron stays below medium.
	for _, f := range r.Findings {
		if f.Evidence.Path == "/etc/cron.d/backup" && f.Severity >= report.Medium {
			t.Errorf("benign cron reported %s: %+v", f.Severity, f)
		}
	}

	disk, err := image.OpenWith(img, image.Options{FS: fsread.OpenOptions{NoReplay: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	fsys, err := disk.Volumes[0].FS()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(fsys, "etc/cron.d/miner"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("on-disk view: etc/cron.d/miner %v, want absent (it is only in the journal)", err)
	}
	if rec := fsread.RecoveryOf(fsys); rec.State != fsread.RecoveryDirty {
		t.Errorf("on-disk view recovery %+v, want dirty", rec)
	}
	if _, err := os.Stat(img); err != nil {
		t.Fatal(err)
	}
}
