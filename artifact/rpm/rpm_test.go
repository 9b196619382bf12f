package rpm

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// BuildTestRoot runs rpmtest.sh (rpmbuild, rpm --initdb, rpm -i --justdb,
// rpm2cpio | cpio): a root with a real rpmdb.sqlite. It skips when a tool
// is missing.
func buildTestRoot(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"rpm", "rpmbuild", "rpm2cpio", "cpio", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed (scripts/deps.sh installs rpm and cpio)")
		}
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if out, err := exec.Command("bash", "rpmtest.sh", filepath.Join(dir, "work"), root).CombinedOutput(); err != nil {
		t.Fatalf("rpmtest.sh: %v\n%s", err, out)
	}
	return root
}

func dirOpener(dir string) Opener {
	return func(name string) (io.ReadCloser, int64, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, 0, err
		}
		fi, _ := f.Stat()
		return f, fi.Size(), nil
	}
}

func TestReadSQLite(t *testing.T) {
	root := buildTestRoot(t)
	pkgs, algos, errs := ReadSQLite(dirOpener(filepath.Join(root, "var/lib/rpm")))
	if len(errs) != 0 || len(pkgs) != 1 {
		t.Fatal(pkgs, errs)
	}
	p := pkgs[0]
	if p.Name != "hello" || p.Version != "1.0" || p.Release != "1" || algos[0] != AlgoSHA256 {
		t.Errorf("%+v algo %d", p, algos[0])
	}
	bin, _ := os.ReadFile(filepath.Join(root, "usr/bin/hello"))
	sum := fmt.Sprintf("%x", sha256.Sum256(bin))
	got := map[string]File{}
	for _, f := range p.Files {
		got[f.Path] = f
	}
	if f := got["/usr/bin/hello"]; f.Digest != sum || f.Config || f.Mode&0o111 == 0 {
		t.Errorf("hello: %+v, want digest %s", f, sum)
	}
	if f := got["/etc/hello.conf"]; !f.Config || len(f.Digest) != 64 {
		t.Errorf("hello.conf: %+v", f)
	}
}

func TestReadSQLiteBad(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"not sqlite": []byte(strings.Repeat("garbage!", 1000)),
		"empty":      nil,
	} {
		os.WriteFile(filepath.Join(dir, "rpmdb.sqlite"), data, 0o600)
		if pkgs, _, errs := ReadSQLite(dirOpener(dir)); len(errs) == 0 || !strings.Contains(errs[0].Error(), "rpmdb.sqlite") {
			t.Errorf("%s: %d packages, errors %v", name, len(pkgs), errs)
		}
	}
	os.Remove(filepath.Join(dir, "rpmdb.sqlite"))
	if _, _, errs := ReadSQLite(dirOpener(dir)); len(errs) == 0 {
		t.Error("missing database: no error")
	}
}

// header builds a blob: entries of (tag, type, count, data).
func header(ents ...any) []byte {
	var index, data []byte
	for i := 0; i+3 < len(ents); i += 4 {
		index = binary.BigEndian.AppendUint32(index, uint32(ents[i].(int)))
		index = binary.BigEndian.AppendUint32(index, uint32(ents[i+1].(int)))
		index = binary.BigEndian.AppendUint32(index, uint32(len(data)))
		index = binary.BigEndian.AppendUint32(index, uint32(ents[i+2].(int)))
		data = append(data, ents[i+3].([]byte)...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(index)/16))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(append(b, index...), data...)
}

func TestParseHeader(t *testing.T) {
	good := header(tagName, typeString, 1, []byte("bash\x00"), tagDirNames, typeStringArray, 1, []byte("/usr/bin/\x00"),
		tagBaseNames, typeStringArray, 2, []byte("bash\x00sh\x00"), tagDirIndexes, typeInt32, 2, []byte{0, 0, 0, 0, 0, 0, 0, 0},
		tagFileDigests, typeStringArray, 2, []byte("abc\x00\x00"), tagDigestAlgo, typeInt32, 1, []byte{0, 0, 0, 8})
	p, algo, err := ParseHeader(good)
	if err != nil || p.Name != "bash" || algo != AlgoSHA256 || !reflect.DeepEqual(p.Files, []File{{Path: "/usr/bin/bash", Digest: "abc"}, {Path: "/usr/bin/sh"}}) {
		t.Errorf("%+v %d %v", p, algo, err)
	}
	for name, b := range map[string][]byte{
		"short":          {0, 0},
		"no name":        header(tagVersion, typeString, 1, []byte("1\x00")),
		"dir index past": header(tagName, typeString, 1, []byte("x\x00"), tagBaseNames, typeStringArray, 1, []byte("a\x00"), tagDirIndexes, typeInt32, 1, []byte{0, 0, 0, 5}),
		"unterminated":   header(tagName, typeString, 1, []byte("xyz")),
		"wrong type":     header(tagName, typeInt32, 1, []byte{0, 0, 0, 1}),
		"huge count":     header(tagName, typeString, 1, []byte("x\x00"), tagBaseNames, typeStringArray, 1<<30, []byte("a\x00")),
	} {
		if _, _, err := ParseHeader(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(header(tagName, typeString, 1, []byte("bash\x00"), tagDirNames, typeStringArray, 1, []byte("/usr/bin/\x00"),
		tagBaseNames, typeStringArray, 1, []byte("bash\x00"), tagDirIndexes, typeInt32, 1, []byte{0, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, algo, err := ParseHeader(b)
		p2, algo2, err2 := ParseHeader(b)
		if (err == nil) != (err2 == nil) || algo != algo2 || !reflect.DeepEqual(p, p2) {
			t.Fatal("different result twice")
		}
		if err != nil {
			return
		}
		if p.Name == "" {
			t.Fatal("package without a name")
		}
		for _, f := range p.Files {
			if !strings.HasPrefix(f.Path, "/") {
				t.Fatalf("relative path %q", f.Path)
			}
		}
	})
}
