package apk

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func q1(s string) string {
	h := sha1.Sum([]byte(s))
	return "Q1" + base64.StdEncoding.EncodeToString(h[:])
}

// The layout apk-tools writes (a trimmed busybox entry).
var installed = "C:Q1abcdefghijklmnopqrstuvwxyz0=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nS:510000\nI:924000\nT:Size optimized toolbox\n" +
	"F:bin\nR:busybox\na:0:0:755\nZ:" + q1("busybox-binary") + "\nF:etc\nR:securetty\nZ:" + q1("console\n") + "\n\n" +
	"P:xmrig\nV:6.21.0-r0\nA:x86_64\nF:usr/bin\nR:xmrig\nZ:" + q1("x") + "\n"

func TestParseInstalled(t *testing.T) {
	pkgs, errs := ParseInstalled([]byte(installed))
	if len(errs) != 0 || len(pkgs) != 2 {
		t.Fatal(pkgs, errs)
	}
	h := sha1.Sum([]byte("busybox-binary"))
	want := []File{{"/bin/busybox", fmt.Sprintf("%x", h)}, {"/etc/securetty", fmt.Sprintf("%x", sha1.Sum([]byte("console\n")))}}
	if pkgs[0].Name != "busybox" || pkgs[0].Version != "1.36.1-r15" || pkgs[0].Arch != "x86_64" || !reflect.DeepEqual(pkgs[0].Files, want) || pkgs[1].Line != 16 {
		t.Errorf("%+v", pkgs)
	}
}

func TestParseInstalledBad(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		pkgs int
		line int
	}{
		"no P":         {"V:1\n\nP:ok\n", 1, 1},
		"R before F":   {"P:a\nR:x\n", 1, 2},
		"bad checksum": {"P:a\nF:bin\nR:x\nZ:Q1!!!\n", 1, 4},
		"md5 checksum": {"P:a\nF:bin\nR:x\nZ:d41d8cd98f00b204e9800998ecf8427e\n", 1, 4},
		"garbage":      {"\x00\x01\x02\n\nP:a\n", 1, 1},
	} {
		pkgs, errs := ParseInstalled([]byte(c.in))
		if len(pkgs) != c.pkgs || len(errs) == 0 || errs[0].(*LineError).Line != c.line {
			t.Errorf("%s: %d packages, errors %v", name, len(pkgs), errs)
		}
	}
}

func FuzzParseInstalled(f *testing.F) {
	f.Add([]byte(installed[:200]))
	f.Add([]byte("P:a\nF:b\nR:c\nZ:" + q1("c") + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, errs := ParseInstalled(data)
		pkgs2, _ := ParseInstalled(data)
		if !reflect.DeepEqual(pkgs, pkgs2) {
			t.Fatal("different result twice")
		}
		for _, p := range pkgs {
			if p.Name == "" {
				t.Fatal("package without a name")
			}
			for _, f := range p.Files {
				if !strings.HasPrefix(f.Path, "/") || f.SHA1 != "" && len(f.SHA1) != 40 {
					t.Fatalf("bad file %+v", f)
				}
			}
		}
		for _, e := range errs {
			if l := e.(*LineError).Line; l < 1 || l > strings.Count(string(data), "\n")+1 {
				t.Fatalf("line %d", l)
			}
		}
	})
}
