package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// run executes the CLI in process and returns stdout, stderr and the exit
// code main would use.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	code := report.ExitClean
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			if !errors.Is(ee.err, errSilent) {
				errb.WriteString(ee.err.Error())
			}
		} else {
			code = report.ExitUsage
			errb.WriteString(err.Error())
		}
	}
	return out.String(), errb.String(), code
}

// oneJSON is the only report of a `scan -f json` document, which is always
// an array of reports (one shape whatever the number of images).
func oneJSON(t *testing.T, doc string) []byte {
	t.Helper()
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(doc), &arr); err != nil {
		t.Fatalf("scan -f json: not a JSON array: %v\n%.300s", err, doc)
	}
	if len(arr) != 1 {
		t.Fatalf("scan -f json: %d reports, want 1", len(arr))
	}
	return arr[0]
}

func img(t *testing.T, name string) string {
	t.Helper()
	p := testimg.Path(t, name)
	testimg.Unchanged(t, p) // the read-only promise, after every command
	return p
}

func TestInspect(t *testing.T) {
	for _, tc := range []struct {
		image string
		table string
		want  []volumeView // the fields compared
	}{
		{"gpt-efi-ext4.img", "gpt", []volumeView{
			{Index: 1, Name: "EFI", Filesystem: "vfat", Label: "EFI", Scannable: false},
			{Index: 2, Name: "root", Filesystem: "ext4", Label: "rootfs", Scannable: true, OS: "linux"},
		}},
		{"mbr-disk.img", "mbr", []volumeView{
			{Index: 1, Filesystem: "ext4", Label: "boot", Scannable: true},
			{Index: 2, Filesystem: "swap", Label: "swap", Scannable: false},
			{Index: 3, Filesystem: "ext4", Label: "root", Scannable: true, OS: "linux"},
		}},
		{"ext4-bare.img", "none", []volumeView{{Index: 0, Filesystem: "ext4", Label: "sample", Scannable: true, OS: "linux"}}},
		{"ntfs-windows.img", "none", []volumeView{{Index: 0, Filesystem: "ntfs", Label: "Windows", Scannable: true}}},
		{"windows-infected.img", "none", []volumeView{{Index: 0, Filesystem: "ntfs", Scannable: true, OS: "windows"}}},
	} {
		t.Run(tc.image, func(t *testing.T) {
			out, errs, code := run(t, "inspect", "--json", img(t, tc.image))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var iv imageView
			if err := json.Unmarshal([]byte(out), &iv); err != nil {
				t.Fatal(err)
			}
			if iv.Table != tc.table || iv.Container != "raw" || len(iv.Volumes) != len(tc.want) {
				t.Fatalf("table %q container %q volumes %+v", iv.Table, iv.Container, iv.Volumes)
			}
			for i, w := range tc.want {
				g := iv.Volumes[i]
				if g.Index != w.Index || g.Name != w.Name || g.Filesystem != w.Filesystem || g.Scannable != w.Scannable || g.OS != w.OS ||
					(w.Label != "" && g.Label != w.Label) {
					t.Errorf("volume %d: got %+v, want %+v", i, g, w)
				}
				if !g.Scannable && g.Reason == "" {
					t.Errorf("volume %d not scannable without a reason", i)
				}
			}
		})
	}
}

// The source trees the images were built from are an oracle for content:
// every regular file cat reads must equal its source.
func TestCatEqualsSourceTree(t *testing.T) {
	root := testimg.RepoRoot(t)
	for _, tc := range []struct{ image, tree string }{
		{"ext4-bare.img", "testdata/images/src/ext4-sample"},
		{"ntfs-windows.img", "testdata/images/src/windows-sample"},
		{"linux-clean.img", "testdata/images/src/linux-clean"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			image := img(t, tc.image)
			src := filepath.Join(root, tc.tree)
			n := 0
			filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				rel, _ := filepath.Rel(src, p)
				want, _ := os.ReadFile(p)
				out, errs, code := run(t, "cat", image+":/"+filepath.ToSlash(rel))
				if code != 0 {
					// A pre.sh hook may rewrite a file (UTF-16 tasks); the
					// file must then still exist.
					t.Errorf("cat %s: exit %d %s", rel, code, errs)
					return nil
				}
				if out != string(want) && !strings.HasSuffix(rel, ".xml") {
					t.Errorf("cat %s: %d bytes differ from the source's %d", rel, len(out), len(want))
				}
				n++
				return nil
			})
			if n < 3 {
				t.Fatalf("only %d files compared", n)
			}
		})
	}
}

// debugfs reads ext4 independently of us, without root.
func TestStatAgreesWithDebugfs(t *testing.T) {
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Skip("debugfs not installed")
	}
	image := img(t, "linux-infected.img")
	part := filepath.Join(t.TempDir(), "root.ext4")
	// debugfs wants a filesystem, not a disk: copy partition 1 out (1 MiB in).
	data, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(part, data[1<<20:9<<20], 0o444)
	for _, p := range []string{"/etc/cron.hourly/0", "/etc/passwd", "/usr/local/lib/libsystem.so", "/etc/ld.so.preload", "/opt/sysetmd"} {
		t.Run(p, func(t *testing.T) {
			out, errs, code := run(t, "stat", "--json", image+"@1:"+p)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var sv statView
			if err := json.Unmarshal([]byte(out), &sv); err != nil {
				t.Fatal(err)
			}
			dbg, err := exec.Command("debugfs", "-R", "stat "+p, part).Output()
			if err != nil {
				t.Fatal(err)
			}
			field := func(re string) string {
				m := regexp.MustCompile(re).FindSubmatch(dbg)
				if m == nil {
					t.Fatalf("debugfs output lacks %s:\n%s", re, dbg)
				}
				return string(m[1])
			}
			ino, _ := strconv.ParseUint(field(`Inode: (\d+)`), 10, 64)
			size, _ := strconv.ParseInt(field(`Size: (\d+)`), 10, 64)
			uid, _ := strconv.ParseUint(field(`User:\s+(\d+)`), 10, 32)
			flags := field(`Flags: (0x[0-9a-f]+)`)
			if sv.Inode != ino || sv.Size != size || sv.UID == nil || uint64(*sv.UID) != uid || !strings.HasPrefix(sv.Flags, flags) {
				t.Errorf("stat: inode %d size %d uid %v flags %s; debugfs: %d %d %d %s", sv.Inode, sv.Size, sv.UID, sv.Flags, ino, size, uid, flags)
			}
			cat, _ := exec.Command("debugfs", "-R", "cat "+p, part).Output()
			sum := sha256.Sum256(cat)
			if sv.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 %s, debugfs content hashes to %x", sv.SHA256, sum)
			}
		})
	}
}

func TestLsShowsFlagsAndRecurses(t *testing.T) {
	image := img(t, "linux-infected.img")
	out, errs, code := run(t, "ls", "-l", image+":/etc/cron.hourly")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !regexp.MustCompile(`(?m)^\d+ -rwxr-xr-x 0 0 +\d+ .* immutable 0$`).MatchString(out) {
		t.Errorf("ls -l does not show /etc/cron.hourly/0 as immutable:\n%s", out)
	}
	// From the root too: /home's volume root has the same inode number as
	// /, which must not pass for a directory loop.
	for _, from := range []string{":/home", ":/"} {
		out, errs, code := run(t, "ls", "-r", image+from)
		if code != 0 || !strings.Contains(out, "/home/bob/.configrc5") {
			t.Errorf("ls -r %s through the fstab-mounted /home: exit %d %s", from, code, errs)
		}
	}
}

func TestExitCodesAndErrors(t *testing.T) {
	dir := t.TempDir()
	infected := img(t, "linux-infected.img")
	data, _ := os.ReadFile(infected)
	trunc := filepath.Join(dir, "truncated.img")
	os.WriteFile(trunc, data[:3<<20], 0o444)
	zeroed := filepath.Join(dir, "zeroed.img")
	z := append([]byte(nil), data...)
	for i := 1<<20 + 1024; i < 1<<20+2048; i++ {
		z[i] = 0
	}
	z2 := z[9<<20+1024 : 9<<20+2048]
	for i := range z2 {
		z2[i] = 0
	}
	os.WriteFile(zeroed, z, 0o444)
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o600)
	garbage := filepath.Join(dir, "garbage.img")
	g := make([]byte, 4<<20)
	for i := range g {
		g[i] = byte(i*31 + 7)
	}
	os.WriteFile(garbage, g, 0o444)

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		errPart string
	}{
		{"no args", []string{"scan"}, report.ExitUsage, "needs an IMAGE"},
		{"bad flag", []string{"scan", "--nope", infected}, report.ExitUsage, "unknown flag"},
		{"bad severity", []string{"scan", "--fail-on", "urgent", infected}, report.ExitUsage, "unknown severity"},
		{"missing image", []string{"inspect", filepath.Join(dir, "none.img")}, report.ExitIncomplete, "no such file"},
		{"fifo is refused, not waited on", []string{"inspect", fifo}, report.ExitIncomplete, "named pipe"},
		{"missing path", []string{"cat", infected + ":/etc/nothing"}, report.ExitIncomplete, "etc/nothing"},
		{"bad volume", []string{"ls", infected + "@9:/"}, report.ExitIncomplete, "no volume 9"},
		{"directory", []string{"cat", infected + ":/etc"}, report.ExitIncomplete, "is a directory"},
		{"truncated: home volume gone", []string{"ls", trunc + "@2:/"}, report.ExitIncomplete, "truncated"},
		{"zeroed superblocks", []string{"ls", zeroed + ":/"}, report.ExitIncomplete, "no readable volume"},
		{"garbage", []string{"ls", garbage + ":/"}, report.ExitIncomplete, "no readable volume"},
		{"scan: nothing readable", []string{"scan", "--no-sweep", garbage}, 3, ""},
		{"scan: findings, no gate", []string{"scan", "--no-sweep", infected}, 0, ""},
		{"scan: findings gate", []string{"scan", "--no-sweep", "--exit-code", "5", infected}, 5, ""},
		{"scan: clean passes gate", []string{"scan", "--no-sweep", "--exit-code", "5", img(t, "linux-clean.img")}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := run(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.errPart) {
				t.Errorf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, errs, tc.errPart)
			}
		})
	}
}

func TestScanFormats(t *testing.T) {
	infected := img(t, "linux-infected.img")
	out := filepath.Join(t.TempDir(), "r.sarif")
	if _, errs, code := run(t, "scan", "--no-sweep", "-f", "sarif", "-o", out, infected); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) < 50 {
		t.Errorf("sarif: %v version %q runs %d", err, sarif.Version, len(sarif.Runs))
	}
	stdout, _, _ := run(t, "scan", "--no-sweep", "-f", "json", "--severity", "critical", "--inventory", infected)
	var r struct {
		Findings []struct {
			Severity string `json:"severity"`
		} `json:"findings"`
		Inventory []json.RawMessage `json:"inventory"`
	}
	if err := json.Unmarshal(oneJSON(t, stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) == 0 || len(r.Inventory) == 0 {
		t.Fatalf("%d findings, %d inventory items", len(r.Findings), len(r.Inventory))
	}
	for _, f := range r.Findings {
		if f.Severity != "critical" {
			t.Errorf("--severity critical let %s through", f.Severity)
		}
	}
}

// cat streams: a 2 GiB file goes through a small buffer. Measured in a
// child process, as an analyst would run it.
func TestCatStreamsLargeFileInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 2 GiB")
	}
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Skip("mke2fs not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	big := filepath.Join(src, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// 2 GiB with 1 MiB of data every 64 MiB: real extents and holes.
	chunk := bytes.Repeat([]byte("snapscan-stream-test-"), 1<<20/21+1)[:1<<20]
	for off := int64(0); off < 2<<30; off += 64 << 20 {
		f.WriteAt(chunk, off)
	}
	f.Truncate(2 << 30)
	f.Close()
	image := filepath.Join(dir, "big.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", src, image, "256M").CombinedOutput(); err != nil {
		t.Skipf("mke2fs -d: %v %s", err, out)
	}
	bin := filepath.Join(dir, "snapscan")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// GNU time forks snapscan from a small process: the child's ru_maxrss
	// counted from this test process would include the test's own pages,
	// which the forked child shares until exec.
	timeBin, err := exec.LookPath("time")
	if err != nil {
		if _, err := os.Stat("/usr/bin/time"); err != nil {
			t.Skip("GNU time not installed: cannot measure the child's peak RSS alone")
		}
		timeBin = "/usr/bin/time"
	}
	rssFile := filepath.Join(dir, "rss")
	cmd := exec.Command(timeBin, "-f", "%M", "-o", rssFile, bin, "cat", image+":/big.bin")
	h := sha256.New()
	cmd.Stdout = h
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	rssText, _ := os.ReadFile(rssFile)
	rss, err := strconv.Atoi(strings.TrimSpace(string(rssText)))
	if err != nil {
		t.Fatalf("GNU time output %q: %v", rssText, err)
	}
	want := sha256.New()
	sf, _ := os.Open(big)
	io.Copy(want, sf)
	sf.Close()
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Error("cat output differs from the source file")
	}
	t.Logf("peak RSS of snapscan cat on a 2 GiB file: %d KiB", rss)
	if rss > 64<<10 {
		t.Errorf("peak RSS %d KiB, want under 64 MiB", rss)
	}
}

// The content sweep on the planted image: the fake miner ELF under an
// innocuous name and the miner config are high with hashes and rule names;
// a text that only mentions a pool is at most info.
func TestScanSweepFindsMinersNotMentions(t *testing.T) {
	image := img(t, "linux-infected.img")
	stdout, errs, code := run(t, "scan", "-f", "json", image)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "may slow down scanning") {
		t.Errorf("embedded-rule warnings leak to the user: %s", errs)
	}
	var r struct {
		Findings []struct {
			Rule     string `json:"rule"`
			Check    string `json:"check"`
			Severity string `json:"severity"`
			Evidence struct {
				Path   string `json:"path"`
				SHA256 string `json:"sha256"`
				MD5    string `json:"md5"`
			} `json:"evidence"`
			Matches []struct {
				Rule string `json:"rule"`
			} `json:"matches"`
		} `json:"findings"`
		Stats struct {
			FilesSwept int64 `json:"files_swept"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(oneJSON(t, stdout), &r); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		sev, rule string
	}{
		"/usr/local/lib/.cache/kworkerd": {"high", "SNAP_XMRig_Binary"},
		"/root/xmrig-6.21.1/config.json": {"high", "SNAP_Miner_Config_JSON"},
		"/opt/notes/config.json":         {"info", "SNAP_Mining_Pool_Domain"},
	}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		w, ok := want[f.Evidence.Path]
		if !ok || f.Check != "sweep" {
			continue
		}
		seen[f.Evidence.Path] = true
		var rules []string
		for _, m := range f.Matches {
			rules = append(rules, m.Rule)
		}
		if f.Severity != w.sev || !strings.Contains(strings.Join(rules, ","), w.rule) || len(f.Evidence.SHA256) != 64 || len(f.Evidence.MD5) != 32 {
			t.Errorf("%s: %s %v sha256=%q; want %s with %s and hashes", f.Evidence.Path, f.Severity, rules, f.Evidence.SHA256, w.sev, w.rule)
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("sweep found nothing at %s", p)
		}
	}
	if r.Stats.FilesSwept < 100 {
		t.Errorf("only %d files swept", r.Stats.FilesSwept)
	}
}

// The report, the lists and evidence never land on the evidence itself.
func TestOutputsNeverOverwriteInputs(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(img(t, "linux-clean.img"))
	if err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(dir, "copy.img")
	os.WriteFile(image, src, 0o444)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc/os-release"), []byte("ID=debian\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"report over the image", []string{"scan", "--no-sweep", "-o", image, image}},
		{"at-risk list over the image", []string{"scan", "--no-sweep", "--at-risk-list", image, image}},
		{"report into the scanned tree", []string{"scan", "--no-sweep", "--dir", tree, "-o", filepath.Join(tree, "etc/report.txt")}},
		{"evidence into the scanned tree", []string{"scan", "--no-sweep", "--dir", tree, "--evidence", filepath.Join(tree, "ev")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := run(t, tc.args...)
			if code == 0 || !strings.Contains(errs, "refusing") {
				t.Errorf("exit %d, stderr %q: want a refusal", code, errs)
			}
		})
	}
	after, _ := os.ReadFile(image)
	if !bytes.Equal(after, src) {
		t.Fatal("the image was changed")
	}
	if _, err := os.Stat(filepath.Join(tree, "etc/report.txt")); err == nil {
		t.Fatal("a report was written into the scanned tree")
	}
	// A legitimate output still works and is complete.
	out := filepath.Join(dir, "report.json")
	if _, errs, code := run(t, "scan", "--no-sweep", "-f", "json", "-o", out, image); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r map[string]any
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(oneJSON(t, string(b)), &r); err != nil {
		t.Fatalf("report not valid JSON: %v", err)
	}
}

// Names from an image are data, not terminal commands: ls, stat and inspect
// print escapes instead of the control bytes a hostile name carries.
func TestAnalystCommandsEscapeHostileNames(t *testing.T) {
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Skip("mke2fs not installed")
	}
	src := t.TempDir()
	hostile := "a\x1b[2J\x1b]0;PWNED\x07b\xff"
	os.WriteFile(filepath.Join(src, hostile), []byte("x"), 0o644)
	os.Symlink("/tmp/\x1b[1Aup", filepath.Join(src, "link"))
	image := filepath.Join(t.TempDir(), "hostile.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-L", "lbl\x1b[1A", "-d", src, image, "4M").CombinedOutput(); err != nil {
		t.Skipf("mke2fs: %v %s", err, out)
	}
	for _, args := range [][]string{
		{"ls", "-l", image + ":/"},
		{"ls", "-lr", image + ":/"},
		{"stat", image + ":/link"},
		{"inspect", image},
	} {
		out, errs, code := run(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d %s", args, code, errs)
		}
		if strings.ContainsAny(out+errs, "\x1b\x07") || !utf8.ValidString(out) {
			t.Errorf("%v printed raw control bytes or invalid UTF-8: %q", args, out)
		}
	}
	out, _, _ := run(t, "ls", image+":/")
	if !strings.Contains(out, `a\x1b[2J`) {
		t.Errorf("the hostile name is not shown escaped: %q", out)
	}
}

// NTFS's own records ($MFT holds copies of small files) are not live files:
// listed as skipped, never a finding.
func TestSweepSkipsNTFSMetadata(t *testing.T) {
	stdout, errs, code := run(t, "scan", "-f", "json", img(t, "windows-infected.img"))
	if code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	var r struct {
		Findings []struct {
			Evidence struct{ Path string } `json:"evidence"`
		} `json:"findings"`
		Skipped []struct{ Path, Reason string } `json:"skipped"`
	}
	json.Unmarshal(oneJSON(t, stdout), &r)
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Evidence.Path, "/$") {
			t.Errorf("finding on NTFS metadata %s", f.Evidence.Path)
		}
	}
	skipped := map[string]bool{}
	for _, s := range r.Skipped {
		skipped[s.Path] = strings.Contains(s.Reason, "NTFS metadata")
	}
	if !skipped["/$MFT"] || !skipped["/$LogFile"] {
		t.Errorf("$MFT and $LogFile not listed as skipped NTFS metadata: %v", skipped)
	}
}

// Every authorized key is reported, suspicious or not, without --inventory;
// the rest of the inventory only with it.
func TestSSHKeysAlwaysListed(t *testing.T) {
	image := img(t, "linux-infected.img")
	kinds := func(args ...string) map[string]int {
		stdout, errs, code := run(t, append([]string{"scan", "--no-sweep", "-f", "json"}, append(args, image)...)...)
		if code != 0 {
			t.Fatalf("exit %d %s", code, errs)
		}
		var r struct {
			Inventory []struct{ Kind string } `json:"inventory"`
		}
		json.Unmarshal(oneJSON(t, stdout), &r)
		k := map[string]int{}
		for _, i := range r.Inventory {
			k[i.Kind]++
		}
		return k
	}
	def, full := kinds(), kinds("--inventory")
	if def["ssh-key"] == 0 || def["ssh-key"] != full["ssh-key"] || len(def) != 1 {
		t.Errorf("default inventory %v, full %v: want every ssh-key and nothing else by default", def, full)
	}
	table, _, _ := run(t, "scan", "--no-sweep", image)
	if !strings.Contains(table, "SSH AUTHORIZED KEYS") || !strings.Contains(table, "alice@laptop") {
		t.Error("the table does not list the authorized keys")
	}
}
