package report

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// GitHub code scanning's documented limits on an uploaded SARIF file
// ("SARIF support for code scanning", "SARIF results exceed limit").
const (
	GitHubMaxFileSize        = 10 << 20
	GitHubMaxRuns            = 20
	GitHubMaxResultsPerRun   = 25000
	GitHubMaxRulesPerRun     = 25000
	GitHubMaxTagsPerRule     = 20
	GitHubMaxLocationsResult = 1000
)

// CheckGitHubSARIF lists what in a SARIF log GitHub code scanning would
// reject, truncate or misread: the documented limits, the properties it
// reads (rule short/full description, help, security-severity, result
// level, ruleId, message, a region with startLine or a byte offset,
// partialFingerprints, relative URIs with declared bases, the analysis
// category). Empty means the upload would show every result as meant.
func CheckGitHubSARIF(raw []byte) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if len(raw) > GitHubMaxFileSize {
		bad("file is %d bytes, over GitHub's %d", len(raw), GitHubMaxFileSize)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string `json:"id"`
						Name             string `json:"name"`
						ShortDescription *struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
						FullDescription *struct {
							Text string `json:"text"`
						} `json:"fullDescription"`
						Help *struct {
							Text     string `json:"text"`
							Markdown string `json:"markdown"`
						} `json:"help"`
						DefaultConfiguration struct {
							Level string `json:"level"`
						} `json:"defaultConfiguration"`
						Properties map[string]any `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			AutomationDetails *struct {
				ID string `json:"id"`
			} `json:"automationDetails"`
			OriginalURIBaseIDs map[string]struct {
				URI string `json:"uri"`
			} `json:"originalUriBaseIds"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex *int   `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
						Region *struct {
							StartLine  int    `json:"startLine"`
							ByteOffset *int64 `json:"byteOffset"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	if log.Version != "2.1.0" {
		bad("version %q, GitHub reads 2.1.0", log.Version)
	}
	if log.Schema == "" {
		bad("no $schema")
	}
	if len(log.Runs) == 0 || len(log.Runs) > GitHubMaxRuns {
		bad("%d runs (1 to %d)", len(log.Runs), GitHubMaxRuns)
	}
	categories := map[string]bool{}
	for ri, run := range log.Runs {
		if run.Tool.Driver.Name == "" {
			bad("run %d: no tool.driver.name", ri)
		}
		if run.AutomationDetails == nil || run.AutomationDetails.ID == "" {
			bad("run %d: no automationDetails.id: images uploaded side by side would replace each other's alerts", ri)
		} else if categories[run.AutomationDetails.ID] {
			bad("run %d: automationDetails.id %q repeated", ri, run.AutomationDetails.ID)
		} else {
			categories[run.AutomationDetails.ID] = true
		}
		rules := run.Tool.Driver.Rules
		if len(rules) > GitHubMaxRulesPerRun {
			bad("run %d: %d rules, over %d", ri, len(rules), GitHubMaxRulesPerRun)
		}
		seen := map[string]bool{}
		for _, r := range rules {
			if r.ID == "" || seen[r.ID] {
				bad("rule %q: empty or repeated id", r.ID)
			}
			seen[r.ID] = true
			if r.ShortDescription == nil || r.ShortDescription.Text == "" {
				bad("rule %s: no shortDescription", r.ID)
			}
			if r.FullDescription == nil || r.FullDescription.Text == "" {
				bad("rule %s: no fullDescription", r.ID)
			}
			if r.Help == nil || r.Help.Text == "" || r.Help.Markdown == "" {
				bad("rule %s: no help text and markdown", r.ID)
			}
			if !validLevel(r.DefaultConfiguration.Level) {
				bad("rule %s: defaultConfiguration.level %q", r.ID, r.DefaultConfiguration.Level)
			}
			ss, _ := r.Properties["security-severity"].(string)
			if v, err := strconv.ParseFloat(ss, 64); err != nil || v < 0 || v > 10 {
				bad("rule %s: security-severity %q is not a score from 0.0 to 10.0", r.ID, ss)
			}
			tags, _ := r.Properties["tags"].([]any)
			if len(tags) > GitHubMaxTagsPerRule {
				bad("rule %s: %d tags, over %d", r.ID, len(tags), GitHubMaxTagsPerRule)
			}
			hasSecurity := false
			for _, t := range tags {
				hasSecurity = hasSecurity || t == "security"
			}
			if !hasSecurity {
				bad("rule %s: no \"security\" tag: GitHub ignores security-severity without it", r.ID)
			}
		}
		if len(run.Results) > GitHubMaxResultsPerRun {
			bad("run %d: %d results, over %d", ri, len(run.Results), GitHubMaxResultsPerRun)
		}
		for i, res := range run.Results {
			where := fmt.Sprintf("result %d (%s)", i, res.RuleID)
			if !seen[res.RuleID] {
				bad("%s: ruleId not among the rules", where)
			}
			if res.RuleIndex == nil || *res.RuleIndex < 0 || *res.RuleIndex >= len(rules) || rules[*res.RuleIndex].ID != res.RuleID {
				bad("%s: ruleIndex does not point at its rule", where)
			}
			if !validLevel(res.Level) {
				bad("%s: level %q", where, res.Level)
			}
			if res.Message.Text == "" {
				bad("%s: empty message", where)
			}
			if len(res.PartialFingerprints) == 0 {
				bad("%s: no partialFingerprints: alerts would not follow the finding across scans", where)
			}
			if len(res.Locations) > GitHubMaxLocationsResult {
				bad("%s: %d locations", where, len(res.Locations))
			}
			for _, l := range res.Locations {
				al := l.PhysicalLocation.ArtifactLocation
				u, err := url.Parse(al.URI)
				if err != nil || al.URI == "" || u.IsAbs() || strings.HasPrefix(al.URI, "/") {
					bad("%s: uri %q is not a relative URI reference", where, al.URI)
				}
				base, ok := run.OriginalURIBaseIDs[al.URIBaseID]
				if bu, err := url.Parse(base.URI); al.URIBaseID != "" && (!ok || err != nil || !bu.IsAbs() || !strings.HasSuffix(base.URI, "/")) {
					bad("%s: uriBaseId %q has no absolute base URI ending in /", where, al.URIBaseID)
				}
				if rg := l.PhysicalLocation.Region; rg != nil && rg.StartLine < 1 && (rg.ByteOffset == nil || *rg.ByteOffset < 0) {
					bad("%s: region with neither startLine nor byteOffset", where)
				}
			}
		}
	}
	return p
}

func validLevel(l string) bool { return l == "note" || l == "warning" || l == "error" || l == "none" }
