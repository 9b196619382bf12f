package image

import (
	"bytes"
	"fmt"
)

// containerMagic identifies virtual-disk containers by their own headers,
// never by file extension: exported snapshots are often renamed.
var containerMagic = []struct {
	name   string
	off    int64 // from the start; -512 means the footer of the file
	magic  []byte
	remedy string
}{
	{"qcow2", 0, []byte("QFI\xfb"), "qemu-img convert -O raw IMAGE out.raw"},
	{"vhdx", 0, []byte("vhdxfile"), "qemu-img convert -O raw IMAGE out.raw"},
	{"vmdk", 0, []byte("KDMV"), "qemu-img convert -O raw IMAGE out.raw"},
	{"vmdk-descriptor", 0, []byte("# Disk DescriptorFile"), "qemu-img convert -O raw IMAGE out.raw"},
	{"vdi", 64, []byte("\x7f\x10\xda\xbe"), "qemu-img convert -O raw IMAGE out.raw"},
	{"ewf (E01)", 0, []byte("EVF\x09\x0d\x0a\xff\x00"), "ewfexport or ewfmount (libewf) to get a raw image"},
	{"ewf2 (Ex01)", 0, []byte("EVF2\x0d\x0a\x81\x00"), "ewfexport (libewf) to get a raw image"},
	{"vhd", 0, []byte("conectix"), "qemu-img convert -O raw IMAGE out.raw"},
	{"vhd", -512, []byte("conectix"), "qemu-img convert -O raw IMAGE out.raw"},
}

// openContainer decides how the file maps to a virtual disk. Raw is the
// file itself. Recognised containers this build cannot read are refused by
// name: misreading a QCOW2 as raw would report "no filesystem", a lie.
func (img *Image) openContainer() error {
	for _, c := range containerMagic {
		off := c.off
		if off < 0 {
			off = img.Size + off
			if off < 0 {
				continue
			}
		}
		buf := make([]byte, len(c.magic))
		if n, _ := img.f.ReadAt(buf, off); n == len(buf) && bytes.Equal(buf, c.magic) {
			if c.name == "vhd" && off > 0 {
				// A fixed VHD is a raw disk followed by a 512-byte footer.
				if isFixedVHD(img.f, off) {
					img.Container = "vhd (fixed)"
					img.Size = off
					img.disk = img.f
					return nil
				}
			}
			return fmt.Errorf("%s container is recognised but not supported by this version; convert it first: %s", c.name, c.remedy)
		}
	}
	img.Container = "raw"
	img.disk = img.f
	return nil
}

// isFixedVHD reads the footer's disk type (2 = fixed).
func isFixedVHD(r interface {
	ReadAt([]byte, int64) (int, error)
}, footer int64) bool {
	b := make([]byte, 4)
	if n, _ := r.ReadAt(b, footer+60); n != 4 {
		return false
	}
	return b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 2
}
