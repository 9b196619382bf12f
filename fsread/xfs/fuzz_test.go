package xfs

import (
	"bytes"
	"encoding/binary"
	"io"
	"io/fs"
	"slices"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/internal/lru"
)

// The targets mutate one structure inside the tiny valid image (seeds
// built once per machine by mkfs.xfs; without xfsprogs they skip), with the
// v5 checksums recomputed, and check invariants: reads stay inside the
// image, every listed name is found again by Lookup, the same input gives
// the same listing twice, replay is bounded and deterministic.

// mutateMeta returns the image with meta block sel patched at off.
func mutateMeta(t *testing.T, img *sparseImage, sel uint16, off uint16, patch []byte) *patchedImage {
	blk := img.meta[int(sel)%len(img.meta)]
	b := slices.Clone(img.blocks[blk])
	copy(b[int(off)%len(b):], patch)
	fixCRCs(b, int(be16(img.blocks[0], 0x68)))
	return &patchedImage{t: t, base: img, size: img.size, blk: blk, b: b}
}

// FuzzNew opens the image with one metadata block (superblock and AG
// headers, free-space and inode btrees, inode chunks, directory blocks, the
// log) changed, and walks what it can.
func FuzzNew(f *testing.F) {
	img := tinyImage(f)
	for i := range img.meta {
		f.Add(uint16(i), uint16(0), []byte{})
	}
	f.Add(uint16(0), uint16(0x38), []byte{0, 0, 0, 0, 0, 0, 0, 0x83}) // root inode number
	f.Add(uint16(0), uint16(0x60), []byte{0xff, 0xff})                // log size
	f.Fuzz(func(t *testing.T, sel uint16, off uint16, patch []byte) {
		if len(patch) > 512 {
			return
		}
		r := mutateMeta(t, img, sel, off, patch)
		v, err := open(r, r.size)
		if err != nil {
			noPanicText(t, err)
			return
		}
		if _, err := Probe(r); err != nil {
			t.Errorf("open accepted what Probe refuses: %v", err)
		}
		a := listing(t, v, 100)
		v2, err := open(r, r.size)
		if err != nil {
			t.Fatalf("second open of the same input failed: %v", err)
		}
		if b := listing(t, v2, 100); a != b {
			t.Errorf("same input, different listings:\n%s\n%s", a, b)
		}
		if v.recovery.String() != v2.recovery.String() {
			t.Errorf("same input, recovery %s then %s", v.recovery, v2.recovery)
		}
	})
}

// FuzzLookup damages one metadata block, then resolves a path and reads
// what it names through the FS every check sees.
func FuzzLookup(f *testing.F) {
	img := tinyImage(f)
	f.Add(uint32(0), []byte{}, "etc/passwd")
	f.Add(uint32(5<<16|0x10), []byte{3}, "leaf/entry-059-xxxxxxxxxxxxxxxxxxx")
	f.Add(uint32(7<<16|0x4c), []byte{0, 0, 0, 9}, "link")
	f.Add(uint32(9<<16|0x38), []byte{0xff}, "block/f03")
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, name string) {
		if len(patch) > 4096 || !fs.ValidPath(name) {
			return
		}
		r := mutateMeta(t, img, uint16(off>>16), uint16(off), patch)
		v, err := open(r, r.size)
		if err != nil {
			return
		}
		fsys := fsread.NewFS[uint64](v, "fuzz")
		file, err := fsys.Open(name)
		noPanicText(t, err)
		if err != nil {
			return
		}
		defer file.Close()
		// Bounded: a damaged size may claim exabytes.
		n, err := io.CopyN(io.Discard, file, 1<<20)
		if err != nil && err != io.EOF {
			noPanicText(t, err)
		}
		if fi, serr := file.Stat(); serr == nil && fi.Mode().IsRegular() && err == nil && n < min(fi.Size(), 1<<20) {
			t.Errorf("%s: %d of %d bytes read without an error", name, n, fi.Size())
		}
	})
}

// encodeOps is the fuzz input form of log records: per operation a tid
// byte, a flags byte (0x80: the record ends after it), a 16-bit length and
// the body.
func encodeOps(recs [][]logOp) []byte {
	var b []byte
	for _, ops := range recs {
		for i, o := range ops {
			fl := o.flags
			if i == len(ops)-1 {
				fl |= 0x80
			}
			b = append(b, byte(o.tid), fl)
			b = binary.BigEndian.AppendUint16(b, uint16(len(o.body)))
			b = append(b, o.body...)
		}
	}
	return b
}

func decodeOps(b []byte) (recs [][]logOp, commits int) {
	var cur []logOp
	size := 0
	for len(b) >= 4 {
		n := min(int(binary.BigEndian.Uint16(b[2:])), len(b)-4)
		o := logOp{tid: uint32(b[0]), flags: b[1] &^ 0x80, body: b[4 : 4+n]}
		if size+opHeaderSize+n > cycleDataSize-bbSize {
			recs, cur, size = append(recs, cur), nil, 0
		}
		cur = append(cur, o)
		size += opHeaderSize + n
		if o.flags&opCommit != 0 {
			commits++
		}
		if b[1]&0x80 != 0 {
			recs, cur, size = append(recs, cur), nil, 0
		}
		b = b[4+n:]
	}
	if len(cur) > 0 {
		recs = append(recs, cur)
	}
	return recs, commits
}

// logSeeds are transactions against the tiny image: a logged superblock
// chunk (label changed), an AGI chunk, a cancelled and re-logged buffer, a
// new inode chunk, the root inode's core and data fork, intents with and
// without their done items, and an operation split across two records.
func logSeeds(img *sparseImage) [][][]logOp {
	sb0 := slices.Clone(img.blocks[0][:blfChunk])
	copy(sb0[0x6c:], "REPLAYED")
	agi := slices.Clone(img.blocks[1][:blfChunk]) // 1 KiB blocks: AGI is sector 2
	v, _ := open(img, img.size)
	rootOff, _ := v.inodeOffset(v.sb.rootIno)
	blkno := rootOff / int64(v.bs) * int64(v.bs) / bbSize
	rootRaw := make([]byte, v.sb.inodeSize)
	img.ReadAt(rootRaw, rootOff)
	core, fork := diskToLogDinode(rootRaw)
	ino := inodeFormat(v.sb.rootIno, blkno, int(v.bs/bbSize), int(rootOff-blkno*bbSize), ilogCore|ilogDData, 3, len(fork))
	return [][][]logOp{
		{txn(1, bufFormat(0, 1, 0, []int{0}, 1), sb0)},
		{txn(2, bufFormat(int64(v.bs)/bbSize, 1, 0, []int{0}, 1), agi), txn(3, ino, core, fork)},
		{txn(4, bufFormat(400, 2, blfCancel, nil, 0)), txn(5, bufFormat(400, 2, 0, []int{1}, 1), make([]byte, blfChunk))},
		{txn(6, icreateItem(1, 64, 64, uint32(v.sb.inodeSize), uint32(64*int64(v.sb.inodeSize)/v.bs), 7))},
		{txn(7, intentItem(liEFI, 9), intentItem(liEFD, 9), intentItem(liBUI, 10))},
		{txn(8, bufFormat(0, 1, 0, []int{0}, 1))[:3], {{tid: 8, flags: opContinue, body: sb0[:60]}}, {{tid: 8, flags: opWasCont, body: sb0[60:]}, {tid: 8, flags: opCommit}}},
	}
}

// FuzzLog builds a valid log (headers, cycle stamps, CRCs) from the fuzzed
// operations, optionally damages its raw bytes, and replays it against the
// tiny image. Invariants: records round-trip through the parser, no more
// transactions replay than were committed, the overlay stays inside the
// filesystem and its memory cap, the same log replays the same twice, and
// the replayed view reads within bounds.
func FuzzLog(f *testing.F) {
	img := tinyImage(f)
	for _, s := range logSeeds(img) {
		f.Add(encodeOps(s), uint16(0), []byte{})
	}
	// As root, the base is a kernel-made dirty image and its own log's
	// operations are a seed: every item kind file creation, rewrite and
	// deletion leave, against the blocks they name.
	if canMakeDirty() {
		if raw, err := dirtyImageBytes("v5"); err == nil {
			if sp, err := sparseOf(raw); err == nil {
				f.Add(encodeOps(realOps(f, raw)), uint16(0), []byte{})
				img = sp
			}
		}
	}
	base, err := openOpts(img, img.size, fsread.OpenOptions{NoReplay: true})
	if err != nil {
		f.Fatal(err)
	}
	// Records go where the base's own log has its tail: v5 replay compares
	// their LSNs with those the blocks on disk carry.
	start := int64(0)
	if l, err := base.logDev(); err == nil {
		if st, err := l.findTail(); err == nil && !st.clean {
			start = st.tail
		}
	}
	f.Fuzz(func(t *testing.T, ops []byte, patchAt uint16, patch []byte) {
		if len(ops) > 64<<10 || len(patch) > 64 {
			return
		}
		recs, commits := decodeOps(ops)
		need := int64(64) + start
		for range recs {
			need += cycleDataSize/bbSize + 1
		}
		log := buildLogAt(need, start, base.sb.uuid, recs)
		if len(patch) > 0 {
			copy(log[int(patchAt)%len(log):], patch)
		}
		run := func() (*logScan, recoveryResult, *blockOverlay, error) {
			l := &logDev{r: bytes.NewReader(log), bbs: need, v2: true, uuid: base.sb.uuid}
			st, err := l.findTail()
			if err != nil || st.clean {
				return nil, recoveryResult{}, nil, err
			}
			s := l.scanLog(st)
			rp := base.newReplayer(s.bo)
			return s, rp.run(s), rp.ov, nil
		}
		s, res, ov, err := run()
		s2, res2, _, err2 := run()
		if (err == nil) != (err2 == nil) || (s == nil) != (s2 == nil) {
			t.Fatalf("same log, different outcome: %v / %v", err, err2)
		}
		if s == nil {
			return
		}
		if res.transactions != res2.transactions || res.blocks != res2.blocks || slices.Compare(res.warnings, res2.warnings) != 0 {
			t.Errorf("same log replayed differently: %+v / %+v", res, res2)
		}
		if len(patch) == 0 && s.stop == nil && s.records != len(recs) {
			t.Errorf("%d records built, %d read back", len(recs), s.records)
		}
		if res.transactions > commits {
			t.Errorf("%d transactions replayed from %d commits", res.transactions, commits)
		}
		if ov.bytes > maxReplayBytes {
			t.Errorf("overlay of %d bytes", ov.bytes)
		}
		for k := range ov.blocks {
			if k < 0 || uint64(k) >= base.sb.dblocks {
				t.Errorf("replayed block %d outside the filesystem", k)
			}
		}
		// The replayed view, as every check would read it.
		c := *base
		c.inodeCache, c.dirCache = lru.New[uint64, *inode](4096), lru.New[uint64, *dirList](1<<18)
		c.r = &patchedImage{t: t, base: img, size: img.size}
		if len(ov.blocks) > 0 {
			c.ov = ov
		}
		listing(t, &c, 50)
	})
}

// realOps reads a dirty image's log records back into operations, their
// transaction ids renumbered to the fuzz input's one byte.
func realOps(t testing.TB, img []byte) [][]logOp {
	li := openLog(t, img)
	tids := map[uint32]uint32{}
	var recs [][]logOp
	var last *recHeader
	for _, o := range li.ops(t) {
		d, _ := li.l.data(o.rec)
		tid := be32(d, o.at)
		if _, ok := tids[tid]; !ok {
			tids[tid] = uint32(len(tids) + 1)
		}
		if o.rec != last {
			recs, last = append(recs, nil), o.rec
		}
		recs[len(recs)-1] = append(recs[len(recs)-1], logOp{tid: tids[tid], flags: d[o.at+9], body: o.body})
	}
	return recs
}

// diskToLogDinode turns an on-disk inode into the little-endian log
// dinode and its data fork: what the kernel logs for it.
func diskToLogDinode(d []byte) (core, fork []byte) {
	le, be := binary.LittleEndian, binary.BigEndian
	c := make([]byte, dinodeV3Size)
	for _, f := range []struct{ off, size int }{
		{0, 2}, {2, 2}, {6, 2}, {8, 4}, {12, 4}, {16, 4}, {20, 2}, {22, 2}, {24, 8},
		{56, 8}, {64, 8}, {72, 4}, {76, 4}, {80, 2}, {84, 4}, {88, 2}, {90, 2}, {92, 4}, {96, 4},
		{104, 8}, {112, 8}, {120, 8}, {128, 4}, {152, 8},
	} {
		switch f.size {
		case 2:
			le.PutUint16(c[f.off:], be.Uint16(d[f.off:]))
		case 4:
			le.PutUint32(c[f.off:], be.Uint32(d[f.off:]))
		case 8:
			le.PutUint64(c[f.off:], be.Uint64(d[f.off:]))
		}
	}
	c[4], c[5], c[82], c[83] = d[4], d[5], d[82], d[83]
	big := be.Uint64(d[120:])&diflag2Bigtime != 0
	for _, o := range []int{32, 40, 48, 144} {
		if big {
			le.PutUint64(c[o:], be.Uint64(d[o:]))
		} else {
			le.PutUint32(c[o:], be.Uint32(d[o:]))
			le.PutUint32(c[o+4:], be.Uint32(d[o+4:]))
		}
	}
	copy(c[160:], d[160:176])
	size := int(be.Uint64(d[56:]))
	lit := dinodeV3Size
	if d[4] < 3 {
		lit = dinodeV2Size
	}
	if d[5] == fmtLocal {
		fork = slices.Clone(d[lit : lit+(size+7)&^7])
	} else {
		fork = slices.Clone(d[lit : lit+16*int(be.Uint32(d[76:]))])
	}
	return c, fork
}

// inodeFormat is an xfs_inode_log_format (the 64-bit layout).
func inodeFormat(ino uint64, blkno int64, nbb, boff int, fields uint32, regions, dsize int) []byte {
	le := binary.LittleEndian
	b := make([]byte, 56)
	le.PutUint16(b[0:], liInode)
	le.PutUint16(b[2:], uint16(regions))
	le.PutUint32(b[4:], fields)
	le.PutUint16(b[10:], uint16(dsize))
	le.PutUint64(b[16:], ino)
	le.PutUint64(b[40:], uint64(blkno))
	le.PutUint32(b[48:], uint32(nbb))
	le.PutUint32(b[52:], uint32(boff))
	return b
}
