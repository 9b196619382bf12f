package testimg

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// These tests run testdata/images/make.sh itself on a scratch table and tree, to prove the .attrs/.pre.sh contract
// other helpers write against: every directive lands in the image as documented, a split tree honours its mount
// point, a bad line stops the build with its file and line, and two builds give the same bytes.

func needMakeSh(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds images with make.sh: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: make.sh uses mknod, chown and an ntfs-3g mount")
	}
	for _, tool := range []string{"mke2fs", "debugfs", "e2fsck", "sgdisk", "sfdisk", "mkntfs", "ntfs-3g", "mkfs.vfat", "mcopy", "mkswap", "qemu-img", "setfattr"} {
		needTool(t, tool)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("ntfs-3g needs FUSE: %v", err)
	}
	if m, _ := filepath.Glob("/usr/lib/*/faketime/libfaketimeMT.so.1"); len(m) == 0 {
		t.Skip("libfaketime not installed (apt-get install faketime)")
	}
	return filepath.Join(RepoRoot(t), ImagesDir, "make.sh")
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scratch lays out a tree "sys" with a home/ to split off, its hook and attrs, and a table using it.
func scratch(t *testing.T, attrs string) (dir string) {
	dir = t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "sys/etc/fstab"), "LABEL=root / ext4 defaults 0 1\nLABEL=home /home ext4 defaults 0 2\n")
	write(t, filepath.Join(src, "sys/etc/ld.so.preload"), "/usr/local/lib/libprocesshider.so\n")
	write(t, filepath.Join(src, "sys/home/alice/.ssh/authorized_keys"), "ssh-ed25519 AAAAC3Nza alice@example\n")
	write(t, filepath.Join(src, "sys.pre.sh"), "printf 'made by the hook\\n' > \"$1/etc/from-hook\"\nchmod 0700 \"$1/etc/from-hook\"\n")
	write(t, filepath.Join(src, "sys.attrs"), attrs)
	write(t, filepath.Join(dir, "images.conf"), strings.Join([]string{
		"# IMAGE TABLE P TYPE PNAME FS LABEL SIZE SOURCE OPTS",
		"split.img gpt 1 8300 root ext4 root auto sys:!home bs=4096",
		"split.img gpt 2 8300 home ext4 home 8M sys:home -",
		"win.img none - - - ntfs Win 4M sys -",
		"split.qcow2 qemu - - - qcow2 - - split.img -",
		"absent.img none - - - ext4 x auto not-written-yet -",
	}, "\n")+"\n")
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func makeSh(t *testing.T, script, dir string) (stderr string, err error) {
	t.Helper()
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "TESTIMG_CONF="+filepath.Join(dir, "images.conf"),
		"TESTIMG_SRC="+filepath.Join(dir, "src"), "TESTIMG_OUT="+filepath.Join(dir, "out"), "KEEP=1")
	var e bytes.Buffer
	cmd.Stderr = &e
	err = cmd.Run()
	return e.String(), err
}

const goodAttrs = `# every directive once
mkdir var/empty
mknod dev/null c 1 3
mknod dev/sda b 8 0
mknod run/fifo p
symlink etc/abs /etc/fstab
symlink home/alice/link\ with\ space ../../etc/fstab
hardlink etc/preload-hardlink etc/ld.so.preload
etc/ld.so.preload 0 0 0644 immutable
/home/alice 1000 1000 0700
/home/alice/.ssh/authorized_keys 1000 1000 0600 append-only,nodump
/home 0 0 0751
dev/sda - 6 0660
etc/fstab 123456 - -
mtime /home/alice/.ssh/authorized_keys 1234567890
crtime etc/fstab 1000000000
mtime etc/fstab 4102444800
`

// stat runs debugfs stat on a path inside an ext4 filesystem image.
func stat(t *testing.T, img, path string) string {
	t.Helper()
	return string(output(t, "debugfs", "-R", `stat "`+path+`"`, img))
}

func TestMakeShAppliesAttrs(t *testing.T) {
	script := needMakeSh(t)
	dir := scratch(t, goodAttrs)
	stderr, err := makeSh(t, script, dir)
	if err != nil {
		t.Fatalf("make.sh: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "SKIP absent.img") {
		t.Errorf("a table row whose tree is absent was not reported as skipped:\n%s", stderr)
	}
	parts := filepath.Join(dir, "out", "out", "parts")
	root, home := filepath.Join(parts, "split.img.p1"), filepath.Join(parts, "split.img.p2")
	cases := []struct {
		img, path string
		want      []string // regular expressions over debugfs stat output
	}{
		{root, "/etc/ld.so.preload", []string{`Type: regular +Mode: +0644 +Flags: 0x80010\b`, `Links: 2\b`}},
		{root, "/etc/preload-hardlink", []string{`Links: 2\b`}},
		{root, "/etc/from-hook", []string{`Mode: +0700`}},
		{root, "/etc/fstab", []string{`User: 123456 +Group: +0`, `mtime: 0xf4865700:00000001`, `crtime: 0x3b9aca00:`}},
		{root, "/etc/abs", []string{`Type: symlink`, `Fast link dest: "/etc/fstab"`}},
		{root, "/dev/null", []string{`Type: character special +Mode: +0644`, `Device major/minor number: 01:03`}},
		{root, "/dev/sda", []string{`Type: block special +Mode: +0660`, `Group: +6\b`}},
		{root, "/run/fifo", []string{`Type: FIFO`}},
		{root, "/var/empty", []string{`Type: directory`}},
		{root, "/home", []string{`Type: directory +Mode: +0755`}}, // the mount point keeps its staged mode
		{root, "/etc", []string{`mtime: 0x6553f100:`, `ctime: 0x6553f100:`}},
		{home, "/", []string{`Type: directory +Mode: +0751`}},
		{home, "/alice", []string{`User: +1000 +Group: +1000`, `Mode: +0700`}},
		{home, "/alice/.ssh/authorized_keys", []string{`Mode: +0600 +Flags: 0x80060\b`, `mtime: 0x499602d2:`}},
		{home, "/alice/link with space", []string{`Type: symlink`, `Fast link dest: "../../etc/fstab"`}},
	}
	for _, tc := range cases {
		got := stat(t, tc.img, tc.path)
		for _, w := range tc.want {
			if !regexp.MustCompile(w).MatchString(got) {
				t.Errorf("%s %s: want /%s/ in\n%s", filepath.Base(tc.img), tc.path, w, got)
			}
		}
	}
	if got := stat(t, home, "/alice/.ssh"); !strings.Contains(got, "Type: directory") {
		t.Errorf("home filesystem lacks alice/.ssh:\n%s", got)
	}
	if out, err := exec.Command("debugfs", "-R", "stat /alice", root).CombinedOutput(); err == nil && !bytes.Contains(out, []byte("not found")) {
		t.Errorf("the root filesystem holds /alice although home/ was split off:\n%s", out)
	}

	// NTFS: content through the ntfs-3g mount, $STANDARD_INFORMATION times from the attrs, owners ignored.
	win := filepath.Join(dir, "out", "out", "win.img") // a bare image is its only filesystem
	ntfsCases := []struct {
		args []string
		want string
	}{
		{[]string{"ntfscat", win, "/etc/from-hook"}, "made by the hook\n"},
		{[]string{"ntfsls", "-p", "/home/alice", win}, "link with space"},
		{[]string{"ntfsls", "-p", "/dev", win}, "sda"},
		{[]string{"ntfsinfo", "-F", "/etc/fstab", win}, "File Creation Time:\t Sun Sep  9 01:46:40 2001 UTC"},
		{[]string{"ntfsinfo", "-F", "/etc/fstab", win}, "File Altered Time:\t Fri Jan  1 00:00:00 2100 UTC"},
		{[]string{"ntfsinfo", "-F", "/home/alice/.ssh/authorized_keys", win}, "File Altered Time:\t Fri Feb 13 23:31:30 2009 UTC"},
	}
	for _, tc := range ntfsCases {
		if got := string(output(t, tc.args[0], tc.args[1:]...)); !strings.Contains(got, tc.want) {
			t.Errorf("%s: want %q in\n%s", strings.Join(tc.args, " "), tc.want, got)
		}
	}

	sums, err := readSums(filepath.Join(dir, "out", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"split.img", "win.img", "split.qcow2"} {
		if sums[n] == "" {
			t.Errorf("SHA256SUMS lacks %s: %v", n, sums)
		}
	}

	// Same input, same bytes: the committed images must not churn on every rebuild.
	first, _ := os.ReadFile(filepath.Join(dir, "out", "SHA256SUMS"))
	if stderr, err := makeSh(t, script, dir); err != nil {
		t.Fatalf("second make.sh: %v\n%s", err, stderr)
	}
	second, _ := os.ReadFile(filepath.Join(dir, "out", "SHA256SUMS"))
	if !bytes.Equal(first, second) {
		t.Errorf("two builds differ:\n%s\n%s", first, second)
	}
}

func TestMakeShRejectsBadAttrs(t *testing.T) {
	script := needMakeSh(t)
	cases := []struct{ name, line, want string }{
		{"missing path", "etc/nope 0 0 0644", "sys.attrs:2: no such path in the tree: etc/nope"},
		{"bad mode", "etc/fstab 0 0 0999", "sys.attrs:2: MODE must be octal"},
		{"unknown flag", "etc/fstab 0 0 0644 sticky", "sys.attrs:2: unknown flag sticky"},
		{"mknod without numbers", "mknod dev/x c", "sys.attrs:2: mknod c|b needs MAJOR MINOR"},
		{"hardlink to nothing", "hardlink etc/h etc/none", "sys.attrs:2: hardlink target etc/none does not exist"},
		{"bad time", "mtime etc/fstab yesterday", "sys.attrs:2: mtime PATH UNIXSECONDS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := scratch(t, "# line 1\n"+tc.line+"\n")
			stderr, err := makeSh(t, script, dir)
			if err == nil {
				t.Fatalf("make.sh accepted %q", tc.line)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("make.sh error does not say %q:\n%s", tc.want, stderr)
			}
		})
	}
}
