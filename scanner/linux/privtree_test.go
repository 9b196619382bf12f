package linux

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/internal/expect"
	"github.com/snapscan/snapscan/report"
)

// stagePrivesc copies the linux-privesc tree, runs its build hook (the
// stand-in binaries and modules) and applies its attrs, as make.sh does.
func stagePrivesc(t *testing.T) fsread.FS {
	t.Helper()
	for _, tool := range []string{"bash", "gcc", "dash", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: the tree's build hook needs it", tool)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", srcDir+"linux-privesc/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", srcDir+"linux-privesc.pre.sh", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pre.sh: %v %s", err, out)
	}
	return overlayFS(t, dir, srcDir+"linux-privesc.attrs")
}

// runPrivAll runs every check plus the sweep's file hook, as a scan with
// the sweep does (the YARA rows of the spec are the sweep's own).
func runPrivAll(t *testing.T, fsys fsread.FS) *sink {
	s := runAll(t, fsys)
	fs, inv := feedHook(t, fsys, NewFileHook(fsys, "test@1", "/"), "/")
	s.findings = append(s.findings, fs...)
	s.inv = append(s.inv, inv...)
	return s
}

// assertPrivesc holds findings to linux-privesc.expect, less the rows only
// the YARA sweep produces.
func assertPrivesc(t *testing.T, s *sink) {
	t.Helper()
	rows, err := expect.Read(srcDir + "linux-privesc.expect")
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
		if f.Evidence.Path == "/lib/modules/6.1.0-13-amd64/kernel/drivers/net/ethernet/intel/e1000/e1000.ko" {
			t.Errorf("the distribution module has a finding: %s", f.Rule)
		}
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

// TestPrivescTree: every planted technique of linux-privesc at medium or
// worse with its ATT&CK id, every benign twin quiet.
func TestPrivescTree(t *testing.T) {
	assertPrivesc(t, runPrivAll(t, stagePrivesc(t)))
}

// TestKernelPrivescImage: the same spec on the ext4 image make.sh built,
// mounted by the kernel (real set-id bits, birth times, symlinks).
func TestKernelPrivescImage(t *testing.T) {
	mnt := mountImage(t, "linux-privesc.img")
	fsys, err := dirfs.New(mnt)
	if err != nil {
		t.Fatal(err)
	}
	assertPrivesc(t, runPrivAll(t, fsys))
}

// The clean Debian images stay below medium with the new checks and the
// hook too (the debootstrap tree is judged by TestDebootstrapBookworm).
func TestCleanTreeWithFileHook(t *testing.T) {
	for _, dir := range []string{srcDir + "linux-clean", "/var/cache/snapscan-test/bookworm"} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		var fsys fsread.FS
		if strings.HasPrefix(dir, srcDir) {
			fsys = stageTree(t, dir, dir+".attrs")
		} else {
			d, err := dirfs.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			fsys = d
		}
		fs, inv := feedHook(t, fsys, NewFileHook(fsys, "test@1", "/"), "/")
		for _, f := range fs {
			if f.Severity >= report.Medium {
				t.Errorf("%s: %s %s %s", dir, f.Evidence.Path, f.Rule, f.Severity)
			}
		}
		t.Logf("%s: %d hook findings, %d inventory items", dir, len(fs), len(inv))
	}
}
