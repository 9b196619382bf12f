package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The SARIF log is written from the small set of structs below rather than
// with a SARIF library: snapscan emits a fixed subset (one run, rules,
// results, notifications), the structs make field order and omission exact
// for golden tests, and the output is checked against the official SARIF
// 2.1.0 schema and Microsoft's SARIF validator (see sarif_test.go).

// SARIFSchemaURI is the $schema the log names; GitHub code scanning and the
// SARIF tools recognise it.
const SARIFSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

// FingerprintKey names the partial fingerprint that carries Finding.ID, so
// that code-scanning alerts follow a finding across scans.
const FingerprintKey = "snapscanFindingId/v1"

// securitySeverity is the CVSS-like score GitHub code scanning reads from
// rule properties to show Critical / High / Medium / Low.
var securitySeverity = map[Severity]string{
	Critical: "9.5",
	High:     "8.0",
	Medium:   "5.5",
	Low:      "3.0",
	Info:     "0.0",
}

// sarifLevel maps a severity to a SARIF result level.
func sarifLevel(s Severity) string {
	switch {
	case s >= High:
		return "error"
	case s == Medium:
		return "warning"
	default:
		return "note"
	}
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                        `json:"tool"`
	Invocations        []sarifInvocation                `json:"invocations"`
	OriginalURIBaseIDs map[string]sarifArtifactLocation `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult                    `json:"results"`
	Properties         map[string]any                   `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name            string      `json:"name"`
	Version         string      `json:"version,omitempty"`
	SemanticVersion string      `json:"semanticVersion,omitempty"`
	Rules           []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifMessage   `json:"shortDescription"`
	FullDescription      *sarifMessage  `json:"fullDescription,omitempty"`
	Help                 *sarifMessage  `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration sarifRuleConf  `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI         string        `json:"uri,omitempty"`
	URIBaseID   string        `json:"uriBaseId,omitempty"`
	Description *sarifMessage `json:"description,omitempty"`
}

// sarifRegion is a line when the finding is about a line, else the whole
// file as a byte range: a miner binary has no lines.
type sarifRegion struct {
	StartLine  int    `json:"startLine,omitempty"`
	ByteOffset *int64 `json:"byteOffset,omitempty"`
	ByteLength int64  `json:"byteLength,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	StartTimeUTC               string              `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string              `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications"`
}

type sarifNotification struct {
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

// WriteSARIF writes r as a SARIF 2.1.0 log with one run. Each distinct
// finding rule is a reporting descriptor; each finding is a result located
// by its image path relative to its volume (uriBaseId = volume name); scan
// errors, unscanned volumes and skipped files are tool execution
// notifications, so that a consumer sees what was not examined.
func WriteSARIF(w io.Writer, r *Report) error {
	r = prepared(r)
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: toolName(r), Version: r.Version, Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	if semverRE.MatchString(r.Version) {
		run.Tool.Driver.SemanticVersion = strings.TrimPrefix(r.Version, "v")
	}

	ruleIndex := map[string]int{}
	// Rules are listed sorted by id; a rule's default level is that of its
	// most severe finding.
	var ruleIDs []string
	first := map[string]*Finding{}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Rule == "" { // SARIF needs a rule id; prepared() copied the findings
			f.Rule = "unknown"
		}
		if g, ok := first[f.Rule]; !ok || f.Severity > g.Severity {
			if !ok {
				ruleIDs = append(ruleIDs, f.Rule)
			}
			first[f.Rule] = f
		}
	}
	slices.Sort(ruleIDs)
	for i, id := range ruleIDs {
		ruleIndex[id] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(first[id]))
	}

	bases := map[string]sarifArtifactLocation{}
	for _, v := range r.Volumes {
		bases[v.Name] = sarifArtifactLocation{Description: &sarifMessage{Text: volumeDescription(v)}}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if _, ok := bases[f.Evidence.Volume]; !ok && f.Evidence.Volume != "" {
			bases[f.Evidence.Volume] = sarifArtifactLocation{Description: &sarifMessage{Text: "volume " + f.Evidence.Volume}}
		}
		run.Results = append(run.Results, sarifResultFor(f, ruleIndex[f.Rule]))
	}
	if len(bases) > 0 {
		run.OriginalURIBaseIDs = bases
	}

	run.Invocations = []sarifInvocation{sarifInvocationFor(r)}
	run.Properties = map[string]any{"image": r.Image, "schema": r.Schema}
	if r.ImageSHA256 != "" {
		run.Properties["imageSha256"] = r.ImageSHA256
	}
	if r.Container != "" {
		run.Properties["container"] = r.Container
	}
	if r.ImageSize > 0 {
		run.Properties["imageSize"] = r.ImageSize
	}
	if r.Stats.FindingsHidden > 0 {
		run.Properties["findingsHidden"] = r.Stats.FindingsHidden
	}
	if r.Interrupted {
		run.Properties["interrupted"] = true
	}
	recoveryProperties(run.Properties, r)

	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: SARIFSchemaURI, Version: "2.1.0", Runs: []sarifRun{run}})
}

var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

var techniqueRE = regexp.MustCompile(`^T(\d{4})(?:\.(\d{3}))?$`)

func toolName(r *Report) string {
	if r.Tool != "" {
		return r.Tool
	}
	return "snapscan"
}

// attackURL links a technique id to its ATT&CK page.
func attackURL(t string) string {
	m := techniqueRE.FindStringSubmatch(t)
	if m == nil {
		return ""
	}
	if m[2] == "" {
		return "https://attack.mitre.org/techniques/T" + m[1] + "/"
	}
	return "https://attack.mitre.org/techniques/T" + m[1] + "/" + m[2] + "/"
}

func sarifRuleFor(f *Finding) sarifRule {
	rule := sarifRule{
		ID:                   f.Rule,
		ShortDescription:     sarifMessage{Text: nonEmpty(f.Title, f.Rule)},
		HelpURI:              attackURL(f.Technique),
		DefaultConfiguration: sarifRuleConf{Level: sarifLevel(f.Severity)},
	}
	if f.Description != "" {
		rule.FullDescription = &sarifMessage{Text: f.Description}
	}
	if f.Remediation != "" {
		rule.Help = &sarifMessage{Text: f.Remediation}
	}
	tags := []string{"security", "mitre-attack"}
	if f.Technique != "" {
		tags = append(tags, f.Technique)
	}
	if f.Check != "" {
		tags = append(tags, "check:"+f.Check)
	}
	props := map[string]any{
		"tags":              tags,
		"security-severity": securitySeverity[f.Severity],
		"technique":         f.Technique,
	}
	if f.TechniqueName != "" {
		props["techniqueName"] = f.TechniqueName
	}
	rule.Properties = props
	return rule
}

func sarifResultFor(f *Finding, ruleIndex int) sarifResult {
	msg := nonEmpty(f.Title, f.Rule)
	if f.Family != "" {
		msg += " (" + f.Family + ")"
	}
	if f.Evidence.Key != "" {
		msg += " at " + f.Evidence.Key
	}
	switch {
	case f.Evidence.Match != "":
		msg += ": " + f.Evidence.Match
	case len(f.Matches) > 0:
		var rules []string
		for _, m := range f.Matches {
			rules = append(rules, m.Rule)
		}
		msg += ": YARA " + strings.Join(rules, ", ")
	}
	res := sarifResult{
		RuleID:              f.Rule,
		RuleIndex:           ruleIndex,
		Level:               sarifLevel(f.Severity),
		Message:             sarifMessage{Text: msg},
		PartialFingerprints: map[string]string{FingerprintKey: f.ID},
	}
	if loc, ok := sarifLocationFor(f.Evidence.Volume, f.Evidence.Path, f.Evidence.Line); ok {
		if loc.PhysicalLocation.Region == nil && f.Evidence.Size > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{ByteOffset: new(int64), ByteLength: f.Evidence.Size}
		}
		res.Locations = []sarifLocation{loc}
	}
	props := map[string]any{
		"severity": f.Severity.String(),
		"check":    f.Check,
		"evidence": f.Evidence,
	}
	if f.Technique != "" {
		props["technique"] = f.Technique
	}
	if f.Family != "" {
		props["family"] = f.Family
	}
	if f.Remediation != "" {
		props["remediation"] = f.Remediation
	}
	if len(f.Matches) > 0 {
		props["yara"] = f.Matches
	}
	res.Properties = props
	return res
}

// sarifLocationFor locates a file by its path relative to the volume's root.
func sarifLocationFor(volume, path string, line int) (sarifLocation, bool) {
	rel := strings.TrimLeft(path, "/")
	if rel == "" {
		return sarifLocation{}, false
	}
	loc := sarifLocation{PhysicalLocation: sarifPhysicalLocation{
		ArtifactLocation: sarifArtifactLocation{URI: uriPath(rel), URIBaseID: volume},
	}}
	if line > 0 {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: line}
	}
	return loc, true
}

// uriPath percent-encodes a relative file path as a URI reference: image
// paths may hold spaces, '#', '?', '%' or bytes that are not UTF-8.
func uriPath(p string) string {
	u := url.URL{Path: p}
	s := u.EscapedPath()
	// A first segment with ':' would read as a scheme; "./" keeps it a path.
	if first, _, _ := strings.Cut(s, "/"); strings.Contains(first, ":") {
		s = "./" + s
	}
	return s
}

func sarifInvocationFor(r *Report) sarifInvocation {
	incomplete, why := incompleteBeyondFiles(r)
	inv := sarifInvocation{ExecutionSuccessful: !incomplete, ToolExecutionNotifications: []sarifNotification{}}
	if !r.Started.IsZero() {
		inv.StartTimeUTC = r.Started.UTC().Format(time.RFC3339Nano)
		end := r.Started.Add(time.Duration(r.Duration * float64(time.Second)))
		inv.EndTimeUTC = end.UTC().Format(time.RFC3339Nano)
	}
	if incomplete {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "error",
			Message: sarifMessage{Text: gapPrefix(r) + why},
		})
	}
	for _, v := range r.Volumes {
		if !v.Scanned {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
				Level:      "warning",
				Message:    sarifMessage{Text: fmt.Sprintf("volume %s not scanned: %s", v.Name, nonEmpty(v.Reason, "no reason given"))},
				Properties: map[string]any{"volume": v.Name, "stage": "volume"},
			})
		}
	}
	for _, e := range r.Errors {
		n := sarifNotification{
			Level:      "error",
			Message:    sarifMessage{Text: errorText(e)},
			Properties: map[string]any{"stage": e.Stage},
		}
		if e.Volume != "" {
			n.Properties["volume"] = e.Volume
		}
		if loc, ok := sarifLocationFor(e.Volume, e.Path, 0); ok {
			n.Locations = []sarifLocation{loc}
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	for _, rc := range skippedByReason(r) {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:      "note",
			Message:    sarifMessage{Text: fmt.Sprintf("%s not swept: %s", plural(rc.count, "file"), rc.reason)},
			Properties: map[string]any{"stage": "sweep", "skipped": rc.count},
		})
	}
	if unlisted := r.Stats.FilesSkipped - int64(len(r.Skipped)); unlisted > 0 {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:      "note",
			Message:    sarifMessage{Text: fmt.Sprintf("%s not swept and not listed", plural(int(unlisted), "more file"))},
			Properties: map[string]any{"stage": "sweep", "skipped": unlisted},
		})
	}
	return inv
}

func errorText(e ScanError) string {
	var where string
	switch {
	case e.Volume != "" && e.Path != "":
		where = e.Volume + ":" + e.Path
	case e.Volume != "":
		where = e.Volume
	default:
		where = e.Path
	}
	if where == "" {
		return e.Stage + ": " + e.Error
	}
	return e.Stage + ": " + where + ": " + e.Error
}

type reasonCount struct {
	reason string
	count  int
}

// skippedByReason counts skipped files per reason, most frequent first.
// Only the listed files are counted; Stats.FilesSkipped may be larger when
// the scanner capped the list.
func skippedByReason(r *Report) []reasonCount {
	counts := map[string]int{}
	for _, s := range r.Skipped {
		counts[s.Reason]++
	}
	out := make([]reasonCount, 0, len(counts))
	for k, v := range counts {
		out = append(out, reasonCount{k, v})
	}
	slices.SortFunc(out, func(a, b reasonCount) int {
		if a.count != b.count {
			return b.count - a.count
		}
		return strings.Compare(a.reason, b.reason)
	})
	return out
}

func volumeDescription(v Volume) string {
	parts := []string{"volume " + v.Name}
	if v.Filesystem != "" {
		parts = append(parts, v.Filesystem)
	}
	if v.Label != "" {
		parts = append(parts, "label "+v.Label)
	}
	return strings.Join(parts, ", ")
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
