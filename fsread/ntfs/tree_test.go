package ntfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/snapscan/snapscan/fsread"
)

func readFile(t *testing.T, fsys fsread.FS, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("ReadFile(%q): %v", name, err)
	}
	return b
}

func sparseWant() []byte {
	b := make([]byte, 8<<20)
	copy(b[1<<20:], randBytes(4, 4096))
	copy(b[8<<20-4:], "tail")
	return b
}

func TestContent(t *testing.T) {
	fsys := openImage(t, testImage(t))
	tests := []struct {
		name string
		want []byte
		attr uint32 // attributes that must be set
	}{
		{"Windows/System32/drivers/etc/hosts", hostsData, 0},
		{"windows/SYSTEM32/Drivers/ETC/HOSTS", hostsData, 0}, // Windows lookup semantics
		{"Windows/System32/Tasks/Microsoft/Windows/UpdateOrchestrator/Schedule Scan", taskData, 0},
		{"Users/Alice/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup/x.lnk", lnkData, 0},
		{"Program Files/Some App/app with spaces.exe", randBytes(1, 5000), 0},
		{"Users/Alice/Documents/" + unicodeName, []byte("grüezi\n"), 0},
		{"empty.txt", []byte{}, 0},
		{"big.bin", randBytes(2, 3<<20), 0},
		{"sparse.bin", sparseWant(), AttrSparse},
		{"Compressed/data.txt", compressible(), AttrCompressed},
		{"Compressed/small.txt", []byte("tiny and resident\n"), 0},
		{"Users/Alice/ads.txt", []byte("main stream\n"), 0},
		{"Windows/WinSxS/amd64_notepad/notepad.exe", randBytes(3, 70000), 0},
		{"Windows/System32/hidden.dll", []byte("MZ hidden"), AttrHidden | AttrSystem},
		// Through links: an Interix symlink, a Windows symlink, a junction.
		{"Windows/hostslink", hostsData, 0},
		{"Windows/winlink", hostsData, 0},
		{"Users/Alice/Junction/drivers/etc/hosts", hostsData, 0},
		// Exact case wins between POSIX names that differ only in case.
		{"CaseDir/readme.txt", []byte("lower\n"), 0},
		{"CaseDir/README.TXT", []byte("UPPER\n"), 0},
		// A DOS 8.3 alias opens the file, as on Windows.
		{"Program Files/LONGFI~1.TXT", []byte("long\n"), 0},
		{"Program Files/longfi~1.txt", []byte("long\n"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readFile(t, fsys, tc.name)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("content differs: got %d bytes, want %d", len(got), len(tc.want))
			}
			fi, err := fsys.Stat(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			m := fsread.MetaOf(fi)
			if m.Size != int64(len(tc.want)) || !m.Mode.IsRegular() || m.Mode.Perm() != 0o644 || m.HasOwner {
				t.Errorf("meta: size %d mode %v owner %v", m.Size, m.Mode, m.HasOwner)
			}
			if m.Attributes&tc.attr != tc.attr {
				t.Errorf("attributes %#x, want %#x set", m.Attributes, tc.attr)
			}
			// Random access through the opened file, as the YARA sweep does.
			f, err := fsys.Open(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(tc.want) > 10 {
				off := len(tc.want) / 3
				buf := make([]byte, min(9000, len(tc.want)-off))
				if _, err := f.(io.ReaderAt).ReadAt(buf, int64(off)); err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if !bytes.Equal(buf, tc.want[off:off+len(buf)]) {
					t.Errorf("ReadAt(%d) differs", off)
				}
			}
		})
	}
}

func TestMeta(t *testing.T) {
	fsys := openImage(t, testImage(t))

	t.Run("on-disk case kept", func(t *testing.T) {
		fi, err := fsys.Stat("WINDOWS/system32/DRIVERS/etc/Hosts")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Name() != "hosts" {
			t.Errorf("Name %q, want the on-disk %q", fi.Name(), "hosts")
		}
	})
	t.Run("times to 100 ns", func(t *testing.T) {
		fi, err := fsys.Stat("Windows/System32/hidden.dll")
		if err != nil {
			t.Fatal(err)
		}
		m := fsread.MetaOf(fi)
		if !m.Mtime.Equal(mtimeFixed) || !m.Atime.Equal(mtimeFixed) {
			t.Errorf("mtime %v atime %v, want %v", m.Mtime, m.Atime, mtimeFixed)
		}
		if m.Btime.IsZero() || m.Ctime.Before(m.Btime) {
			t.Errorf("btime %v ctime %v", m.Btime, m.Ctime)
		}
		fns, err := FileNames(fsys, "Windows/System32/hidden.dll")
		if err != nil || len(fns) != 1 {
			t.Fatalf("FileNames: %v %v", fns, err)
		}
		// $FILE_NAME keeps the creation-time stamps: utimes does not touch it.
		if fns[0].Mtime.Equal(mtimeFixed) || fns[0].Name != "hidden.dll" {
			t.Errorf("$FILE_NAME %+v follows the SI mtime", fns[0])
		}
	})
	t.Run("hard link", func(t *testing.T) {
		a, err1 := fsys.Stat("Windows/System32/notepad.exe")
		b, err2 := fsys.Stat("Windows/WinSxS/amd64_notepad/notepad.exe")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		ma, mb := fsread.MetaOf(a), fsread.MetaOf(b)
		if ma.Inode != mb.Inode || ma.Nlink != 2 {
			t.Errorf("inodes %d/%d nlink %d", ma.Inode, mb.Inode, ma.Nlink)
		}
	})
	t.Run("links", func(t *testing.T) {
		for _, tc := range []struct{ name, target string }{
			{"Windows/hostslink", "System32/drivers/etc/hosts"},
			{"Windows/winlink", "/Windows/System32/drivers/etc/hosts"},
			{"Users/Alice/Junction", "/Windows/System32"},
		} {
			fi, err := fsys.Lstat(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			m := fsread.MetaOf(fi)
			got, err := fsys.ReadLink(tc.name)
			if err != nil || got != tc.target || m.LinkTarget != tc.target || m.Mode&fs.ModeSymlink == 0 {
				t.Errorf("%s: ReadLink %q (%v), meta %q %v; want %q", tc.name, got, err, m.LinkTarget, m.Mode, tc.target)
			}
		}
		if fi, err := fsys.Stat("Users/Alice/Junction"); err != nil || !fi.IsDir() {
			t.Errorf("Stat through the junction: %v %v", fi, err)
		}
	})
	t.Run("8.3 alias not listed", func(t *testing.T) {
		ents, err := fsys.ReadDir("Program Files")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"Long File Name.txt", "Some App"}) {
			t.Errorf("ReadDir: %q", names)
		}
		fns, err := FileNames(fsys, "Program Files/Long File Name.txt")
		if err != nil {
			t.Fatal(err)
		}
		var dos bool
		for _, fn := range fns {
			dos = dos || (fn.Namespace == nsDOS && fn.Name == "LONGFI~1.TXT")
		}
		if !dos {
			t.Errorf("the image has no DOS name to hide: %+v", fns)
		}
	})
	t.Run("freed index blocks not listed", func(t *testing.T) {
		ents, err := fsys.ReadDir("Windows/Temp")
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 200 {
			t.Errorf("%d entries, want the 200 not deleted", len(ents))
		}
		for _, e := range ents {
			var i int
			if _, err := fmt.Sscanf(e.Name(), "file-%04d.tmp", &i); err != nil || i%2 != 0 || i >= 400 {
				t.Errorf("deleted or unknown entry listed: %s", e.Name())
			}
		}
	})
	t.Run("streams", func(t *testing.T) {
		ss, err := Streams(fsys, "Users/Alice/ads.txt")
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(ss, func(a, b Stream) int { return strings.Compare(a.Name, b.Name) })
		want := []Stream{{"Zone.Identifier", 26}, {"stream", 4}}
		if !slices.Equal(ss, want) {
			t.Errorf("Streams = %v, want %v", ss, want)
		}
		r, err := OpenStream(fsys, "Users/Alice/ads.txt", "stream")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		if string(b) != "data" {
			t.Errorf("stream content %q", b)
		}
		if _, err := OpenStream(fsys, "Users/Alice/ads.txt", "nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing stream: %v", err)
		}
	})
	t.Run("metafiles listed", func(t *testing.T) {
		fi, err := fsys.Stat("$MFT")
		if err != nil || fi.Size() == 0 || fsread.MetaOf(fi).Inode != 0 {
			t.Errorf("$MFT: %v %v", fi, err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, name := range []string{"nope", "Windows/nope", "Windows/System32/drivers/etc/hosts/x"} {
			if _, err := fsys.Stat(name); err == nil {
				t.Errorf("Stat(%q) succeeded", name)
			}
		}
		if _, err := fsys.Stat("nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(nope): %v, want ErrNotExist", err)
		}
	})
}

func TestProbe(t *testing.T) {
	img := testImage(t)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Probe(f)
	if err != nil {
		t.Fatal(err)
	}
	if info.Label != "SnapTest" || info.ClusterSize != 4096 || info.RecordSize != 1024 ||
		info.TotalSectors != 64<<20/512-1 || info.Version != "3.1" || !info.DirtyKnown || info.Dirty {
		t.Errorf("Probe = %+v", info)
	}
	if _, err := exec.LookPath("blkid"); err == nil {
		out, err := exec.Command("blkid", "-o", "value", "-s", "UUID", img).Output()
		if err != nil {
			t.Fatalf("blkid: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != info.Serial {
			t.Errorf("Serial %q, blkid says %q", info.Serial, got)
		}
	}
	if _, err := Probe(bytes.NewReader(make([]byte, 4096))); !errors.Is(err, ErrNotNTFS) {
		t.Errorf("Probe(zeros) = %v, want ErrNotNTFS", err)
	}
}

func TestFSTest(t *testing.T) {
	fsys := openImage(t, testImage(t))
	if err := fstest.TestFS(fsys, "Windows/System32/drivers/etc/hosts", "Users/Alice/ads.txt", "Compressed/data.txt", "$MFT"); err != nil {
		t.Fatal(err)
	}
}
