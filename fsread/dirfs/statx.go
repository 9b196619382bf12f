package dirfs

import (
	"time"

	"golang.org/x/sys/unix"
)

// birthTime asks statx for the creation time, which Lstat does not carry;
// zero where the host filesystem does not record it.
func birthTime(p string) time.Time {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &sx); err != nil {
		return time.Time{}
	}
	if sx.Mask&unix.STATX_BTIME == 0 {
		return time.Time{}
	}
	return time.Unix(sx.Btime.Sec, int64(sx.Btime.Nsec)).UTC()
}
