package ntfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
)

// The test image is made by mkntfs and populated through an ntfs-3g
// mount, the way a real NTFS driver writes files, once per test binary.

var (
	workDir string // removed by TestMain

	imgOnce sync.Once
	imgPath string
	imgErr  error
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "snapscan-ntfs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func needTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s: not installed", n)
		}
	}
}

// canMount reports why ntfs-3g mounts are impossible here, or "".
func canMount() string {
	if os.Geteuid() != 0 {
		return "needs root: ntfs-3g mount"
	}
	for _, n := range []string{"ntfs-3g", "mkntfs", "umount"} {
		if _, err := exec.LookPath(n); err != nil {
			return "needs " + n + ": not installed"
		}
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "needs /dev/fuse for ntfs-3g"
	}
	return ""
}

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	// ntfs-3g forks the FUSE daemon, which can keep the output pipe open
	// after the mount command exited: without a bound, CombinedOutput
	// waits for it for ever (seen here on a loaded machine).
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the command succeeded; only its daemon held the pipe
	}
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// mountNTFS mounts img on a new directory; the returned func unmounts.
func mountNTFS(img string, ro bool) (string, func(), error) {
	dir, err := os.MkdirTemp(workDir, "mnt-")
	if err != nil {
		return "", nil, err
	}
	opts := "rw"
	if ro {
		opts = "ro,show_sys_files"
	}
	if err := run("ntfs-3g", "-o", opts, img, dir); err != nil {
		return "", nil, err
	}
	return dir, func() {
		if run("umount", dir) != nil {
			time.Sleep(200 * time.Millisecond)
			run("umount", "-l", dir)
		}
	}, nil
}

// Fixed contents of the test tree, shared by the build and the asserts.
var (
	hostsData   = []byte("127.0.0.1 localhost\n10.0.0.5 pool.minexmr.example\n")
	taskData    = utf16le("\ufeff<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task><Actions><Exec><Command>C:\\x.exe</Command></Exec></Actions></Task>\r\n")
	lnkData     = append([]byte{0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0}, bytes.Repeat([]byte("LNK"), 40)...)
	unicodeName = "Zürich – 日本語 😀.txt"
	mtimeFixed  = time.Date(2021, 3, 4, 5, 6, 7, 123456700, time.UTC)
)

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}

// compressible mixes text, zeros and random units so that an LZNT1 stream
// has compressed, stored-raw and all-zero (sparse) compression units.
func compressible() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 300<<10; i++ {
		switch i % 4 {
		case 0, 1:
			fmt.Fprintf(&b, "line %06d: the quick brown fox jumps over the lazy dog\n", i)
		case 2:
			b.Write(make([]byte, 70<<10))
		case 3:
			b.Write(randBytes(uint64(i), 40<<10))
		}
	}
	return b.Bytes()[:300<<10+123]
}

// reparseBuf builds a symlink (relative false) or junction reparse buffer.
func reparseBuf(junction bool, subst, print string) []byte {
	s, p := utf16le(subst), utf16le(print)
	var body bytes.Buffer
	le := func(v any) { binary.Write(&body, binary.LittleEndian, v) }
	le(uint16(0))
	le(uint16(len(s)))
	le(uint16(len(s) + 2))
	le(uint16(len(p)))
	tag := uint32(tagSymlink)
	if junction {
		tag = tagMountPoint
	} else {
		le(uint32(0)) // absolute
	}
	body.Write(s)
	body.Write([]byte{0, 0})
	body.Write(p)
	body.Write([]byte{0, 0})
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, tag)
	binary.Write(&out, binary.LittleEndian, uint16(body.Len()))
	binary.Write(&out, binary.LittleEndian, uint16(0))
	out.Write(body.Bytes())
	return out.Bytes()
}

// testImage returns the populated image, building it on first use.
func testImage(t testing.TB) string {
	t.Helper()
	if why := canMount(); why != "" {
		t.Skip(why)
	}
	imgOnce.Do(func() { imgPath, imgErr = buildImage() })
	if imgErr != nil {
		t.Fatalf("building the NTFS test image: %v", imgErr)
	}
	return imgPath
}

func buildImage() (string, error) {
	img := filepath.Join(workDir, "tree.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		return "", err
	}
	if err := run("mkntfs", "-F", "-f", "-Q", "-L", "SnapTest", img); err != nil {
		return "", err
	}
	mnt, umount, err := mountNTFS(img, false)
	if err != nil {
		return "", err
	}
	err = populate(mnt)
	umount()
	if err != nil {
		return "", err
	}
	return img, nil
}

func populate(m string) error {
	var firstErr error
	check := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	p := func(rel string) string { return filepath.Join(m, filepath.FromSlash(rel)) }
	write := func(rel string, data []byte) {
		check(os.MkdirAll(filepath.Dir(p(rel)), 0o755))
		check(os.WriteFile(p(rel), data, 0o644))
	}
	write("Windows/System32/drivers/etc/hosts", hostsData)
	write("Windows/System32/Tasks/Microsoft/Windows/UpdateOrchestrator/Schedule Scan", taskData)
	write("Users/Alice/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup/x.lnk", lnkData)
	write("Program Files/Some App/app with spaces.exe", randBytes(1, 5000))
	write("Users/Alice/Documents/"+unicodeName, []byte("grüezi\n"))
	write("empty.txt", nil)
	write("big.bin", randBytes(2, 3<<20))
	write("Windows/System32/notepad.exe", randBytes(3, 70000))
	check(os.MkdirAll(p("Windows/WinSxS/amd64_notepad"), 0o755))
	check(os.Link(p("Windows/System32/notepad.exe"), p("Windows/WinSxS/amd64_notepad/notepad.exe")))

	// Sparse: two data islands in 8 MiB of holes.
	f, err := os.Create(p("sparse.bin"))
	check(err)
	if err == nil {
		_, err = f.WriteAt(randBytes(4, 4096), 1<<20)
		check(err)
		_, err = f.WriteAt([]byte("tail"), 8<<20-4)
		check(err)
		check(f.Close())
	}

	// Compressed: the directory flag makes new files in it LZNT1-compressed.
	check(os.MkdirAll(p("Compressed"), 0o755))
	check(syscall.Setxattr(p("Compressed"), "system.ntfs_attrib_be", []byte{0, 0, 0x08, 0x10}, 0))
	write("Compressed/data.txt", compressible())
	write("Compressed/small.txt", []byte("tiny and resident\n"))

	write("Users/Alice/ads.txt", []byte("main stream\n"))
	check(syscall.Setxattr(p("Users/Alice/ads.txt"), "user.stream", []byte("data"), 0))
	check(syscall.Setxattr(p("Users/Alice/ads.txt"), "user.Zone.Identifier", []byte("[ZoneTransfer]\r\nZoneId=3\r\n"), 0))

	// Hidden+system attributes and a fixed modification time.
	write("Windows/System32/hidden.dll", []byte("MZ hidden"))
	check(syscall.Setxattr(p("Windows/System32/hidden.dll"), "system.ntfs_attrib_be", []byte{0, 0, 0, 0x26}, 0))
	check(os.Chtimes(p("Windows/System32/hidden.dll"), mtimeFixed, mtimeFixed))

	// Links: ntfs-3g's own (Interix), a Windows symlink and a junction.
	check(os.Symlink("System32/drivers/etc/hosts", p("Windows/hostslink")))
	write("Windows/winlink", nil)
	check(syscall.Setxattr(p("Windows/winlink"), "system.ntfs_reparse_data",
		reparseBuf(false, `\??\C:\Windows\System32\drivers\etc\hosts`, `C:\Windows\System32\drivers\etc\hosts`), 0))
	check(os.MkdirAll(p("Users/Alice/Junction"), 0o755))
	check(syscall.Setxattr(p("Users/Alice/Junction"), "system.ntfs_reparse_data",
		reparseBuf(true, `\??\C:\Windows\System32`, `C:\Windows\System32`), 0))

	// A DOS 8.3 alias beside the long name.
	write("Program Files/Long File Name.txt", []byte("long\n"))
	check(syscall.Setxattr(p("Program Files/Long File Name.txt"), "system.ntfs_dos_name", []byte("LONGFI~1.TXT"), 0))

	// POSIX-namespace names differing only in case.
	write("CaseDir/readme.txt", []byte("lower\n"))
	write("CaseDir/README.TXT", []byte("UPPER\n"))

	// A large directory, then half of it deleted: index blocks freed by
	// the deletions keep their old entries and must not be listed.
	for i := range 800 {
		write(fmt.Sprintf("Windows/Temp/file-%04d.tmp", i), []byte(fmt.Sprintf("temp %d\n", i)))
	}
	for i := range 800 {
		if i%2 == 1 || i >= 400 {
			check(os.Remove(p(fmt.Sprintf("Windows/Temp/file-%04d.tmp", i))))
		}
	}
	return firstErr
}
