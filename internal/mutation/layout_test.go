package mutation

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"sort"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/fsread/image"
)

// region is a byte range of an image file that holds metadata of one kind.
type region struct {
	kind     string // e.g. "ext4-inode", "gpt-entries"
	off, len int64
}

// layout finds the metadata regions of a pristine image: partition-table structures, and per volume the ext4
// superblock, group descriptors, the inodes of the files and directories in use, directory blocks and extent-tree
// nodes, or the NTFS boot sector, MFT records and index blocks. Offsets come from parsing the structures (ext4)
// or their magic (NTFS records), not from knowing how make.sh built the image. For container formats (qcow2,
// VHD/VHDX, VMDK) the volumes are not at file offsets: only the container's own header and tables are mutated.
func layout(t *testing.T, path string, data []byte) []region {
	t.Helper()
	size := int64(len(data))
	var rs []region
	add := func(kind string, off, n int64) {
		if off < 0 || n <= 0 || off >= size {
			return
		}
		rs = append(rs, region{kind, off, min(n, size-off)})
	}
	img, err := image.Open(path)
	if err != nil {
		// A container this version refuses (the report says so): its header is still input to be survived.
		t.Logf("%s: %v; mutating its header only", path, err)
		add("container-header", 0, 1<<20)
		return rs
	}
	defer img.Close()
	if img.Container != "raw" {
		add("container-header", 0, 1<<20)
		add("container-footer", size-512, 512)
		return rs
	}
	if img.Table != nil && img.Table.Scheme != "" {
		add("mbr", 446, 66) // the four entries and the boot signature
		if img.Table.Scheme == "gpt" {
			add("gpt-header", 512, 92)
			add("gpt-entries", 1024, 128*128)
			add("gpt-backup", size-33*512, 33*512)
		}
	}
	for _, v := range img.Volumes {
		switch {
		case v.Detect.Kind.IsExt():
			fsys, err := v.FS()
			if err != nil {
				t.Fatalf("pristine %s: %v", v.Name, err)
			}
			for _, r := range ext4Regions(t, data, v.Start, fsys) {
				add(r.kind, r.off, r.len)
			}
		case v.Detect.Kind == detect.NTFS:
			for _, r := range ntfsRegions(data[v.Start:min(size, v.Start+v.Size)]) {
				add(r.kind, v.Start+r.off, r.len)
			}
		}
	}
	return rs
}

var le = binary.LittleEndian

// ext4Regions parses the superblock and group descriptors of the ext4 volume at start and, for every inode the
// pristine reader shows (walked through fsys for the inode numbers), the inode and its directory blocks and
// extent-tree index blocks.
func ext4Regions(t *testing.T, img []byte, start int64, fsys fsread.FS) []region {
	sb := img[start+1024 : start+2048]
	if le.Uint16(sb[56:]) != 0xEF53 {
		t.Fatalf("no ext4 magic at %d", start+1024)
	}
	bs := int64(1024) << le.Uint32(sb[24:])
	firstData := int64(le.Uint32(sb[20:]))
	blocks := int64(le.Uint32(sb[4:]))
	bpg := int64(le.Uint32(sb[32:]))
	ipg := int64(le.Uint32(sb[40:]))
	isz := int64(le.Uint16(sb[88:]))
	incompat := le.Uint32(sb[96:])
	descSize := int64(32)
	if incompat&0x80 != 0 { // 64bit
		descSize = int64(le.Uint16(sb[254:]))
		blocks |= int64(le.Uint32(sb[0x150:])) << 32
	}
	if incompat&0x10 != 0 {
		t.Fatalf("meta_bg layout not handled by this test's parser")
	}
	groups := (blocks - firstData + bpg - 1) / bpg
	gdt := start + (firstData+1)*bs
	rs := []region{{"ext4-superblock", start + 1024, 1024}, {"ext4-gdt", gdt, groups * descSize}}
	inodeTable := func(g int64) int64 {
		d := img[gdt+g*descSize:]
		it := int64(le.Uint32(d[8:]))
		if descSize >= 64 {
			it |= int64(le.Uint32(d[0x28:])) << 32
		}
		return it
	}
	inodeOff := func(ino uint64) int64 {
		g, i := int64(ino-1)/ipg, int64(ino-1)%ipg
		return start + inodeTable(g)*bs + i*isz
	}
	blockRegions := func(kind string, inode []byte, isDir bool) []region {
		var out []region
		if le.Uint32(inode[0x20:])&0x80000 == 0 { // block map (ext2/3): direct blocks only
			if !isDir {
				return nil
			}
			for i := 0; i < 12; i++ {
				if b := int64(le.Uint32(inode[0x28+4*i:])); b != 0 {
					out = append(out, region{kind, start + b*bs, bs})
				}
			}
			return out
		}
		var node func(n []byte, depth int)
		node = func(n []byte, depth int) {
			if len(n) < 12 || le.Uint16(n) != 0xF30A || depth > 5 {
				return
			}
			entries, d := int(le.Uint16(n[2:])), le.Uint16(n[6:])
			for e := 0; e < entries && 12+12*e+12 <= len(n); e++ {
				x := n[12+12*e:]
				if d > 0 {
					leaf := int64(le.Uint32(x[4:])) | int64(le.Uint16(x[8:]))<<32
					out = append(out, region{"ext4-extent-node", start + leaf*bs, bs})
					if o := start + leaf*bs; o+bs <= int64(len(img)) {
						node(img[o:o+bs], depth+1)
					}
					continue
				}
				if !isDir {
					continue
				}
				n := int64(le.Uint16(x[4:]))
				if n > 32768 {
					n -= 32768 // uninitialized extent
				}
				phys := int64(le.Uint32(x[8:])) | int64(le.Uint16(x[6:]))<<32
				for b := int64(0); b < n && b < 16; b++ {
					out = append(out, region{kind, start + (phys+b)*bs, bs})
				}
			}
		}
		node(inode[0x28:0x28+60], 0)
		return out
	}
	seen := map[uint64]bool{}
	addInode := func(ino uint64, isDir bool) {
		if ino == 0 || seen[ino] {
			return
		}
		seen[ino] = true
		off := inodeOff(ino)
		if off < 0 || off+isz > int64(len(img)) {
			return
		}
		rs = append(rs, region{"ext4-inode", off, isz})
		rs = append(rs, blockRegions("ext4-dirblock", img[off:off+isz], isDir)...)
	}
	for _, special := range []uint64{2, 8, 11} { // root, journal, lost+found
		addInode(special, special != 8)
	}
	err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		addInode(fsread.MetaOf(info).Inode, d.IsDir())
		return nil
	})
	if err != nil {
		t.Fatalf("walking the pristine volume: %v", err)
	}
	return rs
}

// ntfsRegions finds the boot sector, the MFT file records ("FILE" at 1 KiB steps) and the index blocks ("INDX"
// at 4 KiB steps) of the NTFS volume vol.
func ntfsRegions(vol []byte) []region {
	rs := []region{{"ntfs-boot", 0, 512}}
	for off := 0; off+1024 <= len(vol); off += 1024 {
		if bytes.HasPrefix(vol[off:], []byte("FILE")) {
			rs = append(rs, region{"ntfs-mft-record", int64(off), 1024})
		}
		if off%4096 == 0 && bytes.HasPrefix(vol[off:], []byte("INDX")) {
			rs = append(rs, region{"ntfs-index", int64(off), 4096})
		}
	}
	return rs
}

// byKind groups regions by kind, kinds sorted, so a seed picks a kind first: the superblock is one region and
// inodes are hundreds, and both deserve mutants.
func byKind(rs []region) (kinds []string, m map[string][]region) {
	m = map[string][]region{}
	for _, r := range rs {
		if _, ok := m[r.kind]; !ok {
			kinds = append(kinds, r.kind)
		}
		m[r.kind] = append(m[r.kind], r)
	}
	sort.Strings(kinds)
	return kinds, m
}

func (r region) String() string { return fmt.Sprintf("%s@%d+%d", r.kind, r.off, r.len) }
