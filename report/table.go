package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// The table is for an analyst at a terminal. Its order follows the
// questions they ask: what was scanned (and what was not), what was found
// (worst first, one line each), the evidence for each finding, what could
// not be read, and the verdict. Everything from the image goes through
// clean() before it is printed, and every line fits in WriteOptions.Width.

// maxMatch caps how much of a matching line the table shows; the JSON
// report has all of it.
const maxMatch = 240

// maxCellText caps any table cell: an error message or inventory line from
// a hostile image can be megabytes. The JSON report has the full text.
const maxCellText = 2000

// maxYARAStrings caps the matched strings shown per YARA rule.
const maxYARAStrings = 5

// WriteTable writes the human-readable report.
func WriteTable(w io.Writer, r *Report, opts WriteOptions) error {
	width := opts.Width
	if width == 0 {
		width = DefaultWidth
	}
	width = max(width, MinWidth)
	bw := bufio.NewWriter(w)
	t := &tableWriter{w: bw, width: width, r: prepared(r), color: opts.Color}
	t.header()
	t.volumes()
	t.targets()
	t.findings()
	t.evidence()
	t.errors()
	t.skipped()
	if opts.Inventory {
		t.inventory("INVENTORY", t.r.Inventory)
	} else if keys := inventoryOf(t.r, "ssh-key"); len(keys) > 0 {
		// Every authorized key, suspicious or not: a key an attacker added
		// looks like any other, and the analyst must see them all.
		t.inventory("SSH AUTHORIZED KEYS", keys)
	}
	t.summary()
	if t.err != nil {
		return t.err
	}
	return bw.Flush()
}

type tableWriter struct {
	w     *bufio.Writer
	width int
	r     *Report
	err   error
	color bool
}

// severityColor is the SGR code of each severity on a terminal.
var severityColor = map[Severity]string{Critical: "1;31", High: "31", Medium: "33", Low: "36", Info: "2"}

// paint colours the first s in line as severity sev. It runs after the line
// is wrapped to the width: escapes take no columns on the terminal but
// would count in width().
func (t *tableWriter) paint(line, s string, sev Severity) string {
	if !t.color || s == "" {
		return line
	}
	return strings.Replace(line, s, "\x1b["+severityColor[sev]+"m"+s+"\x1b[0m", 1)
}

func (t *tableWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// section starts a titled part of the report.
func (t *tableWriter) section(title string) {
	t.printf("\n%s\n", title)
}

// field prints "label  value", wrapping the value under itself.
func (t *tableWriter) field(indent, labelWidth int, label, value string) {
	pad := strings.Repeat(" ", indent)
	valueWidth := t.width - indent - labelWidth - 1
	gap := " "
	if labelWidth == 0 && label == "" {
		gap = ""
		valueWidth++
	}
	for i, line := range wrap(value, valueWidth) {
		if i == 0 {
			t.printf("%s%-*s%s%s\n", pad, labelWidth, label, gap, line)
		} else {
			t.printf("%s%*s%s%s\n", pad, labelWidth, "", gap, line)
		}
	}
}

func (t *tableWriter) header() {
	r := t.r
	t.printf("%s\n", truncate(clean(fmt.Sprintf("%s %s · report schema %s", toolName(r), nonEmpty(r.Version, "(dev)"), r.Schema)), t.width))
	t.field(0, 10, "Image", clean(r.Image))
	var disk []string
	if r.Container != "" {
		disk = append(disk, clean(r.Container))
	}
	if r.ImageSize > 0 {
		disk = append(disk, fmt.Sprintf("%s (%d bytes)", humanBytes(r.ImageSize), r.ImageSize))
	}
	if len(disk) > 0 {
		t.field(0, 10, "Disk", strings.Join(disk, ", "))
	}
	if r.ImageSHA256 != "" {
		t.field(0, 10, "SHA-256", clean(r.ImageSHA256))
	}
	when := "took " + seconds(r.Duration)
	if !r.Started.IsZero() {
		when = stamp(r.Started) + ", " + when
	}
	t.field(0, 10, "Scanned", when)
	if r.Stats.FilesSwept > 0 || r.Stats.BytesSwept > 0 {
		t.field(0, 10, "Swept", fmt.Sprintf("%s, %s", plural(int(r.Stats.FilesSwept), "file"), humanBytes(r.Stats.BytesSwept)))
	}
	if notes := recoveryNotes(r); len(notes) > 0 {
		t.field(0, 10, "Recovery", strings.Join(notes, "; "))
	}
	if r.Interrupted {
		t.field(0, 10, "Partial", "INTERRUPTED: the scan was cut short, this report holds what was done")
	}
}

func (t *tableWriter) volumes() {
	r := t.r
	scanned := 0
	for _, v := range r.Volumes {
		if v.Scanned {
			scanned++
		}
	}
	t.section(fmt.Sprintf("VOLUMES  %d of %d scanned", scanned, len(r.Volumes)))
	if len(r.Volumes) == 0 {
		t.printf("  none found\n")
		return
	}
	rows := make([][]string, 0, len(r.Volumes))
	for _, v := range r.Volumes {
		status := volumeStatus(v)
		label := clean(v.Label)
		if v.PartName != "" && v.PartName != v.Label {
			label = strings.TrimSpace(label + " " + "(" + clean(v.PartName) + ")")
		}
		rows = append(rows, []string{clean(v.Name), nonEmpty(clean(v.Filesystem), "?"), humanBytes(v.Size), label, status})
	}
	t.table([]string{"VOLUME", "FS", "SIZE", "LABEL", "STATUS"}, rows, []int{8, 4, 8, 5, 16})
}

func (t *tableWriter) targets() {
	r := t.r
	t.section(fmt.Sprintf("TARGETS  %d found", len(r.Targets)))
	if len(r.Targets) == 0 {
		t.printf("  no operating system found: only the content sweep ran\n")
		return
	}
	for _, tg := range r.Targets {
		line := fmt.Sprintf("%s on %s, %s", clean(tg.OS), clean(tg.Volume), plural(len(tg.Checks), "check"))
		if tg.Name != "" {
			line = clean(tg.Name) + " — " + line
		}
		t.field(2, 0, "", line)
		if len(tg.Mounts) > 0 {
			var ms []string
			for _, mp := range slices.Sorted(maps.Keys(tg.Mounts)) {
				ms = append(ms, clean(mp)+" = "+clean(tg.Mounts[mp]))
			}
			t.field(4, 7, "mounts", strings.Join(ms, ", "))
		}
		if tg.Comment != "" {
			t.field(4, 7, "note", clean(tg.Comment))
		}
	}
}

// bySeverity groups findings, most severe first, keeping their order.
func bySeverity(fs []Finding) [][]int {
	var groups [][]int
	for s := Critical; s >= Info; s-- {
		var g []int
		for i, f := range fs {
			if f.Severity == s {
				g = append(g, i)
			}
		}
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

func (t *tableWriter) findings() {
	r := t.r
	t.section("FINDINGS  " + countsLine(r))
	if len(r.Findings) == 0 {
		t.printf("  none\n")
	}
	headers := []string{"#", "RULE / TITLE", "ATT&CK", "LOCATION", "FAMILY"}
	rows := make([][]string, len(r.Findings))
	for i := range r.Findings {
		f := &r.Findings[i]
		title := clean(f.Rule)
		if f.Title != "" {
			title += "\n" + clean(f.Title)
		}
		rows[i] = []string{strconv.Itoa(i + 1), title, nonEmpty(clean(f.Technique), "-"), location(f, t.volumeTag(f)), nonEmpty(clean(f.Family), "-")}
	}
	// One set of widths for all severity groups, so the tables line up.
	widths := t.fit(headers, rows, []int{1, 12, 6, 12, 6})
	// The evidence block below has every value in full: here a cell gets a
	// few lines, enough to recognise the finding.
	for _, row := range rows {
		for c := range row {
			row[c] = clip(wrap(row[c], widths[c]), maxCellLines, widths[c])
		}
	}
	for _, g := range bySeverity(r.Findings) {
		sev := r.Findings[g[0]].Severity
		t.printf("\n%s (%d)\n", t.paint(strings.ToUpper(sev.String()), strings.ToUpper(sev.String()), sev), len(g))
		group := make([][]string, 0, len(g))
		for _, i := range g {
			group = append(group, rows[i])
		}
		t.render(headers, group, widths)
	}
	if n := r.Stats.FindingsSuppressed; n > 0 {
		t.printf("  (%s suppressed by the ignore file; --show-suppressed lists them)\n", plural(n, "finding"))
	}
	if n := r.Stats.FindingsInBaseline; n > 0 {
		t.printf("  (%s already in the baseline report not shown)\n", plural(n, "finding"))
	}
	if r.Stats.FindingsHidden > 0 {
		t.printf("  (%s below the --severity threshold not shown)\n", plural(r.Stats.FindingsHidden, "finding"))
	}
}

// maxCellLines caps a cell of the findings table.
const maxCellLines = 5

// clip keeps at most n lines, marking the cut with an ellipsis.
func clip(lines []string, n, w int) string {
	if len(lines) > n {
		lines = lines[:n]
		last := lines[n-1]
		if width(last) >= w {
			last = truncate(last, w-1)
			last = strings.TrimSuffix(last, "…")
		}
		lines[n-1] = last + "…"
	}
	return strings.Join(lines, "\n")
}

// location is where a finding points, as a person would type it: the path
// the running system used, then (when the image has more than one volume)
// the volume that stores it, with its path there when that differs.
func location(f *Finding, volume string) string {
	s := clean(f.Evidence.Path)
	if f.Evidence.Line > 0 {
		s += ":" + strconv.Itoa(f.Evidence.Line)
	}
	if volume != "" {
		if f.Evidence.VolumePath != "" {
			volume += ":" + clean(f.Evidence.VolumePath)
		}
		s += "\non " + volume
	}
	if f.Evidence.Key != "" {
		s += "\n" + clean(f.Evidence.Key)
	}
	return s
}

// volumeTag is the short name of the finding's volume ("@2", "@vg/root")
// when the report has more than one volume, else "".
func (t *tableWriter) volumeTag(f *Finding) string {
	if len(t.r.Volumes) < 2 || f.Evidence.Volume == "" {
		return ""
	}
	v := clean(f.Evidence.Volume)
	if short := strings.TrimPrefix(v, clean(baseName(t.r.Image))); short != v && short != "" {
		return short
	}
	return v
}

func countsLine(r *Report) string {
	counts := countBySeverity(r.Findings)
	var parts []string
	for s := Critical; s >= Info; s-- {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s.String()], s))
	}
	return strings.Join(parts, " · ")
}

func (t *tableWriter) evidence() {
	r := t.r
	if len(r.Findings) == 0 {
		return
	}
	t.section("EVIDENCE")
	const ind, lw = 4, 10
	for i := range r.Findings {
		f := &r.Findings[i]
		head := fmt.Sprintf("[%d] %s  %s", i+1, strings.ToUpper(f.Severity.String()), clean(f.Rule))
		if f.Title != "" {
			head += " — " + clean(f.Title)
		}
		t.printf("\n")
		for j, line := range wrap(head, t.width) {
			if j == 0 {
				line = t.paint(line, strings.ToUpper(f.Severity.String()), f.Severity)
			}
			t.printf("%s\n", line)
		}
		t.field(ind, lw, "id", fmt.Sprintf("%s  (check %s)", clean(f.ID), nonEmpty(clean(f.Check), "?")))
		t.field(ind, lw, "where", whereLine(&f.Evidence))
		if f.Evidence.VolumePath != "" {
			t.field(ind, lw, "os path", clean(f.Evidence.Path))
		}
		if f.Evidence.Key != "" {
			t.field(ind, lw, "key", clean(f.Evidence.Key))
		}
		if f.Evidence.LinkTarget != "" {
			t.field(ind, lw, "link to", clean(f.Evidence.LinkTarget))
		}
		if f.Evidence.Match != "" {
			t.field(ind, lw, "match", truncate(clean(f.Evidence.Match), maxMatch))
		}
		technique := clean(f.Technique)
		if f.TechniqueName != "" {
			technique += " " + clean(f.TechniqueName)
		}
		t.field(ind, lw, "att&ck", nonEmpty(technique, "-"))
		if f.Family != "" {
			t.field(ind, lw, "family", clean(f.Family))
		}
		if f.Description != "" {
			t.field(ind, lw, "why", clean(f.Description))
		}
		t.field(ind, lw, "file", fileLine(&f.Evidence))
		if times := timesLine(&f.Evidence); times != "" {
			t.field(ind, lw, "times", times)
		}
		if f.Evidence.SHA256 != "" {
			t.field(ind, lw, "sha256", clean(f.Evidence.SHA256))
		}
		if f.Evidence.MD5 != "" {
			t.field(ind, lw, "md5", clean(f.Evidence.MD5))
		}
		for _, m := range f.Matches {
			t.field(ind, lw, "yara", yaraLine(m))
		}
		t.field(ind, lw, "fix", nonEmpty(clean(f.Remediation), "-"))
	}
}

// whereLine is the file's address on its volume, with the line: what
// 'snapscan cat IMAGE@...' opens.
func whereLine(e *Evidence) string {
	where := clean(e.Where())
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	return where
}

func fileLine(e *Evidence) string {
	var parts []string
	if e.Inode != 0 {
		parts = append(parts, fmt.Sprintf("inode %d", e.Inode))
	}
	if e.UID != nil || e.GID != nil {
		owner := func(p *uint32) string {
			if p == nil {
				return "?"
			}
			return strconv.FormatUint(uint64(*p), 10)
		}
		parts = append(parts, "owner "+owner(e.UID)+":"+owner(e.GID))
	}
	if e.Mode != "" {
		parts = append(parts, clean(e.Mode))
	}
	parts = append(parts, humanBytes(e.Size))
	if len(e.Flags) > 0 {
		fl := make([]string, len(e.Flags))
		for i, f := range e.Flags {
			fl[i] = strings.ToUpper(clean(f))
		}
		parts = append(parts, strings.Join(fl, ","))
	}
	return strings.Join(parts, " · ")
}

func timesLine(e *Evidence) string {
	var parts []string
	if e.Mtime != nil {
		parts = append(parts, "modified "+stamp(*e.Mtime))
	}
	if e.Ctime != nil {
		parts = append(parts, "changed "+stamp(*e.Ctime))
	}
	if e.Btime != nil {
		parts = append(parts, "born "+stamp(*e.Btime))
	}
	if e.Atime != nil {
		parts = append(parts, "accessed "+stamp(*e.Atime))
	}
	return strings.Join(parts, " · ")
}

func yaraLine(m RuleMatch) string {
	s := clean(m.Rule)
	if len(m.Tags) > 0 {
		s += " [" + clean(strings.Join(m.Tags, ",")) + "]"
	}
	if m.Source != "" {
		s += " from " + clean(m.Source)
	}
	for i, sm := range m.Strings {
		if i == maxYARAStrings {
			s += fmt.Sprintf("; +%d more", len(m.Strings)-i)
			break
		}
		s += fmt.Sprintf("; %s@0x%x %q", clean(sm.Name), sm.Offset, truncate(clean(sm.Data), 40))
	}
	return s
}

func (t *tableWriter) errors() {
	r := t.r
	t.section(fmt.Sprintf("NOT SCANNED / COULD NOT READ  %s", plural(len(r.Errors), "error")))
	if len(r.Errors) == 0 {
		t.printf("  none\n")
		return
	}
	rows := make([][]string, 0, len(r.Errors))
	for _, e := range r.Errors {
		rows = append(rows, []string{nonEmpty(clean(e.Volume), "-"), clean(e.Stage), nonEmpty(clean(e.Path), "-"), clean(e.Error)})
	}
	t.table([]string{"VOLUME", "STAGE", "PATH", "ERROR"}, rows, []int{6, 6, 10, 12})
}

func (t *tableWriter) skipped() {
	r := t.r
	if n := r.Stats.FilesVerifiedNotSwept; n > 0 {
		t.section("VERIFIED")
		t.field(2, 0, "", fmt.Sprintf("%d files match their package's digest and were not YARA-swept (--skip-verified)", n))
	}
	if r.Stats.FilesSkipped == 0 && len(r.Skipped) == 0 {
		return
	}
	var by []string
	for _, rc := range skippedByReason(r) {
		by = append(by, fmt.Sprintf("%d %s", rc.count, clean(rc.reason)))
	}
	line := fmt.Sprintf("%d files not swept", r.Stats.FilesSkipped)
	if len(by) > 0 {
		line += ": " + strings.Join(by, ", ")
	}
	if int64(len(r.Skipped)) < r.Stats.FilesSkipped {
		line += fmt.Sprintf(" (%d listed in the JSON report)", len(r.Skipped))
	} else {
		line += " (listed in the JSON report)"
	}
	t.section("SKIPPED")
	t.field(2, 0, "", line)
}

func inventoryOf(r *Report, kind string) []InventoryItem {
	var out []InventoryItem
	for _, it := range r.Inventory {
		if it.Kind == kind {
			out = append(out, it)
		}
	}
	return out
}

func (t *tableWriter) inventory(title string, items []InventoryItem) {
	t.section(fmt.Sprintf("%s  %s", title, plural(len(items), "item")))
	if len(items) == 0 {
		t.printf("  none\n")
		return
	}
	var kinds []string
	groups := map[string][]InventoryItem{}
	for _, it := range items {
		if _, ok := groups[it.Kind]; !ok {
			kinds = append(kinds, it.Kind)
		}
		groups[it.Kind] = append(groups[it.Kind], it)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		t.printf("\n%s (%d)\n", truncate(clean(nonEmpty(k, "other")), t.width-12), len(groups[k]))
		rows := make([][]string, 0, len(groups[k]))
		for _, it := range groups[k] {
			loc := clean(it.Volume) + ":" + clean(nonEmpty(it.VolumePath, it.Path))
			if it.Line > 0 {
				loc += ":" + strconv.Itoa(it.Line)
			}
			if it.VolumePath != "" {
				loc += "\n(" + clean(it.Path) + ")"
			}
			summary := clean(it.Summary)
			for _, key := range slices.Sorted(maps.Keys(it.Fields)) {
				summary += "\n· " + clean(key) + ": " + clean(it.Fields[key])
			}
			rows = append(rows, []string{loc, summary})
		}
		t.table([]string{"LOCATION", "SUMMARY"}, rows, []int{12, 12})
	}
}

func (t *tableWriter) summary() {
	r := t.r
	line := countsLine(r)
	counts := countBySeverity(r.Findings)
	for s := Critical; s >= Info; s-- {
		if n := counts[s.String()]; n > 0 {
			line = t.paint(line, fmt.Sprintf("%d %s", n, s), s)
		}
	}
	t.printf("\nSUMMARY  %s\n", line)
	t.field(0, 8, "VERDICT", Verdict(r))
}

// table renders rows under headers, fitting the terminal width.
func (t *tableWriter) table(headers []string, rows [][]string, minWidths []int) {
	t.render(headers, rows, t.fit(headers, rows, minWidths))
}

// fit gives each column its natural width, then, while the table is too
// wide, takes one column at a time from the widest column, down to its
// minimum.
func (t *tableWriter) fit(headers []string, rows [][]string, minWidths []int) []int {
	n := len(headers)
	natural := make([]int, n)
	for c, h := range headers {
		natural[c] = width(h)
	}
	for _, row := range rows {
		for c := range row {
			row[c] = truncate(row[c], maxCellText)
		}
	}
	for _, row := range rows {
		for c, cell := range row {
			for _, line := range strings.Split(cell, "\n") {
				natural[c] = max(natural[c], width(line))
			}
		}
	}
	// Borders and padding: "│ " before each column, " " after, "│" at the end.
	return fitWidths(natural, minWidths, t.width-(3*n+1))
}

// render draws the table with fixed column widths. Cells are wrapped here,
// not by tablewriter, so that paths break at '/' and widths are exact.
func (t *tableWriter) render(headers []string, rows [][]string, widths []int) {
	if t.err != nil {
		return
	}
	n := len(headers)
	hs := make([]string, n)
	for c, h := range headers {
		hs[c] = wrapCell(h, widths[c])
	}
	cells := make([][]string, len(rows))
	for r, row := range rows {
		cells[r] = make([]string, n)
		for c := range n {
			if c < len(row) {
				cells[r][c] = wrapCell(row[c], widths[c])
			}
		}
	}
	t.err = drawBox(t.w, hs, cells, widths)
}

// fitWidths shrinks the widest column one step at a time until the columns
// fit in avail, never below their minimum (or their natural width, if
// smaller). If even the minimums do not fit, the minimums are returned and
// the caller's MinWidth guarantees that cannot happen for our tables.
func fitWidths(natural, minimum []int, avail int) []int {
	w := slices.Clone(natural)
	floor := make([]int, len(w))
	for i := range w {
		floor[i] = 1
		if i < len(minimum) {
			floor[i] = max(1, min(minimum[i], natural[i]))
		}
	}
	total := 0
	for _, x := range w {
		total += x
	}
	for total > avail {
		widest := -1
		for i := range w {
			if w[i] > floor[i] && (widest < 0 || w[i] > w[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		w[widest]--
		total--
	}
	return w
}
