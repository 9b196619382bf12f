package xfs

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// TestFlagsXFSDB sets di_flags with xfs_db (no mount, no root) and checks
// that they surface as the fsread flags the immutable check reads.
func TestFlagsXFSDB(t *testing.T) {
	needTool(t, "xfs_db")
	for _, v := range []variant{variants[0], variants[3]} {
		t.Run(v.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "flags.img")
			if out, err := exec.Command("cp", "--sparse=always", buildImage(t, v), img).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v: %s", err, out)
			}
			set := map[string][]string{
				"etc/ld.so.preload": {"core.immutable 1"},
				"etc/shadow":        {"core.append 1"},
				"bin/busybox":       {"core.immutable 1", "core.append 1", "core.nodump 1"},
			}
			for p, writes := range set {
				args := []string{"-x", "-c", "path /" + p}
				for _, w := range writes {
					args = append(args, "-c", "write "+w)
				}
				if out, err := exec.Command("xfs_db", append(args, img)...).CombinedOutput(); err != nil {
					t.Fatalf("xfs_db %v: %v: %s", args, err, out)
				}
			}
			fsys := openImage(t, img)
			for _, tc := range []struct {
				path              string
				immutable, append bool
				flags             uint32
			}{
				{"etc/ld.so.preload", true, false, fsread.FlagImmutable},
				{"etc/shadow", false, true, fsread.FlagAppendOnly},
				{"bin/busybox", true, true, fsread.FlagImmutable | fsread.FlagAppendOnly | 0x40},
				{"etc/passwd", false, false, 0},
			} {
				fi, err := fsys.Lstat(tc.path)
				if err != nil {
					t.Fatal(err)
				}
				m := fsread.MetaOf(fi)
				if m.Immutable() != tc.immutable || m.AppendOnly() != tc.append || m.Flags != tc.flags {
					t.Errorf("%s: flags 0x%x (%v), want 0x%x", tc.path, m.Flags, m.FlagNames(), tc.flags)
				}
			}
		})
	}
}
