package hivelog

import (
	"encoding/binary"
	"math/bits"
)

// MarvinSeed is the seed Windows uses for the two hashes of a log entry:
// the specification lists it as the bytes 82 EF 4D 88 7A 4E 55 C5, which is
// the 64-bit constant written most significant byte first (lane p0 is its
// low half, 0x7A4E55C5). Read little-endian instead, no real log verifies.
// Log entries are hashed with it (Hash-1 over the entry from byte 40, Hash-2
// over its first 32 bytes).
const MarvinSeed = 0x82EF4D887A4E55C5

// Marvin32 is Microsoft's Marvin32 hash (as in .NET's Marvin.ComputeHash):
// 32-bit words mixed into two lanes, with a 0x80 terminator.
func Marvin32(data []byte, seed uint64) uint64 {
	p0, p1 := uint32(seed), uint32(seed>>32)
	block := func() {
		p1 ^= p0
		p0 = bits.RotateLeft32(p0, 20)
		p0 += p1
		p1 = bits.RotateLeft32(p1, 9)
		p1 ^= p0
		p0 = bits.RotateLeft32(p0, 27)
		p0 += p1
		p1 = bits.RotateLeft32(p1, 19)
	}
	for len(data) >= 4 {
		p0 += binary.LittleEndian.Uint32(data)
		block()
		data = data[4:]
	}
	switch len(data) {
	case 0:
		p0 += 0x80
	case 1:
		p0 += 0x8000 | uint32(data[0])
	case 2:
		p0 += 0x800000 | uint32(binary.LittleEndian.Uint16(data))
	case 3:
		p0 += 0x80000000 | uint32(data[2])<<16 | uint32(binary.LittleEndian.Uint16(data))
	}
	block()
	block()
	return uint64(p1)<<32 | uint64(p0)
}
