package scanner

import (
	"fmt"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/detect"
	"github.com/snapscan/snapscan/fsread/ext4"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/fsread/ntfs"
	"github.com/snapscan/snapscan/fsread/xfs"
	"github.com/snapscan/snapscan/report"
)

// truncation says why a volume's filesystem is truncated, or "": the
// superblock (boot sector) states the filesystem's size, and a copy that
// ends earlier cannot be called scanned, however much of its head reads.
func truncation(v *image.Volume, fsys fsread.FS) string {
	claimed := claimedSize(v, fsys)
	if claimed <= v.Size {
		return ""
	}
	return fmt.Sprintf("its %s filesystem claims %s, the image holds %s of it", v.Detect.Kind, sizeText(claimed), sizeText(v.Size))
}

// claimedSize is the byte size the filesystem's own superblock records, or
// 0 when unknown.
func claimedSize(v *image.Volume, fsys fsread.FS) int64 {
	switch {
	case v.Detect.Kind.IsExt():
		if in, ok := ext4.InfoOf(fsys); ok {
			return int64(in.Blocks) * int64(in.BlockSize)
		}
	case v.Detect.Kind == detect.XFS:
		if in, ok := xfs.InfoOf(fsys); ok {
			return int64(in.Blocks) * int64(in.BlockSize)
		}
	case v.Detect.Kind == detect.NTFS:
		// The boot sector's total excludes the backup boot sector that
		// follows the volume.
		if in, err := ntfs.Probe(v.Reader()); in != nil && err == nil {
			return int64(in.TotalSectors) * int64(in.SectorSize)
		}
	}
	return 0
}

func sizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}

// recoveryOf is the report's copy of a volume's journal/log state.
func recoveryOf(fsys fsread.FS) report.Recovery {
	rc := fsread.RecoveryOf(fsys)
	state := string(rc.State)
	if state == "" {
		state = report.RecoveryClean
	}
	return report.Recovery{State: state, Transactions: rc.Transactions, Blocks: rc.Blocks, Reason: rc.Reason, Warnings: rc.Warnings}
}
