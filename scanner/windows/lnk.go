package windows

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// shellLink is what a .lnk file runs: [MS-SHLLINK] LinkInfo's local base
// path (or the relative path when there is no LinkInfo) and the arguments
// string. Only these fields are read; everything is bounds-checked.
type shellLink struct {
	Target    string
	Arguments string
	WorkDir   string
}

var errNotLnk = errors.New("not a shell link (.lnk) file")

func parseLnk(b []byte) (l shellLink, err error) {
	if len(b) < 0x4c || binary.LittleEndian.Uint32(b) != 0x4c || !bytes.Equal(b[4:8], []byte{0x01, 0x14, 0x02, 0x00}) {
		return l, errNotLnk
	}
	flags := binary.LittleEndian.Uint32(b[0x14:])
	off := 0x4c
	if flags&0x1 != 0 { // HasLinkTargetIDList
		if off+2 > len(b) {
			return l, errNotLnk
		}
		off += 2 + int(binary.LittleEndian.Uint16(b[off:]))
	}
	if flags&0x2 != 0 { // HasLinkInfo
		if off+0x1c > len(b) {
			return l, errNotLnk
		}
		size := int(binary.LittleEndian.Uint32(b[off:]))
		hdr := int(binary.LittleEndian.Uint32(b[off+4:]))
		liFlags := binary.LittleEndian.Uint32(b[off+8:])
		if size < 0x1c || off+size > len(b) {
			return l, errNotLnk
		}
		info := b[off : off+size]
		if liFlags&0x1 != 0 { // VolumeIDAndLocalBasePath
			base := cString(info, int(binary.LittleEndian.Uint32(info[0x10:])))
			if hdr >= 0x24 && len(info) >= 0x20 {
				if u := cString16(info, int(binary.LittleEndian.Uint32(info[0x1c:]))); u != "" {
					base = u
				}
			}
			suffix := cString(info, int(binary.LittleEndian.Uint32(info[0x18:])))
			l.Target = base + suffix
		}
		off += size
	}
	unicodeStrings := flags&0x80 != 0
	// StringData fields appear in this order, each only when its flag is set.
	for _, f := range []struct {
		bit uint32
		dst *string
	}{{0x4, nil}, {0x8, &l.Target}, {0x10, &l.WorkDir}, {0x20, &l.Arguments}, {0x40, nil}} {
		if flags&f.bit == 0 {
			continue
		}
		if off+2 > len(b) {
			break
		}
		n := int(binary.LittleEndian.Uint16(b[off:]))
		off += 2
		w := n
		if unicodeStrings {
			w = 2 * n
		}
		if off+w > len(b) {
			break
		}
		var s string
		if unicodeStrings {
			s = utf16le(b[off : off+w])
		} else {
			s = string(b[off : off+w])
		}
		off += w
		// The relative path is only a fallback for a link without LinkInfo.
		if f.dst != nil && (*f.dst == "" || f.bit != 0x8) {
			*f.dst = s
		}
	}
	return l, nil
}

func cString(b []byte, off int) string {
	if off <= 0 || off >= len(b) {
		return ""
	}
	end := bytes.IndexByte(b[off:], 0)
	if end < 0 {
		end = len(b) - off
	}
	return string(b[off : off+end])
}

func cString16(b []byte, off int) string {
	if off <= 0 || off >= len(b) {
		return ""
	}
	end := off
	for end+1 < len(b) && (b[end] != 0 || b[end+1] != 0) {
		end += 2
	}
	return utf16le(b[off:end])
}
