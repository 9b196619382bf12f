package report

import (
	"strings"
	"testing"
)

func withFindings(sevs ...Severity) *Report {
	r := &Report{Volumes: []Volume{{Name: "d@1", Scanned: true}}}
	for i, s := range sevs {
		r.Findings = append(r.Findings, Finding{Rule: "r", Severity: s, Evidence: Evidence{Volume: "d@1", Path: "/f", Line: i + 1}})
	}
	return r
}

func TestExitCode(t *testing.T) {
	openFailed := func() *Report {
		return &Report{Errors: []ScanError{{Stage: "open", Error: "unsupported container"}}}
	}
	noneScanned := func() *Report {
		return &Report{Volumes: []Volume{{Name: "d@1", Scanned: false, Reason: "unknown filesystem"}, {Name: "d@2", Reason: "encrypted"}}}
	}
	nothingFound := func() *Report { return &Report{} }
	partial := func() *Report {
		r := withFindings(Low)
		r.Volumes = append(r.Volumes, Volume{Name: "d@2", Reason: "encrypted"})
		r.Errors = []ScanError{{Volume: "d@1", Path: "/etc/shadow", Stage: "check:accounts", Error: "bad inode"}}
		r.Targets = []Target{{OS: "linux", Volume: "d@1"}}
		return r
	}
	rootUnread := func() *Report { // /boot read, the root on LUKS not
		return &Report{Volumes: []Volume{{Name: "d@1", Scanned: true}, {Name: "d@2", Reason: "encrypted"}}}
	}
	truncated := func() *Report {
		r := partial()
		r.Volumes[0].Truncated = true
		return r
	}
	dirScan := func() *Report { return &Report{Targets: []Target{{OS: "linux", Volume: "dir"}}} }

	for _, tc := range []struct {
		name   string
		report *Report
		policy Policy
		want   int
	}{
		{"clean, default policy", withFindings(), DefaultPolicy(), ExitClean},
		{"critical finding, no --exit-code", withFindings(Critical), DefaultPolicy(), ExitClean},
		{"critical finding, --exit-code 1", withFindings(Critical), Policy{FailOn: Medium, FindingsCode: 1}, 1},
		{"medium finding at threshold", withFindings(Medium), Policy{FailOn: Medium, FindingsCode: 1}, 1},
		{"low finding below threshold", withFindings(Low, Info), Policy{FailOn: Medium, FindingsCode: 1}, ExitClean},
		{"low finding, threshold low", withFindings(Low), Policy{FailOn: Low, FindingsCode: 1}, 1},
		{"info finding, threshold info", withFindings(Info), Policy{FailOn: Info, FindingsCode: 1}, 1},
		{"custom exit code", withFindings(High), Policy{FailOn: High, FindingsCode: 42}, 42},
		{"high below critical threshold", withFindings(High), Policy{FailOn: Critical, FindingsCode: 1}, ExitClean},
		{"image not opened", openFailed(), DefaultPolicy(), ExitIncomplete},
		{"image not opened, zero policy still fails", openFailed(), Policy{}, ExitIncomplete},
		{"image not opened, custom incomplete code", openFailed(), Policy{IncompleteCode: 7}, 7},
		{"no volume scanned", noneScanned(), Policy{FindingsCode: 1}, ExitIncomplete},
		{"nothing found at all", nothingFound(), DefaultPolicy(), ExitIncomplete},
		{"partly scanned with unreadable files is incomplete", partial(), Policy{FailOn: Medium, FindingsCode: 1}, ExitIncomplete},
		{"unreadable files, allowed by name", partial(), Policy{FailOn: Medium, FindingsCode: 1, AllowUnread: true}, ExitClean},
		{"directory scan without volumes", dirScan(), DefaultPolicy(), ExitClean},
		{"empty directory tree", &Report{Container: "directory", Volumes: []Volume{{Name: "t", Filesystem: "directory", Scanned: true}}}, DefaultPolicy(), ExitIncomplete},
		{"directory tree swept, no OS root", &Report{Container: "directory", Volumes: []Volume{{Name: "t", Filesystem: "directory", Scanned: true}}, Stats: Stats{FilesSwept: 3}}, DefaultPolicy(), ExitClean},
		{"no OS root read while a volume was not", rootUnread(), Policy{FailOn: Medium, FindingsCode: 1}, ExitIncomplete},
		{"truncated image", truncated(), Policy{FailOn: Medium, FindingsCode: 1}, ExitIncomplete},
		{"truncated filesystem, nothing found", func() *Report {
			return &Report{Volumes: []Volume{{Name: "d.img", Filesystem: "ext4", Truncated: true, Reason: "filesystem claims 1.2 GiB, the image holds 8 MiB"}}}
		}(), Policy{FailOn: Medium, FindingsCode: 1}, ExitIncomplete},
		{"volume that failed to open", func() *Report {
			r := withFindings()
			r.Volumes = append(r.Volumes, Volume{Name: "d@2", Filesystem: "xfs", Reason: "bad superblock"})
			r.Targets = []Target{{OS: "linux", Volume: "d@1"}}
			r.Errors = []ScanError{{Volume: "d@2", Stage: "filesystem", Error: "bad superblock"}}
			return r
		}(), DefaultPolicy(), ExitIncomplete},
		{"interrupted", func() *Report {
			r := withFindings(Low)
			r.Targets = []Target{{OS: "linux", Volume: "d@1"}}
			r.Interrupted = true
			return r
		}(), DefaultPolicy(), ExitIncomplete},
		{"dirty journal", dirty(), Policy{FailOn: Medium, FindingsCode: 1}, ExitIncomplete},
		{"dirty journal, --allow-unreplayed-journal", dirty(), Policy{FailOn: Medium, FindingsCode: 1, AllowUnreplayed: true}, ExitClean},
		{"dirty hive", dirtyHive(), DefaultPolicy(), ExitIncomplete},
		{"dirty hive, allowed", dirtyHive(), Policy{AllowUnreplayed: true}, ExitClean},
		{"replayed journal", func() *Report {
			r := dirty()
			r.Volumes[0].Recovery = &Recovery{State: RecoveryReplayed, Transactions: 3, Blocks: 9}
			return r
		}(), Policy{FailOn: Medium, FindingsCode: 1}, ExitClean},
		{"findings win over incomplete", func() *Report {
			r := withFindings(Critical)
			r.Errors = []ScanError{{Stage: "open", Error: "x"}}
			return r
		}(), Policy{FailOn: Medium, FindingsCode: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExitCode(tc.report, tc.policy); got != tc.want {
				t.Errorf("ExitCode = %d, want %d", got, tc.want)
			}
		})
	}
}

func dirty() *Report {
	r := withFindings(Low)
	r.Targets = []Target{{OS: "linux", Volume: "d@1"}}
	r.Volumes[0].Recovery = &Recovery{State: RecoveryDirty, Reason: "journal needs recovery"}
	return r
}

func dirtyHive() *Report {
	r := withFindings()
	r.Targets = []Target{{OS: "windows", Volume: "d@1", Hives: []HiveState{
		{Path: "/Windows/System32/config/SOFTWARE", Recovery: Recovery{State: RecoveryClean}},
		{Path: "/Windows/System32/config/SYSTEM", Recovery: Recovery{State: RecoveryDirty, Reason: "no transaction log"}},
	}}}
	return r
}

func TestExitCodesDistinct(t *testing.T) {
	codes := []int{ExitClean, ExitFindings, ExitUsage, ExitIncomplete, ExitError}
	seen := map[int]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("exit code %d used twice", c)
		}
		seen[c] = true
	}
}

func TestVerdict(t *testing.T) {
	withErrors := withFindings(High, Medium, Low)
	withErrors.Errors = []ScanError{{Stage: "sweep", Error: "a"}}
	for _, tc := range []struct {
		name   string
		report *Report
		want   string
	}{
		{"clean", withFindings(), "clean"},
		{"only low and info is clean", withFindings(Low, Info), "clean"},
		{"one medium", withFindings(Medium), "at risk: 1 finding of medium or worse"},
		{"risk and errors", withErrors, "at risk: 2 findings of medium or worse; incomplete: 1 error"},
		{"dirty journal", dirty(), "incomplete: volume d@1 has journal writes that were not applied (dirty, not replayed: journal needs recovery): the newest changes may be missing"},
		{"truncated", &Report{Volumes: []Volume{{Name: "d.img", Truncated: true, Reason: "filesystem claims 1 GiB"}}}, "incomplete: volume d.img is truncated: filesystem claims 1 GiB"},
		{"could not open", &Report{Errors: []ScanError{{Stage: "open", Error: "no such file"}}}, "could not scan: the image could not be opened: no such file; incomplete: 1 error"},
	} {
		if got := Verdict(tc.report); got != tc.want {
			t.Errorf("%s: Verdict = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestExitCodeTableEverywhere: docs/exit-codes.md and the README show the
// one table in ExitCodes, word for word.
func TestExitCodeTableEverywhere(t *testing.T) {
	doc := readDoc(t, "../docs/exit-codes.md")
	readme := readDoc(t, "../README.md")
	for _, e := range ExitCodes {
		if row := "| " + itoa(e.Code) + " | `" + e.Name + "` | " + e.Meaning + " |"; !strings.Contains(doc, row) {
			t.Errorf("docs/exit-codes.md lacks %q", row)
		}
		if row := "| " + itoa(e.Code) + " | " + e.Meaning + " |"; !strings.Contains(readme, row) {
			t.Errorf("README.md lacks %q", row)
		}
	}
	help := ExitCodeHelp()
	for _, line := range strings.Split(help, "\n") {
		if len(line) > 80 {
			t.Errorf("--help line longer than 80 columns: %q", line)
		}
	}
	if flat := strings.Join(strings.Fields(help), " "); !strings.Contains(flat, "3 "+ExitCodes[3].Meaning) {
		t.Errorf("ExitCodeHelp lacks code 3:\n%s", help)
	}
}

func TestExitCodesDocumented(t *testing.T) {
	doc := readDoc(t, "../docs/exit-codes.md")
	for _, c := range []struct {
		code int
		name string
	}{{ExitClean, "ExitClean"}, {ExitFindings, "ExitFindings"}, {ExitUsage, "ExitUsage"}, {ExitIncomplete, "ExitIncomplete"}, {ExitError, "ExitError"}} {
		row := "| " + itoa(c.code) + " | `" + c.name + "`"
		if !strings.Contains(doc, row) {
			t.Errorf("docs/exit-codes.md has no row %q", row)
		}
	}
}

func TestVerdictSaysWhatWasTakenOutOfView(t *testing.T) {
	r := withFindings()
	r.Stats.FindingsSuppressed = 117
	r.Stats.FindingsInBaseline = 3
	if v := Verdict(r); v != "clean (117 findings suppressed, 3 findings in the baseline)" {
		t.Errorf("verdict %q", v)
	}
	var b strings.Builder
	if err := WriteTable(&b, r, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "117 findings suppressed by the ignore file") {
		t.Errorf("table does not say findings were suppressed:\n%s", b.String())
	}
}
