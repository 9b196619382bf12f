package xfs

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// withLog returns the tiny image with its log area replaced by log.
func withLog(t *testing.T, img *sparseImage, log []byte) *sparseImage {
	t.Helper()
	v, err := openOpts(img, img.size, fsread.OpenOptions{NoReplay: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := v.logDev()
	if err != nil {
		t.Fatal(err)
	}
	out := &sparseImage{size: img.size, bs: img.bs, blocks: maps.Clone(img.blocks), meta: img.meta}
	for o := int64(0); o < l.bbs*bbSize; o += img.bs {
		blk := (l.start + o) / img.bs
		b := make([]byte, img.bs)
		if o < int64(len(log)) {
			copy(b, log[o:])
		}
		if bytes.Count(b, []byte{0}) == len(b) {
			delete(out.blocks, blk)
		} else {
			out.blocks[blk] = b
		}
	}
	return out
}

// TestSyntheticLog replays logs written the kernel's way by buildLog
// (needs no root): each item kind must do what recovery does.
func TestSyntheticLog(t *testing.T) {
	for _, v4 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v5", true: "v4"}[v4], func(t *testing.T) { syntheticLog(t, tinyImageOf(t, v4)) })
	}
}

func syntheticLog(t *testing.T, img *sparseImage) {
	seeds := logSeeds(img)
	v0, _ := open(img, img.size)
	for _, tc := range []struct {
		name  string
		seed  int
		state fsread.RecoveryState
		check func(t *testing.T, fsys fsread.FS, v *volume)
	}{
		{"superblock buffer chunk", 0, fsread.RecoveryReplayed, func(t *testing.T, fsys fsread.FS, v *volume) {
			if inf, _ := InfoOf(fsys); inf.Label != "REPLAYED" {
				t.Errorf("label %q after replaying the superblock", inf.Label)
			}
		}},
		{"AGI chunk and the root inode core and fork", 1, fsread.RecoveryReplayed, func(t *testing.T, fsys fsread.FS, v *volume) {
			if a, b := listing(t, v, 200), listing(t, v0, 200); a != b {
				t.Errorf("re-logging the root inode as it is changed the tree:\n%s\n%s", a, b)
			}
			off, _ := v.inodeOffset(v.sb.rootIno)
			got, want := make([]byte, v.sb.inodeSize), make([]byte, v.sb.inodeSize)
			v.readFull(got, off)
			v0.readFull(want, off)
			if !v.v5 {
				if !bytes.Equal(got, want) {
					t.Errorf("v4 root inode changed by replaying itself")
				}
				return
			}
			// Recovery stamps the transaction's LSN and a new CRC.
			if !bytes.Equal(got[:0x64], want[:0x64]) || !bytes.Equal(got[0x78:], want[0x78:]) || be64(got, 0x70) != 1<<32|2 { // the second record, at block 2
				t.Logf("lsn %x -> %x; crc %x -> %x", be64(want, 0x70), be64(got, 0x70), be32(want, 0x64), be32(got, 0x64))
				t.Errorf("root inode after replay differs beyond LSN and CRC")
			}
		}},
		{"cancelled buffer not replayed, re-logged one after the cancel is", 2, fsread.RecoveryReplayed, func(t *testing.T, fsys fsread.FS, v *volume) {
			if _, ok := v.ov.blocks[400*bbSize/v.bs]; !ok {
				t.Error("the buffer logged after its cancellation was not replayed")
			}
		}},
		{"inode chunk created", 3, fsread.RecoveryReplayed, func(t *testing.T, fsys fsread.FS, v *volume) {
			ino := uint64(1)<<(v.sb.agblkLog+v.sb.inopbLog) | 64<<v.sb.inopbLog | 1
			in, err := v.inode(ino)
			if err != nil {
				t.Fatal(err)
			}
			if in.mode != 0 || in.nlink != 0 {
				t.Errorf("new inode %d: mode %o nlink %d", ino, in.mode, in.nlink)
			}
		}},
		{"pending block-mapping intent makes it dirty", 4, fsread.RecoveryDirty, func(t *testing.T, fsys fsread.FS, v *volume) {
			w := strings.Join(fsread.RecoveryOf(fsys).Warnings, "|")
			if !strings.Contains(w, "1 pending block-mapping update intent (BUI) not applied") || !strings.Contains(w, "1 extent-free intent (EFI) paired with done items: not replayed, nothing pending") {
				t.Errorf("warnings %q", w)
			}
		}},
		{"operation split across records", 5, fsread.RecoveryReplayed, func(t *testing.T, fsys fsread.FS, v *volume) {
			if inf, _ := InfoOf(fsys); inf.Label != "REPLAYED" {
				t.Errorf("label %q after replaying a split region", inf.Label)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := buildLog(1024, v0.sb.uuid, seeds[tc.seed])
			dirty := withLog(t, img, log)
			for _, no := range []bool{true, false} {
				fsys, err := NewOpts(dirty, dirty.size, "synthetic", fsread.OpenOptions{NoReplay: no})
				if err != nil {
					t.Fatal(err)
				}
				rec := fsread.RecoveryOf(fsys)
				if no {
					if rec.State != fsread.RecoveryDirty || rec.Reason != "log replay disabled: on-disk view" {
						t.Errorf("no-replay view: %+v", rec)
					}
					continue
				}
				t.Logf("%s; %q", rec, rec.Warnings)
				if rec.State != tc.state || rec.Transactions == 0 {
					t.Errorf("recovery %+v, want %s", rec, tc.state)
				}
				v, _ := openOpts(dirty, dirty.size, fsread.OpenOptions{})
				tc.check(t, fsys, v)
			}
			if !slices.Equal(img.meta, dirty.meta) {
				t.Fatal("image changed")
			}
		})
	}
}

// TestLogDinodeRoundTrip: an on-disk inode logged and replayed is the same
// inode but for what recovery sets (LSN, CRC).
func TestLogDinodeRoundTrip(t *testing.T) {
	img := tinyImage(t)
	v, _ := open(img, img.size)
	rp := v.newReplayer(binary.LittleEndian)
	walkBackend(v, 100, func(n uint64, _ fs.FileMode) {
		off, _ := v.inodeOffset(n)
		d := make([]byte, v.sb.inodeSize)
		v.readFull(d, off)
		core, _ := diskToLogDinode(d)
		out := slices.Clone(d)
		rp.logDinodeToDisk(out, core, be64(d, 0x70), false)
		if !bytes.Equal(out[:dinodeV3Size], d[:dinodeV3Size]) {
			t.Errorf("inode %d: core changed by the round trip", n)
		}
	})
}

// TestRecoveryStates covers the verdicts that need no log records: a clean
// log is clean with or without replay, an external log or an unreadable
// one is dirty with its reason, never clean.
func TestRecoveryStates(t *testing.T) {
	img := tinyImage(t)
	sbPatch := func(off int, b ...byte) *patchedImage {
		return mutateMeta(t, img, 0, uint16(off), b) // meta[0] is the superblock's block
	}
	if img.meta[0] != 0 {
		t.Fatal("first metadata block is not the superblock's")
	}
	for _, tc := range []struct {
		name   string
		r      *patchedImage
		opt    fsread.OpenOptions
		state  fsread.RecoveryState
		reason string
		warn   string
	}{
		{"clean log", sbPatch(0), fsread.OpenOptions{}, fsread.RecoveryNone, "", ""},
		{"clean log, replay disabled", sbPatch(0), fsread.OpenOptions{NoReplay: true}, fsread.RecoveryNone, "", ""},
		{"external log", sbPatch(0x30, 0, 0, 0, 0, 0, 0, 0, 0), fsread.OpenOptions{}, fsread.RecoveryDirty, "external log device: not available", ""},
		{"log larger than its AG", sbPatch(0x60, 0x7f, 0xff, 0xff, 0xff), fsread.OpenOptions{}, fsread.RecoveryDirty, reasonDirty, "does not fit its AG"},
		{"log start outside the filesystem", sbPatch(0x30, 0x7f, 0, 0, 0, 0, 0, 0, 0), fsread.OpenOptions{}, fsread.RecoveryDirty, reasonDirty, "outside the filesystem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, err := NewOpts(tc.r, tc.r.size, "states", tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			rec := fsread.RecoveryOf(fsys)
			if rec.State != tc.state || rec.Reason != tc.reason || !strings.Contains(strings.Join(rec.Warnings, "|"), tc.warn) {
				t.Errorf("recovery %+v, want %s %q %q", rec, tc.state, tc.reason, tc.warn)
			}
			if rec.State == fsread.RecoveryDirty && rec.Complete() {
				t.Error("dirty but complete")
			}
		})
	}
}

// TestReplayMemoryCap: a log whose replay needs more memory than the cap
// is refused with a warning, the volume dirty, whatever fit replayed.
func TestReplayMemoryCap(t *testing.T) {
	img := tinyImage(t)
	v0, _ := open(img, img.size)
	seeds := logSeeds(img)
	// Four transactions; caps below what they need stop replay.
	recs := append(append(slices.Clone(seeds[0]), seeds[0]...), seeds[1]...)
	dirty := withLog(t, img, buildLog(1024, v0.sb.uuid, recs))
	defer func(old int64) { maxReplayBytes = old }(maxReplayBytes)
	for _, c := range []struct {
		limit int64
		state fsread.RecoveryState
	}{{256 << 20, fsread.RecoveryReplayed}, {1200, fsread.RecoveryDirty}, {100, fsread.RecoveryDirty}} {
		maxReplayBytes = c.limit
		fsys, err := New(dirty, dirty.size, "capped")
		if err != nil {
			t.Fatal(err)
		}
		rec := fsread.RecoveryOf(fsys)
		t.Logf("cap %d: %s %q", c.limit, rec, rec.Warnings)
		if rec.State != c.state || (c.state == fsread.RecoveryDirty && !strings.Contains(strings.Join(rec.Warnings, "|"), "memory cap")) {
			t.Errorf("cap %d: %+v", c.limit, rec)
		}
	}
}
