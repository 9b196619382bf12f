package ntfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

// TestRecovery reads the recovery state of volumes made by mkntfs and
// changed by ntfsfix (which sets the dirty bit so Windows runs chkdsk;
// ntfsfix -d clears it), and of the tiny volume with the restart pages of
// a $LogFile Windows 10 wrote (clean) and the same pages with the client
// left in use and the clean flag cleared (fix-ups redone), the state
// Windows leaves after a crash.
func TestRecovery(t *testing.T) {
	needTool(t, "ntfsfix")
	fx := fixtureOf(t)
	win := windowsRestart(t)
	// withDisk lays on-disk restart pages over the tiny image's $LogFile;
	// withLog protects logical ones first.
	withDiskOn := func(base, disk []byte) []byte {
		return fuzzcheck.NewOverlay(base, fuzzcheck.Patch{Off: fx.logOff, Data: disk}).Bytes()
	}
	withDisk := func(disk []byte) []byte { return withDiskOn(fx.img, disk) }
	withLogOn := func(base, pages []byte) []byte {
		var disk []byte
		for p := 0; p < len(pages); p += 4096 {
			disk = append(disk, fx.protected(fx.logOff+int64(p), 4096, pages[p:p+4096])...)
		}
		return withDiskOn(base, disk)
	}
	withLog := func(pages []byte) []byte { return withLogOn(fx.img, pages) }
	ntfsfix := func(img []byte, args ...string) []byte {
		p := filepath.Join(t.TempDir(), "v.img")
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := run("ntfsfix", append(args, p)...); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dirty := ntfsfix(fx.img)
	windowsDirty := withLog(restartWith(win, 0, 0))
	tests := []struct {
		name    string
		img     []byte
		state   fsread.RecoveryState
		reasons []string // Reason is these, in this order
		warning string   // in a warning, if set
	}{
		{"mkntfs", fx.img, fsread.RecoveryNone, nil, ""},
		{"ntfsfix sets the dirty bit", dirty, fsread.RecoveryDirty, []string{reasonDirtyBit}, ""},
		{"ntfsfix -d clears it", ntfsfix(dirty, "-d"), fsread.RecoveryNone, nil, ""},
		{"Windows 10 $LogFile, clean shutdown", withLog(win), fsread.RecoveryNone, nil, ""},
		{"Windows 10 $LogFile, client still in use", windowsDirty, fsread.RecoveryDirty, []string{reasonLogFile}, "current LSN 1080813, last checkpoint LSN 1080813"},
		{"no client in use, no clean flag", withLog(restartWith(win, logNoClient, 0)), fsread.RecoveryNone, nil, ""},
		// ntfsfix also resets $LogFile (to 0xFF): what Windows would have
		// redone is gone, and only the dirty bit tells.
		{"ntfsfix on an open log", ntfsfix(windowsDirty), fsread.RecoveryDirty, []string{reasonDirtyBit}, ""},
		{"dirty bit and open log", withLogOn(dirty, restartWith(win, 0, 0)), fsread.RecoveryDirty, []string{reasonDirtyBit, reasonLogFile}, ""},
		{"restart pages unreadable", withLog(bytes.Repeat([]byte("junk"), 2048)), fsread.RecoveryDirty, []string{"$LogFile: no valid restart page: cannot tell whether writes are pending"}, "signature \"junk\""},
		{"one torn restart page", withDisk(append(protected(win[:4096]), tear(win[4096:])...)), fsread.RecoveryNone, nil, "torn sector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, err := New(bytes.NewReader(tc.img), int64(len(tc.img)), "v.img")
			if err != nil {
				t.Fatal(err)
			}
			rec := fsread.RecoveryOf(fsys)
			t.Logf("%s %q", rec, rec.Warnings)
			if rec.State != tc.state {
				t.Errorf("state %q, want %q", rec.State, tc.state)
			}
			if want := strings.Join(tc.reasons, "; "); rec.Reason != want {
				t.Errorf("reason %q, want %q", rec.Reason, want)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(rec.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q lack %q", rec.Warnings, tc.warning)
			}
			if rec.Complete() != (tc.state != fsread.RecoveryDirty) {
				t.Errorf("Complete() = %v for %q", rec.Complete(), rec.State)
			}
		})
	}
}

func protected(logical []byte) []byte {
	p := bytes.Clone(logical)
	protect(p)
	return p
}

// tear protects a logical restart page and then overwrites the end of its
// second sector, as a write torn between sectors leaves it.
func tear(logical []byte) []byte {
	p := protected(logical)
	p[1024-2] ^= 0xFF
	return p
}

// TestRecoveryMounted copies the volume while ntfs-3g has it mounted
// read-write with a file open for writing, as a snapshot of a running
// system would, and reads what that copy says. ntfs-3g keeps no journal
// (it resets $LogFile at mount) and sets no dirty bit, so the copy is
// clean by both tests: the test pins that, so that a change in what
// ntfs-3g writes is noticed.
func TestRecoveryMounted(t *testing.T) {
	if why := canMount(); why != "" {
		t.Skip(why)
	}
	img := filepath.Join(t.TempDir(), "m.img")
	if err := os.WriteFile(img, tinyImage(t), 0o644); err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	if err := run("ntfs-3g", "-o", "rw", img, mnt); err != nil {
		t.Skipf("ntfs-3g mount: %v", err)
	}
	defer run("umount", mnt)
	f, err := os.Create(filepath.Join(mnt, "open.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("written while the snapshot was taken\n"); err != nil {
		t.Fatal(err)
	}
	snap, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := New(bytes.NewReader(snap), int64(len(snap)), "snapshot.img")
	if err != nil {
		t.Fatal(err)
	}
	rec := fsread.RecoveryOf(fsys)
	t.Logf("copy taken while mounted: %s %q", rec, rec.Warnings)
	if rec.State != fsread.RecoveryNone {
		t.Errorf("state %q (%s), want clean: ntfs-3g changed what it writes", rec.State, rec.Reason)
	}
}
