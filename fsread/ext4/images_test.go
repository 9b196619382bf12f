package ext4

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/testimg"
)

// variant is one way of making an ext filesystem with mke2fs.
type variant struct {
	name string
	args []string // mke2fs options
	// extraTimes: the inodes have room for nanoseconds (not -I 128).
	extraTimes bool
	// deepSparse puts a block beyond the double-indirect range into the
	// sparse file, so 1 KiB-block block maps use the triple indirect block.
	deepSparse bool
}

var variants = []variant{
	{name: "ext2", args: []string{"-t", "ext2"}, extraTimes: true},
	{name: "ext2-1k-nofiletype", args: []string{"-t", "ext2", "-b", "1024", "-O", "^filetype"}, extraTimes: true, deepSparse: true},
	{name: "ext3", args: []string{"-t", "ext3"}, extraTimes: true},
	{name: "ext4", args: []string{"-t", "ext4"}, extraTimes: true},
	{name: "ext4-nocsum", args: []string{"-t", "ext4", "-O", "^metadata_csum"}, extraTimes: true},
	{name: "ext4-no64bit", args: []string{"-t", "ext4", "-O", "^64bit"}, extraTimes: true},
	// -g 1024 makes 48 groups, so descriptors live in three meta groups (at groups 0, 16, 32).
	// -g 1024 makes 48 groups: descriptors sit in three meta groups (at
	// groups 0, 16 and 32) and inodes spread over several inode tables.
	{name: "ext4-metabg", args: []string{"-t", "ext4", "-O", "meta_bg,^resize_inode", "-g", "1024"}, extraTimes: true},
	{name: "ext4-inline", args: []string{"-t", "ext4", "-O", "inline_data"}, extraTimes: true},
	{name: "ext4-1k", args: []string{"-t", "ext4", "-b", "1024"}, extraTimes: true},
	{name: "ext4-4k", args: []string{"-t", "ext4", "-b", "4096"}, extraTimes: true},
	{name: "ext4-i128", args: []string{"-t", "ext4", "-I", "128"}},
}

func variantNamed(name string) variant {
	for _, v := range variants {
		if v.name == name {
			return v
		}
	}
	panic("no variant " + name)
}

var (
	imgDir  string
	imgMu   sync.Mutex
	imgDone = map[string]string{}
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "ext4test")
	if err != nil {
		panic(err)
	}
	imgDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func needTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (e2fsprogs): %v", tool, err)
		}
	}
}

func runCmd(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "E2FSPROGS_FAKE_TIME=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// debugfsW applies write requests to an image file (no root needed).
func debugfsW(t testing.TB, img string, reqs ...string) {
	t.Helper()
	for _, r := range reqs {
		out := runCmd(t, "debugfs", "-w", "-R", r, img)
		if strings.Contains(out, "not found") || strings.Contains(out, "Invalid") {
			t.Fatalf("debugfs %q: %s", r, out)
		}
	}
}

var flagsRe = regexp.MustCompile(`Flags: (0x[0-9a-f]+)`)

// orFlags sets extra i_flags bits on path, keeping the ones mke2fs set.
func orFlags(t testing.TB, img, path string, bits uint32) {
	t.Helper()
	m := flagsRe.FindStringSubmatch(runCmd(t, "debugfs", "-R", "stat "+path, img))
	if m == nil {
		t.Fatalf("no flags for %s", path)
	}
	cur, _ := strconv.ParseUint(m[1], 0, 32)
	debugfsW(t, img, fmt.Sprintf("sif %s flags 0x%x", path, uint32(cur)|bits))
}

// Names the tree holds, shared by the tests that check them.
var (
	unicodeName = "ünïcødé-文件-🙂.txt"
	long255     = strings.Repeat("n", 251) + ".txt"
	long255utf8 = strings.Repeat("é", 127) + "x"
	slowTarget  = "/" + strings.Repeat("long/", 15) + "target"
)

// padTarget makes a link target of exactly n bytes naming sizes/file.
func padTarget(n int, file string) string {
	return "../sizes" + strings.Repeat("/", n-len("../sizes")-len(file)) + file
}

func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// buildSource writes the tree every variant is made from.
func buildSource(t testing.TB, root string, deepSparse bool) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, data []byte, mode os.FileMode) {
		t.Helper()
		full := filepath.Join(root, p)
		must(os.MkdirAll(filepath.Dir(full), 0o755))
		must(os.WriteFile(full, data, 0o644))
		must(os.Chmod(full, mode))
	}
	write("dir1/dir2/dir3/deep.txt", []byte("deep\n"), 0o644)
	for i := 0; i < 300; i++ {
		write(fmt.Sprintf("many/entry-%03d-with-a-longer-name-for-htree", i), []byte(fmt.Sprintf("entry %d\n", i)), 0o644)
	}
	write("sizes/empty", nil, 0o644)
	write("sizes/size1", []byte("x"), 0o644)
	for _, n := range []int{59, 60, 61, 1023, 1024, 1025, 4095, 4096, 4097, 65536} {
		write(fmt.Sprintf("sizes/f%d", n), pattern(n, uint64(n)), 0o644)
	}
	write("big.bin", pattern(5<<20+17, 42), 0o644)

	sp := filepath.Join(root, "sparse.bin")
	f, err := os.Create(sp)
	must(err)
	size := int64(8 << 20)
	if deepSparse {
		size = 72 << 20
	}
	must(f.Truncate(size))
	for _, w := range []struct {
		off  int64
		data string
	}{{0, "start"}, {1<<20 + 123, "middle"}, {size - 3, "end"}} {
		_, err := f.WriteAt([]byte(w.data), w.off)
		must(err)
	}
	if deepSparse {
		_, err := f.WriteAt([]byte("triple-indirect"), 68<<20+5)
		must(err)
	}
	must(f.Close())

	write(unicodeName, []byte("unicode\n"), 0o644)
	write(long255, []byte("long name\n"), 0o644)
	write(long255utf8, []byte("long utf8 name\n"), 0o644)
	write("with space.txt", []byte("space\n"), 0o644)

	must(os.MkdirAll(filepath.Join(root, "links"), 0o755))
	for name, target := range map[string]string{
		"abs":      "/dir1/dir2/dir3/deep.txt",
		"rel":      "../sizes/size1",
		"dangling": "nowhere/missing",
		"slow":     slowTarget,
		"slowok":   strings.Repeat("./", 35) + "../sizes/size1",
		"fast59":   padTarget(59, "f4097"), // the longest fast symlink
		"slow60":   padTarget(60, "f4097"), // the shortest slow one
		"loop":     "loop",
		"dirlink":  "../dir1",
	} {
		must(os.Symlink(target, filepath.Join(root, "links", name)))
	}
	write("hard/a", []byte("shared\n"), 0o644)
	must(os.Link(filepath.Join(root, "hard/a"), filepath.Join(root, "hard/b")))
	must(os.Link(filepath.Join(root, "hard/a"), filepath.Join(root, "dir1/hl")))

	write("modes/setuid", []byte("#!/bin/sh\n"), 0o4755|os.ModeSetuid)
	must(os.Chmod(filepath.Join(root, "modes/setuid"), 0o755|os.ModeSetuid))
	write("modes/setgid", []byte("#!/bin/sh\n"), 0o755)
	must(os.Chmod(filepath.Join(root, "modes/setgid"), 0o755|os.ModeSetgid))
	must(os.Mkdir(filepath.Join(root, "modes/sticky"), 0o755))
	must(os.Chmod(filepath.Join(root, "modes/sticky"), 0o777|os.ModeSticky))

	must(os.MkdirAll(filepath.Join(root, "special"), 0o755))
	must(syscall.Mkfifo(filepath.Join(root, "special/fifo"), 0o644))
	must(syscall.Mknod(filepath.Join(root, "special/socket"), syscall.S_IFSOCK|0o644, 0))
	if os.Geteuid() == 0 {
		must(syscall.Mknod(filepath.Join(root, "special/chr"), syscall.S_IFCHR|0o600, 1<<8|3))
		must(syscall.Mknod(filepath.Join(root, "special/blk"), syscall.S_IFBLK|0o600, 7<<8))
	}

	write("flags/immutable", pattern(5000, 1), 0o644)
	write("flags/appendonly", pattern(5000, 2), 0o644)
	write("owners/owned", []byte("owned\n"), 0o640)
	write("owners/high", []byte("high ids\n"), 0o600)
	write("times/ns", []byte("times\n"), 0o644)
}

// image returns the path of the image for v, building it once per test binary.
func image(t testing.TB, v variant) string {
	t.Helper()
	needTools(t, "mke2fs", "debugfs", "e2fsck")
	imgMu.Lock()
	defer imgMu.Unlock()
	if p, ok := imgDone[v.name]; ok {
		return p
	}
	src := filepath.Join(imgDir, "src-"+strconv.FormatBool(v.deepSparse))
	if _, err := os.Stat(src); err != nil {
		buildSource(t, src, v.deepSparse)
	}
	img := filepath.Join(imgDir, v.name+".img")
	args := append([]string{"-q", "-F", "-L", "snap-" + v.name, "-d", src}, v.args...)
	args = append(args, img, "48M")
	runCmd(t, "mke2fs", args...)
	debugfsW(t, img,
		"sif /owners/owned uid 1234", "sif /owners/owned gid 5678",
		"sif /owners/high uid 100000", "sif /owners/high gid 200000",
		"sif /times/ns mtime 0x12345678",
	)
	if v.extraTimes {
		// Post-2038 seconds (epoch bits) plus nanoseconds.
		debugfsW(t, img, "sif /times/ns mtime_extra 0x499602d1", "sif /times/ns crtime_extra 0x00000f00")
	}
	if strings.HasPrefix(v.name, "ext4") && v.name != "ext4-inline" {
		preallocate(t, img)
	}
	orFlags(t, img, "/flags/immutable", fsread.FlagImmutable)
	orFlags(t, img, "/flags/appendonly", fsread.FlagAppendOnly)
	// mke2fs -d writes linear directories; e2fsck -D builds the htree
	// indexes a long-lived system would have where dir_index is on.
	cmd := exec.Command("e2fsck", "-fyD", img)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			t.Fatalf("e2fsck -fyD %s: %v\n%s", img, err, out)
		}
	}
	imgDone[v.name] = img
	return img
}

var reLeadingNum = regexp.MustCompile(`^\d+`)

// preallocate adds /prealloc: 8 blocks of uninitialized extents inside
// i_size, whose physical blocks hold 0xAA garbage that must read as zeros.
func preallocate(t testing.TB, img string) {
	t.Helper()
	debugfsW(t, img, "write /dev/null prealloc", "fallocate /prealloc 0 7")
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Probe(f)
	if err != nil {
		t.Fatal(err)
	}
	bs := int64(info.BlockSize)
	debugfsW(t, img, fmt.Sprintf("sif /prealloc size %d", 8*bs))
	garbage := bytes.Repeat([]byte{0xAA}, int(bs))
	for i := 0; i < 8; i++ {
		out := runCmd(t, "debugfs", "-R", fmt.Sprintf("bmap /prealloc %d", i), img)
		blk, err := strconv.ParseInt(reLeadingNum.FindString(out), 10, 64)
		if err != nil || !strings.Contains(out, "uninit") {
			t.Fatalf("bmap /prealloc %d: %q", i, out)
		}
		if _, err := f.WriteAt(garbage, blk*bs); err != nil {
			t.Fatal(err)
		}
	}
}

func openImage(t testing.TB, img string) fsread.FS { return testimg.OpenFS(t, img, New) }
