package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestWriteFormats(t *testing.T) {
	r := sampleReport()
	Finalize(r)
	for _, tc := range []struct {
		format  string
		wantErr bool
		check   func(string) bool
	}{
		{"table", false, func(s string) bool { return strings.HasPrefix(s, "snapscan 0.3.0") }},
		{"", false, func(s string) bool { return strings.HasPrefix(s, "snapscan 0.3.0") }},
		{"JSON", false, func(s string) bool { return json.Valid([]byte(s)) && strings.Contains(s, `"schema": "1.0"`) }},
		{"sarif", false, func(s string) bool { return json.Valid([]byte(s)) && strings.Contains(s, `"version": "2.1.0"`) }},
		{"jsonl", false, func(s string) bool {
			return json.Valid([]byte(s)) && strings.Count(s, "\n") == 1 && strings.HasSuffix(s, "}\n") && strings.Contains(s, `"schema":"1.0"`)
		}},
		{"xml", true, nil},
	} {
		var buf bytes.Buffer
		err := Write(&buf, r, tc.format, WriteOptions{})
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "table, json, sarif") {
				t.Errorf("format %q: error %v, want one listing the valid formats", tc.format, err)
			}
			continue
		}
		if err != nil || !tc.check(buf.String()) {
			t.Errorf("format %q: err %v, output starts %.80q", tc.format, err, buf.String())
		}
	}
}

// TestWriteDoesNotChangeReport: writers render, they never edit.
func TestWriteDoesNotChangeReport(t *testing.T) {
	r := sampleReport() // not finalized: no ids, nil lists
	r.Targets[0].Checks = nil
	var before bytes.Buffer
	if err := json.NewEncoder(&before).Encode(r); err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats {
		if err := Write(&bytes.Buffer{}, r, f, WriteOptions{Inventory: true}); err != nil {
			t.Fatal(err)
		}
	}
	var after bytes.Buffer
	if err := json.NewEncoder(&after).Encode(r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Errorf("Write changed the report: %s", firstDiff(before.Bytes(), after.Bytes()))
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errShort
	}
	return len(p), nil
}

var errShort = &json.UnsupportedValueError{Str: "disk full"}

func TestWriteReportsWriteErrors(t *testing.T) {
	r := sampleReport()
	Finalize(r)
	for _, f := range Formats {
		if err := Write(&failWriter{n: 100}, r, f, WriteOptions{}); err == nil {
			t.Errorf("format %s: a failing writer gave no error", f)
		}
	}
}
