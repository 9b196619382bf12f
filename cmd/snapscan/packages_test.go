package main

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
)

// debootstrapTree is the bookworm minbase tree scanner/linux's
// TestDebootstrapBookworm builds (as root, cached).
const debootstrapTree = "/var/cache/snapscan-test/bookworm"

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return string(h.Sum(nil))
}

// A real Debian root with a trojaned ls (another compiled ELF) and a
// pam_unix.so with bytes appended, written into ext4 by mke2fs -d and
// scanned through our ext4 reader with --skip-verified: both are critical
// with the dpkg and the on-disk digest, nothing else reaches medium, the
// verified files are counted, and the image is not changed.
func TestScanTrojanedDebianImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the debootstrap tree holds root-only files")
	}
	if _, err := os.Stat(filepath.Join(debootstrapTree, "var/lib/dpkg/status")); err != nil {
		t.Skip("no debootstrap tree (scanner/linux TestDebootstrapBookworm builds it): ", err)
	}
	for _, tool := range []string{"mke2fs", "gcc", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if out, err := exec.Command("cp", "-al", debootstrapTree, root).CombinedOutput(); err != nil {
		t.Fatalf("cp -al: %v %s", err, out)
	}
	src := filepath.Join(dir, "ls.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint main(void){puts(\"ls\");return 0;}\n"), 0o644)
	ls := filepath.Join(root, "usr/bin/ls")
	os.Remove(ls) // a new inode: the cached tree keeps its file
	if out, err := exec.Command("gcc", "-o", ls, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, out)
	}
	pam := filepath.Join(root, "usr/lib/x86_64-linux-gnu/security/pam_unix.so")
	data, err := os.ReadFile(pam)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(pam)
	os.WriteFile(pam, append(data, "skidmap"...), 0o644)

	image := filepath.Join(dir, "debian.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", root, image, "600M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs -d: %v %s", err, out)
	}
	before := fileSHA256(t, image)
	out, stderr, code := run(t, "scan", "-f", "json", "--skip-verified", "--no-progress", image)
	if after := fileSHA256(t, image); after != before {
		t.Fatal("the image changed while it was scanned")
	}
	if code != report.ExitClean {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal(oneJSON(t, out), &r); err != nil {
		t.Fatal(err)
	}
	crit := map[string]report.Finding{}
	for _, f := range r.Findings {
		switch {
		case f.Severity == report.Critical:
			crit[f.Evidence.Path] = f
		case f.Severity >= report.Medium:
			t.Errorf("unexpected %s %s %s", f.Rule, f.Severity, f.Evidence.Path)
		}
	}
	for p, rule := range map[string]string{"/usr/bin/ls": "pkg.modified-command", "/usr/lib/x86_64-linux-gnu/security/pam_unix.so": "pkg.modified-auth"} {
		f, ok := crit[p]
		if !ok || f.Rule != rule || !strings.Contains(f.Evidence.Match, "expected MD5 ") || f.Evidence.MD5 == "" ||
			!strings.Contains(f.Evidence.Match, "on disk MD5 "+f.Evidence.MD5) || f.Technique == "" || f.Remediation == "" {
			t.Errorf("%s: %+v", p, f)
		}
	}
	if len(crit) != 2 {
		t.Errorf("%d critical findings, want 2", len(crit))
	}
	if n := r.Stats.FilesVerifiedNotSwept; n < 4000 || n >= r.Stats.FilesSwept {
		t.Errorf("%d files verified and not swept of %d", n, r.Stats.FilesSwept)
	}
}
