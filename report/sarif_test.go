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

// The catalogue the report tests see: two rules described with a default
// severity that differs from their findings', to tell the two apart.
func init() {
	RegisterRules(
		RuleInfo{ID: "cron.download-exec", Short: "Cron job downloads code and runs it", Full: "The command fetches code and runs it. It runs from cron.",
			Help: "Remove the entry.", Severity: High, Technique: "T1105", Tags: []string{"T1053.003"}},
		RuleInfo{ID: "yara.xmrig", Short: "XMRig miner", Full: "XMRig miner binary.", Help: "Remove the miner.", Severity: Critical, Technique: "T1496"},
	)
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

		// The rule's default comes from the catalogue, not from a result;
		// a rule it does not know takes its results' highest severity.
		rule := run.Tool.Driver.Rules[res.RuleIndex]
		def, known := DescribeRule(f.Rule)
		if !known {
			def.Severity = Info
			for _, g := range r.Findings {
				if g.Rule == f.Rule && g.Severity > def.Severity {
					def.Severity = g.Severity
				}
			}
			def.Technique = f.Technique
		}
		if rule.Properties["security-severity"] != wantScore[def.Severity] || rule.DefaultConfiguration.Level != wantLevel[def.Severity] {
			t.Errorf("rule %s: security-severity %v level %s, want the rule's default %s", rule.ID, rule.Properties["security-severity"], rule.DefaultConfiguration.Level, def.Severity)
		}
		if tags, _ := rule.Properties["tags"].([]any); !slices.Contains(tags, any(def.Technique)) {
			t.Errorf("rule %s: tags %v lack technique %s", rule.ID, tags, def.Technique)
		}
		if known && (rule.ShortDescription.Text != def.Short || rule.Help == nil || !strings.Contains(rule.Help.Markdown, def.Help) || rule.Name == "") {
			t.Errorf("rule %s: descriptor %+v is not the catalogue's %+v", rule.ID, rule, def)
		}

		if len(res.Locations) != 1 {
			t.Fatalf("result %d: %d locations", i, len(res.Locations))
		}
		pl := res.Locations[0].PhysicalLocation
		if want := uriBaseID(f.Evidence.Volume); pl.ArtifactLocation.URIBaseID != want {
			t.Errorf("result %d: uriBaseId %q, want %q for volume %q", i, pl.ArtifactLocation.URIBaseID, want, f.Evidence.Volume)
		}
		if base, ok := run.OriginalURIBaseIDs[pl.ArtifactLocation.URIBaseID]; !ok || !strings.HasPrefix(base.URI, "snapscan://volume/") || !strings.HasSuffix(base.URI, "/") {
			t.Errorf("result %d: uriBaseId %q declared as %+v", i, pl.ArtifactLocation.URIBaseID, base)
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
		case f.Evidence.Binary && len(f.Matches) > 0:
			if pl.Region == nil || pl.Region.StartLine != 0 || pl.Region.ByteOffset == nil || *pl.Region.ByteOffset != int64(f.Matches[0].Strings[0].Offset) {
				t.Errorf("result %d: region %+v, want the first match's byte offset %d", i, pl.Region, f.Matches[0].Strings[0].Offset)
			}
		case f.Evidence.Binary:
			if pl.Region == nil || pl.Region.StartLine != 0 || pl.Region.ByteOffset == nil || pl.Region.ByteLength != f.Evidence.Size {
				t.Errorf("result %d: region %+v, want the whole file as bytes", i, pl.Region)
			}
		case f.Evidence.Size > 0:
			if pl.Region == nil || pl.Region.StartLine != 1 {
				t.Errorf("result %d: region %+v, want line 1 of a text file", i, pl.Region)
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
	if run.AutomationDetails == nil || run.AutomationDetails.ID != "snapscan/web01/" {
		t.Errorf("automationDetails %+v, want snapscan/web01/", run.AutomationDetails)
	}
	for _, p := range CheckGitHubSARIF(raw) {
		t.Error("GitHub:", p)
	}
	var buf bytes.Buffer
	if err := WriteSARIFCategory(&buf, r, "images/golden/"); err != nil || !bytes.Contains(buf.Bytes(), []byte(`"id": "images/golden/"`)) {
		t.Errorf("category not written: %v", err)
	}
}

// The GitHub checker must be able to fail: each broken property is found.
func TestCheckGitHubSARIFFindsProblems(t *testing.T) {
	r := sampleReport()
	Finalize(r)
	_, raw := sarifOf(t, r)
	for _, tc := range []struct{ name, old, new, want string }{
		{"security-severity", `"security-severity": "9.5"`, `"security-severity": "high"`, "security-severity"},
		{"no help", `"help": {`, `"helpX": {`, "no help"},
		{"absolute uri", `"uri": "etc/cron.d/0systemd"`, `"uri": "/etc/cron.d/0systemd"`, "relative"},
		{"no category", `"automationDetails"`, `"automationDetailsX"`, "automationDetails"},
		{"undeclared base", `"uriBaseId": "VOLUME_2"`, `"uriBaseId": "NOWHERE"`, "base URI"},
		{"no fingerprints", `"partialFingerprints": {`, `"partialFingerprintsX": {`, "partialFingerprints"},
		{"bad level", `"level": "warning"`, `"level": "fatal"`, "level"},
	} {
		broken := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), -1)
		if bytes.Equal(broken, raw) {
			t.Fatalf("%s: %q not in the SARIF", tc.name, tc.old)
		}
		found := false
		for _, p := range CheckGitHubSARIF(broken) {
			found = found || strings.Contains(p, tc.want)
		}
		if !found {
			t.Errorf("%s: not reported (%v)", tc.name, CheckGitHubSARIF(broken))
		}
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
