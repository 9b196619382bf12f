package ext4

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// externalDir holds ext4 images made by another project's tooling, with a
// listing made by The Sleuth Kit (fls).
const externalDir = "../../../shared/external/images/go-ext4"

var reFls = regexp.MustCompile(`^([rd])/[rd] (\d+):\t(.+)$`)

// flsListing parses LISTING.txt: per image, the allocated entries
// (path → inode and type) as fls printed them.
func flsListing(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(externalDir, "LISTING.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "=== "); ok {
			name := strings.Fields(rest)[0]
			if out[name] == nil {
				out[name] = map[string]string{}
			}
			cur = out[name]
			continue
		}
		if m := reFls.FindStringSubmatch(line); m != nil && cur != nil {
			cur[m[3]] = m[1] + m[2]
		}
	}
	return out
}

func TestExternalImages(t *testing.T) {
	imgs, _ := filepath.Glob(filepath.Join(externalDir, "*.ext4"))
	if len(imgs) == 0 {
		t.Skipf("no external images in %s (shared/ absent)", externalDir)
	}
	listing := flsListing(t)
	for _, img := range imgs {
		name := filepath.Base(img)
		t.Run(name, func(t *testing.T) {
			fsys := openImage(t, img)
			want := listing[name]
			if len(want) == 0 {
				t.Fatalf("%s missing from LISTING.txt", name)
			}
			// The Sleuth Kit's listing: every allocated name, its inode and type.
			metas, _ := walkOurs(t, fsys)
			var got []string
			for p, m := range metas {
				if p == "." {
					continue
				}
				typ := "r"
				if m.Mode.IsDir() {
					typ = "d"
				}
				got = append(got, p+"="+typ+strconv.FormatUint(m.Inode, 10))
				if w, ok := want[p]; !ok || w != typ+strconv.FormatUint(m.Inode, 10) {
					t.Errorf("%s: %s%d, fls %q", p, typ, m.Inode, w)
				}
			}
			if len(got) != len(want) {
				slices.Sort(got)
				t.Errorf("%d entries, fls lists %d: %v", len(got), len(want), got)
			}
			info := fsys.(interface{ Info() *Info }).Info()
			needTools(t, "debugfs")
			n := compareDebugfs(t, img, fsys, info.InodeSize > 128)
			t.Logf("%d entries compared with fls and debugfs", n)
			if os.Geteuid() == 0 {
				journal := slices.Contains(info.Features, "has_journal")
				mnt := mountRO(t, img, journal)
				t.Logf("%d entries compared with the kernel", compareKernel(t, fsys, mnt))
			}
		})
	}
}

// TestExternalMBRPartition reads the ext2 filesystem inside the second
// (logical) partition of dfvfs's mbr.raw, at the sector The Sleuth Kit's
// mmls reports in LISTING.txt, through an offset reader as the partition
// layer will hand it over.
func TestExternalMBRPartition(t *testing.T) {
	const (
		img         = "../../../shared/external/images/dfvfs/mbr.raw"
		start, size = 352 * 512, 2528 * 512 // mmls: 001:000 0000000352 … 0000002528
	)
	f, err := os.Open(img)
	if err != nil {
		t.Skipf("external image absent: %v", err)
	}
	defer f.Close()
	part := io.NewSectionReader(f, start, size)
	fsys, err := New(part, size, "mbr.raw@2")
	if err != nil {
		t.Fatal(err)
	}
	info := fsys.(interface{ Info() *Info }).Info()
	if info.Kind != "ext2" {
		t.Errorf("kind %s", info.Kind)
	}
	metas, _ := walkOurs(t, fsys)
	if m := metas["lost+found"]; len(metas) != 2 || m == nil || m.Inode != 11 || !m.Mode.IsDir() {
		t.Errorf("fls lists only lost+found at inode 11; we see %d entries", len(metas))
	}
	// debugfs needs a file: extract the partition into a temporary one.
	needTools(t, "debugfs")
	tmp := filepath.Join(t.TempDir(), "p2.img")
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, start, size)); err != nil {
		t.Fatal(err)
	}
	out.Close()
	compareDebugfs(t, tmp, fsys, info.InodeSize > 128)
}
