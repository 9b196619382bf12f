package linux

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
)

// imagesDir holds the images make.sh built from the trees;
// SNAPSCAN_TEST_IMAGES points elsewhere (a fresh make.sh TESTIMG_OUT).
func imagesDir() string {
	if d := os.Getenv("SNAPSCAN_TEST_IMAGES"); d != "" {
		return d
	}
	return "../../testdata/images"
}

// mountImage decompresses IMAGE.gz, loop-mounts its partitions read-only by
// GPT name ("root" at the top, "home" at /home) or, without a partition
// table, the whole image, and returns the mount point.
func mountImage(t *testing.T, name string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop-mounts the image as the kernel oracle")
	}
	for _, tool := range []string{"mount", "umount", "sfdisk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	gz := filepath.Join(imagesDir(), name+".gz")
	in, err := os.Open(gz)
	if err != nil {
		t.Skipf("%s not built yet (testdata/images/make.sh %s): %v", gz, name, err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	img := filepath.Join(tmp, name)
	out, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, io.LimitReader(zr, 1<<30)); err != nil {
		t.Fatal(err)
	}
	out.Close()

	type part struct {
		Start, Size int64
		Name        string
	}
	var table struct {
		PartitionTable struct {
			SectorSize int64 `json:"sectorsize"`
			Partitions []part
		} `json:"partitiontable"`
	}
	mnt := filepath.Join(tmp, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mount := func(dir string, off, size int64) {
		opts := "ro,loop,noload"
		if size > 0 {
			opts += fmt.Sprintf(",offset=%d,sizelimit=%d", off, size)
		}
		if out, err := exec.Command("mount", "-t", "ext4", "-o", opts, img, dir).CombinedOutput(); err != nil {
			t.Skipf("cannot loop-mount (no loop devices in this container?): %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
	}
	js, err := exec.Command("sfdisk", "--json", img).Output()
	if err != nil || json.Unmarshal(js, &table) != nil || len(table.PartitionTable.Partitions) == 0 {
		mount(mnt, 0, 0)
		return mnt
	}
	ss := table.PartitionTable.SectorSize
	if ss == 0 {
		ss = 512
	}
	var home *part
	for i, p := range table.PartitionTable.Partitions {
		switch p.Name {
		case "root":
			mount(mnt, p.Start*ss, p.Size*ss)
		case "home":
			home = &table.PartitionTable.Partitions[i]
		}
	}
	if home != nil {
		mount(filepath.Join(mnt, "home"), home.Start*ss, home.Size*ss)
	}
	return mnt
}

// TestKernelInfectedImage runs the checks over the ext4 image make.sh built
// from linux-infected, mounted by the kernel: real chattr flags, real birth
// times, /home on its own filesystem. The planting spec must hold as it
// does on the tree.
func TestKernelInfectedImage(t *testing.T) {
	mnt := mountImage(t, "linux-infected.img")
	fsys, err := dirfs.New(mnt)
	if err != nil {
		t.Fatal(err)
	}
	s := runAll(t, fsys)
	assertExpect(t, s, srcDir+"linux-infected.expect")
}

// TestKernelCleanImage: the clean image gives nothing of medium or worse.
func TestKernelCleanImage(t *testing.T) {
	mnt := mountImage(t, "linux-clean.img")
	fsys, err := dirfs.New(mnt)
	if err != nil {
		t.Fatal(err)
	}
	s := runAll(t, fsys)
	for _, f := range s.findings {
		if f.Severity >= report.Medium {
			t.Errorf("clean image: %s line %d %s %s: %s", f.Evidence.Path, f.Evidence.Line, f.Rule, f.Severity, f.Evidence.Match)
		}
	}
	if len(s.inv) < 50 {
		t.Errorf("inventory of %d items: the mount was not read", len(s.inv))
	}
}
