package baseline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
)

func f(rule, p string, line int, sev report.Severity) report.Finding {
	return report.Finding{Rule: rule, Severity: sev, Technique: "T1053.003", Evidence: report.Evidence{Volume: "g.img@1", Path: p, Line: line}}
}

func rep(fs ...report.Finding) *report.Report {
	r := &report.Report{Tool: "snapscan", Image: "g.img", Findings: fs}
	report.Finalize(r)
	return r
}

func write(t *testing.T, name string, fn func(*bytes.Buffer)) string {
	var b bytes.Buffer
	fn(&b)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewKeepsOnlyNewFindings(t *testing.T) {
	old := rep(f("cron.download-exec", "/etc/crontab", 3, report.Critical), f("hosts.pool", "/etc/hosts", 7, report.Medium))
	old.Suppressed = []report.SuppressedFinding{{Finding: f("ssh.authorized-key", "/root/.ssh/authorized_keys", 1, report.Medium), Reason: "r"}}
	old.Suppressed[0].Finding.ID = report.FindingID(&old.Suppressed[0].Finding)

	jsonFile := write(t, "base.json", func(b *bytes.Buffer) { report.WriteJSON(b, old) })
	jsonlFile := write(t, "base.jsonl", func(b *bytes.Buffer) {
		report.WriteJSONL(b, rep())
		report.WriteJSONL(b, old)
	})
	arrayFile := write(t, "base-array.json", func(b *bytes.Buffer) {
		b.WriteString("[")
		report.WriteJSON(b, old)
		b.WriteString(",")
		report.WriteJSON(b, rep())
		b.WriteString("]")
	})
	for _, path := range []string{jsonFile, jsonlFile, arrayFile} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			base, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			cur := rep(
				f("cron.download-exec", "/etc/crontab", 3, report.Critical),             // known
				f("cron.download-exec", "/etc/crontab", 4, report.Critical),             // same file, new line: new
				f("ssh.authorized-key", "/root/.ssh/authorized_keys", 1, report.Medium), // suppressed in the baseline: known
				f("preload.library", "/etc/ld.so.preload", 1, report.High),              // new
			)
			dropped := New(cur, base)
			var got []string
			for _, x := range cur.Findings {
				got = append(got, x.Evidence.Path+":"+string(rune('0'+x.Evidence.Line)))
			}
			if dropped != 2 || cur.Stats.FindingsInBaseline != 2 || strings.Join(got, ",") != "/etc/crontab:4,/etc/ld.so.preload:1" {
				t.Errorf("dropped %d (stats %d), kept %v", dropped, cur.Stats.FindingsInBaseline, got)
			}
			if cur.Stats.BySeverity["critical"] != 1 || cur.Stats.BySeverity["high"] != 1 || cur.Stats.BySeverity["medium"] != 0 {
				t.Errorf("by severity %v", cur.Stats.BySeverity)
			}
		})
	}
}

func TestLoadRefusesWhatIsNotAReport(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"sarif", `{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[]}`, "not a snapscan"},
		{"empty", "", "no report"},
		{"truncated", `{"schema":"1.0","findings":[`, "record 1"},
		{"second line broken", "{\"schema\":\"1.0\"}\n{\"schema\":", "record 2"},
		{"future major", `{"schema":"2.0"}`, "not a snapscan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, "b.json", func(b *bytes.Buffer) { b.WriteString(tc.content) })
			if _, err := Load(p); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %v, want %q and the path", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing baseline loaded")
	}
}

func TestNilBaselineKeepsAll(t *testing.T) {
	r := rep(f("a.b", "/x", 1, report.High))
	if New(r, nil) != 0 || len(r.Findings) != 1 {
		t.Error("nil baseline dropped findings")
	}
}

// Two images with the same base name share finding ids; the baseline
// report of the same path decides for its image.
func TestSameBaseNameInTwoFolders(t *testing.T) {
	a := rep(f("cron.download-exec", "/etc/crontab", 3, report.Critical))
	a.Image = "/site-a/g.img"
	b := rep()
	b.Image = "/site-b/g.img"
	base := FromReports(a, b)
	for _, tc := range []struct {
		image string
		kept  int
	}{{"/site-a/g.img", 0}, {"/site-b/g.img", 1}, {"/elsewhere/g.img", 0}} {
		cur := rep(f("cron.download-exec", "/etc/crontab", 3, report.Critical))
		cur.Image = tc.image
		New(cur, base)
		if len(cur.Findings) != tc.kept {
			t.Errorf("%s: kept %d, want %d", tc.image, len(cur.Findings), tc.kept)
		}
	}
}
