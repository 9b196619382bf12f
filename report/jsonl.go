package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSONL writes r as one line of compact JSON (the same document as
// WriteJSON, without indentation) followed by a newline. A batch writes one
// line per image, so that a consumer can stream a scan of thousands of
// images and `snapscan merge` can join the shards of an Indexed Job.
func WriteJSONL(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(prepared(r))
}

// MaxRecord bounds one JSON document ReadReports accepts; a report of a
// large image with --inventory is a few MiB.
const MaxRecord = 256 << 20

// ReadReports reads snapscan JSON reports from rd: one report (WriteJSON),
// a JSON array of reports (scan --format json of several images), or one
// report per line (WriteJSONL), in any mix. A document that is not a
// snapscan report (no "schema", or another major version) is an error
// naming the record, so that a SARIF file given by mistake is refused
// rather than read as an empty report.
func ReadReports(rd io.Reader) ([]*Report, error) {
	dec := json.NewDecoder(io.LimitReader(rd, 1<<40))
	var out []*Report
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("record %d: %w", n, err)
		}
		if len(raw) > MaxRecord {
			return out, fmt.Errorf("record %d: %d bytes, more than %d", n, len(raw), MaxRecord)
		}
		var docs []json.RawMessage
		isArray := bytes.HasPrefix(bytes.TrimSpace(raw), []byte("["))
		if isArray {
			if err := json.Unmarshal(raw, &docs); err != nil {
				return out, fmt.Errorf("record %d: %w", n, err)
			}
		} else {
			docs = []json.RawMessage{raw}
		}
		for i, d := range docs {
			r := new(Report)
			where := fmt.Sprintf("record %d", n)
			if isArray {
				where = fmt.Sprintf("record %d, element %d", n, i+1)
			}
			if err := json.Unmarshal(d, r); err != nil {
				return out, fmt.Errorf("%s: %w", where, err)
			}
			if major, _, _ := strings.Cut(r.Schema, "."); r.Schema == "" || major != strings.Split(SchemaVersion, ".")[0] {
				return out, fmt.Errorf("%s: not a snapscan %s report (schema %q)", where, SchemaVersion, r.Schema)
			}
			out = append(out, r)
		}
	}
}
