package linux

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/internal/expect"
	"github.com/snapscan/snapscan/report"
)

// stageSpecTree copies a test tree of testdata/images/src, runs its build
// hook and applies its attrs, as make.sh does.
func stageSpecTree(t *testing.T, name string, tools ...string) fsread.FS {
	t.Helper()
	for _, tool := range append([]string{"bash", "gcc", "cp"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: the tree's build hook needs it", tool)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", srcDir+name+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if out, err := exec.Command("bash", "-euo", "pipefail", srcDir+name+".pre.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("pre.sh: %v %s", err, out)
	}
	return overlayFS(t, dir, srcDir+name+".attrs")
}

// assertSpec holds the checks and the file hook to the tree's .expect
// (less the YARA sweep's rows, joined to autostarts or not): every planted technique at medium or worse
// with its ATT&CK id, every twin quiet, every finding complete; extra
// judges each finding further.
func assertSpec(t *testing.T, s *sink, name string, extra func(report.Finding)) {
	t.Helper()
	rows, err := expect.Read(srcDir + name + ".expect")
	if err != nil {
		t.Fatal(err)
	}
	var keep []expect.Row
	for _, r := range rows {
		if !strings.HasPrefix(r.Rule, "yara.") && !strings.HasSuffix(r.Rule, ".target-yara") {
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
		if extra != nil {
			extra(f)
		}
	}
	for _, e := range s.errs {
		t.Errorf("scan error: %s", e)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("all findings:\n%s", s.dump())
	}
}

func stageAutostart(t *testing.T) fsread.FS { return stageSpecTree(t, "linux-autostart") }

// assertAutostart: linux-autostart.expect, and a followed chain is named.
func assertAutostart(t *testing.T, s *sink) {
	t.Helper()
	assertSpec(t, s, "linux-autostart", func(f report.Finding) {
		if f.Evidence.Path == "/etc/cron.d/sysupdate" && !strings.Contains(f.Title, "runs /usr/local/bin/sysupdate.sh, which") {
			t.Errorf("chain not named: %s", f.Title)
		}
	})
	credited := map[string]string{}
	for _, i := range s.inv {
		if i.Kind == "ssh-key" {
			credited[i.Path] = i.Fields["user"]
		}
	}
	if credited["/etc/ssh/keys/toor"] != "toor" || credited["/root/.ssh/authorized_keys"] != "root" {
		t.Errorf("keys credited %v", credited)
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
