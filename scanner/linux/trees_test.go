package linux

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
)

const srcDir = "../../testdata/images/src/"

type expectRow struct {
	n                                  int
	path, rule, technique, family, sev string
	line                               int
}

func readExpect(t *testing.T, name string) []expectRow {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []expectRow
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ";")
		if len(f) != 6 {
			t.Fatalf("%s:%d: want 6 fields", name, i+1)
		}
		ln, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("%s:%d: %v", name, i+1, err)
		}
		out = append(out, expectRow{i + 1, f[0], f[2], f[3], f[4], f[5], ln})
	}
	return out
}

func (r expectRow) want() want {
	w := want{path: r.path, rule: r.rule, technique: r.technique, family: r.family, line: r.line}
	sev, err := report.ParseSeverity(r.sev)
	if err != nil {
		w.anySev = true
	}
	w.sev = sev
	return w
}

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
	rows := readExpect(t, expectFile)
	for _, r := range rows {
		switch r.sev {
		case "ok":
			if fs := s.findingsAt(r.path); len(fs) > 0 {
				t.Errorf("expect:%d: benign %s has findings: %s %s", r.n, r.path, fs[0].Rule, fs[0].Evidence.Match)
			}
			inInv := false
			for _, i := range s.inv {
				inInv = inInv || i.Path == r.path
			}
			if !inInv {
				t.Errorf("expect:%d: benign %s is not in the inventory", r.n, r.path)
			}
		default:
			if !s.has(r.want()) {
				t.Errorf("expect:%d: no finding %s line %d %s %s %s %s", r.n, r.path, r.line, r.rule, r.technique, r.family, r.sev)
			}
		}
	}
	for _, f := range s.findings {
		if f.Severity < report.Medium {
			continue
		}
		listed := false
		for _, r := range rows {
			if r.sev != "ok" && r.want().matches(f) {
				listed = true
			}
		}
		if !listed {
			t.Errorf("unexpected finding %s line %d %s %s fam=%s %s: %s", f.Evidence.Path, f.Evidence.Line, f.Rule, f.Technique, f.Family, f.Severity, f.Evidence.Match)
		}
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
