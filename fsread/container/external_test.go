package container

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
)

// Images made by other projects' tools (dfvfs, go-vmdk-parser test data),
// checked against what qemu-img makes of them.
func TestExternalImagesEqualQemuImg(t *testing.T) {
	for _, tc := range []struct{ rel, format string }{
		{"images/dfvfs/ext2.qcow2", "qcow2"},
		{"images/dfvfs/image.qcow2", "qcow2"},
		{"images/dfvfs/lvm.qcow2", "qcow2"},
		{"images/dfvfs/ext2.vhd", "vhd (dynamic)"},
		{"images/dfvfs/image.vhd", "vhd (dynamic)"},
		{"images/dfvfs/ext2.vmdk", "vmdk (monolithicSparse)"},
		{"images/dfvfs/image.vmdk", "vmdk (monolithicSparse)"},
		{"images/go-vmdk-parser/vmdk-monolith.img", "vmdk (monolithicSparse)"},
		{"images/go-vmdk-parser/vmdk-streamoptimized.img", "vmdk (streamOptimized)"},
	} {
		t.Run(filepath.Base(tc.rel), func(t *testing.T) {
			src := testimg.External(t, tc.rel)
			needQemuImg(t)
			raw := filepath.Join(t.TempDir(), "raw")
			qemuImg(t, "convert", "-O", "raw", src, raw)
			d, err := openFile(t, src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(d.Format, strings.Fields(tc.format)[0]) {
				t.Errorf("format %q, want %q", d.Format, tc.format)
			}
			t.Logf("%s: %s, %d bytes, notes %q", tc.rel, d.Format, d.Size, d.Notes)
			sameAsRaw(t, d, raw)
		})
	}
}

func TestExternalImagesRefused(t *testing.T) {
	for _, tc := range []struct {
		rel         string
		unsupported bool
		want        []string
	}{
		{"images/dfvfs/image-differential.vhd", true, []string{"differencing", "parent", "not followed"}},
		{"images/dfvfs/ext2.E01", true, []string{"E01", "not supported"}},
		{"images/go-vmdk-parser/vmdk-invalid.img", false, []string{"descriptor"}},
	} {
		t.Run(filepath.Base(tc.rel), func(t *testing.T) {
			src := testimg.External(t, tc.rel)
			_, err := openFile(t, src, Options{})
			if err == nil {
				t.Fatal("opened; want an error")
			}
			var u *UnsupportedError
			if errors.As(err, &u) != tc.unsupported {
				t.Errorf("UnsupportedError: %v, want %v (%v)", !tc.unsupported, tc.unsupported, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			t.Logf("%s: %v", tc.rel, err)
		})
	}
}
