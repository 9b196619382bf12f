package partition

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

func FuzzRead(f *testing.F) {
	mbr := make([]byte, 4096)
	mbr[510], mbr[511] = 0x55, 0xAA
	mbr[446+4], mbr[446+8], mbr[446+12] = 0x05, 1, 4
	f.Add(mbr)
	gpt := make([]byte, 8192)
	copy(gpt[512:], "EFI PART")
	f.Add(gpt)
	if disk, err := sgdiskDisk(f); err == nil {
		f.Add(disk[:34*512])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkTable(t, fuzzcheck.NewOverlay(data))
	})
}

// FuzzGPT mutates the primary GPT header and entry array of a disk sgdisk
// partitioned, with both CRC32s recomputed when fixCRC is set, so that
// mutations reach the entry decoding rather than the checksum test (and,
// without it, the fall back to the backup GPT at the end of the disk).
func FuzzGPT(f *testing.F) {
	disk, err := sgdiskDisk(f)
	if err != nil {
		f.Skip(err)
	}
	f.Add(bytes.Clone(disk[512:512+92]), bytes.Clone(disk[1024:1024+4*128]), true)
	f.Add(bytes.Clone(disk[512:512+92]), bytes.Clone(disk[1024:1024+4*128]), false)
	f.Fuzz(func(t *testing.T, header, entries []byte, fixCRC bool) {
		checkTable(t, fuzzcheck.NewOverlay(disk, fuzzcheck.GPTPatches(disk, header, entries, fixCRC)...))
	})
}

// checkTable reads the table twice and asserts what holds whatever the
// bytes: no panic or hang, bounded allocation, the same table both times,
// and every partition inside the disk (one past the end is kept with size
// 0 and a warning) and numbered once.
func checkTable(t *testing.T, disk *fuzzcheck.Overlay) {
	var first, second string
	fuzzcheck.Run(t, fuzzcheck.Limits{PastEnd: true}, func() {
		first, second = tablePass(t, disk), tablePass(t, disk)
	})
	fuzzcheck.Same(t, "partition table", first, second)
}

func tablePass(t *testing.T, disk *fuzzcheck.Overlay) string {
	tab, err := Read(disk, disk.Size)
	if err != nil {
		return "error: " + err.Error()
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %d %s %q\n", tab.Scheme, tab.SectorSize, tab.DiskGUID, tab.Warnings)
	seen := map[int]bool{}
	for _, p := range tab.Partitions {
		if p.Start < 0 || p.Size < 0 || (p.Size > 0 && p.Start+p.Size > disk.Size) {
			t.Fatalf("partition outside the disk: %+v", p)
		}
		if seen[p.Index] {
			t.Fatalf("partition number %d twice: %+v", p.Index, tab.Partitions)
		}
		seen[p.Index] = true
		fmt.Fprintf(&sb, "%+v\n", p)
	}
	return sb.String()
}

var (
	sgOnce sync.Once
	sgDisk []byte
	sgErr  error
)

// sgdiskDisk is a 1 MiB disk with a GPT sgdisk wrote: three partitions,
// one named, the backup header and array at the end.
func sgdiskDisk(t testing.TB) ([]byte, error) {
	sgOnce.Do(func() {
		if _, err := exec.LookPath("sgdisk"); err != nil {
			sgErr = fmt.Errorf("needs sgdisk (gdisk): %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "snapscan-gpt-")
		if err != nil {
			sgErr = err
			return
		}
		defer os.RemoveAll(dir)
		p := filepath.Join(dir, "disk.img")
		if sgErr = os.WriteFile(p, make([]byte, 1<<20), 0o644); sgErr != nil {
			return
		}
		out, err := exec.Command("sgdisk", "-n", "1:34:200", "-t", "1:ef00", "-c", "1:EFI system", "-n", "2:201:1000", "-t", "2:8300",
			"-n", "3:1001:2000", "-t", "3:8200", p).CombinedOutput()
		if err != nil {
			sgErr = fmt.Errorf("sgdisk: %v: %s", err, out)
			return
		}
		sgDisk, sgErr = os.ReadFile(p)
	})
	return sgDisk, sgErr
}
