package signatures

import (
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
