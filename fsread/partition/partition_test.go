package partition

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sfdisk reads GPT and MBR (with logical partitions) independently of us.
type sfdiskDump struct {
	PartitionTable struct {
		Label      string `json:"label"`
		ID         string `json:"id"`
		SectorSize int    `json:"sectorsize"`
		Partitions []struct {
			Node  string `json:"node"`
			Start int64  `json:"start"`
			Size  int64  `json:"size"`
			Type  string `json:"type"`
			UUID  string `json:"uuid"`
			Name  string `json:"name"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func sfdiskJSON(t *testing.T, path string) sfdiskDump {
	t.Helper()
	out, err := exec.Command("sfdisk", "-J", path).Output()
	if err != nil {
		t.Fatalf("sfdisk -J: %v", err)
	}
	var d sfdiskDump
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func makeDisk(t *testing.T, size int64, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	cmd := exec.Command("sfdisk", "-q", p)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	return p
}

func TestReadAgreesWithSfdisk(t *testing.T) {
	if _, err := exec.LookPath("sfdisk"); err != nil {
		t.Skip("sfdisk not installed: no independent partition reader to compare with")
	}
	cases := []struct {
		name, script, scheme string
	}{
		{"gpt", "label: gpt\nsize=4M, type=U, name=EFI\nsize=8M, type=L, name=root\ntype=S, name=swap\n", "gpt"},
		{"mbr primaries", "label: dos\n,4M,83,*\n,4M,82\n,,7\n", "mbr"},
		{"mbr logical", "label: dos\n,4M,83\n,,5\n,3M,83\n,3M,8e\n,,b\n", "mbr"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := makeDisk(t, 32<<20, tc.script)
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			tab, err := Read(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			oracle := sfdiskJSON(t, p)
			if tab.Scheme != tc.scheme {
				t.Errorf("scheme %q, want %q", tab.Scheme, tc.scheme)
			}
			var want []Partition
			for _, op := range oracle.PartitionTable.Partitions {
				if tc.scheme == "mbr" && (op.Type == "5" || op.Type == "f" || op.Type == "85") {
					continue // the extended container; its logicals are listed
				}
				want = append(want, Partition{Start: op.Start * 512, Size: op.Size * 512, Name: op.Name, GUID: strings.ToLower(op.UUID)})
			}
			if len(tab.Partitions) != len(want) {
				t.Fatalf("%d partitions, sfdisk lists %d: %+v", len(tab.Partitions), len(want), tab.Partitions)
			}
			for i, p := range tab.Partitions {
				w := want[i]
				if p.Start != w.Start || p.Size != w.Size || p.Name != w.Name || (tc.scheme == "gpt" && p.GUID != w.GUID) {
					t.Errorf("partition %d: got %+v, sfdisk %+v", i, p, w)
				}
			}
			if tc.name == "mbr logical" && tab.Partitions[2].Index != 6 {
				t.Errorf("second logical partition numbered %d, want 6 as Linux numbers it", tab.Partitions[2].Index)
			}
		})
	}
}

func TestExternalExtendedPartition(t *testing.T) {
	p := filepath.Join("..", "..", "..", "shared", "external", "images", "dfvfs", "mbr.raw")
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("external test image absent (%v)", err)
	}
	defer f.Close()
	st, _ := f.Stat()
	tab, err := Read(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	// mmls (LISTING.txt): Linux at sector 1 (350 sectors), extended at 351,
	// logical Linux at 352 (2528 sectors).
	if len(tab.Partitions) != 2 || tab.Partitions[1].Start != 352*512 || tab.Partitions[1].Size != 2528*512 || tab.Partitions[1].Index != 5 {
		t.Fatalf("got %+v", tab.Partitions)
	}
}

func TestTruncatedAndGarbageTables(t *testing.T) {
	if _, err := exec.LookPath("sfdisk"); err != nil {
		t.Skip("sfdisk not installed")
	}
	p := makeDisk(t, 32<<20, "label: gpt\n,4M,L\n,,L\n")
	data, _ := os.ReadFile(p)
	half := data[:16<<20]
	tab, err := Read(bytes.NewReader(half), int64(len(half)))
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Warnings) == 0 || tab.Partitions[1].Size >= 28<<20 {
		t.Errorf("truncated disk: no warning or partition not clipped: %+v", tab)
	}
	garbage := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(garbage[:512])
	garbage[510], garbage[511] = 0x55, 0xAA
	if tab, err := Read(bytes.NewReader(garbage), int64(len(garbage))); err == nil {
		for _, p := range tab.Partitions {
			if p.Start+p.Size > int64(len(garbage)) {
				t.Errorf("garbage table yielded a partition beyond the disk: %+v", p)
			}
		}
	}
}

// A GPT header claiming a huge entry array must be refused before anything
// allocates it (go-diskfs would, and an out-of-memory is not recoverable).
func TestGPTHeaderWithHugeEntryArray(t *testing.T) {
	disk := make([]byte, 1<<20)
	disk[510], disk[511] = 0x55, 0xAA
	disk[446+4] = 0xEE
	h := disk[512:]
	copy(h, "EFI PART")
	for _, tc := range []struct{ entries, size uint32 }{{1 << 31, 128}, {4, 1 << 31}, {1 << 20, 128}} {
		putLE32(h[80:], tc.entries)
		putLE32(h[84:], tc.size)
		if _, err := readGPT(bytes.NewReader(disk), int64(len(disk)), 512); err == nil || !strings.Contains(err.Error(), "plausible") {
			t.Errorf("%d entries of %d bytes: got %v", tc.entries, tc.size, err)
		}
	}
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
