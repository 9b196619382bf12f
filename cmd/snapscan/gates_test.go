package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/snapscan/snapscan/report"
)

var (
	gapsOnce sync.Once
	gapsDir  string
	gapsErr  error
)

// gapImage builds (once per test binary) the images of
// testdata/images/make-gaps.sh and returns the path of name.
func gapImage(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Skip("mke2fs not installed (scripts/deps.sh installs e2fsprogs)")
	}
	gapsOnce.Do(func() {
		gapsDir, gapsErr = os.MkdirTemp("", "snapscan-gaps-")
		if gapsErr != nil {
			return
		}
		out, err := exec.Command("sh", "../../testdata/images/make-gaps.sh", gapsDir).CombinedOutput()
		if err != nil {
			gapsErr = fmt.Errorf("%w: %s", err, out)
		}
	})
	if gapsErr != nil {
		t.Fatalf("make-gaps.sh: %v", gapsErr)
	}
	p := filepath.Join(gapsDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not built (its mkfs is not installed)", name)
	}
	return p
}

// TestNoScanOfNothingExitsZero: every way of asking for something that is
// not (fully) scanned exits 3, says why on stderr even with -o, writes a
// complete document, and keeps the image off the clean list (issue 17).
func TestNoScanOfNothingExitsZero(t *testing.T) {
	dir := t.TempDir()
	emptyDir := filepath.Join(dir, "empty")
	os.Mkdir(emptyDir, 0o755)
	emptyList := filepath.Join(dir, "empty.txt")
	os.WriteFile(emptyList, []byte("# nothing yet\n\n"), 0o644)
	for _, tc := range []struct {
		name   string
		args   func() []string
		stderr string // what stderr must say
		code   int
	}{
		{"empty directory", func() []string { return []string{emptyDir} }, "directory holds no file", report.ExitIncomplete},
		{"empty --dir tree", func() []string { return []string{"--dir", emptyDir} }, "nothing was examined", report.ExitIncomplete},
		{"empty --from-file", func() []string { return []string{"--from-file", emptyList} }, "names no image", report.ExitIncomplete},
		{"missing image", func() []string { return []string{filepath.Join(dir, "missing.img")} }, "missing.img", report.ExitIncomplete},
		{"first 8 MiB of a 1.2 GiB ext4", func() []string { return []string{gapImage(t, "ext4-truncated.img")} }, "claims 1.2 GiB", report.ExitIncomplete},
		{"truncated XFS", func() []string { return []string{gapImage(t, "xfs-truncated.img")} }, "xfs filesystem claims 320.0 MiB", report.ExitIncomplete},
		{"truncated NTFS", func() []string { return []string{gapImage(t, "ntfs-truncated.img")} }, "ntfs filesystem claims 64.0 MiB", report.ExitIncomplete},
		{"journal not replayed", func() []string { return []string{"--no-journal-replay", gapImage(t, "ext4-dirty.img")} }, "journal writes that were not applied", report.ExitIncomplete},
		{"journal not replayed, risk accepted", func() []string {
			return []string{"--no-journal-replay", "--allow-unreplayed-journal", gapImage(t, "ext4-dirty.img")}
		}, "accepted by --allow-unreplayed-journal", report.ExitClean},
		{"whole-scan timeout", func() []string { return []string{"--timeout", "1ns", img(t, "linux-clean.img")} }, "--timeout 1ns reached", report.ExitIncomplete},
	} {
		for _, format := range []string{"sarif", "json"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				args := tc.args()
				out := filepath.Join(t.TempDir(), "out."+format)
				clean, risk := filepath.Join(t.TempDir(), "clean.txt"), filepath.Join(t.TempDir(), "risk.txt")
				all := append([]string{"scan", "--no-sweep", "--exit-code", "1", "-f", format, "-o", out, "--clean-list", clean, "--at-risk-list", risk}, args...)
				_, errs, code := run(t, all...)
				if code != tc.code {
					t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errs)
				}
				if !strings.Contains(errs, tc.stderr) {
					t.Errorf("stderr does not say %q:\n%s", tc.stderr, errs)
				}
				b, err := os.ReadFile(out)
				var doc any
				if err != nil || json.Unmarshal(b, &doc) != nil {
					t.Fatalf("-o %s is not a complete JSON document (%v): %.200q", format, err, b)
				}
				if format == "sarif" {
					var s struct {
						Runs []struct {
							Invocations []struct {
								ExecutionSuccessful bool `json:"executionSuccessful"`
							} `json:"invocations"`
						} `json:"runs"`
					}
					json.Unmarshal(b, &s)
					if len(s.Runs) != 1 || len(s.Runs[0].Invocations) != 1 || (s.Runs[0].Invocations[0].ExecutionSuccessful != (tc.code == 0 && !strings.Contains(tc.name, "journal"))) {
						t.Errorf("SARIF runs/invocation: %+v", s.Runs)
					}
				}
				if c, _ := os.ReadFile(clean); len(c) != 0 {
					t.Errorf("on the clean list: %q", c)
				}
			})
		}
	}
}

// TestTimeoutMarksInterrupted: the partial report says interrupted, in the
// JSON field and in the errors.
func TestTimeoutMarksInterrupted(t *testing.T) {
	stdout, _, code := run(t, "scan", "--no-sweep", "-f", "json", "--timeout", "1ns", img(t, "linux-clean.img"))
	var r report.Report
	if err := json.Unmarshal(oneJSON(t, stdout), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || code != report.ExitIncomplete {
		t.Errorf("interrupted=%v exit %d", r.Interrupted, code)
	}
	found := false
	for _, e := range r.Errors {
		found = found || (e.Stage == report.StageInterrupted && strings.Contains(e.Error, "--timeout"))
	}
	if !found {
		t.Errorf("no interrupted error: %+v", r.Errors)
	}
	if _, _, code := run(t, "scan", "--no-sweep", "--timeout", "-1s", img(t, "linux-clean.img")); code != report.ExitUsage {
		t.Errorf("negative --timeout: exit %d", code)
	}
}

// TestRecoveryStateInEveryFormat: a volume read without replaying its
// journal says so in the table header, JSON, JSONL and SARIF.
func TestRecoveryStateInEveryFormat(t *testing.T) {
	dirty := gapImage(t, "ext4-dirty.img")
	for _, c := range []struct{ format, want string }{
		{"table", "Recovery   ext4-dirty.img: dirty, not replayed"},
		{"json", `"state": "dirty"`},
		{"jsonl", `"recovery":{"state":"dirty"`},
		{"sarif", `"volumeRecovery"`},
	} {
		stdout, _, _ := run(t, "scan", "--no-sweep", "--no-journal-replay", "-f", c.format, dirty)
		if !strings.Contains(stdout, c.want) {
			t.Errorf("%s lacks %q:\n%.1500s", c.format, c.want, stdout)
		}
	}
	// A journaled volume with nothing pending says clean.
	stdout, _, _ := run(t, "scan", "--no-sweep", "-f", "json", img(t, "linux-clean.img"))
	var r report.Report
	json.Unmarshal(oneJSON(t, stdout), &r)
	if len(r.Volumes) == 0 || r.Volumes[0].Recovery == nil || r.Volumes[0].Recovery.State != report.RecoveryClean {
		t.Errorf("clean ext4 volume recovery: %+v", r.Volumes)
	}
	// inspect says it too.
	if out, _, _ := run(t, "inspect", "--no-journal-replay", dirty); !strings.Contains(out, "journal dirty, not replayed") {
		t.Errorf("inspect does not show the journal state:\n%s", out)
	}
	// The analyst commands take the flag too.
	for _, cmd := range [][]string{{"inspect", dirty}, {"ls", dirty + ":/etc"}, {"cat", dirty + ":/etc/os-release"}, {"stat", dirty + ":/etc/passwd"}} {
		if _, errs, code := run(t, append([]string{cmd[0], "--no-journal-replay"}, cmd[1:]...)...); code != 0 {
			t.Errorf("%s --no-journal-replay: exit %d %s", cmd[0], code, errs)
		}
	}
}

// TestOutputDestinations: as root (CI), -o /dev/null, a FIFO and a symlink
// leave those paths as they were; a directory is refused before the scan.
func TestOutputDestinations(t *testing.T) {
	image := img(t, "ext4-bare.img")
	dir := t.TempDir()
	scan := func(out string) (string, int) {
		_, errs, code := run(t, "scan", "--no-sweep", "-f", "json", "-o", out, image)
		return errs, code
	}
	t.Run("/dev/null", func(t *testing.T) {
		before, err := os.Stat("/dev/null")
		if err != nil {
			t.Skip("no /dev/null")
		}
		if errs, code := scan("/dev/null"); code != 0 {
			t.Fatalf("exit %d %s", code, errs)
		}
		after, _ := os.Stat("/dev/null")
		if after.Mode()&os.ModeCharDevice == 0 || !os.SameFile(before, after) {
			t.Fatalf("/dev/null is now %v", after.Mode())
		}
	})
	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(dir, "report.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skip(err)
		}
		got := make(chan []byte, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- nil
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			got <- b
		}()
		if errs, code := scan(fifo); code != 0 {
			t.Fatalf("exit %d %s", code, errs)
		}
		select {
		case b := <-got:
			oneJSON(t, string(b))
		case <-time.After(10 * time.Second):
			t.Fatal("nothing read from the FIFO")
		}
		if st, _ := os.Lstat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("FIFO became %v", st.Mode())
		}
	})
	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(dir, "real.json")
		os.WriteFile(target, []byte("old"), 0o644)
		link := filepath.Join(dir, "link.json")
		os.Symlink("real.json", link)
		if errs, code := scan(link); code != 0 {
			t.Fatalf("exit %d %s", code, errs)
		}
		if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the symlink was replaced by %v", st.Mode())
		}
		b, _ := os.ReadFile(target)
		oneJSON(t, string(b))
	})
	t.Run("directory refused up front", func(t *testing.T) {
		errs, code := scan(dir)
		if code != report.ExitUsage || !strings.Contains(errs, "a directory") {
			t.Errorf("exit %d %s", code, errs)
		}
	})
}

// TestSignalWritesPartialReport: SIGTERM mid-batch cancels the scan, writes
// the report marked interrupted, and exits non-zero.
func TestSignalWritesPartialReport(t *testing.T) {
	if os.Getenv("SNAPSCAN_SIGNAL_CHILD") != "" {
		root := newRoot()
		root.SetArgs(strings.Split(os.Getenv("SNAPSCAN_SIGNAL_CHILD"), "\x1f"))
		err := root.Execute()
		var ee *exitError
		if err == nil {
			os.Exit(0)
		}
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(99)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	clean := img(t, "linux-clean.img")
	os.WriteFile(list, []byte(strings.Repeat(clean+"\n", 2000)), 0o644)
	out := filepath.Join(dir, "out.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSignalWritesPartialReport$")
	cmd.Env = append(os.Environ(), "SNAPSCAN_SIGNAL_CHILD="+strings.Join([]string{"scan", "--no-sweep", "-f", "json", "-o", out, "--from-file", list}, "\x1f"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if err == nil || code == 0 {
		t.Fatalf("exit %d after SIGTERM; stderr %s", code, stderr.String())
	}
	if code != report.ExitIncomplete {
		t.Errorf("exit %d, want %d", code, report.ExitIncomplete)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no partial report: %v (stderr %s)", err, stderr.String())
	}
	var reports []report.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		t.Fatalf("partial report is not complete JSON: %v", err)
	}
	interrupted := 0
	for _, r := range reports {
		if r.Interrupted {
			interrupted++
		}
	}
	// Every image is accounted for, and the ones not reached are marked
	// (how many were scanned first depends on the machine's speed).
	if len(reports) != 2000 || interrupted == 0 {
		t.Errorf("%d reports, %d interrupted: want all 2000 accounted for, the rest interrupted", len(reports), interrupted)
	}
	t.Logf("%d of 2000 scanned before SIGTERM", 2000-interrupted)
	if !strings.Contains(stderr.String(), "terminated") {
		t.Errorf("stderr does not say the scan was stopped: %.500s", stderr.String())
	}
}

// TestQuiet: --quiet drops informational lines, never what changes the
// verdict.
func TestQuiet(t *testing.T) {
	clean := img(t, "ext4-bare.img")
	missing := filepath.Join(t.TempDir(), "missing.img")
	for _, q := range []bool{false, true} {
		extra := []string{}
		if q {
			extra = append(extra, "--quiet")
		}
		// One image in two shards: shard 1 has nothing to do (information).
		_, errs, code := run(t, append([]string{"scan", "--no-sweep", "--shard", "1/2", clean}, extra...)...)
		if code != 0 || strings.Contains(errs, "no image in this shard") == q {
			t.Errorf("quiet=%v: exit %d, stderr %q", q, code, errs)
		}
		_, errs, code = run(t, append([]string{"scan", "--no-sweep", "-o", filepath.Join(t.TempDir(), "r.txt"), missing}, extra...)...)
		if code != report.ExitIncomplete || !strings.Contains(errs, "missing.img: not scanned: the image could not be opened") {
			t.Errorf("quiet=%v: exit %d, the missing image is not named on stderr: %q", q, code, errs)
		}
	}
}
