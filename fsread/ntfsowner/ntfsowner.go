// Package ntfsowner names the owners of NTFS files: a file's
// $STANDARD_INFORMATION holds a security id (fsread.Meta.SecurityID), the
// volume's $Secure:$SDS stream the security descriptor for each id, and the
// descriptor the owner SID. Well-known SIDs are given their Windows names
// (NT AUTHORITY\SYSTEM); others stay SIDs (S-1-5-21-…-1001).
package ntfsowner

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/ntfs"
)

// MaxSDS bounds how much of $SDS is read: a volume's descriptors are a few
// MiB even on a large server; a hostile image may claim any size.
const MaxSDS = 64 << 20

// sdsBlock is the size of $SDS's blocks; each is followed by its mirror,
// and no entry crosses a block boundary.
const sdsBlock = 0x40000

// Owners maps security ids to owner SIDs.
type Owners map[uint32]string

// Load reads the owner SID of every security descriptor in fsys's
// $Secure:$SDS (fsys made by ntfs.New).
func Load(fsys fsread.FS) (Owners, error) {
	r, err := ntfs.OpenStream(fsys, "$Secure", "$SDS")
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxSDS))
	if err != nil {
		return nil, fmt.Errorf("%s: $Secure:$SDS: %w", fsys, err)
	}
	return Parse(data), nil
}

// Parse reads $SDS entries: hash, id, offset (u32, u32, u64), length (u32),
// then the self-relative descriptor; entries are 16-byte aligned. An entry
// that does not parse costs that entry (its files show no owner).
func Parse(data []byte) Owners {
	o := Owners{}
	for off := 0; off+20 <= len(data); {
		id := binary.LittleEndian.Uint32(data[off+4:])
		length := int(binary.LittleEndian.Uint32(data[off+16:]))
		if length < 20 || length > len(data)-off {
			off = (off/sdsBlock + 1) * sdsBlock // the rest of this block is unused
			continue
		}
		if _, seen := o[id]; !seen {
			if sid, ok := ownerSID(data[off+20 : off+length]); ok {
				o[id] = sid
			}
		}
		off += (length + 15) &^ 15
	}
	return o
}

// ownerSID is the owner of a self-relative SECURITY_DESCRIPTOR.
func ownerSID(sd []byte) (string, bool) {
	if len(sd) < 20 || sd[0] != 1 {
		return "", false
	}
	at := int(binary.LittleEndian.Uint32(sd[4:]))
	if at < 20 || at+8 > len(sd) {
		return "", false
	}
	return formatSID(sd[at:])
}

// formatSID renders a binary SID as S-1-AUTHORITY-SUB-….
func formatSID(b []byte) (string, bool) {
	if len(b) < 8 || b[0] != 1 || b[1] > 15 || len(b) < 8+4*int(b[1]) {
		return "", false
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "S-1-%d", auth)
	for i := 0; i < int(b[1]); i++ {
		fmt.Fprintf(&s, "-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return s.String(), true
}

// wellKnown are the SIDs every Windows installation names the same way.
var wellKnown = map[string]string{
	"S-1-5-18":     `NT AUTHORITY\SYSTEM`,
	"S-1-5-19":     `NT AUTHORITY\LOCAL SERVICE`,
	"S-1-5-20":     `NT AUTHORITY\NETWORK SERVICE`,
	"S-1-5-32-544": `BUILTIN\Administrators`,
	"S-1-5-32-545": `BUILTIN\Users`,
	"S-1-3-0":      `CREATOR OWNER`,
	"S-1-1-0":      `Everyone`,
	"S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": `NT SERVICE\TrustedInstaller`,
}

// Name is the owner of m as the YARA external 'owner' shows it: the
// Windows name of a well-known SID, else the SID; "" when unknown.
func (o Owners) Name(m *fsread.Meta) string {
	sid, ok := o[m.SecurityID]
	if !ok || m.SecurityID == 0 {
		return ""
	}
	if n, ok := wellKnown[sid]; ok {
		return n
	}
	return sid
}
