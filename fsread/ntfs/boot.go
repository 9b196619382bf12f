package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNotNTFS reports a boot sector that is not an NTFS one.
var ErrNotNTFS = errors.New("not an NTFS boot sector")

// Info describes an NTFS volume as its boot sector and $Volume record it.
type Info struct {
	Label          string // $Volume's $VOLUME_NAME, as Windows shows it
	Serial         string // 64-bit volume serial, 16 hex digits as blkid prints it
	SectorSize     int
	ClusterSize    int64
	RecordSize     int64 // MFT record size
	IndexBlockSize int64
	TotalSectors   uint64 // as the boot sector records it (the backup boot sector follows)
	MFTCluster     uint64
	Version        string // NTFS version from $VOLUME_INFORMATION, e.g. "3.1"
	Dirty          bool   // the volume was not cleanly unmounted ($VOLUME_INFORMATION flag 0x0001)
	DirtyKnown     bool   // Dirty and Version were read from $Volume
}

// boot is the decoded, validated boot sector.
type boot struct {
	sectorSize  int64
	clusterSize int64
	recordSize  int64
	indexSize   int64
	total       uint64
	mftLCN      uint64
	serial      uint64
}

func (b *boot) volumeBytes() int64 { return int64(b.total) * b.sectorSize }

// sizeField decodes the boot sector's "clusters per record" bytes: positive
// counts clusters, negative is log2 of the byte size.
func sizeField(v int8, cluster int64) (int64, bool) {
	if v > 0 {
		return int64(v) * cluster, true
	}
	if v < -31 || v == 0 {
		return 0, false
	}
	return 1 << uint(-v), true
}

func parseBoot(r io.ReaderAt) (*boot, error) {
	var s [512]byte
	if n, err := r.ReadAt(s[:], 0); n < len(s) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading boot sector: %w", err)
	}
	if string(s[3:11]) != "NTFS    " || binary.LittleEndian.Uint16(s[510:]) != 0xAA55 {
		return nil, ErrNotNTFS
	}
	b := &boot{sectorSize: int64(binary.LittleEndian.Uint16(s[0x0B:]))}
	switch b.sectorSize {
	case 256, 512, 1024, 2048, 4096:
	default:
		return nil, fmt.Errorf("%w: sector size %d", ErrNotNTFS, b.sectorSize)
	}
	// Sectors per cluster above 0x80 is a negative log2, which Windows uses
	// for clusters over 64 KiB (the 2 MiB-cluster volumes go-ntfs refuses).
	spc := s[0x0D]
	switch {
	case spc == 0:
		return nil, fmt.Errorf("%w: zero sectors per cluster", ErrNotNTFS)
	case spc <= 0x80:
		if spc&(spc-1) != 0 {
			return nil, fmt.Errorf("%w: %d sectors per cluster", ErrNotNTFS, spc)
		}
		b.clusterSize = int64(spc) * b.sectorSize
	default:
		shift := 256 - int(spc)
		if shift > 12 {
			return nil, fmt.Errorf("%w: sectors per cluster 2^%d", ErrNotNTFS, shift)
		}
		b.clusterSize = (int64(1) << shift) * b.sectorSize
	}
	if b.clusterSize > 2<<20 {
		return nil, fmt.Errorf("%w: cluster size %d", ErrNotNTFS, b.clusterSize)
	}
	var ok bool
	if b.recordSize, ok = sizeField(int8(s[0x40]), b.clusterSize); !ok ||
		b.recordSize < 256 || b.recordSize > 64<<10 || b.recordSize&(b.recordSize-1) != 0 {
		return nil, fmt.Errorf("%w: MFT record size byte %#x", ErrNotNTFS, s[0x40])
	}
	if b.indexSize, ok = sizeField(int8(s[0x44]), b.clusterSize); !ok ||
		b.indexSize < 256 || b.indexSize > 64<<10 || b.indexSize&(b.indexSize-1) != 0 {
		return nil, fmt.Errorf("%w: index block size byte %#x", ErrNotNTFS, s[0x44])
	}
	b.total = binary.LittleEndian.Uint64(s[0x28:])
	b.mftLCN = binary.LittleEndian.Uint64(s[0x30:])
	b.serial = binary.LittleEndian.Uint64(s[0x48:])
	if b.total == 0 || b.total > 1<<48 {
		return nil, fmt.Errorf("%w: %d sectors", ErrNotNTFS, b.total)
	}
	clusters := uint64(b.volumeBytes() / b.clusterSize)
	if b.mftLCN == 0 || b.mftLCN >= clusters {
		return nil, fmt.Errorf("%w: $MFT at cluster %d of %d", ErrNotNTFS, b.mftLCN, clusters)
	}
	return b, nil
}

func (b *boot) info() *Info {
	return &Info{
		Serial:         fmt.Sprintf("%016X", b.serial),
		SectorSize:     int(b.sectorSize),
		ClusterSize:    b.clusterSize,
		RecordSize:     b.recordSize,
		IndexBlockSize: b.indexSize,
		TotalSectors:   b.total,
		MFTCluster:     b.mftLCN,
	}
}
