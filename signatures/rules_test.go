package signatures

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
)

func TestRuleCatalogue(t *testing.T) {
	if _, err := loadRules(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id        string
		sev       report.Severity
		technique string
		short     string
	}{
		{"accounts.created-in-log", report.Medium, "T1136.001", "Account creation recorded in the system logs"},
		{"cron.download-exec", report.High, "T1105", "Cron job downloads code and runs it"},
		{"runkey.miner", report.Critical, "T1496.001", "Registry Run key runs a cryptominer"},
		{"systemd.miner", report.High, "T1496.001", "systemd unit runs a cryptominer"},
		{"ioc.filename", report.Medium, "T1496.001", "File name on an IOC list"},
	} {
		ri, ok := report.DescribeRule(tc.id)
		if !ok || ri.Severity != tc.sev || ri.Technique != tc.technique || ri.Short != tc.short || ri.Help == "" || ri.Full == "" || ri.Name == "" {
			t.Errorf("%s: %+v %v, want %s %s %q", tc.id, ri, ok, tc.sev, tc.technique, tc.short)
		}
	}
	if ri, _ := report.DescribeRule("cron.download-exec"); !strings.Contains(ri.Help, "crontab") || len(ri.Tags) != 1 || ri.Tags[0] != "T1053.003" {
		t.Errorf("composed rule lacks the place's steps or technique: %+v", ri)
	}
	for _, id := range []string{"cron", "nowhere.download-exec", "cron.nothing", "accounts.*"} {
		if ri, ok := report.DescribeRule(id); ok && id != "accounts.*" {
			t.Errorf("%s described: %+v", id, ri)
		}
	}
}

// Every rule id the checks can emit is in the catalogue: the literal ids in
// their code, and each place joined with each judgement of their data.
func TestRuleCatalogueCoversEveryRule(t *testing.T) {
	var ids []string
	lit := regexp.MustCompile(`Rule:\s*"([a-z0-9]+\.[a-z0-9-]+)"`)
	for _, dir := range []string{"../scanner/linux", "../scanner/windows", "../scanner/sweep"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
				ids = append(ids, m[1])
			}
		}
	}
	if len(ids) < 20 {
		t.Fatalf("only %d literal rule ids found in the checks: the scan of their code is broken", len(ids))
	}
	field := func(list string, i int) []string {
		entries, err := List(list)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Field(i))
		}
		return out
	}
	linuxWhat := append(field("linux/commands.txt", 0), "miner-pool", "family-marker")
	for _, place := range []string{"cron", "systemd", "rc", "ssh", "at", "kmod", "motd", "pam", "shellrc", "sshd", "udev", "xdg"} {
		for _, w := range linuxWhat {
			ids = append(ids, place+"."+w)
		}
	}
	var winWhat []string
	winWhat = append(winWhat, field("windows/lolbins.txt", 2)...)
	winWhat = append(winWhat, field("windows/markers.txt", 2)...)
	winWhat = append(winWhat, field("windows/encoded.txt", 3)...)
	winWhat = append(winWhat, field("windows/startup-files.txt", 2)...)
	winWhat = append(winWhat, "odd-place", "masquerade", "non-default", "miner-pool")
	for _, place := range []string{"runkey", "service", "task", "startup", "winlogon"} {
		for _, w := range winWhat {
			if w != "" && w != "startup" && w != "ignore" {
				ids = append(ids, place+"."+w)
			}
		}
	}
	for _, w := range field("windows/hosts.txt", 1) {
		ids = append(ids, "hosts."+w)
	}
	for _, list := range checkRuleFiles {
		if _, err := List(list); err == nil {
			ids = append(ids, field(list, 0)...)
		}
	}
	for _, id := range ids {
		ri, ok := report.DescribeRule(id)
		if !ok || ri.Short == "" || ri.Full == "" || ri.Help == "" || ri.Technique == "" {
			t.Errorf("rule %s is not described in rules/rules.txt: %+v", id, ri)
		}
	}
}
