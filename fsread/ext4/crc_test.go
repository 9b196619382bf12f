package ext4

import (
	"encoding/binary"
	"testing"
)

// TestCRC32CForms: the byte-wise form equals the table form, and crc32c
// matches the ext4 superblock checksum mke2fs wrote (the kernel's
// crc32c(~0, sb[0:0x3FC])).
func TestCRC32CForms(t *testing.T) {
	for _, x := range []uint32{0, 1, 0xC03B3998, 0xFFFFFFFF} {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], x)
		if crc32cBE32(0x1234, x) != crc32c(0x1234, b[:]) {
			t.Errorf("crc32cBE32(%#x) differs", x)
		}
	}
	fx := loadFixture(t)
	sb := fx.dirty[superOffset:][:superSize]
	if got, want := crc32c(^uint32(0), sb[:0x3FC]), le32(sb, 0x3FC); got != want {
		t.Errorf("superblock crc32c %#x, mke2fs wrote %#x", got, want)
	}
	// The kernel's crc32_be of "123456789" from ~0 without the final
	// inversion (CRC-32/MPEG-2 check value 0x0376E6E7).
	if got := crc32be(^uint32(0), []byte("123456789")); got != 0x0376E6E7 {
		t.Errorf("crc32be check value %#x", got)
	}
}
