package windows

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// memSink collects what checks produce.
type memSink struct {
	mu        sync.Mutex
	findings  []report.Finding
	inventory []report.InventoryItem
	errors    map[string][]error
	hives     []report.HiveState
}

func (s *memSink) Hive(h report.HiveState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hives = append(s.hives, h)
}

func newSink() *memSink { return &memSink{errors: map[string][]error{}} }

func (s *memSink) Finding(f report.Finding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.findings = append(s.findings, f)
}

func (s *memSink) Inventory(i report.InventoryItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inventory = append(s.inventory, i)
}

func (s *memSink) Error(p string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors[p] = append(s.errors[p], err)
}

// sorted returns the findings in a stable order.
func (s *memSink) sorted() []report.Finding {
	out := append([]report.Finding(nil), s.findings...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Evidence.Path != b.Evidence.Path {
			return a.Evidence.Path < b.Evidence.Path
		}
		if a.Evidence.Key != b.Evidence.Key {
			return a.Evidence.Key < b.Evidence.Key
		}
		return a.Rule < b.Rule
	})
	return out
}

func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// external returns a path below /work/shared/external (../shared/external
// from the repository root), skipping the test when it is absent.
func external(t testing.TB, rel string) string {
	p := filepath.Join(repoRoot(t), "..", "shared", "external", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("external test data %s not present (%v); it comes from shared/external", rel, err)
	}
	return p
}

// targetFor makes a check target over a host directory.
func targetFor(t testing.TB, dir string) *check.Target {
	fsys, err := dirfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &check.Target{FS: fsys, Volume: "test", OS: "windows"}
}

var (
	stageOnce sync.Once
	stageDir  string
	stageErr  error
)

// stagedTree copies testdata/images/src/windows-infected and runs its hook,
// as the image builder does, once per test binary.
func stagedTree(t testing.TB) string {
	if _, err := exec.LookPath("hivexregedit"); err != nil {
		t.Skip("needs hivexregedit (Debian libwin-hivex-perl) to build the test hives")
	}
	stageOnce.Do(func() {
		root := repoRoot(t)
		stageDir, stageErr = os.MkdirTemp("", "snapscan-windows-infected-")
		if stageErr != nil {
			return
		}
		if out, err := exec.Command("cp", "-r", filepath.Join(root, "testdata/images/src/windows-infected")+"/.", stageDir).CombinedOutput(); err != nil {
			stageErr = &hookError{string(out), err}
			return
		}
		cmd := exec.Command("bash", "testdata/images/src/windows-infected.pre.sh", stageDir)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			stageErr = &hookError{string(out), err}
		}
	})
	if stageErr != nil {
		t.Fatalf("staging windows-infected: %v", stageErr)
	}
	return stageDir
}

type hookError struct {
	out string
	err error
}

func (e *hookError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if stageDir != "" {
		os.RemoveAll(stageDir)
	}
	for _, d := range stageCleanups {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// runAll runs every Windows check on a target.
func runAll(t testing.TB, tg *check.Target) *memSink {
	s := newSink()
	for _, c := range Checks() {
		if err := c.Run(context.Background(), tg, s); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
	}
	return s
}
