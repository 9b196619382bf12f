package image

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/testimg"
)

// layoutOf is what must not depend on the container: table, volumes, what
// is in them, and the root listing of each readable volume.
func layoutOf(t *testing.T, img *Image) []string {
	t.Helper()
	var out []string
	if img.Table != nil {
		out = append(out, fmt.Sprintf("table %s sector %d disk %s", img.Table.Scheme, img.Table.SectorSize, img.Table.DiskGUID))
	}
	for _, v := range img.Volumes {
		line := fmt.Sprintf("vol %d %q start=%d size=%d kind=%v label=%q uuid=%s scannable=%v %s",
			v.Index, strings.TrimPrefix(v.Name, img.baseName()), v.Start, v.Size, v.Detect.Kind, v.Detect.Label, v.Detect.UUID, v.Scannable, v.Reason)
		if v.Scannable {
			fsys, err := v.FS()
			if err != nil {
				t.Fatalf("volume %d: %v", v.Index, err)
			}
			ents, err := fs.ReadDir(fsys, ".")
			if err != nil {
				t.Fatalf("volume %d: %v", v.Index, err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			line += " root=" + strings.Join(names, ",")
			// Every file's content, so a wrong block deep in the disk shows.
			h := sha256.New()
			err = fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				f, err := fsys.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				fmt.Fprintf(h, "%s\n", p)
				_, err = io.Copy(h, f)
				return err
			})
			if err != nil {
				t.Fatalf("volume %d: %v", v.Index, err)
			}
			line += fmt.Sprintf(" files=%x", h.Sum(nil))
		}
		out = append(out, line)
	}
	return out
}

func TestContainersLayOutLikeRaw(t *testing.T) {
	rawImg, err := Open(testimg.Path(t, "gpt-efi-ext4.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer rawImg.Close()
	want := layoutOf(t, rawImg)
	// The raw image itself must be the GPT disk with EFI and ext4 root:
	// otherwise agreeing with it would prove nothing.
	if rawImg.Container != "raw" || rawImg.Table == nil || rawImg.Table.Scheme != "gpt" || len(rawImg.Volumes) != 2 ||
		!strings.Contains(want[1], "kind=vfat") || !strings.Contains(want[2], "kind=ext4") || !strings.Contains(want[2], "files=") {
		t.Fatalf("raw reference layout is not GPT with EFI + ext4 root: %q", want)
	}
	for _, tc := range []struct{ name, format string }{
		{"disk.qcow2", "qcow2"},
		{"disk.vhdx", "vhdx"},
		{"disk.vpc", "vhd (dynamic)"},
		{"disk.vmdk", "vmdk (monolithicSparse)"},
		{"disk-stream.vmdk", "vmdk (streamOptimized)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Open(testimg.Path(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if img.Container != tc.format {
				t.Errorf("Container %q, want %q", img.Container, tc.format)
			}
			got := layoutOf(t, img)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("layout differs from the raw image:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestUnsupportedContainersRefusedWithHint(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, off int, magic string) string {
		b := make([]byte, 1<<20)
		copy(b[off:], magic)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{write("case.E01", 0, "EVF\x09\x0d\x0a\xff\x00"), []string{"E01", "not supported", "ewfexport"}},
		{write("vm.bin", 64, "\x7f\x10\xda\xbe"), []string{"vdi", "not supported", "qemu-img convert"}},
	} {
		_, err := Open(tc.path)
		if err == nil {
			t.Errorf("%s: opened, want a refusal", tc.path)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.path, err, w)
			}
		}
	}
}

// A qcow2 overlay whose backing file is not followed is still opened, and
// the examiner is told.
func TestBackingFileBecomesWarning(t *testing.T) {
	qemu, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed: cannot make a qcow2 overlay")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	overlay := filepath.Join(dir, "overlay.qcow2")
	for _, args := range [][]string{
		{"convert", "-O", "qcow2", testimg.Path(t, "gpt-efi-ext4.img"), base},
		{"create", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay},
	} {
		if out, err := exec.Command(qemu, args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
		}
	}
	img, err := Open(overlay)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if !strings.Contains(strings.Join(img.Warnings, "\n"), "not followed") {
		t.Errorf("warnings %q do not report the unfollowed backing file", img.Warnings)
	}
}
