package suppress

import (
	"testing"
	"time"

	"github.com/snapscan/snapscan/report"
)

// FuzzParse: any file content gives entries or an error naming the file,
// never a panic, and applying what parsed never panics either.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"suppressions:\n  - id: SNAP-0123456789ab\n    reason: r\n    expires: 2026-12-31\n",
		"- rule: 'cron.*'\n  path: /etc/**/x*\n  reason: r\n",
		"suppressions: [{rule: a, reason: b, path: '**/**/[a-]'}]\n",
		"&a [*a]", "suppressions:\n  - !!binary aGVsbG8=\n", "- id: SNAPé\n  reason: r\n",
	} {
		f.Add([]byte(s))
	}
	r := &report.Report{Image: "i.img", Findings: []report.Finding{{Rule: "cron.x", Evidence: report.Evidence{Volume: "i.img@1", Path: "/etc/a/b/xyz"}}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f.yaml", data)
		if err != nil {
			if len(err.Error()) < len("f.yaml") || err.Error()[:6] != "f.yaml" {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		rr := *r
		rr.Findings = append([]report.Finding(nil), r.Findings...)
		Apply(&rr, file, time.Unix(0, 0))
		file.Warnings(time.Now())
	})
}
