package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/report"
)

// The YARA external 'owner' is the account name, from the image's own
// /etc/passwd, as LOKI and THOR define it, also for files on a volume the
// root mounts (/home on its own partition): a rule on owner == "bob"
// matches bob's file, and one on the numeric uid matches nothing.
func TestYARAOwnerIsTheAccountName(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "owner.yar")
	src := `rule owner_by_name { condition: owner == "bob" and filename == "authorized_keys" }
rule owner_by_number { condition: owner == "1001" }
rule owner_root { condition: owner == "root" and filename == "crontab" and filepath == "/etc" }
`
	if err := os.WriteFile(rules, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, "scan", "-f", "json", "--rules", rules, img(t, "linux-infected.img"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range r.Findings {
		for _, m := range f.Matches {
			got[m.Rule] = append(got[m.Rule], f.Evidence.Volume+" "+f.Evidence.Path)
		}
	}
	if want := "linux-infected.img@2 /home/bob/.ssh/authorized_keys"; len(got["owner_by_name"]) != 1 || got["owner_by_name"][0] != want {
		t.Errorf("owner == \"bob\" matched %v, want [%s]", got["owner_by_name"], want)
	}
	if len(got["owner_by_number"]) != 0 {
		t.Errorf("owner == \"1001\" matched %v: owner is a number, not the account name", got["owner_by_number"])
	}
	if len(got["owner_root"]) != 1 {
		t.Errorf("owner == \"root\" on /etc/crontab matched %v", got["owner_root"])
	}
}
