package detect

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

// allKinds are the kinds Probe may return.
var allKinds = []Kind{Unknown, Empty, Ext2, Ext3, Ext4, NTFS, FAT, ExFAT, XFS, Btrfs, LVM2, LUKS, BitLocker, Swap, ISO9660, Squashfs, ZFS, MDRAID}

// blkid names filesystems independently of us: it is the oracle here.
func blkid(t *testing.T, path string) map[string]string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", path).Output()
	if err != nil {
		t.Fatalf("blkid %s: %v", path, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestProbeAgreesWithBlkid(t *testing.T) {
	if _, err := exec.LookPath("blkid"); err != nil {
		t.Skip("blkid not installed: cannot compare with an independent prober")
	}
	cases := []struct {
		name string
		size int64
		mk   []string // FILE is replaced by the image path
		want Kind
	}{
		{"ext2", 4 << 20, []string{"mke2fs", "-q", "-F", "-t", "ext2", "-L", "lbl-ext2", "FILE"}, Ext2},
		{"ext3", 8 << 20, []string{"mke2fs", "-q", "-F", "-t", "ext3", "-L", "lbl-ext3", "FILE"}, Ext3},
		{"ext4", 8 << 20, []string{"mke2fs", "-q", "-F", "-t", "ext4", "-L", "lbl-ext4", "FILE"}, Ext4},
		{"ext4-nocsum", 8 << 20, []string{"mke2fs", "-q", "-F", "-t", "ext4", "-O", "^metadata_csum,^64bit", "FILE"}, Ext4},
		{"fat12", 1 << 20, []string{"mkfs.vfat", "-F", "12", "-n", "EFI12", "FILE"}, FAT},
		{"fat16", 16 << 20, []string{"mkfs.vfat", "-F", "16", "-n", "EFI16", "FILE"}, FAT},
		{"fat32", 40 << 20, []string{"mkfs.vfat", "-F", "32", "-n", "EFI32", "FILE"}, FAT},
		{"ntfs", 4 << 20, []string{"mkntfs", "-q", "-F", "-f", "-L", "Windows", "FILE"}, NTFS},
		{"swap", 1 << 20, []string{"mkswap", "-L", "swp", "FILE"}, Swap},
		{"xfs", 300 << 20, []string{"mkfs.xfs", "-q", "-L", "xfsroot", "FILE"}, XFS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.mk[0]); err != nil {
				t.Skipf("%s not installed", tc.mk[0])
			}
			p := filepath.Join(t.TempDir(), "vol")
			if err := os.Truncate(mustCreate(t, p), tc.size); err != nil {
				t.Fatal(err)
			}
			args := make([]string, len(tc.mk))
			for i, a := range tc.mk {
				args[i] = strings.ReplaceAll(a, "FILE", p)
			}
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Probe(f, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			oracle := blkid(t, p)
			if got.Kind != tc.want || string(got.Kind) != oracle["TYPE"] {
				t.Errorf("kind %q, want %q (blkid says %q)", got.Kind, tc.want, oracle["TYPE"])
			}
			// NTFS keeps its label in the $Volume file, not the boot sector:
			// the NTFS adapter reads it, the probe does not.
			if got.Label != oracle["LABEL"] && got.Kind != NTFS {
				t.Errorf("label %q, blkid %q", got.Label, oracle["LABEL"])
			}
			if !strings.EqualFold(got.UUID, oracle["UUID"]) {
				t.Errorf("uuid %q, blkid %q", got.UUID, oracle["UUID"])
			}
		})
	}
}

func mustCreate(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func TestProbeOddInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want Kind
	}{
		{"empty", nil, Unknown},
		{"zeros", make([]byte, 8192), Empty},
		{"short ntfs magic", []byte("\xeb\x52\x90NTFS    "), Unknown},
		{"text", bytes.Repeat([]byte("hello world\n"), 1000), Unknown},
		{"luks", append([]byte("LUKS\xba\xbe\x00\x02"), make([]byte, 600)...), LUKS},
		{"bitlocker", append([]byte("\xeb\x58\x90-FVE-FS-"), make([]byte, 600)...), BitLocker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := Probe(bytes.NewReader(tc.data), int64(len(tc.data)))
			if got.Kind != tc.want {
				t.Errorf("got %q, want %q", got.Kind, tc.want)
			}
		})
	}
}

func FuzzProbe(f *testing.F) {
	f.Add(make([]byte, 2048))
	f.Add(append(make([]byte, 1080), 0x53, 0xEF))
	f.Add([]byte("\xeb\x52\x90NTFS    "))
	// Probe is a pure function of the bytes: the same result twice, from a
	// reader that counts reads outside the data, a kind from the list, and
	// text fields that are valid UTF-8 (they go into reports). A size that
	// lies (1 MiB more than the data) must not panic either.
	kinds := map[Kind]bool{}
	for _, k := range allKinds {
		kinds[k] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b Result
		fuzzcheck.Run(t, fuzzcheck.Limits{}, func() {
			a, _ = Probe(fuzzcheck.NewOverlay(data), int64(len(data)))
			b, _ = Probe(fuzzcheck.NewOverlay(data), int64(len(data)))
		})
		if a != b {
			t.Fatalf("two probes differ: %+v, %+v", a, b)
		}
		if !kinds[a.Kind] {
			t.Fatalf("kind %q is not one Probe documents", a.Kind)
		}
		for _, s := range []string{a.Label, a.UUID, a.Note} {
			if !utf8.ValidString(s) {
				t.Fatalf("%q is not UTF-8: %+v", s, a)
			}
		}
		Probe(bytes.NewReader(data), int64(len(data))+1<<20)
	})
}
