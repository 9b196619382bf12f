package hivelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"strings"
)

// DefaultMaxHiveSize caps the recovered hive's length when Options leaves it
// zero: a log entry may grow the hive, and a hostile one may claim 4 GiB.
const DefaultMaxHiveSize = 512 << 20

// Log is one transaction log file beside the primary (.LOG1, .LOG2, .LOG).
// Memory use is bounded by the logs: every applied page is a copy of log
// bytes, and an entry is never larger than the log that holds it.
type Log struct {
	Name string
	R    io.ReaderAt
	Size int64
}

// Options bound the work.
type Options struct {
	MaxHiveSize int64 // 0 means DefaultMaxHiveSize
}

// Record is what recovery did.
type Record struct {
	Format   string   // "new" (HvLE entries, Windows 8.1+) or "old" (dirty vector)
	Logs     []string // logs applied, in the order applied
	Entries  int      // log entries applied (an old-format log is one)
	Pages    int      // dirty page references applied (old format: 512-byte pages)
	Bytes    int64    // bytes of page data applied
	FirstSeq uint32
	LastSeq  uint32
	Warnings []string
}

// Errors Recover returns; the message after them names each log's reason.
var (
	ErrNotDirty = errors.New("hive is not dirty")
	ErrNoLog    = errors.New("no usable transaction log")
)

// Recover applies logs to the dirty hive primary (size bytes), the way
// Windows does on load, and returns the recovered view. The primary and the
// logs are only read. A clean hive gives ErrNotDirty; a dirty one whose logs
// hold nothing applicable gives ErrNoLog with each log's reason (the
// Record's warnings say what was skipped).
func Recover(primary io.ReaderAt, size int64, logs []Log, opt Options) (*Overlay, Record, error) {
	var rec Record
	maxHive := opt.MaxHiveSize
	if maxHive <= 0 {
		maxHive = DefaultMaxHiveSize
	}
	if size < logHeaderSize {
		return nil, rec, fmt.Errorf("primary file: %d bytes, shorter than a base block", size)
	}
	base := make([]byte, BaseBlockSize)
	if _, err := primary.ReadAt(base[:min(size, BaseBlockSize)], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, rec, fmt.Errorf("primary file: reading base block: %w", err)
	}
	pb, err := ParseBaseBlock(base)
	if err != nil {
		return nil, rec, fmt.Errorf("primary file: %w", err)
	}
	if !pb.Dirty() {
		return nil, rec, ErrNotDirty
	}
	maxHbins := uint32(min(maxHive-BaseBlockSize, 1<<32-binAlign))
	r := recovery{primary: primary, size: size, base: base, pb: pb, maxHbins: maxHbins}
	var news []*newLog
	var olds []oldLog
	for _, l := range logs {
		if l.Size < logHeaderSize+4 {
			r.why(l.Name, "empty or shorter than a base block")
			continue
		}
		hdr := make([]byte, logHeaderSize+4)
		if _, err := l.R.ReadAt(hdr, 0); err != nil {
			r.why(l.Name, "reading: "+err.Error())
			continue
		}
		lb, err := ParseBaseBlock(hdr)
		if err != nil {
			r.why(l.Name, "base block: "+err.Error())
			continue
		}
		switch string(hdr[logHeaderSize:]) {
		case "HvLE":
			news = append(news, &newLog{name: l.Name, base: lb, header: hdr[:logHeaderSize]})
			entries, warn := readEntries(l, maxHbins)
			news[len(news)-1].entries, news[len(news)-1].warn = entries, warn
		case "DIRT":
			olds = append(olds, oldLog{Log: l, base: lb})
		default:
			r.why(l.Name, "holds no log entries")
		}
	}
	if ov, ok := r.applyNew(news); ok {
		return ov, r.rec, nil
	}
	if ov, ok := r.applyOld(olds); ok {
		return ov, r.rec, nil
	}
	if len(r.reasons) == 0 {
		r.reasons = append(r.reasons, "no .LOG1, .LOG2 or .LOG file")
	}
	return nil, r.rec, fmt.Errorf("%w: %s", ErrNoLog, strings.Join(r.reasons, "; "))
}

type recovery struct {
	primary  io.ReaderAt
	size     int64
	base     []byte
	pb       BaseBlock
	maxHbins uint32
	rec      Record
	reasons  []string
}

func (r *recovery) why(log, reason string) { r.reasons = append(r.reasons, log+": "+reason) }

// applyNew applies new-format entries: from the base block's secondary
// sequence number on, in order, the log with the earlier entries first and
// the other after it when it continues the numbering (Windows switches logs
// to split entries). A log entry older than the base block was applied
// before and is skipped.
func (r *recovery) applyNew(logs []*newLog) (*Overlay, bool) {
	if len(logs) == 0 {
		return nil, false
	}
	base := r.base
	expected := r.pb.Seq2
	if !r.pb.ChecksumOK {
		// The primary's base block is damaged: Windows takes the one the
		// log keeps (its first sector) and applies what follows it.
		var from *newLog
		for _, l := range logs {
			if l.base.ChecksumOK && len(l.entries) > 0 && (from == nil || seqBefore(l.base.Seq2, from.base.Seq2)) {
				from = l
			}
		}
		if from == nil {
			for _, l := range logs {
				r.why(l.name, "primary base block checksum is bad and the log's base block is not valid either")
			}
			return nil, false
		}
		base = make([]byte, BaseBlockSize)
		copy(base, from.header)
		expected = from.base.Seq2
		r.rec.Warnings = append(r.rec.Warnings, fmt.Sprintf("primary base block checksum is bad; base block taken from %s", from.name))
	}
	var chains []*newLog
	for _, l := range logs {
		if l.warn != "" {
			r.rec.Warnings = append(r.rec.Warnings, l.warn)
		}
		i := 0
		for i < len(l.entries) && seqBefore(l.entries[i].seq, expected) {
			i++
		}
		switch {
		case len(l.entries) == 0:
			r.why(l.name, "no valid log entry")
		case i == len(l.entries):
			r.why(l.name, fmt.Sprintf("entries %d..%d precede the base block's sequence %d (already applied)", l.entries[0].seq, l.entries[i-1].seq, expected))
		default:
			chains = append(chains, &newLog{name: l.name, entries: l.entries[i:]})
		}
	}
	if len(chains) == 0 {
		return nil, false
	}
	sort.SliceStable(chains, func(i, j int) bool {
		a, b := chains[i].entries[0].seq, chains[j].entries[0].seq
		if a != b {
			return seqBefore(a, b)
		}
		return len(chains[i].entries) > len(chains[j].entries)
	})
	order := chains[:1]
	if len(chains) > 1 {
		last := chains[0].entries[len(chains[0].entries)-1].seq
		if chains[1].entries[0].seq == last+1 {
			order = chains[:2]
		}
	}
	if first := order[0].entries[0].seq; first != expected {
		// A partial reconcile wrote the primary without updating its base
		// block and the log rotated twice: the entries in between are gone,
		// their data is already in the primary, and Windows applies what is
		// left.
		r.rec.Warnings = append(r.rec.Warnings, fmt.Sprintf("log entries start at sequence %d, the base block expects %d (primary partially reconciled); applied from %d", first, expected, first))
	}
	ov := newOverlay(r.primary, r.size, base)
	r.rec.Format = "new"
	r.rec.FirstSeq = order[0].entries[0].seq
	var last entry
	for _, c := range order {
		r.rec.Logs = append(r.rec.Logs, c.name)
		for _, e := range c.entries {
			ov.grow(BaseBlockSize + int64(e.hbins))
			for _, p := range e.pages {
				ov.put(p.off, p.data)
				r.rec.Pages++
				r.rec.Bytes += int64(len(p.data))
			}
			r.rec.Entries++
			last = e
		}
	}
	for _, l := range chains[len(order):] {
		r.rec.Warnings = append(r.rec.Warnings, fmt.Sprintf("%s: entries %d..%d do not continue sequence %d; not applied", l.name, l.entries[0].seq, l.entries[len(l.entries)-1].seq, last.seq))
	}
	r.rec.LastSeq = last.seq
	finishBaseBlock(ov.base, last.seq, last.hbins, last.flags, true)
	return ov, true
}

// oldLog is an old-format log: base block copy, dirty vector, dirty pages.
type oldLog struct {
	Log
	base BaseBlock
}

// applyOld applies the applicable old-format log: a valid base block copy
// (checksum, equal sequence numbers) written for this primary (same last
// written timestamp, or the first bin's when the primary's base block is
// damaged); of several, the newest.
func (r *recovery) applyOld(logs []oldLog) (*Overlay, bool) {
	want := r.pb.Timestamp
	if !r.pb.ChecksumOK {
		var ts [8]byte
		if _, err := r.primary.ReadAt(ts[:], BaseBlockSize+20); err == nil {
			want = binary.LittleEndian.Uint64(ts[:])
		}
	}
	var pick *oldLog
	for i, l := range logs {
		switch {
		case !l.base.ChecksumOK:
			r.why(l.Name, "base block checksum is bad")
		case l.base.Seq1 != l.base.Seq2:
			r.why(l.Name, fmt.Sprintf("log itself incomplete (sequence numbers %d != %d)", l.base.Seq1, l.base.Seq2))
		case l.base.Timestamp != want:
			r.why(l.Name, "written for another state of the primary (last written timestamp differs)")
		case l.base.HiveBinsSize == 0 || l.base.HiveBinsSize%binAlign != 0 || l.base.HiveBinsSize > r.maxHbins:
			r.why(l.Name, fmt.Sprintf("hive bins data size %d is not a multiple of 4096 within the cap", l.base.HiveBinsSize))
		default:
			if pick == nil || seqBefore(pick.base.Seq2, l.base.Seq2) {
				pick = &logs[i]
			}
		}
	}
	if pick == nil {
		return nil, false
	}
	l := *pick
	vecLen := int64(l.base.HiveBinsSize / binAlign) // one bit per 512 bytes
	dataStart := (logHeaderSize + 4 + vecLen + sector - 1) / sector * sector
	if dataStart > l.Size {
		r.why(l.Name, fmt.Sprintf("dirty vector of %d bytes runs past the log's end", vecLen))
		return nil, false
	}
	vec := make([]byte, vecLen)
	if _, err := l.R.ReadAt(vec, logHeaderSize+4); err != nil {
		r.why(l.Name, "reading dirty vector: "+err.Error())
		return nil, false
	}
	dirty := 0
	for _, b := range vec {
		dirty += bits.OnesCount8(b)
	}
	if int64(dirty)*sector > l.Size-dataStart {
		r.why(l.Name, fmt.Sprintf("truncated: %d dirty pages announced, room for %d", dirty, (l.Size-dataStart)/sector))
		return nil, false
	}
	pages := make([]byte, int64(dirty)*sector)
	if _, err := l.R.ReadAt(pages, dataStart); err != nil {
		r.why(l.Name, "reading dirty pages: "+err.Error())
		return nil, false
	}
	base := make([]byte, BaseBlockSize)
	copy(base, r.base)
	hdr := make([]byte, logHeaderSize)
	if _, err := l.R.ReadAt(hdr, 0); err != nil {
		r.why(l.Name, "reading base block: "+err.Error())
		return nil, false
	}
	copy(base, hdr)
	ov := newOverlay(r.primary, r.size, base)
	ov.grow(BaseBlockSize + int64(l.base.HiveBinsSize))
	r.rec.Format, r.rec.Logs, r.rec.Entries = "old", []string{l.Name}, 1
	r.rec.FirstSeq, r.rec.LastSeq = l.base.Seq2, l.base.Seq2
	k := 0
	for bit := int64(0); bit < vecLen*8; bit++ {
		if vec[bit/8]&(1<<(bit%8)) == 0 {
			continue
		}
		data := pages[k*sector : (k+1)*sector]
		k++
		rel := bit * sector
		if rel%binAlign == 0 && string(data[:4]) == "hbin" {
			// A dirty bin header must describe itself: Windows stops
			// recovery at a bin that does not.
			off, sz := binary.LittleEndian.Uint32(data[4:]), binary.LittleEndian.Uint32(data[8:])
			if int64(off) != rel || sz < binAlign || sz%binAlign != 0 {
				r.rec.Warnings = append(r.rec.Warnings, fmt.Sprintf("%s: dirty hive bin at %#x claims offset %#x size %d; recovery stopped there", l.Name, rel, off, sz))
				break
			}
		}
		ov.put(BaseBlockSize+rel, data)
		r.rec.Pages++
		r.rec.Bytes += sector
	}
	finishBaseBlock(ov.base, l.base.Seq2, l.base.HiveBinsSize, 0, false)
	return ov, true
}
