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
	AutomationDetails  *sarifAutomationDetails          `json:"automationDetails,omitempty"`
	OriginalURIBaseIDs map[string]sarifArtifactLocation `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult                    `json:"results"`
	Properties         map[string]any                   `json:"properties,omitempty"`
}

// sarifAutomationDetails names the analysis: GitHub keeps one set of
// alerts per id ("category"), so images uploaded side by side need their
// own.
type sarifAutomationDetails struct {
	ID string `json:"id"`
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
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifMessage   `json:"shortDescription"`
	FullDescription      *sarifMessage  `json:"fullDescription,omitempty"`
	Help                 *sarifHelp     `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration sarifRuleConf  `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

// sarifHelp is a multiformatMessageString: GitHub shows the markdown.
type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
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

// WriteSARIF writes r as a SARIF 2.1.0 log with one run, for GitHub code
// scanning and the SARIF tools. Each rule with results is one reporting
// descriptor described in general (DescribeRule: its name, descriptions,
// manual steps, default severity and ATT&CK techniques), never from one
// finding; each finding is a result with its own level, located by its path
// on the volume that stores it (uriBaseId: that volume, given a base URI
// by its identity in originalUriBaseIds), with a line or byte offset. Scan
// errors, unscanned volumes and skipped files are tool execution
// notifications, so that a consumer sees what was not examined.
func WriteSARIF(w io.Writer, r *Report) error { return writeSARIF(w, r, "") }

// WriteSARIFCategory is WriteSARIF with the analysis category
// (automationDetails.id, GitHub's upload "category") given: "" derives it
// from the image's name.
func WriteSARIFCategory(w io.Writer, r *Report, category string) error {
	return writeSARIF(w, r, category)
}

func writeSARIF(w io.Writer, r *Report, category string) error {
	r = prepared(r)
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: toolName(r), Version: r.Version, Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	if semverRE.MatchString(r.Version) {
		run.Tool.Driver.SemanticVersion = strings.TrimPrefix(r.Version, "v")
	}

	// Rules are listed sorted by id. A rule the catalogue does not know
	// (a report from elsewhere) is described by its id and takes the
	// highest severity among its results.
	var ruleIDs []string
	highest := map[string]Severity{}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Rule == "" { // SARIF needs a rule id; prepared() copied the findings
			f.Rule = "unknown"
		}
		if s, ok := highest[f.Rule]; !ok || f.Severity > s {
			if !ok {
				ruleIDs = append(ruleIDs, f.Rule)
			}
			highest[f.Rule] = f.Severity
		}
	}
	slices.Sort(ruleIDs)
	ruleIndex := map[string]int{}
	for i, id := range ruleIDs {
		ruleIndex[id] = i
		info, ok := DescribeRule(id)
		if !ok {
			info = RuleInfo{ID: id, Name: RuleName(id), Short: "snapscan rule " + id, Severity: highest[id],
				Full: "Findings of rule " + id + ", which this snapscan's rule catalogue does not describe; each result's message says what was found.",
				Help: "Follow each result's remediation property; snapscan only detects and never changes the image."}
			for j := range r.Findings {
				if f := &r.Findings[j]; f.Rule == id && f.Technique != "" {
					info.Technique = f.Technique
					break
				}
			}
		}
		for j := range r.Findings {
			if f := &r.Findings[j]; info.TechniqueName == "" && f.Rule == id && f.Technique == info.Technique {
				info.TechniqueName = f.TechniqueName
			}
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(info))
	}

	keys := VolumeKeys(r)
	bases := map[string]sarifArtifactLocation{}
	addBase := func(volume, description string) string {
		id := uriBaseID(volume)
		if _, ok := bases[id]; !ok {
			key, ok := keys[volume]
			if !ok {
				key = placeKey(volume)
			}
			bases[id] = sarifArtifactLocation{URI: volumeBaseURI(key), Description: &sarifMessage{Text: description}}
		}
		return id
	}
	for _, v := range r.Volumes {
		addBase(v.Name, volumeDescription(v))
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Evidence.Volume != "" {
			addBase(f.Evidence.Volume, "volume "+f.Evidence.Volume)
		}
		run.Results = append(run.Results, sarifResultFor(f, ruleIndex[f.Rule]))
	}
	if len(bases) > 0 {
		run.OriginalURIBaseIDs = bases
	}
	if category == "" {
		category = defaultCategory(r)
	}
	run.AutomationDetails = &sarifAutomationDetails{ID: category}

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

// uriBaseID names a volume in artifact locations by its place in the image
// (VOLUME_2, VOLUME_vg_root; VOLUME for a bare filesystem), never by the
// image's file name: GitHub matches alerts across uploads by location.
func uriBaseID(volume string) string {
	short := strings.TrimPrefix(placeKey(volume), "at:")
	if short == "" {
		return "VOLUME"
	}
	return "VOLUME_" + strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, short)
}

// volumeBaseURI is the absolute base URI of a volume's files, from its
// identity (filesystem UUID, partition GUID or place): the same volume
// gets the same base in every scan, whatever the image is called.
func volumeBaseURI(key string) string {
	kind, val, _ := strings.Cut(key, ":")
	if val == "" {
		val = "whole-image"
	}
	return "snapscan://volume/" + kind + "/" + url.PathEscape(val) + "/"
}

// defaultCategory is automationDetails.id when none is given: one analysis
// per image name ("snapscan/golden/"), so that several images upload side
// by side. CI that names images per build should give a fixed category
// (the upload action's 'category' input, or WriteSARIFCategory).
func defaultCategory(r *Report) string {
	name := baseName(r.Image)
	for _, ext := range []string{".gz", ".img", ".raw", ".qcow2", ".vhdx", ".vhd", ".vpc", ".vmdk"} {
		name = strings.TrimSuffix(name, ext)
	}
	name = strings.Map(func(r rune) rune {
		if r == '/' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	if name == "" {
		name = "image"
	}
	return "snapscan/" + name + "/"
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

// maxRuleTags is what GitHub displays of a rule's tags (it accepts 20).
const maxRuleTags = 10

func sarifRuleFor(ri RuleInfo) sarifRule {
	rule := sarifRule{
		ID:                   ri.ID,
		Name:                 nonEmpty(ri.Name, RuleName(ri.ID)),
		ShortDescription:     sarifMessage{Text: nonEmpty(ri.Short, ri.ID)},
		HelpURI:              attackURL(ri.Technique),
		DefaultConfiguration: sarifRuleConf{Level: sarifLevel(ri.Severity)},
	}
	if ri.Full != "" {
		rule.FullDescription = &sarifMessage{Text: ri.Full}
	}
	techniques := []string{}
	for _, t := range append([]string{ri.Technique}, ri.Tags...) {
		if t != "" && !slices.Contains(techniques, t) {
			techniques = append(techniques, t)
		}
	}
	if ri.Help != "" || len(techniques) > 0 {
		var md strings.Builder
		if ri.Full != "" {
			md.WriteString(ri.Full + "\n\n")
		}
		if ri.Help != "" {
			md.WriteString("**Manual steps** (snapscan only detects; it never changes the image): " + ri.Help + "\n")
		}
		for _, t := range techniques {
			if u := attackURL(t); u != "" {
				fmt.Fprintf(&md, "\nMITRE ATT&CK: [%s](%s)", t, u)
			}
		}
		rule.Help = &sarifHelp{Text: nonEmpty(ri.Help, nonEmpty(ri.Full, ri.Short)), Markdown: strings.TrimSpace(md.String())}
	}
	tags := []string{"security", "mitre-attack"}
	for _, t := range techniques {
		if len(tags) < maxRuleTags {
			tags = append(tags, t)
		}
	}
	props := map[string]any{
		"tags":              tags,
		"security-severity": securitySeverity[ri.Severity],
		"severity":          ri.Severity.String(),
	}
	if ri.Technique != "" {
		props["technique"] = ri.Technique
		if ri.TechniqueName != "" {
			props["techniqueName"] = ri.TechniqueName
		}
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
	if loc, ok := sarifLocationFor(f.Evidence.Volume, volumePath(&f.Evidence), 0); ok {
		loc.PhysicalLocation.Region = regionFor(f)
		res.Locations = []sarifLocation{loc}
	}
	props := map[string]any{
		"severity":          f.Severity.String(),
		"security-severity": securitySeverity[f.Severity],
		"check":             f.Check,
		"evidence":          f.Evidence,
		"path":              f.Evidence.Path,
		"address":           f.Evidence.Where(),
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

func volumePath(e *Evidence) string {
	if e.VolumePath != "" {
		return e.VolumePath
	}
	return e.Path
}

// regionFor places a result inside its file: the judged line; in a text
// file without one, the line of the first YARA match or else line 1 (the
// verdict is on the whole file); in a binary, the first match's byte offset
// or else the whole file as bytes. Directories and unread files get none.
func regionFor(f *Finding) *sarifRegion {
	e := &f.Evidence
	if e.Line > 0 {
		return &sarifRegion{StartLine: e.Line}
	}
	var first *StringMatch
	for i := range f.Matches {
		if len(f.Matches[i].Strings) > 0 && f.Matches[i].Strings[0].Name != "regex" && f.Matches[i].Rule != "ioc.hash" {
			first = &f.Matches[i].Strings[0]
			break
		}
	}
	regular := strings.HasPrefix(e.Mode, "-") || e.Mode == "" // no mode: a report from elsewhere
	switch {
	case first != nil && first.Line > 0:
		return &sarifRegion{StartLine: first.Line}
	case first != nil && e.Binary:
		off := int64(first.Offset)
		return &sarifRegion{ByteOffset: &off}
	case !regular:
		return nil
	case e.Binary:
		return &sarifRegion{ByteOffset: new(int64), ByteLength: e.Size}
	case e.Size > 0:
		return &sarifRegion{StartLine: 1}
	}
	return nil
}

// sarifLocationFor locates a file by its path relative to the volume's root.
func sarifLocationFor(volume, path string, line int) (sarifLocation, bool) {
	rel := strings.TrimLeft(path, "/")
	if rel == "" {
		return sarifLocation{}, false
	}
	loc := sarifLocation{PhysicalLocation: sarifPhysicalLocation{
		ArtifactLocation: sarifArtifactLocation{URI: uriPath(rel), URIBaseID: uriBaseID(volume)},
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
