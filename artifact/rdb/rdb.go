// Package rdb reads Redis RDB dump files (the file a SAVE or BGSAVE writes)
// far enough to recover every key and the strings a value holds, without
// Redis. It exists for one attack: CONFIG SET dir /var/spool/cron (or
// ~/.ssh) plus SAVE turns a Redis server into a writer of crontabs and
// authorized_keys files whose only meaningful lines are inside string values.
//
// The layout follows the RDB format of redis/src/rdb.h and rdb.c for RDB
// versions 1 to 12 (Redis 2.x to 7.4); versions 6 to 11 are tested against
// dumps a real redis-server wrote and hand-built ones. Values are decoded
// as far as the question "which strings does this dump carry" needs: plain,
// integer-encoded and LZF-compressed strings are decoded; the packed
// encodings (ziplist, listpack, intset, zipmap) are returned as their raw
// blob, whose entries are stored verbatim; streams and module values are
// walked and skipped without losing sync. An opcode or type the parser does
// not know stops it with an error naming the offset, keeping what was read.
//
// Memory is bounded by Limits: a string longer than MaxString is skipped
// (its length is known, so sync is kept) and noted; at most MaxStrings
// strings and MaxTotal decoded bytes are kept, after which parsing stops
// with ErrLimit.
package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"math"
	"strconv"
)

// Magic is how every dump starts, followed by four ASCII version digits.
const Magic = "REDIS"

// Limits bound what one parse keeps.
type Limits struct {
	MaxString  int // longest string kept, decoded size
	MaxStrings int // strings kept over the whole dump
	MaxTotal   int // decoded bytes kept over the whole dump
}

// DefaultLimits fit any dump an attacker writes into a crontab (a few
// hundred bytes) with a wide margin, and cap a hostile one at 64 MiB.
var DefaultLimits = Limits{MaxString: 1 << 20, MaxStrings: 1 << 16, MaxTotal: 64 << 20}

// ErrLimit is wrapped by the error that stops a parse at a limit.
var ErrLimit = errors.New("rdb: limit reached")

// ErrChecksum is returned (with the dump) when the CRC64 trailer does not
// match: the content was changed after Redis wrote it, or cut.
var ErrChecksum = errors.New("rdb: checksum mismatch")

// Value types, as rdb.h numbers them.
const (
	TypeString          = 0
	TypeList            = 1
	TypeSet             = 2
	TypeZset            = 3
	TypeHash            = 4
	TypeZset2           = 5
	TypeModulePreGA     = 6
	TypeModule2         = 7
	TypeHashZipmap      = 9
	TypeListZiplist     = 10
	TypeSetIntset       = 11
	TypeZsetZiplist     = 12
	TypeHashZiplist     = 13
	TypeListQuicklist   = 14
	TypeStreamListpacks = 15
	TypeHashListpack    = 16
	TypeZsetListpack    = 17
	TypeListQuicklist2  = 18
	TypeStreamListpack2 = 19
	TypeSetListpack     = 20
	TypeStreamListpack3 = 21
)

// Opcodes, the byte values above the types.
const (
	opSlotInfo    = 0xF4
	opFunction2   = 0xF5
	opFunctionPre = 0xF6
	opModuleAux   = 0xF7
	opIdle        = 0xF8
	opFreq        = 0xF9
	opAux         = 0xFA
	opResizeDB    = 0xFB
	opExpireMS    = 0xFC
	opExpire      = 0xFD
	opSelectDB    = 0xFE
	opEOF         = 0xFF
)

var typeNames = map[byte]string{
	TypeString: "string", TypeList: "list", TypeSet: "set", TypeZset: "zset", TypeHash: "hash",
	TypeZset2: "zset", TypeModule2: "module", TypeHashZipmap: "hash-zipmap", TypeListZiplist: "list-ziplist",
	TypeSetIntset: "set-intset", TypeZsetZiplist: "zset-ziplist", TypeHashZiplist: "hash-ziplist",
	TypeListQuicklist: "list-quicklist", TypeStreamListpacks: "stream", TypeHashListpack: "hash-listpack",
	TypeZsetListpack: "zset-listpack", TypeListQuicklist2: "list-quicklist", TypeStreamListpack2: "stream",
	TypeSetListpack: "set-listpack", TypeStreamListpack3: "stream",
}

// TypeName names a value type ("" for an unknown one).
func TypeName(t byte) string { return typeNames[t] }

// Key is one key of the dump and the strings its value holds, in order.
// Packed encodings contribute their raw blob as one string (Packed true).
type Key struct {
	DB       int
	Offset   int64 // of the type byte
	Type     byte
	Name     []byte
	Strings  [][]byte
	Packed   bool
	ExpireMS int64 // absolute Unix milliseconds; 0 when the key does not expire
}

// Pair is one AUX field (redis-ver, ctime, used-mem...).
type Pair struct{ Key, Value []byte }

// Dump is what a parse recovered.
type Dump struct {
	Version   int
	Aux       []Pair
	Keys      []Key
	Functions [][]byte // Redis 7 function libraries (their source code)
	Skipped   []string // strings over MaxString, by offset and size
	Checksum  bool     // a non-zero CRC64 trailer was present and matched
	End       int64    // offset just past the EOF opcode (and checksum)
}

// IsRDB reports the RDB magic and a version this package reads.
func IsRDB(data []byte) bool {
	_, err := version(data)
	return err == nil
}

func version(data []byte) (int, error) {
	if len(data) < 9 || !bytes.HasPrefix(data, []byte(Magic)) {
		return 0, errors.New("rdb: no REDIS magic")
	}
	v, err := strconv.Atoi(string(data[5:9]))
	if err != nil || v < 1 || v > 12 {
		return 0, fmt.Errorf("rdb: version %q not supported (1-12)", data[5:9])
	}
	return v, nil
}

// Parse reads a whole dump held in memory. On error it returns what was
// read before it, and the error names the offset.
func Parse(data []byte, lim Limits) (*Dump, error) {
	v, err := version(data)
	if err != nil {
		return nil, err
	}
	p := &parser{data: data, off: 9, lim: lim, d: &Dump{Version: v}}
	err = p.run()
	return p.d, err
}

type parser struct {
	data  []byte
	off   int
	lim   Limits
	d     *Dump
	kept  int // strings kept
	bytes int // decoded bytes kept
}

// errAt is an error of the file at an offset.
type errAt struct {
	off int
	msg string
	err error
}

func (e *errAt) Error() string {
	if e.err != nil {
		return fmt.Sprintf("rdb: offset %d: %s: %v", e.off, e.msg, e.err)
	}
	return fmt.Sprintf("rdb: offset %d: %s", e.off, e.msg)
}
func (e *errAt) Unwrap() error { return e.err }

func (p *parser) fail(off int, format string, a ...any) error {
	return &errAt{off: off, msg: fmt.Sprintf(format, a...)}
}

var errShort = errors.New("unexpected end of file")

func (p *parser) need(n uint64) error {
	if n > uint64(len(p.data)-p.off) {
		return &errAt{off: p.off, msg: fmt.Sprintf("need %d bytes, %d left", n, len(p.data)-p.off), err: errShort}
	}
	return nil
}

func (p *parser) byte1() (byte, error) {
	if err := p.need(1); err != nil {
		return 0, err
	}
	b := p.data[p.off]
	p.off++
	return b, nil
}

func (p *parser) skip(n uint64) error {
	if err := p.need(n); err != nil {
		return err
	}
	p.off += int(n)
	return nil
}

// length reads a length; enc is true (and n the encoding) for the special
// string encodings (integers, LZF).
func (p *parser) length() (n uint64, enc bool, err error) {
	b, err := p.byte1()
	if err != nil {
		return 0, false, err
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		c, err := p.byte1()
		return uint64(b&0x3f)<<8 | uint64(c), false, err
	case 2:
		switch b {
		case 0x80:
			if err := p.need(4); err != nil {
				return 0, false, err
			}
			n = uint64(binary.BigEndian.Uint32(p.data[p.off:]))
			p.off += 4
			return n, false, nil
		case 0x81:
			if err := p.need(8); err != nil {
				return 0, false, err
			}
			n = binary.BigEndian.Uint64(p.data[p.off:])
			p.off += 8
			return n, false, nil
		}
		return 0, false, p.fail(p.off-1, "bad length byte 0x%02x", b)
	}
	return uint64(b & 0x3f), true, nil
}

// count reads a plain length used as an element count; each element takes
// at least one byte, so a count beyond the bytes left is corrupt.
func (p *parser) count() (int, error) {
	at := p.off
	n, enc, err := p.length()
	if err != nil {
		return 0, err
	}
	if enc {
		return 0, p.fail(at, "encoded value where a count belongs")
	}
	if n > uint64(len(p.data)-p.off) {
		return 0, p.fail(at, "count %d exceeds the %d bytes left", n, len(p.data)-p.off)
	}
	return int(n), nil
}

// str reads a string. keep false skips it (still decoding enough to stay
// in sync); a string over MaxString is skipped and noted, returning nil.
func (p *parser) str(keep bool) ([]byte, error) {
	at := p.off
	n, enc, err := p.length()
	if err != nil {
		return nil, err
	}
	if !enc {
		if err := p.need(n); err != nil {
			return nil, err
		}
		b := p.data[p.off : p.off+int(n)]
		p.off += int(n)
		if !keep {
			return nil, nil
		}
		return p.keep(at, b, int(n))
	}
	switch n {
	case 0, 1, 2: // int8, int16, int32, little-endian
		size := uint64(1) << n
		if err := p.need(size); err != nil {
			return nil, err
		}
		var v int64
		switch n {
		case 0:
			v = int64(int8(p.data[p.off]))
		case 1:
			v = int64(int16(binary.LittleEndian.Uint16(p.data[p.off:])))
		case 2:
			v = int64(int32(binary.LittleEndian.Uint32(p.data[p.off:])))
		}
		p.off += int(size)
		if !keep {
			return nil, nil
		}
		return p.keep(at, []byte(strconv.FormatInt(v, 10)), 0)
	case 3:
		clen, e1, err := p.length()
		if err != nil {
			return nil, err
		}
		ulen, e2, err := p.length()
		if err != nil {
			return nil, err
		}
		if e1 || e2 {
			return nil, p.fail(at, "bad LZF lengths")
		}
		if err := p.need(clen); err != nil {
			return nil, err
		}
		src := p.data[p.off : p.off+int(clen)]
		p.off += int(clen)
		if !keep {
			return nil, nil
		}
		if ulen > uint64(p.lim.MaxString) {
			p.d.Skipped = append(p.d.Skipped, fmt.Sprintf("offset %d: LZF string of %d bytes over the %d-byte cap", at, ulen, p.lim.MaxString))
			return nil, nil
		}
		if err := p.room(at, int(ulen)); err != nil {
			return nil, err
		}
		out, err := lzfDecompress(src, int(ulen))
		if err != nil {
			return nil, &errAt{off: at, msg: "LZF string", err: err}
		}
		return p.keep(at, out, 0)
	}
	return nil, p.fail(at, "unknown string encoding %d", n)
}

func (p *parser) room(at, n int) error {
	if p.kept+1 > p.lim.MaxStrings || p.bytes+n > p.lim.MaxTotal {
		return &errAt{off: at, msg: fmt.Sprintf("%d strings, %d bytes kept", p.kept, p.bytes), err: ErrLimit}
	}
	return nil
}

// keep accounts for a kept string. size is the raw length (checked against
// MaxString here), 0 when the caller checked it already.
func (p *parser) keep(at int, b []byte, size int) ([]byte, error) {
	if size > p.lim.MaxString {
		p.d.Skipped = append(p.d.Skipped, fmt.Sprintf("offset %d: string of %d bytes over the %d-byte cap", at, size, p.lim.MaxString))
		return nil, nil
	}
	if err := p.room(at, len(b)); err != nil {
		return nil, err
	}
	p.kept++
	p.bytes += len(b)
	return append([]byte(nil), b...), nil
}

func (p *parser) run() error {
	db := 0
	var expire int64
	for {
		at := p.off
		op, err := p.byte1()
		if err != nil {
			return err
		}
		switch op {
		case opEOF:
			return p.eof()
		case opSelectDB:
			n, enc, err := p.length()
			if err != nil {
				return err
			}
			if enc || n > math.MaxInt32 {
				return p.fail(at, "bad SELECTDB")
			}
			db = int(n)
		case opResizeDB:
			for i := 0; i < 2; i++ {
				if _, _, err := p.length(); err != nil {
					return err
				}
			}
		case opSlotInfo:
			for i := 0; i < 3; i++ {
				if _, _, err := p.length(); err != nil {
					return err
				}
			}
		case opExpire:
			if err := p.need(4); err != nil {
				return err
			}
			expire = int64(binary.LittleEndian.Uint32(p.data[p.off:])) * 1000
			p.off += 4
		case opExpireMS:
			if err := p.need(8); err != nil {
				return err
			}
			expire = int64(binary.LittleEndian.Uint64(p.data[p.off:]))
			p.off += 8
		case opFreq:
			if err := p.skip(1); err != nil {
				return err
			}
		case opIdle:
			if _, _, err := p.length(); err != nil {
				return err
			}
		case opAux:
			k, err := p.str(true)
			if err != nil {
				return err
			}
			v, err := p.str(true)
			if err != nil {
				return err
			}
			p.d.Aux = append(p.d.Aux, Pair{k, v})
		case opModuleAux:
			if _, _, err := p.length(); err != nil { // module id
				return err
			}
			whenOp, _, err := p.length()
			if err != nil {
				return err
			}
			if whenOp != moduleUint {
				return p.fail(at, "MODULE_AUX without its when field")
			}
			if _, _, err := p.length(); err != nil {
				return err
			}
			if err := p.moduleValue(); err != nil {
				return err
			}
		case opFunction2:
			f, err := p.str(true)
			if err != nil {
				return err
			}
			p.d.Functions = append(p.d.Functions, f)
		case opFunctionPre:
			return p.fail(at, "pre-release FUNCTION opcode (Redis 7.0 release candidates) not supported")
		default:
			k, err := p.key(at, op, db, expire)
			if err != nil {
				return err
			}
			p.d.Keys = append(p.d.Keys, k)
			expire = 0
		}
	}
}

func (p *parser) eof() error {
	end := p.off
	p.d.End = int64(end)
	if p.d.Version < 5 {
		return nil
	}
	if err := p.need(8); err != nil {
		return err
	}
	sum := binary.LittleEndian.Uint64(p.data[p.off:])
	p.off += 8
	p.d.End = int64(p.off)
	if sum == 0 { // rdbchecksum no
		return nil
	}
	if got := Checksum(p.data[:end]); got != sum {
		return &errAt{off: end, msg: fmt.Sprintf("trailer %016x, content %016x", sum, got), err: ErrChecksum}
	}
	p.d.Checksum = true
	return nil
}

// The CRC-64/Jones of Redis (crc64.c): reflected polynomial 0x95ac9329ac4bc9b5,
// initial value 0, no final xor. Go's crc64 inverts before and after, which
// the two complements below undo.
var jones = crc64.MakeTable(0x95ac9329ac4bc9b5)

// Checksum is the CRC64 Redis writes after the EOF opcode.
func Checksum(b []byte) uint64 { return ^crc64.Update(^uint64(0), jones, b) }

// Module value opcodes (RDB_MODULE_OPCODE_*).
const (
	moduleEOF    = 0
	moduleSint   = 1
	moduleUint   = 2
	moduleFloat  = 3
	moduleDouble = 4
	moduleString = 5
)

func (p *parser) moduleValue() error {
	for {
		at := p.off
		op, _, err := p.length()
		if err != nil {
			return err
		}
		switch op {
		case moduleEOF:
			return nil
		case moduleSint, moduleUint:
			_, _, err = p.length()
		case moduleFloat:
			err = p.skip(4)
		case moduleDouble:
			err = p.skip(8)
		case moduleString:
			_, err = p.str(false)
		default:
			return p.fail(at, "unknown module opcode %d", op)
		}
		if err != nil {
			return err
		}
	}
}

func (p *parser) key(at int, typ byte, db int, expire int64) (Key, error) {
	k := Key{DB: db, Offset: int64(at), Type: typ, ExpireMS: expire}
	switch {
	case typ == TypeModulePreGA:
		return k, p.fail(at, "pre-release module value (type 6) not supported")
	case typeNames[typ] == "":
		return k, p.fail(at, "unknown type or opcode 0x%02x", typ)
	}
	name, err := p.str(true)
	if err != nil {
		return k, err
	}
	k.Name = name
	add := func(keep bool) error {
		s, err := p.str(keep)
		if err == nil && keep && s != nil {
			k.Strings = append(k.Strings, s)
		}
		return err
	}
	strs := func(per int) error { // count, then count*per strings
		n, err := p.count()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			for j := 0; j < per; j++ {
				if err := add(true); err != nil {
					return err
				}
			}
		}
		return nil
	}
	switch typ {
	case TypeString:
		err = add(true)
	case TypeList, TypeSet:
		err = strs(1)
	case TypeHash:
		err = strs(2)
	case TypeZset, TypeZset2:
		n, err2 := p.count()
		if err2 != nil {
			return k, err2
		}
		for i := 0; i < n && err == nil; i++ {
			if err = add(true); err != nil {
				break
			}
			if typ == TypeZset2 {
				err = p.skip(8)
				continue
			}
			var l byte
			if l, err = p.byte1(); err == nil && l < 253 {
				err = p.skip(uint64(l))
			}
		}
	case TypeHashZipmap, TypeListZiplist, TypeSetIntset, TypeZsetZiplist, TypeHashZiplist,
		TypeHashListpack, TypeZsetListpack, TypeSetListpack:
		k.Packed = true
		err = add(true)
	case TypeListQuicklist:
		k.Packed = true
		err = strs(1)
	case TypeListQuicklist2:
		k.Packed = true
		n, err2 := p.count()
		if err2 != nil {
			return k, err2
		}
		for i := 0; i < n && err == nil; i++ {
			var container uint64
			if container, _, err = p.length(); err != nil {
				break
			}
			if container != 1 && container != 2 {
				return k, p.fail(at, "quicklist node container %d", container)
			}
			err = add(true)
		}
	case TypeModule2:
		if _, _, err = p.length(); err == nil {
			err = p.moduleValue()
		}
	case TypeStreamListpacks, TypeStreamListpack2, TypeStreamListpack3:
		k.Packed = true
		err = p.stream(typ, add)
	}
	return k, err
}

// stream walks a stream value (rdb.c rdbLoadObject, RDB_TYPE_STREAM_LISTPACKS*):
// the listpacks hold the entries; groups, consumers and pending lists are
// skipped.
func (p *parser) stream(typ byte, add func(bool) error) error {
	lens := func(n int) error {
		for i := 0; i < n; i++ {
			if _, _, err := p.length(); err != nil {
				return err
			}
		}
		return nil
	}
	n, err := p.count()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := p.str(false); err != nil { // master entry id
			return err
		}
		if err := add(true); err != nil { // the listpack of entries
			return err
		}
	}
	if err := lens(3); err != nil { // length, last id ms, seq
		return err
	}
	if typ >= TypeStreamListpack2 {
		if err := lens(5); err != nil { // first id, max deleted id, entries added
			return err
		}
	}
	groups, err := p.count()
	if err != nil {
		return err
	}
	for g := 0; g < groups; g++ {
		if _, err := p.str(false); err != nil { // group name
			return err
		}
		extra := 2
		if typ >= TypeStreamListpack2 {
			extra = 3 // entries read
		}
		if err := lens(extra); err != nil {
			return err
		}
		pel, err := p.count()
		if err != nil {
			return err
		}
		for i := 0; i < pel; i++ {
			if err := p.skip(16 + 8); err != nil { // raw id, delivery time
				return err
			}
			if err := lens(1); err != nil { // delivery count
				return err
			}
		}
		consumers, err := p.count()
		if err != nil {
			return err
		}
		for c := 0; c < consumers; c++ {
			if _, err := p.str(false); err != nil {
				return err
			}
			times := uint64(8) // seen time
			if typ >= TypeStreamListpack3 {
				times = 16 // and active time
			}
			if err := p.skip(times); err != nil {
				return err
			}
			cpel, err := p.count()
			if err != nil {
				return err
			}
			if err := p.skip(uint64(cpel) * 16); err != nil {
				return err
			}
		}
	}
	return nil
}

// Strings returns every kept string of the dump: key names, their values'
// strings and function libraries, in file order.
func (d *Dump) Strings() [][]byte {
	var out [][]byte
	for _, k := range d.Keys {
		out = append(out, k.Name)
		out = append(out, k.Strings...)
	}
	return append(out, d.Functions...)
}
