package linux

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/internal/expect"
)

// stageAutostart copies the linux-autostart tree, runs its build hook and
// applies its attrs, as make.sh does.
func stageAutostart(t *testing.T) fsread.FS {
	t.Helper()
	for _, tool := range []string{"bash", "gcc", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: the tree's build hook needs it", tool)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", srcDir+"linux-autostart/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if out, err := exec.Command("bash", "-euo", "pipefail", srcDir+"linux-autostart.pre.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("pre.sh: %v %s", err, out)
	}
	return overlayFS(t, dir, srcDir+"linux-autostart.attrs")
}

// assertAutostart holds the checks and the file hook to
// linux-autostart.expect (less the YARA sweep's rows): every planted
// technique at medium or worse with its ATT&CK id, every twin quiet.
func assertAutostart(t *testing.T, s *sink) {
	t.Helper()
	rows, err := expect.Read(srcDir + "linux-autostart.expect")
	if err != nil {
		t.Fatal(err)
	}
	var keep []expect.Row
	for _, r := range rows {
		if !strings.HasPrefix(r.Rule, "yara.") {
			keep = append(keep, r)
		}
	}
	for _, p := range expect.Problems(keep, s.findings, s.inv) {
		t.Error(p)
	}
	for _, f := range s.findings {
		if f.Remediation == "" || f.Technique == "" || f.TechniqueName == "" || f.ID == "" || f.Title == "" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	for _, e := range s.errs {
		t.Errorf("scan error: %s", e)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("all findings:\n%s", s.dump())
	}
}

func TestAutostartTree(t *testing.T) {
	assertAutostart(t, runPrivAll(t, stageAutostart(t)))
}

// TestKernelAutostartImage: the same spec on the ext4 image make.sh built,
// mounted by the kernel (real flags, modes and symlinks).
func TestKernelAutostartImage(t *testing.T) {
	mnt := mountImage(t, "linux-autostart.img")
	fsys, err := dirfs.New(mnt)
	if err != nil {
		t.Fatal(err)
	}
	assertAutostart(t, runPrivAll(t, fsys))
}
