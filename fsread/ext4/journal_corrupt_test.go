package ext4

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// jlog is the layout of a dirty image's journal, for patching copies of it.
type jlog struct {
	js     *jsuper
	j      *inodeJournal
	bs     int
	blocks []jhdr // journal blocks that carry a JBD2 header, in log order
}

type jhdr struct {
	n        uint32
	off      int64
	typ, seq uint32
}

func journalLayout(t *testing.T, img []byte) *jlog {
	t.Helper()
	v, err := open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	j, js, err := v.loadJournal(le32(v.sb.raw, sbJournalInum))
	if err != nil {
		t.Fatal(err)
	}
	l := &jlog{js: js, j: j, bs: int(v.bs)}
	for n := js.start; n < js.last; n++ {
		off := j.phys(n)
		b := img[off : off+v.bs]
		if be32(b, 0) == jbdMagic {
			l.blocks = append(l.blocks, jhdr{n: n, off: off, typ: be32(b, 4), seq: be32(b, 8)})
		}
	}
	return l
}

// find returns the journal block of type typ in transaction seq.
func (l *jlog) find(t *testing.T, typ, seq uint32) jhdr {
	for _, h := range l.blocks {
		if h.typ == typ && h.seq == seq {
			return h
		}
	}
	t.Fatalf("no block of type %d in transaction %d", typ, seq)
	return jhdr{}
}

func (l *jlog) block(img []byte, h jhdr) []byte { return img[h.off : h.off+int64(l.bs)] }

// reseal recomputes the csum v2/v3 checksum of a patched descriptor,
// revoke or commit block, so that the check after it is reached.
func (l *jlog) reseal(img []byte, h jhdr) {
	b := l.block(img, h)
	switch h.typ {
	case jbdDescriptor, jbdRevoke:
		n := len(b) - 4
		binary.BigEndian.PutUint32(b[n:], crc32c(crc32c(l.js.seed, b[:n]), make([]byte, 4)))
	case jbdCommit:
		clear(b[0x10:0x14])
		binary.BigEndian.PutUint32(b[0x10:], crc32c(l.js.seed, b))
	}
}

func (l *jlog) resealSuper(img []byte) {
	b := img[l.j.phys(0):][:jbdSuperSize]
	clear(b[0xFC:0x100])
	binary.BigEndian.PutUint32(b[0xFC:], crc32c(^uint32(0), b))
}

func put32(b []byte, off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }

// TestCorruptJournal: every kind of damage ends replay at the last valid
// transaction with a warning naming the one it stopped at, or leaves the
// volume dirty with the reason; never a panic, and the image is not written.
func TestCorruptJournal(t *testing.T) {
	bases := map[string][]byte{}
	for _, v := range []string{"d-ext4", "d-ext4-nocsum"} {
		b, err := os.ReadFile(dirtyImage(t, v))
		if err != nil {
			t.Fatal(err)
		}
		bases[v] = b
	}
	sbJ := func(l *jlog, img []byte) []byte { return img[l.j.phys(0):][:jbdSuperSize] }
	cases := []struct {
		name, base string
		mutate     func(t *testing.T, l *jlog, img []byte)
		state      fsread.RecoveryState
		trans      int
		warn       string // substring of the warnings (empty: none)
		reason     string // substring of the Reason
	}{
		{name: "intact v3", base: "d-ext4", mutate: func(*testing.T, *jlog, []byte) {}, state: fsread.RecoveryReplayed, trans: 3},
		{name: "bad commit checksum", base: "d-ext4", state: fsread.RecoveryReplayed, trans: 1,
			warn: "transaction 2: commit block", mutate: func(t *testing.T, l *jlog, img []byte) {
				l.block(img, l.find(t, jbdCommit, 2))[0x10] ^= 0xFF
			}},
		{name: "stale commit of an older time ends quietly", base: "d-ext4", state: fsread.RecoveryReplayed, trans: 1,
			mutate: func(t *testing.T, l *jlog, img []byte) {
				b := l.block(img, l.find(t, jbdCommit, 2))
				binary.BigEndian.PutUint64(b[0x30:], 1)
				b[0x10] ^= 0xFF
			}},
		{name: "bad descriptor checksum", base: "d-ext4", state: fsread.RecoveryReplayed, trans: 1,
			warn: "transaction 2: descriptor block", mutate: func(t *testing.T, l *jlog, img []byte) {
				b := l.block(img, l.find(t, jbdDescriptor, 2))
				b[len(b)-8] ^= 0xFF
			}},
		{name: "bad copy checksum", base: "d-ext4", state: fsread.RecoveryReplayed, trans: 1,
			warn: "transaction 2: checksum mismatch of the copy", mutate: func(t *testing.T, l *jlog, img []byte) {
				h := l.find(t, jbdDescriptor, 2)
				h.off = l.j.phys(h.n + 1)
				l.block(img, h)[100] ^= 0xFF
			}},
		{name: "descriptor names a block outside the filesystem", base: "d-ext4", state: fsread.RecoveryReplayed, trans: 1,
			warn: "beyond the filesystem's 4096 blocks; replay ends at transaction 1", mutate: func(t *testing.T, l *jlog, img []byte) {
				h := l.find(t, jbdDescriptor, 2)
				put32(l.block(img, h), 12, 0x7FFFFFFF)
				l.reseal(img, h)
			}},
		{name: "revoke count beyond the block", base: "d-ext4", state: fsread.RecoveryReplayed, trans: 2,
			warn: "transaction 3: revoke block", mutate: func(t *testing.T, l *jlog, img []byte) {
				h := l.find(t, jbdRevoke, 3)
				put32(l.block(img, h), 12, 1<<16)
				l.reseal(img, h)
			}},
		{name: "transaction out of order", base: "d-ext4-nocsum", state: fsread.RecoveryReplayed, trans: 1,
			warn: "holds transaction 9 out of order; replay ends at transaction 1", mutate: func(t *testing.T, l *jlog, img []byte) {
				put32(l.block(img, l.find(t, jbdDescriptor, 2)), 8, 9)
			}},
		{name: "sequence numbers wrap past 2^32", base: "d-ext4-nocsum", state: fsread.RecoveryReplayed, trans: 3,
			mutate: func(t *testing.T, l *jlog, img []byte) {
				put32(sbJ(l, img), 0x18, 0xFFFFFFFF)
				for _, h := range l.blocks {
					put32(l.block(img, h), 8, h.seq-2)
				}
			}},
		{name: "log longer than the journal", base: "d-ext4-nocsum", state: fsread.RecoveryReplayed, trans: 0,
			warn: "runs past one lap of the journal; nothing replayed", mutate: func(t *testing.T, l *jlog, img []byte) {
				put32(sbJ(l, img), 0x10, 20)
			}},
		{name: "journal cut short by a truncated image", base: "d-ext4-nocsum", state: fsread.RecoveryReplayed, trans: 1,
			warn: "unreadable", mutate: func(t *testing.T, l *jlog, img []byte) {
				// Simulated below: the image ends after transaction 1's commit.
			}},
		{name: "journal superblock checksum", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "journal superblock checksum mismatch", mutate: func(t *testing.T, l *jlog, img []byte) {
				sbJ(l, img)[0x18] ^= 1
			}},
		{name: "journal superblock magic", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "no JBD2 magic", mutate: func(t *testing.T, l *jlog, img []byte) { put32(sbJ(l, img), 0, 0) }},
		{name: "unknown journal feature", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "unknown incompatible features 0x100", mutate: func(t *testing.T, l *jlog, img []byte) {
				b := sbJ(l, img)
				put32(b, 0x28, be32(b, 0x28)|0x100)
				l.resealSuper(img)
			}},
		{name: "journal bigger than its inode", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "its inode maps", mutate: func(t *testing.T, l *jlog, img []byte) {
				put32(sbJ(l, img), 0x10, 1<<30)
				l.resealSuper(img)
			}},
		{name: "empty journal", base: "d-ext4", state: fsread.RecoveryReplayed, trans: 0,
			mutate: func(t *testing.T, l *jlog, img []byte) {
				put32(sbJ(l, img), 0x1C, 0)
				l.resealSuper(img)
			}},
		{name: "external journal", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "external journal on another device: not available", mutate: func(t *testing.T, l *jlog, img []byte) {
				binary.LittleEndian.PutUint32(img[superOffset+sbJournalInum:], 0)
				copy(img[superOffset+sbJournalUUID:], "0123456789abcdef")
			}},
		{name: "needs_recovery without a journal", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "no journal", mutate: func(t *testing.T, l *jlog, img []byte) {
				c := binary.LittleEndian.Uint32(img[superOffset+0x5C:])
				binary.LittleEndian.PutUint32(img[superOffset+0x5C:], c&^compatHasJournal)
			}},
		{name: "journal inode maps a block twice", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "mapped twice", mutate: func(t *testing.T, l *jlog, img []byte) {
				v := l.j.v
				ib := img[int64(v.itable[0])*v.bs+7*v.isz+0x28:][:60]
				if le16(ib, 0) != extentMagic || le16(ib, 2) < 2 || le16(ib, 6) != 0 {
					t.Fatalf("journal inode's extent root is not a leaf of several extents: %x", ib[:36])
				}
				copy(ib[24+6:24+12], ib[12+6:12+12]) // extent 2 starts where extent 1 does
			}},
		{name: "journal inode not a file", base: "d-ext4", state: fsread.RecoveryDirty,
			reason: "journal inode 2 is not a regular file", mutate: func(t *testing.T, l *jlog, img []byte) {
				binary.LittleEndian.PutUint32(img[superOffset+sbJournalInum:], rootIno)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := bytes.Clone(bases[tc.base])
			l := journalLayout(t, img)
			tc.mutate(t, l, img)
			if strings.HasPrefix(tc.name, "journal cut short") {
				c := l.find(t, jbdCommit, 1)
				img = img[:c.off+int64(l.bs)]
			}
			before := bytes.Clone(img)
			fsys, err := NewOpts(bytes.NewReader(img), int64(len(img)), "corrupt", fsread.OpenOptions{})
			if err != nil {
				t.Fatalf("NewOpts: %v", err)
			}
			rec := fsread.RecoveryOf(fsys)
			w := strings.Join(rec.Warnings, "; ")
			if rec.State != tc.state || rec.Transactions != tc.trans || (tc.warn == "") != (w == "") ||
				!strings.Contains(w, tc.warn) || !strings.Contains(rec.Reason, tc.reason) {
				t.Errorf("recovery %#v\nwant state %s, %d transactions, warning ~%q, reason ~%q", rec, tc.state, tc.trans, tc.warn, tc.reason)
			}
			// The volume still reads (whichever view it got), without a panic.
			n := 0
			fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				noPanicText(t, err)
				n++
				return nil
			})
			if n < 5 {
				t.Errorf("only %d entries readable", n)
			}
			if !bytes.Equal(img, before) {
				t.Error("the image was written")
			}
		})
	}
}
