package xfs

import (
	"fmt"

	"github.com/snapscan/snapscan/fsread"
)

const reasonDirty = "log dirty: newest writes may be missing"

// recover finds the log's head and tail and, when the log is dirty and
// replay is wanted, replays it into v.ov. It sets v.recovery; it never
// fails the open: a log it cannot read makes the volume dirty, not
// unreadable.
func (v *volume) recover(opt fsread.OpenOptions) {
	dirty := func(reason string, warn ...string) {
		v.recovery = fsread.Recovery{State: fsread.RecoveryDirty, Reason: reason, Warnings: warn}
	}
	sb := v.sb
	if sb.logstart == 0 {
		dirty("external log device: not available")
		return
	}
	l, err := v.logDev()
	if err != nil {
		dirty(reasonDirty, err.Error())
		return
	}
	st, err := l.findTail()
	if err != nil {
		dirty(reasonDirty, fmt.Sprintf("log head and tail not found: %v", err))
		return
	}
	if st.clean {
		v.recovery = fsread.Recovery{State: fsread.RecoveryNone, Warnings: st.warnings}
		return
	}
	if opt.NoReplay {
		dirty("log replay disabled: on-disk view", st.warnings...)
		return
	}
	s := l.scanLog(st)
	rp := v.newReplayer(s.bo)
	res := rp.run(s)
	if len(rp.ov.blocks) > 0 {
		v.ov = rp.ov
		v.reloadSuper()
	}
	v.recovery = fsread.Recovery{State: fsread.RecoveryReplayed, Transactions: res.transactions, Blocks: res.blocks,
		Warnings: append(st.warnings, res.warnings...)}
	if res.incomplete {
		v.recovery.State, v.recovery.Reason = fsread.RecoveryDirty, reasonDirty
	}
}

// logDev locates the internal log and checks it lies inside one AG of the
// image.
func (v *volume) logDev() (*logDev, error) {
	sb := v.sb
	blk, err := v.fsbToBlock(sb.logstart)
	if err != nil {
		return nil, fmt.Errorf("log start: %w", err)
	}
	agbno := sb.logstart & (uint64(1)<<sb.agblkLog - 1)
	bbs := int64(sb.logBlocks) << (sb.blockLog - 9)
	if sb.logBlocks == 0 || agbno+uint64(sb.logBlocks) > uint64(sb.agblocks) || bbs > maxLogBBs || bbs < 64 {
		return nil, fmt.Errorf("%w: log of %d blocks at block %d does not fit its AG", fsread.ErrCorrupt, sb.logBlocks, sb.logstart)
	}
	start := int64(blk) * v.bs
	if start+bbs*bbSize > v.size {
		return nil, fmt.Errorf("log at offset %d: %w", start, errTruncated)
	}
	return &logDev{r: v.r, start: start, bbs: bbs, v2: v.v5 || sb.versionNum&versionLogV2Bit != 0, uuid: sb.uuid}, nil
}

// reloadSuper takes the replayed superblock when it still validates: a
// logged superblock (growfs, feature changes) replaces the on-disk one.
func (v *volume) reloadSuper() {
	sb, err := readSuper(replayedReader{v.r, v.ov})
	if err != nil {
		v.recovery.Warnings = append(v.recovery.Warnings, fmt.Sprintf("replayed superblock not used: %v", err))
		return
	}
	old := v.sb
	if sb.blockSize != old.blockSize || sb.inodeSize != old.inodeSize || sb.agblkLog != old.agblkLog || sb.inopbLog != old.inopbLog || sb.versionNum&versionNumMask != old.versionNum&versionNumMask {
		v.recovery.Warnings = append(v.recovery.Warnings, "replayed superblock changes the geometry: on-disk one kept")
		return
	}
	v.sb = sb
	v.ftype, v.bigt, v.dirBlk = sb.hasFType(), sb.bigtime(), int64(sb.blockSize)<<sb.dirblkLog
	trunc := v.info.Truncated
	v.info = sb.info()
	v.info.Truncated = trunc || sb.dblocks > uint64(v.size/v.bs)
}
