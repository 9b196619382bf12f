package image

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
	"github.com/snapscan/snapscan/internal/testimg"
)

// FuzzLayout mutates the partition tables of the committed GPT disk (made
// by sgdisk, mkfs.vfat and mke2fs: testdata/images/make.sh) in memory: the
// protective MBR, the primary GPT header and its entry array, with the
// GPT CRCs recomputed when fixCRC is set. Each input goes through what
// Open does after the container: partition table, per-partition probe,
// LVM, and the filesystem reader of every scannable volume, whose root is
// listed. The container layer has its own targets.
func FuzzLayout(f *testing.F) {
	disk, err := os.ReadFile(testimg.Path(f, "gpt-efi-ext4.img"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(disk[:512]), bytes.Clone(disk[512:512+92]), bytes.Clone(disk[1024:1024+2*128]), true)
	f.Add(bytes.Clone(disk[:512]), bytes.Clone(disk[512:512+92]), bytes.Clone(disk[1024:1024+2*128]), false)
	f.Fuzz(func(t *testing.T, mbr, header, entries []byte, fixCRC bool) {
		m := bytes.Clone(disk[:512])
		copy(m, mbr)
		d := fuzzcheck.NewOverlay(disk, append([]fuzzcheck.Patch{{Off: 0, Data: m}}, fuzzcheck.GPTPatches(disk, header, entries, fixCRC)...)...)
		var first, second string
		fuzzcheck.Run(t, fuzzcheck.Limits{PastEnd: true}, func() {
			first, second = layoutPass(t, d), layoutPass(t, d)
		})
		fuzzcheck.Same(t, "layout", first, second)
	})
}

// layoutPass lays out the disk and asserts that every volume lies inside
// it (or is empty and not scannable), has a unique name, and is scannable
// or says why not.
func layoutPass(t *testing.T, d *fuzzcheck.Overlay) string {
	img := &Image{Path: "fuzz.img", Container: "raw", Size: d.Size, disk: d}
	img.layout()
	img.addLogicalVolumes()
	var sb strings.Builder
	fmt.Fprintf(&sb, "%q\n", img.Warnings)
	names := map[string]bool{}
	for _, v := range img.Volumes {
		// A partition past the end is kept, empty, so the report lists it.
		if v.Start < 0 || v.Size < 0 || (v.Size > 0 && v.Start+v.Size > d.Size) || (v.Size == 0 && v.Scannable) {
			t.Fatalf("volume %s at %d+%d (scannable %v) outside the %d-byte disk", v.Name, v.Start, v.Size, v.Scannable, d.Size)
		}
		if names[v.Name] {
			t.Fatalf("two volumes named %s", v.Name)
		}
		names[v.Name] = true
		if !v.Scannable && v.Reason == "" {
			t.Fatalf("volume %s not scannable and no reason", v.Name)
		}
		fmt.Fprintf(&sb, "%s %d+%d %v %q %v %q:", v.Name, v.Start, v.Size, v.Detect.Kind, v.Detect.Label, v.Scannable, v.Reason)
		if v.Scannable {
			fsys, err := v.FS()
			if err != nil {
				fmt.Fprintf(&sb, " open error %v", err)
			} else if ents, err := fsys.ReadDir("."); err != nil {
				fmt.Fprintf(&sb, " readdir error %v", err)
			} else {
				for _, e := range ents {
					fmt.Fprintf(&sb, " %s/%v", e.Name(), e.Type())
				}
			}
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
