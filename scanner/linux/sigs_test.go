package linux

import (
	"testing"
)

// TestSignatureData checks the embedded data the checks judge by: it loads,
// every technique it names has a name, every marker kind is one a check
// consumes, and every location role is one a check reads.
func TestSignatureData(t *testing.T) {
	s, err := loadSigs()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{"unit": true, "command": true, "path": true, "preload-lib": true, "user": true, "ssh-comment": true, "twin-suffix": true}
	families := map[string]bool{}
	for _, m := range s.markers {
		if !kinds[m.Kind] {
			t.Errorf("families.txt: %s marker %q has unknown kind %q", m.Family, m.Pattern, m.Kind)
		}
		if s.techniques[m.Technique] == "" {
			t.Errorf("families.txt: technique %s has no name in techniques.txt", m.Technique)
		}
		families[m.Family] = true
	}
	// Every family of threats.md has markers.
	for _, f := range []string{"AliyunDuns", "Skidmap", "Cleanfda", "Outlaw", "Kinsing", "xorddos", "Sysrv-hello"} {
		if !families[f] {
			t.Errorf("no markers for family %s", f)
		}
	}
	for _, r := range s.commands {
		if s.techniques[r.Technique] == "" {
			t.Errorf("commands.txt: %s technique %s has no name", r.Rule, r.Technique)
		}
	}
	for _, tech := range []string{"T1053.003", "T1543.002", "T1037.004", "T1574.006", "T1098.004", "T1136.001", "T1078.003", "T1222.002", "T1036.005", "T1496.001", "T1562.001", "T1562.004"} {
		if s.techniques[tech] == "" {
			t.Errorf("technique %s used by the checks has no name", tech)
		}
	}
	roles := map[string]bool{}
	for _, r := range []string{
		"cron;system-crontab", "cron;anacrontab", "cron;system-crontab-dir", "cron;script-dir", "cron;user-crontab-dir",
		"systemd;unit-dir", "rc;script", "rc;inittab", "rc;script-dir", "rc;link-dir", "preload;file", "preload;lib-dir",
		"sshkeys;keys-file", "sshkeys;sshd-config", "accounts;passwd", "accounts;shadow", "accounts;group", "accounts;login-defs",
		"accounts;log", "accounts;install-marker", "accounts;nologin-shell", "accounts;system-shell-ok", "immutable;path",
		"binaries;dir", "binaries;command", "binaries;twin-suffix", "hosts;file", "firewall;iptables", "firewall;nft",
		"miner;dir", "miner;config-name", "miner;binary-name",
		"shellrc;system", "shellrc;system-dir", "shellrc;home", "follow;system-dir",
		"autostart;at-dir", "autostart;pam-dir", "autostart;pam-file", "autostart;pam-module-dir", "autostart;udev-dir",
		"autostart;xdg-dir", "autostart;motd-dir", "autostart;redis-conf", "autostart;redis-module-dir", "autostart;redis-bad-dir",
	} {
		roles[r] = true
	}
	for k := range s.locations {
		if !roles[k] {
			t.Errorf("locations.txt: role %q is read by no check", k)
		}
	}
	if len(s.pools) < 10 || !s.ports["3333"] || s.poolFor("xmr-eu1.nanopool.org") != "nanopool.org" || s.poolFor("notnanopool.org") != "" {
		t.Errorf("pool data: %d pools, ports %v", len(s.pools), s.ports)
	}
}

func TestChecksRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if c.OS() != "linux" || c.Name() == "" || seen[c.Name()] {
			t.Errorf("check %T: name %q os %q", c, c.Name(), c.OS())
		}
		seen[c.Name()] = true
	}
	if len(seen) != 29 {
		t.Errorf("%d checks registered", len(seen))
	}
}
