package ext4

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// Seed images made by testdata/mktiny.sh (96 KiB each).
var seedImages = []string{"testdata/tiny-ext4.img", "testdata/tiny-ext2.img"}

// fixture is what every fuzz input of a process mutates: the tiny seed
// images, a 4 MiB dirty image (1 KiB blocks, 1 MiB journal, three
// transactions) and the used part of its journal. Built once per process;
// inputs never copy it (see cowImage).
type fixture struct {
	images [][]byte // tiny-ext4, tiny-ext2, dirty
	dirty  []byte
	jsb    *jsuper
	jrnl   *inodeJournal // the dirty image's journal, on disk
	// log is the journal's first blocks (through the end of the log),
	// with s_maxlen cut to match: a real journal small enough to fuzz.
	log    []byte
	logJS  *jsuper
	logEnd uint32
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func loadFixture(tb testing.TB) *fixture {
	fixOnce.Do(func() { fix, fixErr = buildFixture(tb) })
	if fixErr != nil {
		tb.Skip(fixErr)
	}
	return fix
}

func buildFixture(tb testing.TB) (*fixture, error) {
	f := &fixture{}
	for _, p := range seedImages {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f.images = append(f.images, b)
	}
	for _, tool := range []string{"mke2fs", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("needs %s (e2fsprogs) for the dirty seed: %v", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "ext4fuzz")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "dirty.img")
	if out, err := runScript(tb, img, "d-ext4-1k"); err != nil {
		return nil, fmt.Errorf("make-dirty-ext4.sh: %v\n%s", err, out)
	}
	if f.dirty, err = os.ReadFile(img); err != nil {
		return nil, err
	}
	f.images = append(f.images, f.dirty)
	v, err := open(bytes.NewReader(f.dirty), int64(len(f.dirty)))
	if err != nil {
		return nil, err
	}
	if f.jrnl, f.jsb, err = v.loadJournal(le32(v.sb.raw, sbJournalInum)); err != nil {
		return nil, err
	}
	res := scanJournal(f.jrnl, f.jsb, v.sb.blocksCount)
	if res.transactions != 3 {
		return nil, fmt.Errorf("dirty seed: %d transactions, want 3", res.transactions)
	}
	// The log ends after the commit block of the third transaction (copies
	// cannot pass for headers: their magic is escaped).
	bs := int(v.bs)
	buf := make([]byte, bs)
	for n := f.jsb.start; n < f.jsb.last && f.logEnd == 0; n++ {
		f.jrnl.readJ(n, buf)
		if be32(buf, 0) == jbdMagic && be32(buf, 4) == jbdCommit && be32(buf, 8) == f.jsb.sequence+2 {
			f.logEnd = n + 1
		}
	}
	f.log = make([]byte, int(f.logEnd+2)*bs)
	for n := uint32(0); n < f.logEnd+2; n++ {
		f.jrnl.readJ(n, f.log[int(n)*bs:][:bs])
	}
	put32(f.log, 0x10, f.logEnd+2)
	if f.jsb.csumV23() {
		sb := f.log[:jbdSuperSize]
		clear(sb[0xFC:0x100])
		binary.BigEndian.PutUint32(sb[0xFC:], crc32c(^uint32(0), sb))
	}
	if f.logJS, err = parseJSuper(f.log[:bs], uint64(f.logEnd+2), uint32(bs)); err != nil {
		return nil, err
	}
	if r := scanJournal(memJournal(f.log, bs), f.logJS, 1<<20); r.transactions != 3 {
		return nil, fmt.Errorf("trimmed journal: %d transactions, want 3", r.transactions)
	}
	return f, nil
}

// cowImage is a fixed image with a few blocks replaced: reading it copies
// only what is read, so an input costs what it touches, not the image size.
type cowImage struct {
	base  []byte
	bs    int64
	dirty map[int64][]byte
}

func newCow(base []byte, bs int64) *cowImage {
	return &cowImage{base: base, bs: bs, dirty: map[int64][]byte{}}
}

func (c *cowImage) size() int64 { return int64(len(c.base)) }

func (c *cowImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(c.base)) {
		return 0, io.EOF
	}
	n := copy(p, c.base[off:])
	for blk, b := range c.dirty {
		lo, hi := blk*c.bs, blk*c.bs+c.bs
		if hi <= off || lo >= off+int64(n) {
			continue
		}
		s := max(lo, off)
		e := min(hi, off+int64(n))
		copy(p[s-off:e-off], b[s-lo:e-lo])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// block returns a writable copy of block blk.
func (c *cowImage) block(blk int64) []byte {
	if b, ok := c.dirty[blk]; ok {
		return b
	}
	b := make([]byte, c.bs)
	copy(b, c.base[min(blk*c.bs, int64(len(c.base))):])
	c.dirty[blk] = b
	return b
}

// patch writes p at off (clipped to the image).
func (c *cowImage) patch(off int64, p []byte) {
	for len(p) > 0 && off >= 0 && off < int64(len(c.base)) {
		blk := off / c.bs
		k := copy(c.block(blk)[off-blk*c.bs:], p)
		p, off = p[k:], off+int64(k)
	}
}

// cowJournal reads journal blocks at fixed image offsets through a cowImage.
type cowJournal struct {
	c  *cowImage
	at func(n uint32) int64
	n  uint32
}

func memJournal(b []byte, bs int) *cowJournal {
	return &cowJournal{c: newCow(b, int64(bs)), at: func(n uint32) int64 { return int64(n) * int64(bs) }, n: uint32(len(b) / bs)}
}

func (j *cowJournal) phys(n uint32) int64 { return j.at(n) }

func (j *cowJournal) readJ(n uint32, p []byte) error {
	if n >= j.n {
		return fmt.Errorf("journal block %d beyond %d", n, j.n)
	}
	_, err := j.c.ReadAt(p, j.at(n))
	return err
}

// reseal rewrites every checksum of the log in j after a mutation, as the
// kernel's commit would have written them (tag checksums of the copies,
// descriptor and revoke tails, commit blocks, crc32 of v1 commits, the
// superblock), so that the fuzzer reaches the replay beyond the checks.
func reseal(j *cowJournal, js *jsuper) {
	bs := int(js.blocksize)
	if js.csumV23() {
		sb := j.c.block(j.phys(0) / j.c.bs)[:jbdSuperSize]
		clear(sb[0xFC:0x100])
		binary.BigEndian.PutUint32(sb[0xFC:], crc32c(^uint32(0), sb))
	}
	if js.start == 0 {
		return
	}
	next, tid := js.start, js.sequence
	lap := js.last - js.first
	wrap := func(n uint32) uint32 {
		if n++; n >= js.last {
			n -= lap
		}
		return n
	}
	crc := ^uint32(0)
	data := make([]byte, bs)
	for used := uint32(0); used < lap; used++ {
		at := next
		if at >= j.n {
			return
		}
		b := j.c.block(j.phys(at) / j.c.bs)
		next = wrap(next)
		if be32(b, 0) != jbdMagic || be32(b, 8) != tid {
			return
		}
		switch be32(b, 4) {
		case jbdDescriptor:
			tb, tail := js.tagBytes(), js.tailBytes()
			if js.v1csum() {
				crc = crc32be(crc, b) // v1 has no tail: b is final
			}
			for off := 12; off+tb <= bs-tail; {
				t := b[off:]
				flags := uint32(be16(t, 6))
				if next >= j.n {
					return
				}
				j.readJ(next, data)
				next = wrap(next)
				used++
				if js.v1csum() {
					crc = crc32be(crc, data)
				}
				var s [4]byte
				binary.BigEndian.PutUint32(s[:], tid)
				c := crc32c(crc32c(js.seed, s[:]), data)
				switch {
				case js.incompat&jbdIncompatCsumV3 != 0:
					binary.BigEndian.PutUint32(t[12:], c)
				case js.incompat&jbdIncompatCsumV2 != 0:
					binary.BigEndian.PutUint16(t[4:], uint16(c))
				}
				off += tb
				if flags&tagSameUUID == 0 {
					off += 16
				}
				if flags&tagLast != 0 {
					break
				}
			}
			if tail > 0 {
				binary.BigEndian.PutUint32(b[bs-4:], crc32c(crc32c(js.seed, b[:bs-4]), make([]byte, 4)))
			}
		case jbdRevoke:
			if js.tailBytes() > 0 {
				binary.BigEndian.PutUint32(b[bs-4:], crc32c(crc32c(js.seed, b[:bs-4]), make([]byte, 4)))
			}
		case jbdCommit:
			if js.v1csum() {
				b[0xC], b[0xD] = jbdCRC32, 4
				binary.BigEndian.PutUint32(b[0x10:], crc)
				crc = ^uint32(0)
			}
			if js.csumV23() {
				clear(b[0x10:0x14])
				binary.BigEndian.PutUint32(b[0x10:], crc32c(js.seed, b))
			}
			tid++
		default:
			return
		}
	}
}

// Patches are capped short: Go's minimizer tries removing every subset
// of an input's bytes (quadratic), so each new input whose used prefix is
// a block long took it seconds to a minute, during which nothing ran
// (FuzzNew's 7 executions in 37 s). Bytes past the cap change no coverage
// and are cut first. A field or an entry fits in the cap.
const (
	maxPatch        = 32
	maxJournalPatch = 64
)

// noPanicText fails when an error is a panic that NewFS's guard turned
// into an error: the guard protects the scan, it must not hide our bugs.
func noPanicText(t *testing.T, err error) {
	if err != nil && strings.Contains(err.Error(), "runtime error") {
		t.Fatalf("panic behind the guard: %v", err)
	}
}

// checkReplay asserts what any scan of any journal must satisfy.
func checkReplay(t *testing.T, res *replay, jblocks uint32, fsBlocks uint64, phys func(uint32) int64) {
	if res.transactions > int(jblocks) || len(res.ov) > int(jblocks) || len(res.warnings) > 1 {
		t.Fatalf("%d transactions, %d blocks, %d warnings from a %d-block journal", res.transactions, len(res.ov), len(res.warnings), jblocks)
	}
	valid := map[int64]bool{}
	for n := uint32(0); n < jblocks; n++ {
		valid[phys(n)] = true
	}
	for i, e := range res.ov {
		if e.blk >= fsBlocks || !valid[e.off] || (i > 0 && res.ov[i-1].blk >= e.blk) {
			t.Fatalf("overlay entry %d %+v: outside the filesystem or the journal, or unsorted", i, e)
		}
	}
	if res.transactions == 0 && len(res.ov) > 0 {
		t.Fatalf("blocks overlaid without a committed transaction")
	}
}

// FuzzJournal drives the JBD2 parser over a real three-transaction log
// (csum v3, revoke, escaped copy), mutated at a journal block and,
// when reseal is set, with every checksum recomputed so the mutation
// reaches the tag, revoke and replay logic.
func FuzzJournal(f *testing.F) {
	fx := loadFixture(f)
	f.Add(uint8(0), uint16(0), []byte{}, false)
	f.Add(uint8(1), uint16(12), []byte{0, 0, 0, 0, 0x7f}, true) // first tag of transaction 1
	f.Add(uint8(0), uint16(0x18), []byte{0xff, 0xff, 0xff, 0xff}, true)
	f.Add(uint8(0), uint16(0x28), []byte{0, 0, 0, 0x0a}, true)               // csum v2 instead of v3
	f.Add(uint8(byte(fx.logEnd-2)), uint16(12), []byte{0, 0, 0x10, 0}, true) // revoke r_count
	bs := int(fx.logJS.blocksize)
	f.Fuzz(func(t *testing.T, blk uint8, off uint16, patch []byte, doReseal bool) {
		j := memJournal(fx.log, bs)
		n := int64(blk) % int64(j.n)
		j.c.patch(n*int64(bs)+int64(off)%int64(bs), patch[:min(len(patch), maxJournalPatch)])
		sb := make([]byte, bs)
		j.readJ(0, sb)
		js, err := parseJSuper(sb, uint64(j.n), uint32(bs))
		if err != nil {
			return
		}
		if doReseal {
			reseal(j, js)
		}
		const fsBlocks = 4096
		d := j
		res := scanJournal(d, js, fsBlocks)
		checkReplay(t, res, j.n, fsBlocks, d.phys)
		again := scanJournal(d, js, fsBlocks)
		if !slices.Equal(res.ov, again.ov) || res.transactions != again.transactions || !slices.Equal(res.warnings, again.warnings) {
			t.Fatalf("two scans of one journal differ")
		}
	})
}

// FuzzNew feeds superblock and group descriptor bytes to New: patch
// lands at 1024+off (the superblock, then the descriptors of 1 KiB-block
// images) of a real tiny image whose inode tables and directories stay
// intact, so an accepted superblock leads into the rest of the reader.
// The input is the patch, not the region: small inputs keep the fuzzer's
// minimization cheap (a 2 KiB input took it minutes per new input).
func FuzzNew(f *testing.F) {
	fx := loadFixture(f)
	for i := range fx.images {
		f.Add(uint8(i), uint16(0), []byte{})
	}
	f.Add(uint8(0), uint16(0x28), []byte{1, 0, 0, 0})       // inodes per group
	f.Add(uint8(1), uint16(0x60), []byte{0x80, 0x02, 0, 0}) // incompat: 64bit, filetype
	f.Add(uint8(2), uint16(1024+8), []byte{0xff, 0xff})     // a group's inode table
	f.Fuzz(func(t *testing.T, which uint8, off uint16, patch []byte) {
		c := newCow(fx.images[int(which)%len(fx.images)], 1024)
		c.patch(1024+int64(off)%2048, patch[:min(len(patch), maxPatch)])
		checkCow(t, c)
	})
}

// Structures FuzzStruct mutates.
const (
	stSuper = iota
	stGroupDesc
	stInode
	stIBlock // i_block: extent root, block pointers, inline data, fast symlink
	stTreeBlock
	stDirBlock
	stJournal
	stKinds
)

// FuzzStruct mutates one metadata structure of a fixed valid image: the
// superblock, a group descriptor, an inode, the extent root or block map
// in i_block, an extent tree or indirect block, a directory block, or a
// journal block of the dirty image (then with the journal's checksums
// recomputed). ext4 metadata checksums are not verified by this reader,
// so they need no recomputing to reach the code behind them.
func FuzzStruct(f *testing.F) {
	fx := loadFixture(f)
	for k := uint8(0); k < stKinds; k++ {
		f.Add(uint8(0), k, uint16(0), uint16(0), []byte{0xff})
		f.Add(uint8(2), k, uint16(1), uint16(4), []byte{0, 0, 0, 0})
	}
	f.Add(uint8(1), uint8(stIBlock), uint16(11), uint16(0), []byte{0x20, 0, 0, 0})
	f.Add(uint8(0), uint8(stDirBlock), uint16(0), uint16(4), []byte{0xff, 0xff})
	targets := make([]*structMap, len(fx.images))
	for i, img := range fx.images {
		targets[i] = mapStructs(f, img)
	}
	f.Fuzz(func(t *testing.T, which, kind uint8, idx, off uint16, patch []byte) {
		i := int(which) % len(fx.images)
		sm := targets[i]
		c := newCow(fx.images[i], sm.bs)
		patch = patch[:min(len(patch), maxPatch)]
		k := int(kind) % stKinds
		if k == stJournal {
			if i != len(fx.images)-1 { // the journal is the dirty image's
				i, sm = len(fx.images)-1, targets[len(fx.images)-1]
				c = newCow(fx.images[i], sm.bs)
			}
			j := &cowJournal{c: c, at: fx.jrnl.phys, n: uint32(fx.jrnl.n)}
			n := uint32(idx) % (fx.logEnd + 1)
			c.patch(fx.jrnl.phys(n)+int64(off)%sm.bs, patch)
			if len(patch) > 0 && patch[0]&1 == 0 {
				// Even first bytes reseal, odd ones leave the checksums
				// stale: both the replay and the checks get fuzzed.
				reseal(j, fx.jsb)
			}
		} else if ext := sm.places[k]; len(ext) > 0 {
			p := ext[int(idx)%len(ext)]
			c.patch(p.off+int64(off)%p.n, patch)
		}
		checkCow(t, c)
	})
}

// place is one structure instance in an image.
type place struct{ off, n int64 }

type structMap struct {
	bs     int64
	places [stKinds][]place
}

// mapStructs finds the metadata structures of a valid image.
func mapStructs(tb testing.TB, img []byte) *structMap {
	v, err := open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatal(err)
	}
	sm := &structMap{bs: v.bs}
	sm.places[stSuper] = []place{{superOffset, superSize}}
	dsz := v.descSize()
	for g := range v.itable {
		b := v.descBlock(uint64(g) / uint64(v.bs/dsz))
		sm.places[stGroupDesc] = append(sm.places[stGroupDesc], place{int64(b)*v.bs + int64(g)%(v.bs/dsz)*dsz, dsz})
	}
	for n := uint32(1); n <= min(v.inodes, 64); n++ {
		g, idx := (n-1)/v.ipg, int64((n-1)%v.ipg)
		off := int64(v.itable[g])*v.bs + idx*v.isz
		sm.places[stInode] = append(sm.places[stInode], place{off, v.isz})
		sm.places[stIBlock] = append(sm.places[stIBlock], place{off + 0x28, 60})
		in, err := v.inode(n)
		if err != nil || in.mode == 0 || in.flags&flagInlineData != 0 {
			continue
		}
		d, err := v.data(in)
		if err != nil {
			continue
		}
		m := v.newMapper(in)
		if in.flags&flagExtents != 0 {
			m.extents(in.iblock(), -1)
		} else {
			for l := 1; l <= 3; l++ {
				if p := le32(in.iblock(), 4*(11+l)); p != 0 {
					m.indirect(uint64(p), l, 12)
				}
			}
		}
		for blk := range m.visited {
			sm.places[stTreeBlock] = append(sm.places[stTreeBlock], place{int64(blk) * v.bs, v.bs})
		}
		if in.typ() == sIFDIR {
			for _, r := range d.runs {
				for b := uint64(0); b < r.count && !r.zero; b++ {
					sm.places[stDirBlock] = append(sm.places[stDirBlock], place{int64(r.pblk+b) * v.bs, v.bs})
				}
			}
		}
	}
	for k := range sm.places {
		slices.SortFunc(sm.places[k], func(a, b place) int { return int(a.off - b.off) })
	}
	return sm
}

var checks atomic.Int64

// checkCow opens the mutated image c both ways and checks the invariants:
// no panic, bounded work, the same listing twice, a listing consistent
// with Lookup and Stat, reads within the sizes stated, and allocations
// per input bounded.
func checkCow(t *testing.T, c *cowImage) {
	var ms0 runtime.MemStats
	// ReadMemStats stops the world: sample one input in 256.
	sample := checks.Add(1)%256 == 0
	if sample {
		runtime.ReadMemStats(&ms0)
	}
	// A panic surfaces through the FS too: NewFS's guard turns it into an
	// error that noPanicText fails on, so no separate backend walk.
	first := listing(t, c)
	if second := listing(t, c); first != second {
		t.Fatalf("two opens of one image list differently:\n%s\n---\n%s", first, second)
	}
	if sample {
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		if d := ms1.TotalAlloc - ms0.TotalAlloc; d > 256<<20 {
			t.Fatalf("%d MiB allocated for one %d-byte image", d>>20, c.size())
		}
	}
}

// listing walks the FS of c (replayed when dirty) and renders what it saw.
func listing(t *testing.T, c *cowImage) string {
	fsys, err := NewOpts(c, c.size(), "fuzz", fsread.OpenOptions{})
	if err != nil {
		return "error: " + err.Error()
	}
	var sb strings.Builder
	rec := fsread.RecoveryOf(fsys)
	if rec.Blocks > int(c.size()/512) || rec.Transactions > int(c.size()/1024) {
		t.Fatalf("recovery %+v beyond what a %d-byte image holds", rec, c.size())
	}
	fmt.Fprintf(&sb, "%s\n", rec)
	buf := make([]byte, 4<<10)
	n := 0
	fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		noPanicText(t, err)
		if n++; n > 300 {
			return fs.SkipAll
		}
		if err != nil {
			fmt.Fprintf(&sb, "%s: error\n", p)
			return nil
		}
		fi, err := fsys.Stat(p)
		noPanicText(t, err)
		if err != nil {
			fmt.Fprintf(&sb, "%s: stat error\n", p)
			return nil
		}
		fmt.Fprintf(&sb, "%s %v %d\n", p, fi.Mode(), fi.Size())
		if d.Type()&fs.ModeSymlink != 0 {
			_, err := fsys.ReadLink(p)
			noPanicText(t, err)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		fl, err := fsys.Open(p)
		noPanicText(t, err)
		if err != nil {
			return nil
		}
		defer fl.Close()
		got, err := io.CopyBuffer(io.Discard, io.LimitReader(fl, 1<<16), buf)
		noPanicText(t, err)
		if got > fi.Size() {
			t.Fatalf("%s: read %d bytes of a %d-byte file", p, got, fi.Size())
		}
		fmt.Fprintf(&sb, " read %d\n", got)
		return nil
	})
	return sb.String()
}

// FuzzLookup patches bytes anywhere in a real image, then opens it, walks
// it and reads every file, both on the backend (panics surface) and
// through the FS every check sees.
func FuzzLookup(f *testing.F) {
	fx := loadFixture(f)
	f.Add(uint8(0), uint32(0), []byte{})
	f.Add(uint8(1), uint32(0), []byte{})
	f.Add(uint8(2), uint32(0), []byte{})
	f.Add(uint8(0), uint32(1024+0x28), []byte{1, 0, 0, 0})          // inodes per group
	f.Add(uint8(0), uint32(5*1024+256+0x28), []byte{0xff, 0xff})    // root inode's i_block
	f.Add(uint8(1), uint32(5*1024+256+0x28), []byte{0x20, 0, 0, 0}) // root dir block pointer
	f.Fuzz(func(t *testing.T, which uint8, off uint32, patch []byte) {
		img := fx.images[int(which)%len(fx.images)]
		c := newCow(img, 1024)
		c.patch(int64(off)%int64(len(img)), patch[:min(len(patch), maxPatch)])
		checkCow(t, c)
	})
}

// TestResealIsIdentity: resealing an intact journal changes no byte, so
// the fuzz targets' reseal writes what the kernel's commit writes.
func TestResealIsIdentity(t *testing.T) {
	fx := loadFixture(t)
	j := memJournal(fx.log, int(fx.logJS.blocksize))
	reseal(j, fx.logJS)
	if len(j.c.dirty) < 3 {
		t.Fatalf("reseal touched %d blocks, want every header block", len(j.c.dirty))
	}
	for blk, b := range j.c.dirty {
		if !bytes.Equal(b, fx.log[blk*j.c.bs:][:j.c.bs]) {
			t.Errorf("reseal changed journal block %d", blk)
		}
	}
}

// TestResealReachesReplay: a mutated copy in the dirty image's journal
// stops replay at its transaction's checksum, and the same mutation
// resealed is replayed: FuzzStruct's journal mutations reach the replay.
func TestResealReachesReplay(t *testing.T) {
	fx := loadFixture(t)
	bs := int64(fx.jsb.blocksize)
	for _, doReseal := range []bool{false, true} {
		c := newCow(fx.dirty, bs)
		// The first copy of transaction 1 follows its descriptor at s_start.
		c.patch(fx.jrnl.phys(fx.jsb.start+1)+100, []byte{0xAA, 0x55})
		if doReseal {
			reseal(&cowJournal{c: c, at: fx.jrnl.phys, n: uint32(fx.jrnl.n)}, fx.jsb)
		}
		fsys, err := NewOpts(c, c.size(), "reseal", fsread.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rec := fsread.RecoveryOf(fsys)
		if want := map[bool]int{false: 0, true: 3}[doReseal]; rec.Transactions != want || (len(rec.Warnings) == 0) == !doReseal {
			t.Errorf("reseal %v: %+v, want %d transactions", doReseal, rec, want)
		}
	}
}
