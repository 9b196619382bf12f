package dpkg

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const status = `Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Version: 12.4+deb12u5
Architecture: amd64
Conffiles:
 /etc/debian_version 9b06e1ac3ce4d0a4a0e6ba4bd3f4f1cd
 /etc/dot file 0123456789abcdef0123456789abcdef obsolete
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy.

Package: libc6
Status: install ok installed
Multi-Arch: same
Architecture: amd64
Version: 2.36-9+deb12u4

Package: gone
Status: deinstall ok config-files
Version: 1.0
`

func TestParseStatus(t *testing.T) {
	pkgs, errs := ParseStatus([]byte(status))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(pkgs) != 3 {
		t.Fatalf("%d packages", len(pkgs))
	}
	bf := pkgs[0]
	want := []Conffile{{"/etc/debian_version", "9b06e1ac3ce4d0a4a0e6ba4bd3f4f1cd", false}, {"/etc/dot file", "0123456789abcdef0123456789abcdef", true}}
	if bf.Name != "base-files" || bf.Version != "12.4+deb12u5" || !reflect.DeepEqual(bf.Conffiles, want) || !bf.HasFiles() {
		t.Errorf("base-files: %+v", bf)
	}
	if pkgs[1].InfoName() != "libc6:amd64" || pkgs[0].InfoName() != "base-files" {
		t.Errorf("info names %q %q", pkgs[1].InfoName(), pkgs[0].InfoName())
	}
	if pkgs[2].HasFiles() || pkgs[2].State() != "config-files" || pkgs[2].Line != 19 {
		t.Errorf("gone: %+v", pkgs[2])
	}
}

func TestParseStatusBad(t *testing.T) {
	cases := []struct {
		name, in string
		pkgs     []string
		errLine  int
	}{
		{"garbage line", "Package: aa\nthis is not a field\nVersion: 1\n\nPackage: bb\n", []string{"aa", "bb"}, 2},
		{"no package field", "Version: 1\n\nPackage: bb\n", []string{"bb"}, 1},
		{"bad name", "Package: A B\n\nPackage: bb\n", []string{"bb"}, 1},
		{"continuation first", " stray\nPackage: aa\n", []string{"aa"}, 1},
		{"bad conffile", "Package: aa\nConffiles:\n /etc/x nothex\n", []string{"aa"}, 3},
		{"binary junk", "\x00\x01\xff\n\nPackage: bb\n", []string{"bb"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pkgs, errs := ParseStatus([]byte(c.in))
			var names []string
			for _, p := range pkgs {
				names = append(names, p.Name)
			}
			if !reflect.DeepEqual(names, c.pkgs) {
				t.Errorf("packages %v, want %v", names, c.pkgs)
			}
			if len(errs) == 0 || errs[0].(*LineError).Line != c.errLine {
				t.Errorf("errors %v, want one at line %d", errs, c.errLine)
			}
		})
	}
}

func TestParseMD5Sums(t *testing.T) {
	in := "d41d8cd98f00b204e9800998ecf8427e  usr/bin/top\nZZZd8cd98f00b204e9800998ecf8427e  usr/bin/bad\n" +
		"D41D8CD98F00B204E9800998ECF8427E  usr/share/a b\nnodigest\n"
	sums, errs := ParseMD5Sums([]byte(in))
	want := []FileSum{{"/usr/bin/top", "d41d8cd98f00b204e9800998ecf8427e", 1}, {"/usr/share/a b", "d41d8cd98f00b204e9800998ecf8427e", 3}}
	if !reflect.DeepEqual(sums, want) {
		t.Errorf("sums %+v", sums)
	}
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "line 2: bad MD5") || !strings.Contains(errs[1].Error(), "line 4") {
		t.Errorf("errors %v", errs)
	}
}

func TestParseDiversions(t *testing.T) {
	d, err := ParseDiversions([]byte("/bin/sh\n/bin/sh.distrib\ndash\n/x\n"))
	if len(d) != 1 || d[0] != (Diversion{"/bin/sh", "/bin/sh.distrib", "dash"}) || err == nil {
		t.Errorf("%v %v", d, err)
	}
	if d, err := ParseDiversions(nil); d != nil || err != nil {
		t.Errorf("empty: %v %v", d, err)
	}
}

// TestRealDebootstrapDB parses the database of a real Debian (the tree
// scanner/linux's debootstrap test builds): every md5sums file parses clean.
func TestRealDebootstrapDB(t *testing.T) {
	root := "/var/cache/snapscan-test/bookworm/var/lib/dpkg"
	data, err := os.ReadFile(filepath.Join(root, "status"))
	if err != nil {
		t.Skip("no debootstrap tree (scanner/linux TestDebootstrapBookworm builds it as root): ", err)
	}
	pkgs, errs := ParseStatus(data)
	if len(errs) != 0 || len(pkgs) < 80 {
		t.Fatalf("%d packages, errors %v", len(pkgs), errs)
	}
	files := 0
	for _, p := range pkgs {
		data, err := os.ReadFile(filepath.Join(root, "info", p.InfoName()+".md5sums"))
		if err != nil {
			continue
		}
		sums, errs := ParseMD5Sums(data)
		if len(errs) != 0 {
			t.Errorf("%s: %v", p.Name, errs)
		}
		files += len(sums)
	}
	if files < 3000 {
		t.Errorf("only %d packaged files", files)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(status))
	f.Add([]byte("d41d8cd98f00b204e9800998ecf8427e  usr/bin/top\n"))
	f.Add([]byte("/bin/sh\n/bin/sh.distrib\ndash\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, errs := ParseStatus(data)
		pkgs2, _ := ParseStatus(data)
		if !reflect.DeepEqual(pkgs, pkgs2) {
			t.Fatal("status: different result twice")
		}
		for _, p := range pkgs {
			if !validName(p.Name) {
				t.Fatalf("invalid name %q returned", p.Name)
			}
			for _, c := range p.Conffiles {
				if !strings.HasPrefix(c.Path, "/") || (c.MD5 != "newconffile" && !isMD5(c.MD5)) {
					t.Fatalf("bad conffile %+v", c)
				}
			}
		}
		for _, e := range errs {
			if l := e.(*LineError).Line; l < 1 || l > strings.Count(string(data), "\n")+1 {
				t.Fatalf("error line %d out of range", l)
			}
		}
		// md5sums round trip: what was parsed, written back, parses the same.
		sums, _ := ParseMD5Sums(data)
		var b strings.Builder
		for _, s := range sums {
			if !isMD5(s.MD5) || !strings.HasPrefix(s.Path, "/") {
				t.Fatalf("bad sum %+v", s)
			}
			if strings.ContainsAny(s.Path, "\n") {
				t.Fatalf("newline in path %q", s.Path)
			}
			fmt.Fprintf(&b, "%s  %s\n", s.MD5, strings.TrimPrefix(s.Path, "/"))
		}
		again, errs2 := ParseMD5Sums([]byte(b.String()))
		if len(errs2) != 0 || len(again) != len(sums) {
			t.Fatalf("round trip: %d of %d, %v", len(again), len(sums), errs2)
		}
		for i := range again {
			if again[i].MD5 != sums[i].MD5 || again[i].Path != sums[i].Path {
				t.Fatalf("round trip %+v != %+v", again[i], sums[i])
			}
		}
		ParseDiversions(data)
		ParseList(data)
	})
}
