// Package sam decodes the binary values of the Security Account Manager hive
// (Windows\System32\config\SAM): a user's fixed record F and variable record
// V under SAM\Domains\Account\Users\<RID>, and an alias's C record under
// SAM\Domains\{Builtin,Account}\Aliases\<RID>, whose member list says who is
// in Administrators. It decodes what persistence and account checks need —
// names, RIDs, flags, logon times, members — and never the password hashes.
//
// The layouts follow what the SAM itself stores (checked against the regipy
// test SAM of a Windows 10 machine): F is 0x50 bytes of fixed fields; V and C
// start with a table of (offset, length, reserved) triples whose offsets are
// relative to the end of the table. Every offset and length is checked
// against the value, so a hostile value costs at most its own size.
package sam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Account control bits (ACB_*) of F's flags field, as samsrv defines them.
const (
	FlagDisabled         = 0x0001
	FlagHomeDirRequired  = 0x0002
	FlagPasswordNotReq   = 0x0004
	FlagTempDuplicate    = 0x0008
	FlagNormal           = 0x0010
	FlagMNS              = 0x0020
	FlagDomainTrust      = 0x0040
	FlagWorkstationTrust = 0x0080
	FlagServerTrust      = 0x0100
	FlagDontExpire       = 0x0200
	FlagAutoLocked       = 0x0400
)

var flagNames = []struct {
	bit  uint16
	name string
}{
	{FlagDisabled, "disabled"}, {FlagHomeDirRequired, "homedir-required"}, {FlagPasswordNotReq, "password-not-required"},
	{FlagTempDuplicate, "temp-duplicate"}, {FlagNormal, "normal"}, {FlagMNS, "mns-logon"}, {FlagDomainTrust, "domain-trust"},
	{FlagWorkstationTrust, "workstation-trust"}, {FlagServerTrust, "server-trust"}, {FlagDontExpire, "password-never-expires"},
	{FlagAutoLocked, "locked"},
}

// FlagString names the set bits, comma-separated; unknown bits in hex.
func FlagString(f uint16) string {
	var out []string
	for _, n := range flagNames {
		if f&n.bit != 0 {
			out = append(out, n.name)
			f &^= n.bit
		}
	}
	if f != 0 {
		out = append(out, fmt.Sprintf("0x%x", f))
	}
	return strings.Join(out, ",")
}

// FixedSize is the size of a user's F value.
const FixedSize = 0x50

// Fixed is a user's F value.
type Fixed struct {
	LastLogon       time.Time // zero when never
	PasswordLastSet time.Time
	AccountExpires  time.Time // zero when never (0 or 0x7fffffffffffffff)
	LastFailedLogon time.Time
	RID             uint32 // the RID the account logs on with (a RID hijack makes it differ from the key's)
	PrimaryGroup    uint32
	Flags           uint16
	CountryCode     uint16
	CodePage        uint16
	FailedCount     uint16
	LogonCount      uint16
}

// Disabled says whether the account cannot log on.
func (f Fixed) Disabled() bool { return f.Flags&FlagDisabled != 0 }

// ParseFixed decodes a user's F value. Values longer than FixedSize (later
// Windows versions append fields) are accepted; shorter ones are an error.
func ParseFixed(b []byte) (Fixed, error) {
	if len(b) < FixedSize {
		return Fixed{}, fmt.Errorf("SAM F value: %d bytes, want at least %d", len(b), FixedSize)
	}
	le := binary.LittleEndian
	return Fixed{
		LastLogon:       Filetime(le.Uint64(b[0x08:])),
		PasswordLastSet: Filetime(le.Uint64(b[0x18:])),
		AccountExpires:  Filetime(le.Uint64(b[0x20:])),
		LastFailedLogon: Filetime(le.Uint64(b[0x28:])),
		RID:             le.Uint32(b[0x30:]),
		PrimaryGroup:    le.Uint32(b[0x34:]),
		Flags:           le.Uint16(b[0x38:]),
		CountryCode:     le.Uint16(b[0x3c:]),
		CodePage:        le.Uint16(b[0x3e:]),
		FailedCount:     le.Uint16(b[0x40:]),
		LogonCount:      le.Uint16(b[0x42:]),
	}, nil
}

// Filetime converts 100-ns ticks since 1601 to a time; values outside
// 1970..9999 (never, unset, "no expiry") give the zero time.
func Filetime(ft uint64) time.Time {
	const epochDelta = 116444736000000000
	const maxTicks = 2650467743990000000
	if ft <= epochDelta || ft > maxTicks {
		return time.Time{}
	}
	d := ft - epochDelta
	return time.Unix(int64(d/10000000), int64(d%10000000)*100).UTC()
}

// Variable is what a user's V value holds that checks use.
type Variable struct {
	Name     string
	FullName string
	Comment  string
}

// vHeader is the size of V's descriptor table: 17 triples of 12 bytes.
const vHeader = 0xcc

// field returns descriptor i of a table of n triples that starts at 0 and
// whose offsets count from base.
func field(b []byte, i, base int) ([]byte, error) {
	at := i * 12
	if at+8 > len(b) {
		return nil, fmt.Errorf("descriptor %d beyond the value", i)
	}
	off := int64(binary.LittleEndian.Uint32(b[at:])) + int64(base)
	n := int64(binary.LittleEndian.Uint32(b[at+4:]))
	if n == 0 {
		return nil, nil
	}
	if off+n > int64(len(b)) {
		return nil, fmt.Errorf("descriptor %d: %d bytes at %d run past the %d-byte value", i, n, off, len(b))
	}
	return b[off : off+n], nil
}

// ParseVariable decodes the names of a user's V value.
func ParseVariable(b []byte) (Variable, error) {
	if len(b) < vHeader {
		return Variable{}, fmt.Errorf("SAM V value: %d bytes, shorter than its %d-byte table", len(b), vHeader)
	}
	var v Variable
	for i, dst := range []*string{&v.Name, &v.FullName, &v.Comment} {
		raw, err := field(b, i+1, vHeader)
		if err != nil {
			return v, fmt.Errorf("SAM V value: %w", err)
		}
		*dst = UTF16(raw)
	}
	return v, nil
}

// cHeader is the size of an alias C value's fixed part.
const cHeader = 0x34

// maxMembers bounds the member list of one alias.
const maxMembers = 1 << 16

// Alias is an alias (local group) record.
type Alias struct {
	RID     uint32
	Name    string
	Comment string
	Members []SID
}

// ParseAlias decodes an alias's C value.
func ParseAlias(b []byte) (Alias, error) {
	if len(b) < cHeader {
		return Alias{}, fmt.Errorf("SAM alias C value: %d bytes, shorter than its %d-byte header", len(b), cHeader)
	}
	le := binary.LittleEndian
	a := Alias{RID: le.Uint32(b)}
	str := func(offAt, lenAt int) (string, error) {
		off, n := int64(le.Uint32(b[offAt:]))+cHeader, int64(le.Uint32(b[lenAt:]))
		if n == 0 {
			return "", nil
		}
		if off+n > int64(len(b)) {
			return "", fmt.Errorf("SAM alias C value: %d bytes at %d run past the %d-byte value", n, off, len(b))
		}
		return UTF16(b[off : off+n]), nil
	}
	var err error
	if a.Name, err = str(0x10, 0x14); err != nil {
		return a, err
	}
	if a.Comment, err = str(0x1c, 0x20); err != nil {
		return a, err
	}
	off, n := int64(le.Uint32(b[0x28:]))+cHeader, int64(le.Uint32(b[0x2c:]))
	count := le.Uint32(b[0x30:])
	if count == 0 {
		return a, nil
	}
	if count > maxMembers {
		return a, fmt.Errorf("SAM alias C value: %d members", count)
	}
	if off+n > int64(len(b)) || off > int64(len(b)) {
		return a, fmt.Errorf("SAM alias C value: member list of %d bytes at %d runs past the %d-byte value", n, off, len(b))
	}
	rest := b[off : off+n]
	for i := uint32(0); i < count; i++ {
		s, used, err := ParseSID(rest)
		if err != nil {
			return a, fmt.Errorf("SAM alias C value: member %d: %w", i+1, err)
		}
		a.Members = append(a.Members, s)
		rest = rest[used:]
	}
	return a, nil
}

// SID is a security identifier.
type SID struct {
	Revision  uint8
	Authority uint64 // 48 bits
	Sub       []uint32
}

// maxSubAuthorities is what Windows allows (SID_MAX_SUB_AUTHORITIES).
const maxSubAuthorities = 15

var errShortSID = errors.New("SID truncated")

// ParseSID decodes a binary SID at the start of b and says how many bytes it
// used.
func ParseSID(b []byte) (SID, int, error) {
	if len(b) < 8 {
		return SID{}, 0, errShortSID
	}
	n := int(b[1])
	if n > maxSubAuthorities {
		return SID{}, 0, fmt.Errorf("SID with %d sub-authorities (at most %d)", n, maxSubAuthorities)
	}
	size := 8 + 4*n
	if len(b) < size {
		return SID{}, 0, errShortSID
	}
	s := SID{Revision: b[0]}
	for _, c := range b[2:8] {
		s.Authority = s.Authority<<8 | uint64(c)
	}
	for i := 0; i < n; i++ {
		s.Sub = append(s.Sub, binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return s, size, nil
}

// Bytes encodes the SID in its binary form.
func (s SID) Bytes() []byte {
	b := make([]byte, 8+4*len(s.Sub))
	b[0], b[1] = s.Revision, byte(len(s.Sub))
	for i := 0; i < 6; i++ {
		b[2+i] = byte(s.Authority >> (8 * (5 - i)))
	}
	for i, v := range s.Sub {
		binary.LittleEndian.PutUint32(b[8+4*i:], v)
	}
	return b
}

// String is the S-1-5-21-... form.
func (s SID) String() string {
	var b strings.Builder
	b.WriteString("S-" + strconv.Itoa(int(s.Revision)) + "-" + strconv.FormatUint(s.Authority, 10))
	for _, v := range s.Sub {
		b.WriteString("-" + strconv.FormatUint(uint64(v), 10))
	}
	return b.String()
}

// RID is the last sub-authority, and whether the SID is a local or domain
// account's (S-1-5-21-a-b-c-RID).
func (s SID) RID() (uint32, bool) {
	if s.Authority != 5 || len(s.Sub) != 5 || s.Sub[0] != 21 {
		return 0, false
	}
	return s.Sub[4], true
}

// Domain is the SID without its RID.
func (s SID) Domain() string {
	if len(s.Sub) == 0 {
		return s.String()
	}
	return SID{s.Revision, s.Authority, s.Sub[:len(s.Sub)-1]}.String()
}

// MachineSID finds the machine's domain SID in the Account domain's V value,
// which ends with it (S-1-5-21-a-b-c, 24 bytes). ok is false when the value
// does not end with such a SID.
func MachineSID(v []byte) (SID, bool) {
	if len(v) < 24 {
		return SID{}, false
	}
	s, n, err := ParseSID(v[len(v)-24:])
	if err != nil || n != 24 || s.Revision != 1 || s.Authority != 5 || len(s.Sub) != 4 || s.Sub[0] != 21 {
		return SID{}, false
	}
	return s, true
}

// UTF16 decodes little-endian UTF-16 text, cut at the first NUL.
func UTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}
