package image

import (
	"errors"
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/fsread/container"
)

// openContainer maps the file to its virtual disk: raw is the file itself,
// QCOW2/VHD/VHDX/VMDK are read through fsread/container. A recognised
// container that cannot be read is refused by name with a way forward:
// misreading a VDI as raw would report "no filesystem", a lie.
func (img *Image) openContainer() error {
	d, err := container.Open(img.f, img.Size, container.Options{})
	if err != nil {
		var u *container.UnsupportedError
		if errors.As(err, &u) {
			return fmt.Errorf("%w; %s", err, remedy(u.Format))
		}
		return fmt.Errorf("container: %w", err)
	}
	img.Container = d.Format
	img.Size = d.Size
	img.disk = d.ReaderAt
	img.Warnings = append(img.Warnings, d.Notes...)
	return nil
}

// remedy says how an examiner gets a readable image from an unsupported one.
func remedy(format string) string {
	switch {
	case strings.HasPrefix(format, "ewf"):
		return "get a raw image with ewfexport, or mount it with ewfmount (libewf) and scan the raw device file"
	case strings.Contains(format, "differencing"), strings.Contains(format, "child"):
		return "merge the chain into one image first, e.g. qemu-img convert -O raw IMAGE out.raw with the parent beside it"
	case strings.HasPrefix(format, "vmdk descriptor"):
		return "convert the set first: qemu-img convert -O raw DESCRIPTOR.vmdk out.raw"
	default:
		return "convert it first: qemu-img convert -O raw IMAGE out.raw"
	}
}
