package ntfs

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// interixMagic starts the $DATA of the symlinks ntfs-3g creates by default
// (a SYSTEM file, "IntxLNK\1" then the UTF-16LE target); ntfs-3g, Cygwin
// and SFU read them as symlinks, so this reader does too.
var interixMagic = []byte("IntxLNK\x01")

const maxInterix = 8 + 2*4096

// linkTarget returns the target of a symlink, junction or Interix link,
// with '/' separators and, for absolute targets on C:, as an absolute path
// inside this volume ("C:\Windows" -> "/Windows").
func (b *backend) linkTarget(ei *entryInfo) (string, bool) {
	switch ei.reparse {
	case tagSymlink, tagMountPoint:
		return parseReparseLink(ei.rpData)
	case 0:
	default:
		return "", false
	}
	m := &ei.meta
	if m.Mode.IsDir() || m.Attributes&AttrSystem == 0 || ei.data == nil ||
		m.Size < int64(len(interixMagic))+2 || m.Size > maxInterix || m.Size%2 != 0 {
		return "", false
	}
	r, size, err := b.openStream(m.Inode, "", ei.data, m.Size)
	if err != nil {
		return "", false
	}
	buf := make([]byte, size)
	if n, _ := r.ReadAt(buf, 0); n != len(buf) || !bytes.HasPrefix(buf, interixMagic) {
		return "", false
	}
	t := utf16String(buf[len(interixMagic):])
	if t == "" {
		return "", false
	}
	return t, true
}

func parseReparseLink(p []byte) (string, bool) {
	if len(p) < 8 {
		return "", false
	}
	tag := binary.LittleEndian.Uint32(p)
	body := p[8:]
	if dl := int(binary.LittleEndian.Uint16(p[4:])); dl < len(body) {
		body = body[:dl]
	}
	if len(body) < 8 {
		return "", false
	}
	substOff := int(binary.LittleEndian.Uint16(body[0:]))
	substLen := int(binary.LittleEndian.Uint16(body[2:]))
	printOff := int(binary.LittleEndian.Uint16(body[4:]))
	printLen := int(binary.LittleEndian.Uint16(body[6:]))
	buf := body[8:]
	relative := false
	if tag == tagSymlink {
		if len(body) < 12 {
			return "", false
		}
		relative = binary.LittleEndian.Uint32(body[8:])&1 != 0
		buf = body[12:]
	}
	name := func(off, n int) string {
		if n == 0 || off+n > len(buf) || n%2 != 0 {
			return ""
		}
		return utf16String(buf[off : off+n])
	}
	t := name(substOff, substLen)
	if t == "" {
		t = name(printOff, printLen)
	}
	if t == "" {
		return "", false
	}
	return mapTarget(t, relative), true
}

// mapTarget turns a Windows link target into a path fsread can resolve.
// Which drive letter this volume had is not recorded on it; C: is assumed,
// and targets on other drives are kept as "D:/..." (they do not resolve).
func mapTarget(t string, relative bool) string {
	t = strings.ReplaceAll(t, `\`, "/")
	if relative {
		return t
	}
	for _, p := range []string{"/??/", "//?/", "//./"} {
		if strings.HasPrefix(t, p) {
			t = t[len(p):]
			break
		}
	}
	if len(t) >= 2 && t[1] == ':' && (t[0] == 'C' || t[0] == 'c') && (len(t) == 2 || t[2] == '/') {
		t = "/" + strings.TrimLeft(t[2:], "/")
	}
	return t
}
