package testimg

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// confRow is one line of testdata/images/images.conf (its header documents the columns).
type confRow struct {
	image, table, part, typ, pname, fs, label, size, source, opts string
}

func readConf(t *testing.T) (order []string, rows map[string][]confRow) {
	t.Helper()
	f, err := os.Open(filepath.Join(RepoRoot(t), ImagesDir, "images.conf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows = map[string][]confRow{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Fields(line)
		if len(c) != 10 {
			t.Fatalf("images.conf:%d: %d fields, want 10: %q", n, len(c), line)
		}
		r := confRow{c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]}
		if _, seen := rows[r.image]; !seen {
			order = append(order, r.image)
		}
		rows[r.image] = append(rows[r.image], r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return order, rows
}

func (r confRow) opt(key string) string {
	for _, kv := range strings.Split(r.opts, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		} else if kv == key {
			return "yes"
		}
	}
	return ""
}

// sizeSectors is the 512-byte sector count of a fixed SIZE such as "6M", or -1 for "auto".
func (r confRow) sizeSectors(t *testing.T) int64 {
	if r.size == "auto" {
		return -1
	}
	mib, err := strconv.ParseInt(strings.TrimSuffix(r.size, "M"), 10, 64)
	if err != nil || !strings.HasSuffix(r.size, "M") {
		t.Fatalf("%s: bad SIZE %q", r.image, r.size)
	}
	return mib * 2048
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		// The images are committed, so only this cross-check depends on the tool.
		t.Skipf("%s not installed: cannot cross-check the image layout with it", name)
	}
	return p
}

func output(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(needTool(t, name), args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, msg)
	}
	return out
}

type sfdiskPart struct {
	Start    int64  `json:"start"`
	Size     int64  `json:"size"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	Bootable bool   `json:"bootable"`
}

type sfdiskTable struct {
	PartitionTable struct {
		Label      string       `json:"label"`
		Partitions []sfdiskPart `json:"partitions"`
	} `json:"partitiontable"`
}

// sfdiskJSON returns the table sfdisk sees, or nil when it sees none.
func sfdiskJSON(t *testing.T, img string) *sfdiskTable {
	t.Helper()
	out, err := exec.Command(needTool(t, "sfdisk"), "-J", img).Output()
	if err != nil {
		return nil
	}
	var tab sfdiskTable
	if err := json.Unmarshal(out, &tab); err != nil {
		t.Fatalf("sfdisk -J %s: %v", img, err)
	}
	return &tab
}

// blkid probes the filesystem at a byte offset the way the kernel's own library does.
func blkid(t *testing.T, img string, offset, size int64) map[string]string {
	t.Helper()
	args := []string{"-p", "-o", "export", "-O", strconv.FormatInt(offset, 10)}
	if size > 0 {
		args = append(args, "-S", strconv.FormatInt(size, 10))
	}
	out := output(t, "blkid", append(args, img)...)
	kv := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

func checkFS(t *testing.T, img string, r confRow, offset, size int64) {
	t.Helper()
	got := blkid(t, img, offset, size)
	if got["TYPE"] != r.fs {
		t.Errorf("%s partition %s at byte %d: blkid TYPE=%q, images.conf says %s", r.image, r.part, offset, got["TYPE"], r.fs)
	}
	if r.label != "-" && got["LABEL"] != r.label {
		t.Errorf("%s partition %s: blkid LABEL=%q, images.conf says %s", r.image, r.part, got["LABEL"], r.label)
	}
	if r.fs == "vfat" && r.opt("fat") != "" && got["VERSION"] != "FAT"+r.opt("fat") {
		t.Errorf("%s partition %s: blkid VERSION=%q, want FAT%s", r.image, r.part, got["VERSION"], r.opt("fat"))
	}
}

// sgdiskCodes maps partition number to the sgdisk type code and name printed by sgdisk -p.
func sgdiskCodes(t *testing.T, img string) map[string][2]string {
	t.Helper()
	codes := map[string][2]string{}
	table := false
	for _, line := range strings.Split(string(output(t, "sgdisk", "-p", img)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "Number" {
			table = true
			continue
		}
		// Number Start End Size Unit Code Name...
		if table && len(f) >= 6 {
			codes[f[0]] = [2]string{f[5], strings.Join(f[6:], " ")}
		}
	}
	return codes
}

// TestLayoutMatchesConf proves that what make.sh built is what images.conf describes: partition table kind, order,
// contiguous 1 MiB-aligned placement, sizes, types, names, boot flags, and each filesystem's type and label as
// blkid probes them; converted images hold exactly their source's bytes.
func TestLayoutMatchesConf(t *testing.T) {
	order, rows := readConf(t)
	for _, name := range order {
		rs := rows[name]
		t.Run(name, func(t *testing.T) {
			img := Path(t, name)
			Unchanged(t, img)
			st, err := os.Stat(img)
			if err != nil {
				t.Fatal(err)
			}
			switch rs[0].table {
			case "none":
				if len(rs) != 1 {
					t.Fatalf("a bare image has %d rows in images.conf", len(rs))
				}
				if tab := sfdiskJSON(t, img); tab != nil && len(tab.PartitionTable.Partitions) != 0 {
					t.Errorf("bare filesystem image shows %d partitions to sfdisk", len(tab.PartitionTable.Partitions))
				}
				if want := rs[0].sizeSectors(t); want > 0 && st.Size() != want*512 {
					t.Errorf("size %d bytes, images.conf says %s", st.Size(), rs[0].size)
				}
				checkFS(t, img, rs[0], 0, 0)
			case "gpt", "mbr":
				checkTable(t, img, st.Size(), rs)
			case "qemu":
				checkConverted(t, img, rs[0])
			default:
				t.Fatalf("unknown TABLE %q", rs[0].table)
			}
		})
	}
}

func checkTable(t *testing.T, img string, diskSize int64, rs []confRow) {
	tab := sfdiskJSON(t, img)
	if tab == nil {
		t.Fatalf("sfdisk finds no partition table in %s", img)
	}
	wantLabel := map[string]string{"gpt": "gpt", "mbr": "dos"}[rs[0].table]
	if tab.PartitionTable.Label != wantLabel {
		t.Fatalf("sfdisk sees a %q table, images.conf says %s", tab.PartitionTable.Label, rs[0].table)
	}
	parts := tab.PartitionTable.Partitions
	if len(parts) != len(rs) {
		t.Fatalf("%d partitions, images.conf lists %d", len(parts), len(rs))
	}
	var codes map[string][2]string
	if rs[0].table == "gpt" {
		codes = sgdiskCodes(t, img)
	}
	next := int64(2048)
	for i, r := range rs {
		p := parts[i]
		if strconv.Itoa(i+1) != r.part {
			t.Fatalf("images.conf row %d is partition %s: rows must be in partition order", i, r.part)
		}
		if p.Start != next {
			t.Errorf("partition %s starts at sector %d, want %d (1 MiB aligned, right after the previous one)", r.part, p.Start, next)
		}
		if p.Start%2048 != 0 || p.Size%2048 != 0 {
			t.Errorf("partition %s (start %d, size %d sectors) is not MiB aligned", r.part, p.Start, p.Size)
		}
		if want := r.sizeSectors(t); want > 0 && p.Size != want {
			t.Errorf("partition %s has %d sectors, images.conf says %s", r.part, p.Size, r.size)
		}
		next = p.Start + p.Size
		switch rs[0].table {
		case "gpt":
			if c := codes[r.part]; c[0] != r.typ {
				t.Errorf("partition %s: sgdisk type code %s, images.conf says %s", r.part, c[0], r.typ)
			}
			if p.Name != r.pname {
				t.Errorf("partition %s: GPT name %q, images.conf says %q", r.part, p.Name, r.pname)
			}
		case "mbr":
			if !strings.EqualFold(p.Type, r.typ) {
				t.Errorf("partition %s: MBR type %s, images.conf says %s", r.part, p.Type, r.typ)
			}
			if p.Bootable != (r.opt("bootable") == "yes") {
				t.Errorf("partition %s: bootable=%v, images.conf opts %q", r.part, p.Bootable, r.opts)
			}
		}
		checkFS(t, img, r, p.Start*512, p.Size*512)
	}
	if tail := diskSize/512 - next; tail < 33 || tail > 2048 {
		t.Errorf("%d sectors after the last partition, want room for a backup GPT and at most 1 MiB", tail)
	}
}

func checkConverted(t *testing.T, img string, r confRow) {
	raw := Path(t, r.source)
	out := output(t, "qemu-img", "info", "--output=json", img)
	var info struct {
		Format         string `json:"format"`
		VirtualSize    int64  `json:"virtual-size"`
		FormatSpecific struct {
			Data struct {
				CreateType string `json:"create-type"`
			} `json:"data"`
		} `json:"format-specific"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Format != r.fs {
		t.Errorf("qemu-img sees format %q, images.conf says %s", info.Format, r.fs)
	}
	st, err := os.Stat(raw)
	if err != nil {
		t.Fatal(err)
	}
	if info.VirtualSize != st.Size() {
		t.Errorf("virtual size %d, source %s has %d bytes", info.VirtualSize, r.source, st.Size())
	}
	if sub := r.opt("subformat"); r.fs == "vmdk" && info.FormatSpecific.Data.CreateType != sub {
		t.Errorf("VMDK create type %q, images.conf says %s", info.FormatSpecific.Data.CreateType, sub)
	}
	// qemu-img compare reads the container with qemu's own driver: same guest bytes as the raw source.
	output(t, "qemu-img", "compare", "-q", "-f", r.fs, "-F", "raw", img, raw)
}
