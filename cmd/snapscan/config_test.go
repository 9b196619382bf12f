package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/snapscan/snapscan/report"
)

// TestConfigPrecedence: flag > SNAPSCAN_* env > snapscan.yaml (command
// section > top level), for every flag; observed through the output shape
// that --format picks.
func TestConfigPrecedence(t *testing.T) {
	image := img(t, "ext4-bare.img")
	shape := func(out string) string {
		switch {
		case strings.HasPrefix(out, "["):
			return "json"
		case strings.HasPrefix(out, `{"schema"`):
			return "jsonl"
		case strings.HasPrefix(out, "{"):
			return "sarif"
		case strings.HasPrefix(out, "snapscan "):
			return "table"
		}
		return "?"
	}
	for _, tc := range []struct {
		name string
		file string // snapscan.yaml in the current directory
		env  string // SNAPSCAN_FORMAT
		flag string // --format
		want string
	}{
		{"nothing set: default", "", "", "", "table"},
		{"file", "format: json\n", "", "", "json"},
		{"command section wins over top level", "format: json\nscan:\n  format: sarif\n", "", "", "sarif"},
		{"env wins over file", "format: json\n", "jsonl", "", "jsonl"},
		{"flag wins over env and file", "format: json\n", "jsonl", "sarif", "sarif"},
		{"flag wins over file", "format: json\n", "", "table", "table"},
		{"env alone", "", "json", "", "json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			if tc.file != "" {
				os.WriteFile(filepath.Join(dir, "snapscan.yaml"), []byte(tc.file), 0o644)
			}
			if tc.env != "" {
				t.Setenv("SNAPSCAN_FORMAT", tc.env)
			}
			args := []string{"scan", "--no-sweep"}
			if tc.flag != "" {
				args = append(args, "--format", tc.flag)
			}
			out, errs, code := run(t, append(args, image)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if got := shape(out); got != tc.want {
				t.Errorf("format %s, want %s", got, tc.want)
			}
		})
	}
}

// TestConfigEveryFlag: every flag of every command has its environment
// variable and config key, of every value type.
func TestConfigEveryFlag(t *testing.T) {
	image := img(t, "linux-infected.img")
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := filepath.Join(dir, "ci.yaml")
	os.WriteFile(cfg, []byte("no-sweep: true\nexit-code: 7\nscan:\n  severity: [high, critical]\n"), 0o644)
	t.Setenv("SNAPSCAN_FAIL_ON", "critical")
	t.Setenv("SNAPSCAN_CONFIG", cfg)
	out, errs, code := run(t, "scan", "-f", "json", image)
	if code != 7 {
		t.Errorf("exit %d, want 7 (exit-code from the file, fail-on from the env): %s", code, errs)
	}
	var r report.Report
	json.Unmarshal(oneJSON(t, out), &r)
	for _, f := range r.Findings {
		if f.Severity < report.High {
			t.Errorf("severity list from the file not applied: %s %s", f.Severity, f.Rule)
		}
	}
	if r.Stats.FilesSwept != 0 {
		t.Errorf("no-sweep from the file not applied: %d files swept", r.Stats.FilesSwept)
	}
	// A misspelt key is a usage error, with the file and line.
	os.WriteFile(cfg, []byte("format: json\nfial-on: high\n"), 0o644)
	if _, errs, code := run(t, "scan", image); code != report.ExitUsage || !strings.Contains(errs, "ci.yaml:2: fial-on is not a flag") {
		t.Errorf("misspelt key: exit %d %q", code, errs)
	}
	// A bad value names the variable.
	t.Setenv("SNAPSCAN_CONFIG", "")
	t.Setenv("SNAPSCAN_EXIT_CODE", "many")
	if _, errs, code := run(t, "scan", image); code != report.ExitUsage || !strings.Contains(errs, "SNAPSCAN_EXIT_CODE") {
		t.Errorf("bad env value: exit %d %q", code, errs)
	}
	// Every flag maps to SNAPSCAN_ + upper snake case.
	root := newRoot()
	n := 0
	for _, c := range root.Commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			n++
			if !regexp.MustCompile(`^SNAPSCAN_[A-Z0-9_]+$`).MatchString(envName(f.Name)) {
				t.Errorf("%s --%s: env name %q", c.Name(), f.Name, envName(f.Name))
			}
		})
	}
	if n < 30 {
		t.Errorf("only %d flags seen", n)
	}
}

func TestVersionCommand(t *testing.T) {
	out, errs, code := run(t, "version")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	for _, re := range []string{`(?m)^snapscan \S+$`, `(?m)^go:\s+` + regexp.QuoteMeta(runtime.Version()), `(?m)^libyara:\s+\d+\.\d+\.\d+$`, `(?m)^rules:\s+sha256:[0-9a-f]{64} \(\d+ embedded files\)$`, `(?m)^commit:`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("version output lacks %s:\n%s", re, out)
		}
	}
	out, _, _ = run(t, "version", "--json")
	var b buildInfo
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.Go != runtime.Version() || len(b.RulesDigest) != 64 || b.RulesFiles < 10 {
		t.Errorf("version --json: %+v %v", b, err)
	}
	// The digest is of the data: the same twice.
	again, _, _ := run(t, "version", "--json")
	if again != out {
		t.Error("version --json differs between two runs")
	}
}

// TestRootHelpNamesFormatsAndExitCodes: the root --help names every
// container, partition table, volume manager and filesystem the README's
// table lists as supported, and the exit-code table.
func TestRootHelpNamesFormatsAndExitCodes(t *testing.T) {
	out, _, code := run(t, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range []string{"container", "partitions", "volume managers", "filesystems"} {
		m := regexp.MustCompile(`(?m)^\| ` + layer + ` \| ([^|]+) \|`).FindSubmatch(readme)
		if m == nil {
			t.Fatalf("README has no %q row", layer)
		}
		for _, name := range regexp.MustCompile(`ext[234]|XFS|NTFS|QCOW2|VHDX|VHD|VMDK|raw|GPT|MBR|LVM2|striped|linear|extended|logical|v4/v5|streamOptimized|monolithicSparse`).FindAllString(string(m[1]), -1) {
			if !strings.Contains(out, name) {
				t.Errorf("--help does not name %q (README %s row)", name, layer)
			}
		}
	}
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	scanHelp, _, _ := run(t, "scan", "--help")
	for _, e := range report.ExitCodes {
		if !strings.Contains(flat(out), flat(e.Meaning)) {
			t.Errorf("--help lacks exit code %d: %s", e.Code, e.Meaning)
		}
		if !strings.Contains(flat(scanHelp), flat(e.Meaning)) {
			t.Errorf("scan --help lacks exit code %d", e.Code)
		}
	}
}

// TestReadmeGoVersion: the README asks for the Go version go.mod needs.
func TestReadmeGoVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	readme, _ := os.ReadFile("../../README.md")
	if m == nil || !strings.Contains(string(readme), "Go ≥ "+string(m[1])+",") {
		t.Errorf("README does not ask for Go ≥ %s (go.mod)", m[1])
	}
}
