package report

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileReportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema))
	if err != nil {
		t.Fatalf("schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema.json does not compile: %v", err)
	}
	return sch
}

func validateJSON(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return sch.Validate(inst)
}

func TestJSONRoundTripAndSchema(t *testing.T) {
	sch := compileReportSchema(t)
	for _, tc := range []struct {
		name   string
		report func() *Report
	}{
		{"sample", sampleReport},
		{"hostile", hostileReport},
		{"empty", func() *Report { return &Report{} }},
		{"not finalized", func() *Report { r := sampleReport(); r.Findings[0].ID = "SNAP-000000000000"; return r }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.report()
			if tc.name != "not finalized" {
				Finalize(r)
			}
			var buf bytes.Buffer
			if err := WriteJSON(&buf, r); err != nil {
				t.Fatal(err)
			}
			if err := validateJSON(t, sch, buf.Bytes()); err != nil {
				t.Fatalf("output does not validate against schema.json: %v", err)
			}
			// Decoding and re-encoding gives the same JSON: nothing is lost
			// or changes type on the way through the model. (Bytes may differ
			// only in how U+FFFD is escaped.)
			var back Report
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := WriteJSON(&again, &back); err != nil {
				t.Fatal(err)
			}
			var first, second any
			if err := json.Unmarshal(buf.Bytes(), &first); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again.Bytes(), &second); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(first, second) {
				t.Errorf("round trip changed the JSON: %s", firstDiff(buf.Bytes(), again.Bytes()))
			}
			if len(back.Findings) != len(r.Findings) || (len(r.Findings) > 0 && !reflect.DeepEqual(back.Findings[0].Evidence.UID, r.Findings[0].Evidence.UID)) {
				t.Errorf("decoded findings differ from the report's")
			}
			if regexp.MustCompile(`:\s*null`).MatchString(buf.String()) {
				t.Errorf("JSON has a null (lists must be [] and counts present):\n%s", buf.String())
			}
		})
	}
}

func TestJSONEscaping(t *testing.T) {
	r := sampleReport()
	Finalize(r)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Shell syntax stays readable: no \u003e for '>' or \u0026 for '&'.
	if !strings.Contains(out, "| bash > /dev/null 2>&1 &") {
		t.Error("JSON escaped shell syntax as HTML")
	}
	if !strings.Contains(out, `"schema": "1.0"`) {
		t.Error("schema version missing")
	}
	// The raw ESC byte from the image is JSON-escaped, never written raw.
	if strings.Contains(out, "\x1b") || !strings.Contains(out, `\u001b[2J`) {
		t.Error("control bytes from the image are not escaped in JSON")
	}
}

// TestSchemaRejects proves the schema constrains what it documents: each
// broken report must fail validation.
func TestSchemaRejects(t *testing.T) {
	sch := compileReportSchema(t)
	base := func() map[string]any {
		r := sampleReport()
		Finalize(r)
		var buf bytes.Buffer
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	finding := func(m map[string]any) map[string]any { return m["findings"].([]any)[0].(map[string]any) }
	for _, tc := range []struct {
		name    string
		breakIt func(m map[string]any)
	}{
		{"unknown top-level field", func(m map[string]any) { m["extra"] = 1 }},
		{"wrong schema version", func(m map[string]any) { m["schema"] = "2.0" }},
		{"missing findings", func(m map[string]any) { delete(m, "findings") }},
		{"null errors", func(m map[string]any) { m["errors"] = nil }},
		{"unknown severity", func(m map[string]any) { finding(m)["severity"] = "severe" }},
		{"missing technique", func(m map[string]any) { delete(finding(m), "technique") }},
		{"bad technique", func(m map[string]any) { finding(m)["technique"] = "persistence" }},
		{"missing remediation", func(m map[string]any) { delete(finding(m), "remediation") }},
		{"bad sha256", func(m map[string]any) { finding(m)["evidence"].(map[string]any)["sha256"] = "xyz" }},
		{"bad time", func(m map[string]any) { finding(m)["evidence"].(map[string]any)["mtime"] = "yesterday" }},
		{"unscanned volume without reason", func(m map[string]any) {
			v := m["volumes"].([]any)[2].(map[string]any)
			delete(v, "reason")
		}},
		{"missing severity count", func(m map[string]any) {
			delete(m["stats"].(map[string]any)["findings_by_severity"].(map[string]any), "low")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.breakIt(m)
			data, _ := json.Marshal(m)
			if err := validateJSON(t, sch, data); err == nil {
				t.Error("schema accepted a broken report")
			}
		})
	}
}

// TestSchemaDocumented checks that every JSON field of the model appears in
// schema.json and in docs/report-schema.md, so neither falls behind.
func TestSchemaDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/report-schema.md")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	collectJSONFields(reflect.TypeOf(Report{}), fields, map[reflect.Type]bool{})
	if len(fields) < 60 {
		t.Fatalf("found only %d fields: reflection walk is broken", len(fields))
	}
	for f := range fields {
		if !bytes.Contains(JSONSchema, []byte(`"`+f+`"`)) {
			t.Errorf("field %q is not in schema.json", f)
		}
		if !regexp.MustCompile("`" + regexp.QuoteMeta(f) + "`").Match(doc) {
			t.Errorf("field %q is not described in docs/report-schema.md", f)
		}
	}
}

func collectJSONFields(typ reflect.Type, out map[string]bool, seen map[reflect.Type]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeOf(Report{}).PkgPath() {
		return
	}
	seen[typ] = true
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = true
		collectJSONFields(f.Type, out, seen)
	}
}

// TestJSONArrayOneShape: what scan -f json writes, an array of reports,
// validates against schema.json's "reports" definition for 0, 1 and 2
// images, and a report with recovery state, hives and interrupted set
// validates as a report.
func TestJSONArrayOneShape(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	arr, err := c.Compile("schema.json#/$defs/reports")
	if err != nil {
		t.Fatal(err)
	}
	full := sampleReport()
	Finalize(full)
	full.Interrupted = true
	full.Volumes[0].Recovery = &Recovery{State: RecoveryReplayed, Transactions: 3, Blocks: 12}
	full.Targets = append(full.Targets, Target{OS: "windows", Volume: "w.img", Checks: []string{}, Hives: []HiveState{
		{Path: "/Windows/System32/config/SYSTEM", Recovery: Recovery{State: RecoveryDirty, Reason: "no transaction log"}}}})
	for n, reports := range [][]*Report{{}, {full}, {full, full}} {
		var b bytes.Buffer
		if err := WriteJSONArray(&b, reports); err != nil {
			t.Fatal(err)
		}
		if err := validateJSON(t, arr, b.Bytes()); err != nil {
			t.Errorf("%d reports: %v", n, err)
		}
	}
	bad := []byte(`[{"schema":"1.0"}]`)
	if err := validateJSON(t, arr, bad); err == nil {
		t.Error("reports schema accepted an incomplete report")
	}
	wrong := *full
	wrong.Volumes = append([]Volume(nil), full.Volumes...)
	wrong.Volumes[0].Recovery = &Recovery{State: "half-done"}
	var b bytes.Buffer
	WriteJSON(&b, &wrong)
	if err := validateJSON(t, compileReportSchema(t), b.Bytes()); err == nil {
		t.Error("schema accepted an unknown recovery state")
	}
}
