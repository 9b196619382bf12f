package linux

import (
	"os"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
)

// stagePrivesc copies the linux-privesc tree, runs its build hook (the
// stand-in binaries and modules) and applies its attrs, as make.sh does.
func stagePrivesc(t *testing.T) fsread.FS { return stageSpecTree(t, "linux-privesc", "dash") }

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
// the YARA sweep produces; the distribution's own module stays quiet.
func assertPrivesc(t *testing.T, s *sink) {
	t.Helper()
	assertSpec(t, s, "linux-privesc", func(f report.Finding) {
		if f.Evidence.Path == "/lib/modules/6.1.0-13-amd64/kernel/drivers/net/ethernet/intel/e1000/e1000.ko" {
			t.Errorf("the distribution module has a finding: %s", f.Rule)
		}
	})
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
