package linux

import (
	"testing"

	"github.com/snapscan/snapscan/internal/expect"

	"github.com/snapscan/snapscan/report"
)

const srcDir = "../../testdata/images/src/"

// TestInfectedTree runs every check over the planted tree (with its .attrs
// owners, flags and times applied) and holds the result to the planting
// spec in both directions.
func TestInfectedTree(t *testing.T) {
	fsys := stageTree(t, srcDir+"linux-infected", srcDir+"linux-infected.attrs")
	s := runAll(t, fsys)
	assertExpect(t, s, srcDir+"linux-infected.expect")
}

// TestCleanTree: a Debian host's ordinary noise gives nothing of medium or
// worse, and its autostarts are all in the inventory.
func TestCleanTree(t *testing.T) {
	fsys := stageTree(t, srcDir+"linux-clean", srcDir+"linux-clean.attrs")
	s := runAll(t, fsys)
	for _, f := range s.findings {
		if f.Severity >= report.Medium {
			t.Errorf("clean tree: %s line %d %s %s: %s", f.Evidence.Path, f.Evidence.Line, f.Rule, f.Severity, f.Evidence.Match)
		}
	}
	for _, e := range s.errs {
		t.Errorf("scan error: %s", e)
	}
	kinds := map[string]int{}
	for _, i := range s.inv {
		kinds[i.Kind]++
	}
	for k, min := range map[string]int{"cron": 6, "cron-script": 4, "systemd": 20, "rc": 4, "ssh-key": 2, "account": 24, "hosts": 5} {
		if kinds[k] < min {
			t.Errorf("inventory has %d %s items, want at least %d (all: %v)", kinds[k], k, min, kinds)
		}
	}
	if t.Failed() {
		t.Logf("all findings:\n%s", s.dump())
	}
}

// assertExpect holds findings to a planting spec in both directions.
func assertExpect(t *testing.T, s *sink, expectFile string) {
	t.Helper()
	rows, err := expect.Read(expectFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range expect.Problems(rows, s.findings, s.inv) {
		t.Error(p)
	}
	for _, f := range s.findings {
		if f.Remediation == "" || f.Technique == "" || f.TechniqueName == "" || f.ID == "" || f.Check == "" || f.Title == "" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	for _, e := range s.errs {
		t.Errorf("scan error: %s", e)
	}
	if t.Failed() {
		t.Logf("all findings:\n%s", s.dump())
	}
}
