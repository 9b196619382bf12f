package windows

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/snapscan/snapscan/artifact/hivelog"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"www.velocidex.com/golang/regparser"
)

// Limits for reading a hive from an untrusted image. A real SOFTWARE hive is
// tens to a few hundred MiB; the registry itself caps a value at 1 MiB for
// the types we read (anything bigger is not a command line).
const (
	maxHiveSize     = 512 << 20
	maxValueSize    = 1 << 20
	maxValuesPerKey = 1 << 16
	maxIndexDepth   = 8 // ri -> li/lf/lh nesting; Windows uses one level
	// maxCellVisits bounds the work one hive can cost: a hostile hive whose
	// index cells point at each other still ends.
	maxCellVisits = 4 << 20
)

// errHiveBudget is returned when a hive needs more work than any real hive
// would for the keys the checks read (index loops, a value list repeating a
// huge value).
var errHiveBudget = errors.New("registry hive: work budget exceeded (index loop or hostile hive); rest of the hive not read")

// hive is one registry hive file, read read-only into memory. regparser
// checks the base block and decodes key and value nodes; walking subkey and
// value lists and slicing value data is done here, so that loops and huge
// counts in a corrupt hive cost bounded work instead of endless recursion
// (regparser's Subkeys recurses through ri lists without a visited set) or
// millions of one-byte reads (its ValueData).
type hive struct {
	path     string // real path on the target FS
	data     []byte // the hive as read: the recovered one when logs were applied
	reg      *regparser.Registry
	evidence report.Evidence
	base     hivelog.BaseBlock // of the primary file as found on disk
	recovery report.Recovery
	visits   int
	dataRead int
	// overBudget is set once the budget error has been reported, so a
	// hostile hive costs one error line, not one per key looked up.
	overBudget bool
}

// fail reports a problem inside the hive: what names the key or value.
func (h *hive) fail(out check.Sink, volume, what string, err error) {
	if errors.Is(err, errHiveBudget) {
		if h.overBudget {
			return
		}
		h.overBudget = true
	}
	out.Error("/"+h.path, fmt.Errorf("%s: %s: %w", volume, what, err))
}

// dirty reports whether the hive was read with writes pending that its
// transaction logs could not supply: the newest changes may be missing.
func (h *hive) dirty() bool { return h.recovery.State == report.RecoveryDirty }

// dirtyError is the warning for a dirty hive; it names the hive's state and
// why its logs were not applied.
func (h *hive) dirtyError() error {
	return fmt.Errorf("registry hive is dirty (%s); read as it is, not replayed: %s: the newest changes may be missing", h.dirtyWhy(), h.recovery.Reason)
}

func (h *hive) dirtyWhy() string {
	if !h.base.ChecksumOK {
		return "base block checksum is bad"
	}
	return fmt.Sprintf("header sequence numbers %d != %d", h.base.Seq1, h.base.Seq2)
}

// maxLogSize caps each transaction log read. Windows rotates a log long
// before this. A recovery holds at most the primary, its logs, the pages
// copied from them (no more than the logs) and the recovered copy, which
// hivelog caps at maxHiveSize; the primary and logs are dropped once the
// copy is made.
const maxLogSize = 256 << 20

// openHive reads a hive from the target. name is matched case-insensitively.
// fs.ErrNotExist is returned unwrapped-compatible so callers can skip absent
// hives quietly. A dirty hive is read through its transaction logs
// (.LOG1/.LOG2/.LOG beside it) as Windows would load it.
func openHive(t *check.Target, name string) (*hive, error) {
	v, err := t.Shared("hive:"+name, func() (any, error) { return readHive(t, name) })
	if err != nil {
		return nil, err
	}
	rh := v.(*readHiveData)
	// A fresh parser and budget for each check; the bytes are shared.
	h, err := parseRecovered(rh.primary, rh.data, rh.rec)
	if err != nil {
		return nil, &fs.PathError{Op: "parse", Path: rh.real, Err: err}
	}
	h.path = rh.real
	h.evidence = rh.evidence
	h.base = rh.base
	return h, nil
}

// readHiveData is a hive as read and recovered, once per target.
type readHiveData struct {
	real          string
	primary, data []byte
	base          hivelog.BaseBlock
	rec           report.Recovery
	evidence      report.Evidence
}

func readHive(t *check.Target, name string) (*readHiveData, error) {
	real, err := resolveFold(t.FS, name)
	if err != nil {
		return nil, err
	}
	file, err := check.ReadFileMax(t, real, maxHiveSize)
	if errors.Is(err, check.ErrTooLarge) {
		return nil, &fs.PathError{Op: "read", Path: real, Err: fmt.Errorf("registry hive larger than %d MiB", maxHiveSize>>20)}
	}
	if err != nil {
		return nil, err
	}
	data, base, rec := recoverHive(t, real, file.Data)
	return &readHiveData{real: real, primary: file.Data, data: data, base: base, rec: rec, evidence: file.Evidence}, nil
}

// parseRecovered parses the recovered hive data, or the primary when the
// logs made a hive that cannot be read (a hostile or damaged log that still
// verified): the primary as it is beats nothing, and it is reported dirty.
func parseRecovered(primary, data []byte, rec report.Recovery) (*hive, error) {
	h, err := parseHive(data)
	if err != nil && rec.State == report.RecoveryReplayed {
		rec = report.Recovery{State: report.RecoveryDirty, Reason: fmt.Sprintf("the hive recovered from its logs is unreadable (%v); read as it is", err), Warnings: rec.Warnings}
		h, err = parseHive(primary)
	}
	if err != nil {
		return nil, err
	}
	h.recovery = rec
	return h, nil
}

// recoverHive applies the transaction logs beside a dirty hive. It returns
// the bytes to read (the primary itself when clean or when no log applies),
// the primary's base block and the recovery record for the report.
func recoverHive(t *check.Target, real string, primary []byte) ([]byte, hivelog.BaseBlock, report.Recovery) {
	base, err := hivelog.ParseBaseBlock(primary)
	if err != nil {
		// parseHive names what is wrong with a hive that has no base block.
		return primary, base, report.Recovery{State: report.RecoveryClean}
	}
	if !base.Dirty() {
		return primary, base, report.Recovery{State: report.RecoveryClean}
	}
	dir, name := path.Split(real)
	var logs []hivelog.Log
	var unread []string
	for _, suf := range []string{".LOG1", ".LOG2", ".LOG"} {
		p, err := resolveFold(t.FS, path.Join(dir, name+suf))
		if err != nil {
			continue
		}
		f, err := check.ReadFileMax(t, p, maxLogSize)
		if err != nil {
			unread = append(unread, fmt.Sprintf("%s: %v", path.Base(p), err))
			continue
		}
		logs = append(logs, hivelog.Log{Name: path.Base(p), R: bytes.NewReader(f.Data), Size: int64(len(f.Data))})
	}
	data, rec := applyLogs(primary, logs, unread)
	return data, base, rec
}

// applyLogs recovers a dirty primary from the logs read beside it; unread
// names the logs that were there but could not be read.
func applyLogs(primary []byte, logs []hivelog.Log, unread []string) ([]byte, report.Recovery) {
	ov, r, err := hivelog.Recover(bytes.NewReader(primary), int64(len(primary)), logs, hivelog.Options{MaxHiveSize: maxHiveSize})
	rec := report.Recovery{Warnings: append(unread, r.Warnings...)}
	if err == nil {
		data := make([]byte, ov.Size())
		if _, err = ov.ReadAt(data, 0); err == nil || errors.Is(err, io.EOF) {
			rec.State, rec.Transactions, rec.Blocks = report.RecoveryReplayed, r.Entries, r.Pages
			rec.Reason = fmt.Sprintf("%s applied (%s format, sequence %d..%d)", strings.Join(r.Logs, ", "), r.Format, r.FirstSeq, r.LastSeq)
			return data, rec
		}
	}
	rec.State, rec.Reason = report.RecoveryDirty, err.Error()
	if len(unread) > 0 {
		rec.Reason += "; unreadable: " + strings.Join(unread, ", ")
	}
	return primary, rec
}

// parseHive checks the base block and prepares a hive over data. It never
// panics: regparser is called under recover.
func parseHive(data []byte) (h *hive, err error) {
	defer recoverTo(&err)
	if len(data) < 0x1000+0x20 {
		return nil, errors.New("registry hive: shorter than its base block and first bin")
	}
	base, err := hivelog.ParseBaseBlock(data)
	if err != nil {
		return nil, fmt.Errorf("registry hive: %w", err)
	}
	reg, err := regparser.NewRegistry(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("registry hive: %w", err)
	}
	h = &hive{data: data, reg: reg, base: base, recovery: report.Recovery{State: report.RecoveryClean}}
	if base.Dirty() {
		h.recovery = report.Recovery{State: report.RecoveryDirty, Reason: "transaction logs not looked for"}
	}
	if _, err := h.root(); err != nil {
		return nil, err
	}
	return h, nil
}

// state is the hive's entry for the report's target.
func (h *hive) state() report.HiveState {
	return report.HiveState{Path: "/" + h.path, Recovery: h.recovery}
}

// recoverTo turns a panic in a parser of untrusted bytes into an error.
func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("registry hive: corrupt structure: %v", r)
	}
}

// regKey is one key of a hive.
type regKey struct {
	h    *hive
	nk   *regparser.CM_KEY_NODE
	name string
}

// regValue is one value with its data decoded for the types checks use.
type regValue struct {
	Name    string
	Type    uint32
	String  string   // REG_SZ, REG_EXPAND_SZ (trailing NULs cut)
	Multi   []string // REG_MULTI_SZ
	Number  uint64   // REG_DWORD, REG_QWORD
	HasNum  bool
	Raw     []byte // the data as stored, for binary values (a slice of the hive: do not modify)
	Size    int64
	DataErr error
}

// Text is the value as one line of text, whatever its type.
func (v regValue) Text() string {
	switch {
	case v.Type == regparser.REG_MULTI_SZ:
		return strings.Join(v.Multi, " ")
	case v.HasNum:
		return fmt.Sprintf("%d", v.Number)
	}
	return v.String
}

// cellAt returns the absolute offset of the cell at relative offset off, or
// false when it cannot lie inside the hive.
func (h *hive) cellAt(off uint32) (int64, bool) {
	if off == 0xffffffff {
		return 0, false
	}
	abs := int64(0x1000) + int64(off)
	if abs+8 > int64(len(h.data)) {
		return 0, false
	}
	return abs, true
}

// cellSize is the usable size of an allocated cell (negative size field), or
// 0 for a free or impossible cell.
func (h *hive) cellSize(abs int64) int64 {
	sz := int32(binary.LittleEndian.Uint32(h.data[abs:]))
	if sz >= 0 {
		return 0
	}
	n := -int64(sz)
	if abs+n > int64(len(h.data)) {
		n = int64(len(h.data)) - abs
	}
	return n
}

func (h *hive) spend(n int) error {
	h.visits += n
	if h.visits > maxCellVisits {
		return errHiveBudget
	}
	return nil
}

func (h *hive) keyAt(off uint32) (*regKey, bool) {
	abs, ok := h.cellAt(off)
	if !ok || h.cellSize(abs) < 4+0x4c || string(h.data[abs+4:abs+6]) != "nk" {
		return nil, false
	}
	nk := h.reg.Profile.CM_KEY_NODE(h.reg.Reader, abs+4)
	k := &regKey{h: h, nk: nk}
	k.name = decodeName(h.bytesAt(nk.Offset+h.reg.Profile.Off_CM_KEY_NODE__Name, int(nk.NameLength())), nk.Flags()&0x20 != 0)
	return k, true
}

// bytesAt returns up to n bytes at abs, clipped to the hive.
func (h *hive) bytesAt(abs int64, n int) []byte {
	if abs < 0 || abs >= int64(len(h.data)) || n <= 0 {
		return nil
	}
	end := abs + int64(n)
	if end > int64(len(h.data)) {
		end = int64(len(h.data))
	}
	return h.data[abs:end]
}

// decodeName decodes a key or value name: ASCII/Latin-1 when the compressed
// flag is set, UTF-16LE otherwise. (regparser returns the raw bytes, which
// garbles every non-ASCII name.)
func decodeName(b []byte, compressed bool) string {
	if compressed {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	return utf16le(b)
}

func utf16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func (h *hive) root() (k *regKey, err error) {
	defer recoverTo(&err)
	k, ok := h.keyAt(h.reg.BaseBlock.RootCell())
	if !ok {
		return nil, errors.New("registry hive: root cell is not a key node")
	}
	return k, nil
}

// open walks a backslash-separated path from the root, comparing names
// case-insensitively as Windows does. It returns nil, nil when a component is
// absent.
func (h *hive) open(keyPath string) (*regKey, error) {
	k, err := h.root()
	if err != nil {
		return nil, err
	}
	for _, comp := range strings.Split(keyPath, `\`) {
		if comp == "" {
			continue
		}
		k, err = k.child(comp)
		if k == nil || err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Name is the key's own name, decoded.
func (k *regKey) Name() string { return k.name }

// LastWrite is the key's last-written time (FILETIME), zero when unset or
// out of range.
func (k *regKey) LastWrite() time.Time {
	b := k.h.bytesAt(k.nk.Offset+k.h.reg.Profile.Off_CM_KEY_NODE_LastWriteTime, 8)
	if len(b) < 8 {
		return time.Time{}
	}
	return filetime(binary.LittleEndian.Uint64(b))
}

// filetime converts 100-ns ticks since 1601 to a time; values outside
// 1970..9999 (unset or corrupt) give the zero time.
func filetime(ft uint64) time.Time {
	const epochDelta = 116444736000000000 // 1601-01-01 to 1970-01-01 in ticks
	const maxTicks = 2650467743990000000  // 9999-12-31
	if ft <= epochDelta || ft > maxTicks {
		return time.Time{}
	}
	d := ft - epochDelta
	return time.Unix(int64(d/10000000), int64(d%10000000)*100).UTC()
}

func (k *regKey) child(name string) (*regKey, error) {
	subs, err := k.Subkeys()
	for _, s := range subs {
		if strings.EqualFold(s.name, name) {
			return s, nil
		}
	}
	return nil, err
}

// Subkeys lists the stable subkeys. A corrupt index yields the keys found so
// far and an error.
func (k *regKey) Subkeys() (out []*regKey, err error) {
	defer recoverTo(&err)
	lists := k.nk.SubKeyLists()
	if len(lists) == 0 {
		return nil, nil
	}
	seen := map[uint32]bool{}
	var walk func(off uint32, depth int) error
	walk = func(off uint32, depth int) error {
		if depth > maxIndexDepth {
			return errors.New("registry hive: subkey index nested too deep")
		}
		if seen[off] {
			return errors.New("registry hive: subkey index loop")
		}
		seen[off] = true
		abs, ok := k.h.cellAt(off)
		if !ok {
			return nil
		}
		size := k.h.cellSize(abs)
		if size < 8 {
			return nil
		}
		sig := string(k.h.data[abs+4 : abs+6])
		count := int64(binary.LittleEndian.Uint16(k.h.data[abs+6:]))
		width := int64(4)
		if sig == "lf" || sig == "lh" {
			width = 8
		} else if sig != "li" && sig != "ri" {
			return nil
		}
		if max := (size - 8) / width; count > max {
			count = max // the list cannot extend past its own cell
		}
		if err := k.h.spend(int(count) + 1); err != nil {
			return err
		}
		for i := int64(0); i < count; i++ {
			child := binary.LittleEndian.Uint32(k.h.data[abs+8+i*width:])
			if sig == "ri" {
				if err := walk(child, depth+1); err != nil {
					return err
				}
				continue
			}
			if ck, ok := k.h.keyAt(child); ok {
				out = append(out, ck)
			}
		}
		return nil
	}
	err = walk(lists[0], 0)
	return out, err
}

// Values lists the key's values with decoded data.
func (k *regKey) Values() (out []regValue, err error) {
	defer recoverTo(&err)
	vl := k.nk.ValueList()
	count := int64(vl.Count())
	abs, ok := k.h.cellAt(vl.List())
	if count == 0 || !ok {
		return nil, nil
	}
	size := k.h.cellSize(abs)
	if max := (size - 4) / 4; count > max {
		count = max
	}
	if count > maxValuesPerKey {
		count = maxValuesPerKey
	}
	if err := k.h.spend(int(count) + 1); err != nil {
		return nil, err
	}
	for i := int64(0); i < count; i++ {
		voff := binary.LittleEndian.Uint32(k.h.data[abs+4+i*4:])
		vabs, ok := k.h.cellAt(voff)
		if !ok || k.h.cellSize(vabs) < 4+0x14 || string(k.h.data[vabs+4:vabs+6]) != "vk" {
			continue
		}
		out = append(out, k.h.value(k.h.reg.Profile.CM_KEY_VALUE(k.h.reg.Reader, vabs+4)))
	}
	return out, nil
}

// Value returns the named value ("" is the default value), matched
// case-insensitively.
func (k *regKey) Value(name string) (regValue, bool, error) {
	vals, err := k.Values()
	for _, v := range vals {
		if strings.EqualFold(v.Name, name) {
			return v, true, nil
		}
	}
	return regValue{}, false, err
}

func (h *hive) value(vk *regparser.CM_KEY_VALUE) (v regValue) {
	v.Name = decodeName(h.bytesAt(vk.Offset+h.reg.Profile.Off_CM_KEY_VALUE_Name, int(vk.NameLength())), vk.Flags()&1 != 0)
	v.Type = vk.Type()
	data, err := h.valueData(vk)
	v.Size = int64(len(data))
	if err != nil {
		v.DataErr = err
		return v
	}
	v.Raw = data
	switch v.Type {
	case regparser.REG_SZ, regparser.REG_EXPAND_SZ, regparser.REG_LINK:
		v.String = cutNUL(utf16le(data))
	case regparser.REG_MULTI_SZ:
		for _, s := range strings.Split(utf16le(data), "\x00") {
			if s != "" {
				v.Multi = append(v.Multi, s)
			}
		}
	case regparser.REG_DWORD:
		if len(data) == 4 {
			v.Number, v.HasNum = uint64(binary.LittleEndian.Uint32(data)), true
		}
	case regparser.REG_DWORD_BIG_ENDIAN:
		if len(data) == 4 {
			v.Number, v.HasNum = uint64(binary.BigEndian.Uint32(data)), true
		}
	case regparser.REG_QWORD:
		if len(data) == 8 {
			v.Number, v.HasNum = binary.LittleEndian.Uint64(data), true
		}
	}
	return v
}

// valueData returns a value's bytes as slices of the hive: inline data,
// one data cell, or a big-data (db) segment list. regparser's ValueData
// reads byte by byte through the ReaderAt, so a hostile size turns into
// millions of calls per value; here every length is checked against the
// cell holding it and against the hive's budget instead.
func (h *hive) valueData(vk *regparser.CM_KEY_VALUE) ([]byte, error) {
	length := vk.DataLength()
	if length&0x80000000 != 0 {
		n := int(length &^ 0x80000000)
		if n > 4 {
			n = 4
		}
		return h.bytesAt(vk.Offset+h.reg.Profile.Off_CM_KEY_VALUE_Data, n), nil
	}
	if length > maxValueSize {
		return nil, fmt.Errorf("value data of %d bytes exceeds the %d-byte cap; not read", length, maxValueSize)
	}
	if err := h.spendData(int(length)); err != nil {
		return nil, err
	}
	abs, ok := h.cellAt(vk.Data())
	if !ok {
		return nil, errors.New("value data cell outside the hive")
	}
	size := h.cellSize(abs) - 4
	if size < 0 {
		return nil, errors.New("value data cell is free or corrupt")
	}
	if length <= 16344 || string(h.data[abs+4:abs+6]) != "db" {
		if int64(length) > size {
			return nil, fmt.Errorf("value data of %d bytes larger than its %d-byte cell", length, size)
		}
		return h.data[abs+4 : abs+4+int64(length)], nil
	}
	// Big data: db cell -> list of segment cells, each up to 16344 bytes.
	if size < 8 {
		return nil, errors.New("big-data cell too small")
	}
	count := int64(binary.LittleEndian.Uint16(h.data[abs+6:]))
	labs, ok := h.cellAt(binary.LittleEndian.Uint32(h.data[abs+8:]))
	if !ok {
		return nil, errors.New("big-data segment list outside the hive")
	}
	if max := (h.cellSize(labs) - 4) / 4; count > max {
		count = max
	}
	out := make([]byte, 0, length)
	for i := int64(0); i < count && uint32(len(out)) < length; i++ {
		sabs, ok := h.cellAt(binary.LittleEndian.Uint32(h.data[labs+4+4*i:]))
		if !ok {
			return nil, errors.New("big-data segment outside the hive")
		}
		ssize := h.cellSize(sabs) - 4
		if ssize <= 0 {
			return nil, errors.New("big-data segment is free or corrupt")
		}
		if rest := int64(length) - int64(len(out)); ssize > rest {
			ssize = rest
		}
		out = append(out, h.data[sabs+4:sabs+4+ssize]...)
	}
	if uint32(len(out)) != length {
		return out, fmt.Errorf("big-data value: %d of %d bytes present", len(out), length)
	}
	return out, nil
}

// maxValueBytes bounds the value data one hive may make us decode.
const maxValueBytes = 64 << 20

func (h *hive) spendData(n int) error {
	h.dataRead += n
	if h.dataRead > maxValueBytes {
		return errHiveBudget
	}
	return nil
}

// cutNUL drops the terminating NUL (and anything after it) that REG_SZ data
// carries.
func cutNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// walkHive visits every key reachable from the root, depth first, with the
// depth and visited-key guards a hostile hive needs (a key may list itself or
// an ancestor as a subkey). fn receives the backslash path of each key. It is
// used by the fuzz target and tests; the checks open only the keys they need.
func walkHive(h *hive, maxDepth int, fn func(p string, k *regKey) error) error {
	root, err := h.root()
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	var loopErr error
	var walk func(p string, k *regKey, depth int) error
	walk = func(p string, k *regKey, depth int) error {
		if seen[k.nk.Offset] {
			if loopErr == nil {
				loopErr = fmt.Errorf("registry hive: key %s is its own ancestor or listed twice; not descended again", p)
			}
			return nil
		}
		seen[k.nk.Offset] = true
		if err := fn(p, k); err != nil {
			return err
		}
		if depth >= maxDepth {
			if loopErr == nil {
				loopErr = fmt.Errorf("registry hive: key %s deeper than %d levels, not descended", p, maxDepth)
			}
			return nil
		}
		subs, err := k.Subkeys()
		if err != nil {
			return err
		}
		for _, s := range subs {
			if err := walk(p+`\`+s.name, s, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", root, 0); err != nil {
		return err
	}
	return loopErr
}
