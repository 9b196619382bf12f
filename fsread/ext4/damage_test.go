package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// One damaged directory block costs that block's entries, not the whole
// directory: the kernel keeps reading the next blocks, and so do we, and the
// damage is reported with what was read.
func TestDamagedDirectoryBlockKeepsTheOthers(t *testing.T) {
	for _, tool := range []string{"mke2fs", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	src := t.TempDir()
	dir := filepath.Join(src, "etc")
	os.Mkdir(dir, 0o755)
	const n = 120 // with 40-byte names, four 1 KiB blocks
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%03d-%s", i, strings.Repeat("x", 30))), []byte(strconv.Itoa(i)), 0o644)
	}
	img := filepath.Join(t.TempDir(), "d.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-b", "1024", "-O", "^dir_index", "-d", src, img, "4M").CombinedOutput(); err != nil {
		t.Skipf("mke2fs: %v %s", err, out)
	}
	out, err := exec.Command("debugfs", "-R", "bmap /etc 0", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	first, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("bmap: %q", out)
	}
	data, _ := os.ReadFile(img)
	// rec_len of the first record of block 0 ("."): 5 is never valid.
	binary.LittleEndian.PutUint16(data[first*1024+4:], 5)
	os.WriteFile(img, data, 0o644)

	f, _ := os.Open(img)
	defer f.Close()
	fsys, err := New(f, int64(len(data)), "damaged")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := fsys.ReadDir("etc")
	if !errors.Is(err, fsread.ErrCorrupt) {
		t.Errorf("ReadDir error %v, want the damage reported", err)
	}
	if len(ents) < n/2 || len(ents) >= n {
		t.Fatalf("%d of %d entries listed: want the other blocks' entries, not all and not none", len(ents), n)
	}
	for _, e := range ents {
		b, err := fs.ReadFile(fsys, "etc/"+e.Name())
		if err != nil || !strings.HasPrefix(e.Name(), fmt.Sprintf("file-%03d-", atoi(b))) {
			t.Errorf("%s: content %q %v", e.Name(), b, err)
		}
	}
	// A name that was in the damaged block is not "absent": it is unknown.
	_, err = fsys.Stat("etc/file-000-" + strings.Repeat("x", 30))
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lookup of a name in the damaged block: %v, want a corruption error, not 'does not exist'", err)
	}
}

func atoi(b []byte) int { n, _ := strconv.Atoi(string(b)); return n }
