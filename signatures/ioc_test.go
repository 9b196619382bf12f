package signatures

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The published EICAR test string; its hashes are computed here, so the
// embedded list is checked against the bytes, not against itself.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func TestEmbeddedIOCs(t *testing.T) {
	s, err := LoadIOCs()
	if err != nil {
		t.Fatalf("embedded IOC lists have bad lines: %v", err)
	}
	m, s1, s2 := md5.Sum([]byte(eicar)), sha1.Sum([]byte(eicar)), sha256.Sum256([]byte(eicar))
	for _, tc := range []struct{ kind, hex string }{
		{"md5", hex.EncodeToString(m[:])}, {"sha1", hex.EncodeToString(s1[:])}, {"sha256", hex.EncodeToString(s2[:])},
	} {
		got := s.MatchHashes(tc.hex)
		if len(got) != 1 || got[0].Kind != tc.kind || !strings.Contains(got[0].Description, "EICAR") {
			t.Errorf("%s of EICAR: %+v", tc.kind, got)
		}
	}
	if !s.NeedSHA1() {
		t.Error("NeedSHA1 false with SHA-1 entries loaded")
	}
	if len(s.Filenames) < 10 || len(s.FPs) == 0 {
		t.Errorf("%d filename IOCs, %d FPs", len(s.Filenames), len(s.FPs))
	}
}

func TestMatchPathEmbedded(t *testing.T) {
	s, err := LoadIOCs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path      string
		wantScore int // highest score; 0 = no match
	}{
		{"/root/xmrig-6.21.1/xmrig", 85},
		{"/usr/bin/ps.original", 85},
		{"/bin/top.original", 85},
		{"/var/tmp/kdevtmpfsi", 100},
		{"/home/u/.configrc5/a/run", 90},
		{"/etc/upat.sh", 90},
		{"/tmp/.X2xi-unix/.rsync/c/tsm", 90},
		{"/tmp/.hidden/x", 40},
		{"/Users/bob/AppData/Local/Temp/svchost.exe", 60},
		// False-positive list: the real one is where Windows keeps it.
		{"/Windows/System32/svchost.exe", 0},
		{"/windows/system32/SVCHOST.EXE", 0},
		{"/usr/bin/ps", 0},
		{"/usr/share/doc/xmrig-notes.txt", 0},
		{"/tmp/visible/x", 0},
	} {
		got := s.MatchPath(tc.path, strings.HasPrefix(tc.path, "/Windows") || strings.HasPrefix(tc.path, "/windows") || strings.HasPrefix(tc.path, "/Users"))
		score := 0
		if len(got) > 0 {
			score = got[0].Score
		}
		if score != tc.wantScore {
			t.Errorf("MatchPath(%s): top score %d (%v), want %d", tc.path, score, got, tc.wantScore)
		}
	}
}

func TestUserIOCsAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("my-hash-iocs.txt", "# comment\n"+
		"D41D8CD98F00B204E9800998ECF8427E;empty file md5\r\n"+ // upper case, CRLF
		"da39a3ee5e6b4b0d3255bfef95601890afd80709;empty sha1;55\n"+
		"zz41d8cd98f00b204e9800998ecf8427e;not hex\n"+ // line 4
		"\n"+
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;empty sha256;101\n"+ // line 6: bad score
		"e3b0c44298fc1c149afbf4c8996fb924;a; b;extra\n") // line 7: ';' in the description
	write("my-filename-iocs.txt", "# evil dir\n/evil/[a-z]+$;80\n"+
		"/evil/(;80\n"+ // line 3: bad regex
		"/x$;180\n"+ // line 4: score out of range
		"/y$;80;/(\n"+ // line 5: bad false-positive regex
		"/z$;80;a;b\n") // line 6: too many fields
	write("my-filename-fp.txt", "^/evil/ok$;allowed\n")
	write("README.txt", "ignored: the name says no list type")

	s := NewIOCs()
	err := s.AddPath(dir)
	var lines []string
	for _, e := range unwrapAll(err) {
		var le *LineError
		if errors.As(e, &le) {
			lines = append(lines, filepath.Base(le.Source)+":"+strconv.Itoa(le.Line))
		} else {
			t.Errorf("error without a line: %v", e)
		}
	}
	want := []string{"my-filename-iocs.txt:3", "my-filename-iocs.txt:4", "my-filename-iocs.txt:5", "my-filename-iocs.txt:6",
		"my-hash-iocs.txt:4", "my-hash-iocs.txt:6"}
	if strings.Join(lines, " ") != strings.Join(want, " ") {
		t.Errorf("line errors %v, want %v", lines, want)
	}
	if got := s.MatchHashes("d41d8cd98f00b204e9800998ecf8427e"); len(got) != 1 || got[0].Score != DefaultHashScore || got[0].Line != 2 {
		t.Errorf("md5: %+v", got)
	}
	if got := s.MatchHashes("da39a3ee5e6b4b0d3255bfef95601890afd80709"); len(got) != 1 || got[0].Kind != "sha1" || got[0].Score != 55 {
		t.Errorf("sha1: %+v", got)
	}
	if got := s.MatchHashes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); len(got) != 0 {
		t.Errorf("line with a bad score was loaded: %+v", got)
	}
	if got := s.MatchHashes("e3b0c44298fc1c149afbf4c8996fb924"); len(got) != 1 || got[0].Description != "a; b; extra" {
		t.Errorf("description with ';': %+v", got)
	}
	if got := s.MatchPath("/evil/bad", false); len(got) != 1 || got[0].Score != 80 || got[0].Description != "evil dir" {
		t.Errorf("/evil/bad: %+v", got)
	}
	if got := s.MatchPath("/evil/ok", false); len(got) != 0 {
		t.Errorf("FP regex did not suppress: %+v", got)
	}

	// A file named explicitly must say what it is.
	if err := s.AddPath(filepath.Join(dir, "README.txt")); err == nil || !strings.Contains(err.Error(), "list type") {
		t.Errorf("explicit untyped file: %v", err)
	}
}

func TestListKind(t *testing.T) {
	for _, tc := range []struct{ name, kind string }{
		{"hash-iocs.txt", "hashes"},
		{"/x/otx-c2-iocs-HASHES.txt", "hashes"},
		{"filename-iocs.txt", "filenames"},
		{"filenames-fp.txt", "filenames-fp"},
		{"filename-falsepositives.txt", "filenames-fp"},
		{"c2-iocs.txt", "c2"},
		{"otx-c2-iocs.txt", "c2"},
		{"keywords.txt", ""},
	} {
		got, ok := ListKind(tc.name)
		if got != tc.kind || ok != (tc.kind != "") {
			t.Errorf("ListKind(%s) = %q %v", tc.name, got, ok)
		}
	}
}

func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

// FuzzIOCLists: no input may panic a loader, every error names a line that
// exists, and every loaded entry is well-formed.
func FuzzIOCLists(f *testing.F) {
	f.Add([]byte("44d88612fea8a8f36de82e1278abb02f;EICAR;30\n# c\n\nzz;bad\n"))
	f.Add([]byte("/x/(a|b)$;80;desc\n/(;1;x\n;;\n"))
	f.Add([]byte("^/ok$;fp\r\n;\n\x00\xff;9\n"))
	f.Add([]byte("# Regin\n\\\\usbclass\\.sys;80\n%APPDATA%\\\\x;70;\\\\ok\nevil.example.com\n\n1.2.3.4;75\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nlines := strings.Count(string(data), "\n") + 1
		s := NewIOCs()
		for _, err := range []error{s.AddHashes(data, "h"), s.AddFilenames(data, "f"), s.AddFilenameFPs(data, "p"), s.AddC2(data, "c")} {
			for _, e := range unwrapAll(err) {
				var le *LineError
				if !errors.As(e, &le) || le.Line < 1 || le.Line > nlines {
					t.Fatalf("bad error %v (lines %d)", e, nlines)
				}
			}
		}
		for h, v := range s.hashes {
			if k, ok := hashKind(h); !ok || k != v.Kind || v.Score < 0 || v.Score > 100 {
				t.Fatalf("bad hash entry %+v", v)
			}
		}
		s.build()
		s.MatchPath("/"+string(data), false)
		s.MatchPath("/"+string(data), true)
	})
}

// Lists as signature-base publishes them (excerpts of iocs/*.txt, written
// the same way): descriptions in comments, Windows regexes with \\,
// environment variables, a per-line false-positive regex.
func TestLOKIPublishedFormats(t *testing.T) {
	s := NewIOCs()
	filenames := `#
# LOKI File Name Characteristics
# FORMAT -----------------------------------------------------------------------
# REGEX;SCORE
#

# Regin
\\usbclass\.sys;80
ystem32\\svcstat\.exe;80

# Malware locations
[Cc]:\\[\w]{1,2}\.(exe|com|scr);45
# Carbanak
%APPDATA%\\mozilla\\[^\\]+\.bin;80
# Temp svchost, but not the one Windows keeps there
\\Temp\\svchost\.exe;80;\\Windows\\Temp\\svchost\.exe
`
	if err := s.AddFilenames([]byte(filenames), "filename-iocs.txt"); err != nil {
		t.Fatal(err)
	}
	s.build()
	for _, tc := range []struct {
		path    string
		windows bool
		want    string // description of the top match, "" for none
	}{
		{"/Windows/System32/drivers/usbclass.sys", true, "Regin"},
		{"/Windows/System32/svcstat.exe", true, "Regin"},
		{"/ab.exe", true, "Malware locations"},
		{"/Users/bob/AppData/Roaming/mozilla/x.bin", true, "Carbanak"},
		{"/Users/bob/AppData/Local/Temp/svchost.exe", true, "Temp svchost, but not the one Windows keeps there"},
		{"/Windows/Temp/svchost.exe", true, ""}, // the line's false-positive regex
		{"/Windows/System32/usbclass.dll", true, ""},
		{"/Users/bob/AppData/Roaming/mozilla/sub/x.bin", true, ""},
		// On Linux, as LOKI reads Windows regexes there: \\ as /.
		{"/opt/usbclass.sys", false, "Regin"},
		{"/opt/usbclass.sys.txt", false, "Regin"},
		{"/opt/x/ab.exe", false, ""},
	} {
		got := s.MatchPath(tc.path, tc.windows)
		desc := ""
		if len(got) > 0 {
			desc = got[0].Description
		}
		if desc != tc.want {
			t.Errorf("MatchPath(%s, windows=%v) = %q, want %q", tc.path, tc.windows, desc, tc.want)
		}
	}

	c2 := `#
# LOKI C2 IOCs
# FORMAT
# c2-server.tld
#

# FireEye Operation Snowman https://goo.gl/x1v7mT
suroot.com
58.64.143.244
abc
EVIL.Example.org;75

203.0.113.9
`
	err := s.AddC2([]byte(c2), "c2-iocs.txt")
	var le *LineError
	if !errors.As(err, &le) || le.Line != 10 {
		t.Errorf("short indicator: %v, want an error on line 10", err)
	}
	want := []C2IOC{
		{"suroot.com", "FireEye Operation Snowman https://goo.gl/x1v7mT", DefaultC2Score, "c2-iocs.txt", 8},
		{"58.64.143.244", "FireEye Operation Snowman https://goo.gl/x1v7mT", DefaultC2Score, "c2-iocs.txt", 9},
		{"evil.example.org", "FireEye Operation Snowman https://goo.gl/x1v7mT", 75, "c2-iocs.txt", 11},
		{"203.0.113.9", "", DefaultC2Score, "c2-iocs.txt", 13}, // a blank line ends a description
	}
	if len(s.C2) != len(want) {
		t.Fatalf("C2 %+v", s.C2)
	}
	for i := range want {
		if s.C2[i] != want[i] {
			t.Errorf("C2[%d] = %+v, want %+v", i, s.C2[i], want[i])
		}
	}
	y := s.C2YARA()
	if strings.Count(y, "rule c2_ioc_") != 2 || !strings.Contains(y, `$c2 = "evil.example.org" ascii wide nocase fullword`) || !strings.Contains(y, "score = 75") {
		t.Errorf("C2 as YARA:\n%s", y)
	}
	if NewIOCs().C2YARA() != "" {
		t.Error("no C2 list, yet YARA text")
	}
}
