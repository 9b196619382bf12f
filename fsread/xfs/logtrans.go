package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// logItem is one log item as recovery gathers it: its regions, the first
// of which is the item's format structure naming its type and region count.
type logItem struct {
	total int
	regs  [][]byte
}

func (it *logItem) typ(bo binary.ByteOrder) uint16 { return bo.Uint16(it.regs[0]) }

// logTrans is a transaction being gathered from its operations.
type logTrans struct {
	tid    uint32
	lsn    uint64 // LSN of the record its start operation is in
	header []byte
	items  []*logItem
}

// committed is a transaction whose commit record was found.
type committed struct {
	tid   uint32
	lsn   uint64
	items []*logItem
}

// logScan is the result of reading the active part of the log: the
// committed transactions in commit order, and why reading stopped early.
type logScan struct {
	state   *logState
	bo      binary.ByteOrder
	trans   []committed
	records int
	bytes   int64
	// stop is set when the log could not be read to the head; the
	// transactions before it are valid.
	stop error
	// torn: stop lies within the last in-core log buffers before the head,
	// where a crash leaves torn writes that the kernel discards too.
	torn     bool
	warnings []string
}

const opOverhead = 64

// scanLog reads the records from tail to head and gathers the committed
// transactions (xlog_do_recovery_pass). Damage ends the scan; what was
// committed before it is kept.
func (l *logDev) scanLog(st *logState) *logScan {
	s := &logScan{state: st, bo: binary.LittleEndian}
	open := map[uint32]*logTrans{}
	blk := st.tail
	wantCycle := uint32(0)
	var fmtSeen uint32
	for blk != st.head {
		h, err := l.header(blk)
		if err == nil && l.dist(blk, st.head) < h.totalBBs {
			err = logCorrupt("record at log block %d runs past the head %d", blk, st.head)
		}
		if err == nil && (lsnBlock(h.lsn) != blk || lsnCycle(h.lsn) != h.cycle) {
			err = logCorrupt("record at log block %d carries LSN %d/%d", blk, lsnCycle(h.lsn), lsnBlock(h.lsn))
		}
		if err == nil {
			if wantCycle != 0 && h.cycle != wantCycle {
				err = logCorrupt("record at log block %d of cycle %d, expected %d (out of order)", blk, h.cycle, wantCycle)
			}
			wantCycle = h.cycle
		}
		if err == nil && [16]byte(h.raw[304:320]) != l.uuid {
			err = logCorrupt("record at log block %d belongs to another filesystem", blk)
		}
		if err == nil {
			switch {
			case h.fmt != 1 && h.fmt != 2 && h.fmt != 3:
				err = logCorrupt("record at log block %d: format %d", blk, h.fmt)
			case fmtSeen != 0 && h.fmt != fmtSeen:
				err = logCorrupt("record at log block %d: format %d after %d", blk, h.fmt, fmtSeen)
			}
			fmtSeen = h.fmt
			if h.fmt != 1 {
				s.bo = binary.BigEndian
			}
		}
		var d []byte
		if err == nil {
			d, err = l.data(h)
		}
		if err == nil {
			s.bytes += int64(len(d))
			if s.bytes > maxReplayBytes {
				err = errReplayMemory
			}
		}
		if err == nil {
			err = s.ops(h, d, open)
		}
		if err != nil {
			s.stop = err
			s.torn = errors.Is(err, errLogCorrupt) && l.dist(st.tail, blk) >= l.dist(st.tail, st.tornFrom) && s.isTornCandidate(err)
			return s
		}
		s.records++
		next := l.wrap(blk + h.totalBBs)
		if next < blk {
			wantCycle++
		}
		blk = next
	}
	return s
}

// isTornCandidate: only damage a crash can cause (a record cut short or
// with a bad CRC) counts as a torn write; anything else is corruption.
func (s *logScan) isTornCandidate(err error) bool {
	var te tornError
	return !errors.As(err, &te) || te.torn
}

type tornError struct {
	torn bool
	err  error
}

func (e tornError) Error() string { return e.err.Error() }
func (e tornError) Unwrap() error { return e.err }

// ops walks a record's operations (xlog_recover_process_data).
func (s *logScan) ops(h *recHeader, d []byte, open map[uint32]*logTrans) error {
	pos := 0
	for n := h.numOps; n > 0 && pos < len(d); n-- {
		if pos+opHeaderSize > len(d) {
			return s.bad(h, "operation header past the record end")
		}
		tid := be32(d, pos)
		olen := int64(be32(d, pos+4))
		client, flags := d[pos+8], d[pos+9]
		pos += opHeaderSize
		if client != clientTransaction && client != clientLog {
			return s.bad(h, "operation with client id 0x%x", client)
		}
		if olen > int64(len(d)-pos) {
			return s.bad(h, "operation of %d bytes in a record of %d", olen, len(d))
		}
		body := d[pos : pos+int(olen)]
		pos += int(olen)
		// What an operation costs in memory beyond its bytes (slice and
		// item headers): counted so that millions of empty operations
		// cannot grow past the cap either.
		if s.bytes += opOverhead; s.bytes > maxReplayBytes {
			return errReplayMemory
		}
		t := open[tid]
		if t == nil {
			// Slack before a transaction starts, or a transaction that
			// began before the tail: nothing to do.
			if flags&opStart != 0 {
				if len(open) > 1<<16 {
					return s.bad(h, "more than %d open transactions", 1<<16)
				}
				open[tid] = &logTrans{tid: tid, lsn: h.lsn}
			}
			continue
		}
		flags &^= opEnd
		if flags&opWasCont != 0 {
			flags &^= opContinue
		}
		var err error
		switch flags {
		case 0, opContinue:
			err = t.add(body, s.bo)
		case opWasCont:
			err = t.addCont(body)
		case opCommit:
			delete(open, tid)
			err = s.commit(t)
		case opUnmount:
			delete(open, tid)
		default:
			err = fmt.Errorf("operation flags 0x%x", flags)
		}
		if err != nil {
			return s.bad(h, "transaction %#x: %v", tid, err)
		}
	}
	return nil
}

func (s *logScan) bad(h *recHeader, format string, a ...any) error {
	return tornError{err: logCorrupt("record at log block %d: %s", h.blk, fmt.Sprintf(format, a...))}
}

// add is xlog_recover_add_to_trans: the transaction header, then the
// regions of each item in turn.
func (t *logTrans) add(b []byte, bo binary.ByteOrder) error {
	if len(t.items) == 0 {
		if len(b) > transHeaderSize {
			return fmt.Errorf("transaction header of %d bytes", len(b))
		}
		t.header = append(t.header[:0], b...)
		t.items = append(t.items, &logItem{})
		return nil
	}
	it := t.items[len(t.items)-1]
	if it.total != 0 && it.total == len(it.regs) {
		if len(t.items) > 1<<20 {
			return errors.New("too many items")
		}
		it = &logItem{}
		t.items = append(t.items, it)
	}
	if it.total == 0 {
		if len(b) < 4 {
			return fmt.Errorf("item format of %d bytes", len(b))
		}
		n := int(bo.Uint16(b[2:]))
		if n == 0 || n > maxRegionsInItem {
			return fmt.Errorf("item of %d regions", n)
		}
		it.total = n
	}
	if len(it.regs) >= it.total {
		return fmt.Errorf("item has more than its %d regions", it.total)
	}
	// The record's data buffer is not reused: regions alias it, capped so
	// that a continuation appends to a copy, never over the next region.
	it.regs = append(it.regs, b[:len(b):len(b)])
	return nil
}

// addCont is xlog_recover_add_to_cont_trans: the rest of a region an
// operation split across records.
func (t *logTrans) addCont(b []byte) error {
	if len(t.items) == 0 {
		if len(t.header)+len(b) > transHeaderSize {
			return fmt.Errorf("transaction header continued by %d bytes", len(b))
		}
		t.header = append(t.header, b...)
		t.items = append(t.items, &logItem{})
		return nil
	}
	it := t.items[len(t.items)-1]
	if len(it.regs) == 0 {
		return errors.New("continuation of no region")
	}
	last := &it.regs[len(it.regs)-1]
	*last = append(*last, b...)
	return nil
}

// commit keeps a transaction whose items are all whole.
func (s *logScan) commit(t *logTrans) error {
	c := committed{tid: t.tid, lsn: t.lsn}
	for _, it := range t.items {
		if it.total == 0 && len(it.regs) == 0 {
			continue // the header's placeholder, never filled
		}
		if len(it.regs) != it.total {
			return fmt.Errorf("item with %d of its %d regions", len(it.regs), it.total)
		}
		c.items = append(c.items, it)
	}
	s.trans = append(s.trans, c)
	return nil
}
