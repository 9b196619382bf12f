package windows

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

type expectLine struct {
	path, key, rule, technique, severity string
	line                                 int
}

// readExpect reads a planting spec, testdata/images/src/<name>.expect.
func readExpect(t *testing.T, name string) []expectLine {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata/images/src", name+".expect"))
	if err != nil {
		t.Fatal(err)
	}
	var out []expectLine
	for _, e := range signatures.ParseList(data) {
		if len(e.Fields) != 5 {
			t.Fatalf("%s.expect line %d: want 5 fields, have %d", name, e.Line, len(e.Fields))
		}
		out = append(out, expectLine{e.Field(0), e.Field(1), e.Field(2), e.Field(3), e.Field(4), e.Line})
	}
	return out
}

// TestPlantedTree scans the staged windows-infected tree and holds it to its
// planting spec: every planted artifact is a finding with its evidence, every
// benign entry is inventory only, and the medium+ count is exact.
func TestPlantedTree(t *testing.T) {
	s := runAll(t, targetFor(t, stagedTree(t)))
	if len(s.errors) != 0 {
		t.Errorf("scan errors on a clean tree: %v", s.errors)
	}
	assertSpec(t, s, "windows-infected")
	assertInventory(t, s)
}

// assertSpec holds a scan to a planting spec: every planted artifact is a
// finding with its technique, severity and evidence, every benign entry is
// inventory only, and the medium+ count is exact.
func assertSpec(t *testing.T, s *memSink, name string) {
	t.Helper()
	wantMedium := 0
	for _, x := range readExpect(t, name) {
		switch x.severity {
		case "ok", "absent":
			inInv := false
			for _, i := range s.inventory {
				if i.Path == x.path && i.Fields["key"] == x.key {
					inInv = true
					if i.Fields["verdict"] != "ok" {
						t.Errorf("expect line %d: benign %s %s has verdict %s", x.line, x.path, x.key, i.Fields["verdict"])
					}
				}
			}
			if inInv != (x.severity == "ok") {
				t.Errorf("expect line %d: %s %s: in inventory = %v, want %v", x.line, x.path, x.key, inInv, x.severity == "ok")
			}
			for _, f := range s.findings {
				if f.Evidence.Path == x.path && f.Evidence.Key == x.key {
					t.Errorf("expect line %d: benign %s gave finding %s (%s)", x.line, x.key, f.Rule, f.Severity)
				}
			}
			continue
		}
		sev, err := report.ParseSeverity(x.severity)
		if err != nil {
			t.Fatalf("expect line %d: %v", x.line, err)
		}
		if sev >= report.Medium {
			wantMedium++
		}
		found := false
		for _, f := range s.findings {
			if f.Evidence.Path != x.path || f.Evidence.Key != x.key || f.Rule != x.rule {
				continue
			}
			found = true
			if f.Technique != x.technique || f.Severity != sev {
				t.Errorf("expect line %d: %s on %s: technique %s severity %s, want %s %s", x.line, x.rule, x.key, f.Technique, f.Severity, x.technique, x.severity)
			}
			if f.Evidence.SHA256 == "" || f.Evidence.MD5 == "" || f.Evidence.Match == "" || f.Evidence.Volume != "test" {
				t.Errorf("expect line %d: %s: evidence incomplete: %+v", x.line, x.rule, f.Evidence)
			}
			if f.Remediation == "" || strings.Contains(f.Remediation, "{") || f.TechniqueName == "" || f.ID == "" || f.Title == "" {
				t.Errorf("expect line %d: %s: remediation/technique name/id missing: %+v", x.line, x.rule, f)
			}
		}
		if !found {
			t.Errorf("expect line %d: no finding %s on %s %s", x.line, x.rule, x.path, x.key)
		}
	}
	gotMedium := 0
	for _, f := range s.findings {
		if f.Severity >= report.Medium {
			gotMedium++
		}
	}
	if gotMedium != wantMedium {
		for _, f := range s.sorted() {
			t.Logf("%s %s %s %s", f.Severity, f.Rule, f.Evidence.Path, f.Evidence.Key)
		}
		t.Errorf("medium+ findings: %d, planting spec lists %d", gotMedium, wantMedium)
	}
}

func assertInventory(t *testing.T, s *memSink) {
	// Inventory kinds and fields the report relies on.
	kinds := map[string]int{}
	for _, i := range s.inventory {
		kinds[i.Kind]++
	}
	for _, k := range []string{"run-key", "service", "task", "startup", "winlogon"} {
		if kinds[k] == 0 {
			t.Errorf("no inventory item of kind %s", k)
		}
	}
	for _, i := range s.inventory {
		if i.Kind == "task" && strings.HasSuffix(i.Path, "SystemHealthCheck") {
			if i.Fields["hidden"] != "true" || i.Fields["triggers"] != "BootTrigger,LogonTrigger" || !strings.HasPrefix(i.Fields["run_as"], "SYSTEM") || i.Fields["run_level"] != "HighestAvailable" {
				t.Errorf("hidden task inventory fields: %v", i.Fields)
			}
		}
		if i.Kind == "run-key" && strings.HasSuffix(i.Fields["key"], `\WindowsHelper`) && i.Fields["user"] != "alice" {
			t.Errorf("alice's Run value has user %q", i.Fields["user"])
		}
		if i.Kind == "service" && strings.Contains(i.Fields["key"], `\WinSysMon\`) && (i.Fields["start"] != "automatic" || i.Fields["account"] != "LocalSystem") {
			t.Errorf("service inventory fields: %v", i.Fields)
		}
	}
}

// goldenFinding is a finding without what changes from one staging to the
// next (file times, inode numbers, owner and mode of the host copy).
func goldenFindings(fs []report.Finding) []report.Finding {
	out := make([]report.Finding, len(fs))
	for i, f := range fs {
		f.Evidence.Inode, f.Evidence.UID, f.Evidence.GID, f.Evidence.Mode = 0, nil, nil, ""
		f.Evidence.Mtime, f.Evidence.Atime, f.Evidence.Ctime, f.Evidence.Btime = nil, nil, nil, nil
		out[i] = f
	}
	return out
}

// TestPlantedGolden pins the full findings (titles, descriptions, evidence,
// remediation) of the planted tree. Run with -update after an intended change.
func TestPlantedGolden(t *testing.T) {
	s := runAll(t, targetFor(t, stagedTree(t)))
	got, err := json.MarshalIndent(goldenFindings(s.sorted()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "windows-infected.findings.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestPlantedGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("findings differ from %s; run with -update if the change is intended.\n%s", golden, firstDiff(string(want), string(got)))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n- " + al[i] + "\n+ " + bl[i]
		}
	}
	return "lengths differ: " + strconv.Itoa(len(al)) + " vs " + strconv.Itoa(len(bl)) + " lines"
}
