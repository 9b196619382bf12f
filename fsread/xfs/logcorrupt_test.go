package xfs

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// logImage is a dirty image opened far enough to walk its log.
type logImage struct {
	img  []byte
	v    *volume
	l    *logDev
	st   *logState
	recs []*recHeader
}

func openLog(t testing.TB, img []byte) *logImage {
	t.Helper()
	v, err := openOpts(bytes.NewReader(img), int64(len(img)), fsread.OpenOptions{NoReplay: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := v.logDev()
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.findTail()
	if err != nil || st.clean {
		t.Fatalf("log: %+v %v", st, err)
	}
	li := &logImage{img: img, v: v, l: l, st: st}
	for b := st.tail; b != st.head; {
		h, err := l.header(b)
		if err != nil {
			t.Fatal(err)
		}
		li.recs = append(li.recs, h)
		b = l.wrap(b + h.totalBBs)
	}
	return li
}

// rawOff is the image offset of byte o of a record's data.
func (li *logImage) rawOff(h *recHeader, o int) int64 {
	blk := li.l.wrap(h.blk + h.hblks + int64(o/bbSize))
	return li.l.start + blk*bbSize + int64(o%bbSize)
}

// op is one operation header found in a record's (unpacked) data.
type op struct {
	rec  *recHeader
	at   int // offset of the op header in the data
	body []byte
}

func (li *logImage) ops(t testing.TB) []op {
	var out []op
	for _, h := range li.recs {
		d, err := li.l.data(h)
		if err != nil {
			t.Fatal(err)
		}
		for pos, n := 0, h.numOps; n > 0 && pos+opHeaderSize <= len(d); n-- {
			olen := int(be32(d, pos+4))
			out = append(out, op{rec: h, at: pos, body: d[pos+opHeaderSize : pos+opHeaderSize+olen]})
			pos += opHeaderSize + olen
		}
	}
	return out
}

// poke writes b at byte o of h's data in img, and (when fix) recomputes
// the record's CRC so that the damage gets past it. Bytes that a cycle
// stamp covers are refused: the test picks other ones.
func (li *logImage) poke(t *testing.T, img []byte, h *recHeader, o int, b []byte, fix bool) {
	t.Helper()
	for i := range b {
		if (o+i)%bbSize < 4 {
			t.Fatalf("byte %d of the record data lies under a cycle stamp", o+i)
		}
		img[li.rawOff(h, o+i)] = b[i]
	}
	if fix {
		li.fixCRC(t, img, h)
	}
}

func (li *logImage) fixCRC(t *testing.T, img []byte, h *recHeader) {
	l := *li.l
	l.r = bytes.NewReader(img)
	h2, err := l.header(h.blk)
	if err != nil {
		t.Fatal(err)
	}
	d := make([]byte, h2.length)
	if err := l.read(d, h2.blk+h2.hblks); err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(img[l.start+h.blk*bbSize+32:], recordCRC(h2, d, l.v2))
}

func (li *logImage) findOp(t *testing.T, typ uint16) op {
	for _, o := range li.ops(t) {
		if len(o.body) >= 24 && binary.LittleEndian.Uint16(o.body) == typ && (o.at+opHeaderSize+8)%bbSize >= 4 && (o.at+opHeaderSize+8)%bbSize < bbSize-8 {
			return o
		}
	}
	t.Fatalf("no log item of type 0x%x", typ)
	return op{}
}

// TestCorruptLog damages real kernel-written logs the ways a bad image
// can: replay must end at the last whole transaction before the damage,
// say where with a warning, never panic, and give the same answer twice.
// Damage within the last maxIclogs records before the head is what a crash
// leaves (torn writes): the kernel discards it and so do we, saying so; the
// wrap image has more records than that, and its cases damage the first
// ones, which is corruption: the volume stays dirty.
func TestCorruptLog(t *testing.T) {
	imgs := map[string][]byte{}
	for _, kind := range []string{"v5", "wrap"} {
		img, _ := dirtyImage(t, kind)
		imgs[kind] = img
	}
	full := map[string]int{}
	for kind, img := range imgs {
		fsys, err := New(bytes.NewReader(img), int64(len(img)), kind)
		if err != nil {
			t.Fatal(err)
		}
		full[kind] = fsread.RecoveryOf(fsys).Transactions
		if n := len(openLog(t, img).recs); kind == "wrap" && n <= maxIclogs {
			t.Fatalf("wrap image has %d records: too few to tell torn writes from corruption", n)
		}
	}
	le := binary.LittleEndian
	u32 := func(x uint32) []byte { return binary.BigEndian.AppendUint32(nil, x) }
	for _, tc := range []struct {
		name, kind string
		damage     func(t *testing.T, li *logImage, img []byte)
		state      fsread.RecoveryState
		warn       string
		fewer      bool // fewer transactions than the undamaged log
	}{
		{"bad CRC in the newest record (torn write)", "v5", func(t *testing.T, li *logImage, img []byte) {
			h := li.recs[len(li.recs)-1]
			li.poke(t, img, h, 100, []byte{img[li.rawOff(h, 100)] ^ 0xff}, false)
		}, fsread.RecoveryReplayed, "torn write", true},
		{"bad CRC in the oldest record", "wrap", func(t *testing.T, li *logImage, img []byte) {
			h := li.recs[0]
			li.poke(t, img, h, 100, []byte{img[li.rawOff(h, 100)] ^ 0xff}, false)
		}, fsread.RecoveryDirty, "bad CRC", true},
		{"record of an older cycle in the middle (stale wrap)", "wrap", func(t *testing.T, li *logImage, img []byte) {
			h := li.recs[1]
			hdr := li.l.start + h.blk*bbSize
			c := h.cycle - 1
			copy(img[hdr+4:], u32(c))
			copy(img[hdr+16:], u32(c))
			li.fixCRC(t, img, h)
			// The older cycle also moves the head the search finds, so on
			// some kernel-made wrap logs replay stops earlier, at an item
			// whose inode chunk lies beyond that head: dirty either way.
		}, fsread.RecoveryDirty, "out of order OR does not hold an inode", true},
		{"record LSN out of order", "wrap", func(t *testing.T, li *logImage, img []byte) {
			h := li.recs[1]
			copy(img[li.l.start+h.blk*bbSize+20:], u32(uint32(h.blk+7)))
			li.fixCRC(t, img, h)
		}, fsread.RecoveryDirty, "carries LSN", true},
		{"record length claiming 4 GiB", "wrap", func(t *testing.T, li *logImage, img []byte) {
			h := li.recs[1]
			copy(img[li.l.start+h.blk*bbSize+12:], u32(0xffffffff))
		}, fsread.RecoveryDirty, "claims", true},
		{"operation length claiming 4 GiB", "v5", func(t *testing.T, li *logImage, img []byte) {
			o := li.findOp(t, liBuf)
			at := o.at + 4
			if at%bbSize < 4 {
				t.Skip("op length under a cycle stamp")
			}
			li.poke(t, img, o.rec, at, u32(0xfffffff0), true)
		}, fsread.RecoveryDirty, "operation of", true},
		{"buffer item outside the filesystem", "v5", func(t *testing.T, li *logImage, img []byte) {
			o := li.findOp(t, liBuf)
			li.poke(t, img, o.rec, o.at+opHeaderSize+8, le.AppendUint64(nil, li.v.sb.dblocks*8+64), true)
		}, fsread.RecoveryDirty, "outside the filesystem", true},
		{"inode item for an inode outside the filesystem", "v5", func(t *testing.T, li *logImage, img []byte) {
			o := li.findOp(t, liInode)
			li.poke(t, img, o.rec, o.at+opHeaderSize+16, le.AppendUint64(nil, 1<<50), true)
		}, fsread.RecoveryDirty, "does not locate it", true},
		{"unknown item type", "v5", func(t *testing.T, li *logImage, img []byte) {
			o := li.findOp(t, liInode)
			li.poke(t, img, o.rec, o.at+opHeaderSize, le.AppendUint16(nil, 0x12ff), true)
		}, fsread.RecoveryDirty, "unknown log item type 0x12ff", true},
		{"log zeroed", "v5", func(t *testing.T, li *logImage, img []byte) {
			clear(img[li.l.start : li.l.start+li.l.bbs*bbSize])
		}, fsread.RecoveryNone, "", true},
		{"record header magic wiped (head search)", "v5", func(t *testing.T, li *logImage, img []byte) {
			h := li.recs[len(li.recs)-1]
			clear(img[li.l.start+h.blk*bbSize : li.l.start+h.blk*bbSize+4])
		}, fsread.RecoveryReplayed, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := bytes.Clone(imgs[tc.kind])
			tc.damage(t, openLog(t, imgs[tc.kind]), img)
			var first fsread.Recovery
			for i := 0; i < 2; i++ {
				fsys, err := New(bytes.NewReader(img), int64(len(img)), "damaged")
				if err != nil {
					// The superblock is intact: the volume must open.
					t.Fatalf("open: %v", err)
				}
				rec := fsread.RecoveryOf(fsys)
				if i == 0 {
					first = rec
					t.Logf("%s; warnings %q", rec, rec.Warnings)
					continue
				}
				if rec.String() != first.String() || strings.Join(rec.Warnings, "|") != strings.Join(first.Warnings, "|") {
					t.Errorf("second open differs: %+v vs %+v", rec, first)
				}
				if rec.State != tc.state {
					t.Errorf("state %s, want %s", rec.State, tc.state)
				}
				if tc.state == fsread.RecoveryDirty && rec.Reason != reasonDirty {
					t.Errorf("reason %q", rec.Reason)
				}
				if tc.warn != "" && !containsAny(strings.Join(rec.Warnings, "|"), strings.Split(tc.warn, " OR ")) {
					t.Errorf("no warning with %q: %q", tc.warn, rec.Warnings)
				}
				if tc.fewer && rec.Transactions >= full[tc.kind] {
					t.Errorf("%d transactions replayed, undamaged log has %d", rec.Transactions, full[tc.kind])
				}
				// Whatever was replayed, the tree stays walkable.
				fsread.Walk(fsys, ".", func(string, fs.DirEntry, error) error { return nil })
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
