package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Formats are the values --format accepts, the default first.
var Formats = []string{"table", "json", "sarif", "jsonl"}

// WriteOptions tune the human-readable output. The machine formats (JSON,
// SARIF) always carry everything in the report.
type WriteOptions struct {
	// Inventory adds the autostart inventory (--inventory) to the table.
	Inventory bool
	// Width is the terminal width the table fits in; 0 means 100.
	Width int
	// Color marks severities with ANSI colours (for a terminal; the caller
	// leaves it off for pipes and files, and when NO_COLOR is set).
	Color bool
}

// DefaultWidth is the width the table fits in when WriteOptions.Width is 0.
const DefaultWidth = 100

// MinWidth is the narrowest table Write produces: below it the columns
// cannot hold a severity and a path fragment.
const MinWidth = 60

// Write renders r in format (one of Formats). Call Finalize, and Filter if
// asked, first: Write shows the report as it is and never changes it.
func Write(w io.Writer, r *Report, format string, opts WriteOptions) error {
	switch strings.ToLower(format) {
	case "table", "":
		return WriteTable(w, r, opts)
	case "json":
		return WriteJSON(w, r)
	case "sarif":
		return WriteSARIF(w, r)
	case "jsonl":
		return WriteJSONL(w, r)
	}
	return fmt.Errorf("unknown format %q (valid formats: %s)", format, strings.Join(Formats, ", "))
}

// prepared is a copy of r with the guarantees the writers promise: the
// schema version set, every finding with an ID, lists empty rather than
// absent, counts present. The caller's report is not changed.
func prepared(r *Report) *Report {
	c := *r
	c.Schema = SchemaVersion
	c.Targets = slices.Clone(r.Targets)
	c.Findings = slices.Clone(r.Findings)
	keys := VolumeKeys(r)
	for i := range c.Findings {
		if c.Findings[i].ID == "" {
			c.Findings[i].ID = IDIn(keys, &c.Findings[i])
		}
	}
	fillNil(&c)
	return &c
}
