package ntfs

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// The fuzz seeds come from a 2 MiB mkntfs volume made at fuzz start (no
// root needed: ntfscp writes into the image file), so no binary seed is
// committed. With 512-byte clusters the boot sector and the first MFT
// records sit in the first 44 KiB, which is what FuzzNew mutates.
const overlayLen = 0xAC00

// tinyFiles are copied into the tiny image by ntfscp.
var tinyFiles = map[string][]byte{"hosts": hostsData, "Run Key.txt": []byte("x.exe\n"), unicodeName: randBytes(9, 3000)}

var (
	tinyOnce sync.Once
	tinyImg  []byte
	tinyErr  error
)

func tinyImage(t testing.TB) []byte {
	t.Helper()
	needTool(t, "mkntfs", "ntfscp")
	tinyOnce.Do(func() {
		p := filepath.Join(workDir, "tiny.img")
		if tinyErr = os.WriteFile(p, make([]byte, 2<<20), 0o644); tinyErr != nil {
			return
		}
		if tinyErr = run("mkntfs", "-F", "-f", "-Q", "-c", "512", "-L", "Tiny", p); tinyErr != nil {
			return
		}
		for name, data := range tinyFiles {
			src := filepath.Join(workDir, "src-"+strings.ReplaceAll(name, " ", "_"))
			if tinyErr = os.WriteFile(src, data, 0o644); tinyErr != nil {
				return
			}
			if tinyErr = run("ntfscp", "-f", p, src, name); tinyErr != nil {
				return
			}
		}
		tinyImg, tinyErr = os.ReadFile(p)
	})
	if tinyErr != nil {
		t.Fatalf("building the tiny image: %v", tinyErr)
	}
	return tinyImg
}

// TestTinyImage needs no root: mkntfs and ntfscp write the image file.
func TestTinyImage(t *testing.T) {
	fsys, err := New(bytes.NewReader(tinyImage(t)), 0, "tiny.img")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range tinyFiles {
		for _, spelling := range []string{name, strings.ToUpper(name), strings.ToLower(name)} {
			got, err := fs.ReadFile(fsys, spelling)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%q: %d bytes, want %d (%v)", spelling, len(got), len(want), err)
			}
		}
	}
	ents, err := fsys.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var user int
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "$") {
			user++
		}
	}
	if user != len(tinyFiles) {
		t.Errorf("%d non-metafile entries in the root, want %d", user, len(tinyFiles))
	}
}

func FuzzNew(f *testing.F) {
	base := tinyImage(f)
	f.Add(bytes.Clone(base[:overlayLen]))
	f.Add(bytes.Clone(base[:512]))
	// The root directory's record with its index entries scrambled a bit.
	root := bytes.Clone(base[:overlayLen])
	for i := 0x4000 + 5*1024 + 0x100; i < 0x4000+6*1024-8; i += 37 {
		root[i] ^= 0x5A
	}
	f.Add(root)
	f.Fuzz(func(t *testing.T, data []byte) {
		img := bytes.Clone(base)
		copy(img, data)
		hangGuard(t, 10*time.Second, func() { exercise(bytes.NewReader(img), int64(len(img))) })
	})
}

func FuzzLookup(f *testing.F) {
	fsys, err := New(bytes.NewReader(tinyImage(f)), 0, "tiny.img")
	if err != nil {
		f.Fatal(err)
	}
	if b, err := fs.ReadFile(fsys, "Run Key.txt"); err != nil || string(b) != "x.exe\n" {
		f.Fatalf("tiny image lacks its files: %q %v", b, err)
	}
	for _, s := range []string{"hosts", "HOSTS", "Run Key.txt", unicodeName, "$MFT", "$Extend/$Quota", ".", "a/../hosts", "hosts/x", "RUNKEY~1.TXT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		fi, err := fsys.Stat(name)
		if err != nil {
			return
		}
		if fi.Mode().IsRegular() {
			b, err := fs.ReadFile(fsys, name)
			if err != nil || int64(len(b)) != fi.Size() {
				t.Fatalf("%q: stat size %d, read %d bytes (%v)", name, fi.Size(), len(b), err)
			}
		}
		// Lookup is case-insensitive: for an ASCII name the upper-case
		// spelling must name the same MFT entry.
		if up := strings.ToUpper(name); up != name && isASCII(name) {
			fu, err := fsys.Stat(up)
			if err != nil || fsread.MetaOf(fu).Inode != fsread.MetaOf(fi).Inode {
				t.Fatalf("%q found but %q: %v", name, up, err)
			}
		}
	})
}

// hangGuard fails with every goroutine's stack when f runs too long: the
// fuzzer itself has no per-input timeout, and a hang is a bug here.
func hangGuard(t *testing.T, d time.Duration, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		t.Fatalf("no answer within %v:\n%s", d, buf[:runtime.Stack(buf, true)])
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
