package suppress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/report"
)

func finding(rule, vol, p string, sev report.Severity) report.Finding {
	f := report.Finding{Rule: rule, Severity: sev, Technique: "T1053.003", Evidence: report.Evidence{Volume: vol, Path: p}}
	f.ID = report.FindingID(&f)
	return f
}

func sampleReport() *report.Report {
	r := &report.Report{Image: "/images/web-01.img", Findings: []report.Finding{
		finding("cron.download-exec", "web-01.img@1", "/etc/cron.d/miner", report.Critical),
		finding("cron.download-exec", "web-01.img@1", "/etc/cron.d/sub/deep", report.High),
		finding("ssh.authorized-key", "web-01.img@2", "/home/bob/.ssh/authorized_keys", report.Medium),
		finding("ssh.authorized-key", "web-01.img@2", "/root/.ssh/authorized_keys", report.Medium),
	}}
	report.Finalize(r)
	return r
}

func idOf(r *report.Report, p string) string {
	for _, f := range r.Findings {
		if f.Evidence.Path == p {
			return f.ID
		}
	}
	return ""
}

func TestApply(t *testing.T) {
	base := sampleReport()
	minerID := idOf(base, "/etc/cron.d/miner")
	day := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	for _, tc := range []struct {
		name string
		yaml string
		now  time.Time
		// paths of the findings that must be suppressed
		want     []string
		warnings int
	}{
		{"by id before expiry", "suppressions:\n  - id: " + minerID + "\n    reason: lab\n    expires: 2026-12-31\n",
			day("2026-12-31T23:59:59Z"), []string{"/etc/cron.d/miner"}, 0},
		{"by id on the day after expiry", "suppressions:\n  - id: " + minerID + "\n    reason: lab\n    expires: 2026-12-31\n",
			day("2027-01-01T00:00:00Z"), nil, 1},
		{"RFC 3339 expiry is exact", "- id: " + strings.ToLower(minerID) + "\n  reason: lab\n  expires: 2026-06-01T12:00:00Z\n",
			day("2026-06-01T11:59:59Z"), []string{"/etc/cron.d/miner"}, 0},
		{"RFC 3339 expiry passed", "- id: " + minerID + "\n  reason: lab\n  expires: 2026-06-01T12:00:00Z\n",
			day("2026-06-01T12:00:00Z"), nil, 1},
		{"no expiry", "- id: " + minerID + "\n  reason: lab\n", day("2099-01-01T00:00:00Z"), []string{"/etc/cron.d/miner"}, 0},
		{"rule and one-level glob", "- rule: cron.*\n  path: /etc/cron.d/*\n  reason: r\n",
			day("2026-01-01T00:00:00Z"), []string{"/etc/cron.d/miner"}, 0},
		{"double star crosses directories", "- rule: cron.download-exec\n  path: /etc/**\n  reason: r\n",
			day("2026-01-01T00:00:00Z"), []string{"/etc/cron.d/miner", "/etc/cron.d/sub/deep"}, 0},
		{"rule with path glob on home only", "- rule: ssh.authorized-key\n  path: home/*/.ssh/authorized_keys\n  reason: r\n",
			day("2026-01-01T00:00:00Z"), []string{"/home/bob/.ssh/authorized_keys"}, 0},
		{"volume glob", "- rule: ssh.*\n  volume: '*@2'\n  reason: r\n",
			day("2026-01-01T00:00:00Z"), []string{"/home/bob/.ssh/authorized_keys", "/root/.ssh/authorized_keys"}, 0},
		{"image glob that does not match", "- rule: ssh.*\n  image: db-*.img\n  reason: r\n",
			day("2026-01-01T00:00:00Z"), nil, 0},
		{"image glob that matches the base name", "- rule: ssh.*\n  image: web-*.img\n  path: /root/**\n  reason: r\n",
			day("2026-01-01T00:00:00Z"), []string{"/root/.ssh/authorized_keys"}, 0},
		{"id and rule must both hold", "- id: " + minerID + "\n  rule: ssh.authorized-key\n  reason: r\n",
			day("2026-01-01T00:00:00Z"), nil, 0},
		{"expired entry does not shadow a live one", "- rule: cron.*\n  reason: old\n  expires: 2020-01-01\n- id: " + minerID + "\n  reason: new\n",
			day("2026-01-01T00:00:00Z"), []string{"/etc/cron.d/miner"}, 1},
		{"empty file", "", day("2026-01-01T00:00:00Z"), nil, 0},
		{"comments only", "# nothing yet\n", day("2026-01-01T00:00:00Z"), nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(".snapscanignore", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			r := sampleReport()
			before := len(r.Findings)
			got := Apply(r, f, tc.now)
			var paths []string
			for _, s := range got {
				paths = append(paths, s.Finding.Evidence.Path)
				if s.Reason == "" || !strings.HasPrefix(s.Entry, ".snapscanignore:") {
					t.Errorf("suppressed %s without reason or entry: %+v", s.Finding.ID, s)
				}
			}
			if strings.Join(paths, ",") != strings.Join(tc.want, ",") {
				t.Errorf("suppressed %v, want %v", paths, tc.want)
			}
			if len(r.Findings)+len(got) != before || r.Stats.FindingsSuppressed != len(got) || len(r.Suppressed) != len(got) {
				t.Errorf("%d kept + %d suppressed != %d, stats %d, list %d", len(r.Findings), len(got), before, r.Stats.FindingsSuppressed, len(r.Suppressed))
			}
			total := 0
			for _, n := range r.Stats.BySeverity {
				total += n
			}
			if total != len(r.Findings) {
				t.Errorf("by-severity counts %d findings, report has %d", total, len(r.Findings))
			}
			for _, fd := range r.Findings {
				for _, p := range tc.want {
					if fd.Evidence.Path == p {
						t.Errorf("%s still in findings", p)
					}
				}
			}
			if w := f.Warnings(tc.now); len(w) != tc.warnings {
				t.Errorf("warnings %q, want %d", w, tc.warnings)
			} else if len(w) > 0 && !strings.Contains(w[0], "expired") {
				t.Errorf("warning %q does not say expired", w[0])
			}
		})
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"broken yaml", "suppressions:\n  - id: SNAP-000000000000\n   reason: bad indent\n", ".snapscanignore:1: did not find"},
		{"bad date", "suppressions:\n  - id: SNAP-000000000000\n    reason: r\n    expires: 31/12/2026\n", ".snapscanignore:4: expires \"31/12/2026\""},
		{"impossible date", "suppressions:\n  - id: SNAP-000000000000\n    reason: r\n    expires: 2026-02-30\n", ".snapscanignore:4:"},
		{"bad path glob", "suppressions:\n  - rule: cron.x\n    path: /etc/[cron\n    reason: r\n", ".snapscanignore:2: path glob"},
		{"bad rule glob", "suppressions:\n  - rule: 'cron.[x'\n    reason: r\n", ".snapscanignore:2: rule glob"},
		{"unknown field", "suppressions:\n  - id: SNAP-000000000000\n    reason: r\n    expire: 2026-01-01\n", ".snapscanignore:4: unknown field \"expire\""},
		{"no reason", "suppressions:\n  - id: SNAP-000000000000\n", ".snapscanignore:2: an entry needs a reason"},
		{"no id or rule", "suppressions:\n  - path: /etc/**\n    reason: r\n", ".snapscanignore:2: an entry needs an id or a rule"},
		{"bad id", "suppressions:\n  - id: SNAP-123\n    reason: r\n", ".snapscanignore:2: id \"SNAP-123\""},
		{"list value", "suppressions:\n  - id: [a, b]\n    reason: r\n", ".snapscanignore:2: \"id\" must be a single value"},
		{"wrong top key", "ignores:\n  - id: SNAP-000000000000\n", ".snapscanignore:1: unknown top-level key"},
		{"scalar document", "hello\n", ".snapscanignore:1: want a list"},
		{"duplicate key", "- id: SNAP-000000000000\n  reason: a\n  reason: b\n", ".snapscanignore:3: \"reason\" given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(".snapscanignore", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".snapscanignore")
	if err := os.WriteFile(p, []byte("suppressions:\n  - rule: hosts.*\n    reason: r\n    expires: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p+":4:") {
		t.Errorf("Load error %v, want %s:4:", err, p)
	}
	if _, err := Load(filepath.Join(dir, "absent")); err == nil {
		t.Error("a missing file loaded")
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestMatchSegs(t *testing.T) {
	deep := strings.Repeat("a/", 2000) + "b"
	for _, tc := range []struct {
		pat, path string
		want      bool
	}{
		{"**", "/x/y", true}, {"**", "/", true}, {"/etc/**", "/etc", true}, {"/etc/**", "/etcx/a", false},
		{"**/authorized_keys", "/home/bob/.ssh/authorized_keys", true}, {"**/authorized_keys", "/authorized_keys", true},
		{"/home/*/.ssh/*", "/home/bob/.ssh/authorized_keys", true}, {"/home/*/.ssh/*", "/home/bob/x/.ssh/k", false},
		{"/a/**/b/**/c", "/a/b/c", true}, {"/a/**/b/**/c", "/a/x/b/y/z/c", true}, {"/a/**/b/**/c", "/a/c", false},
		{"/etc/cron.?", "/etc/cron.d", true}, {"/etc/[ab]", "/etc/c", false},
		{strings.Repeat("**/a/", 40) + "c", deep, false}, // no exponential blow-up
		{strings.Repeat("**/a/", 40) + "b", deep, true},
	} {
		start := time.Now()
		if got := matchSegs(splitPath(tc.pat), splitPath(tc.path)); got != tc.want {
			t.Errorf("%.40q ~ %.40q = %v, want %v", tc.pat, tc.path, got, tc.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%.40q took %v", tc.pat, d)
		}
	}
}

// An ignore file written with ids of the earlier scheme (which hashed the
// image's file name) keeps suppressing the same findings, and says once,
// in one line per entry, which id to write instead.
func TestLegacyIDStillSuppressesWithMigrationNote(t *testing.T) {
	r := sampleReport()
	var target *report.Finding
	for i := range r.Findings {
		if r.Findings[i].Evidence.Path == "/etc/cron.d/miner" {
			target = &r.Findings[i]
		}
	}
	old := report.LegacyIDs(r, target)[0]
	if old == target.ID {
		t.Fatal("legacy and current ids are equal: nothing to migrate")
	}
	f, err := Parse("ignore.yaml", []byte("suppressions:\n  - id: "+old+"\n    reason: accepted\n"))
	if err != nil {
		t.Fatal(err)
	}
	newID := target.ID
	got := Apply(r, f, time.Now())
	if len(got) != 1 || got[0].Finding.ID != newID {
		t.Fatalf("suppressed %+v, want the finding %s", got, newID)
	}
	notes := f.Migrations()
	if len(notes) != 1 || !strings.Contains(notes[0], "ignore.yaml:2") || !strings.Contains(notes[0], newID) || strings.Contains(notes[0], "\n") {
		t.Errorf("migration notes %q", notes)
	}
	Apply(sampleReport(), f, time.Now())
	if again := f.Migrations(); len(again) != 0 {
		t.Errorf("note repeated: %q", again)
	}
}
