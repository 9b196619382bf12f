package ext4

import (
	"fmt"
	"io"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// i_flags bits the reader acts on.
const (
	flagEncrypt    = 0x800
	flagHugeFile   = 0x40000
	flagExtents    = 0x80000
	flagInlineData = 0x10000000
)

// i_mode file types.
const (
	sIFMT   = 0xF000
	sIFIFO  = 0x1000
	sIFCHR  = 0x2000
	sIFDIR  = 0x4000
	sIFBLK  = 0x6000
	sIFREG  = 0x8000
	sIFLNK  = 0xA000
	sIFSOCK = 0xC000
)

// maxSymlink is PATH_MAX: the kernel stores no longer target.
const maxSymlink = 4096

type inode struct {
	num     uint32
	raw     []byte // the whole on-disk record
	mode    uint16
	flags   uint32
	size    int64
	extra   int // i_extra_isize, 0 for 128-byte inodes
	blocks  uint64
	fileACL uint64
}

func (in *inode) typ() uint16 { return in.mode & sIFMT }

// iblock is the 60-byte i_block area: block pointers, extent root,
// inline data or a fast symlink's target.
func (in *inode) iblock() []byte { return in.raw[0x28:0x64] }

func (v *volume) inode(n uint32) (*inode, error) {
	if n < 1 || n > v.inodes {
		return nil, corrupt("inode %d out of range 1..%d", n, v.inodes)
	}
	raw, ok := v.inodeCache.Get(n)
	if !ok {
		g := (n - 1) / v.ipg
		idx := int64((n - 1) % v.ipg)
		if int(g) >= len(v.itable) {
			return nil, corrupt("inode %d: group %d beyond %d groups", n, g, len(v.itable))
		}
		tbl := v.itable[g]
		if tbl == 0 || tbl >= v.sb.blocksCount {
			return nil, corrupt("inode %d: inode table of group %d at invalid block %d", n, g, tbl)
		}
		raw = make([]byte, v.isz)
		if err := v.readFull(raw, int64(tbl)*v.bs+idx*v.isz); err != nil {
			return nil, fmt.Errorf("inode %d: %w", n, err)
		}
		v.inodeCache.Put(n, raw, 1)
	}
	in := &inode{
		num:     n,
		raw:     raw,
		mode:    le16(raw, 0x0),
		flags:   le32(raw, 0x20),
		blocks:  uint64(le32(raw, 0x1C)) | uint64(le16(raw, 0x74))<<32,
		fileACL: uint64(le32(raw, 0x68)) | uint64(le16(raw, 0x76))<<32,
	}
	size := uint64(le32(raw, 0x4))
	// As the kernel's ext4_isize: i_size_high counts for regular files and,
	// with large_dir, directories; on old ext2 it was i_dir_acl.
	if in.typ() == sIFREG || v.sb.incompat&incompatLargeDir != 0 {
		size |= uint64(le32(raw, 0x6C)) << 32
	}
	if size > 1<<63-1 {
		return nil, corrupt("inode %d: size %d", n, size)
	}
	in.size = int64(size)
	if v.extra {
		e := int(le16(raw, 0x80))
		if e%4 != 0 || 128+e > len(raw) {
			return nil, corrupt("inode %d: extra inode size %d", n, e)
		}
		in.extra = e
	}
	return in, nil
}

// xtime decodes a timestamp; with the extra field its low two bits extend
// the seconds past 2038 and the rest are nanoseconds.
func (in *inode) xtime(off, extraOff int) time.Time {
	sec := int64(int32(le32(in.raw, off)))
	var ns int64
	if extraOff > 0 && 128+in.extra >= extraOff+4 {
		x := le32(in.raw, extraOff)
		sec += int64(x&3) << 32
		ns = int64(x >> 2)
	}
	return time.Unix(sec, ns).UTC()
}

func (v *volume) Root() uint32 { return rootIno }

func (v *volume) Meta(n uint32) (*fsread.Meta, error) {
	in, err := v.inode(n)
	if err != nil {
		return nil, err
	}
	raw := in.raw
	m := &fsread.Meta{
		Inode:    uint64(n),
		Mode:     fsread.UnixMode(in.mode),
		Size:     in.size,
		Nlink:    uint32(le16(raw, 0x1A)),
		HasOwner: true,
		UID:      uint32(le16(raw, 0x2)) | uint32(le16(raw, 0x78))<<16,
		GID:      uint32(le16(raw, 0x18)) | uint32(le16(raw, 0x7A))<<16,
		Ctime:    in.xtime(0xC, 0x84),
		Mtime:    in.xtime(0x10, 0x88),
		Atime:    in.xtime(0x8, 0x8C),
		Flags:    in.flags,
	}
	if 128+in.extra >= 0x94 {
		m.Btime = in.xtime(0x90, 0x94)
	}
	if n == rootIno {
		m.Name = "."
	}
	if in.typ() == sIFLNK && in.flags&flagEncrypt == 0 {
		// A broken link target is no reason to hide the rest of the stat.
		m.LinkTarget, _ = v.readLink(in)
	}
	return m, nil
}

func (v *volume) ReadLink(n uint32) (string, error) {
	in, err := v.inode(n)
	if err != nil {
		return "", err
	}
	if in.typ() != sIFLNK {
		return "", fmt.Errorf("inode %d: not a symbolic link", n)
	}
	return v.readLink(in)
}

func (v *volume) readLink(in *inode) (string, error) {
	if in.flags&flagEncrypt != 0 {
		return "", fmt.Errorf("inode %d: %w", in.num, ErrEncrypted)
	}
	if in.size > maxSymlink {
		return "", corrupt("inode %d: symlink of %d bytes", in.num, in.size)
	}
	if in.flags&flagInlineData == 0 && v.dataBlocks(in) == 0 {
		// Fast symlink (the kernel's test: no data blocks): the target
		// lives in i_block.
		if in.size >= 60 {
			return "", corrupt("inode %d: fast symlink of %d bytes", in.num, in.size)
		}
		return string(in.iblock()[:in.size]), nil
	}
	d, err := v.data(in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.size)
	if _, err := d.ReadAt(b, 0); err != nil && err != io.EOF {
		return "", err
	}
	return string(b), nil
}

// dataBlocks is i_blocks in 512-byte units less the extended attribute
// block, the kernel's test for whether a symlink is fast.
func (v *volume) dataBlocks(in *inode) uint64 {
	b := in.blocks
	if v.huge && in.flags&flagHugeFile != 0 {
		b *= uint64(v.bs / 512)
	}
	if in.fileACL != 0 {
		acl := uint64(v.bs / 512)
		if b < acl {
			return 0
		}
		b -= acl
	}
	return b
}

// inlineXattr returns the value of the in-inode extended attribute
// system.data, where inline_data keeps what does not fit in i_block.
func (in *inode) inlineXattr() ([]byte, error) {
	start := 128 + in.extra
	if in.extra == 0 || start+4 > len(in.raw) || le32(in.raw, start) != 0xEA020000 {
		return nil, nil
	}
	area := in.raw[start+4:]
	for off := 0; off+16 <= len(area); {
		if le32(area, off) == 0 {
			break
		}
		nameLen := int(area[off])
		idx := area[off+1]
		voff := int(le16(area, off+2))
		vinum := le32(area, off+4)
		vsize := int(le32(area, off+8))
		if off+16+nameLen > len(area) {
			return nil, corrupt("inode %d: extended attribute entry overruns the inode", in.num)
		}
		name := string(area[off+16 : off+16+nameLen])
		if idx == 7 && name == "data" {
			if vinum != 0 {
				return nil, corrupt("inode %d: inline data in an EA inode", in.num)
			}
			if voff > len(area) || vsize > len(area)-voff {
				return nil, corrupt("inode %d: inline data attribute out of bounds", in.num)
			}
			return area[voff : voff+vsize], nil
		}
		off += (16 + nameLen + 3) &^ 3
	}
	return nil, nil
}
