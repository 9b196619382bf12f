package xfs

import (
	"encoding/binary"
	"testing"
)

// TestShortform8ByteInodes covers what a small test image cannot produce:
// inode numbers above 2^32 (i8count > 0), where every number in the short
// form, the parent's too, is 8 bytes wide and count still counts them all.
func TestShortform8ByteInodes(t *testing.T) {
	v := &volume{ftype: true}
	b := []byte{2, 1}                             // count 2, one 8-byte inode number
	b = binary.BigEndian.AppendUint64(b, 128)     // parent
	b = append(b, 1, 0, 0x60, 'a', 1)             // namelen, offset, name, ftype
	b = binary.BigEndian.AppendUint64(b, 1<<33|5) // inode
	b = append(b, 3, 0, 0x70, 'd', 'i', 'r', 2)
	b = binary.BigEndian.AppendUint64(b, 131)
	in := &inode{fork: append(b, make([]byte, 40)...), size: int64(len(b))}
	ents, err := v.shortform(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].Name != "a" || ents[0].Node != 1<<33|5 || ents[1].Name != "dir" || ents[1].Node != 131 || !ents[1].Type.IsDir() {
		t.Fatalf("got %+v", ents)
	}
	in.size-- // the last inode number cut short
	if _, err := v.shortform(in); err == nil {
		t.Error("truncated short-form directory accepted")
	}
}

// TestDataBlockEdges feeds data blocks whose last entry runs into the end.
func TestDataBlockEdges(t *testing.T) {
	v := &volume{v5: true, ftype: true}
	for _, tc := range []struct {
		name string
		fill func(b []byte)
		ok   bool
	}{
		{"all free", func(b []byte) {
			binary.BigEndian.PutUint16(b[64:], 0xffff)
			binary.BigEndian.PutUint16(b[66:], uint16(len(b)-64))
		}, true},
		{"entry in the last 8 bytes", func(b []byte) {
			binary.BigEndian.PutUint16(b[64:], 0xffff)
			binary.BigEndian.PutUint16(b[66:], uint16(len(b)-64-8))
			b[len(b)-8] = 1
		}, false},
		{"free length past the end", func(b []byte) {
			binary.BigEndian.PutUint16(b[64:], 0xffff)
			binary.BigEndian.PutUint16(b[66:], uint16(len(b)))
		}, false},
	} {
		b := make([]byte, 4096)
		binary.BigEndian.PutUint32(b, dirDataMagicV5)
		tc.fill(b)
		_, err := v.parseDataBlock(b, nil)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
