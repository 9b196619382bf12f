package image

import (
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
)

// The LVM fixture (fsread/lvm/testdata, made by the LVM tools): each
// logical volume is a volume of the image, named VG/LV, addressable by that
// name, its /dev/mapper name or its number; unsupported ones say why.
func TestLogicalVolumesAreVolumes(t *testing.T) {
	gz, err := os.Open(filepath.Join(testimg.RepoRoot(t), "fsread/lvm/testdata/lvm1.img.gz"))
	if err != nil {
		t.Skipf("LVM fixture absent: %v", err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lvm1.img")
	out, _ := os.Create(path)
	io.Copy(out, zr)
	out.Close()

	img, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	want := map[string]string{ // VG/LV -> "" when readable, else part of the reason
		"vgfixture/root": "", "vgfixture/data": "",
		"vgfixture/pool": "thin pool", "vgfixture/thin1": "thin volume", "vgfixture/r1": "raid1", "vgfixture/snap": "snapshot",
	}
	seen := 0
	for _, v := range img.Volumes {
		if v.Part == nil || v.Part.Type != "lvm2-lv" {
			if v.Detect.Kind == "lvm2-pv" && !v.HoldsVolumes {
				t.Errorf("the PV is not marked as holding volumes: %s", v.Reason)
			}
			continue
		}
		seen++
		reason, ok := want[v.Part.Name]
		if !ok {
			t.Errorf("unexpected LV %s", v.Part.Name)
			continue
		}
		if (reason == "") != v.Scannable || !strings.Contains(v.Reason, reason) {
			t.Errorf("%s: scannable %v reason %q, want %q", v.Part.Name, v.Scannable, v.Reason, reason)
		}
		if v.Index <= lvIndexBase || v.Name != "lvm1.img@"+v.Part.Name {
			t.Errorf("%s: index %d name %q", v.Part.Name, v.Index, v.Name)
		}
	}
	if seen != len(want) {
		t.Errorf("%d LVs, want %d", seen, len(want))
	}
	for _, sel := range []string{"vgfixture/root", "vgfixture-root", "root"} {
		v, err := img.Select(sel)
		if err != nil || v.Part == nil || v.Part.Name != "vgfixture/root" {
			t.Errorf("Select(%q): %v %v", sel, v, err)
			continue
		}
		fsys, err := v.FS()
		if err != nil {
			t.Fatal(err)
		}
		if b, err := fs.ReadFile(fsys, "etc/os-release"); err != nil || !strings.Contains(string(b), "ID=") {
			t.Errorf("reading the LV's filesystem: %q %v", b, err)
		}
	}
	if mapperName("vg-x", "my-lv") != "vg--x-my--lv" {
		t.Errorf("mapper name escaping: %s", mapperName("vg-x", "my-lv"))
	}
}

// The whole chain on an image made by others: QCOW2 -> LVM2 PV -> LV -> ext2.
func TestExternalLVMInQCOW2(t *testing.T) {
	path := testimg.External(t, "images/dfvfs/lvm.qcow2")
	img, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	v, err := img.Select("test_volume_group/test_logical_volume")
	if err != nil {
		t.Fatal(err)
	}
	if img.Container != "qcow2" || v.Detect.Kind != "ext2" || v.Detect.Label != "ext2_test" {
		t.Fatalf("container %s, LV content %s %q", img.Container, v.Detect.Kind, v.Detect.Label)
	}
	fsys, err := v.FS()
	if err != nil {
		t.Fatal(err)
	}
	// LISTING.txt (fls on the LV): a_directory/a_file, passwords.txt, a_link.
	for _, p := range []string{"a_directory/a_file", "passwords.txt", "a_directory/another_file"} {
		if _, err := fs.Stat(fsys, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
