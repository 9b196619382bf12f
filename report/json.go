package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"io"
)

// JSONSchema is the JSON Schema (draft 2020-12) of the JSON report, version
// SchemaVersion. docs/report-schema.md explains each field.
//
//go:embed schema.json
var JSONSchema []byte

// WriteJSON writes r as indented JSON with schema = SchemaVersion. HTML
// escaping is off: commands such as "curl … | sh > /dev/null 2>&1 &" must
// read the same in the report as in the crontab.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(prepared(r))
}

// WriteJSONArray renders several reports as one JSON array, each element
// exactly as WriteJSON renders a single report.
func WriteJSONArray(w io.Writer, reports []*Report) error {
	docs := []json.RawMessage{}
	for _, r := range reports {
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			return err
		}
		docs = append(docs, b.Bytes())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(docs)
}
