package linux

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/sweep"
	"github.com/snapscan/snapscan/scanner/sweep/hook"
)

// sweepPackages runs the real content sweep (no YARA rules: the hook is
// what is tested) over root with the package hook, as cmd/snapscan wires it.
func sweepPackages(t *testing.T, root string, skip bool) *sweep.Result {
	t.Helper()
	fsys, err := dirfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ph := NewPackageHook(fsys, "test@1", "/")
	if ph == nil {
		t.Fatal("no dpkg database found")
	}
	res, err := sweep.Run(context.Background(), fsys, sweep.Options{Volume: "test@1", MountPoint: "/", Hooks: []hook.Hook{ph}, SkipVerified: skip, MaxFileSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func md5hex(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }

const elfHead = "\x7fELF\x02\x01\x01\x00"

// TestPackageRules plants one case per rule in a small dpkg root, each next
// to its benign twin, and checks severities through the real sweep.
func TestPackageRules(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"usr/bin/top":   elfHead + "procps top",
		"usr/bin/ps":    elfHead + "procps ps",
		"usr/bin/which": "#!/bin/sh\necho which\n",
		"usr/lib/x86_64-linux-gnu/security/pam_unix.so": elfHead + "pam_unix",
		"usr/lib/x86_64-linux-gnu/libc.so.6":            elfHead + "libc",
		"usr/lib/x86_64-linux-gnu/libz.so.1":            elfHead + "zlib",
		"usr/share/doc/procps/README":                   "docs\n",
		"usr/share/doc/procps/gone":                     "gone\n",
		"etc/procps.conf":                               "a=1\n",
		"etc/other.conf":                                "b=1\n",
		"usr/bin/xmrig":                                 elfHead + "xmrig",
	}
	pkgOf := func(p string) string {
		switch {
		case strings.Contains(p, "pam"):
			return "libpam-modules"
		case strings.Contains(p, "libc") || strings.Contains(p, "libz"):
			return "libc6"
		case strings.Contains(p, "xmrig"):
			return "xmrig"
		}
		return "procps"
	}
	sums := map[string]*strings.Builder{}
	lists := map[string]*strings.Builder{}
	for p, c := range files {
		if strings.HasPrefix(p, "etc/") {
			continue
		}
		pk := pkgOf(p)
		if sums[pk] == nil {
			sums[pk], lists[pk] = &strings.Builder{}, &strings.Builder{}
		}
		fmt.Fprintf(sums[pk], "%s  %s\n", md5hex(c), p)
		fmt.Fprintf(lists[pk], "/%s\n", p)
	}
	status := fmt.Sprintf(`Package: procps
Status: install ok installed
Version: 2:4.0.2-3
Architecture: amd64
Conffiles:
 /etc/procps.conf %s
 /etc/other.conf %s

Package: libpam-modules
Status: install ok installed
Multi-Arch: same
Version: 1.5.2-6
Architecture: amd64

Package: libc6
Status: install ok installed
Version: 2.36-9
Architecture: amd64

Package: xmrig
Status: install ok installed
Version: 6.18.1
Architecture: amd64
`, md5hex(files["etc/procps.conf"]), md5hex(files["etc/other.conf"]))
	write := func(p, c string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, c := range files {
		write(p, c)
	}
	write("var/lib/dpkg/status", status)
	for pk, b := range sums {
		name := pk
		if pk == "libpam-modules" {
			name += ":amd64"
		}
		extra := ""
		if pk == "procps" {
			extra = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz  usr/bin/bad-digest-line\n"
		}
		write("var/lib/dpkg/info/"+name+".md5sums", b.String()+extra)
		write("var/lib/dpkg/info/"+name+".list", lists[pk].String()+"/etc/procps.conf\n")
	}
	// The status file predates the plants: unowned files are "placed after".
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(root, "var/lib/dpkg/status"), old, old)

	// Tampering, each beside an untouched twin.
	write("usr/bin/top", elfHead+"trojan top")                                            // modified ELF command; ps untouched
	write("usr/bin/which", "#!/bin/sh\ncurl x | sh\n")                                    // script edited
	write("usr/lib/x86_64-linux-gnu/security/pam_unix.so", elfHead+"pam_unix"+"backdoor") // PAM
	write("usr/lib/x86_64-linux-gnu/libc.so.6", elfHead+"libc patched")                   // libc; libz untouched
	write("etc/procps.conf", "a=2\n")                                                     // conffile; other.conf untouched
	os.Remove(filepath.Join(root, "usr/share/doc/procps/gone"))                           // missing; README stays
	write("usr/sbin/kswapd0", elfHead+"planted")                                          // unowned ELF, born after dpkg ran
	write("usr/sbin/.x", elfHead+"hidden")                                                // unowned, hidden
	write("usr/local/bin/tool", elfHead+"admin's own")                                    // not a system dir: twin
	write("usr/sbin/helper.sh", "#!/bin/sh\n")                                            // unowned script: twin
	write("usr/lib/modules/6.1.0-21-amd64/updates/dkms/zfs.ko", elfHead+"dkms")           // built here by DKMS: twin

	res := sweepPackages(t, root, false)
	got := map[string]report.Finding{}
	for _, f := range res.Findings {
		got[f.Evidence.Path] = f
	}
	for _, tc := range []struct {
		path, rule string
		sev        report.Severity
	}{
		{"/usr/bin/top", "pkg.modified-command", report.Critical},
		{"/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "pkg.modified-auth", report.Critical},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", "pkg.modified-loader", report.Critical},
		{"/usr/bin/which", "pkg.script-command", report.High},
		{"/etc/procps.conf", "pkg.modified-conffile", report.Info},
		{"/usr/share/doc/procps/gone", "pkg.missing", report.Low},
		{"/usr/sbin/kswapd0", "pkg.unowned-elf-marked", report.High},
		{"/usr/sbin/.x", "pkg.unowned-elf-marked", report.High},
		{"/var/lib/dpkg/status", "pkg.miner-package", report.High},
	} {
		f, ok := got[tc.path]
		if !ok {
			t.Errorf("%s: no finding", tc.path)
			continue
		}
		if f.Rule != tc.rule || f.Severity != tc.sev || f.Technique == "" || f.Check != PackageCheckName {
			t.Errorf("%s: %s %s %s, want %s %s", tc.path, f.Rule, f.Severity, f.Technique, tc.rule, tc.sev)
		}
	}
	top := got["/usr/bin/top"]
	if !strings.Contains(top.Evidence.Match, md5hex(files["usr/bin/top"])) || top.Evidence.MD5 != md5hex(elfHead+"trojan top") || top.Evidence.SHA256 == "" {
		t.Errorf("top evidence lacks a digest: %+v", top.Evidence)
	}
	for _, twin := range []string{"/usr/bin/ps", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/etc/other.conf", "/usr/share/doc/procps/README", "/usr/local/bin/tool", "/usr/sbin/helper.sh", "/usr/lib/modules/6.1.0-21-amd64/updates/dkms/zfs.ko"} {
		if f, ok := got[twin]; ok {
			t.Errorf("benign twin %s: %s %s", twin, f.Rule, f.Severity)
		}
	}
	var badLine bool
	for _, e := range res.Errors {
		badLine = badLine || strings.Contains(e.Error, "procps.md5sums") && strings.Contains(e.Error, "bad MD5")
	}
	if !badLine {
		t.Errorf("bad md5sums line not reported: %+v", res.Errors)
	}
	var inv string
	for _, i := range res.Inventory {
		if i.Kind == "package-verification" {
			inv = i.Summary
		}
	}
	// 9 packaged files + 2 conffiles; top, which, pam_unix, libc, procps.conf modified; one gone.
	if inv != "dpkg: 4 packages, 11 packaged files: 5 verified, 5 modified, 1 missing, 0 not hashed (size cap or unreadable)" {
		t.Errorf("verification summary %q", inv)
	}

	// --skip-verified: the 5 verified files are not YARA-swept, all are read.
	skipped := sweepPackages(t, root, true)
	if skipped.Stats.VerifiedNotSwept != 5 || skipped.Stats.Files != res.Stats.Files {
		t.Errorf("skip-verified stats %+v vs %+v", skipped.Stats, res.Stats)
	}

	// A corrupt status file: an error naming it, the good paragraphs kept.
	write("var/lib/dpkg/status", "garbage line\n\n"+status)
	res = sweepPackages(t, root, false)
	var statusErr bool
	for _, e := range res.Errors {
		statusErr = statusErr || strings.Contains(e.Error, "var/lib/dpkg/status") && strings.Contains(e.Error, "line 1")
	}
	if !statusErr || len(res.Findings) < 9 {
		t.Errorf("corrupt status: errors %+v, %d findings", res.Errors, len(res.Findings))
	}
}

// TestPackagesDebootstrapPlanted copies the real debootstrap bookworm tree,
// replaces /usr/bin/ls (coreutils lists it as /bin/ls: merged /usr) by a
// compiled ELF, appends bytes to pam_unix.so and drops a compiled "top"
// (minbase has no procps), as perfctl does: the first two are critical with
// the dpkg and the on-disk digest, the stray top high; the untouched tree
// gives nothing from this hook at all.
func TestPackagesDebootstrapPlanted(t *testing.T) {
	if _, err := os.Stat(filepath.Join(debootstrapCache, "var/lib/dpkg/status")); err != nil {
		t.Skip("no debootstrap tree (TestDebootstrapBookworm builds it as root): ", err)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	clean := sweepPackages(t, debootstrapCache, false)
	for _, f := range clean.Findings {
		t.Errorf("untouched debootstrap: %s %s %s", f.Rule, f.Severity, f.Evidence.Path)
	}
	for _, e := range clean.Errors {
		t.Errorf("untouched debootstrap: error %+v", e)
	}
	root := filepath.Join(t.TempDir(), "root")
	// Hard links: the copy costs no data; replaced files get new inodes.
	if out, err := exec.Command("cp", "-al", debootstrapCache, root).CombinedOutput(); err != nil {
		t.Skipf("cp -al: %v %s", err, out)
	}
	src := filepath.Join(t.TempDir(), "top.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint main(void){puts(\"top\");return 0;}\n"), 0o644)
	for _, bin := range []string{"usr/bin/ls", "usr/bin/top"} {
		os.Remove(filepath.Join(root, bin))
		if out, err := exec.Command(gcc, "-o", filepath.Join(root, bin), src).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v %s", err, out)
		}
	}
	pam := filepath.Join(root, "usr/lib/x86_64-linux-gnu/security/pam_unix.so")
	data, err := os.ReadFile(pam)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(pam)
	os.WriteFile(pam, append(data, "backdoor-password"...), 0o644)

	res := sweepPackages(t, root, false)
	got := map[string]report.Finding{}
	for _, f := range res.Findings {
		got[f.Evidence.Path] = f
		if f.Severity >= report.Medium && !strings.HasSuffix(f.Evidence.Path, "/ls") && !strings.HasSuffix(f.Evidence.Path, "/top") && !strings.HasSuffix(f.Evidence.Path, "pam_unix.so") {
			t.Errorf("unexpected %s %s %s", f.Rule, f.Severity, f.Evidence.Path)
		}
	}
	if f := got["/usr/bin/top"]; f.Rule != "pkg.unowned-elf-marked" || f.Severity != report.High {
		t.Errorf("stray top: %s %s", f.Rule, f.Severity)
	}
	for p, rule := range map[string]string{"/usr/bin/ls": "pkg.modified-command", "/usr/lib/x86_64-linux-gnu/security/pam_unix.so": "pkg.modified-auth"} {
		f := got[p]
		if f.Rule != rule || f.Severity != report.Critical || !strings.Contains(f.Evidence.Match, "expected MD5 ") || f.Evidence.MD5 == "" || strings.Contains(f.Evidence.Match, f.Evidence.MD5+" (dpkg)") {
			t.Errorf("%s: %s %s evidence %q md5 %s", p, f.Rule, f.Severity, f.Evidence.Match, f.Evidence.MD5)
		}
	}
}

// An Alpine root: apk's SHA-1 per file is checked in the same read (the
// hook asks the sweep for SHA-1); a replaced busybox is critical, an edited
// /etc file info, an installed xmrig package high.
func TestPackagesApk(t *testing.T) {
	root := t.TempDir()
	q1 := func(s string) string {
		h := sha1.Sum([]byte(s))
		return "Q1" + base64.StdEncoding.EncodeToString(h[:])
	}
	files := map[string]string{"bin/busybox": elfHead + "busybox", "sbin/apk": elfHead + "apk-tools", "etc/securetty": "console\n", "usr/bin/xmrig": elfHead + "xmrig"}
	db := "P:busybox\nV:1.36.1-r15\nA:x86_64\nF:bin\nR:busybox\nZ:" + q1(files["bin/busybox"]) + "\nF:etc\nR:securetty\nZ:" + q1(files["etc/securetty"]) + "\n\n" +
		"P:apk-tools\nV:2.14.0-r5\nA:x86_64\nF:sbin\nR:apk\nZ:" + q1(files["sbin/apk"]) + "\n\n" +
		"P:xmrig\nV:6.21.0-r0\nA:x86_64\nF:usr/bin\nR:xmrig\nZ:" + q1(files["usr/bin/xmrig"]) + "\n"
	files["lib/apk/db/installed"] = db
	files["bin/busybox"] = elfHead + "trojaned"
	files["etc/securetty"] = "console\nttyS0\n"
	for p, c := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(c), 0o644)
	}
	// Alpine's /bin is a directory of its own, not a link to /usr/bin.
	res := sweepPackages(t, root, false)
	got := map[string]report.Finding{}
	for _, f := range res.Findings {
		got[f.Evidence.Path] = f
	}
	for p, want := range map[string]report.Severity{"/bin/busybox": report.Critical, "/etc/securetty": report.Info, "/lib/apk/db/installed": report.High} {
		if f, ok := got[p]; !ok || f.Severity != want || !strings.Contains(f.Description, "apk") {
			t.Errorf("%s: %s %s %q, want %s", p, f.Rule, f.Severity, f.Description, want)
		}
	}
	if _, ok := got["/sbin/apk"]; ok || len(res.Errors) != 0 {
		t.Errorf("untouched apk flagged or errors: %+v", res.Errors)
	}
	if f := got["/bin/busybox"]; !strings.Contains(f.Evidence.Match, "expected SHA-1 ") {
		t.Errorf("busybox evidence %q", f.Evidence.Match)
	}
}

// An rpm root with a real rpmdb.sqlite (rpmbuild + rpm --justdb, see
// artifact/rpm/rpmtest.sh): the packaged ELF replaced is critical with both
// SHA-256 digests, the edited %config file info, the untouched root clean.
func TestPackagesRpm(t *testing.T) {
	for _, tool := range []string{"rpm", "rpmbuild", "rpm2cpio", "cpio", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed (scripts/deps.sh installs rpm and cpio)")
		}
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if out, err := exec.Command("bash", "../../artifact/rpm/rpmtest.sh", filepath.Join(dir, "work"), root).CombinedOutput(); err != nil {
		t.Fatalf("rpmtest.sh: %v\n%s", err, out)
	}
	clean := sweepPackages(t, root, false)
	if len(clean.Findings) != 0 || len(clean.Errors) != 0 {
		t.Errorf("untouched rpm root: %+v %+v", clean.Findings, clean.Errors)
	}
	os.WriteFile(filepath.Join(root, "usr/bin/hello"), []byte(elfHead+"trojan"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hello.conf"), []byte("greeting=bye\n"), 0o644)
	res := sweepPackages(t, root, false)
	got := map[string]report.Finding{}
	for _, f := range res.Findings {
		got[f.Evidence.Path] = f
	}
	if f := got["/usr/bin/hello"]; f.Rule != "pkg.modified-command" || f.Severity != report.Critical || !strings.Contains(f.Evidence.Match, "expected SHA-256 ") ||
		!strings.Contains(f.Evidence.Match, "on disk SHA-256 "+f.Evidence.SHA256) {
		t.Errorf("hello: %s %s %q", f.Rule, f.Severity, f.Evidence.Match)
	}
	if f := got["/etc/hello.conf"]; f.Rule != "pkg.modified-conffile" {
		t.Errorf("hello.conf: %s %s", f.Rule, f.Severity)
	}
	var inv string
	for _, i := range res.Inventory {
		if i.Kind == "package" {
			inv = i.Summary
		}
	}
	if inv != "hello 1.0-1 x86_64" {
		t.Errorf("package inventory %q", inv)
	}
}

// BenchmarkPackageHook is the sweep of the real debootstrap tree (hashes,
// no YARA) with and without dpkg verification: the hook's own cost.
func BenchmarkPackageHook(b *testing.B) {
	fsys, err := dirfs.New(debootstrapCache)
	if err != nil {
		b.Skip("no debootstrap tree: ", err)
	}
	if _, err := fsys.Stat("var/lib/dpkg/status"); err != nil {
		b.Skip("no debootstrap tree: ", err)
	}
	for _, with := range []bool{false, true} {
		b.Run(map[bool]string{false: "without", true: "with-dpkg-verification"}[with], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var hs []hook.Hook
				if with {
					hs = append(hs, NewPackageHook(fsys, "bench", "/"))
				}
				res, err := sweep.Run(context.Background(), fsys, sweep.Options{Volume: "bench", MountPoint: "/", Hooks: hs, MaxFileSize: 64 << 20})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(res.Stats.Bytes)
			}
		})
	}
}

// "Recently born" is judged against the image's own clock (its newest
// change time), not the scanner's: a drop days before the snapshot is high,
// an admin's binary placed weeks before it stays medium.
func TestUnownedRecentWindow(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg/info"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte("Package: base-files\nStatus: install ok installed\nVersion: 12\n"), 0o644)
	fsys, _ := dirfs.New(root)
	h := NewPackageHook(fsys, "test@1", "/")
	snap := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h.dbTime = snap.Add(-60 * 24 * time.Hour)
	for _, c := range []struct {
		p    string
		born time.Time
	}{
		{"usr/bin/fresh", snap.Add(-24 * time.Hour)},
		{"usr/bin/kubectl", snap.Add(-20 * 24 * time.Hour)},
		{"var/log/syslog", snap}, // the newest change: the image's "now"
	} {
		m := &fsread.Meta{Name: path.Base(c.p), Mode: 0o755, Btime: c.born, Ctime: c.born}
		head := []byte(elfHead)
		if strings.HasPrefix(c.p, "var/") {
			head = []byte("log line")
		}
		h.File(hook.File{Path: c.p, OSPath: "/" + c.p, Meta: m, MD5: "x", SHA256: "y", Head: head})
	}
	fs, _, _ := h.Done()
	got := map[string]report.Severity{}
	for _, f := range fs {
		got[f.Evidence.Path] = f.Severity
	}
	if got["/usr/bin/fresh"] != report.High || got["/usr/bin/kubectl"] != report.Medium || len(fs) != 2 {
		t.Errorf("%v", got)
	}
}

// dpkg-divert: procps's /usr/bin/kill lies at /usr/bin/kill.procps, the
// diverting package's own kill at /usr/bin/kill. Both verify.
func TestPackagesDiversion(t *testing.T) {
	root := t.TempDir()
	procpsKill, ownKill := elfHead+"procps kill", elfHead+"other kill"
	for p, c := range map[string]string{
		"var/lib/dpkg/status":              "Package: procps\nStatus: install ok installed\nVersion: 4\n\nPackage: killer\nStatus: install ok installed\nVersion: 1\n",
		"var/lib/dpkg/info/procps.md5sums": md5hex(procpsKill) + "  usr/bin/kill\n",
		"var/lib/dpkg/info/procps.list":    "/usr/bin/kill\n",
		"var/lib/dpkg/info/killer.md5sums": md5hex(ownKill) + "  usr/bin/kill\n",
		"var/lib/dpkg/info/killer.list":    "/usr/bin/kill\n",
		"var/lib/dpkg/diversions":          "/usr/bin/kill\n/usr/bin/kill.procps\nkiller\n",
		"usr/bin/kill":                     ownKill,
		"usr/bin/kill.procps":              procpsKill,
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	res := sweepPackages(t, root, false)
	for _, f := range res.Findings {
		t.Errorf("%s %s %s", f.Rule, f.Severity, f.Evidence.Path)
	}
	if res.Stats.Files != 8 || len(res.Errors) != 0 {
		t.Errorf("stats %+v errors %v", res.Stats, res.Errors)
	}
	for _, i := range res.Inventory {
		if i.Kind == "package-verification" && i.Fields["verified"] != "2" {
			t.Errorf("%s", i.Summary)
		}
	}
}
