package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/snapscan/snapscan/report"
)

// sarifSchema is the official SARIF 2.1.0 schema when SNAPSCAN_SARIF_SCHEMA
// names a copy (CI fetches it), else nil.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	path := os.Getenv("SNAPSCAN_SARIF_SCHEMA")
	if path == "" {
		t.Log("SNAPSCAN_SARIF_SCHEMA not set: the real scans' SARIF is not validated against the official schema here")
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// A dry run of a GitHub code-scanning upload of the bundled infected
// images: what GitHub reads is right. One rule per check rule, described in
// general by the catalogue with its own default severity (never one
// finding's title or score), each result at its own level, every result in
// a text file on a line, binaries by byte offset, and nothing GitHub's
// documented ingestion rules would reject or truncate.
func TestSARIFUploadDryRun(t *testing.T) {
	levels := map[string]string{"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
	scores := map[string]string{"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
	for _, name := range []string{"linux-infected.img", "windows-infected.img"} {
		t.Run(name, func(t *testing.T) {
			out, errs, code := run(t, "scan", "-f", "sarif", img(t, name))
			if code != report.ExitClean {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for _, p := range report.CheckGitHubSARIF([]byte(out)) {
				t.Error("GitHub:", p)
			}
			if sch := sarifSchema(t); sch != nil {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(out)))
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(inst); err != nil {
					t.Errorf("SARIF 2.1.0 schema: %v", err)
				}
			}
			var log struct {
				Runs []struct {
					AutomationDetails struct{ ID string } `json:"automationDetails"`
					Tool              struct {
						Driver struct {
							Rules []struct {
								ID                   string
								ShortDescription     struct{ Text string }  `json:"shortDescription"`
								DefaultConfiguration struct{ Level string } `json:"defaultConfiguration"`
								Properties           map[string]any
							}
						}
					}
					Results []struct {
						RuleID    string `json:"ruleId"`
						RuleIndex int    `json:"ruleIndex"`
						Level     string
						Message   struct{ Text string }
						Locations []struct {
							PhysicalLocation struct {
								Region *struct {
									StartLine  int    `json:"startLine"`
									ByteOffset *int64 `json:"byteOffset"`
								}
							} `json:"physicalLocation"`
						}
						Properties struct {
							Severity string
							Evidence report.Evidence
						}
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &log); err != nil {
				t.Fatal(err)
			}
			run := log.Runs[0]
			if !strings.HasPrefix(run.AutomationDetails.ID, "snapscan/") {
				t.Errorf("automationDetails.id %q", run.AutomationDetails.ID)
			}
			ruleIDs := map[string]bool{}
			defaults := map[string]bool{}
			for _, rule := range run.Tool.Driver.Rules {
				info, ok := report.DescribeRule(rule.ID)
				if !ok {
					t.Errorf("rule %s is not in the rule catalogue (signatures/rules/rules.txt)", rule.ID)
					continue
				}
				ruleIDs[rule.ID] = true
				defaults[info.Severity.String()] = true
				if rule.Properties["security-severity"] != scores[info.Severity.String()] || rule.DefaultConfiguration.Level != levels[info.Severity.String()] {
					t.Errorf("rule %s: security-severity %v level %s, want its default %s", rule.ID, rule.Properties["security-severity"], rule.DefaultConfiguration.Level, info.Severity)
				}
			}
			if len(defaults) < 3 {
				t.Errorf("the rules share %d default severities: %v", len(defaults), defaults)
			}
			seen := map[string]bool{}
			for i, res := range run.Results {
				seen[res.RuleID] = true
				rule := run.Tool.Driver.Rules[res.RuleIndex]
				if rule.ID != res.RuleID {
					t.Fatalf("result %d points at rule %s", i, rule.ID)
				}
				if res.Level != levels[res.Properties.Severity] {
					t.Errorf("result %d (%s, %s): level %s", i, res.RuleID, res.Properties.Severity, res.Level)
				}
				// The rule's text is general: no finding's own message,
				// account name or path in it.
				ev := res.Properties.Evidence
				if rule.ShortDescription.Text == res.Message.Text || (ev.Path != "" && strings.Contains(rule.ShortDescription.Text, ev.Path)) {
					t.Errorf("rule %s describes one result: %q", rule.ID, rule.ShortDescription.Text)
				}
				if len(res.Locations) == 0 {
					continue
				}
				rg := res.Locations[0].PhysicalLocation.Region
				file := strings.HasPrefix(ev.Mode, "-") && ev.Size > 0
				switch {
				case file && !ev.Binary && (rg == nil || rg.StartLine < 1):
					t.Errorf("result %d (%s %s): a text file without startLine", i, res.RuleID, ev.Path)
				case file && ev.Binary && (rg == nil || rg.ByteOffset == nil):
					t.Errorf("result %d (%s %s): a binary without byteOffset", i, res.RuleID, ev.Path)
				}
			}
			if len(seen) != len(ruleIDs) || len(run.Tool.Driver.Rules) != len(seen) {
				t.Errorf("%d rules for %d rule ids in results", len(run.Tool.Driver.Rules), len(seen))
			}
		})
	}
}
