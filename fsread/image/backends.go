package image

import (
	"io"

	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/fsread/ext4"
	"github.com/snapscan/snapscan/fsread/ntfs"
	"github.com/snapscan/snapscan/fsread/xfs"
)

// The filesystems snapscan reads. Each adapter is its own package; this
// file is the one place that links them in.
func init() {
	for _, k := range []detect.Kind{detect.Ext2, detect.Ext3, detect.Ext4} {
		Register(k, ext4.NewOpts)
	}
	Register(detect.NTFS, ntfs.NewOpts)
	Register(detect.XFS, xfs.NewOpts)
	RegisterLabeler(detect.NTFS, func(r io.ReaderAt, _ int64) string {
		info, err := ntfs.Probe(r)
		if err != nil {
			return ""
		}
		return info.Label
	})
}
