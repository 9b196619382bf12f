package windows_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner"
	"github.com/snapscan/snapscan/scanner/windows"
)

// ntfsImage formats an NTFS image with mkntfs and fills it through an
// ntfs-3g mount with files (path -> content). It needs root and FUSE, as
// testdata/images/make.sh does, and skips elsewhere.
func ntfsImage(t *testing.T, files map[string][]byte) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("building an NTFS image needs root for the ntfs-3g mount")
	}
	for _, tool := range []string{"mkntfs", "ntfs-3g", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/deps.sh installs ntfs-3g)", tool)
		}
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse for the ntfs-3g mount")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "win.img"), filepath.Join(dir, "mnt")
	// Output goes to a file, not a pipe: ntfs-3g's daemon inherits the
	// pipe and keeps it open until unmount, so reading it would hang.
	run := func(name string, args ...string) {
		log, err := os.CreateTemp(dir, "cmd-*.log")
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		c := exec.Command(name, args...)
		c.Stdout, c.Stderr = log, log
		if err := c.Run(); err != nil {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run("truncate", "-s", "64M", img)
	run("mkntfs", "-F", "-f", "-q", "-L", "win", img)
	run("ntfs-3g", img, mnt)
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	}()
	for p, b := range files {
		full := filepath.Join(mnt, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("umount", mnt)
	mounted = false
	return img
}

// TestRecoveredHivesEndToEnd scans real dirty hives of Windows 10 with their
// real transaction logs, on an NTFS image (mkntfs, ntfs-3g; needs root) and
// in a directory, through the whole scanner:
// the SYSTEM hive's logs hold a kernel driver service loaded from a user's
// Temp folder (ad_driver.sys) that the on-disk hive does not have, and the
// report's target lists every hive with its recovery state. Without the
// logs the same hive is read as it is and the verdict is incomplete.
func TestRecoveredHivesEndToEnd(t *testing.T) {
	rx := func(rel string) []byte { return testimg.ReadExternal(t, "hives/regipy/"+rel) }
	const cfg = "Windows/System32/config/"
	base := map[string][]byte{
		cfg + "SOFTWARE":             rx("ntuser_software_partial.xz"), // a clean SOFTWARE-like hive
		cfg + "SYSTEM":               rx("SYSTEM_B.xz"),
		"Users/tony/NTUSER.DAT":      rx("transactions_NTUSER.DAT.xz"),
		"Users/tony/ntuser.dat.LOG1": rx("transactions_ntuser.dat.log1.xz"),
		"Users/tony/ntuser.dat.LOG2": rx("transactions_ntuser.dat.log2.xz"),
	}
	withLogs := map[string][]byte{cfg + "SYSTEM.LOG1": rx("SYSTEM_B.LOG1.xz"), cfg + "system.log2": rx("SYSTEM_B.LOG2.xz")}
	const driver = `\??\C:\Users\jcloudy\AppData\Local\Temp\ad_driver.sys`
	cases := []struct {
		name       string
		logs       bool
		system     string // SYSTEM's recovery as the table shows it
		driver     bool
		incomplete bool
	}{
		{"SYSTEM with its logs", true, "replayed (24 transactions, 315 blocks)", true, false},
		{"SYSTEM without logs", false, "dirty, not replayed", false, true},
	}
	scans := []struct {
		name string
		scan func(t *testing.T, files map[string][]byte) *report.Report
	}{
		{"ntfs", func(t *testing.T, files map[string][]byte) *report.Report {
			img := ntfsImage(t, files)
			testimg.Unchanged(t, img)
			return scanner.ScanImage(context.Background(), img, scanner.Options{Checks: windows.Checks()})
		}},
		{"dir", func(t *testing.T, files map[string][]byte) *report.Report {
			dir := t.TempDir()
			for p, b := range files {
				full := filepath.Join(dir, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, b, 0o444); err != nil {
					t.Fatal(err)
				}
			}
			return scanner.ScanDir(context.Background(), dir, "windows", scanner.Options{Checks: windows.Checks()})
		}},
	}
	for _, sc := range scans {
		for _, c := range cases {
			t.Run(sc.name+"/"+c.name, func(t *testing.T) {
				files := map[string][]byte{}
				for p, b := range base {
					files[p] = b
				}
				if c.logs {
					for p, b := range withLogs {
						files[p] = b
					}
				}
				r := sc.scan(t, files)
				if len(r.Targets) != 1 || r.Targets[0].OS != "windows" {
					t.Fatalf("targets %+v", r.Targets)
				}
				got := map[string]string{}
				for _, h := range r.Targets[0].Hives {
					got[h.Path] = recoveryString(h.Recovery)
				}
				want := map[string]string{
					"/" + cfg + "SOFTWARE":   "clean",
					"/" + cfg + "SYSTEM":     c.system,
					"/Users/tony/NTUSER.DAT": "replayed (23 transactions, 132 blocks)",
				}
				for p, w := range want {
					if !strings.HasPrefix(got[p], w) {
						t.Errorf("hive %s: %q, want %q", p, got[p], w)
					}
				}
				if len(got) != len(want) {
					t.Errorf("hives %v, want %v", got, want)
				}
				t.Logf("hives %q; verdict %q", got, report.Verdict(r))
				found := false
				for _, f := range r.Findings {
					found = found || f.Evidence.Match == driver && f.Severity >= report.Medium
				}
				if found != c.driver {
					t.Errorf("driver service from the log found: %v, want %v", found, c.driver)
				}
				inc := strings.Contains(report.Verdict(r), "incomplete")
				if inc != c.incomplete {
					t.Errorf("verdict %q (errors %+v), incomplete want %v", report.Verdict(r), r.Errors, c.incomplete)
				}
			})
		}
	}
}

// recoveryString is the one-line form of a hive's state, as
// fsread.Recovery.String gives it for volumes.
func recoveryString(r report.Recovery) string {
	return fsread.Recovery{State: fsread.RecoveryState(r.State), Transactions: r.Transactions, Blocks: r.Blocks, Reason: r.Reason}.String()
}
