package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	scanned := []Volume{{Name: "a.img@1", Scanned: true}}
	unscanned := []Volume{{Name: "a.img@1", Reason: "encrypted"}}
	high := []Finding{{Rule: "x", Severity: High}}
	low := []Finding{{Rule: "x", Severity: Low}}
	for _, tc := range []struct {
		name string
		r    Report
		min  Severity
		want BatchStatus
	}{
		{"clean", Report{Volumes: scanned}, Medium, StatusClean},
		{"low finding under medium", Report{Volumes: scanned, Findings: low}, Medium, StatusClean},
		{"low finding with fail-on low", Report{Volumes: scanned, Findings: low}, Low, StatusAtRisk},
		{"high finding", Report{Volumes: scanned, Findings: high}, Medium, StatusAtRisk},
		{"high under fail-on critical", Report{Volumes: scanned, Findings: high}, Critical, StatusClean},
		{"no volume scanned", Report{Volumes: unscanned}, Medium, StatusNotScanned},
		{"open error", Report{Errors: []ScanError{{Stage: "open", Error: "EOF"}}}, Medium, StatusNotScanned},
		// As in ExitCode: a miner found on a half-readable image wins.
		{"findings on an incomplete image", Report{Volumes: unscanned, Findings: high}, Medium, StatusAtRisk},
		// Only a complete, clean verdict is clean (issue 17).
		{"errors on single files are incomplete", Report{Volumes: scanned, Errors: []ScanError{{Stage: "check:cron", Error: "x"}}}, Medium, StatusIncomplete},
		{"truncated volume", Report{Volumes: []Volume{{Name: "a.img", Truncated: true, Reason: "short"}}}, Medium, StatusIncomplete},
		{"dirty journal", Report{Volumes: []Volume{{Name: "a.img", Scanned: true, Recovery: &Recovery{State: RecoveryDirty}}}, Targets: []Target{{OS: "linux", Volume: "a.img"}}}, Medium, StatusIncomplete},
		{"replayed journal is clean", Report{Volumes: []Volume{{Name: "a.img", Scanned: true, Recovery: &Recovery{State: RecoveryReplayed, Transactions: 2}}}, Targets: []Target{{OS: "linux", Volume: "a.img"}}}, Medium, StatusClean},
		{"interrupted", Report{Volumes: scanned, Targets: []Target{{OS: "linux", Volume: "a.img@1"}}, Interrupted: true}, Medium, StatusIncomplete},
	} {
		if got, _ := Status(&tc.r, tc.min); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestWriteSummaryCountsAndHostileNames(t *testing.T) {
	a := sampleReport()
	Finalize(a)
	a.Stats.FindingsSuppressed, a.Stats.FindingsInBaseline = 2, 3
	b := &Report{Image: "evil\x1b[2J.img", Volumes: []Volume{{Name: "v", Reason: "encrypted (luks)"}}}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, []*Report{b, a}, Medium); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, part := range []string{"2 images: 1 at risk, 0 clean, 0 incomplete, 1 not scanned", "2 findings suppressed", "3 findings already in the baseline",
		`evil\x1b[2J.img: none of the 1 volumes could be scanned (v: encrypted (luks))`} {
		if !strings.Contains(s, part) {
			t.Errorf("summary lacks %q:\n%s", part, s)
		}
	}
	if strings.ContainsRune(s, 0x1b) {
		t.Error("an escape from an image name reached the terminal")
	}
	// Sorted by image: "/evidence/..." before "evil...".
	if i := strings.Index(s, "web01.qcow2"); i < 0 || strings.Index(s, "evil") < i {
		t.Error("rows are not sorted by image")
	}
	if err := WriteSummary(&failWriter{n: 10}, []*Report{a}, Medium); err == nil {
		t.Error("a failing writer gave no error")
	}
}

func TestSuppressedValidatesAndReadsBack(t *testing.T) {
	sch := compileReportSchema(t)
	r := sampleReport()
	Finalize(r)
	sf := r.Findings[0]
	r.Findings = r.Findings[1:]
	r.Suppressed = []SuppressedFinding{{Finding: sf, Reason: "accepted", Expires: "2026-12-31", Entry: ".snapscanignore:3"}}
	r.Stats.FindingsSuppressed, r.Stats.FindingsInBaseline = 1, 4
	Recount(r)
	var one, lines bytes.Buffer
	if err := WriteJSON(&one, r); err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(t, sch, one.Bytes()); err != nil {
		t.Fatalf("schema: %v", err)
	}
	for range 3 {
		WriteJSONL(&lines, r)
	}
	if err := validateJSON(t, sch, bytes.SplitN(lines.Bytes(), []byte("\n"), 2)[0]); err != nil {
		t.Fatalf("JSONL line: %v", err)
	}
	bad := *r
	bad.Suppressed = []SuppressedFinding{{Finding: sf, Entry: "x:1"}} // no reason
	var badBuf bytes.Buffer
	WriteJSON(&badBuf, &bad)
	if validateJSON(t, sch, badBuf.Bytes()) == nil {
		t.Error("schema accepts a suppressed finding without reason")
	}

	in := strings.NewReader(one.String() + "\n[" + strings.TrimSpace(one.String()) + "]\n" + lines.String())
	got, err := ReadReports(in)
	if err != nil || len(got) != 5 {
		t.Fatalf("read %d reports: %v", len(got), err)
	}
	// The sample has a byte that is not UTF-8: JSON carries it as U+FFFD,
	// so the first read is the canonical form, and every read equals it.
	if g := got[0]; len(g.Findings) != len(r.Findings) || len(g.Suppressed) != 1 || g.Suppressed[0].Reason != "accepted" ||
		g.Suppressed[0].Finding.ID != sf.ID || g.Stats.FindingsSuppressed != 1 || g.Stats.FindingsInBaseline != 4 {
		t.Fatalf("read back: %d findings, suppressed %+v, stats %+v", len(g.Findings), g.Suppressed, g.Stats)
	}
	var canon bytes.Buffer
	WriteJSON(&canon, got[0])
	if !strings.Contains(one.String(), `\ufffd`) || bytes.Equal(canon.Bytes(), one.Bytes()) {
		t.Log("sample no longer has invalid UTF-8; canonical form equals the original")
	}
	for _, g := range got {
		var b bytes.Buffer
		WriteJSON(&b, g)
		if !bytes.Equal(b.Bytes(), canon.Bytes()) {
			t.Fatal("a report read back differs from the one written")
		}
	}
}
