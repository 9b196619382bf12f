package lvm

import (
	"runtime"
	"strings"
	"testing"
)

// zeros is a huge image that holds nothing: what a sparse file claiming
// terabytes of metadata area reads as.
type zeros struct{}

func (zeros) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

// Metadata areas and copies claiming more than LVM ever writes are refused
// before anything is allocated for them, however large the image.
func TestHugeMetadataClaimsCostNothing(t *testing.T) {
	const img = 1 << 40
	cases := []struct {
		name    string
		area    area
		copy    rawLocn
		wantErr string
	}{
		{"copy of 1 TiB", area{4096, img / 2}, rawLocn{Offset: 512, Size: img / 4}, "does not fit"},
		{"copy just over the text cap", area{4096, img / 2}, rawLocn{Offset: 512, Size: maxTextSize + 1}, "does not fit"},
		{"area past the image", area{4096, img}, rawLocn{Offset: 512, Size: 4096}, "outside"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a, b runtime.MemStats
			runtime.ReadMemStats(&a)
			_, err := readText(zeros{}, img, tc.area.Offset, tc.area.Size, tc.copy)
			ring := scanRing(Disk{ReaderAt: zeros{}, Size: img}, tc.area)
			runtime.ReadMemStats(&b)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
			if ring != nil {
				t.Errorf("a %d-byte area was scanned for copies", tc.area.Size)
			}
			if n := b.TotalAlloc - a.TotalAlloc; n > 1<<20 {
				t.Errorf("allocated %d bytes for a refused claim", n)
			}
		})
	}
}
