package xfs

import (
	"bytes"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// fullLog is a 128 MiB log, cycle 1, of records that each hold one
// transaction logging 28 whole 1 KiB blocks, rotating over 8192 blocks of
// the tiny image's AG 1: the shape of a log filled by metadata churn.
func fullLog(b *testing.B, v *volume) (log []byte, bbs int64, recs int) {
	const logBytes = 128 << 20
	bbs = logBytes / bbSize
	var all [][]logOp
	blk := int64(0)
	used := int64(0)
	for tid := uint32(1); ; tid++ {
		var regions [][]byte
		for i := 0; i < 28; i++ {
			fsb := int64(v.sb.agblocks) + 64 + blk%8192
			blk++
			chunks := make([]int, v.bs/blfChunk)
			for c := range chunks {
				chunks[c] = c
			}
			regions = append(regions, bufFormat(fsb*v.bs/bbSize, int(v.bs/bbSize), 0, chunks, 1), bytes.Repeat([]byte{byte(tid)}, int(v.bs)))
		}
		ops := txn(tid, regions...)
		size := int64(bbSize)
		for _, o := range ops {
			size += opHeaderSize + int64(len(o.body))
		}
		size = (size + bbSize - 1) / bbSize * bbSize
		if used+size > logBytes-bbSize {
			break
		}
		used += size
		all = append(all, ops)
	}
	return buildLog(bbs, v.sb.uuid, all), bbs, len(all)
}

// BenchmarkLogReplay replays a full 128 MiB log in memory: head and tail
// search, record checks and unpacking, transaction gathering, both passes.
// Reported: log MiB/s, the log data kept until pass 2 and the overlay size
// (replay memory, capped by maxReplayBytes).
func BenchmarkLogReplay(b *testing.B) {
	img := tinyImage(b)
	v, err := openOpts(img, img.size, fsread.OpenOptions{NoReplay: true})
	if err != nil {
		b.Fatal(err)
	}
	log, bbs, recs := fullLog(b, v)
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	var res recoveryResult
	var s *logScan
	var ov *blockOverlay
	for i := 0; i < b.N; i++ {
		l := &logDev{r: bytes.NewReader(log), bbs: bbs, v2: true, uuid: v.sb.uuid}
		st, err := l.findTail()
		if err != nil || st.clean {
			b.Fatalf("%+v %v", st, err)
		}
		s = l.scanLog(st)
		rp := v.newReplayer(s.bo)
		res = rp.run(s)
		ov = rp.ov
	}
	b.StopTimer()
	if s.stop != nil || res.transactions != recs {
		b.Fatalf("replayed %d of %d transactions: %v", res.transactions, recs, s.stop)
	}
	b.ReportMetric(float64(s.bytes)/(1<<20), "log-MiB-kept")
	b.ReportMetric(float64(ov.bytes)/(1<<20), "overlay-MiB")
	b.ReportMetric(float64(res.transactions), "transactions")
}

// BenchmarkOverlayRead reads 4 MiB of the device in 64 KiB pieces on a
// clean volume (no overlay: replay costs nothing), on one with an
// 8192-block overlay elsewhere (one binary search per read) and where every
// block read is a replayed one (the copy from the overlay on top).
func BenchmarkOverlayRead(b *testing.B) {
	img := tinyImage(b)
	v, err := openOpts(img, img.size, fsread.OpenOptions{NoReplay: true})
	if err != nil {
		b.Fatal(err)
	}
	log, bbs, _ := fullLog(b, v)
	l := &logDev{r: bytes.NewReader(log), bbs: bbs, v2: true, uuid: v.sb.uuid}
	st, _ := l.findTail()
	rp := v.newReplayer(l.scanLog(st).bo)
	rp.run(l.scanLog(st))
	for _, tc := range []struct {
		name string
		ov   *blockOverlay
		ag   int64
	}{{"clean", nil, 1}, {"replayed-elsewhere", rp.ov, 0}, {"replayed-all-patched", rp.ov, 1}} {
		b.Run(tc.name, func(b *testing.B) {
			c := *v
			c.ov = tc.ov
			buf := make([]byte, 64<<10)
			start := tc.ag*int64(v.sb.agblocks)*v.bs + 1<<20 // the overlay lies in AG 1
			b.SetBytes(4 << 20)
			for i := 0; i < b.N; i++ {
				for off := start; off < start+4<<20; off += int64(len(buf)) {
					if err := c.readFull(buf, off); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
