package ext4

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the kernel's crc32c(seed, data): no inversion on entry or exit,
// which Go's crc32.Update does; the two inversions cancel out.
func crc32c(seed uint32, p []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli, p)
}

// crc32cBE32 is crc32c(seed, the 4 big-endian bytes of x), without the
// slice that would escape to the heap on every call.
func crc32cBE32(seed, x uint32) uint32 {
	c := seed
	for _, b := range [4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)} {
		c = castagnoli[byte(c)^b] ^ c>>8
	}
	return c
}

// crcBE is the table of the kernel's crc32_be (polynomial 0x04C11DB7, most
// significant bit first), the checksum of JBD2's old COMPAT_CHECKSUM
// commit blocks. Go's hash/crc32 only has the reflected form.
var crcBE = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc32be(crc uint32, p []byte) uint32 {
	for _, b := range p {
		crc = crc<<8 ^ crcBE[byte(crc>>24)^b]
	}
	return crc
}
