package ntfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/snapscan/snapscan/fsread"
)

// $LogFile restart pages, as ntfs-3g's logfile.h and the Windows NTFS log
// service lay them out. Windows keeps two copies of the restart page, at
// offset 0 and one system page further; each holds a restart area naming
// the current LSN, the log's clients (NTFS is the only one) and whether
// the volume was shut down cleanly. A volume shut down with clients still
// in the log and no "clean" flag has log records Windows would redo at the
// next mount: their writes may not be in the MFT and files read here.
const (
	mftLogFile = 2

	logNoClient    = 0xFFFF // client list terminator: no client has the log open
	raVolumeClean  = 0x0002 // RESTART_VOLUME_IS_CLEAN
	volInfoDirty   = 0x0001 // $VOLUME_INFORMATION flag VOLUME_IS_DIRTY
	logClientSize  = 0xA0   // LOG_CLIENT_RECORD
	maxRestartPage = 64 << 10

	reasonDirtyBit = "NTFS dirty bit set"
	reasonLogFile  = "$LogFile has unreplayed restart area: newest writes may be missing; $LogFile redo is not implemented"
)

// restartArea is what one restart page says.
type restartArea struct {
	off        int64 // of the page in $LogFile
	chkdsk     bool  // "CHKD": chkdsk rewrote the page
	major      int16
	minor      int16
	currentLSN uint64
	inUse      uint16 // first client in use, logNoClient if none
	flags      uint16
	restartLSN uint64 // that client's last checkpoint
}

// open reports whether a client still had the log open at shutdown (the
// test ntfs-3g's ntfs_is_logfile_clean makes before it mounts read-write).
func (ra *restartArea) open() bool {
	return ra.inUse != logNoClient && ra.flags&raVolumeClean == 0
}

// parseRestartPage decodes the restart page p read at off in $LogFile; p
// is fixed up in place.
func parseRestartPage(p []byte, off int64) (*restartArea, error) {
	if len(p) < 512 {
		return nil, fmt.Errorf("restart page at %d: %d bytes", off, len(p))
	}
	ra := &restartArea{off: off}
	switch string(p[:4]) {
	case "RSTR":
		if err := fixup(p); err != nil {
			return nil, fmt.Errorf("restart page at %d: %v", off, err)
		}
	case "CHKD":
		// chkdsk leaves its own magic and, as ntfs-3g reads it, no fix-ups.
		ra.chkdsk = true
	default:
		return nil, fmt.Errorf("restart page at %d: signature %q", off, p[:4])
	}
	le := binary.LittleEndian
	ra.minor, ra.major = int16(le.Uint16(p[0x1A:])), int16(le.Uint16(p[0x1C:]))
	// Log versions 1.1 and 2.0 are the ones Windows writes; 1.0 is NT 4.
	if !(ra.major == 1 && (ra.minor == 0 || ra.minor == 1)) && !(ra.major == 2 && ra.minor == 0) {
		return nil, fmt.Errorf("restart page at %d: log version %d.%d", off, ra.major, ra.minor)
	}
	a := int(le.Uint16(p[0x18:]))
	if a < 0x1E || a%8 != 0 || a+0x30 > len(p) {
		return nil, fmt.Errorf("restart page at %d: restart area at %d", off, a)
	}
	r := p[a:]
	ra.currentLSN = le.Uint64(r[0x00:])
	clients := int(le.Uint16(r[0x08:]))
	ra.inUse = le.Uint16(r[0x0C:])
	ra.flags = le.Uint16(r[0x0E:])
	if ra.inUse == logNoClient {
		return ra, nil
	}
	ca := int(le.Uint16(r[0x16:]))
	if int(ra.inUse) >= clients {
		return nil, fmt.Errorf("restart page at %d: client %d in use of %d", off, ra.inUse, clients)
	}
	c := a + ca + int(ra.inUse)*logClientSize
	if ca < 0x30 || c+logClientSize > len(p) {
		return nil, fmt.Errorf("restart page at %d: client record %d at %d outside the page", off, ra.inUse, c)
	}
	ra.restartLSN = le.Uint64(p[c+0x08:])
	return ra, nil
}

// logRestart reads $LogFile's two restart pages and returns the newer
// valid one (nil when the log is empty: all 0xFF, as mkntfs, ntfs-3g and
// ntfsfix leave it), with a warning for each page it could not use.
func (b *backend) logRestart() (ra *restartArea, warnings []string, err error) {
	ei, err := b.inspect(mftLogFile)
	if err != nil {
		return nil, nil, fmt.Errorf("$LogFile: %w", err)
	}
	if ei.data == nil || ei.meta.Size < 1024 {
		return nil, nil, fmt.Errorf("$LogFile: %d bytes, no restart page", ei.meta.Size)
	}
	r, size, err := b.openStream(mftLogFile, "", ei.data, ei.meta.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("$LogFile: %w", err)
	}
	var head [512]byte
	if _, err := io.ReadFull(io.NewSectionReader(r, 0, size), head[:]); err != nil {
		return nil, nil, fmt.Errorf("$LogFile: reading the restart page: %w", err)
	}
	// The system page size is in the first page; 4096 is what Windows
	// writes on x86 and the fallback when the first page is unreadable.
	ps := int64(binary.LittleEndian.Uint32(head[0x10:]))
	if ps < 512 || ps > maxRestartPage || ps&(ps-1) != 0 || string(head[:4]) != "RSTR" && string(head[:4]) != "CHKD" {
		ps = 4096
	}
	page := make([]byte, ps)
	empty := true
	for _, off := range []int64{0, ps} {
		if off+ps > size {
			warnings = append(warnings, fmt.Sprintf("$LogFile: restart page at %d is past its end (%d bytes)", off, size))
			continue
		}
		if _, err := io.ReadFull(io.NewSectionReader(r, off, ps), page); err != nil {
			warnings = append(warnings, fmt.Sprintf("$LogFile: restart page at %d: %v", off, err))
			empty = false
			continue
		}
		if allFF(page) {
			continue
		}
		empty = false
		got, err := parseRestartPage(page, off)
		if err != nil {
			warnings = append(warnings, "$LogFile: "+err.Error())
			continue
		}
		if ra == nil || got.currentLSN > ra.currentLSN {
			ra = got
		}
	}
	if ra == nil && !empty {
		return nil, warnings, fmt.Errorf("$LogFile: no valid restart page")
	}
	return ra, warnings, nil
}

func allFF(p []byte) bool {
	for _, c := range p {
		if c != 0xFF {
			return false
		}
	}
	return true
}

// recovery is the volume's recovery record: NTFS is read as it is on
// disk, so a dirty volume (the dirty bit, or a log still open) is reported
// dirty with the reason, never clean; what could not be read to tell is
// dirty too, with why.
func (b *backend) recovery() (rec fsread.Recovery) {
	defer func() {
		if p := recover(); p != nil {
			rec = fsread.Recovery{State: fsread.RecoveryDirty, Reason: fmt.Sprintf("reading $Volume and $LogFile: %v", p)}
		}
	}()
	var reasons []string
	info := &Info{}
	b.volumeInfo(info)
	switch {
	case !info.DirtyKnown:
		reasons = append(reasons, "$Volume flags unreadable: cannot tell whether the volume was shut down cleanly")
	case info.Dirty:
		reasons = append(reasons, reasonDirtyBit)
	}
	ra, warnings, err := b.logRestart()
	switch {
	case err != nil:
		reasons = append(reasons, err.Error()+": cannot tell whether writes are pending")
	case ra != nil && ra.open():
		reasons = append(reasons, reasonLogFile)
		warnings = append(warnings, fmt.Sprintf("$LogFile restart area (page at %d, log %d.%d): current LSN %d, last checkpoint LSN %d, client %d in use, flags %#x",
			ra.off, ra.major, ra.minor, ra.currentLSN, ra.restartLSN, ra.inUse, ra.flags))
	}
	if ra != nil && ra.chkdsk {
		warnings = append(warnings, fmt.Sprintf("$LogFile restart page at %d was rewritten by chkdsk", ra.off))
	}
	rec.Warnings = warnings
	if len(reasons) == 0 {
		rec.State = fsread.RecoveryNone
		return rec
	}
	rec.State = fsread.RecoveryDirty
	rec.Reason = strings.Join(reasons, "; ")
	return rec
}
