package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
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
	r := scanJSON(t, "--rules", rules, img(t, "linux-infected.img"))
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

// LOKI's lists as signature-base publishes them, given with --ioc: a C2
// server named in a file's content is found (and one absent is not), and a
// Windows file-name regex (\\ separators, %APPDATA%) matches the NTFS file.
func TestLOKIIOCListsOnImages(t *testing.T) {
	dir := t.TempDir()
	c2 := filepath.Join(dir, "c2-iocs.txt")
	if err := os.WriteFile(c2, []byte("# LOKI C2 IOCs\n\n# Test campaign\n203.0.113.9\nnot-on-this-image.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fn := filepath.Join(dir, "filename-iocs.txt")
	if err := os.WriteFile(fn, []byte("# Startup batch dropper\n%APPDATA%\\\\Microsoft\\\\Windows\\\\Start Menu\\\\Programs\\\\startup\\\\update\\.bat;70\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	find := func(image string) map[string][]string {
		r := scanJSON(t, "--ioc", c2, "--ioc", fn, img(t, image))
		got := map[string][]string{}
		for _, f := range r.Findings {
			for _, m := range f.Matches {
				got[m.Rule] = append(got[m.Rule], f.Evidence.Path)
				for _, s := range m.Strings {
					got[m.Rule+" "+s.Data] = append(got[m.Rule+" "+s.Data], f.Evidence.Path)
				}
			}
		}
		return got
	}
	linux := find("linux-infected.img")
	if paths := linux["c2_ioc_0 203.0.113.9"]; len(paths) == 0 || !contains(paths, "/etc/cron.hourly/0") {
		t.Errorf("C2 203.0.113.9 found in %v, want /etc/cron.hourly/0 among them", paths)
	}
	for rule := range linux {
		if strings.Contains(rule, "not-on-this-image") {
			t.Errorf("absent C2 server matched: %s", rule)
		}
	}
	win := find("windows-infected.img")
	if paths := win["ioc.filename"]; !contains(paths, "/Users/alice/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/startup/update.bat") {
		t.Errorf("Windows file-name IOC matched %v", paths)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// On NTFS the owner is the file's owner SID from $Secure, named when it is
// a well-known one, on a volume Windows 10 formatted (../shared/external).
func TestYARAOwnerOnNTFS(t *testing.T) {
	raw := testimg.ExternalGunzip(t, "images/ntfs-samples/ntfs-si-vs-fn.raw.gz")
	rules := filepath.Join(t.TempDir(), "owner.yar")
	src := `rule system_owned { condition: owner == "NT AUTHORITY\\SYSTEM" and filename == "WPSettings.dat" }
rule user_owned { condition: owner matches /^S-1-5-21-[0-9-]+-1001$/ and filename == "test.txt" }
rule numeric_owner { condition: owner == "0" }
`
	if err := os.WriteFile(rules, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := scanJSON(t, "--rules", rules, raw)
	got := map[string][]string{}
	for _, f := range r.Findings {
		for _, m := range f.Matches {
			got[m.Rule] = append(got[m.Rule], f.Evidence.Path)
		}
	}
	if !contains(got["system_owned"], "/System Volume Information/WPSettings.dat") || !contains(got["user_owned"], "/test/test.txt") || len(got["numeric_owner"]) != 0 {
		t.Errorf("owner rules matched %v", got)
	}
}
