package report

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func sarifOf(t *testing.T, r *Report) (sarifLog, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, r); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&log); err != nil {
		t.Fatalf("SARIF does not decode into its own structs: %v", err)
	}
	return log, buf.Bytes()
}

func TestSARIFStructure(t *testing.T) {
	r := sampleReport()
	Finalize(r)
	log, raw := sarifOf(t, r)
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %q, %d runs; want 2.1.0 and one run", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "snapscan" || run.Tool.Driver.Version != "0.3.0" {
		t.Errorf("driver %+v", run.Tool.Driver)
	}

	// One rule per distinct finding rule, sorted, each result pointing at its own.
	var wantRules []string
	for _, f := range r.Findings {
		if !slices.Contains(wantRules, f.Rule) {
			wantRules = append(wantRules, f.Rule)
		}
	}
	slices.Sort(wantRules)
	var gotRules []string
	for _, rule := range run.Tool.Driver.Rules {
		gotRules = append(gotRules, rule.ID)
	}
	if !slices.Equal(gotRules, wantRules) {
		t.Errorf("rules %v, want %v", gotRules, wantRules)
	}
	if len(run.Results) != len(r.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(r.Findings))
	}

	wantLevel := map[Severity]string{Critical: "error", High: "error", Medium: "warning", Low: "note", Info: "note"}
	wantScore := map[Severity]string{Critical: "9.5", High: "8.0", Medium: "5.5", Low: "3.0", Info: "0.0"}
	fingerprints := map[string]bool{}
	for i, res := range run.Results {
		f := r.Findings[i]
		if res.RuleID != f.Rule || run.Tool.Driver.Rules[res.RuleIndex].ID != f.Rule {
			t.Errorf("result %d: ruleId %q index %d, want rule %q", i, res.RuleID, res.RuleIndex, f.Rule)
		}
		if res.Level != wantLevel[f.Severity] {
			t.Errorf("result %d (%s): level %q, want %q", i, f.Severity, res.Level, wantLevel[f.Severity])
		}
		fp := res.PartialFingerprints[FingerprintKey]
		if fp != f.ID || fp == "" {
			t.Errorf("result %d: fingerprint %q, want finding id %q", i, fp, f.ID)
		}
		if fingerprints[fp] {
			t.Errorf("result %d: fingerprint %q not unique", i, fp)
		}
		fingerprints[fp] = true

		rule := run.Tool.Driver.Rules[res.RuleIndex]
		if rule.Properties["security-severity"] != wantScore[f.Severity] {
			t.Errorf("rule %s: security-severity %v, want %s", rule.ID, rule.Properties["security-severity"], wantScore[f.Severity])
		}
		if tags, _ := rule.Properties["tags"].([]any); !slices.Contains(tags, any(f.Technique)) {
			t.Errorf("rule %s: tags %v lack technique %s", rule.ID, tags, f.Technique)
		}

		if len(res.Locations) != 1 {
			t.Fatalf("result %d: %d locations", i, len(res.Locations))
		}
		pl := res.Locations[0].PhysicalLocation
		if pl.ArtifactLocation.URIBaseID != f.Evidence.Volume {
			t.Errorf("result %d: uriBaseId %q, want volume %q", i, pl.ArtifactLocation.URIBaseID, f.Evidence.Volume)
		}
		if _, ok := run.OriginalURIBaseIDs[f.Evidence.Volume]; !ok {
			t.Errorf("result %d: uriBaseId %q not declared in originalUriBaseIds", i, f.Evidence.Volume)
		}
		u, err := url.Parse(pl.ArtifactLocation.URI)
		if err != nil || u.IsAbs() || strings.HasPrefix(u.Path, "/") || "/"+strings.TrimPrefix(u.Path, "./") != f.Evidence.Path {
			t.Errorf("result %d: uri %q does not resolve to %q (err %v)", i, pl.ArtifactLocation.URI, f.Evidence.Path, err)
		}
		switch {
		case f.Evidence.Line > 0:
			if pl.Region == nil || pl.Region.StartLine != f.Evidence.Line {
				t.Errorf("result %d: region %+v, want startLine %d", i, pl.Region, f.Evidence.Line)
			}
		case f.Evidence.Size > 0:
			if pl.Region == nil || pl.Region.StartLine != 0 || pl.Region.ByteOffset == nil || pl.Region.ByteLength != f.Evidence.Size {
				t.Errorf("result %d: region %+v, want the whole file as bytes", i, pl.Region)
			}
		}
		ev, _ := res.Properties["evidence"].(map[string]any)
		if ev["volume"] != f.Evidence.Volume || (f.Evidence.SHA256 != "" && ev["sha256"] != f.Evidence.SHA256) || (f.Evidence.Inode != 0 && ev["inode"] != float64(f.Evidence.Inode)) {
			t.Errorf("result %d: evidence property %v does not carry volume, hashes and inode", i, ev)
		}
	}

	inv := run.Invocations[0]
	if !inv.ExecutionSuccessful {
		t.Error("a scan with scanned volumes reported as unsuccessful")
	}
	var errs, warns, notes int
	for _, n := range inv.ToolExecutionNotifications {
		switch n.Level {
		case "error":
			errs++
		case "warning":
			warns++
		case "note":
			notes++
		}
	}
	// 2 distinct errors, 1 unscanned volume, 2 skip reasons.
	if errs != len(r.Errors) || warns != 1 || notes != 2 {
		t.Errorf("notifications: %d errors, %d warnings, %d notes; want %d, 1, 2", errs, warns, notes, len(r.Errors))
	}
	if inv.StartTimeUTC != "2026-11-25T06:00:00Z" || inv.EndTimeUTC != "2026-11-25T06:00:12.34Z" {
		t.Errorf("times %s .. %s", inv.StartTimeUTC, inv.EndTimeUTC)
	}
	if bytes.Contains(raw, []byte(`\u003e`)) {
		t.Error("SARIF escapes '>' as HTML")
	}
}

func TestSARIFIncomplete(t *testing.T) {
	r := &Report{Tool: "snapscan", Version: "dev", Image: "x.img", Errors: []ScanError{{Stage: "open", Error: "not a disk image"}}}
	Finalize(r)
	log, _ := sarifOf(t, r)
	inv := log.Runs[0].Invocations[0]
	if inv.ExecutionSuccessful {
		t.Error("an image that could not be opened reported as successful")
	}
	if len(inv.ToolExecutionNotifications) < 2 || !strings.HasPrefix(inv.ToolExecutionNotifications[0].Message.Text, "could not scan") {
		t.Errorf("notifications %+v", inv.ToolExecutionNotifications)
	}
	if log.Runs[0].Results == nil || log.Runs[0].Tool.Driver.Rules == nil || log.Runs[0].Tool.Driver.SemanticVersion != "" {
		t.Error("results and rules must be [] and a non-semver version must not be a semanticVersion")
	}
}

func TestURIPath(t *testing.T) {
	for _, p := range []string{
		"etc/cron.d/0systemd",
		"tmp/a b/c#d?e%f",
		"Windows/System32/Tasks/Microsoft/Windows/UpdateOrchestrator/Schedule Scan",
		"c:weird/name",
		"tmp/\xff\xfe/latin1",
		"路径/文件",
	} {
		s := uriPath(p)
		u, err := url.Parse(s)
		if err != nil {
			t.Errorf("uriPath(%q) = %q: not a URI reference: %v", p, s, err)
			continue
		}
		if u.Scheme != "" || u.Fragment != "" || u.RawQuery != "" {
			t.Errorf("uriPath(%q) = %q parses with scheme/query/fragment: %+v", p, s, u)
		}
		if got := strings.TrimPrefix(u.Path, "./"); got != p {
			t.Errorf("uriPath(%q) = %q decodes to %q", p, s, got)
		}
		if strings.ContainsAny(s, " #?") {
			t.Errorf("uriPath(%q) = %q has unescaped characters", p, s)
		}
	}
}

// TestSARIFSchema validates against the official SARIF 2.1.0 JSON schema.
// Its licence does not clearly allow shipping it here, so the test runs
// when SNAPSCAN_SARIF_SCHEMA names a copy (for example sarif-2.1.0.json from
// the npm package @microsoft/sarif-multitool-linux) and skips otherwise.
func TestSARIFSchema(t *testing.T) {
	path := os.Getenv("SNAPSCAN_SARIF_SCHEMA")
	if path == "" {
		t.Skip("set SNAPSCAN_SARIF_SCHEMA to the SARIF 2.1.0 JSON schema to validate against it (structure is checked by TestSARIFStructure)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, mk := range map[string]func() *Report{"sample": sampleReport, "hostile": hostileReport, "empty": func() *Report { return &Report{} }} {
		r := mk()
		Finalize(r)
		_, raw := sarifOf(t, r)
		if err := validateJSON(t, sch, raw); err != nil {
			t.Errorf("%s: SARIF does not validate: %v", name, err)
		}
		// The validator must be able to fail: a wrong level is rejected.
		if name == "sample" {
			broken := bytes.Replace(raw, []byte(`"level": "error"`), []byte(`"level": "fatal"`), 1)
			if err := validateJSON(t, sch, broken); err == nil {
				t.Error("schema accepted level \"fatal\": the validator is not checking")
			}
		}
	}
}

// TestSARIFMultitool runs Microsoft's SARIF validator when
// SNAPSCAN_SARIF_MULTITOOL names its binary (npm @microsoft/sarif-multitool-linux)
// and fails on any error it reports. It exits 0 even on errors, so the
// output is read.
func TestSARIFMultitool(t *testing.T) {
	tool := os.Getenv("SNAPSCAN_SARIF_MULTITOOL")
	if tool == "" {
		t.Skip("set SNAPSCAN_SARIF_MULTITOOL to Sarif.Multitool to run Microsoft's SARIF validator")
	}
	dir := t.TempDir()
	var files []string
	for name, mk := range map[string]func() *Report{"sample": sampleReport, "hostile": hostileReport} {
		r := mk()
		Finalize(r)
		_, raw := sarifOf(t, r)
		f := filepath.Join(dir, name+".sarif")
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	args := append([]string{"validate"}, files...)
	args = append(args, "-o", filepath.Join(dir, "validation.sarif"))
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, ": error ") {
			t.Error(line)
		}
	}
	if !strings.Contains(string(out), "2 files scanned") {
		t.Errorf("validator did not scan both files:\n%s", out)
	}
}
