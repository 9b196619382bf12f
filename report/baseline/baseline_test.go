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

// A baseline written before ids named volume identities (its ids hash the
// image's file name, and a file under /home was named by the root volume)
// still recognises the same findings in a scan of the renamed image.
func TestOldBaselineStillWorks(t *testing.T) {
	legacy := func(r *report.Report) *report.Report {
		for i := range r.Findings {
			r.Findings[i].ID = report.LegacyIDs(r, &r.Findings[i])[0]
		}
		return r
	}
	vols := func(img string) []report.Volume {
		return []report.Volume{{Name: img + "@1", UUID: "ROOT-UUID"}, {Name: img + "@2", UUID: "HOME-UUID"}}
	}
	// Renamed image: the baseline's evidence gives the new ids.
	old := legacy(&report.Report{Image: "/ci/build41/golden.img", Volumes: vols("golden.img"), Findings: []report.Finding{
		f("cron.download-exec", "/etc/crontab", 3, report.Critical)}})
	old.Findings[0].Evidence.Volume = "golden.img@1"
	base := FromReports(old)
	cur := &report.Report{Image: "/ci/build42/golden-build42.img", Volumes: vols("golden-build42.img"), Findings: []report.Finding{
		f("cron.download-exec", "/etc/crontab", 3, report.Critical)}}
	cur.Findings[0].Evidence.Volume = "golden-build42.img@1"
	report.Finalize(cur)
	if n := New(cur, base); n != 1 || len(cur.Findings) != 0 {
		t.Errorf("renamed image: %d known, left %+v", n, cur.Findings)
	}

	// Same image, a file under the /home mount: the old scan named it on
	// the root volume; now it is on @2. The old id is still known.
	mounted := func(vol string) *report.Report {
		r := &report.Report{Image: "g.img", Volumes: vols("g.img"),
			Targets:  []report.Target{{OS: "linux", Volume: "g.img@1", Mounts: map[string]string{"/home": "g.img@2"}}},
			Findings: []report.Finding{f("ssh.family-key", "/home/bob/.ssh/authorized_keys", 1, report.Critical)}}
		r.Findings[0].Evidence.Volume = vol
		return r
	}
	base = FromReports(legacy(mounted("g.img@1")))
	cur = mounted("g.img@2")
	cur.Findings[0].Evidence.VolumePath = "/bob/.ssh/authorized_keys"
	report.Finalize(cur)
	if n := New(cur, base); n != 1 {
		t.Errorf("mounted file: %d known, left %+v", n, cur.Findings)
	}
	// And a really new finding is still new.
	cur = mounted("g.img@2")
	cur.Findings[0].Evidence.Path = "/home/eve/.ssh/authorized_keys"
	report.Finalize(cur)
	if n := New(cur, base); n != 0 {
		t.Errorf("new finding taken as known")
	}
}
